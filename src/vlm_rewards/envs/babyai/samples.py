"""BabyAI frames for datasets: captioned corpus frames and labelled evaluation-set frames.

Referenced by the BabyAI :class:`~vlm_rewards.envs.registry.Domain` record; the writers
(shards, manifests) are in :mod:`vlm_rewards.data`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from vlm_rewards.envs._sampling import COLOURED_KINDS, NOISE, CorpusFrame, LabelledFrame, join, pick, styled
from vlm_rewards.envs.registry import EvalSource

__all__ = ["EVALSET", "POLICIES", "babyai_caption", "babyai_captions", "babyai_labels", "corpus_samples", "evalset_samples"]


_CARRY = (("the agent carrying the {o}", "the agent holds the {o}"),
          ("a grid world game: the player carries the {o}", "pixel-art grid view, holding the {o}"),
          ("pick up the {o}", "take the {o}"))
_NEAR = (("the agent next to the {o}", "the agent in front of the {o}", "the agent facing the {o}", "the agent at the {o}"),
         ("a grid world game: the player faces the {o}", "pixel-art grid view with the {o} straight ahead"),
         ("go to the {o}", "walk to the {o}", "go next to the {o}"))
_ROOM = (("a grid with a {o}", "a grid room with a {o}", "a top-down grid world with a {o}"),
         ("a grid world game with a {o}", "pixel-art grid view showing a {o}"),
         ("a grid room containing a {o}", "somewhere in the grid: a {o}"))
_EMPTY = (("an empty grid room",), ("a grid world game, nothing in view",), ("an empty part of the grid",))


def babyai_caption(level_env: Any, rng: np.random.Generator, holdout: Iterable[str] = ()) -> tuple[str, str]:
    """(caption, label) from a MiniGrid level's state: objects in the room, what the agent faces or carries.

    Objects named in ``holdout`` (e.g. "yellow ball") are never named.
    """
    captions, label = babyai_captions(level_env, rng, holdout, styles=1)
    return captions[0], label


def babyai_captions(level_env: Any, rng: np.random.Generator, holdout: Iterable[str] = (), *,
                    in_view_only: bool = False, styles: int = 3) -> tuple[tuple[str, ...], str]:
    """(captions, label): one caption per style (descriptive, web alt-text, instruction) of
    what :func:`babyai_caption` describes; ``in_view_only`` names only the objects inside the
    agent's egocentric view (the frames of ``BabyAIEnv(view="agent")``)."""
    holdout = frozenset(holdout)
    objects = []
    for i, obj in enumerate(level_env.grid.grid):
        if obj is None or obj.type not in COLOURED_KINDS or f"{obj.color} {obj.type}" in holdout:
            continue
        if in_view_only and not level_env.in_view(i % level_env.grid.width, i // level_env.grid.width):
            continue
        objects.append(f"{obj.color} {obj.type}")
    carrying = getattr(level_env, "carrying", None)
    if carrying is not None and f"{carrying.color} {carrying.type}" not in holdout:
        name = f"{carrying.color} {carrying.type}"
        return styled(rng, _CARRY[:styles], o=name), f"babyai:carry:{name}"
    front = level_env.grid.get(*level_env.front_pos)
    if (front is not None and front.type in COLOURED_KINDS and f"{front.color} {front.type}" not in holdout
            and rng.random() < 0.8):
        name = f"{front.color} {front.type}"
        return styled(rng, _NEAR[:styles], o=name), f"babyai:near:{name}"
    objects = list(dict.fromkeys(objects))  # a room can hold two identical objects
    if not objects:
        return styled(rng, _EMPTY[:styles]), "babyai:room"
    k = int(rng.integers(1, min(4, len(objects)) + 1))
    chosen = [objects[i] for i in sorted(rng.choice(len(objects), size=k, replace=False))]
    listed = join(chosen).replace(" and ", " and a ").replace(", ", ", a ")
    return styled(rng, _ROOM[:styles], o=listed), "babyai:room:" + ",".join(chosen)


def corpus_samples(rng: np.random.Generator, image_size: int, holdout: frozenset[str]) -> Iterator[Any]:
    from vlm_rewards.envs import babyai

    env = babyai.BabyAIEnv(level="BabyAI-GoToLocal-v0", goal_split=None, render_size=image_size, render_mode="rgb_array")
    level = env.level_env
    agent_view = env.view == "agent"
    while True:
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        policy = pick(rng, ("random", "explore", "solver", "solver"))
        solver = babyai.make_solver(env)
        yield CorpusFrame(env.render(), *babyai_captions(level, rng, holdout, in_view_only=agent_view))
        for _ in range(int(rng.integers(4, 24))):
            if policy == "solver":
                action = solver(obs)
            elif policy == "random":
                action = int(rng.integers(3))  # left, right, forward
            else:
                action = 2 if rng.random() < 0.7 else int(rng.integers(2))
            obs, _, terminated, truncated, _ = env.step(action)
            yield CorpusFrame(env.render(), *babyai_captions(level, rng, holdout, in_view_only=agent_view))
            if terminated or truncated:
                break


POLICIES = ("random", "explore", "solver", "noisy")
_BABYAI_GOAL = re.compile(r"^go to the (\w+) (\w+)$")


def babyai_labels(level_env: Any, goals: Sequence[tuple[str, str]]) -> np.ndarray:
    """Success of each "go to the {colour} {object}" goal, as ``(colour, object)`` pairs: the
    agent faces a matching object (what the level's ``GoToInstr`` verifies)."""
    front = level_env.grid.get(*level_env.front_pos)
    if front is None:
        return np.zeros(len(goals), dtype=bool)
    return np.array([front.color == c and front.type == o for c, o in goals], dtype=bool)


def evalset_samples(
    variant: str, all_goals: list[str], split: str, rng: np.random.Generator, image_size: int
) -> Iterator[Any]:
    """Labelled frames of the level ``variant`` ("": the default GoToLocal); see :class:`EvalSource`."""
    from vlm_rewards.envs import babyai

    pairs = [_BABYAI_GOAL.match(g).groups() for g in all_goals]  # type: ignore[union-attr]
    env = babyai.BabyAIEnv(level=variant or babyai.DEFAULT_LEVEL, goal_split=split, render_mode="rgb_array", render_size=image_size,
                           terminate_on_success=False)
    level = env.level_env
    episode = 0
    while True:
        env.reset(seed=int(rng.integers(2**31)))
        policy = int(rng.integers(len(POLICIES)))
        name = POLICIES[policy]
        solver = babyai.make_solver(env)
        steps = 64 if name in ("solver", "noisy") else int(rng.integers(4, 24))
        after = -1
        pursued = all_goals.index(env.goal)
        for t in range(steps + 1):
            if t:
                if after > 0 or name == "random" or (name == "noisy" and rng.random() < NOISE):
                    action = int(rng.integers(3))  # left, right, forward
                    if name == "noisy":
                        # The bot assumes its own actions were taken: a fresh one replans from here.
                        solver = babyai.make_solver(env)
                elif name == "explore":
                    action = 2 if rng.random() < 0.7 else int(rng.integers(2))
                else:
                    try:
                        action = solver(None)
                    except Exception:  # noqa: BLE001  (minigrid's bot can fail on states it did not plan for)
                        break
                _, _, terminated, truncated, info = env.step(action)
                if after > 0:
                    after -= 1
                elif after < 0 and name in ("solver", "noisy") and info["ground_truth_success"]:
                    after = int(rng.integers(1, 4))
            yield LabelledFrame(env.render(), babyai_labels(level, pairs), episode, t, policy, pursued)
            if after == 0 or (t and (terminated or truncated)):
                break
        episode += 1


EVALSET = EvalSource(policies=POLICIES, samples=evalset_samples)
