"""``HouseEnv``: an egocentric 3D house on MiniWorld with find / lift / place language goals.

This is the project's stand-in for DeepMind's Playhouse. Each episode builds a house of
2-4 textured rooms joined by doorways (:mod:`~vlm_rewards.envs.house.layout`), scatters
3-8 MiniWorld objects in it (coloured boxes, balls and keys, and mesh objects such as a
rubber duck or a barrel; :mod:`~vlm_rewards.envs.house.vocabulary`) and sets a language goal:

- find  "go near the {object}": the agent's bounding circle is within ``FIND_MARGIN`` m
  of the object's and the object's centre is inside the camera frustum with no wall
  in between;
- lift  "pick up the {object}": the agent carries the object (``pickup`` action);
- place "put the {object} next to the {other object}": the first object rests on the
  floor (dropped, not carried) within ``PLACE_MARGIN`` m of the second.

The goal's objects are always present and unique by name; distractors are sampled from
the remaining objects, so they may share the target's colour or kind. Every layout is
checked so that the agent can walk up to every object.

Actions (one space for all families, :class:`Actions`): turn left / right (20 deg),
move forward / back (0.2 m), pick up (the object just in front), drop. Carried objects
ride in front of the camera as in MiniWorld; held at about 0.8 m they pass over lower
objects but still hit walls and furniture. Observations are the agent's camera view
(uint8, ``obs_size`` square); ``render()`` gives the same view at ``render_size``.

Example:
    >>> import gymnasium, vlm_rewards.envs
    >>> env = gymnasium.make("vlm_rewards/House-v0", render_mode="rgb_array")
    >>> obs, info = env.reset(seed=0, options={"goal": "pick up the red box"})
    >>> obs.shape, env.render().shape, info["goal"]
    ((64, 64, 3), (224, 224, 3), 'pick up the red box')
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from enum import IntEnum
from typing import Any, Iterable

import numpy as np
from gymnasium import spaces

from vlm_rewards.headless import configure_headless

configure_headless()

# MiniWorld imports pyglet, which reads the headless setting at import time.
from miniworld.entity import Box, Entity, MeshEnt  # noqa: E402
from miniworld.math import intersect_circle_segs  # noqa: E402
from miniworld.miniworld import MiniWorldEnv  # noqa: E402
from miniworld.opengl import Texture  # noqa: E402
from miniworld.params import DEFAULT_PARAMS, DomainParams  # noqa: E402
from miniworld.utils import get_file_path  # noqa: E402
from PIL import Image  # noqa: E402
import pyglet  # noqa: E402
from pyglet import gl  # noqa: E402

from vlm_rewards.envs.house.vocabulary import (  # noqa: E402
    FAMILIES,
    FIND_MARGIN,
    OBJECTS,
    PLACE_MARGIN,
    SPLITS,
    Goal,
    goals,
    parse_goal,
)
from vlm_rewards.envs.house.layout import HousePlan, sample_house  # noqa: E402
from vlm_rewards.envs.house.nav import CELL, FloorGrid, cost_to_go, segments_cross_walls  # noqa: E402

__all__ = ["ACTION_SETS", "FIND_MARGIN", "PLACE_MARGIN", "Actions", "HouseEnv"]

# find: the object's centre must lie within this fraction of the image half-width/height,
# so that most of the object is on screen rather than a sliver at the border.
_VIEW_FRACTION = 0.9
# Free space kept around objects when scattering them, so the agent can walk between
# them and pick one up without its pickup probe touching a wall or a neighbour.
_WALL_MARGIN = 0.9
_OBJECT_GAP = 0.9
_DOOR_KEEP_OUT = 1.7
_PLACEMENT_TRIES = 300
_LAYOUT_TRIES = 20
# The last layout tries place the goal's objects alone.
_GOAL_ONLY_TRIES = 4
# Free space (m) on each side of the agent that counts as a passage when checking that
# every object can be reached; the solver needs less, so what passes here it can walk.
_PASSAGE_CLEARANCE = 0.2


def _distractors_kept(count: int, attempt: int) -> int:
    """How many of ``count`` distractors layout try ``attempt`` places: all of them in the first
    half of the tries, then fewer each try, none in the last few. A crowded room may fit its
    goal objects only once the distractors that wall them (or the agent's start) in are gone,
    and one goal-only try can still fail by chance (the agent's start must be out of range)."""
    half, last = _LAYOUT_TRIES // 2, _LAYOUT_TRIES - _GOAL_ONLY_TRIES
    if attempt < half:
        return count
    return count * max(0, last - attempt) // (last - half)


class Actions(IntEnum):
    """The house's actions: MiniWorld's without ``toggle`` and ``done``, plus side steps."""

    turn_left = 0
    turn_right = 1
    move_forward = 2
    move_back = 3
    pickup = 4
    drop = 5
    strafe_left = 6
    strafe_right = 7


# The actions of each action set, in the order of the agent's action ids: id i of an env
# with ``actions=name`` is ``ACTION_SETS[name][i]``. "all" and "move" are prefixes of
# :class:`Actions`, so their ids are the Actions values (agents trained on them still load).
ACTION_SETS = {
    "all": tuple(Actions)[:6],
    "move": tuple(Actions)[:4],
    "walk": (*tuple(Actions)[:4], Actions.strafe_left, Actions.strafe_right),
}
# Given to MiniWorld's step after a side step: matches none of its actions, so it only counts
# the step and draws the frame.
_NO_OP = -1


def _house_params(forward_step: float, turn_step: float) -> DomainParams:
    params = DEFAULT_PARAMS.copy()
    params.set("forward_step", forward_step, 0.9 * forward_step, 1.1 * forward_step)
    params.set("turn_step", turn_step, 0.75 * turn_step, 1.25 * turn_step)
    # MiniWorld's level camera sees the floor only from 2.6 m on; tilted down 25 deg it
    # sees from 1 m on, so an object the agent goes near, or has just set down (about a
    # metre ahead), stays in the frame the VLM scores.
    params.set("cam_pitch", -25.0, -30.0, -20.0)
    return params


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


def _check_int_range(name: str, value: Any, low: int, high: int) -> tuple[int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a (min, max) pair of ints, got {value!r}")
    lo, hi = (_check_int(name, v, low, high) for v in value)
    if lo > hi:
        raise ValueError(f"{name} must be a (min, max) pair with min <= max, got {value!r}")
    return lo, hi


def _load_textures(names: Iterable[str]) -> None:
    """Put MiniWorld textures (all variants of each name) in MiniWorld's texture cache.

    MiniWorld loads a texture through pyglet, whose per-pixel format conversion takes
    seconds for a 1024x1024 image; decoding with Pillow straight to bottom-up RGBA gives
    the same pixels in milliseconds. Needs a current GL context (the env's).
    """
    for name in names:
        if name in Texture.tex_paths:
            continue
        paths = []
        for index in range(1, 10):
            path = get_file_path("textures", f"{name}_{index}", "png")
            if not os.path.exists(path):
                break
            paths.append(path)
        if not paths:
            raise ValueError(f"no MiniWorld texture named {name!r}")
        for path in paths:
            if path in Texture.tex_cache:
                continue
            with Image.open(path) as image:
                rgba = image.convert("RGBA").transpose(Image.Transpose.FLIP_TOP_BOTTOM)
            width, height = rgba.size
            data = rgba.tobytes()
            tex = pyglet.image.ImageData(width, height, "RGBA", data, pitch=width * 4).get_texture()
            gl.glEnable(tex.target)
            gl.glBindTexture(tex.target, tex.id)
            gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGB, width, height, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, data)
            # Same sampling as MiniWorld's Texture.load: mipmaps with trilinear filtering.
            gl.glHint(gl.GL_GENERATE_MIPMAP_HINT, gl.GL_NICEST)
            gl.glGenerateMipmap(gl.GL_TEXTURE_2D)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAG_FILTER, gl.GL_LINEAR)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, gl.GL_LINEAR_MIPMAP_LINEAR)
            gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
            Texture.tex_cache[path] = Texture(tex, name)
        # MiniWorld never stores this inventory itself and re-scans the disk on every lookup.
        Texture.tex_paths[name] = paths


