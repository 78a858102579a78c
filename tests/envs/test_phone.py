"""Tests for the simulated phone (``vlm_rewards/Phone-v0``)."""

from __future__ import annotations

import itertools
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import vlm_rewards.envs as envs
from vlm_rewards.envs.phone import apps as phone_apps
from vlm_rewards.envs.phone import (
    BACK,
    HOME,
    LIFT,
    REPEAT,
    SWIPE_LEFT,
    SWIPE_RIGHT,
    TOUCH,
    DiscretePhoneActions,
    PhoneEnv,
    cell_center,
    goals,
    make_solver,
)

ENV_ID = "vlm_rewards/Phone-v0"


def touch(kind: int, x: float = 0.5, y: float = 0.5) -> dict[str, np.ndarray]:
    return {"action_type": np.int64(kind), "touch_position": np.array([x, y], dtype=np.float32)}


def tap(env: gym.Env, x: float, y: float):
    env.step(touch(TOUCH, x, y))
    return env.step(touch(LIFT, x, y))


def run_solver(env: gym.Env, goal: str, seed: int) -> tuple[bool, int]:
    obs, info = env.reset(seed=seed, options={"goal": goal})
    solver = make_solver(env)
    steps = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(solver(obs))
        steps += 1
        assert info["goal"] == goal
        assert reward == float(info["ground_truth_success"])
        if terminated or truncated:
            return bool(info["ground_truth_success"]), steps


# --- Goal sets --------------------------------------------------------------------------------


@pytest.mark.parametrize(("app_set", "n_all", "n_heldout"), [("common", 10, 3), ("diverse", 60, 15)])
def test_app_sets_have_fixed_disjoint_splits(app_set, n_all, n_heldout):
    train, heldout, every = (goals(s, apps=app_set) for s in ("train", "heldout", "all"))
    assert len(every) == len(set(every)) == n_all
    assert len(heldout) == n_heldout
    assert set(train).isdisjoint(heldout)
    assert set(train) | set(heldout) == set(every)
    assert all(g.startswith("open the ") and g.endswith(" app") for g in every)
    assert envs.goals("phone", "heldout", apps=app_set) == heldout
    assert envs.goals_from_spec(f"phone:{app_set}", "heldout") == heldout


def test_common_goals_are_in_the_diverse_set_with_the_same_held_out_side():
    assert set(goals("all")) <= set(goals("all", apps="diverse"))
    assert set(goals("heldout")) <= set(goals("heldout", apps="diverse"))
    assert set(goals("train")).isdisjoint(goals("heldout", apps="diverse"))


def test_bad_split_or_app_set_is_rejected():
    with pytest.raises(ValueError, match="split"):
        goals("test")
    with pytest.raises(ValueError, match="apps"):
        goals("train", apps="all-apps")


def test_the_former_goal_set_keyword_names_apps():
    # goal_set means a list of goal texts everywhere else; the app set is apps=.
    for call in (lambda: goals("train", goal_set="diverse"), lambda: PhoneEnv(goal_set="diverse"),
                 lambda: envs.goals("phone", "all", goal_set="diverse")):
        with pytest.raises(TypeError, match="apps='common' or apps='diverse'.*goal_set was renamed apps"):
            call()


# --- API checkers ----------------------------------------------------------------------------


