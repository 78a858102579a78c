"""Adapter exposing DeepMind's AndroidEnv (a ``dm_env.Environment``) as a Gymnasium env.

``AndroidGoalEnv`` adds the project's env contract on top of a real AndroidEnv: a language
goal per episode (``info["goal"]``), pixel observations resized to ``obs_size``, ``render()``
frames at ``render_size`` for the VLM, and ``info["ground_truth_success"]`` taken from the
task's own reward (the task textproto's log regexps decide it; never the VLM).

The AndroidEnv comes from ``android_env.loader.load`` (a task textproto plus an emulator or
fake-simulator config, built here from keyword arguments) or is passed in as an object.
android_env is imported only when an env is built; install it with
``pip install 'vlm-rewards[android]'``.

Example (a running Android emulator AVD and a task file are needed):
    >>> env = AndroidGoalEnv(
    ...     goal="open the clock app",
    ...     task_path="~/android_env_tasks/clock.textproto",
    ...     avd_name="Pixel_6_API_33",
    ... )
    >>> obs, info = env.reset(seed=0)
    >>> action = {"action_type": 0, "touch_position": [0.5, 0.8]}  # TOUCH at (x, y)
    >>> obs, reward, terminated, truncated, info = env.step(action)
    >>> info["goal"], info["ground_truth_success"]
    ('open the clock app', False)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from vlm_rewards.envs._frames import resize_frame, size_arg

__all__ = ["AndroidGoalEnv", "load_android_env"]

_INSTALL_HINT = "AndroidGoalEnv needs android_env: pip install 'vlm-rewards[android]'"
_RENDER_SIZE_RANGE = (64, 224)
_OBS_SIZE_RANGE = (8, 1024)

#: ``success_fn(goal, timestep, task_extras) -> bool`` overrides "task reward > 0".
SuccessFn = Callable[[str, Any, dict[str, np.ndarray]], bool]


def _import_android_env():
    try:
        import dm_env
        from android_env import loader
        from android_env.components import config_classes
    except ImportError as error:
        raise ImportError(f"{_INSTALL_HINT} ({error})") from error
    return dm_env, loader, config_classes


def load_android_env(
    task_path: str,
    *,
    simulator_config: Any = None,
    avd_name: str | None = None,
    android_sdk_root: str = "~/Android/Sdk",
    android_avd_home: str = "~/.android/avd",
    emulator_path: str = "~/Android/Sdk/emulator/emulator",
    adb_path: str = "~/Android/Sdk/platform-tools/adb",
    run_headless: bool = True,
) -> Any:
    """Build an AndroidEnv with ``android_env.loader.load`` from a task file.

    Give either ``avd_name`` (an emulator AVD; the paths say where the SDK tools are; ``~``
    is expanded) or ``simulator_config`` (any ``android_env.components.config_classes``
    simulator config, e.g. ``FakeSimulatorConfig(screen_dimensions=(480, 320))``).

    Example:
        >>> env = load_android_env("tasks/clock.textproto", avd_name="Pixel_6_API_33")
        >>> timestep = env.reset()
    """
    _, loader, config_classes = _import_android_env()
    if not isinstance(task_path, (str, os.PathLike)) or not os.path.isfile(os.path.expanduser(task_path)):
        raise ValueError(f"task_path must be an existing task .textproto/.binarypb file, got {task_path!r}")
    if (simulator_config is None) == (avd_name is None):
        raise ValueError(
            "give exactly one of avd_name (an Android emulator AVD) or simulator_config "
            f"(an android_env config_classes simulator config); got avd_name={avd_name!r}, "
            f"simulator_config={simulator_config!r}"
        )
    if simulator_config is None:
        if not isinstance(avd_name, str) or not avd_name:
            raise ValueError(f"avd_name must be a non-empty str, got {avd_name!r}")
        simulator_config = config_classes.EmulatorConfig(
            emulator_launcher=config_classes.EmulatorLauncherConfig(
                avd_name=avd_name,
                android_sdk_root=android_sdk_root,
                android_avd_home=android_avd_home,
                emulator_path=emulator_path,
                run_headless=run_headless,
            ),
            # loader.load expands "~" in these paths itself.
            adb_controller=config_classes.AdbControllerConfig(adb_path=adb_path),
        )
    elif not isinstance(simulator_config, config_classes.SimulatorConfig):
        raise TypeError(
            "simulator_config must be an android_env config_classes.SimulatorConfig "
            f"(EmulatorConfig or FakeSimulatorConfig), got {type(simulator_config).__name__}"
        )
    config = config_classes.AndroidEnvConfig(
        task=config_classes.FilesystemTaskConfig(path=os.path.expanduser(os.fspath(task_path))),
        simulator=simulator_config,
    )
    return loader.load(config)


def _spec_to_space(spec: Any, dm_specs: Any) -> spaces.Space:
    if isinstance(spec, dm_specs.DiscreteArray):
        return spaces.Discrete(int(spec.num_values))
    shape, dtype = tuple(spec.shape), np.dtype(spec.dtype)
    if isinstance(spec, dm_specs.BoundedArray):
        low = np.broadcast_to(np.asarray(spec.minimum, dtype=dtype), shape)
        high = np.broadcast_to(np.asarray(spec.maximum, dtype=dtype), shape)
        return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    if dtype.kind == "f":
        return spaces.Box(-np.inf, np.inf, shape=shape, dtype=dtype)
    info = np.iinfo(dtype)
    return spaces.Box(info.min, info.max, shape=shape, dtype=dtype)


class AndroidGoalEnv(gymnasium.Env):
    """An AndroidEnv task as a Gymnasium env with a language goal.

    Args:
        goal: the goal text, or a list of goal texts sampled (seeded) at each reset.
            ``reset(options={"goal": text})`` must name one of them. The task decides success,
            so with several goals the task must reward the active one (or pass ``success_fn``).
        env: an AndroidEnv (any ``dm_env.Environment`` with a ``pixels`` observation) to wrap;
            closing this adapter closes it.
        task_path, simulator_config, avd_name, android_sdk_root, android_avd_home,
        emulator_path, adb_path, run_headless: build the AndroidEnv with
            :func:`load_android_env` instead (give ``env`` or ``task_path``, not both).
        obs_size: observation size, int or (height, width); the screen is resized to it.
        render_size: size of ``render()`` frames (the VLM's input), 64..224.
        render_mode: ``None`` or "rgb_array".
        terminate_on_success: end the episode on the step the task reports success.
        success_fn: ``success_fn(goal, timestep, task_extras) -> bool`` replacing the default
            ground truth "task reward > 0" (e.g. to read which app the extras say is open).

    Observations are uint8 ``(H, W, 3)`` screens; actions are dicts mirroring the task's
    ``action_spec()``: ``{"action_type": 0 (TOUCH) | 1 (LIFT) | 2 (REPEAT),
    "touch_position": [x, y] in [0, 1]^2}``. The reward is 1.0 on ground-truth success, else
    0.0; the raw task reward is ``info["task_reward"]`` and the task's extras are
    ``info["task_extras"]``. The device itself is not seeded: only the goal choice is.

    Example:
        >>> from android_env.components import config_classes
        >>> env = AndroidGoalEnv(  # android_env's fake simulator: random screens, no device
        ...     goal=["open the clock app", "open the camera app"],
        ...     task_path="my_task.textproto",
        ...     simulator_config=config_classes.FakeSimulatorConfig(screen_dimensions=(480, 320)),
        ... )
        >>> obs, info = env.reset(seed=0, options={"goal": "open the camera app"})
        >>> obs.shape, info["goal"]
        ((64, 64, 3), 'open the camera app')
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        goal: str | Sequence[str] = "open the clock app",
        *,
        env: Any = None,
        task_path: str | None = None,
        simulator_config: Any = None,
        avd_name: str | None = None,
        android_sdk_root: str = "~/Android/Sdk",
        android_avd_home: str = "~/.android/avd",
        emulator_path: str = "~/Android/Sdk/emulator/emulator",
        adb_path: str = "~/Android/Sdk/platform-tools/adb",
        run_headless: bool = True,
        obs_size: int | tuple[int, int] = 64,
        render_size: int | tuple[int, int] = 224,
        render_mode: str | None = None,
        terminate_on_success: bool = True,
        success_fn: SuccessFn | None = None,
    ) -> None:
        self.goal_set = self._check_goals(goal)
        self.obs_size = size_arg("obs_size", obs_size, *_OBS_SIZE_RANGE)
        self.render_size = size_arg("render_size", render_size, *_RENDER_SIZE_RANGE)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if success_fn is not None and not callable(success_fn):
            raise TypeError(f"success_fn must be callable(goal, timestep, task_extras) or None, got {success_fn!r}")
        if (env is None) == (task_path is None):
            raise ValueError(
                "give exactly one of env (an AndroidEnv / dm_env.Environment) or task_path "
                f"(a task textproto for android_env.loader.load); got env={env!r}, task_path={task_path!r}"
            )
        dm_env, _, _ = _import_android_env()
        if env is None:
            env = load_android_env(
                task_path,
                simulator_config=simulator_config,
                avd_name=avd_name,
                android_sdk_root=android_sdk_root,
                android_avd_home=android_avd_home,
                emulator_path=emulator_path,
                adb_path=adb_path,
                run_headless=run_headless,
            )
        elif not all(hasattr(env, name) for name in ("action_spec", "observation_spec", "reset", "step")):
            raise TypeError(f"env must be a dm_env.Environment such as AndroidEnv, got {type(env).__name__}")
        if "pixels" not in env.observation_spec():
            raise ValueError(f"env must observe 'pixels'; its observation_spec has {sorted(env.observation_spec())}")

        self.android_env = env
        self._action_spec: dict[str, Any] = dict(env.action_spec())
        self.action_space = spaces.Dict(
            {key: _spec_to_space(spec, dm_env.specs) for key, spec in self._action_spec.items()}
        )
        self.observation_space = spaces.Box(0, 255, (*self.obs_size, 3), dtype=np.uint8)
        self.render_mode = render_mode
        self.terminate_on_success = bool(terminate_on_success)
        self.success_fn = success_fn
        self.goal = self.goal_set[0]
        self._pixels: np.ndarray | None = None
        self._closed = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        goal = (options or {}).get("goal")
        if goal is None:
            goal = self.goal_set[int(self.np_random.integers(len(self.goal_set)))]
        elif goal not in self.goal_set:
            raise ValueError(f"options['goal'] must be one of this env's goals {self.goal_set}, got {goal!r}")
        self.goal = goal
        timestep = self.android_env.reset()
        self._pixels = np.asarray(timestep.observation["pixels"], dtype=np.uint8)
        info = {"goal": goal, "ground_truth_success": False, "task_reward": 0.0, "task_extras": self._extras()}
        return resize_frame(self._pixels, self.obs_size), info

    def step(self, action: Mapping[str, Any]) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._pixels is None:
            raise RuntimeError("call reset() before step()")
        timestep = self.android_env.step(self._to_dm_action(action))
        self._pixels = np.asarray(timestep.observation["pixels"], dtype=np.uint8)
        extras = self._extras()
        task_reward = float(timestep.reward or 0.0)
        if self.success_fn is not None:
            success = bool(self.success_fn(self.goal, timestep, extras))
        else:
            success = task_reward > 0.0
        # dm_env ends an episode with discount 0 on termination and discount > 0 on truncation
        # (time or step limit of the task, or the user left the app).
        ended = timestep.last()
        terminated = (ended and float(timestep.discount or 0.0) == 0.0) or (success and self.terminate_on_success)
        truncated = ended and not terminated
        info = {
            "goal": self.goal,
            "ground_truth_success": success,
            "task_reward": task_reward,
            "task_extras": extras,
        }
        return resize_frame(self._pixels, self.obs_size), 1.0 if success else 0.0, bool(terminated), bool(truncated), info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() needs render_mode='rgb_array' (got None)")
            return None
        if self._pixels is None:
            raise RuntimeError("call reset() before render()")
        return resize_frame(self._pixels, self.render_size)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.android_env.close()

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _check_goals(goal: Any) -> list[str]:
        goal_set = [goal] if isinstance(goal, str) else goal
        if (
            not isinstance(goal_set, Sequence)
            or not goal_set
            or not all(isinstance(g, str) and g.strip() for g in goal_set)
        ):
            raise ValueError(f"goal must be a non-empty str or a non-empty list of them, got {goal!r}")
        return list(dict.fromkeys(goal_set))

    def _to_dm_action(self, action: Any) -> dict[str, np.ndarray]:
        expected = sorted(self._action_spec)
        if not isinstance(action, Mapping) or sorted(action) != expected:
            got = sorted(action) if isinstance(action, Mapping) else type(action).__name__
            raise ValueError(f"action must be a dict with keys {expected} (see action_space), got {got}")
        dm_action = {}
        for key, spec in self._action_spec.items():
            space = self.action_space[key]
            value = np.asarray(action[key])
            if isinstance(space, spaces.Discrete):
                ok = value.shape == () and value.dtype.kind in "iu" and 0 <= int(value) < space.n
                expected_form = f"an int in [0, {space.n})"
            else:
                ok = value.shape == space.shape and value.dtype.kind in "iuf"
                ok = ok and space.contains(value.astype(space.dtype))
                expected_form = f"an array of shape {space.shape} within [{space.low.min()}, {space.high.max()}]"
            if not ok:
                raise ValueError(f"action[{key!r}] must be {expected_form}, got {action[key]!r}")
            dm_action[key] = value.astype(spec.dtype).reshape(spec.shape)
        return dm_action

    def _extras(self) -> dict[str, np.ndarray]:
        task_extras = getattr(self.android_env, "task_extras", None)
        return dict(task_extras(latest_only=True)) if callable(task_extras) else {}
