"""House frames for datasets: captioned corpus frames and labelled evaluation-set frames.

Referenced by the house's :class:`~vlm_rewards.envs.registry.Domain` record; the writers
(shards, manifests) are in :mod:`vlm_rewards.data`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from vlm_rewards.envs._sampling import NOISE, LabelledFrame, a, join, pick
from vlm_rewards.envs.registry import EvalSource

__all__ = ["EVALSET", "POLICIES", "corpus_samples", "evalset_samples", "house_caption", "house_labels"]

# House frames are correlated step to step: evaluation frames where no goal holds are kept
# with this probability, frames where one holds always.
_KEEP_NEGATIVE = 0.3


def _may_be_on_screen(env: Any, ent: Any) -> bool:
    """Whether any part of ``ent`` may show in the agent's view: a looser test than
    ``env.in_view`` (which wants the centre well inside the frame), widened by the
    object's size and passing when the centre or either side is in the line of sight."""
    from vlm_rewards.envs.house.nav import segments_cross_walls

    agent = env.agent
    fwd, right = agent.cam_dir, agent.right_vec
    up = np.cross(right, fwd)
    rel = ent.pos + np.array([0.0, ent.height / 2, 0.0]) - agent.cam_pos
    depth = float(rel @ fwd)
    extent = max(float(ent.radius), float(ent.height) / 2)
    if depth + extent <= 0.0:
        return False
    tan_y = math.tan(math.radians(agent.cam_fov_y) / 2)
    tan_x = tan_y * env.obs_fb.width / env.obs_fb.height
    d = max(depth, 1e-3)
    if abs(rel @ right) - extent > d * tan_x or abs(rel @ up) - extent > d * tan_y:
        return False
    side = right[[0, 2]] * ent.radius
    centre = ent.pos[[0, 2]]
    ends = (centre, centre + side, centre - side)
    return any(not segments_cross_walls(agent.cam_pos[None, [0, 2]], end, env.wall_segs)[0] for end in ends)


_HOUSE_CARRY = ("holding {o}", "the agent holds {o}", "carrying {o} in a house")
_HOUSE_NEAR = ("{o} up close", "close to {o}", "right in front of {o}", "{o} just ahead in a house")
_HOUSE_ROOM = ("{o} in a room", "a room with {o}", "a house room with {o}", "{o} in a house")
_HOUSE_EMPTY = ("an empty room in a house", "a wall of a room", "a room of a house with nothing in it")


def house_caption(env: Any, rng: np.random.Generator, holdout: Iterable[str] = ()) -> tuple[str, str] | None:
    """(caption, label) for a House frame from simulator state, or None to drop the frame.

    Names what the agent carries ("holding a yellow key"), else, usually, an object it is
    near ("a blue ball up close"), else up to three objects in view, nearest first ("a red
    box and a green key in a room"). Returns None when an object named in ``holdout`` may
    be on screen or is carried: such frames are left out of the corpus.
    """
    holdout = frozenset(holdout)
    carrying = getattr(env.agent, "carrying", None)
    if any(name in holdout and (ent is carrying or _may_be_on_screen(env, ent)) for name, ent in env.objects.items()):
        return None
    names = {id(ent): name for name, ent in env.objects.items()}
    if carrying is not None and id(carrying) in names:
        name = names[id(carrying)]
        return pick(rng, _HOUSE_CARRY).format(o=a(name)), f"house:carry:{name}"
    visible = [name for name, ent in env.objects.items() if env.in_view(ent)]
    near = [name for name in visible if env.is_near(env.objects[name])]
    if near and rng.random() < 0.8:
        name = pick(rng, near)
        return pick(rng, _HOUSE_NEAR).format(o=a(name)), f"house:near:{name}"
    if not visible:
        return pick(rng, _HOUSE_EMPTY), "house:room"
    dist = {name: float(np.linalg.norm(env.objects[name].pos - env.agent.pos)) for name in visible}
    chosen = sorted(visible, key=dist.__getitem__)[:3]
    text = pick(rng, _HOUSE_ROOM).format(o=join([a(name) for name in chosen]))
    return text, "house:room:" + ",".join(sorted(chosen))


# Frames with no object in view are mostly walls and floors: keep this fraction of them,
# so that the House corpus is mostly about objects.
_HOUSE_KEEP_EMPTY = 0.3
# The solver spends most of an episode walking towards its goal, with objects far away or
# in its hands: keep this fraction of those frames, so that frames of one object up close
# (what a find reward has to recognise) are not a small minority of the corpus.
_HOUSE_KEEP_WALK = 0.25
_HOUSE_WALK_LABELS = ("house:room", "house:carry")


