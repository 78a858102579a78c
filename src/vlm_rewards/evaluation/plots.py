"""Matplotlib figures of an evaluation, returned as PNG bytes (no pyplot state, no display).

Example:
    >>> png = pr_curves_png(evaluation)  # doctest: +SKIP
    >>> png[:4]  # doctest: +SKIP
    b'\\x89PNG'
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

__all__ = ["histograms_png", "negatives_png", "pr_curves_png", "scaling_png", "templates_png"]

_SPLIT_STYLE = {"heldout": "-", "train": "--"}


def _figure(n: int, width: float = 4.2, height: float = 3.4, ncols: int = 3):
    from matplotlib.figure import Figure

    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # No "Software" stamp: the same evaluation gives the same bytes.
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    return buf.getvalue()


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def pr_curves_png(ev: Any) -> bytes:
    """Per section: pooled PR curves of both splits, per-goal held-out curves, the calibrated point."""
    from vlm_rewards.evaluation.metrics import pr_curve

    sections = ev.metrics["sections"]
    fig, axes = _figure(len(sections))
    for ax, (name, res) in zip(axes, sections.items()):
        scores, labels = ev.curves[name]["heldout"]
        for j in range(labels.shape[1]):
            if labels[:, j].any():
                p, r, _ = pr_curve(labels[:, j], scores[:, j])
                ax.plot(r, p, color="tab:blue", alpha=0.25, lw=0.8)
        for split in ("heldout", "train"):
            s, y = ev.curves[name][split]
            if y.any():
                p, r, _ = pr_curve(y.ravel(), s.ravel())
                ap = res["splits"][split]["pooled"]["ap"]
                ax.plot(r, p, _SPLIT_STYLE[split], color="tab:blue" if split == "heldout" else "tab:orange",
                        lw=2, label=f"{split} pooled (AP {_fmt(ap)})")
        cal = res["calibration"]
        if cal["heldout"] is not None:
            ax.plot([cal["heldout"]["recall"]], [cal["heldout"]["precision"]], "o", color="tab:red",
                    label=f"calibrated β={cal['threshold']:.3g} (held-out F1 {cal['heldout']['f1']:.2f})")
        ax.set(title=name, xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Precision-recall as β sweeps: {ev.metrics['model']['name']} ({ev.metrics['settings']['reward']})")
    return _png(fig)


def histograms_png(ev: Any) -> bytes:
    """Per section: held-out reward scores of positive and negative (frame, goal) pairs, at the calibrated τ."""
    sections = ev.metrics["sections"]
    fig, axes = _figure(len(sections))
    for ax, (name, res) in zip(axes, sections.items()):
        scores, labels = ev.curves[name]["calibrated_heldout"]
        s, y = scores.ravel(), labels.ravel()
        lo, hi = float(s.min()), float(s.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1e-6, 41)
        ax.hist(s[~y], bins=bins, density=True, alpha=0.6, color="tab:gray", label=f"negatives ({int((~y).sum())})")
        if y.any():
            ax.hist(s[y], bins=bins, density=True, alpha=0.6, color="tab:green", label=f"positives ({int(y.sum())})")
        cal = res["calibration"]
        if cal["threshold"] is not None:
            ax.axvline(cal["threshold"], color="tab:red", ls="--", label=f"β = {cal['threshold']:.3g}")
        tau = cal["temperature"]
        ax.set(title=name + (f" (τ = {tau:.3g})" if tau else ""), xlabel="reward score", ylabel="density")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle("Held-out reward scores by ground truth")
    return _png(fig)


def templates_png(ev: Any) -> bytes:
    """Per section: held-out (and train) pooled AP of each prompt template."""
    sections = {n: r for n, r in ev.metrics["sections"].items() if r.get("templates")}
    fig, axes = _figure(len(sections), width=5.5, height=0.6 + 0.55 * max(len(r["templates"]) for r in sections.values()))
    for ax, (name, res) in zip(axes, sections.items()):
        rows = res["templates"]
        y = np.arange(len(rows))
        held = [r["heldout"]["ap"] or 0.0 for r in rows]
        train = [r["train"]["ap"] or 0.0 for r in rows]
        ax.barh(y - 0.2, held, height=0.4, color="tab:blue", label="held-out")
        ax.barh(y + 0.2, train, height=0.4, color="tab:orange", alpha=0.7, label="train")
        for yi, v in zip(y, held):
            ax.text(v + 0.01, yi - 0.2, f"{v:.2f}", va="center", fontsize=7)
        ax.set_yticks(y, [r["template"] for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set(title=name, xlabel="average precision (pooled)", xlim=(0, 1.35))
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Prompt templates: {ev.metrics['model']['name']}")
    return _png(fig)


def negatives_png(ev: Any) -> bytes:
    """Per section: held-out pooled AP against the number of negatives, one line per choice."""
    sections = {n: r for n, r in ev.metrics["sections"].items() if r.get("negatives")}
    fig, axes = _figure(len(sections))
    for ax, (name, res) in zip(axes, sections.items()):
        rows = [r for r in res["negatives"] if "skipped" not in r]
        counts = list(dict.fromkeys(str(r["negatives"]) for r in rows))
        x = {c: i for i, c in enumerate(counts)}
        for choice, colour in (("uniform", "tab:blue"), ("hard", "tab:red"), ("counterfactual", "tab:green"),
                               ("counterfactual+uniform", "tab:olive")):
            pts = [(x[str(r["negatives"])], r["heldout"]["ap"]) for r in rows
                   if r["choice"] == choice or r["negatives"] == "all"]
            pts = [(a, b) for a, b in pts if b is not None]
            if pts:
                ax.plot(*zip(*pts), "o-", color=colour, label=choice)
        ax.set_xticks(range(len(counts)), counts)
        ax.set(title=name, xlabel="negatives per goal", ylabel="held-out AP")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Number and choice of negatives")
    return _png(fig)


def scaling_png(result: dict[str, Any]) -> bytes:
    """Held-out AP and best F1 against parameter count, one line per section (paper Fig. 4)."""
    from matplotlib.figure import Figure

    rows = result["models"]
    params = [r["num_parameters"] for r in rows]
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, key, label in ((axes[0], "ap", "held-out average precision"), (axes[1], "best_f1", "held-out best F1")):
        for name in result["sections"]:
            ys = [r["sections"][name][key] for r in rows]
            ax.plot(params, [np.nan if v is None else v for v in ys], "o-", label=name)
        mean = [np.nanmean([np.nan if r["sections"][s][key] is None else r["sections"][s][key] for s in result["sections"]])
                for r in rows]
        ax.plot(params, mean, "k--", lw=2, label="mean")
        for p, m, r in zip(params, mean, rows):
            ax.annotate(f"{_short(r['model'])}\n{p / 1e6:.2g}M", (p, m), textcoords="offset points", xytext=(0, -22),
                        ha="center", fontsize=7)
        ax.set_xscale("log")
        ax.margins(x=0.12)
        ax.set(xlabel="parameters", ylabel=label, ylim=(0, 1.02))
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Reward quality against model size ({result['settings']['reward']} reward)")
    return _png(fig)


def _short(spec: str) -> str:
    return spec.rstrip("/").rsplit("/", 1)[-1]
