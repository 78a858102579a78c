"""Train one language-conditioned agent from the VLM reward (or the ground-truth oracle).

The run directory holds everything about the run::

    RUN_DIR/config.yaml        resolved config (every default filled in)
    RUN_DIR/state.json         step and path of the newest complete checkpoint
    RUN_DIR/checkpoints/       step_<n>.zip (SB3 saves; the newest two are kept)
    RUN_DIR/evaluations.csv    one row per evaluation: held-out ground-truth success and
                               return, VLM return, precision, training-episode statistics
    RUN_DIR/gifs/              evaluation episodes with the goal and reward overlaid
    RUN_DIR/tb/                TensorBoard logs (when tensorboard is installed)
    RUN_DIR/model.zip          the final agent
    RUN_DIR/summary.json       final evaluation (per goal, per episode) and timings

``resume=True`` continues a killed run from its newest checkpoint with the same config
(only ``total_steps`` may change, to extend a run); evaluations after that checkpoint are
dropped from the CSV and redone.

Training runs in segments of ``checkpoint_every`` env steps, and every segment starts from
a state that a checkpoint holds completely: the random generators are reseeded from the
run's seed and step, the envs are reseeded and reset (the episodes then under way end as
truncated, bootstrapped from the value of their last state), and the scorer's frame cache
is emptied. A run killed at any moment and resumed therefore ends with the same parameters
and the same metrics as a run that was never interrupted.

Example:
    >>> from vlm_rewards.agents import load_config, train
    >>> result = train(load_config("configs/phone_common.yaml"), "runs/phone")  # doctest: +SKIP
    >>> result.final["gt_success"]  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from vlm_rewards.agents.algos import build_agent, init_policy_from, load_agent, set_segment_schedule
from vlm_rewards.agents.config import ConfigError, TrainConfig, dump_config
from vlm_rewards.agents.rollouts import METRIC_KEYS
from vlm_rewards.io import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = ["RunExistsError", "TrainResult", "train"]


class RunExistsError(ValueError):
    """The run directory already holds a run (and ``resume`` was not asked for)."""


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    final: dict[str, float]
    per_goal: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    steps_per_s: float = 0.0
    resumed_from: int | None = None
    #: ground-truth and VLM success and precision over the last 100 training episodes
    train_stats: dict[str, float] = field(default_factory=dict)


def _tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def _check_resume_config(config: TrainConfig, run_dir: Path) -> None:
    import yaml

    saved_path = run_dir / "config.yaml"
    if not saved_path.is_file():
        raise ConfigError(f"cannot resume: {saved_path} does not exist")
    saved = yaml.safe_load(saved_path.read_text()) or {}
    try:
        # A field added to the config since the run was written takes its default, which
        # keeps the old behaviour: that is not a change.
        saved = json.loads(TrainConfig.model_validate(saved).model_dump_json())
    except (ValueError, TypeError):
        pass  # compared as written; the diff names what differs
    current = json.loads(config.model_dump_json())

    def diff(a: Any, b: Any, prefix: str = "") -> list[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            out = []
            for k in sorted(set(a) | set(b)):
                out += diff(a.get(k), b.get(k), f"{prefix}{k}.")
            return out
        return [] if a == b else [f"{prefix[:-1]} (run: {a!r}, now: {b!r})"]

    changed = [d for d in diff(saved, current) if not d.startswith("total_steps ")]
    if changed:
        raise ConfigError(
            "cannot resume with a different config (only total_steps may change): " + "; ".join(changed)
        )


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train an agent as ``config`` says, writing everything to ``run_dir`` (see module doc).

    Raises :class:`RunExistsError` if ``run_dir`` already holds a run and ``resume`` is
    False, and :class:`~vlm_rewards.agents.config.ConfigError` if a resumed run's config differs.
    """
    import torch
    from stable_baselines3.common.logger import configure

    from vlm_rewards.agents.callbacks import (
        EpisodeStatsCallback,
        PeriodicEvaluation,
        RunProgressBar,
        read_csv,
        save_checkpoint,
        write_csv,
    )
    from vlm_rewards.agents.envs import goal_table, make_scorer
    from vlm_rewards.agents.venvs import make_train_venv
    from vlm_rewards.agents.rollouts import evaluate_agent

    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig (see load_config), got {type(config).__name__}")
    run_dir = Path(run_dir)
    say = log or (lambda _msg: None)
    state_path = run_dir / "state.json"
    start_step, wall_offset, ckpt, start_episodes, start_window = 0, 0.0, None, 0, None
    if resume and state_path.is_file():
        _check_resume_config(config, run_dir)
        state = json.loads(state_path.read_text())
        start_step, wall_offset, ckpt = int(state["step"]), float(state.get("wall_s", 0.0)), run_dir / state["checkpoint"]
        start_episodes = int(state.get("train_episodes", 0))
        start_window = state.get("train_window")
        if not ckpt.is_file():
            raise ConfigError(f"cannot resume: {state_path} names {ckpt}, which does not exist")
    elif resume:
        # No checkpoint: nothing was trained (a start that failed, or a run killed before its
        # first checkpoint), so the corrected command starts afresh, whatever config it has.
        say(f"{run_dir} holds no checkpoint: starting from step 0")
    elif (run_dir / "config.yaml").exists() or state_path.exists():
        raise RunExistsError(
            f"run directory {run_dir} already holds a run: pass resume=True (--resume) to continue it (or, with no "
            "checkpoint yet, to start it over), or choose another directory"
        )

    if config.agent.torch_threads is not None:
        torch.set_num_threads(config.agent.torch_threads)
    # Everything that can fail on a bad config (the model, the device, the envs, the agent)
    # is built before the run directory is written, so a failed start leaves nothing that
    # blocks the corrected command.
    scorer = make_scorer(config.reward, config.env, seed=config.seed)
    table = goal_table(scorer, config.env)
    # A resumed run reseeds its envs so that it does not replay the episodes of the first part.
    venv = make_train_venv(config, scorer, table, seed=config.seed + start_step)
    try:
        if ckpt is not None:
            model = load_agent(ckpt, config, env=venv)
            say(f"resuming {run_dir} from step {start_step:,} ({ckpt.name})")
        else:
            model = build_agent(config, venv)
            if config.agent.init_from is not None:
                init_policy_from(model, config.agent.init_from, new_action_bias=config.agent.new_action_bias)
                say(f"policy weights from {config.agent.init_from}")
    except BaseException:
        venv.close()
        raise

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", dump_config(config))
    csv_path = run_dir / "evaluations.csv"
    # Evaluations newer than the checkpoint belong to the lost part of the run: they are redone.
    kept = [r for r in read_csv(csv_path) if r["step"] <= start_step] if ckpt is not None else []
    write_csv(csv_path, kept)
    tb_dir = str(run_dir / "tb") if config.tensorboard and _tensorboard_available() else None
    if tb_dir:  # otherwise build_agent and load_agent gave it a logger of no outputs
        model.set_logger(configure(tb_dir, ["tensorboard"]))

    gif_dir = run_dir / "gifs"

    def evaluate(agent, index: int, *, final: bool = False) -> dict[str, float]:
        ev = config.eval
        gifs = ev.gif_episodes if (final or index % ev.gif_every == 0) else 0
        prefix = "final" if final else f"step{agent.num_timesteps:010d}"
        result = evaluate_agent(agent, config, scorer, table, gif_episodes=gifs, gif_dir=gif_dir, gif_prefix=prefix)
        evaluate.last = result  # type: ignore[attr-defined]
        return result.metrics()

    stats = EpisodeStatsCallback(start_total=start_episodes, start_window=start_window)
    label = {"heldout": "held-out", "train": "training-goal", "all": "all-goal"}[config.eval.split]
    evaluator = PeriodicEvaluation(evaluate, config.eval.every, csv_path, stats, start_time=wall_offset, log=say, label=label,
                                   seed=config.eval.seed)
    # Evaluations due at a segment boundary run between segments, outside learn().
    evaluator.model = model
    callbacks = [stats, evaluator]
    bar = RunProgressBar(config.total_steps) if progress else None
    if bar is not None:
        callbacks.append(bar)
    t0 = time.monotonic()
    try:
        while True:
            step = int(model.num_timesteps)
            if step < config.total_steps and evaluator.due():
                evaluator.run_eval()
            if step >= config.total_steps:
                break
            _begin_segment(model, scorer, config.seed + step)
            end = min(config.total_steps, (step // config.checkpoint_every + 1) * config.checkpoint_every)
            set_segment_schedule(model, config, end)
            model.learn(end - step, callback=callbacks, reset_num_timesteps=False, tb_log_name="ppo")
            save_checkpoint(model, run_dir, keep=config.keep_checkpoints, wall_s=wall_offset + time.monotonic() - t0,
                            train_episodes=stats.total, train_window=stats.window())
    finally:
        if bar is not None:
            bar.close()
        venv.close()
    trained_s = time.monotonic() - t0
    steps = int(model.num_timesteps)
    wall_s = wall_offset + trained_s
    buf = io.BytesIO()
    model.save(buf)
    atomic_write_bytes(run_dir / "model.zip", buf.getvalue())

    # The final evaluation: the last row of the curve and the summary.
    if evaluator.last_step != steps:
        evaluator.model = model
        metrics = _final_eval(evaluator, evaluate, model)
        model.logger.dump(steps)
    else:
        metrics = {k: v for k, v in evaluator.rows[-1].items() if k in METRIC_KEYS}
    last = getattr(evaluate, "last", None)
    per_goal = last.per_goal() if last is not None else {}
    summary = {
        "run_dir": str(run_dir),
        "name": config.name,
        "reward": config.reward.kind,
        "env": config.env.id,
        "steps": steps,
        "resumed_from": start_step if ckpt is not None else None,
        "wall_s": wall_s,
        "train_steps_per_s": (steps - start_step) / trained_s if trained_s > 0 else math.nan,
        "final": metrics,
        "train_stats": stats.summary(),
        "per_goal": per_goal,
        "episodes": last.to_dict()["episodes"] if last is not None else [],
    }
    atomic_write_json(run_dir / "summary.json", _jsonable(summary))
    return TrainResult(
        run_dir=run_dir,
        steps=steps,
        final=metrics,
        per_goal=per_goal,
        wall_s=wall_s,
        steps_per_s=summary["train_steps_per_s"],
        resumed_from=summary["resumed_from"],
        train_stats=summary["train_stats"],
    )


def _begin_segment(model, scorer, seed: int) -> None:
    """Put the training state a checkpoint does not hold into a state that depends only on
    ``seed``: the random generators, the envs (reseeded and reset) and the frame cache."""
    import numpy as np

    model.set_random_seed(seed)  # torch, numpy, random, the action space and env.seed(seed)
    model._last_obs = model.env.reset()
    # New episodes everywhere: the recurrent policy zeroes its LSTM state at episode starts.
    model._last_episode_starts = np.ones((model.env.num_envs,), dtype=bool)
    cache = getattr(scorer, "cache", None)
    if cache is not None:
        cache.clear()


def _final_eval(evaluator, evaluate, model) -> dict[str, float]:
    """The evaluation after the last update (with GIFs), appended to the curve."""
    orig = evaluator.evaluate_fn
    evaluator.evaluate_fn = lambda agent, index: evaluate(agent, index, final=True)
    try:
        row = evaluator.run_eval()
    finally:
        evaluator.evaluate_fn = orig
    return {k: row[k] for k in METRIC_KEYS if k in row}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    return obj
