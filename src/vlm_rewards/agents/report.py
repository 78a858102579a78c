"""Learning curves and a final table for training runs (the paper's Fig. 3, per domain).

For each run directory: ground-truth success (the return of an episode that ends at its
goal) and VLM return on the evaluation goals against env steps, runs that differ only in
their seed drawn as a mean with a min-max band,
VLM-reward agents in solid lines beside the oracle (ground-truth reward) in dashed lines;
the table gives the final evaluation, the reward-hacking check (precision: of the episodes
the VLM ended as successful, the fraction ground truth also counts) and, where an oracle
run of the same env is among the runs, each agent's success as a fraction of the oracle's.

Example:
    >>> md_path = make_report(["runs/phone_vlm", "runs/phone_oracle"], "runs/report")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlm_rewards.agents.callbacks import read_csv
from vlm_rewards.io import atomic_write_bytes, atomic_write_text

__all__ = ["RunData", "RunGroup", "group_runs", "load_run", "make_report", "reevaluations"]


@dataclass
class RunData:
    run_dir: Path
    config: dict[str, Any]
    rows: list[dict[str, float]]
    summary: dict[str, Any] | None

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.run_dir.name)

    @property
    def kind(self) -> str:
        return self.config.get("reward", {}).get("kind", "vlm")

    @property
    def env_key(self) -> str:
        env = self.config.get("env", {})
        return json.dumps([env.get("id"), env.get("kwargs", {})], sort_keys=True)

    @property
    def env_label(self) -> str:
        env = self.config.get("env", {})
        extra = ",".join(f"{k}={v}" for k, v in sorted(env.get("kwargs", {}).items()))
        return f"{str(env.get('id', '?')).split('/')[-1]}" + (f" ({extra})" if extra else "")


def load_run(run_dir: str | Path) -> RunData:
    """A run directory written by :func:`~vlm_rewards.agents.train`."""
    import yaml

    run_dir = Path(run_dir)
    cfg_path, csv_path = run_dir / "config.yaml", run_dir / "evaluations.csv"
    if not cfg_path.is_file() or not csv_path.is_file():
        raise ValueError(f"run_dir {str(run_dir)!r} is not a training run (needs config.yaml and evaluations.csv)")
    rows = read_csv(csv_path)
    if not rows:
        raise ValueError(f"run_dir {str(run_dir)!r} has no evaluations yet")
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
    return RunData(run_dir, yaml.safe_load(cfg_path.read_text()) or {}, rows, summary)


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * x:.0f}%" if pct else f"{x:.2f}"


@dataclass
class RunGroup:
    """Runs that differ only in their seed (and name): plotted as a mean with its spread."""

    name: str
    runs: list[RunData]

    @property
    def kind(self) -> str:
        return self.runs[0].kind

    @property
    def split(self) -> str:
        return str(self.runs[0].config.get("eval", {}).get("split", "heldout"))

    def curve(self, key: str) -> tuple[list[float], list[float], list[float], list[float]]:
        """``(steps, mean, min, max)`` of ``key`` over the runs, at the steps every run evaluated."""
        by_step = [{r["step"]: r.get(key, math.nan) for r in run.rows} for run in self.runs]
        steps = sorted(set.intersection(*(set(d) for d in by_step)))
        vals = [[d[s] for d in by_step] for s in steps]
        return steps, [sum(v) / len(v) for v in vals], [min(v) for v in vals], [max(v) for v in vals]


def _group_key(run: RunData) -> str:
    cfg = {k: v for k, v in run.config.items() if k not in ("seed", "name")}
    return json.dumps(cfg, sort_keys=True, default=str)


def group_runs(runs: list[RunData]) -> list[RunGroup]:
    """Runs grouped by config minus seed and name, in first-seen order; a group is named by
    its first run's name with a trailing ``_s<seed>`` / ``_seed<seed>`` removed."""
    import re

    groups: dict[str, RunGroup] = {}
    for run in runs:
        key = _group_key(run)
        if key not in groups:
            groups[key] = RunGroup(re.sub(r"_s(eed)?\d+$", "", run.name), [])
        groups[key].runs.append(run)
    return list(groups.values())