@pytest.mark.parametrize("action_mode", ["discrete", "touch"])
def test_gymnasium_env_checker_passes(action_mode):
    # Made through gym.make so the checker can also try the other render modes from the spec.
    env = gym.make(ENV_ID, action_mode=action_mode, render_mode="rgb_array", apps="diverse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_sb3_env_checker_passes_for_discrete_mode():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(PhoneEnv(), warn=True)


def test_registered_env_defaults():
    env = gym.make(ENV_ID, render_mode="rgb_array")
    assert env.spec.max_episode_steps == 30
    assert env.action_space == gym.spaces.Discrete(28)
    obs, info = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert env.render().shape == (224, 224, 3)
    assert info["goal"] in goals("train") and info["ground_truth_success"] is False


def test_touch_action_space_mirrors_android_env():
    space = PhoneEnv(action_mode="touch").action_space
    assert space["action_type"] == gym.spaces.Discrete(3)
    pos = space["touch_position"]
    assert pos.shape == (2,) and pos.dtype == np.float32
    assert np.all(pos.low == 0.0) and np.all(pos.high == 1.0)


# --- Seeding -------------------------------------------------------------------------------


@pytest.mark.parametrize("action_mode", ["discrete", "touch"])
def test_same_seed_same_episode(action_mode):
    def rollout(seed: int):
        env = PhoneEnv(action_mode=action_mode, apps="diverse", render_mode="rgb_array")
        obs, info = env.reset(seed=seed)
        env.action_space.seed(123)
        observations, frames, goals_seen = [obs], [env.render()], [info["goal"]]
        for _ in range(40):
            obs, _, terminated, truncated, info = env.step(env.action_space.sample())
            observations.append(obs)
            frames.append(env.render())
            if terminated or truncated:
                obs, info = env.reset()
                observations.append(obs)
                goals_seen.append(info["goal"])
        return env.layout, goals_seen, np.stack(observations), np.stack(frames)

    a, b = rollout(7), rollout(7)
    assert a[0] == b[0] and a[1] == b[1]
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[3], b[3])
    assert rollout(8)[0] != a[0]


def test_layouts_shuffle_across_episodes_and_hold_every_goal_app():
    env = PhoneEnv(apps="common")
    positions = set()
    for seed in range(6):
        env.reset(seed=seed)
        layout = env.layout
        installed = [a for a in itertools.chain(layout.dock, *layout.pages) if a is not None]
        assert len(installed) == len(set(installed)) > 10  # goal apps plus distractors
        assert set(phone_apps.COMMON_APPS) <= set(installed)
        positions.add(layout.locate("clock"))
    assert len(positions) > 1

    env = PhoneEnv(apps="diverse")
    env.reset(seed=0)
    installed = [a for a in itertools.chain(env.layout.dock, *env.layout.pages) if a is not None]
    assert sorted(installed) == sorted(phone_apps.DIVERSE_APPS)
    assert len(env.layout.pages) == 3


# --- Solver ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app_set", "action_mode"), list(itertools.product(["common", "diverse"], ["discrete", "touch"]))
)
def test_scripted_solver_reaches_every_goal_within_the_time_limit(app_set, action_mode):
    env = gym.make(ENV_ID, apps=app_set, action_mode=action_mode)
    results = [run_solver(env, goal, seed) for seed, goal in enumerate(goals("all", apps=app_set))]
    success = np.mean([ok for ok, _ in results])
    assert success >= 0.95
    assert max(steps for _, steps in results) <= (4 if action_mode == "discrete" else 10)


def test_solver_works_through_the_discrete_wrapper_and_from_inside_a_wrong_app():
    env = DiscretePhoneActions(gym.make(ENV_ID, apps="diverse", action_mode="touch"))
    assert env.action_space == gym.spaces.Discrete(28)
    for seed, goal in enumerate(goals("heldout", apps="diverse")):
        env.reset(seed=seed, options={"goal": goal})
        base = env.unwrapped
        wrong = next(a for a in base.layout.pages[0] if a is not None and a != base.target)
        env.step(base.layout.pages[0].index(wrong))
        assert base.foreground == wrong
        solver = envs.make_solver(env)  # the domain-level lookup finds this module's solver
        for _ in range(8):
            obs, reward, terminated, truncated, info = env.step(solver(None))
            if terminated or truncated:
                break
        assert info["ground_truth_success"] and reward == 1.0 and terminated


def test_touch_solver_lifts_a_finger_left_down():
    env = PhoneEnv(action_mode="touch", goal="open the clock app")
    env.reset(seed=0)
    env.step(touch(TOUCH, 0.5, 0.02))  # finger down on the status bar
    solver = make_solver(env)
    assert int(solver(None)["action_type"]) == LIFT
    for _ in range(12):
        *_, terminated, _, info = env.step(solver(None))
        if terminated:
            break
    assert info["ground_truth_success"]


# --- Dynamics ---------------------------------------------------------------------------------


