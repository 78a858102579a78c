"""AndroidGoalEnv end to end against android_env's own FakeSimulator (no device needed)."""

from __future__ import annotations

import sys
import time

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import vlm_rewards.envs  # noqa: F401  (registers vlm_rewards/AndroidEnv-v0)
from vlm_rewards.envs.android import AndroidGoalEnv

SCREEN = (120, 80)  # (height, width) of the fake device
TOUCH, LIFT = 0, 1

# A task whose log regexps match the lines android_env's FakeSimulator emits at random
# ("reward: 0.5", "reward: 1.0", "extra: my_extra [1.0]", "episode end").
REWARDING_TASK = r"""
id: "fake_clock"
name: "fake clock task"
max_episode_steps: 500
log_parsing_config {
  filters: "Tag:V"
  log_regexps {
    reward: "^[Rr]eward: ([-+]?[0-9]*\\.?[0-9]*)$"
    extra: "^extra: (?P<name>[^ ]*)[ ]?(?P<extra>.*)$"
  }
}
"""
# The same task without regexps: the fake log lines then carry no reward, so the env is
# deterministic enough for Gymnasium's checker.
QUIET_TASK = 'id: "fake_quiet"\nname: "quiet fake task"\nmax_episode_steps: 500\n'


@pytest.fixture
def fake_android(tmp_path, monkeypatch):
    """Builds AndroidGoalEnvs on android_env's FakeSimulator; records the touches it receives."""
    pytest.importorskip("android_env")
    from android_env.components import config_classes
    from android_env.components.simulators.fake import fake_simulator

    touches: list[tuple[int, int, bool, int]] = []
    rows = np.linspace(0, 255, SCREEN[0], dtype=np.uint8)
    # The fake device shows random noise; a fixed picture makes seeded resets comparable.
    monkeypatch.setattr(
        fake_simulator.FakeSimulator,
        "_get_screenshot_impl",
        lambda self: np.repeat(np.repeat(rows[:, None, None], SCREEN[1], axis=1), 3, axis=2),
    )
    monkeypatch.setattr(
        fake_simulator.FakeSimulator, "send_touch", lambda self, batch: touches.extend(batch)
    )
    made: list[AndroidGoalEnv] = []

    def make(task: str = QUIET_TASK, **kwargs) -> AndroidGoalEnv:
        path = tmp_path / f"task_{len(made)}.textproto"
        path.write_text(task)
        kwargs.setdefault("simulator_config", config_classes.FakeSimulatorConfig(screen_dimensions=SCREEN))
        env = AndroidGoalEnv(task_path=str(path), **kwargs)
        made.append(env)
        return env

    make.touches = touches
    make.config_classes = config_classes
    make.tmp_path = tmp_path
    yield make
    for env in made:
        env.close()


def touch(x: float, y: float) -> dict:
    return {"action_type": TOUCH, "touch_position": np.array([x, y], dtype=np.float32)}


def test_check_env_passes_with_fake_simulator(fake_android):
    path = fake_android.tmp_path / "registered.textproto"
    path.write_text(QUIET_TASK)
    sim = fake_android.config_classes.FakeSimulatorConfig(screen_dimensions=SCREEN)
    goals = ["open the clock app", "open the camera app"]
    # Through the registered id, so the checker also re-makes it per render mode and closes twice.
    env = gymnasium.make(
        "vlm_rewards/AndroidEnv-v0", goal=goals, task_path=str(path), simulator_config=sim, render_mode="rgb_array"
    )
    try:
        assert isinstance(env.unwrapped, AndroidGoalEnv)
        check_env(env.unwrapped)
        obs, info = env.reset(seed=0)
        assert obs.shape == (64, 64, 3) and info["goal"] in goals
    finally:
        env.close()


def test_end_to_end_touches_reach_the_device(fake_android):
    env = fake_android(goal="open the clock app", obs_size=(48, 32), render_size=96, render_mode="rgb_array")
    assert set(env.action_space.spaces) == {"action_type", "touch_position"}
    obs, info = env.reset(seed=0)
    assert obs.shape == (48, 32, 3) and obs.dtype == np.uint8
    assert info["goal"] == "open the clock app" and info["ground_truth_success"] is False
    fake_android.touches.clear()

    for x, y in [(0.25, 0.75), (0.9, 0.1), (0.5, 0.5)]:
        obs, reward, terminated, truncated, info = env.step(touch(x, y))
        assert obs.shape == (48, 32, 3) and obs in env.observation_space
        assert set(info) >= {"goal", "ground_truth_success", "task_reward", "task_extras"}
        assert reward == 0.0 and not terminated and not truncated
    obs, *_ = env.step({"action_type": LIFT, "touch_position": [0.0, 0.0]})

    height, width = SCREEN
    pressed = [(x, y) for x, y, down, _ in fake_android.touches if down]
    assert pressed == [(int(0.25 * width), int(0.75 * height)), (int(0.9 * width), int(0.1 * height)),
                       (int(0.5 * width), int(0.5 * height))]
    assert not fake_android.touches[-1][2]  # the LIFT
    frame = env.render()
    assert frame.shape == (96, 96, 3) and frame.dtype == np.uint8
    # The fake screen is a vertical gradient; it survives the resize top to bottom.
    assert frame[0].mean() < frame[-1].mean()


