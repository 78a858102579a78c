"""SB3 callbacks of a training run: training-episode statistics, evaluation, progress; and
the checkpoint writer the trainer calls between training segments.

Evaluations happen at the start of a rollout, after the previous PPO update.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from vlm_rewards.io import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = [
    "CSV_FIELDS",
    "EpisodeStatsCallback",
    "PeriodicEvaluation",
    "RunProgressBar",
    "read_csv",
    "save_checkpoint",
    "write_csv",
]

CSV_FIELDS = (
    "step",
    "wall_s",
    "gt_success",
    "direct_success",
    "direct_chance",
    "gt_return",
    "vlm_return",
    "vlm_success",
    "precision",
    "length",
    "episodes",
    "train_gt_success",
    "train_vlm_success",
    "train_precision",
    "train_direct_success",
    "train_episodes",
)


def read_csv(path: str | Path) -> list[dict[str, float]]:
    """Rows of an ``evaluations.csv`` as floats."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [{k: float(v) if v not in ("", None) else math.nan for k, v in row.items()} for row in csv.DictReader(fh)]


def write_csv(path: str | Path, rows: list[dict[str, float]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    atomic_write_text(path, buf.getvalue())


class EpisodeStatsCallback(BaseCallback):
    """Ground-truth success, VLM success, precision and direct success of the last ``window``
    training episodes; ``total`` counts every training episode of the run (``start_total``:
    those before a resume, ``start_window``: their last ``window`` records, from
    :meth:`window`)."""

    def __init__(self, window: int = 100, start_total: int = 0, start_window: list | None = None):
        super().__init__()
        # (gt success, VLM fired, gt at fire, direct success or None when unknown)
        self.episodes: deque[tuple[bool, bool, bool, bool | None]] = deque(maxlen=window)
        for rec in start_window or []:
            if not isinstance(rec, (list, tuple)) or len(rec) != 4:
                raise ValueError(f"start_window records must be [gt, fired, gt_at_fire, direct], got {rec!r}")
            self.episodes.append((bool(rec[0]), bool(rec[1]), bool(rec[2]), None if rec[3] is None else bool(rec[3])))
        self.total = int(start_total)

    def window(self) -> list[list[bool | None]]:
        """The records behind :meth:`summary`, JSON-ready (a checkpoint keeps them)."""
        return [list(e) for e in self.episodes]

    def _on_step(self) -> bool:
        dones = self.locals.get("dones")
        for i, info in enumerate(self.locals.get("infos", [])):
            ep = info.get("vlm_episode")
            if ep is not None:
                # gt at the firing step: the env's flag in the step that ended the episode.
                fired = bool(ep["vlm_success"])
                direct = ep.get("direct_success")
                self.episodes.append(
                    (bool(ep["ground_truth_success"]), fired, fired and bool(info.get("ground_truth_success")), direct)
                )
                self.total += 1
            elif dones is not None and dones[i] and "episode" in info:
                gt = bool(info.get("ground_truth_success", False))
                self.episodes.append((gt, False, False, None))
                self.total += 1
        return True

    def summary(self) -> dict[str, float]:
        if not self.episodes:
            return {"train_gt_success": math.nan, "train_vlm_success": math.nan, "train_precision": math.nan,
                    "train_direct_success": math.nan, "train_episodes": float(self.total)}
        arr = np.array([e[:3] for e in self.episodes], dtype=bool)
        fired = arr[:, 1]
        direct = [e[3] for e in self.episodes if e[3] is not None]
        return {
            "train_gt_success": float(arr[:, 0].mean()),
            "train_vlm_success": float(fired.mean()),
            "train_precision": float(arr[fired, 2].mean()) if fired.any() else math.nan,
            "train_direct_success": float(np.mean(direct)) if direct else math.nan,
            "train_episodes": float(self.total),
        }

    def _on_rollout_end(self) -> None:
        for k, v in self.summary().items():
            if k != "train_episodes" and not math.isnan(v):
                self.logger.record(f"rollout/{k.removeprefix('train_')}", v)


class PeriodicEvaluation(BaseCallback):
    """Every ``every`` env steps, ``evaluate()`` the agent; append a row to the CSV and log it.

    Unlike SB3's ``EvalCallback`` it owns no eval env: the run's own evaluation function
    (held-out goals, ground truth, the VLM reward step) is passed in.

    Args:
        evaluate: ``evaluate(model, index) -> dict`` of metrics (see :mod:`vlm_rewards.agents.rollouts`).
        csv_path: the run's ``evaluations.csv`` (rewritten atomically on every row).
        stats: the training-episode statistics to add to each row.
        label: the evaluated goal split, as the log lines name it.
        start_time: wall-clock offset (seconds already spent before a resume).
        seed: the random generators of the evaluation at step ``s`` start from ``seed + s``,
            so an evaluation (its sampled actions) does not depend on what ran before it.
    """

    def __init__(
        self,
        evaluate: Callable[[Any, int], dict[str, float]],
        every: int,
        csv_path: str | Path,
        stats: EpisodeStatsCallback | None = None,
        start_time: float = 0.0,
        log: Callable[[str], None] | None = None,
        label: str = "held-out",
        seed: int = 0,
    ):
        super().__init__()
        self.label = label
        self.seed = int(seed)
        self.evaluate_fn = evaluate
        self.every = int(every)
        self.csv_path = Path(csv_path)
        self.stats = stats
        self.rows = read_csv(self.csv_path)
        self.t0 = time.monotonic() - float(start_time)
        self.log = log
        self.last_step = int(self.rows[-1]["step"]) if self.rows else -1

    def _next_due(self) -> int:
        return (self.last_step // self.every + 1) * self.every if self.last_step >= 0 else 0

    def due(self) -> bool:
        """Whether an evaluation is due at the model's current step."""
        return self.model.num_timesteps >= self._next_due() and self.model.num_timesteps != self.last_step

    def _on_rollout_start(self) -> None:
        if self.due():
            self.run_eval()

    def _on_step(self) -> bool:
        return True

    def run_eval(self) -> dict[str, float]:
        import torch

        step = int(self.model.num_timesteps)
        # Evaluation draws its own random numbers; training continues as if it had not run.
        with torch.random.fork_rng(devices=[]):
            state = np.random.get_state()
            torch.manual_seed(self.seed + step)
            np.random.seed((self.seed + step) % 2**32)
            try:
                metrics = self.evaluate_fn(self.model, len(self.rows))
            finally:
                np.random.set_state(state)
        row = {"step": float(step), "wall_s": time.monotonic() - self.t0, **metrics}
        if self.stats is not None:
            row.update(self.stats.summary())
        self.rows.append(row)
        write_csv(self.csv_path, self.rows)
        if self.logger is not None:
            for k in ("gt_success", "direct_success", "gt_return", "vlm_return", "vlm_success", "precision", "length"):
                if k in metrics and not math.isnan(metrics[k]):
                    self.logger.record(f"eval/{k}", metrics[k])
        self.last_step = step
        if self.log is not None:
            prec = metrics.get("precision", math.nan)
            self.log(
                f"step {step:>8,}  {self.label} gt success {metrics['gt_success']:.2f}  "
                f"direct {metrics.get('direct_success', math.nan):.2f}  gt return {metrics['gt_return']:.2f}  "
                f"vlm return {metrics['vlm_return']:.2f}  precision {'n/a' if math.isnan(prec) else f'{prec:.2f}'}"
            )
        return row


class RunProgressBar(BaseCallback):
    """One progress bar over the whole run (``total`` env steps), across the ``learn()``
    calls of its segments; :meth:`close` ends it."""

    def __init__(self, total: int):
        super().__init__()
        self.total = int(total)
        self.bar = None

    def _on_training_start(self) -> None:
        if self.bar is None:
            from tqdm.rich import tqdm

            self.bar = tqdm(total=self.total, initial=int(self.model.num_timesteps))

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.refresh()
            self.bar.close()
            self.bar = None


def save_checkpoint(model: Any, run_dir: str | Path, *, keep: int = 2, wall_s: float = 0.0, train_episodes: int = 0,
                    train_window: list | None = None) -> Path:
    """Save ``model`` to ``RUN_DIR/checkpoints/step_<n>.zip`` and point ``state.json`` at it
    (with what a resume continues: wall time, the training-episode count and the records of
    the last training episodes). ``state.json`` is written after the checkpoint file is in
    place, so it always names a complete checkpoint; the newest ``keep`` checkpoints stay."""
    run_dir = Path(run_dir)
    step = int(model.num_timesteps)
    ckpt_dir = run_dir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    path = ckpt_dir / f"step_{step:010d}.zip"
    buf = io.BytesIO()
    model.save(buf)
    atomic_write_bytes(path, buf.getvalue())
    state = {"step": step, "checkpoint": str(path.relative_to(run_dir)), "wall_s": wall_s, "train_episodes": int(train_episodes),
             "train_window": list(train_window or [])}
    atomic_write_json(run_dir / "state.json", state)
    old = sorted(ckpt_dir.glob("step_*.zip"))[:-keep] if keep > 0 else []
    for p in old:
        if p != path:
            os.unlink(p)
    return path