def test_touch_gestures_tap_swipe_back_home():
    env = PhoneEnv(action_mode="touch", apps="diverse")
    env.reset(seed=1, options={"goal": "open the clock app"})
    layout = env.layout
    app = layout.pages[1][0]
    assert app not in (None, "clock")  # seed 1 puts another app first on page 1

    # Swiping left (finger moves right to left) brings the next page; right goes back.
    env.step(touch(TOUCH, 0.9, 0.4))
    env.step(touch(TOUCH, 0.1, 0.42))
    assert env.page == 0  # nothing happens until the finger lifts
    *_, info = env.step(touch(LIFT, 0.3, 0.3))  # LIFT ignores its position
    assert env.page == info["page"] == 1
    env.step(touch(TOUCH, 0.1, 0.4))
    env.step(touch(TOUCH, 0.9, 0.4))
    env.step(touch(LIFT))
    assert env.page == 0

    # A short drag is neither a tap nor a swipe; REPEAT and a LIFT with no finger do nothing.
    x, y = cell_center(0)
    env.step(touch(TOUCH, x, y))
    env.step(touch(TOUCH, x + 0.1, y))
    env.step(touch(LIFT))
    env.step(touch(REPEAT, x, y))
    env.step(touch(LIFT, x, y))
    assert env.foreground is None and env.page == 0

    # Tapping an icon opens its app; in-app taps and swipes are inert; back returns to the page.
    env.step(touch(TOUCH, 0.9, 0.4))
    env.step(touch(TOUCH, 0.1, 0.4))
    env.step(touch(LIFT))
    *_, info = tap(env, x, y)
    assert env.foreground == app and info["foreground"] == app
    tap(env, 0.5, 0.5)
    env.step(touch(TOUCH, 0.9, 0.4))
    env.step(touch(TOUCH, 0.1, 0.4))
    env.step(touch(LIFT))
    assert env.foreground == app
    *_, info = tap(env, 0.25, 0.98)  # back
    assert env.foreground is None and env.page == 1 and info["foreground"] == "home"
    tap(env, 0.25, 0.98)  # back on the home screen does nothing
    assert env.page == 1
    tap(env, 0.5, 0.98)  # home
    assert env.page == 0


def test_discrete_actions_swipe_tap_dock_home():
    env = PhoneEnv(apps="diverse")
    env.reset(seed=2, options={"goal": "open the clock app"})
    layout = env.layout
    env.step(SWIPE_RIGHT)
    assert env.page == 0  # no page before the first
    for _ in range(5):
        env.step(SWIPE_LEFT)
    assert env.page == len(layout.pages) - 1 == 2  # nor after the last
    obs, reward, terminated, truncated, info = env.step(21)  # dock, column 1
    assert env.foreground == layout.dock[1] != "clock"
    assert (reward, terminated) == (0.0, False)
    env.step(BACK)
    assert env.foreground is None and env.page == 2
    env.step(13)
    assert env.foreground == layout.pages[2][13]
    env.step(HOME)
    assert env.foreground is None and env.page == 0


def test_region_crops_follow_the_screen_and_are_cached_read_only():
    env = PhoneEnv(apps="diverse")
    env.reset(seed=2, options={"goal": "open the clock app"})
    home = env.region_crops(32)
    assert home is env.region_crops(32) and not home.flags.writeable
    assert env.region_crops(16).shape == (24, 16, 16, 3)
    env.step(SWIPE_LEFT)
    page1 = env.region_crops(32)
    assert not np.array_equal(page1, home)
    env.step(SWIPE_RIGHT)
    assert env.region_crops(32) is home  # the same screen again
    env.step(13)
    assert env.foreground is not None and not np.array_equal(env.region_crops(32), home)
    env.reset(seed=3)  # a new layout: nothing from the last episode
    fresh = PhoneEnv(apps="diverse")
    fresh.reset(seed=3)
    assert np.array_equal(env.region_crops(32), fresh.region_crops(32))
    assert not np.array_equal(env.region_crops(32), home)


def test_success_ends_the_episode_with_reward_one():
    env = PhoneEnv(goal="open the calculator app")
    _, info = env.reset(seed=4)
    assert info == {"goal": "open the calculator app", "ground_truth_success": False, "off_goal": False, "foreground": "home", "page": 0}
    page, slot = env.layout.locate("calculator")
    for _ in range(page or 0):
        env.step(SWIPE_LEFT)
    index = slot if page is not None else 20 + slot
    _, reward, terminated, truncated, info = env.step(index)
    assert (reward, terminated, truncated, info["ground_truth_success"]) == (1.0, True, False, True)
    assert info["foreground"] == "calculator"