def _make_entity(name: str) -> Entity:
    spec = OBJECTS[name]
    if spec.shape == "box":
        return Box(color=spec.colour, size=spec.height)
    mesh = spec.shape if spec.colour is None else f"{spec.shape}_{spec.colour}"
    return MeshEnt(mesh_name=mesh, height=spec.height, static=not spec.liftable)


class HouseEnv(MiniWorldEnv):
    """Egocentric 3D house with language goals (see the module docstring).

    Args:
        family: goal family to sample from ("find", "lift", "place"), or None for all
            (family first, uniformly, then a goal of it).
        goal_split: "train", "heldout" or "all" goals to sample from.
        goal: fixed goal text for every episode (``options={"goal": ...}`` overrides).
        obs_size: side of the square uint8 observation image.
        render_size: side of the square ``render()`` frame (the VLM input), from the
            same egocentric camera.
        render_mode: None or "rgb_array".
        num_rooms: inclusive (min, max) number of rooms, within [1, 4] (``(1, 1)``: the
            one-room level of a curriculum).
        num_objects: inclusive (min, max) number of objects, within [2, 12]; place
            episodes get at least 2.
        room_size: (min, max) room side in metres.
        forward_step: metres per move; turn_step: degrees per turn. The defaults (0.2 m,
            20 deg; MiniWorld's are 0.15 m, 15 deg) let the scripted solver cross four
            rooms and back within 250 steps.
        domain_rand: MiniWorld's domain randomisation (lighting, camera, step noise,
            texture variants, object colour bias).
        max_episode_steps: MiniWorld's own step limit (truncation).
        actions: "all" (turn left, turn right, forward, back, pickup, drop), "move" (the
            first four) or "walk" (the first four, then side steps left and right; a side
            step moves ``forward_step`` sideways, as Playhouse's agent strafes). "move" and
            "walk" are for find goals, which never need pickup or drop: as in MiniWorld's
            own navigation tasks, a smaller action set spends less of a learning agent's
            exploration on actions that cannot help. Side steps let an agent that sees its
            goal behind another object get round it without turning away: a policy that
            sees perfectly but remembers nothing (turn until the goal is in view, then head
            for it) succeeds in 76% of one-room episodes with "move" and 96% with "walk"
            (``python benchmarks/bench_house_policies.py``).
        slide: a step forward that an object blocks becomes a side step away from that object
            (to the other side if that one is shut too), as characters in games slide round
            obstacles: the agent keeps its heading, so a goal seen behind another object stays
            in view while it gets round. It is a rule of the body, like the bump sensor: it
            uses where the blocking object touches the agent, not where the goal is. Walls
            still stop the agent.
        terminate_on_success: end the episode on success. Turn it off when another signal
            (the VLM reward) decides when episodes end, so that ground truth does not leak
            into training through termination.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    Actions = Actions

    def __init__(
        self,
        family: str | None = None,
        goal_split: str = "train",
        goal: str | None = None,
        obs_size: int = 64,
        render_size: int = 224,
        render_mode: str | None = None,
        num_rooms: tuple[int, int] = (2, 4),
        num_objects: tuple[int, int] = (3, 8),
        room_size: tuple[float, float] = (4.0, 5.5),
        forward_step: float = 0.2,
        turn_step: float = 20.0,
        domain_rand: bool = False,
        max_episode_steps: int = 250,
        actions: str = "all",
        terminate_on_success: bool = True,
        slide: bool = False,
    ) -> None:
        if family is not None and family not in FAMILIES:
            raise ValueError(f"family must be None or one of {FAMILIES}, got {family!r}")
        if goal_split not in SPLITS:
            raise ValueError(f"goal_split must be one of {SPLITS}, got {goal_split!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if not isinstance(actions, str) or actions not in ACTION_SETS:
            raise ValueError(f"actions must be one of {tuple(ACTION_SETS)}, got {actions!r}")
        if actions != "all" and family != "find":
            raise ValueError(f"actions={actions!r} has no pickup or drop, so it needs family='find', got family={family!r}")
        if not 0.05 <= float(forward_step) <= 1.0:
            raise ValueError(f"forward_step must be in [0.05, 1.0] metres, got {forward_step!r}")
        if not 1.0 <= float(turn_step) <= 90.0:
            raise ValueError(f"turn_step must be in [1, 90] degrees, got {turn_step!r}")
        self.family = family
        self.goal_split = goal_split
        self.terminate_on_success = bool(terminate_on_success)
        if not isinstance(slide, bool):
            raise ValueError(f"slide must be True or False, got {slide!r}")
        self.slide = slide
        self._fixed_goal = parse_goal(goal) if goal is not None else None
        self.num_rooms = _check_int_range("num_rooms", num_rooms, 1, 4)
        self.num_objects = _check_int_range("num_objects", num_objects, 2, 12)
        self.room_size = room_size
        # Validate the layout arguments now rather than at the first reset.
        sample_house(np.random.default_rng(0), self.num_rooms, room_size)
        self._goal_pool = {
            fam: goals(goal_split, fam) for fam in (FAMILIES if family is None else (family,))
        }
        self._goal_pool = {fam: texts for fam, texts in self._goal_pool.items() if texts}
        self._static_list: int | None = None
        self._requested_goal: Goal | None = None
        self.goal: Goal | None = None
        self.objects: dict[str, Entity] = {}
        self.plan: HousePlan | None = None
        self._success = False
        self._blocked = False

        # MiniWorld prints a notice for every frame buffer whose multisampling it lowers.
        with contextlib.redirect_stdout(io.StringIO()):
            super().__init__(
                max_episode_steps=_check_int("max_episode_steps", max_episode_steps, 1, 100_000),
                obs_width=_check_int("obs_size", obs_size, 16, 1024),
                obs_height=obs_size,
                window_width=_check_int("render_size", render_size, 16, 2048),
                window_height=render_size,
                params=_house_params(float(forward_step), float(turn_step)),
                domain_rand=bool(domain_rand),
                render_mode=render_mode,
                view="agent",
            )
        self.actions = Actions
        self.action_set = actions
        self._action_ids = ACTION_SETS[actions]
        self.action_space = spaces.Discrete(len(self._action_ids))

    # ------------------------------------------------------------------ episode set-up
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode; ``options={"goal": text}`` picks its goal (any valid house goal)."""
        goal = self._fixed_goal
        if options is not None:
            if not isinstance(options, dict):
                raise TypeError(f"options must be a dict like {{'goal': text}}, got {type(options).__name__}")
            unknown = set(options) - {"goal"}
            if unknown:
                raise ValueError(f"options accepts only the key 'goal', got {sorted(unknown)}")
            if options.get("goal") is not None:
                goal = parse_goal(options["goal"])
        self._requested_goal = goal
        self._episodes = getattr(self, "_episodes", 0) + 1
        obs, _ = super().reset(seed=seed)
        self._success = self._check_success()
        self._blocked = False
        return obs, self._info()

    def _sample_goal(self) -> Goal:
        if not self._goal_pool:
            raise ValueError(f"no goals for family={self.family!r} in goal_split={self.goal_split!r}")
        fams = list(self._goal_pool)
        texts = self._goal_pool[fams[int(self.np_random.integers(len(fams)))]]
        return parse_goal(texts[int(self.np_random.integers(len(texts)))])

    def _gen_world(self) -> None:
        rng = self.np_random
        self.goal = self._requested_goal or self._sample_goal()
        self.plan = sample_house(rng, self.num_rooms, self.room_size)
        self.shadow_window.switch_to()
        _load_textures({tex for r in self.plan.rooms for tex in (r.wall_tex, r.floor_tex, r.ceil_tex)})
        rooms = [
            self.add_rect_room(
                min_x=r.min_x, max_x=r.max_x, min_z=r.min_z, max_z=r.max_z,
                wall_tex=r.wall_tex, floor_tex=r.floor_tex, ceil_tex=r.ceil_tex,
            )
            for r in self.plan.rooms
        ]
        for door in self.plan.doors:
            extent = {f"min_{door.axis}": door.lo, f"max_{door.axis}": door.hi}
            self.connect_rooms(rooms[door.a], rooms[door.b], **extent)
        self._gen_static_data()

        lo, hi = self.num_objects
        count = max(int(rng.integers(lo, hi + 1)), len(self.goal.objects))
        others = [name for name in OBJECTS if name not in self.goal.objects]
        picks = rng.choice(len(others), size=count - len(self.goal.objects), replace=False)
        distractors = [others[i] for i in picks]
        # The episode's floor plan as a grid, shared with the solver and the search map (read only).
        self.floor_grid = grid = FloorGrid(self.rooms, self.wall_segs)
        for attempt in range(_LAYOUT_TRIES):
            self.entities = []
            self.objects = {}
            for name in [*self.goal.objects, *distractors[: _distractors_kept(len(distractors), attempt)]]:
                ent = self._scatter(_make_entity(name), required=name in self.goal.objects)
                if ent is not None:
                    self.objects[name] = ent
            if self._place_agent() and self._all_reachable(grid):
                return
        raise RuntimeError("could not lay out the objects and the agent; use larger room_size or fewer num_objects")

    def _all_reachable(self, grid: FloorGrid) -> bool:
        """Whether the agent can walk up to every object (objects can wall off corners)."""
        agent = self.agent
        free = grid.clearance(agent.radius, [(e.pos, e.radius) for e in self.objects.values()]) >= _PASSAGE_CLEARANCE
        start = grid.distance_to(agent.pos) <= CELL * 1.5
        field = cost_to_go(start, np.where(free, 1.0, np.inf))
        for ent in self.objects.values():
            nearby = grid.distance_to(ent.pos) <= agent.radius + ent.radius + 0.6
            nearby[nearby] = ~segments_cross_walls(grid.points[nearby], ent.pos[[0, 2]], self.wall_segs)
            if not np.isfinite(field[nearby]).any():
                return False
        return True

    def _random_point(self, margin: float) -> np.ndarray:
        """A floor point at least ``margin`` from the walls of a room chosen by floor area."""
        rng = self.np_random
        areas = np.array([(r.max_x - r.min_x) * (r.max_z - r.min_z) for r in self.plan.rooms])
        r = self.plan.rooms[int(rng.choice(len(areas), p=areas / areas.sum()))]
        x = rng.uniform(r.min_x + margin, r.max_x - margin)
        z = rng.uniform(r.min_z + margin, r.max_z - margin)
        return np.array([x, 0.0, z])

    def _far_from_doors(self, pos: np.ndarray) -> bool:
        return all(math.dist((pos[0], pos[2]), d.centre) >= _DOOR_KEEP_OUT for d in self.plan.doors)

    def _scatter(self, ent: Entity, required: bool) -> Entity | None:
        """Place ``ent`` in free floor space; a distractor that does not fit is left out."""
        for attempt in range(_PLACEMENT_TRIES):
            # The goal's objects must exist, so they may crowd their neighbours if needed.
            gap = _OBJECT_GAP if attempt < _PLACEMENT_TRIES // 2 or not required else 0.2
            pos = self._random_point(_WALL_MARGIN)
            if not self._far_from_doors(pos):
                continue
            if any(np.linalg.norm(pos - e.pos) < ent.radius + e.radius + gap for e in self.objects.values()):
                continue
            if self.goal.family == "place" and self.goal.dest in self.objects:
                dest = self.objects[self.goal.dest]
                if np.linalg.norm(pos - dest.pos) < ent.radius + dest.radius + PLACE_MARGIN + 1.0:
                    continue
            return self.place_entity(ent, pos=pos, dir=float(self.np_random.uniform(-math.pi, math.pi)))
        if required:
            raise RuntimeError(f"could not fit the goal object {ent!r} in the house; use larger room_size")
        return None

    def _place_agent(self) -> bool:
        target = self.objects[self.goal.target]
        for _ in range(_PLACEMENT_TRIES):
            pos = self._random_point(self.agent.radius + 0.3)
            clear = all(
                np.linalg.norm(pos - e.pos) >= self.agent.radius + e.radius + 0.5 for e in self.objects.values()
            )
            # Start out of "go near" range so no episode is solved before the first step.
            far = np.linalg.norm(pos - target.pos) > self.agent.radius + target.radius + FIND_MARGIN + 0.5
            if clear and far:
                self.place_agent(pos=pos, dir=float(self.np_random.uniform(-math.pi, math.pi)))
                return True
        return False

    # ------------------------------------------------------------------ stepping
    def step(self, action):
        action = self._action_ids[self._check_action(action)]
        pose = self.agent.pos.copy()
        moves = action in (Actions.move_forward, Actions.move_back, Actions.strafe_left, Actions.strafe_right)
        if action in (Actions.strafe_left, Actions.strafe_right):
            step = self.params.sample(self.np_random if self.domain_rand else None, "forward_step")
            self.move_agent(0.0, step if action == Actions.strafe_right else -step)
            action = _NO_OP
        elif action == Actions.move_forward and self.slide:
            rand = self.np_random if self.domain_rand else None
            self._forward_or_slide(self.params.sample(rand, "forward_step"), self.params.sample(rand, "forward_drift"))
            action = _NO_OP
        obs, _, _, truncated, _ = super().step(action)
        # A bump sensor: a move that left the agent where it was hit a wall or an object.
        self._blocked = bool(moves and np.array_equal(pose, self.agent.pos))
        self._success = self._check_success()
        reward = 1.0 if self._success else 0.0
        terminated = self._success and self.terminate_on_success
        return obs, reward, terminated, bool(truncated), self._info()

    def _forward_or_slide(self, step: float, drift: float) -> None:
        """Step forward (as MiniWorld does); if an object, not a wall, is in the way, side-step
        away from it."""
        if self.move_agent(step, drift):
            return
        ahead = self.agent.pos + self.agent.dir_vec * step + self.agent.right_vec * drift
        blocker = self.intersect(self.agent, ahead, self.agent.radius)
        # True is a wall (MiniWorld's intersect); None: only a carried object was in the way.
        if blocker is None or isinstance(blocker, bool):
            return
        # The blocker's centre right of the heading: slide left (negative drift), and back.
        away = -step if float(np.dot(blocker.pos - self.agent.pos, self.agent.right_vec)) > 0 else step
        if not self.move_agent(0.0, away):
            self.move_agent(0.0, -away)

    def intersect(self, ent, pos, radius):
        """MiniWorld's collision test, except that a carried object, held ``pos[1]`` m above
        the floor, passes over objects lower than that and only hits walls and furniture."""
        carried = self.agent.carrying
        if carried is None or ent is not carried or pos[1] <= 0:
            return super().intersect(ent, pos, radius)
        flat = np.array([pos[0], 0.0, pos[2]])
        if intersect_circle_segs(flat, radius, self.wall_segs):
            return True
        for other in self.entities:
            if other is ent or other is self.agent or other.height <= pos[1]:
                continue
            if np.linalg.norm((other.pos - flat)[[0, 2]]) < radius + other.radius:
                return other
        return None

    def _check_action(self, action: Any) -> int:
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        n = int(self.action_space.n)
        if isinstance(action, (int, np.integer)) and not isinstance(action, bool) and 0 <= action < n:
            return int(action)
        names = ", ".join(f"{i}={a.name}" for i, a in enumerate(self._action_ids))
        raise ValueError(f"action must be an int in [0, {n}) ({names}), got {action!r}")

    def _info(self) -> dict[str, Any]:
        return {
            "goal": self.goal.text,
            "ground_truth_success": bool(self._success),
            "off_goal": self._off_goal(),
            "goal_family": self.goal.family,
            "blocked": self._blocked,
        }

    def _off_goal(self) -> bool:
        """Whether the agent holds, or stands near and sees, an object its goal does not name:
        a sign of searching rather than going to the goal."""
        named = {self.goal.target, self.goal.dest}
        carried = self.agent.carrying
        if carried is not None and carried is not self.objects[self.goal.target]:
            return True
        return any(
            name not in named and self.is_near(ent) and self.in_view(ent) for name, ent in self.objects.items()
        )

    # ------------------------------------------------------------------ ground truth
    def _check_success(self) -> bool:
        target = self.objects[self.goal.target]
        if self.goal.family == "find":
            return self.is_near(target) and self.in_view(target)
        if self.goal.family == "lift":
            return self.agent.carrying is target
        dest = self.objects[self.goal.dest]
        return self.agent.carrying is not target and self.objects_adjacent(target, dest)

    def is_near(self, ent: Entity, margin: float = FIND_MARGIN) -> bool:
        """Whether the agent's and ``ent``'s bounding circles are at most ``margin`` m apart."""
        gap = np.linalg.norm((ent.pos - self.agent.pos)[[0, 2]]) - ent.radius - self.agent.radius
        return bool(gap <= margin)

    def objects_adjacent(self, ent: Entity, other: Entity, margin: float = PLACE_MARGIN) -> bool:
        """Whether two objects' bounding circles (on the floor plan) are at most ``margin`` m apart."""
        gap = np.linalg.norm((ent.pos - other.pos)[[0, 2]]) - ent.radius - other.radius
        return bool(gap <= margin)

    def in_view(self, ent: Entity) -> bool:
        """Whether ``ent``'s centre projects inside the camera image and no wall hides it.

        Walls are full height, so the occlusion test is 2D (line of sight against the
        wall segments); other objects are not treated as occluders.
        """
        agent = self.agent
        fwd = agent.cam_dir
        right = agent.right_vec
        up = np.cross(right, fwd)
        rel = ent.pos + np.array([0.0, ent.height / 2, 0.0]) - agent.cam_pos
        depth = float(rel @ fwd)
        if depth <= 0.05:
            return False
        tan_y = math.tan(math.radians(agent.cam_fov_y) / 2)
        tan_x = tan_y * self.obs_fb.width / self.obs_fb.height
        if abs(rel @ right) / depth > _VIEW_FRACTION * tan_x or abs(rel @ up) / depth > _VIEW_FRACTION * tan_y:
            return False
        return not segments_cross_walls(agent.cam_pos[None, [0, 2]], ent.pos[[0, 2]], self.wall_segs)[0]

    # ------------------------------------------------------------------ rendering
    #: regions of :meth:`region_crops`: the whole view
    num_regions = 1

    def region_crops(self, size: int) -> np.ndarray:
        """The view the VLM scores, as the one region of this env: ``(1, size, size, 3)`` uint8.

        With ``agent.region_features`` the policy gets the VLM's similarity of it with "a red
        ball in a room": whether the goal's object is in sight, for goals the policy never
        trained on too. (Crops of the view do not localise the object: the crop holding it was
        the most similar one in 39% of 241 cases, against 33% by chance, for the default model.)
        """
        frame = self._view()
        if frame.shape[0] != size or frame.shape[1] != size:
            from PIL import Image

            frame = np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.BICUBIC))
        return frame[None]

    def render(self):
        """The egocentric frame at ``render_size`` (``render_mode="rgb_array"``), else None."""
        if self.render_mode is None:
            return super().render()  # Gymnasium's warning about the missing render_mode
        return self._view()

    def _view(self) -> np.ndarray:
        """The frame at ``render_size``, drawn again only when the scene has changed: the
        reward's frame and the view region of one step are one picture (one draw, where
        software OpenGL makes a draw cost about as much as the VLM's encoding of it).

        Keyed on what is drawn, not on the step: the corpus swaps an object for another
        between two draws of the same step (hard-negative twins), and a step key would
        return the first picture for the second.
        """
        key = self._scene_key()
        if getattr(self, "_view_key", None) != key:
            self._view_frame, self._view_key = np.asarray(self.render_obs(self.vis_fb)), key
        return self._view_frame.copy()

    def _scene_key(self) -> tuple:
        """Everything a draw depends on that can change within an episode (the rooms, the
        textures and the camera's per-episode parameters come with the episode number)."""
        agent = self.agent
        ents = tuple(
            (type(e).__name__, getattr(e, "color", None), id(getattr(e, "mesh", None)),
             np.asarray(getattr(e, "color_vec", ())).tobytes(), e.pos.tobytes(), float(e.dir))
            for e in self.entities if e is not agent
        )
        return (self._episodes, agent.pos.tobytes(), float(agent.dir), agent.cam_height, agent.cam_pitch, ents)

    # MiniWorld compiles every env's static scene into display list 1, which all
    # contexts of a process share, so two envs in one process (e.g. a SyncVectorEnv)
    # would draw each other's rooms. Each HouseEnv keeps its own list instead.
    def _render_static(self) -> None:
        if self._static_list is None:
            self._static_list = int(gl.glGenLists(1))
        gl.glNewList(self._static_list, gl.GL_COMPILE)
        # MiniWorld passes (light_pos + 1, w=0): a directional light, which lights every
        # room of a multi-room house alike; kept so the house looks like other MiniWorld envs.
        gl.glLightfv(gl.GL_LIGHT0, gl.GL_POSITION, (gl.GLfloat * 4)(*(np.asarray(self.light_pos) + 1.0), 0.0))
        gl.glLightfv(gl.GL_LIGHT0, gl.GL_AMBIENT, (gl.GLfloat * 4)(*self.light_ambient))
        gl.glLightfv(gl.GL_LIGHT0, gl.GL_DIFFUSE, (gl.GLfloat * 4)(*self.light_color))
        gl.glEnable(gl.GL_LIGHTING)
        gl.glEnable(gl.GL_LIGHT0)
        gl.glShadeModel(gl.GL_SMOOTH)
        gl.glEnable(gl.GL_COLOR_MATERIAL)
        gl.glColorMaterial(gl.GL_FRONT_AND_BACK, gl.GL_AMBIENT_AND_DIFFUSE)
        gl.glEnable(gl.GL_TEXTURE_2D)
        for room in self.rooms:
            room._render()
        for ent in self.entities:
            if ent.is_static:
                ent.render()
        gl.glEndList()

    def _render_world(self, frame_buffer, render_agent):
        gl.glCallList(self._static_list)
        for ent in self.entities:
            if not ent.is_static and ent is not self.agent:
                ent.render()
        if render_agent:
            self.agent.render()
        return frame_buffer.resolve()

    def close(self) -> None:
        if self._static_list is not None:
            self.shadow_window.switch_to()
            gl.glDeleteLists(self._static_list, 1)
            self._static_list = None
        super().close()
