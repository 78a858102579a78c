"""Agent rollouts judged by ground truth: success and return on (held-out) goals beside VLM return.

(Named apart from :mod:`vlm_rewards.evaluation`, which judges the *reward* offline on
labelled frames; this module judges an *agent* by running it.)

Episodes run through the reward step that trained the agent
(:class:`~vlm_rewards.wrappers.core.RewardStep`: the VLM reward ends them for a VLM-reward
agent; ground truth ends them for the oracle), several side by side with one VLM batch
per step. Episode ``i`` always gets goal ``goals[i % len(goals)]`` and seed ``seed + i``,
so successive evaluations of one run, and runs compared with each other, see the same
episodes.

Per episode: ``gt_success`` (ground truth held at some step), ``gt_return`` (sum of the
env's ground-truth rewards over the episode as it ran), ``vlm_return``, ``vlm_fired`` and
``gt_at_fire`` (ground truth held at the step the VLM reward first fired). Precision
``P(gt_at_fire | vlm_fired)`` is the reward-hacking check: 1.0 means every episode the VLM
called a success was one.

Example:
    >>> result = evaluate_agent(model, config, scorer, table, episodes=30)  # doctest: +SKIP
    >>> result.metrics()["gt_success"]  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlm_rewards.agents.config import TrainConfig
from vlm_rewards.agents.envs import domain_goals, make_env, patch_source, region_source
from vlm_rewards.wrappers.core import RewardStep
from vlm_rewards.wrappers.region import REGION_CROPS_KEY

__all__ = ["EVAL_OVERRIDABLE", "METRIC_KEYS", "EpisodeRecord", "EvalResult", "evaluate_agent", "load_run", "write_gif"]

# Settings evaluate_run may change for a trained agent: they do not change what it observes.
EVAL_OVERRIDABLE = ("reward.", "eval.", "env.max_episode_steps")


@dataclass
class EpisodeRecord:
    goal: str
    seed: int
    length: int = 0
    vlm_return: float = 0.0
    gt_return: float = 0.0
    gt_success: bool = False
    direct_success: bool = False
    vlm_fired: bool = False
    gt_at_fire: bool | None = None


#: the keys of :meth:`EvalResult.metrics`, in the order the CSV and reports show them
METRIC_KEYS = (
    "gt_success", "direct_success", "direct_chance", "gt_return", "vlm_return", "vlm_success", "precision",
    "length", "episodes",
)


@dataclass
class EvalResult:
    episodes: list[EpisodeRecord] = field(default_factory=list)
    gifs: list[str] = field(default_factory=list)
    #: how many goals the episodes were drawn from (1 / it is the direct-success chance level)
    num_goals: int | None = None

    def metrics(self) -> dict[str, float]:
        """Means over episodes; ``precision`` is NaN when the VLM never fired.

        ``direct_chance`` is the most direct success any policy that ignores its goal can
        have: it goes first to one state, which is the asked-for one for 1 in ``num_goals``
        goals (NaN when ``num_goals`` is unknown).
        """
        eps = self.episodes
        if not eps:
            raise ValueError("no episodes were evaluated")
        fired = [e for e in eps if e.vlm_fired]
        return {
            "gt_success": float(np.mean([e.gt_success for e in eps])),
            "direct_success": float(np.mean([e.direct_success for e in eps])),
            "direct_chance": 1.0 / self.num_goals if self.num_goals else math.nan,
            "gt_return": float(np.mean([e.gt_return for e in eps])),
            "vlm_return": float(np.mean([e.vlm_return for e in eps])),
            "vlm_success": float(np.mean([e.vlm_fired for e in eps])),
            "precision": float(np.mean([bool(e.gt_at_fire) for e in fired])) if fired else math.nan,
            "length": float(np.mean([e.length for e in eps])),
            "episodes": float(len(eps)),
        }

    def per_goal(self, key: str = "gt_success") -> dict[str, float]:
        """Per goal, the rate of ``key`` ("gt_success" or "direct_success") over its episodes."""
        if key not in ("gt_success", "direct_success"):
            raise ValueError(f"key must be 'gt_success' or 'direct_success', got {key!r}")
        out: dict[str, list[bool]] = {}
        for e in self.episodes:
            out.setdefault(e.goal, []).append(getattr(e, key))
        return {g: float(np.mean(v)) for g, v in out.items()}

    def per_goal_table(self) -> dict[str, dict[str, float]]:
        """Per goal: episodes, ground-truth and direct success, mean length."""
        out: dict[str, list[EpisodeRecord]] = {}
        for e in self.episodes:
            out.setdefault(e.goal, []).append(e)
        return {
            g: {
                "episodes": float(len(v)),
                "gt_success": float(np.mean([e.gt_success for e in v])),
                "direct_success": float(np.mean([e.direct_success for e in v])),
                "length": float(np.mean([e.length for e in v])),
            }
            for g, v in out.items()
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics(),
            "per_goal": self.per_goal(),
            "per_goal_table": self.per_goal_table(),
            "episodes": [asdict(e) for e in self.episodes],
        }


def _finish(rec: EpisodeRecord, episode: dict[str, Any]) -> EpisodeRecord:
    """Fill ``rec`` from the reward step's episode record (the env's reward is ground truth here)."""
    rec.length, rec.vlm_return = episode["length"], episode["vlm_return"]
    rec.gt_return, rec.gt_success = episode["env_return"], episode["ground_truth_success"]
    rec.direct_success = episode["direct_success"]
    rec.vlm_fired, rec.gt_at_fire = episode["vlm_fired"], episode["gt_at_fire"]
    return rec


def _stack(observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.stack([o[k] for o in observations]) for k in observations[0]}


def evaluate_agent(
    model: Any,
    config: TrainConfig,
    scorer: Any,
    table: dict[str, np.ndarray],
    *,
    episodes: int | None = None,
    split: str | None = None,
    deterministic: bool | None = None,
    seed: int | None = None,
    n_envs: int | None = None,
    gif_episodes: int = 0,
    gif_dir: str | Path | None = None,
    gif_prefix: str = "eval",
    on_frame: Callable[[Any, np.ndarray, EpisodeRecord, int], None] | None = None,
) -> EvalResult:
    """Run ``episodes`` evaluation episodes of ``model`` (an SB3 PPO or RecurrentPPO).

    Unset arguments come from ``config.eval``. The first ``gif_episodes`` episodes are saved
    as GIFs in ``gif_dir`` with the goal and reward overlaid. ``on_frame(env, frame, episode,
    t)``, where given, sees every frame the VLM scores (``t`` = 0: the reset frame) while its
    env still holds that state (``vlm_rewards.agents.visited`` labels them).
    """
    ev = config.eval
    episodes = ev.episodes if episodes is None else int(episodes)
    split = ev.split if split is None else split
    deterministic = ev.deterministic if deterministic is None else bool(deterministic)
    seed = ev.seed if seed is None else int(seed)
    n_slots = min(ev.n_envs if n_envs is None else int(n_envs), episodes)
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    goal_list = domain_goals(config.env, split)
    oracle = config.reward.kind == "ground_truth"
    regions = region_source(config, scorer)
    # The region features of all slots are encoded in one batch per step (the sub-envs only
    # put their crops in info), as in training: one encoding per slot and step was most of
    # an evaluation's time for the House view feature.
    envs = [
        make_env(config.env, table, split=split, terminate_on_success=oracle, render=True, frame_info=False,
                 regions=regions, batch_regions=True, patches=patch_source(config, scorer))
        for _ in range(n_slots)
    ]
    if regions is not None:
        from vlm_rewards.wrappers.region import prompt_table, region_encoder, region_features_of

        encode_regions, region_prompts = region_encoder(regions[0])[0], prompt_table(regions[1])
    # Slot -> the info of its newest view (its crops and goal) whose region is not yet in obs.
    pending: dict[int, dict[str, Any]] = {}

    def fill_regions() -> None:
        if regions is None or not pending:
            return
        slots = sorted(pending)
        region = region_features_of(encode_regions, region_prompts, [pending[i] for i in slots])
        for k, i in enumerate(slots):
            obs[i] = {**obs[i], "region": region[k]}
        pending.clear()
    # The training step itself: for a VLM-reward agent the VLM ends episodes as it did in
    # training; the oracle's envs end on ground truth, and the VLM only scores its frames
    # (for the VLM return and precision columns).
    step = RewardStep(n_slots, scorer, terminate_on_success=not oracle and config.reward.terminate_on_success,
                      owner="evaluate_agent", confirm=config.reward.confirm)
    recurrent = hasattr(model.policy, "lstm_actor")
    result = EvalResult(num_goals=len(goal_list))
    next_episode = 0
    slot_ep: list[EpisodeRecord | None] = [None] * n_slots
    obs: list[dict[str, np.ndarray] | None] = [None] * n_slots
    frames: list[list[tuple[np.ndarray, str]] | None] = [None] * n_slots
    slot_t = [0] * n_slots
    starts = np.ones(n_slots, dtype=bool)
    state = None

    def start(i: int) -> None:
        nonlocal next_episode
        if next_episode >= episodes:
            slot_ep[i] = None  # idle: its last observation (region filled below) stays in the batch
            return
        k = next_episode
        next_episode += 1
        rec = EpisodeRecord(goal=goal_list[k % len(goal_list)], seed=seed + k)
        o, info = envs[i].reset(seed=rec.seed, options={"goal": rec.goal})
        if regions is not None:
            pending[i] = info
        step.start_episode(i, {"goal": rec.goal})
        slot_ep[i], obs[i], starts[i] = rec, o, True
        first = envs[i].render() if k < gif_episodes or on_frame is not None else None
        frames[i] = [(first, "start")] if k < gif_episodes else None
        slot_t[i] = 0
        if on_frame is not None:
            on_frame(envs[i], first, rec, 0)

    try:
        for i in range(n_slots):
            start(i)
        while any(e is not None for e in slot_ep):
            fill_regions()
            batch = _stack([o for o in obs])  # idle slots repeat their last observation
            if recurrent:
                actions, state = model.predict(batch, state=state, episode_start=starts, deterministic=deterministic)
            else:
                actions, _ = model.predict(batch, deterministic=deterministic)
            starts[:] = False
            active = np.array([e is not None for e in slot_ep])
            live = np.flatnonzero(active)
            env_rewards = np.zeros(n_slots)
            terminated, truncated = np.zeros(n_slots, dtype=bool), np.zeros(n_slots, dtype=bool)
            infos: list[dict[str, Any]] = [{} for _ in range(n_slots)]
            for i in live:
                obs[i], env_rewards[i], terminated[i], truncated[i], infos[i] = envs[i].step(actions[i])
                if regions is not None:
                    # The crops leave the info here: the reward step keeps infos of finished episodes.
                    pending[i] = {"goal": infos[i].get("goal"), REGION_CROPS_KEY: infos[i].pop(REGION_CROPS_KEY)}
            rendered = np.stack([envs[i].render() for i in live])
            if on_frame is not None:
                for j, i in enumerate(live):
                    slot_t[i] += 1
                    on_frame(envs[i], rendered[j], slot_ep[i], slot_t[i])
            out = step.apply(rendered, env_rewards, terminated, truncated, infos, active=active)
            for j, i in enumerate(live):
                if frames[i] is not None:
                    gt = bool(infos[i].get("ground_truth_success", False))
                    # t: frames[i] holds the start frame and one per step so far
                    r, p = float(out.rewards[i]), out.probs[i]
                    caption = f"t={len(frames[i])} vlm r={r:g} p={p:.2f} gt={'yes' if gt else 'no'}"
                    frames[i].append((rendered[j], caption))
                if i in out.episodes:
                    rec = _finish(slot_ep[i], out.episodes[i])
                    result.episodes.append(rec)
                    if frames[i] is not None and gif_dir is not None:
                        path = Path(gif_dir) / f"{gif_prefix}_ep{rec.seed - seed:02d}.gif"  # episode index
                        write_gif(path, frames[i], rec.goal)
                        result.gifs.append(str(path))
                    start(i)
    finally:
        for env in envs:
            env.close()
    result.episodes.sort(key=lambda e: e.seed)
    return result


def write_gif(path: str | Path, frames: list[tuple[np.ndarray, str]], goal: str, scale: int = 4, ms: int = 400) -> Path:
    """Save frames as an animated GIF (atomically), each with the goal and a caption below it."""
    from PIL import Image, ImageDraw, ImageFont

    from vlm_rewards.io import atomic_write_bytes

    if not frames:
        raise ValueError("frames must not be empty")
    font = ImageFont.load_default(size=13)
    images = []
    for frame, caption in frames:
        h, w = frame.shape[:2]
        s = max(1, scale if max(h, w) < 160 else 1)
        img = Image.fromarray(np.asarray(frame, dtype=np.uint8)).resize((w * s, h * s), Image.Resampling.NEAREST)
        canvas = Image.new("RGB", (img.width, img.height + 40), (0, 0, 0))
        canvas.paste(img, (0, 0))
        draw = ImageDraw.Draw(canvas)
        draw.text((4, img.height + 3), goal, fill=(255, 255, 255), font=font)
        colour = (120, 255, 120) if "r=1" in caption else (220, 220, 220)
        draw.text((4, img.height + 21), caption, fill=colour, font=font)
        images.append(canvas)
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=ms, loop=0)
    return atomic_write_bytes(path, buf.getvalue())


def load_run(run_dir: str | Path, *, checkpoint: str | Path | None = None, overrides: Sequence[str] = ()):
    """``(config, model, scorer, goal table, model path)`` of a training run, ready to act.

    ``overrides`` may change only :data:`EVAL_OVERRIDABLE` settings (see :func:`evaluate_run`).
    """
    import yaml

    from vlm_rewards.agents.config import apply_overrides, validate_config
    from vlm_rewards.agents.envs import goal_table, make_scorer
    from vlm_rewards.agents.algos import load_agent

    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise ValueError(f"run_dir {str(run_dir)!r} is not a training run (no config.yaml)")
    config = validate_config(yaml.safe_load(cfg_path.read_text()), str(cfg_path))
    overrides = list(overrides)
    for item in overrides:
        key = item.partition("=")[0].strip()
        if not key.startswith(EVAL_OVERRIDABLE):
            raise ValueError(f"overrides: {key!r} cannot change for a trained agent (its inputs would differ); "
                             f"allowed: {', '.join(EVAL_OVERRIDABLE)}")
    if overrides:
        config = apply_overrides(config, overrides)
    path = Path(checkpoint) if checkpoint is not None else run_dir / "model.zip"
    if not path.is_file():
        raise ValueError(f"no agent to evaluate: {path} does not exist (train the run to the end or pass checkpoint=)")
    import torch

    if config.agent.torch_threads is not None:
        torch.set_num_threads(config.agent.torch_threads)
    model = load_agent(path, config)
    scorer = make_scorer(config.reward, config.env, seed=config.seed)
    table = goal_table(scorer, config.env)
    return config, model, scorer, table, path


def evaluate_run(
    run_dir: str | Path,
    *,
    episodes: int = 150,
    split: str = "heldout",
    deterministic: bool | None = None,
    seed: int | None = None,
    checkpoint: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> EvalResult:
    """Evaluate a finished (or checkpointed) run's agent again, e.g. with more episodes.

    Loads ``RUN_DIR/config.yaml`` and ``RUN_DIR/model.zip`` (or ``checkpoint``); writes
    ``RUN_DIR/eval_<split>_<episodes>.json`` (metrics, per goal, per episode), or
    ``eval_<split>_<episodes>_seed<S>.json`` with ``seed``: episode ``i`` then starts from env
    seed ``S + i``, so a seed the run never used evaluates the agent on episodes it never saw.
    ``overrides`` (``key=value``, as ``train --set``) evaluate the same policy under other
    reward or evaluation settings, e.g. ``reward.confirm=[2,2]``; only ``reward.*``, ``eval.*``
    and ``env.max_episode_steps`` may change (the rest would change the agent's inputs), and
    the file name gains ``_set<hash>`` with the overrides recorded inside. Greedy (or sampled)
    actions where the run's evaluations sample (or act greedily) add ``_deterministic``
    (``_stochastic``).

    Example:
        >>> evaluate_run("runs/phone_common", episodes=150).metrics()["gt_success"]  # doctest: +SKIP
    """
    from vlm_rewards.io import atomic_write_json

    run_dir = Path(run_dir)
    config, model, scorer, table, path = load_run(run_dir, checkpoint=checkpoint, overrides=overrides)
    result = evaluate_agent(model, config, scorer, table, episodes=episodes, split=split, deterministic=deterministic, seed=seed)
    out = result.to_dict()
    out.update(split=split, model=str(path), deterministic=config.eval.deterministic if deterministic is None else deterministic)
    metrics = out["metrics"]
    if math.isnan(metrics["precision"]):
        metrics["precision"] = None
    out.update(seed=config.eval.seed if seed is None else int(seed))
    suffix = "" if seed is None else f"_seed{int(seed)}"
    if deterministic is not None and bool(deterministic) != config.eval.deterministic:
        # Not the run's own way of acting: a file of its own, not over the run's evaluation.
        suffix += "_deterministic" if deterministic else "_stochastic"
    if overrides:
        out.update(overrides=overrides)
        suffix += "_set" + hashlib.sha1("\n".join(overrides).encode()).hexdigest()[:8]
    atomic_write_json(run_dir / f"eval_{split}_{episodes}{suffix}.json", out)
    return result