_SPLIT_NAMES = {"heldout": "held-out goals", "train": "training goals", "all": "all goals"}


def _plot(groups: list[RunGroup], path: Path) -> None:
    import io

    try:
        import matplotlib
    except ImportError:
        raise ImportError("the report's plot needs matplotlib: pip install 'vlm-rewards[eval]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, group in enumerate(groups):
        style = "--" if group.kind == "ground_truth" else "-"
        seeds = f", {len(group.runs)} seeds" if len(group.runs) > 1 else ""
        label = f"{group.name} ({'oracle' if group.kind == 'ground_truth' else 'VLM reward'}{seeds})"
        c = colours[i % len(colours)]
        # Ground-truth success, not the summed ground-truth reward: an episode the VLM does not
        # end collects the env's reward at every step it stays at the goal.
        for ax, key in zip(axes, ("gt_success", "vlm_return")):
            steps, mean, lo, hi = group.curve(key)
            ax.plot(steps, mean, style, color=c, marker="o", ms=3, label=label)
            if len(group.runs) > 1:
                ax.fill_between(steps, lo, hi, color=c, alpha=0.15, linewidth=0)
    splits = {g.split for g in groups}
    where = _SPLIT_NAMES.get(splits.pop(), "") if len(splits) == 1 else "evaluation goals"
    axes[0].set_title(f"Ground-truth success, {where}")
    axes[1].set_title(f"VLM return, {where}")
    from matplotlib.ticker import FuncFormatter

    for ax in axes:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0"))
        ax.set_xlabel("env steps")
        spread = " (mean, min-max over seeds)" if any(len(g.runs) > 1 for g in groups) else ""
        ax.set_ylabel(("success rate" if ax is axes[0] else "mean episode return") + spread)
        ax.set_ylim(-0.03, max(1.05, ax.get_ylim()[1]))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def reevaluations(run: RunData) -> dict[str, dict[str, Any]]:
    """Each split's re-evaluations (``eval_<split>_<n>[_seed<S>].json``, written by ``vlm-rewards
    eval-agent`` with the run's own settings), pooled over their seeds of episodes.

    One estimate from one seed of episodes can be the easy draw; pooling every seed a run was
    judged on gives the figure with the smallest error. Evaluations of one seed overlap (episode
    i starts from env seed S + i), so only the largest of them counts. Files written under other
    settings (``_set...``, ``_deterministic``, ``_stochastic``) are other experiments and are left out.
    Returns ``{split: {"metrics": pooled, "seeds": [...]}}``.
    """
    import re

    largest: dict[tuple[str, Any], tuple[int, dict[str, Any]]] = {}
    for path in sorted(run.run_dir.glob("eval_*_*.json")):
        match = re.fullmatch(r"eval_(heldout|train|all)_(\d+)(?:_seed(\d+))?", path.stem)
        if not match:
            continue
        data = json.loads(path.read_text())
        key = (match[1], data.get("seed", match[3]))
        if key not in largest or int(match[2]) > largest[key][0]:
            largest[key] = (int(match[2]), data)
    by_split: dict[str, list[dict[str, Any]]] = {}
    for (split, _), (_, data) in sorted(largest.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        by_split.setdefault(split, []).append(data)
    return {split: {"metrics": _pool([d["metrics"] for d in found]), "seeds": [d.get("seed") for d in found]}
            for split, found in by_split.items()}


def _pool(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Episode-weighted means of evaluations of disjoint episodes; precision weighted by the
    episodes the VLM ended as successes, the episodes it is a fraction of."""
    if len(metrics) == 1:
        return dict(metrics[0])
    counts = [float(m["episodes"]) for m in metrics]
    pooled: dict[str, Any] = {"episodes": sum(counts)}
    for key in ("gt_success", "direct_success", "direct_chance", "gt_return", "vlm_return", "vlm_success", "length"):
        pairs = [(m[key], n) for m, n in zip(metrics, counts) if m.get(key) is not None]
        if pairs:
            pooled[key] = sum(v * n for v, n in pairs) / sum(n for _, n in pairs)
    fired = [(m["precision"], n * m.get("vlm_success", 1.0)) for m, n in zip(metrics, counts)
             if m.get("precision") is not None and not math.isnan(m["precision"])]
    weight = sum(w for _, w in fired)
    pooled["precision"] = sum(p * w for p, w in fired) / weight if weight > 0 else None
    return pooled


def _reevaluation_table(runs: list[RunData]) -> list[str]:
    evals = {r.run_dir: reevaluations(r) for r in runs}
    if not any(evals.values()):
        return []

    def cell(data: dict[str, Any] | None) -> str:
        if not data:
            return "–"
        m = data["metrics"]
        p, n = m["gt_success"], int(m["episodes"])
        return f"{100 * p:.0f}% ± {100 * math.sqrt(p * (1 - p) / n):.0f} (n={n})"

    oracle = {
        r.env_key: evals[r.run_dir]["heldout"]["metrics"]["gt_success"]
        for r in runs
        if r.kind == "ground_truth" and "heldout" in evals[r.run_dir]
    }
    lines = [
        "",
        "The final agents evaluated again with more episodes (`vlm-rewards eval-agent RUN_DIR --episodes N "
        "--split heldout|train [--seed S]`, pooled over every seed of episodes; ± one standard error):",
        "",
        "| run | reward | GT success, held-out goals | GT success, training goals | precision (held-out) | vs oracle (held-out) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in runs:
        e = evals[r.run_dir]
        held = e.get("heldout")
        ratio = None
        if held and r.kind == "vlm" and oracle.get(r.env_key):
            ratio = held["metrics"]["gt_success"] / oracle[r.env_key]
        prec = held["metrics"].get("precision") if held else None
        lines.append(
            f"| {r.name} | {'oracle' if r.kind == 'ground_truth' else 'VLM'} | {cell(held)} | {cell(e.get('train'))} "
            f"| {_fmt(prec, True)} | {_fmt(ratio, True)} |"
        )
    return lines


def _seed_table(groups: list[RunGroup]) -> list[str]:
    """Final evaluation of each group of seeds: mean ± standard deviation over seeds."""
    if not any(len(g.runs) > 1 for g in groups):
        return []

    def stat(g: RunGroup, key: str) -> str:
        vals = [r.rows[-1].get(key, math.nan) for r in g.runs]
        vals = [v for v in vals if not math.isnan(v)]
        if not vals:
            return "n/a"
        mean = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
        return f"{100 * mean:.0f}% ± {100 * sd:.0f}"

    lines = [
        "",
        "Over seeds (final evaluation; mean ± standard deviation over seeds):",
        "",
        "| group | reward | seeds | GT success | direct success | precision |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for g in groups:
        lines.append(
            f"| {g.name} | {'oracle' if g.kind == 'ground_truth' else 'VLM'} | {len(g.runs)} "
            f"| {stat(g, 'gt_success')} | {stat(g, 'direct_success')} | {stat(g, 'precision')} |"
        )
    return lines


def _seed_reevaluation_table(groups: list[RunGroup]) -> list[str]:
    """Re-evaluations (``vlm-rewards eval-agent``) of each group of seeds: mean ± standard
    deviation over seeds, then each seed's value, per split."""
    if not any(len(g.runs) > 1 for g in groups):
        return []
    evals = {r.run_dir: reevaluations(r) for g in groups for r in g.runs}
    if not any(evals.values()):
        return []

    def stat(g: RunGroup, split: str, key: str) -> str:
        vals = [evals[r.run_dir][split]["metrics"].get(key) for r in g.runs if split in evals[r.run_dir]]
        vals = [v for v in vals if v is not None and not math.isnan(v)]
        if not vals:
            return "–"
        mean = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
        each = ", ".join(f"{100 * v:.0f}" for v in vals)
        return f"{100 * mean:.0f}% ± {100 * sd:.0f} ({each})"

    lines = [
        "",
        "The final agents evaluated again, over seeds (`vlm-rewards eval-agent RUN_DIR --episodes N --split "
        "heldout|train [--seed S]`, pooled over every seed of episodes; mean ± standard deviation over training "
        "seeds, then each seed):",
        "",
        "| group | reward | seeds | GT success, training goals | direct, training | GT success, held-out goals "
        "| direct, held-out | precision, training / held-out |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for g in groups:
        prec = "" if g.kind == "ground_truth" else f"{stat(g, 'train', 'precision')} / {stat(g, 'heldout', 'precision')}"
        lines.append(
            f"| {g.name} | {'oracle' if g.kind == 'ground_truth' else 'VLM'} | {len(g.runs)} "
            f"| {stat(g, 'train', 'gt_success')} | {stat(g, 'train', 'direct_success')} "
            f"| {stat(g, 'heldout', 'gt_success')} | {stat(g, 'heldout', 'direct_success')} | {prec} |"
        )
    return lines


def make_report(
    run_dirs: list[str | Path],
    out_dir: str | Path | None = None,
    title: str = "Training report",
    labels: list[str] | None = None,
) -> Path:
    """Write ``report.md`` and ``curves.png`` for ``run_dirs`` into ``out_dir``; return the Markdown path.

    ``out_dir`` defaults to ``RUN_DIR/report`` for one run and to ``report/`` beside the
    first run for several. ``labels`` name the runs (default: each config's ``name``).
    """
    if not run_dirs:
        raise ValueError("run_dirs must name at least one run directory")
    runs = [load_run(d) for d in run_dirs]
    if labels:
        if len(labels) != len(runs):
            raise ValueError(f"labels must give one name per run directory: {len(labels)} labels for {len(runs)} runs")
        for run, label in zip(runs, labels):
            run.config = {**run.config, "name": label}
    if out_dir is None:
        out_dir = runs[0].run_dir / "report" if len(runs) == 1 else runs[0].run_dir.parent / "report"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = group_runs(runs)
    _plot(groups, out_dir / "curves.png")

    oracle_success = {r.env_key: r.rows[-1]["gt_success"] for r in runs if r.kind == "ground_truth"}
    lines = [
        f"# {title}",
        "",
        "![learning curves](curves.png)",
        "",
        "Judged by ground truth on the runs' evaluation goals (`eval.split`). *direct success*: the goal reached "
        "before any state another goal asks for (e.g. a wrong app opened); *chance*: the most a policy that "
        "ignores its goal can reach (1 / number of goals). *precision*: of the evaluation episodes the VLM "
        "reward ended as successful, the fraction ground truth also counts as successful (the "
        "reward-hacking check). *train precision*: the same over the last 100 training episodes. "
        "The VLM reward does not end the oracle's episodes, so its VLM return counts every step the reward fires.",
        "",
        "| run | reward | env | env steps | GT success | direct success (chance) | GT return | VLM return | precision | train precision | vs oracle | best GT success (step) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        last = run.rows[-1]
        best = max(run.rows, key=lambda r: r["gt_success"])
        ratio = None
        if run.kind == "vlm" and run.env_key in oracle_success and oracle_success[run.env_key] > 0:
            ratio = last["gt_success"] / oracle_success[run.env_key]
        lines.append(
            f"| {run.name} | {'oracle (ground truth)' if run.kind == 'ground_truth' else 'VLM'} | {run.env_label} "
            f"| {int(last['step']):,} | {_fmt(last['gt_success'], True)} "
            f"| {_fmt(last.get('direct_success'), True)} ({_fmt(last.get('direct_chance'), True)}) | {_fmt(last['gt_return'])} "
            f"| {_fmt(last['vlm_return'])} | {_fmt(last.get('precision'), True)} | {_fmt(last.get('train_precision'), True)} "
            f"| {_fmt(ratio, True)} | {_fmt(best['gt_success'], True)} ({int(best['step']):,}) |"
        )
    lines += _seed_table(groups)
    lines += _reevaluation_table(runs)
    lines += _seed_reevaluation_table(groups)
    lines += ["", "Per-goal ground-truth success (final evaluation):", ""]
    for run in runs:
        per_goal = (run.summary or {}).get("per_goal") or {}
        if per_goal:
            lines.append(f"- {run.name}: " + ", ".join(f"{g}: {_fmt(v, True)}" for g, v in per_goal.items()))
    lines += ["", "Runs: " + ", ".join(f"`{r.run_dir}`" for r in runs), ""]
    md = out_dir / "report.md"
    atomic_write_text(md, "\n".join(lines))
    return md