def corpus_samples(rng: np.random.Generator, image_size: int, holdout: frozenset[str]) -> Iterator[Any]:
    from vlm_rewards.envs import house
    from vlm_rewards.envs.house.solver import Explorer

    env = house.HouseEnv(goal_split="all", render_mode="rgb_array", render_size=image_size)
    # Scripted episodes head for their goal's objects: goals about held-out objects would
    # only yield frames that are dropped.
    episode_goals = [g for g in house.goals("all") if not set(house.parse_goal(g).objects) & holdout]

    def sample(policy: str) -> tuple[np.ndarray, str, str] | None:
        caption = house_caption(env, rng, holdout)
        if caption is None or (caption[1] == "house:room" and rng.random() >= _HOUSE_KEEP_EMPTY):
            return None
        if policy == "solver" and caption[1].startswith(_HOUSE_WALK_LABELS) and rng.random() >= _HOUSE_KEEP_WALK:
            return None
        return (env.render(), *caption)

    while True:
        obs, _ = env.reset(seed=int(rng.integers(2**31)), options={"goal": pick(rng, episode_goals)})
        policy = pick(rng, ("random", "explore", "solver", "solver"))
        solver = house.make_solver(env)
        explorer = Explorer(rng)
        # The solver needs up to ~200 steps; the others would mostly see walls by then.
        steps = 200 if policy == "solver" else int(rng.integers(8, 40))
        look_around = 0
        for t in range(steps + 1):
            if t:
                if look_around:  # after success: turn and step about the goal, mostly near objects
                    action = pick(rng, (0, 1, 2, 3))
                    look_around -= 1
                elif policy == "solver":
                    action = solver(obs)
                elif policy == "random":
                    action = int(rng.integers(env.action_space.n))
                else:
                    action = explorer.act()
                before = env.agent.pos.copy()
                obs, _, terminated, truncated, _ = env.step(action)
                if policy == "explore":
                    explorer.observe(action, moved=not np.allclose(before, env.agent.pos))
                if truncated:
                    break
                if terminated and not look_around:
                    if policy != "solver" or not t:
                        break
                    look_around = int(rng.integers(6, 16))
            item = sample(policy)
            if item is not None:
                yield item
            if look_around == 0 and t and terminated:
                break


POLICIES = ("random", "explore", "solver", "noisy")


def house_labels(env: Any, goals: Sequence[Any]) -> np.ndarray:
    """Ground-truth success of each parsed House goal (``house.vocabulary.Goal``) in ``env``'s state.

    The predicates are the env's own (``is_near`` and ``in_view`` / ``carrying`` /
    ``objects_adjacent``); a goal about an object not in the house is False.
    """
    objects = env.objects
    carrying = env.agent.carrying
    near_in_view: dict[str, bool] = {}
    out = np.zeros(len(goals), dtype=bool)
    for i, goal in enumerate(goals):
        target = objects.get(goal.target)
        if target is None:
            continue
        if goal.family == "find":
            if goal.target not in near_in_view:
                near_in_view[goal.target] = env.is_near(target) and env.in_view(target)
            out[i] = near_in_view[goal.target]
        elif goal.family == "lift":
            out[i] = carrying is target
        else:
            dest = objects.get(goal.dest)
            out[i] = dest is not None and carrying is not target and env.objects_adjacent(target, dest)
    return out


def evalset_samples(
    variant: str, all_goals: list[str], split: str, rng: np.random.Generator, image_size: int
) -> Iterator[Any]:
    """Labelled frames of the goal family ``variant``; see :class:`EvalSource`."""
    from vlm_rewards.envs import house
    from vlm_rewards.envs.house.solver import Explorer

    family = variant
    parsed = [house.parse_goal(g) for g in all_goals]
    pursue = house.goals(split, family=family)
    env = house.HouseEnv(family=family, goal_split=split, render_mode="rgb_array", render_size=image_size,
                         terminate_on_success=False, max_episode_steps=100_000)
    episode = 0
    while True:
        goal = pick(rng, pursue)
        obs, _ = env.reset(seed=int(rng.integers(2**31)), options={"goal": goal})
        solver = house.make_solver(env)
        policy = int(rng.integers(len(POLICIES)))
        name = POLICIES[policy]
        steps = 250 if name in ("solver", "noisy") else int(rng.integers(8, 40))
        look_around = -1  # steps left after success; -1: not yet reached
        explorer = Explorer(rng)
        pursued = all_goals.index(goal)
        for t in range(steps + 1):
            if t:
                if look_around > 0:  # after success: glance about, step back (in view but far, out of view)
                    action = pick(rng, (0, 1, 3))
                elif name == "random" or (name == "noisy" and rng.random() < NOISE):
                    action = int(rng.integers(env.action_space.n))
                elif name in ("solver", "noisy"):
                    action = solver(obs)
                else:
                    action = explorer.act()
                before = env.agent.pos.copy()
                obs, _, _, _, info = env.step(action)
                if name == "explore":
                    explorer.observe(action, moved=not np.allclose(before, env.agent.pos))
                if look_around > 0:
                    look_around -= 1
                elif look_around < 0 and name in ("solver", "noisy") and info["ground_truth_success"]:
                    look_around = int(rng.integers(3, 10))
            labels = house_labels(env, parsed)
            if labels.any() or rng.random() < _KEEP_NEGATIVE:
                yield LabelledFrame(env.render(), labels, episode, t, policy, pursued)
            if look_around == 0:
                break
        episode += 1


EVALSET = EvalSource(policies=POLICIES, samples=evalset_samples)