def test_wrong_app_gives_no_reward():
    env = PhoneEnv(goal="open the clock app")
    env.reset(seed=0)
    slot = next(i for i, a in enumerate(env.layout.pages[0]) if a is not None and a != "clock")
    _, reward, terminated, _, info = env.step(slot)
    assert (reward, terminated, info["ground_truth_success"]) == (0.0, False, False)


# --- Goals and actions: errors ----------------------------------------------------------------


def test_goal_option_is_normalised_and_overrides_the_fixed_goal():
    env = PhoneEnv(goal="open the clock app")
    _, info = env.reset(seed=0, options={"goal": "  Open the   CAMERA app "})
    assert info["goal"] == "open the camera app" and env.target == "camera"
    _, info = env.reset(seed=0)
    assert info["goal"] == "open the clock app"


def test_goal_split_controls_sampled_goals():
    env = PhoneEnv(goal_split="heldout", apps="diverse")
    seen = {env.reset(seed=s)[1]["goal"] for s in range(40)}
    assert seen <= set(goals("heldout", apps="diverse")) and len(seen) > 5


@pytest.mark.parametrize("goal", ["open the fax app", "launch the clock app", "open the weather app"])
def test_unknown_goal_raises_value_error_listing_the_form(goal):
    env = PhoneEnv(apps="common")  # weather is only in the diverse set
    with pytest.raises(ValueError, match=r'goal must look like "open the \{app\} app".*clock'):
        env.reset(seed=0, options={"goal": goal})
    with pytest.raises(ValueError, match="goal must look like"):
        PhoneEnv(goal=goal)


def test_bad_goal_type_and_options_raise():
    env = PhoneEnv()
    with pytest.raises(TypeError, match="goal"):
        env.reset(options={"goal": 3})
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"goal": "open the clock app", "level": 2})


@pytest.mark.parametrize(
    ("action", "error"),
    [(28, ValueError), (-1, ValueError), (1.0, TypeError), ("tap", TypeError), (True, TypeError), ([1, 2], TypeError)],
)
def test_invalid_discrete_action_raises(action, error):
    env = PhoneEnv()
    env.reset(seed=0)
    with pytest.raises(error, match="action"):
        env.step(action)
    with pytest.raises(error, match="action"):
        DiscretePhoneActions(PhoneEnv(action_mode="touch")).step(action)


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (3, TypeError),
        ({"action_type": 0}, TypeError),
        ({"action_type": 3, "touch_position": [0.5, 0.5]}, ValueError),
        ({"action_type": 0.0, "touch_position": [0.5, 0.5]}, TypeError),
        ({"action_type": 0, "touch_position": [0.5, 1.5]}, ValueError),
        ({"action_type": 0, "touch_position": [0.5]}, ValueError),
        ({"action_type": 0, "touch_position": [np.nan, 0.5]}, ValueError),
    ],
)
def test_invalid_touch_action_raises(action, error):
    env = PhoneEnv(action_mode="touch")
    env.reset(seed=0)
    with pytest.raises(error, match="action"):
        env.step(action)


def test_bad_constructor_arguments_raise():
    for kwargs, name in [
        ({"apps": "rare"}, "apps"),
        ({"goal_split": "test"}, "goal_split"),
        ({"action_mode": "mouse"}, "action_mode"),
        ({"render_mode": "human"}, "render_mode"),
        ({"obs_size": 4}, "obs_size"),
        ({"render_size": (64, 32)}, "render_size"),
    ]:
        with pytest.raises(ValueError, match=name):
            PhoneEnv(**kwargs)
    with pytest.raises(TypeError, match="obs_size"):
        PhoneEnv(obs_size=64.0)
    with pytest.raises(ValueError, match="action_mode='touch'"):
        DiscretePhoneActions(PhoneEnv())


# --- Observations and frames ----------------------------------------------------------------