def test_ground_truth_is_the_task_reward(fake_android):
    env = fake_android(task=REWARDING_TASK, goal="open the clock app")
    env.reset(seed=0)
    for _ in range(150):
        time.sleep(0.11)  # the fake device logs one line per 0.1 s; rewards come from those lines
        _, reward, terminated, truncated, info = env.step({"action_type": LIFT, "touch_position": [0.5, 0.5]})
        assert info["ground_truth_success"] == (info["task_reward"] > 0)
        assert reward == (1.0 if info["ground_truth_success"] else 0.0)
        if info["ground_truth_success"]:
            assert terminated and not truncated
            assert info["task_reward"] in (0.5, 1.0)
            return
        if terminated or truncated:
            env.reset()
    pytest.fail("the fake device never logged a reward line in 150 steps")


def test_goal_choice_is_seeded_and_validated(fake_android):
    goals = ["open the clock app", "open the camera app", "open the gmail app"]
    env = fake_android(goal=goals)
    first = [env.reset(seed=s)[1]["goal"] for s in range(8)]
    again = [env.reset(seed=s)[1]["goal"] for s in range(8)]
    assert first == again and set(first) <= set(goals) and len(set(first)) > 1
    _, info = env.reset(options={"goal": "open the gmail app"})
    assert info["goal"] == "open the gmail app"
    with pytest.raises(ValueError, match="goal"):
        env.reset(options={"goal": "open the maps app"})


@pytest.mark.parametrize(
    "action",
    [
        {"action_type": 3, "touch_position": [0.5, 0.5]},
        {"action_type": 0.5, "touch_position": [0.5, 0.5]},
        {"action_type": 0, "touch_position": [1.5, 0.5]},
        {"action_type": 0, "touch_position": [0.5]},
        {"action_type": 0},
        {"action_type": 0, "touch_position": [0.5, 0.5], "keycode": 3},
        3,
    ],
)
def test_invalid_action_raises(fake_android, action):
    env = fake_android()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_bad_construction_raises(fake_android):
    with pytest.raises(ValueError, match="env.*task_path"):
        AndroidGoalEnv(goal="open the clock app")
    with pytest.raises(ValueError, match="task_path"):
        AndroidGoalEnv(task_path=str(fake_android.tmp_path / "missing.textproto"), avd_name="x")
    with pytest.raises(ValueError, match="goal"):
        fake_android(goal=[])
    with pytest.raises(ValueError, match="avd_name"):
        fake_android(avd_name="Pixel_6")  # and a simulator_config: ambiguous
    with pytest.raises(ValueError, match="render_size"):
        fake_android(render_size=16)


def test_wrapping_a_dm_env_object_maps_termination_and_truncation():
    dm_env = pytest.importorskip("dm_env")
    from dm_env import specs

    class TapTheCorner(dm_env.Environment):
        """Success when the top-left quarter is touched; truncated after 3 steps otherwise."""

        def __init__(self):
            self.steps, self.closed = 0, False

        def observation_spec(self):
            return {"pixels": specs.Array((40, 30, 3), np.uint8)}

        def action_spec(self):
            return {
                "action_type": specs.DiscreteArray(3),
                "touch_position": specs.BoundedArray((2,), np.float32, 0.0, 1.0),
            }

        def _obs(self):
            return {"pixels": np.full((40, 30, 3), self.steps * 40, np.uint8)}

        def reset(self):
            self.steps = 0
            return dm_env.restart(self._obs())

        def step(self, action):
            self.steps += 1
            assert action["touch_position"].dtype == np.float32 and action["action_type"].shape == ()
            if action["action_type"] == TOUCH and (action["touch_position"] < 0.5).all():
                return dm_env.termination(1.0, self._obs())
            if self.steps >= 3:
                return dm_env.truncation(0.0, self._obs())
            return dm_env.transition(0.0, self._obs())

        def close(self):
            self.closed = True

    inner = TapTheCorner()
    env = AndroidGoalEnv(goal="tap the corner", env=inner, obs_size=20)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(touch(0.2, 0.3))
    assert (reward, terminated, truncated, info["ground_truth_success"]) == (1.0, True, False, True)

    env.reset()
    results = [env.step(touch(0.8, 0.8)) for _ in range(3)]
    assert [(r[2], r[3]) for r in results] == [(False, False), (False, False), (False, True)]
    assert not any(r[4]["ground_truth_success"] for r in results)

    # success_fn overrides "task reward > 0".
    env = AndroidGoalEnv(goal="tap anywhere", env=TapTheCorner(), success_fn=lambda goal, ts, extras: True)
    env.reset()
    assert env.step(touch(0.9, 0.9))[4]["ground_truth_success"]
    env.close()
    assert inner.closed is False and env.android_env.closed is True


def test_missing_android_env_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "android_env", None)
    with pytest.raises(ImportError, match=r"vlm-rewards\[android\]"):
        AndroidGoalEnv(goal="open the clock app", task_path="task.textproto", avd_name="Pixel_6")
