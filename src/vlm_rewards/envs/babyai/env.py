"""Adapter over MiniGrid's BabyAI levels: the level's mission is the language goal.

``BabyAIEnv`` wraps any registered ``BabyAI-*`` level (``import minigrid`` registers them)
and exposes it under the project's env contract: pixel observations, ``info["goal"]``,
``info["ground_truth_success"]`` taken from the level's own verifier, and goals chosen by
``reset(options={"goal": text})``. The level cannot be told which mission to generate, so a
requested goal is reached by regenerating the level (seeded, bounded) until its mission is the
requested text.

For GoTo / Pickup / Open style levels the missions are "{verb} the {colour} {object}", so the
goal set is enumerable and split into fixed train / held-out colour-object combinations (each
colour and each object still appears in training; only the combination is new). Levels whose
missions are compositional sentences (``BabyAI-Synth-v0``, ``BabyAI-BossLevel-v0``, ...) run
with their own missions; :func:`goals` raises for them.

Example:
    >>> env = BabyAIEnv(level="BabyAI-GoToLocal-v0", obs_size=64)
    >>> obs, info = env.reset(seed=0, options={"goal": "go to the red key"})
    >>> info["goal"], obs.shape
    ('go to the red key', (64, 64, 3))
    >>> solver = make_solver(env)
    >>> obs, reward, terminated, truncated, info = env.step(solver(obs))
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from vlm_rewards.envs._frames import resize_frame, size_arg
# Colours and object types of BabyAI missions, in a fixed order (the split depends on it);
# defined with the goal text so text hooks need not import MiniGrid.
from vlm_rewards.envs.babyai.text import COLOURS, OBJECTS

from vlm_rewards.headless import configure_headless

configure_headless()  # minigrid imports pygame at module level

import minigrid  # noqa: E402, F401  (registers the BabyAI-* ids)
from minigrid.utils.baby_ai_bot import BabyAIBot  # noqa: E402

__all__ = ["BabyAIEnv", "goals", "make_solver", "COLOURS", "OBJECTS", "HELDOUT_COMBINATIONS"]

DEFAULT_LEVEL = "BabyAI-GoToLocal-v0"

#: (colour, object) pairs never used as training goals. One object per colour is held out and
#: each object keeps four training colours, so held-out goals test new *combinations* of words
#: the agent has seen. Doors (two colours held out) follow the same rule.
HELDOUT_COMBINATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("red", "ball"),
        ("green", "key"),
        ("blue", "box"),
        ("purple", "ball"),
        ("yellow", "key"),
        ("grey", "box"),
        ("red", "door"),
        ("purple", "door"),
    }
)

#: Level class (from the registered entry point) -> (verb, object types of its missions), for
#: levels whose every mission is "{verb} a/the {colour} {object}" (PickupLoc: a superset that
#: also drops the colour or adds a location; its colour-object missions are still generated).
_ENUMERABLE_LEVELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "GoToObj": ("go to", OBJECTS),
    "GoToLocal": ("go to", OBJECTS),
    "GoTo": ("go to", OBJECTS),  # also GoToOpen and GoToObjMaze*
    "GoToImpUnlock": ("go to", OBJECTS),
    "GoToObjDoor": ("go to", (*OBJECTS, "door")),
    "GoToDoor": ("go to", ("door",)),
    "Open": ("open", ("door",)),
    "Pickup": ("pick up", OBJECTS),
    "UnblockPickup": ("pick up", OBJECTS),
    "PickupLoc": ("pick up", OBJECTS),
}

_SPLITS = ("train", "heldout", "all")
_VIEWS = ("full", "agent")
_MISSION_RE = re.compile(r"^(go to|pick up|open) (a|the) (\w+) (\w+)$")
_RENDER_SIZE_RANGE = (64, 224)
_OBS_SIZE_RANGE = (8, 1024)


def _babyai_levels() -> list[str]:
    return sorted(env_id for env_id in gymnasium.registry if env_id.startswith("BabyAI-"))


def _check_level(level: Any) -> str:
    levels = _babyai_levels()
    if not isinstance(level, str) or level not in levels:
        raise ValueError(f"level must be a registered BabyAI id, one of {levels}; got {level!r}")
    return level


def _level_family(level: str) -> tuple[str, tuple[str, ...]] | None:
    entry_point = gymnasium.registry[level].entry_point
    class_name = entry_point.rsplit(":", 1)[-1] if isinstance(entry_point, str) else ""
    return _ENUMERABLE_LEVELS.get(class_name)


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def goals(split: str = "train", level: str = DEFAULT_LEVEL) -> list[str]:
    """The goal texts of a BabyAI ``level`` for ``split`` ("train", "heldout" or "all").

    Goals are the level's colour-object missions, "{verb} the {colour} {object}"; the split
    is fixed by :data:`HELDOUT_COMBINATIONS`. Raises ``ValueError`` for levels whose missions
    are not enumerable (sequences, locations, ...).

    Example:
        >>> goals("heldout")[:2]
        ['go to the red ball', 'go to the green key']
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    family = _level_family(_check_level(level))
    if family is None:
        enumerable = sorted(lvl for lvl in _babyai_levels() if _level_family(lvl) is not None)
        raise ValueError(
            f"level {level!r} has compositional missions that are not enumerable, so it has no "
            f"goal set; BabyAIEnv still runs it with the level's own missions (goal_split=None). "
            f"Levels with goal sets: {enumerable}"
        )
    verb, objects = family
    out = []
    for colour in COLOURS:
        for obj in objects:
            heldout = (colour, obj) in HELDOUT_COMBINATIONS
            if split == "all" or (split == "heldout") == heldout:
                out.append(f"{verb} the {colour} {obj}")
    return out


