"""House frames for datasets: captioned corpus frames and labelled evaluation-set frames.

Referenced by the house's :class:`~vlm_rewards.envs.registry.Domain` record; the writers
(shards, manifests) are in :mod:`vlm_rewards.data`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from vlm_rewards.envs._sampling import NOISE, CorpusFrame, LabelledFrame, a, join, pick, styled
from vlm_rewards.envs.registry import EvalSource

__all__ = ["EVALSET", "POLICIES", "corpus_samples", "evalset_samples", "house_caption", "house_captions", "house_labeller",
           "house_labels"]

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
    kind, names = _describe(env, rng, holdout)
    if kind is None:
        return None
    captions, label = _captions(kind, names, rng, styles=1)
    return captions[0], label


# Caption styles of the corpus (one caption of each per frame): descriptive, the phrasing of
# web alt-text for renders and game screenshots, and instruction-like. An instruction names
# only what the state completes (near: "go to", carrying: "pick up"); a room with objects far
# away completes no instruction, so its third caption is another description.
_STYLES = {
    "carry": (_HOUSE_CARRY,
              ("first-person view holding {o}", "a 3d render: the player carries {o}", "game screenshot, carrying {o}"),
              ("pick up {t}", "lift {t}", "take {t}", "grab {t}")),
    "near": (_HOUSE_NEAR,
             ("first-person view of {o} up close", "a 3d render of {o} close to the camera",
              "game screenshot, standing next to {o}", "a close-up of {o} in a 3d house"),
             ("go near {t}", "go to {t}", "walk up to {t}", "approach {t}")),
    "room": (_HOUSE_ROOM,
             ("a 3d render of a room with {o}", "first-person view of a room with {o}", "game screenshot: {o} in a house"),
             ("a room containing {o}", "{o} somewhere in the room", "indoor scene with {o}")),
    "empty": (_HOUSE_EMPTY,
              ("a 3d render of an empty room", "first-person view of a wall", "game screenshot of an empty room"),
              ("nothing to pick up here", "an empty part of the house", "a bare room")),
}


def house_captions(env: Any, rng: np.random.Generator, holdout: Iterable[str] = ()) -> tuple[tuple[str, ...], str] | None:
    """(captions, label) for a House frame: one caption per style of the state
    :func:`house_caption` describes, or None to drop the frame (same rule)."""
    kind, names = _describe(env, rng, holdout)
    if kind is None:
        return None
    return _captions(kind, names, rng)


def _describe(env: Any, rng: np.random.Generator, holdout: Iterable[str]) -> tuple[str | None, list[str]]:
    # What a caption describes: ("carry" | "near" | "room" | "empty", objects), or (None, []) to drop.
    holdout = frozenset(holdout)
    carrying = getattr(env.agent, "carrying", None)
    if any(name in holdout and (ent is carrying or _may_be_on_screen(env, ent)) for name, ent in env.objects.items()):
        return None, []
    names = {id(ent): name for name, ent in env.objects.items()}
    if carrying is not None and id(carrying) in names:
        return "carry", [names[id(carrying)]]
    visible = [name for name, ent in env.objects.items() if env.in_view(ent)]
    near = [name for name in visible if env.is_near(env.objects[name])]
    if near and rng.random() < 0.8:
        return "near", [pick(rng, near)]
    if not visible:
        return "empty", []
    dist = {name: float(np.linalg.norm(env.objects[name].pos - env.agent.pos)) for name in visible}
    return "room", sorted(visible, key=dist.__getitem__)[:3]


def _captions(kind: str, names: list[str], rng: np.random.Generator, styles: int = 3) -> tuple[tuple[str, ...], str]:
    o = join([a(n) for n in names]) if names else ""
    captions = styled(rng, _STYLES[kind][:styles], o=o, t=join([f"the {n}" for n in names]) if names else "")
    label = {"carry": "house:carry:", "near": "house:near:", "room": "house:room:", "empty": "house:room"}[kind]
    return captions, label + ",".join(sorted(names)) if names else label


# Fraction of near and carry frames followed by a twin with the object altered (a hard negative).
_TWIN_RATE = 0.5


def _twin_object(env: Any, name: str, holdout: frozenset[str], rng: np.random.Generator) -> str | None:
    """Another object for ``name``'s place: one attribute changed (colour or kind), liftable
    like it (static objects are baked into the scene's display list), not held out, not in the house."""
    from vlm_rewards.envs.house.text import object_variants
    from vlm_rewards.envs.house.vocabulary import OBJECTS

    options = [n for n in object_variants(name) if OBJECTS[n].liftable and n not in holdout and n not in env.objects]
    return pick(rng, options) if options and OBJECTS[name].liftable else None


def _render_with(env: Any, name: str, other: str) -> np.ndarray:
    """``env``'s frame with the object ``name`` replaced by ``other`` in its place; state restored."""
    from vlm_rewards.envs.house.env import _make_entity

    ent = env.objects[name]
    swap = _make_entity(other)
    swap.pos, swap.dir = ent.pos.copy(), ent.dir
    swap.randomize(env.params, None)  # MiniWorld's default look (the house does no domain randomisation)
    i = next(k for k, e in enumerate(env.entities) if e is ent)
    carrying = env.agent.carrying is ent
    env.entities[i] = swap
    if carrying:
        env.agent.carrying = swap
    try:
        return env.render()
    finally:
        env.entities[i] = ent
        if carrying:
            env.agent.carrying = ent


# Frames with no object in view are mostly walls and floors: keep this fraction of them,
# so that the House corpus is mostly about objects.
_HOUSE_KEEP_EMPTY = 0.3
# The solver spends most of an episode walking towards its goal, with objects far away or
# in its hands: keep this fraction of those frames, so that frames of one object up close
# (what a find reward has to recognise) are not a small minority of the corpus.
_HOUSE_KEEP_WALK = 0.25


def corpus_samples(rng: np.random.Generator, image_size: int, holdout: frozenset[str]) -> Iterator[Any]:
    from vlm_rewards.envs import house
    from vlm_rewards.envs.house.solver import Explorer

    env = house.HouseEnv(goal_split="all", render_mode="rgb_array", render_size=image_size)
    # Scripted episodes head for their goal's objects: goals about held-out objects would
    # only yield frames that are dropped.
    episode_goals = [g for g in house.goals("all") if not set(house.parse_goal(g).objects) & holdout]

    def sample(policy: str) -> list[CorpusFrame]:
        kind, names = _describe(env, rng, holdout)
        if kind is None or (kind == "empty" and rng.random() >= _HOUSE_KEEP_EMPTY):
            return []
        if policy == "solver" and kind in ("room", "empty", "carry") and rng.random() >= _HOUSE_KEEP_WALK:
            return []
        state = rng.bit_generator.state
        captions, label = _captions(kind, names, rng)
        out = [CorpusFrame(env.render(), captions, label)]
        if kind in ("near", "carry") and rng.random() < _TWIN_RATE:
            other = _twin_object(env, names[0], holdout, rng)
            if other is not None:
                after = rng.bit_generator.state
                rng.bit_generator.state = state  # the same templates, the altered object
                twin_captions, twin_label = _captions(kind, [other], rng)
                rng.bit_generator.state = after
                out.append(CorpusFrame(_render_with(env, names[0], other), twin_captions, twin_label, twin=True))
        return out

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
            yield from sample(policy)
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


def house_labeller(variant: str, all_goals: list[str]) -> Callable[[Any], np.ndarray]:
    """``labels(env)`` of ``all_goals`` for an unwrapped HouseEnv; see :class:`EvalSource`."""
    from vlm_rewards.envs import house

    parsed = [house.parse_goal(g) for g in all_goals]
    bad = [g for g, p in zip(all_goals, parsed) if p.family != variant]
    if bad:
        raise ValueError(f"goals of the {variant!r} family expected, got {bad[:3]}")
    return lambda env: house_labels(env, parsed)


EVALSET = EvalSource(policies=POLICIES, samples=evalset_samples, labeller=house_labeller)
