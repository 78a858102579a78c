"""Written results: ``metrics.json``, PNG plots and a Markdown report that embeds them.

Example:
    >>> write_report(evaluate("builtin:default", "evalset"), "eval-out")  # doctest: +SKIP
    PosixPath('eval-out/report.md')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vlm_rewards.evaluation import plots
from vlm_rewards.io import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = ["scaling_markdown", "template_markdown", "write_report", "write_scaling_report"]


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _g(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _results_table(metrics: dict[str, Any]) -> list[str]:
    lines = ["| section | split | goals | frames | positive rate | AP | mean per-goal AP | ROC-AUC | best F1 | its β | precision at recall 0.5 |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, res in metrics["sections"].items():
        for split in ("heldout", "train"):
            m = res["splits"][split]
            p = m["pooled"]
            lines.append(f"| {name} | {split} | {m['goals']} | {m['frames']} | {_f(p['positive_rate'])} | {_f(p['ap'])} "
                         f"| {_f(m['mean_ap'])} | {_f(p['roc_auc'])} | {_f(p['best_f1'])} | {_g(p['best_f1_threshold'])} "
                         f"| {_f(p['precision_at_recall_0.5'])} |")
    return lines


def _calibration_table(metrics: dict[str, Any]) -> list[str]:
    lines = ["| section | τ | β | train F1 | held-out precision | held-out recall | held-out F1 | held-out AP at τ | held-out best F1 at τ "
             "| held-out F1 at the pooled best-F1 β |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, res in metrics["sections"].items():
        c = res["calibration"]
        if c["heldout"] is None:
            lines.append(f"| {name} | – | – | – | – | – | – | – | – | – |")
            continue
        lines.append(f"| {name} | {_g(c['temperature'])} | {_g(c['threshold'])} | {_f(c['train']['f1'])} "
                     f"| {_f(c['heldout']['precision'])} | {_f(c['heldout']['recall'])} | {_f(c['heldout']['f1'])} "
                     f"| {_f(c['heldout']['ap'])} | {_f(c['heldout']['best_f1'])} "
                     f"| {_f(c['heldout'].get('f1_at_pooled_threshold'))} |")
    return lines


def _retrieval_table(metrics: dict[str, Any]) -> list[str]:
    lines = ["| section | split | frames with one goal achieved | top-1 among all goals of the section |", "|---|---|---:|---:|"]
    for name, res in metrics["sections"].items():
        for split in ("heldout", "train"):
            r = res["retrieval"][split]
            lines.append(f"| {name} | {split} | {r['frames']} | {_f(r['top1'])} |")
    for name, res in metrics["sections"].items():
        c = res.get("compositional")
        if c:
            lines += ["", f"{name}, goals on the colour-object combinations the built-in corpus never names "
                      f"({', '.join(c['goals'])}): mean per-goal AP {_f(c['mean_ap'])}, top-1 {_f(c['top1'])} "
                      f"on {c['retrieval_frames']} frames."]
            wrong = c.get("mistaken_for") or {}
            if wrong:
                lines[-1] += " Most often ranked first instead: " + "; ".join(
                    f"{g} -> {w} ({k} of {n} frames)" for g, (w, k, n) in wrong.items()) + "."
    return lines


def _per_goal_table(metrics: dict[str, Any]) -> list[str]:
    lines = ["| section | goal | positives | AP | ROC-AUC | best F1 |", "|---|---|---:|---:|---:|---:|"]
    for name, res in metrics["sections"].items():
        for goal, m in res["splits"]["heldout"]["per_goal"].items():
            lines.append(f"| {name} | {goal} | {m['positives']} | {_f(m['ap'])} | {_f(m['roc_auc'])} | {_f(m['best_f1'])} |")
    return lines


def template_markdown(sections: dict[str, Any]) -> list[str]:
    """The prompt-template table: AP per template (held-out and train) per section."""
    lines = ["| section | template | example prompt | held-out AP | held-out mean per-goal AP | train AP |",
             "|---|---|---|---:|---:|---:|"]
    for name, res in sections.items():
        for r in res.get("templates") or []:
            lines.append(f"| {name} | `{r['template']}` | {r['example']} | {_f(r['heldout']['ap'])} "
                         f"| {_f(r['heldout']['mean_ap'])} | {_f(r['train']['ap'])} |")
    return lines


def _negatives_table(sections: dict[str, Any]) -> list[str]:
    lines = ["| section | negatives | choice | held-out AP | held-out best F1 | train AP |", "|---|---:|---|---:|---:|---:|"]
    for name, res in sections.items():
        for r in res.get("negatives") or []:
            if "skipped" in r:
                lines.append(f"| {name} | {r['negatives']} | {r['choice']} | skipped: {r['skipped']} | | |")
            else:
                lines.append(f"| {name} | {r['negatives']} | {r['choice']} | {_f(r['heldout']['ap'])} "
                             f"| {_f(r['heldout']['best_f1'])} | {_f(r['train']['ap'])} |")
    return lines


def _sensitivity_table(sections: dict[str, Any]) -> list[str]:
    lines = ["| section | split | pairs | wins against all | counterfactuals beaten |", "|---|---|---:|---:|---:|"]
    total = {"pairs": 0, "win_all": 0.0, "beaten": 0.0}
    for name, res in sections.items():
        sens = res.get("sensitivity")
        if not sens:
            continue
        for split in ("train", "heldout", "pooled"):
            r = sens.get(split)
            if r:
                lines.append(f"| {name} | {split} | {r['pairs']} | {_f(r['win_all'])} | {_f(r['beaten'])} |")
        p = sens["pooled"]
        if p["pairs"]:
            total["pairs"] += p["pairs"]
            total["win_all"] += p["pairs"] * p["win_all"]
            total["beaten"] += p["pairs"] * p["beaten"]
    n = total["pairs"]
    if n:
        lines.append(f"| all sections | pooled | {n} | {_f(total['win_all'] / n)} | {_f(total['beaten'] / n)} |")
    return lines


def write_report(ev: Any, out_dir: str | os.PathLike) -> Path:
    """Write ``metrics.json``, ``pr_curves.png``, ``histograms.png`` (and the studies' plots)
    and ``report.md`` to ``out_dir``; returns the report's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m = ev.metrics
    atomic_write_json(out / "metrics.json", m)
    atomic_write_bytes(out / "pr_curves.png", plots.pr_curves_png(ev))
    atomic_write_bytes(out / "histograms.png", plots.histograms_png(ev))
    s = m["settings"]
    lines = [
        f"# Reward evaluation: {m['model']['name']}",
        "",
        f"- model: `{m['model']['name']}`, {m['model']['num_parameters']:,} parameters, learned τ = {m['model']['temperature']:.4g}",
        f"- dataset: `{m['dataset']['path']}` (seed {m['dataset']['seed']}, {m['dataset']['image_size']} px frames)",
        f"- reward: {s['reward']}, template `{s['template']}`"
        + (f", negatives: {s['negatives']} ({s['negative_choice']}), τ = {s['temperature']:.4g}" if "negatives" in s else "")
        + (f", α = {s['alpha']}, baseline {s['baseline'] or 'per domain'}" if "alpha" in s else ""),
        "",
        "Every frame of a split is scored against every goal of that split (training goals on `train`, held-out",
        "goals on `heldout`); metrics are pooled over (frame, goal) pairs. β is the threshold of `1[score > β]`.",
        "",
        "## Precision and recall",
        "",
        *_results_table(m),
        "",
        "![Precision-recall curves](pr_curves.png)",
        "",
        "## Calibration",
        "",
        "τ (on a grid around the model's, maximising the pooled F1) and β (maximising the training goals' mean F1) "
        "chosen on `train`; precision, recall and F1 at",
        "them measured on `heldout`.",
        "",
        *_calibration_table(m),
        "",
        "![Reward histograms](histograms.png)",
        "",
        "## Goal retrieval",
        "",
        "On frames where exactly one goal of the section is achieved (and it is a goal of the split): how often",
        "that goal's prompt is the most similar of all the section's goals.",
        "",
        *_retrieval_table(m),
        "",
    ]
    if any(r.get("sensitivity") for r in m["sections"].values()):
        lines += [
            "## Instruction sensitivity",
            "",
            "On each positive (frame, goal) pair: does the goal's prompt score higher than each of its",
            "counterfactuals in the section's goal set (the goal with one attribute changed: a colour, an",
            "object kind, the app)? A reward blind to the instruction beats about half of them, and rarely all.",
            "",
            *_sensitivity_table(m["sections"]),
            "",
        ]
    if any(r.get("templates") for r in m["sections"].values()):
        atomic_write_bytes(out / "templates.png", plots.templates_png(ev))
        lines += ["## Prompt templates", "", *template_markdown(m["sections"]), "", "![Templates](templates.png)", ""]
    if any(r.get("negatives") for r in m["sections"].values()):
        atomic_write_bytes(out / "negatives.png", plots.negatives_png(ev))
        lines += ["## Negatives", "", *_negatives_table(m["sections"]), "", "![Negatives](negatives.png)", ""]
    lines += ["## Per goal (held-out)", "", *_per_goal_table(m), ""]
    return atomic_write_text(out / "report.md", "\n".join(lines))


def scaling_markdown(result: dict[str, Any]) -> list[str]:
    """The scaling table: held-out AP and best F1 per model and section."""
    sections = result["sections"]
    head = "| model | parameters | " + " | ".join(f"{s} AP | {s} best F1" for s in sections) + " |"
    lines = [head, "|---|---:|" + "---:|---:|" * len(sections)]
    for r in result["models"]:
        cells = " | ".join(f"{_f(r['sections'][s]['ap'])} | {_f(r['sections'][s]['best_f1'])}" for s in sections)
        lines.append(f"| `{r['model']}` | {r['num_parameters']:,} | {cells} |")
    lines += ["", "Goal retrieval: top-1 among all goals of the section, on held-out frames where exactly one "
              "(held-out) goal is achieved.", "",
              "| model | " + " | ".join(f"{s} top-1" for s in sections) + " |", "|---|" + "---:|" * len(sections)]
    for r in result["models"]:
        lines.append(f"| `{r['model']}` | " + " | ".join(_f(r["sections"][s].get("top1")) for s in sections) + " |")
    comp = [s for s in sections if any(r["sections"][s].get("compositional") for r in result["models"])]
    if comp:
        lines += ["", "Compositional hold-out (goals on colour-object combinations the built-in corpus never names):", "",
                  "| model | " + " | ".join(f"{s} mean AP | {s} top-1" for s in comp) + " |", "|---|" + "---:|---:|" * len(comp)]
        for r in result["models"]:
            cs = [r["sections"][s].get("compositional") or {} for s in comp]
            lines.append(f"| `{r['model']}` | " + " | ".join(f"{_f(c.get('mean_ap'))} | {_f(c.get('top1'))}" for c in cs) + " |")
    return lines


def _scaling_templates(result: dict[str, Any]) -> list[str]:
    models = result["models"]
    if not any(r["sections"][s].get("templates") for r in models for s in result["sections"]):
        return []
    lines = ["| section | template | " + " | ".join(f"`{plots._short(r['model'])}`" for r in models) + " |",
             "|---|---|" + "---:|" * len(models)]
    for s in result["sections"]:
        rows = models[0]["sections"][s].get("templates") or []
        for i, t in enumerate(rows):
            aps = " | ".join(_f(r["sections"][s]["templates"][i]["heldout"]["ap"]) for r in models)
            lines.append(f"| {s} | `{t['template']}` | {aps} |")
    return ["## Prompt templates (held-out AP)", "", *lines, ""]


def write_scaling_report(result: dict[str, Any], out_dir: str | os.PathLike) -> Path:
    """Write ``scaling.json``, ``scaling.png`` and ``scaling.md`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "scaling.json", result)
    atomic_write_bytes(out / "scaling.png", plots.scaling_png(result))
    lines = [
        "# Reward quality against model size",
        "",
        f"Dataset `{result['dataset']['path']}` (seed {result['dataset']['seed']}); reward settings: "
        + ", ".join(f"{k}={v}" for k, v in result["settings"].items()) + ".",
        "Held-out split, pooled over (frame, goal) pairs, at each model's learned τ.",
        "",
        *scaling_markdown(result),
        "",
        "![Scaling](scaling.png)",
        "",
        *_scaling_templates(result),
    ]
    return atomic_write_text(out / "scaling.md", "\n".join(lines))
