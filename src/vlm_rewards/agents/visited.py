"""The frames a trained agent visits, labelled for every goal: a calibration set for β online.

β is chosen offline on frames that scripted, random and exploring policies visit
(:mod:`vlm_rewards.data.evalset`). An agent trained on the reward visits other frames: it
stops a few metres short of objects, faces them from odd angles, and spends its episodes in
the states its reward pays for. A β that holds precision 0.9 on the scripted frames can
hold much less on these (the House agents measured 0.60-0.87 online against 0.93-0.97
offline). :func:`collect_visited` rolls out a trained agent in its own env, with its own
reward ending its episodes as in training, and writes the frames the VLM scored, labelled by
ground truth for every goal of the section, as an evaluation set: ``vlm-rewards calibrate``
then picks β on the frames that agents of this kind will see.

Keep the sets apart: the agent whose frames calibrate β should not be the agent judged
with that β, and the frames' episode seeds should not be the seeds the judged agent is
evaluated on (``--seed``).

Example:
    >>> collect_visited("runs/house_find_room", "/tmp/visited", episodes=400, seed=70000)  # doctest: +SKIP
    PosixPath('/tmp/visited')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["VISITED_POLICY", "collect_visited", "run_section"]

#: the ``policies`` entry of a visited-frames set
VISITED_POLICY = "agent"


def _env_default(env_id: str, keyword: str) -> Any:
    """The value ``keyword`` takes in ``env_id`` when a config leaves it out: the registration's
    kwargs, else the env constructor's default (``None`` when it has none)."""
    import inspect

    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    import vlm_rewards.envs  # noqa: F401  (registers the envs)

    spec = gym.spec(env_id)
    if keyword in spec.kwargs:
        return spec.kwargs[keyword]
    creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    param = inspect.signature(creator).parameters.get(keyword)
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def run_section(config: Any) -> str:
    """The evaluation-set section of a run's env ("house:find", "phone:common")."""
    from vlm_rewards.data.evalset import eval_sections

    env = config.env
    key = env.record.goal_keyword
    if key is None:
        section = env.domain
    else:
        variant = env.kwargs[key] if key in env.kwargs else _env_default(env.id, key)
        if variant is None:
            raise ValueError(f"the run's env {env.id} mixes every goal set of {env.domain!r} (env.kwargs.{key} is unset); "
                             f"visited frames need one: sections {eval_sections()}")
        section = f"{env.domain}:{variant}"
    if section not in eval_sections():
        raise ValueError(f"the run's env {env.id} ({section}) has no evaluation-set section; sections: {eval_sections()}")
    return section


def collect_visited(
    run_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    episodes: int = 400,
    heldout_episodes: int | None = None,
    seed: int = 70_000,
    deterministic: bool | None = None,
    checkpoint: str | os.PathLike | None = None,
) -> Path:
    """Roll out the agent of ``run_dir`` and write the frames it visits as a labelled dataset.

    ``episodes`` episodes pursue training goals (the ``train`` split) and ``heldout_episodes``
    (default: a quarter of ``episodes``, at least 1) held-out goals; episode ``i`` of a split
    starts from env seed ``seed + i`` (the held-out split from ``seed + episodes``). Every
    frame the VLM scored is kept, labelled for every goal of the run's section. Returns
    ``out_dir``, which ``vlm-rewards calibrate -d`` reads like a collected set.
    """
    from vlm_rewards.agents.rollouts import evaluate_agent, load_run
    from vlm_rewards.data.evalset import _check_int, section_goals, write_evalset
    from vlm_rewards.envs._sampling import LabelledFrame
    from vlm_rewards.envs.registry import get_domain, load_hook

    episodes = _check_int(episodes, "episodes", 1)
    heldout_episodes = max(1, episodes // 4) if heldout_episodes is None else _check_int(heldout_episodes, "heldout_episodes", 1)
    seed = _check_int(seed, "seed", 0)
    config, model, scorer, table, _ = load_run(run_dir, checkpoint=checkpoint)
    section = run_section(config)
    hook = get_domain(config.env.domain).evalset
    labeller = getattr(load_hook(hook), "labeller", None) if hook is not None else None
    if labeller is None:
        raise ValueError(f"domain {config.env.domain!r} has no ground-truth labeller for visited frames (EvalSource.labeller)")
    goals, _ = section_goals(section)
    labels_of = labeller(section.partition(":")[2], goals)
    size = config.env.render_size
    frames: dict[str, list[LabelledFrame]] = {}

    for split, n, start in (("train", episodes, seed), ("heldout", heldout_episodes, seed + episodes)):
        kept: list[LabelledFrame] = []

        def on_frame(env: Any, frame: np.ndarray, rec: Any, t: int) -> None:
            episode = rec.seed - start
            kept.append(LabelledFrame(np.asarray(frame, dtype=np.uint8).copy(), labels_of(env.unwrapped), episode, t, 0,
                                      goals.index(rec.goal)))

        evaluate_agent(model, config, scorer, table, episodes=n, split=split, deterministic=deterministic, seed=start,
                       on_frame=on_frame)
        frames[split] = sorted(kept, key=lambda f: (f.episode, f.step))
    return write_evalset(out_dir, section, [VISITED_POLICY], frames, seed=seed, image_size=size)