class BabyAIEnv(gymnasium.Env):
    """A BabyAI level with its mission as the language goal and pixels as observations.

    Args:
        level: a registered ``BabyAI-*`` id.
        goal_split: where goals come from when ``reset`` gets no goal option: "train",
            "heldout" or "all" samples from :func:`goals` (seeded); ``None`` keeps the level's
            own mission; "auto" (default) is "train" for levels with a goal set, else ``None``.
        obs_size: observation size, int or (height, width).
        render_size: size of ``render()`` frames (the VLM's input), 64..224.
        view: "agent" (default) renders the agent's egocentric view, in which the object the
            agent faces, what GoTo goals ask for, sits just above it at the bottom centre and
            spans a seventh of the frame; "full" renders the whole grid, where at 64 px the
            agent and the object next to it are a few pixels wide (the built-in reward model
            reads the agent view).
        render_mode: ``None`` or "rgb_array".
        max_steps: episode limit of the level; ``None`` keeps the level's own
            (room size and mission dependent) limit. The episode is truncated there.
        max_goal_retries: level regenerations allowed to meet a requested goal.
        terminate_on_success: end the episode on success. Turn it off when another signal
            (the VLM reward) decides when episodes end, so ground truth does not leak into
            training through termination; the level's own failures still end the episode.

    The reward is 1.0 on the step the level reports success, else 0.0; success terminates the
    episode. A level's own failure (e.g. picking up the wrong object) also terminates it.

    Example:
        >>> env = BabyAIEnv(render_mode="rgb_array", render_size=224)
        >>> obs, info = env.reset(seed=3)
        >>> env.render().shape
        (224, 224, 3)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        level: str = DEFAULT_LEVEL,
        *,
        goal_split: str | None = "auto",
        obs_size: int | tuple[int, int] = 64,
        render_size: int | tuple[int, int] = 224,
        view: str = "agent",
        render_mode: str | None = None,
        max_steps: int | None = None,
        max_goal_retries: int = 2000,
        terminate_on_success: bool = True,
    ) -> None:
        self.level = _check_level(level)
        self._family = _level_family(self.level)
        if goal_split == "auto":
            goal_split = "train" if self._family is not None else None
        if goal_split is not None and goal_split not in _SPLITS:
            raise ValueError(f"goal_split must be one of {_SPLITS}, 'auto' or None, got {goal_split!r}")
        if goal_split is not None and self._family is None:
            raise ValueError(
                f"goal_split={goal_split!r} needs a level with a goal set; {level!r} has none "
                "(use goal_split=None to run the level's own missions)"
            )
        if view not in _VIEWS:
            raise ValueError(f"view must be one of {_VIEWS}, got {view!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
            raise ValueError(f"max_steps must be a positive int or None, got {max_steps!r}")
        if not isinstance(max_goal_retries, int) or max_goal_retries < 1:
            raise ValueError(f"max_goal_retries must be a positive int, got {max_goal_retries!r}")

        self.goal_split = goal_split
        self.goal_set: list[str] = goals(goal_split, self.level) if goal_split else []
        self.obs_size = size_arg("obs_size", obs_size, *_OBS_SIZE_RANGE)
        self.render_size = size_arg("render_size", render_size, *_RENDER_SIZE_RANGE)
        self.view = view
        self.render_mode = render_mode
        self.max_goal_retries = max_goal_retries
        self.terminate_on_success = bool(terminate_on_success)

        kwargs = {} if max_steps is None else {"max_steps": max_steps}
        # The raw level, not gymnasium.make's checker/order wrappers: the bot and the goal
        # regeneration read its attributes (instrs, grid, agent_pos) directly.
        self.level_env = gymnasium.make(self.level, **kwargs).unwrapped
        self.action_space = spaces.Discrete(int(self.level_env.action_space.n))
        self.observation_space = spaces.Box(0, 255, (*self.obs_size, 3), dtype=np.uint8)
        self._action_names = [a.name for a in self.level_env.actions]
        self.goal = ""

    @property
    def mission(self) -> str:
        return self.level_env.mission

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        goal = (options or {}).get("goal")
        if goal is None and self.goal_set:
            goal = self.goal_set[int(self.np_random.integers(len(self.goal_set)))]
        if goal is None:
            self._generate(seed)
        else:
            self._generate_until(self._check_goal(goal), seed)
        self.goal = self.level_env.mission
        return self._frame(self.obs_size), self._info(success=False)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = self._check_action(action)
        _, level_reward, terminated, truncated, _ = self.level_env.step(action)
        success = bool(terminated and level_reward > 0)
        if success and not self.terminate_on_success:
            terminated = False
        return (
            self._frame(self.obs_size),
            1.0 if success else 0.0,
            bool(terminated),
            bool(truncated),
            self._info(success=success),
        )

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() needs render_mode='rgb_array' (got None)")
            return None
        return self._frame(self.render_size)

    # -- internals --------------------------------------------------------------------------

    def _generate(self, seed: int | None) -> None:
        # Levels print every rejected sample ("Sampling rejected: ..."); keep stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            self.level_env.reset(seed=seed)

    def _generate_until(self, goal: str, seed: int | None) -> None:
        # The first reset seeds the level; later ones continue its generator, so the same
        # (seed, goal) always yields the same level.
        self._generate(seed)
        for _ in range(self.max_goal_retries - 1):
            if _normalise(self.level_env.mission) == goal:
                return
            self._generate(None)
        if _normalise(self.level_env.mission) == goal:
            return
        raise ValueError(
            f"goal {goal!r} was not generated by level {self.level!r} in {self.max_goal_retries} "
            f"attempts, so it is not a mission of this level"
            + (f"; its goals look like {goals('all', self.level)[:3]}" if self._family else "")
        )

    def _check_goal(self, goal: Any) -> str:
        if not isinstance(goal, str) or not goal.strip():
            raise ValueError(f"options['goal'] must be a non-empty str, got {goal!r}")
        text = _normalise(goal)
        if self._family is None:
            return text  # only the level can tell; _generate_until reports a miss
        verb, objects = self._family
        match = _MISSION_RE.match(text)
        if match is None or match[1] != verb or match[3] not in COLOURS or match[4] not in objects:
            raise ValueError(
                f"options['goal'] must be a mission of {self.level!r}: "
                f"'{verb} the/a {{colour}} {{object}}' with colour in {COLOURS} and object in "
                f"{objects}; got {goal!r}"
            )
        return text

    def _check_action(self, action: Any) -> int:
        value = np.asarray(action)
        if value.shape != () or value.dtype.kind not in "iu" or not 0 <= int(value) < self.action_space.n:
            raise ValueError(
                f"action must be an int in [0, {self.action_space.n}) "
                f"({', '.join(self._action_names)}), got {action!r}"
            )
        return int(value)

    def _frame(self, size: tuple[int, int]) -> np.ndarray:
        env = self.level_env
        if self.view == "agent":
            tiles = env.agent_view_size
            frame = env.get_pov_render(tile_size=max(1, math.ceil(max(size) / tiles)))
        else:
            tiles = max(env.width, env.height)
            frame = env.get_full_render(highlight=False, tile_size=max(1, math.ceil(max(size) / tiles)))
        return resize_frame(frame, size)

    def _info(self, success: bool) -> dict[str, Any]:
        return {"goal": self.goal, "ground_truth_success": success, "level": self.level}


class BabyAISolver:
    """Scripted solver: minigrid's ``BabyAIBot`` planning on the level's privileged state.

    ``solver(obs) -> action``; a new bot is built whenever the env starts a new episode. The
    bot assumes its suggested action is the one taken, so call it once per step and act on it.
    """

    def __init__(self, env: BabyAIEnv) -> None:
        self._env = env
        self._bot: BabyAIBot | None = None
        self._instrs: Any = None

    def __call__(self, obs: Any = None) -> int:
        level = self._env.level_env
        if self._bot is None or level.instrs is not self._instrs:
            # Each reset generates a new instruction object, which marks a new episode.
            self._bot = BabyAIBot(level)
            self._instrs = level.instrs
        return int(self._bot.replan())


def make_solver(env: gymnasium.Env) -> Callable[[Any], int]:
    """A solver for a :class:`BabyAIEnv` (possibly wrapped): ``solver(obs) -> action``.

    Example:
        >>> env = BabyAIEnv()
        >>> obs, info = env.reset(seed=0)
        >>> solver = make_solver(env)
        >>> done = False
        >>> while not done:
        ...     obs, reward, terminated, truncated, info = env.step(solver(obs))
        ...     done = terminated or truncated
        >>> info["ground_truth_success"]
        True
    """
    inner = env.unwrapped
    if not isinstance(inner, BabyAIEnv):
        raise TypeError(f"env must be a BabyAIEnv (or wrap one), got {type(inner).__name__}")
    return BabyAISolver(inner)