def test_render_size_is_independent_of_obs_size():
    small = PhoneEnv(obs_size=32, render_size=100, render_mode="rgb_array")
    tall = PhoneEnv(obs_size=(96, 54), render_size=224, render_mode="rgb_array")
    obs_s, _ = small.reset(seed=3)
    obs_t, _ = tall.reset(seed=3)
    assert obs_s.shape == (32, 32, 3) and small.render().shape == (100, 100, 3)
    assert obs_t.shape == (96, 54, 3) and tall.render().shape == (224, 224, 3)
    assert small.observation_space.shape == (32, 32, 3)
    other = PhoneEnv(obs_size=32, render_size=64, render_mode="rgb_array")
    np.testing.assert_array_equal(other.reset(seed=3)[0], obs_s)
    # The frame letterboxes the portrait screen: the side bars are the plain background.
    frame = tall.render()
    assert np.all(frame[:, :40] == frame[0, 0]) and np.all(frame[:, -40:] == frame[0, 0])


def test_render_without_mode_returns_none():
    env = PhoneEnv()
    env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert env.render() is None


def test_observations_distinguish_screens_and_are_copies():
    env = PhoneEnv(apps="diverse", obs_size=64)
    home, _ = env.reset(seed=0, options={"goal": "open the clock app"})
    home[:] = 0  # mutating a returned observation must not leak into later ones
    assert env.step(SWIPE_RIGHT)[0].any()
    views = {}
    for app in phone_apps.DIVERSE_APPS:
        env.foreground = app
        views[app] = env._observation().astype(np.float32)
    env.foreground = None
    launcher = env._observation().astype(np.float32)
    keys = list(views)
    gaps = [np.abs(views[a] - views[b]).mean() for a, b in itertools.combinations(keys, 2)]
    assert min(gaps) > 3.0  # every pair of app screens differs visibly at 64 x 64
    assert min(np.abs(v - launcher).mean() for v in views.values()) > 3.0


def test_show_touches_marks_a_finger_that_is_down():
    env = PhoneEnv(action_mode="touch", render_mode="rgb_array")
    before, _ = env.reset(seed=0)
    frame_before = env.render()
    down, *_ = env.step(touch(TOUCH, 0.5, 0.5))
    assert np.abs(down.astype(int) - before).sum() > 0
    assert np.abs(env.render().astype(int) - frame_before).sum() > 0
    hidden = PhoneEnv(action_mode="touch", show_touches=False)
    quiet, _ = hidden.reset(seed=0)
    np.testing.assert_array_equal(hidden.step(touch(TOUCH, 0.5, 0.5))[0], quiet)


def test_sb3_ppo_cnn_policy_runs_on_discrete_mode():
    from stable_baselines3 import PPO

    env = gym.make(ENV_ID)
    model = PPO("CnnPolicy", env, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=32)
    action, _ = model.predict(env.reset(seed=0)[0])
    assert env.action_space.contains(int(action))


def test_terminate_on_success_off_keeps_episode_running():
    from vlm_rewards.envs import make_solver
    from vlm_rewards.envs.phone import PhoneEnv

    env = PhoneEnv(terminate_on_success=False)
    obs, info = env.reset(seed=0)
    solver = make_solver(env)
    for _ in range(10):
        obs, reward, terminated, truncated, info = env.step(solver(obs))
        assert not terminated
        if info["ground_truth_success"]:
            break
    assert info["ground_truth_success"] and reward == 1.0


def test_off_goal_flags_a_wrong_app_in_the_foreground():
    env = PhoneEnv(goal="open the calculator app", terminate_on_success=False)
    env.reset(seed=4)
    page, slot = env.layout.locate("calculator")
    wrong = next(a for a in (env.layout.dock + env.layout.pages[0]) if a not in (None, "calculator"))
    wrong_page, wrong_slot = env.layout.locate(wrong)
    assert wrong_page in (None, 0)
    cell = wrong_slot + (phone_apps.GRID_ROWS * phone_apps.GRID_COLS if wrong_page is None else 0)
    _, _, _, _, info = env.step(cell)
    assert info["foreground"] == wrong and info["off_goal"] and not info["ground_truth_success"]
    _, _, _, _, info = env.step(HOME)
    assert not info["off_goal"]
