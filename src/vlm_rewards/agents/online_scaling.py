"""Agents trained with VLMs of different sizes: the paper's Fig. 4, both panels.

Left: the reward model's offline held-out AP against its parameter count (from a
``vlm-rewards scaling`` result); right: the ground-truth success of agents trained with
each model's reward (same recipe, same seeds) and the precision of their VLM successes.
Runs are matched to the offline models by ``reward.model`` as their configs name it;
several seeds of one model become a mean with its standard deviation.

Agent figures come from ``vlm-rewards eval-agent`` re-evaluations (the largest
``eval_<split>_<n>[_seed<S>].json`` of each split), so every size is judged on the same
fresh episodes.

Example:
    >>> online_scaling(["runs/xs", "runs/s", "runs/ms"], "docs/results/scaling_family/scaling.json", "out")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlm_rewards.agents.report import load_run, reevaluations
from vlm_rewards.io import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = ["online_scaling"]


def _stats(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return math.nan, math.nan
    mean = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return mean, sd


def online_scaling(
    run_dirs: list[str | Path],
    offline: str | Path,
    out_dir: str | Path,
    *,
    section: str = "house:find",
    title: str | None = None,
    oracle_runs: Sequence[str | Path] = (),
) -> Path:
    """Write ``online_scaling.md``, ``online_scaling.png`` and ``online_scaling.json`` to ``out_dir``.

    Args:
        run_dirs: VLM-reward training runs (``vlm-rewards train``), each re-evaluated with
            ``vlm-rewards eval-agent`` on the training and the held-out split.
        offline: the ``scaling.json`` of ``vlm-rewards scaling`` that holds every run's model.
        section: the offline section to plot beside the agents (the runs' task).
        oracle_runs: ground-truth-reward runs of the same recipe, re-evaluated alike: the
            reference a perfect reward would give, drawn as a line and a row.
    """
    offline = Path(offline)
    if not offline.is_file():
        raise ValueError(f"offline: {str(offline)!r} is not a file (the scaling.json of 'vlm-rewards scaling')")
    data = json.loads(offline.read_text())
    models = {m["model"]: m for m in data.get("models", [])}
    if not run_dirs:
        raise ValueError("run_dirs: give at least one training run")
    per_model: dict[str, dict[str, list[float]]] = {}
    for run_dir in run_dirs:
        run = load_run(run_dir)
        reward = run.config.get("reward", {})
        if reward.get("kind", "vlm") != "vlm":
            raise ValueError(f"run_dirs: {str(run_dir)!r} was trained on reward.kind={reward.get('kind')!r}, not the VLM reward")
        spec = str(reward.get("model"))
        if spec not in models:
            raise ValueError(f"run_dirs: {str(run_dir)!r} used reward.model={spec!r}, which {offline} does not hold "
                             f"(it has {sorted(models)})")
        if section not in models[spec]["sections"]:
            raise ValueError(f"section: {offline} has no section {section!r} (it has {sorted(models[spec]['sections'])})")
        evals = _require_evals(run, run_dir, "run_dirs")
        _accumulate(per_model.setdefault(spec, _empty()), evals)
    oracle: dict[str, list[float]] = _empty()
    for run_dir in oracle_runs:
        run = load_run(run_dir)
        if run.config.get("reward", {}).get("kind") != "ground_truth":
            raise ValueError(f"oracle_runs: {str(run_dir)!r} was not trained on reward.kind='ground_truth'")
        _accumulate(oracle, _require_evals(run, run_dir, "oracle_runs"))

    rows: list[dict[str, Any]] = []
    for spec, acc in per_model.items():
        sec = models[spec]["sections"][section]
        row = {"model": spec, "num_parameters": int(models[spec]["num_parameters"]), "seeds": len(acc["train"]),
               "offline_ap": sec.get("ap"), "offline_calibrated_ap": sec.get("calibrated_ap")}
        row.update(_summary(acc))
        rows.append(row)
    rows.sort(key=lambda r: r["num_parameters"])
    oracle_row = {"seeds": len(oracle["train"]), **_summary(oracle)} if oracle_runs else None

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _plot(rows, section, out / "online_scaling.png", title, oracle_row)
    atomic_write_json(out / "online_scaling.json", {"offline": str(offline), "section": section, "rows": rows,
                                                    "oracle": oracle_row, "runs": [str(r) for r in run_dirs],
                                                    "oracle_runs": [str(r) for r in oracle_runs]})

    def pct(mean: float, sd: float, seeds: int) -> str:
        if math.isnan(mean):
            return "n/a"
        return f"{100 * mean:.0f}%" + (f" ± {100 * sd:.0f}" if seeds > 1 else "")

    lines = [
        f"# {title or 'Agents against reward-model size'}",
        "",
        "![Offline AP and agent success against model size](online_scaling.png)",
        "",
        f"Offline: held-out {section} AP from `{offline}` (at each model's learned τ; in brackets at the τ "
        "calibrated on the train split). Agents: ground-truth success on fresh episodes (`vlm-rewards eval-agent`), "
        "mean ± sd over seeds where there are several; precision: of the episodes the VLM reward ended as "
        "successful, the fraction ground truth also counts (n/a: the reward never fired).",
        "",
        "| model | parameters | seeds | offline AP | GT success, training goals | GT success, held-out goals | "
        "direct success, held-out | precision, training goals | precision, held-out |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cal = r["offline_calibrated_ap"]
        ap = f"{r['offline_ap']:.3f}" + (f" ({cal:.3f})" if cal is not None else "")
        lines.append(
            f"| `{r['model']}` | {r['num_parameters']:,} | {r['seeds']} | {ap} | {pct(r['train_mean'], r['train_sd'], r['seeds'])} "
            f"| {pct(r['heldout_mean'], r['heldout_sd'], r['seeds'])} | {pct(r['direct_mean'], r['direct_sd'], r['seeds'])} "
            f"| {pct(r['train_precision_mean'], r['train_precision_sd'], r['seeds'])} "
            f"| {pct(r['precision_mean'], r['precision_sd'], r['seeds'])} |"
        )
    if oracle_row is not None:
        o = oracle_row
        lines.append(f"| oracle (ground-truth reward) | | {o['seeds']} | | {pct(o['train_mean'], o['train_sd'], o['seeds'])} "
                     f"| {pct(o['heldout_mean'], o['heldout_sd'], o['seeds'])} | {pct(o['direct_mean'], o['direct_sd'], o['seeds'])} | | |")
    lines += ["", "Runs: " + ", ".join(f"`{r}`" for r in run_dirs), ""]
    if oracle_runs:
        lines += ["Oracle runs: " + ", ".join(f"`{r}`" for r in oracle_runs), ""]
    path = out / "online_scaling.md"
    atomic_write_text(path, "\n".join(lines))
    return path


def _empty() -> dict[str, list[float]]:
    return {k: [] for k in ("train", "heldout", "precision", "train_precision", "direct")}


def _require_evals(run: Any, run_dir: str | Path, what: str) -> dict[str, Any]:
    evals = reevaluations(run)
    missing = [s for s in ("train", "heldout") if s not in evals]
    if missing:
        raise ValueError(f"{what}: {str(run_dir)!r} has no eval-agent result for split {missing[0]!r} "
                         f"(vlm-rewards eval-agent {run_dir} --split {missing[0]} --seed S)")
    return evals


def _accumulate(acc: dict[str, list[float]], evals: dict[str, Any]) -> None:
    train, heldout = evals["train"]["metrics"], evals["heldout"]["metrics"]
    acc["train"].append(train["gt_success"])
    acc["heldout"].append(heldout["gt_success"])
    acc["precision"].append(_number(heldout.get("precision")))
    acc["train_precision"].append(_number(train.get("precision")))
    acc["direct"].append(_number(heldout.get("direct_success")))


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _summary(acc: dict[str, list[float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in ("train", "heldout", "precision", "train_precision", "direct"):
        out[f"{key}_mean"], out[f"{key}_sd"] = _stats(acc[key])
    return out


def _plot(rows: list[dict[str, Any]], section: str, path: Path, title: str | None,
          oracle: dict[str, Any] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["num_parameters"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
    left.plot(x, [r["offline_ap"] for r in rows], "o-", label="AP (learned τ)")
    if all(r["offline_calibrated_ap"] is not None for r in rows):
        left.plot(x, [r["offline_calibrated_ap"] for r in rows], "s--", label="AP (calibrated τ)")
    left.set(xscale="log", xlabel="reward-model parameters", ylabel=f"held-out {section} AP", ylim=(0, 1.02),
             title="reward (offline)")
    for key, label, style in (("train", "GT success, training goals", "o-"), ("heldout", "GT success, held-out goals", "s-"),
                              ("train_precision", "precision of VLM successes, training goals", "v:"),
                              ("precision", "precision of VLM successes, held-out", "^:")):
        means = [r[f"{key}_mean"] for r in rows]
        sds = [r[f"{key}_sd"] if r["seeds"] > 1 else 0.0 for r in rows]
        right.errorbar(x, means, yerr=sds, fmt=style, capsize=3, label=label)
    if oracle is not None:
        right.axhline(oracle["train_mean"], color="grey", ls="--", lw=1, label="oracle, training goals")
    right.set(xscale="log", xlabel="reward-model parameters", ylabel="fraction of episodes", ylim=(0, 1.02),
              title="agents trained on that reward")
    from matplotlib.ticker import NullFormatter

    # Tick each model at its size, named: the sizes are few and far apart on the log axis.
    names = [f"{Path(r['model']).name.replace('builtin:', '')}\n{r['num_parameters'] / 1e6:.2g}M" for r in rows]
    left.legend(fontsize=8, loc="lower right")
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside: the curves fill the panel
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        ax.set_xticks(x, names, fontsize=8)
        ax.xaxis.set_minor_formatter(NullFormatter())
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
