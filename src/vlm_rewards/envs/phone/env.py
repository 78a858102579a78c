"""``vlm_rewards/Phone-v0``: a simulated Android-like phone launcher drawn with Pillow.

The stand-in for AndroidEnv in the paper's "open the {app} app" tasks. The phone shows a
home screen (status bar, pages of labelled app icons, page dots, a dock, a nav bar with
back / home / recents); tapping an icon opens that app's screen (title bar with its name
and distinctive content). The episode's goal is reached when the goal app is in the
foreground (ground truth), which ends the episode with reward 1.

App sets (``apps=``; each with a fixed train / held-out goal split, see :func:`goals`):

- ``"common"``: the paper's 10 common apps (3 held out). The home screen also holds 6-22
  distractor apps from the diverse set, so one or two pages.
- ``"diverse"``: 60 apps (the common 10 plus 50 more; 15 held out) over 3 pages + dock.

Icons are shuffled over the pages and dock each episode (seeded); the clock, battery and
wallpaper vary too, so the screens are not pixel-identical across episodes.

Actions (``action_mode``):

- ``"discrete"`` (default, the registered id): ``Discrete(28)``: tap one of the 4 x 6
  cells aligned with the icon grid (rows 0-4) and the dock (row 5), index ``row * 4 + col``;
  then swipe left (next page), swipe right (previous page), home, back. One action is a
  whole gesture, so the time limit counts decisions. Works with SB3 PPO's ``CnnPolicy``.
- ``"touch"``: AndroidEnv's native action spec, ``Dict(action_type=Discrete(3),
  touch_position=Box(0, 1, (2,), float32))`` with ``TOUCH=0, LIFT=1, REPEAT=2`` and the
  position ``(x, y)`` relative to the screen width and height, used only by ``TOUCH``.
  A tap is TOUCH then LIFT at the same spot; a swipe is TOUCH at one x, TOUCH at another
  (the finger moves), then LIFT. REPEAT keeps the finger as it is. Home and back are taps
  on the nav bar. :class:`DiscretePhoneActions` turns a touch env into the discrete one.

Observations and frames: the native screen is 216 x 384 (9:16 portrait). The agent's
observation is the full screen resized to ``obs_size`` (an int for a square, or
``(height, width)``); a square stretches the screen sideways rather than wasting pixels on
bars. ``render()`` (``render_mode="rgb_array"``) returns the VLM's frame: the screen
letterboxed, aspect kept, into a ``render_size`` square, independent of ``obs_size``.
A translucent dot marks a finger that is down (AndroidEnv's "show touches").

Example:
    >>> import gymnasium as gym
    >>> import vlm_rewards.envs
    >>> env = gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array")
    >>> obs, info = env.reset(seed=0, options={"goal": "open the clock app"})
    >>> obs.shape, info["goal"], env.render().shape
    ((64, 64, 3), 'open the clock app', (224, 224, 3))
    >>> solver = make_solver(env)
    >>> for _ in range(30):
    ...     obs, reward, terminated, truncated, info = env.step(solver(obs))
    ...     if terminated or truncated:
    ...         break
    >>> info["ground_truth_success"], reward
    (True, 1.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from PIL import Image

from vlm_rewards.envs.phone import apps as catalogue
from vlm_rewards.envs._frames import size_arg
from vlm_rewards.envs.phone.apps import (
    CELL_H,
    CELL_W,
    DOCK_H,
    DOCK_SLOTS,
    DOCK_TOP,
    GRID_BOTTOM,
    GRID_COLS,
    GRID_ROWS,
    GRID_TOP,
    NAV_H,
    NAV_TOP,
    SCREEN_H,
    SCREEN_W,
    SLOTS_PER_PAGE,
)

__all__ = [
    "ACTION_NAMES",
    "APP_SETS",
    "DiscretePhoneActions",
    "PhoneEnv",
    "PhoneLayout",
    "goals",
    "make_solver",
]

# AndroidEnv's ActionType values (android_env/components/action_type.py).
TOUCH, LIFT, REPEAT = 0, 1, 2

APP_SETS: dict[str, tuple[str, ...]] = {"common": catalogue.COMMON_APPS, "diverse": catalogue.DIVERSE_APPS}
_HELDOUT: dict[str, tuple[str, ...]] = {"common": catalogue.HELDOUT_COMMON, "diverse": catalogue.HELDOUT_DIVERSE}
_SPLITS = ("train", "heldout", "all")
_ACTION_MODES = ("discrete", "touch")
_GOAL_RE = re.compile(r"^open the (.+) app$")

# Discrete actions: 24 cell taps, then these four.
N_TAP_CELLS = GRID_COLS * (GRID_ROWS + 1)
SWIPE_LEFT, SWIPE_RIGHT, HOME, BACK = range(N_TAP_CELLS, N_TAP_CELLS + 4)
N_DISCRETE = N_TAP_CELLS + 4
ACTION_NAMES: tuple[str, ...] = tuple(
    [f"tap_r{r}_c{c}" for r in range(GRID_ROWS) for c in range(GRID_COLS)]
    + [f"tap_dock_c{c}" for c in range(GRID_COLS)]
    + ["swipe_left", "swipe_right", "home", "back"]
)

# Gesture recognition, in native pixels (Android's touch slop is ~8dp).
_TAP_SLOP = 10.0
_SWIPE_MIN = 0.2 * SCREEN_W
_NAV_Y = (NAV_TOP + NAV_H / 2) / SCREEN_H
_SWIPE_Y = (GRID_TOP + 2.5 * CELL_H) / SCREEN_H
_TOUCH_RADIUS = 9.0  # native px of the "show touches" dot
_LETTERBOX = (32, 33, 36)
_N_COMMON_DISTRACTORS = (6, 22)  # inclusive range

TouchEvent = tuple[int, tuple[float, float]]


def _check_split(split: str) -> None:
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")


def _check_apps(apps: str) -> None:
    if apps not in APP_SETS:
        raise ValueError(f"apps must be one of {tuple(APP_SETS)}, got {apps!r}")


def _reject_legacy(where: str, kwargs: dict[str, Any]) -> None:
    # goal_set now always means a list of goal texts; the phone's app-set name moved to apps=.
    if "goal_set" in kwargs:
        raise TypeError(
            f"{where} takes apps='common' or apps='diverse' (the app set), not goal_set={kwargs['goal_set']!r}; "
            "goal_set was renamed apps"
        )
    if kwargs:
        raise TypeError(f"{where} got unexpected keyword arguments {sorted(kwargs)}")


def goal_text(app: str) -> str:
    """The goal sentence for app key ``app``: ``"open the {app} app"``."""
    return f"open the {app} app"


def goal_apps(split: str = "train", apps: str = "common", **legacy: Any) -> list[str]:
    """App keys of the app set ``apps`` in ``split`` (catalogue order)."""
    _reject_legacy("goal_apps()", legacy)
    _check_split(split)
    _check_apps(apps)
    heldout = set(_HELDOUT[apps])
    return [a for a in APP_SETS[apps] if split == "all" or (a in heldout) == (split == "heldout")]


def goals(split: str = "train", apps: str = "common", **legacy: Any) -> list[str]:
    """Goal texts of the app set ``apps`` ("common": 10 apps, "diverse": 60) for ``split``.

    The split is fixed: held-out goals ("train" vs "heldout") never overlap.

    Example:
        >>> len(goals("all")), len(goals("heldout")), len(goals("all", apps="diverse"))
        (10, 3, 60)
        >>> goals("heldout")[0]
        'open the calendar app'
    """
    _reject_legacy("goals()", legacy)
    return [goal_text(a) for a in goal_apps(split, apps)]


def parse_goal(goal: Any, apps: str) -> tuple[str, str]:
    """``(canonical goal text, app key)`` for ``goal``; case and spacing are normalised."""
    if not isinstance(goal, str):
        raise TypeError(f"goal must be a str like 'open the clock app', got {type(goal).__name__}")
    text = " ".join(goal.lower().split())
    match = _GOAL_RE.match(text)
    valid = APP_SETS[apps]
    if match is None or match.group(1) not in valid:
        raise ValueError(
            f'goal must look like "open the {{app}} app" with app one of {list(valid)} '
            f"(apps={apps!r}), got {goal!r}"
        )
    return text, match.group(1)


def cell_center(index: int) -> tuple[float, float]:
    """Relative ``(x, y)`` of tap cell ``index`` (``row * 4 + col``; row 5 is the dock)."""
    row, col = divmod(index, GRID_COLS)
    x = (col + 0.5) * CELL_W / SCREEN_W
    y = (DOCK_TOP + DOCK_H / 2) if row == GRID_ROWS else (GRID_TOP + (row + 0.5) * CELL_H)
    return x, y / SCREEN_H


def tap_boxes() -> tuple[tuple[float, float, float, float], ...]:
    """Relative ``(x0, y0, x1, y1)`` of every tap cell, in action order (``cell_center``'s cells).

    A pointer policy reads one logit per box from its feature map (see
    :class:`vlm_rewards.agents.policy.PointerExtractor`).
    """
    boxes = []
    for index in range(N_TAP_CELLS):
        row, col = divmod(index, GRID_COLS)
        top, height = (DOCK_TOP, DOCK_H) if row == GRID_ROWS else (GRID_TOP + row * CELL_H, CELL_H)
        boxes.append((col * CELL_W / SCREEN_W, top / SCREEN_H, (col + 1) * CELL_W / SCREEN_W, (top + height) / SCREEN_H))
    return tuple(boxes)


def gesture_events(action: int) -> list[TouchEvent]:
    """The touch events (AndroidEnv action types and positions) of discrete ``action``.

    Example:
        >>> gesture_events(HOME)
        [(0, (0.5, 0.9765625)), (1, (0.5, 0.9765625))]
    """
    if action < N_TAP_CELLS:
        pos = cell_center(action)
        return [(TOUCH, pos), (LIFT, pos)]
    if action in (SWIPE_LEFT, SWIPE_RIGHT):
        start, end = (0.85, 0.15) if action == SWIPE_LEFT else (0.15, 0.85)
        return [(TOUCH, (start, _SWIPE_Y)), (TOUCH, (end, _SWIPE_Y)), (LIFT, (end, _SWIPE_Y))]
    pos = (0.5, _NAV_Y) if action == HOME else (0.25, _NAV_Y)
    return [(TOUCH, pos), (LIFT, pos)]


def _as_int(value: Any, name: str, expected: str) -> int:
    """An integer scalar (Python or NumPy, 0-d or size-1 array) as ``int``."""
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    return int(arr.reshape(()))


def _parse_discrete(action: Any) -> int:
    index = _as_int(action, "action", f"an integer in [0, {N_DISCRETE})")
    if not 0 <= index < N_DISCRETE:
        raise ValueError(f"action must be an integer in [0, {N_DISCRETE}), got {index}")
    return index


def _parse_touch(action: Any) -> TouchEvent:
    expected = "a dict {'action_type': 0|1|2 (TOUCH, LIFT, REPEAT), 'touch_position': [x, y] in [0, 1]}"
    if not isinstance(action, Mapping) or set(action) != {"action_type", "touch_position"}:
        raise TypeError(f"action must be {expected}, got {action!r}")
    kind = _as_int(action["action_type"], "action['action_type']", "an integer 0, 1 or 2")
    if kind not in (TOUCH, LIFT, REPEAT):
        raise ValueError(f"action['action_type'] must be 0 (TOUCH), 1 (LIFT) or 2 (REPEAT), got {kind}")
    try:
        pos = np.asarray(action["touch_position"], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"action['touch_position'] must be 2 floats [x, y], got {action['touch_position']!r}") from err
    if pos.shape != (2,) or not np.all(np.isfinite(pos)) or pos.min() < 0.0 or pos.max() > 1.0:
        raise ValueError(f"action['touch_position'] must be 2 finite floats [x, y] in [0, 1], got {pos.tolist()}")
    return kind, (float(pos[0]), float(pos[1]))


@dataclass(frozen=True)
class PhoneLayout:
    """One episode's home screen: icon pages, dock and the status-bar / wallpaper look."""

    pages: tuple[tuple[str | None, ...], ...]
    dock: tuple[str | None, ...]
    wallpaper: int
    clock: str
    battery: int

    def locate(self, app: str) -> tuple[int | None, int]:
        """``(page, slot)`` of ``app``; page is None for the dock (slot = dock column)."""
        if app in self.dock:
            return None, self.dock.index(app)
        for p, slots in enumerate(self.pages):
            if app in slots:
                return p, slots.index(app)
        raise ValueError(f"app must be on the home screen, got {app!r}")

    @classmethod
    def sample(cls, rng: np.random.Generator, app_set: str) -> PhoneLayout:
        """A seeded random layout holding every app of the app set ``app_set``."""
        installed = list(APP_SETS[app_set])
        if app_set == "common":
            others = [a for a in catalogue.DIVERSE_APPS if a not in installed]
            n = int(rng.integers(_N_COMMON_DISTRACTORS[0], _N_COMMON_DISTRACTORS[1] + 1))
            installed += [others[i] for i in rng.choice(len(others), size=n, replace=False)]
        order = [installed[i] for i in rng.permutation(len(installed))]
        dock, rest = order[:DOCK_SLOTS], order[DOCK_SLOTS:]
        n_pages = max(1, math.ceil(len(rest) / SLOTS_PER_PAGE))
        padded = rest + [None] * (n_pages * SLOTS_PER_PAGE - len(rest))
        pages = tuple(tuple(padded[p * SLOTS_PER_PAGE : (p + 1) * SLOTS_PER_PAGE]) for p in range(n_pages))
        hour, minute = int(rng.integers(0, 24)), int(rng.integers(0, 60))
        return cls(
            pages=pages,
            dock=tuple(dock),
            wallpaper=int(rng.integers(len(catalogue.WALLPAPERS))),
            clock=f"{hour}:{minute:02d}",
            battery=int(rng.integers(5, 101)),
        )


class PhoneEnv(gymnasium.Env):
    """Simulated phone; goal "open the {app} app". See the module docstring.

    Args:
        apps: the app set, "common" (10 apps) or "diverse" (60 apps).
        goal_split: goals sampled at reset when no goal is given: "train", "heldout", "all".
        goal: a fixed goal for every episode (``reset(options={"goal": ...})`` overrides it).
        obs_size: observation size, an int (square) or ``(height, width)``; default 64.
        render_size: side of the square frame ``render()`` returns (the VLM input).
        render_mode: None or "rgb_array".
        action_mode: "discrete" (default) or "touch" (AndroidEnv's action spec).
        show_touches: draw a dot where the finger is down (only visible in touch mode).
        terminate_on_success: end the episode when the goal app opens. Turn it off when
            another signal (the VLM reward) decides when episodes end, so that ground truth
            does not leak into training through termination.

    Example:
        >>> env = PhoneEnv(apps="diverse", action_mode="touch")
        >>> obs, info = env.reset(seed=3)
        >>> int(env.action_space["action_type"].n), obs.dtype
        (3, dtype('uint8'))
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        apps: str = "common",
        goal_split: str = "train",
        goal: str | None = None,
        obs_size: int | tuple[int, int] = 64,
        render_size: int = 224,
        render_mode: str | None = None,
        action_mode: str = "discrete",
        show_touches: bool = True,
        terminate_on_success: bool = True,
        **legacy: Any,
    ) -> None:
        _reject_legacy("PhoneEnv", legacy)
        _check_apps(apps)
        if goal_split not in _SPLITS:
            raise ValueError(f"goal_split must be one of {_SPLITS}, got {goal_split!r}")
        if action_mode not in _ACTION_MODES:
            raise ValueError(f"action_mode must be one of {_ACTION_MODES}, got {action_mode!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.apps = apps
        self.goal_split = goal_split
        self.fixed_goal = None if goal is None else parse_goal(goal, apps)[0]
        self.obs_hw = size_arg("obs_size", obs_size, 8, 1024)
        render_hw = size_arg("render_size", render_size, 32, 1024)
        if render_hw[0] != render_hw[1]:
            raise ValueError(f"render_size must be one int (a square frame), got {render_size!r}")
        self.render_size = render_hw[0]
        self.render_mode = render_mode
        self.action_mode = action_mode
        self.show_touches = bool(show_touches)
        self.terminate_on_success = bool(terminate_on_success)

        self.observation_space = spaces.Box(0, 255, (*self.obs_hw, 3), dtype=np.uint8)
        if action_mode == "discrete":
            self.action_space = spaces.Discrete(N_DISCRETE)
        else:
            self.action_space = spaces.Dict(
                {
                    "action_type": spaces.Discrete(3),
                    "touch_position": spaces.Box(0.0, 1.0, (2,), dtype=np.float32),
                }
            )

        self.goal: str = ""
        self.target: str = ""
        self.layout: PhoneLayout | None = None
        self.foreground: str | None = None  # app key, None for the home screen
        self.page = 0
        self.episode_id = -1
        self._return_page = 0
        self._down: tuple[float, float] | None = None  # where the finger went down
        self._pointer: tuple[float, float] | None = None  # where it is now
        self._screens: dict[tuple[str | None, int], Image.Image] = {}
        self._obs_cache: dict[tuple[str | None, int], np.ndarray] = {}
        self._frame_cache: dict[tuple[str | None, int], np.ndarray] = {}
        self._crop_cache: dict[tuple[str | None, int, int], np.ndarray] = {}

    # --- Gymnasium API ------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(f"options must be a dict like {{'goal': 'open the clock app'}}, got {options!r}")
        options = dict(options or {})
        unknown = set(options) - {"goal"}
        if unknown:
            raise ValueError(f"options must only hold 'goal', got unknown keys {sorted(unknown)}")
        if options.get("goal") is not None:
            self.goal, self.target = parse_goal(options["goal"], self.apps)
        elif self.fixed_goal is not None:
            self.goal, self.target = parse_goal(self.fixed_goal, self.apps)
        else:
            candidates = goal_apps(self.goal_split, self.apps)
            self.target = candidates[int(self.np_random.integers(len(candidates)))]
            self.goal = goal_text(self.target)
        self.layout = PhoneLayout.sample(self.np_random, self.apps)
        self.foreground, self.page, self._return_page = None, 0, 0
        self._down = self._pointer = None
        self._screens.clear()
        self._obs_cache.clear()
        self._frame_cache.clear()
        self._crop_cache.clear()
        self.episode_id += 1
        return self._observation(), self._info()

    def step(self, action: Any):
        if self.layout is None:
            raise RuntimeError("call reset() before step()")
        if self.action_mode == "discrete":
            events = gesture_events(_parse_discrete(action))
        else:
            events = [_parse_touch(action)]
        for kind, pos in events:
            self._apply(kind, pos)
        success = self.success
        terminated = success and self.terminate_on_success
        return self._observation(), float(success), terminated, False, self._info()

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() needs render_mode='rgb_array'; returning None")
            return None
        if self.layout is None:
            raise RuntimeError("call reset() before render()")
        key = self._state_key()
        s = self.render_size
        width = max(1, round(s * SCREEN_W / SCREEN_H))
        left = (s - width) // 2
        frame = self._frame_cache.get(key)
        if frame is None:
            screen = self._screen(key).resize((width, s), Image.Resampling.BICUBIC)
            canvas = Image.new("RGB", (s, s), _LETTERBOX)
            canvas.paste(screen, (left, 0))
            frame = self._frame_cache[key] = np.asarray(canvas)
        return self._with_touch(frame, (left, 0), (width, s))

    # --- State ----------------------------------------------------------------------------

    @property
    def pointer_boxes(self) -> tuple[tuple[float, float, float, float], ...]:
        """The screen box of each tap action (the first ``len(boxes)`` discrete actions)."""
        if self.action_mode != "discrete":
            raise ValueError("pointer_boxes needs action_mode='discrete'")
        return tap_boxes()

    def region_crops(self, size: int) -> np.ndarray:
        """Each tap cell of the current screen, cropped from the native-resolution screen and
        resized to ``size`` x ``size``: ``(len(pointer_boxes), size, size, 3)`` uint8. On the
        home screen a cell is one app's icon and label; what a VLM sees of one region.

        Read-only and cached for the episode per screen and size: the region wrappers ask for
        them every step, and resizing the cells every step was 30% of the demo's time."""
        if self.layout is None:
            raise RuntimeError("call reset() before region_crops()")
        key = (*self._state_key(), int(size))
        out = self._crop_cache.get(key)
        if out is None:
            screen = self._screen(key[:2])
            out = np.empty((len(tap_boxes()), size, size, 3), np.uint8)
            for i, (x0, y0, x1, y1) in enumerate(tap_boxes()):
                box = (round(x0 * SCREEN_W), round(y0 * SCREEN_H), round(x1 * SCREEN_W), round(y1 * SCREEN_H))
                out[i] = np.asarray(screen.crop(box).resize((size, size), Image.Resampling.BICUBIC))
            out.flags.writeable = False
            self._crop_cache[key] = out
        return out

    def cell_apps(self) -> tuple[str | None, ...]:
        """The app whose icon each tap cell shows (None: empty cell or an app screen)."""
        if self.layout is None or self.foreground is not None:
            return (None,) * N_TAP_CELLS
        return tuple(self.layout.pages[self.page]) + tuple(self.layout.dock)

    @property
    def success(self) -> bool:
        """Ground truth: the goal app is in the foreground."""
        return self.foreground is not None and self.foreground == self.target

    def _info(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "ground_truth_success": bool(self.success),
            # A wrong app in the foreground: the agent did not go straight to its goal.
            "off_goal": self.foreground is not None and self.foreground != self.target,
            "foreground": self.foreground or "home",
            "page": self.page,
        }

    def _state_key(self) -> tuple[str | None, int]:
        # An app's screen does not depend on the page it was opened from.
        return (self.foreground, 0 if self.foreground else self.page)

    # --- Touch handling -------------------------------------------------------------------

    def _apply(self, kind: int, pos: tuple[float, float]) -> None:
        if kind == TOUCH:
            if self._down is None:
                self._down = pos
            self._pointer = pos
        elif kind == LIFT and self._down is not None:
            start, end = self._down, self._pointer or self._down
            self._down = self._pointer = None
            self._gesture(start, end)
        # REPEAT (and LIFT with no finger down) leaves everything as it is, as in AndroidEnv.

    def _gesture(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        dx = (end[0] - start[0]) * SCREEN_W
        dy = (end[1] - start[1]) * SCREEN_H
        if math.hypot(dx, dy) <= _TAP_SLOP:
            self._tap(start[0] * SCREEN_W, start[1] * SCREEN_H)
        elif abs(dx) >= _SWIPE_MIN and abs(dx) > abs(dy) and self.foreground is None:
            # The finger moving left drags the next page in, as on Android.
            assert self.layout is not None
            step = 1 if dx < 0 else -1
            self.page = min(max(self.page + step, 0), len(self.layout.pages) - 1)

    def _tap(self, px: float, py: float) -> None:
        assert self.layout is not None
        col = min(int(px // CELL_W), GRID_COLS - 1)
        if py >= NAV_TOP:
            button = min(int(px // (SCREEN_W / 3)), 2)
            if button == 0 and self.foreground is not None:  # back
                self.foreground, self.page = None, self._return_page
            elif button == 1:  # home: the launcher's first page
                self.foreground, self.page = None, 0
            return  # recents, and back on the home screen, do nothing here
        if self.foreground is not None:
            return  # in-app content is inert
        app = None
        if GRID_TOP <= py < GRID_BOTTOM:
            row = min(int((py - GRID_TOP) // CELL_H), GRID_ROWS - 1)
            app = self.layout.pages[self.page][row * GRID_COLS + col]
        elif DOCK_TOP <= py < DOCK_TOP + DOCK_H:
            app = self.layout.dock[col]
        if app is not None:
            self._return_page, self.foreground = self.page, app

    # --- Drawing --------------------------------------------------------------------------

    def _screen(self, key: tuple[str | None, int]) -> Image.Image:
        """The native screen for ``key``, cached for the episode."""
        img = self._screens.get(key)
        if img is None:
            layout = self.layout
            assert layout is not None
            app, page = key
            if app is None:
                img = catalogue.launcher_page(
                    layout.wallpaper,
                    list(layout.pages[page]),
                    list(layout.dock),
                    page,
                    len(layout.pages),
                    layout.clock,
                    layout.battery,
                )
            else:
                img = catalogue.app_screen_body(app).copy()
                catalogue.draw_status_bar(img, layout.clock, layout.battery, catalogue.app_status_color(app))
            self._screens[key] = img
        return img

    def _observation(self) -> np.ndarray:
        key = self._state_key()
        obs = self._obs_cache.get(key)
        if obs is None:
            h, w = self.obs_hw
            # BOX (area averaging) is the cheapest filter that does not alias thin text strokes.
            obs = self._obs_cache[key] = np.asarray(self._screen(key).resize((w, h), Image.Resampling.BOX))
        return self._with_touch(obs, (0, 0), (self.obs_hw[1], self.obs_hw[0]))

    def _with_touch(self, image: np.ndarray, offset: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
        """A copy of ``image`` with the finger dot drawn on the screen at ``offset``/``size`` (w, h)."""
        out = image.copy()
        if self._pointer is None or not self.show_touches:
            return out
        sx, sy = size[0] / SCREEN_W, size[1] / SCREEN_H
        cx, cy = offset[0] + self._pointer[0] * size[0], offset[1] + self._pointer[1] * size[1]
        rx, ry = max(1.0, _TOUCH_RADIUS * sx), max(1.0, _TOUCH_RADIUS * sy)
        y0, y1 = max(0, int(cy - ry)), min(out.shape[0], int(math.ceil(cy + ry)) + 1)
        x0, x1 = max(0, int(cx - rx)), min(out.shape[1], int(math.ceil(cx + rx)) + 1)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        mask = ((xx + 0.5 - cx) / rx) ** 2 + ((yy + 0.5 - cy) / ry) ** 2 <= 1.0
        patch = out[y0:y1, x0:x1]
        patch[mask] = (patch[mask].astype(np.uint16) + 255) // 2
        return out

    # --- Privileged planning (used by the scripted solver) -----------------------------------

    def plan(self) -> int:
        """The next discrete action on a shortest path to the goal app (privileged state)."""
        assert self.layout is not None
        if self.foreground is not None:
            return BACK if not self.success else HOME
        page, slot = self.layout.locate(self.target)
        if page is None:
            return GRID_ROWS * GRID_COLS + slot
        if page == self.page:
            return slot
        return SWIPE_LEFT if page > self.page else SWIPE_RIGHT


class DiscretePhoneActions(gymnasium.Wrapper):
    """Discrete actions (the 28 of ``action_mode="discrete"``) over a touch-mode phone env.

    Each discrete action is played as its touch events (a tap is TOUCH + LIFT, a swipe
    TOUCH + TOUCH + LIFT), one inner ``step`` per event, like AndroidEnv's tap wrapper; so a
    time limit *inside* this wrapper counts touch events. ``PhoneEnv(action_mode="discrete")``
    is the same action set with one step per gesture.

    Example:
        >>> env = DiscretePhoneActions(PhoneEnv(action_mode="touch"))
        >>> env.action_space
        Discrete(28)
    """

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        base = env.unwrapped
        if not isinstance(base, PhoneEnv) or base.action_mode != "touch":
            raise ValueError("env must be a PhoneEnv with action_mode='touch' (possibly wrapped)")
        self.action_space = spaces.Discrete(N_DISCRETE)

    def step(self, action: Any):
        reward_sum = 0.0
        for kind, pos in gesture_events(_parse_discrete(action)):
            touch = {"action_type": np.int64(kind), "touch_position": np.asarray(pos, dtype=np.float32)}
            obs, reward, terminated, truncated, info = self.env.step(touch)
            reward_sum += float(reward)
            if terminated or truncated:
                break
        return obs, reward_sum, terminated, truncated, info


def make_solver(env: gymnasium.Env) -> Callable[[Any], Any]:
    """A scripted solver for a (possibly wrapped) :class:`PhoneEnv`: ``solver(obs) -> action``.

    It reads privileged state (where the goal icon is, which screen is showing): back out
    of a wrong app, swipe to the goal's page, tap its icon. It answers in the action space
    of ``env``: a discrete index, or AndroidEnv touch dicts one event at a time.

    Example:
        >>> env = PhoneEnv(action_mode="touch")
        >>> obs, _ = env.reset(seed=1)
        >>> make_solver(env)(obs)["action_type"] in (0, 1)
        True
    """
    base = env.unwrapped
    if not isinstance(base, PhoneEnv):
        raise TypeError(f"env must wrap a PhoneEnv, got {type(base).__name__}")
    if isinstance(env.action_space, spaces.Discrete):
        return lambda obs=None: np.int64(base.plan())

    queue: list[TouchEvent] = []
    seen_episode = [base.episode_id]

    def touch_solver(obs: Any = None) -> dict[str, np.ndarray]:
        if base.episode_id != seen_episode[0]:
            queue.clear()
            seen_episode[0] = base.episode_id
        if not queue:
            if base._down is not None:  # a finger left down by someone else: lift it first
                queue.append((LIFT, base._pointer or base._down))
            else:
                queue.extend(gesture_events(base.plan()))
        kind, pos = queue.pop(0)
        return {"action_type": np.int64(kind), "touch_position": np.asarray(pos, dtype=np.float32)}

    return touch_solver
