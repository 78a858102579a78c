"""BabyAIEnv: contract (goal, ground truth, render), goal sets, seeding and the bot solver."""

from __future__ import annotations

import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

pytest.importorskip("minigrid")

import vlm_rewards.envs  # noqa: E402, F401  (registers vlm_rewards/BabyAI-v0)
from vlm_rewards.envs import babyai  # noqa: E402
from vlm_rewards.envs.babyai import BabyAIEnv, goals, make_solver  # noqa: E402

LEFT, RIGHT, FORWARD = 0, 1, 2


def test_check_env_passes_for_registered_env():
    env = gymnasium.make("vlm_rewards/BabyAI-v0", render_mode="rgb_array")
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("view", ["full", "agent"])
def test_observation_and_render_sizes_are_independent(view):
    env = BabyAIEnv(obs_size=(48, 40), render_size=224, view=view, render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    assert obs.shape == (48, 40, 3) and obs.dtype == np.uint8
    assert obs in env.observation_space
    frame = env.render()
    assert frame.shape == (224, 224, 3) and frame.dtype == np.uint8
    assert frame.std() > 0  # a drawn grid, not a blank frame


def test_same_seed_same_episode():
    actions = [FORWARD, LEFT, FORWARD, FORWARD, RIGHT, FORWARD]

    def rollout(seed):
        env = BabyAIEnv()
        obs, info = env.reset(seed=seed)
        frames, goals_seen = [obs], [info["goal"]]
        for action in actions:
            obs, *_ = env.step(action)
            frames.append(obs)
        return np.stack(frames), goals_seen

    frames_a, goal_a = rollout(7)
    frames_b, goal_b = rollout(7)
    frames_c, _ = rollout(8)
    assert goal_a == goal_b
    np.testing.assert_array_equal(frames_a, frames_b)
    assert not np.array_equal(frames_a, frames_c)


def test_same_seed_and_goal_option_same_level():
    env = BabyAIEnv()
    obs_a, _ = env.reset(seed=3, options={"goal": "go to the blue key"})
    obs_b, _ = env.reset(seed=3, options={"goal": "go to the blue key"})
    np.testing.assert_array_equal(obs_a, obs_b)


def test_bot_solver_reaches_sampled_goals():
    env = BabyAIEnv("BabyAI-GoToLocal-v0", goal_split="all")
    solver = make_solver(gymnasium.wrappers.TimeLimit(env, 200))
    episodes, successes = 40, 0
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(solver(obs))
            done = terminated or truncated
        successes += info["ground_truth_success"]
        assert reward == (1.0 if info["ground_truth_success"] else 0.0)
        assert terminated == info["ground_truth_success"]
    assert successes / episodes >= 0.95


def test_bot_solver_on_multi_room_pickup_level():
    env = BabyAIEnv("BabyAI-PickupLoc-v0")
    solver = make_solver(env)
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(solver(obs))
            done = terminated or truncated
        assert info["ground_truth_success"], info["goal"]


def test_goal_splits_are_fixed_and_disjoint():
    train, heldout, every = goals("train"), goals("heldout"), goals("all")
    assert set(train).isdisjoint(heldout)
    assert sorted(train + heldout) == sorted(every)
    assert len(every) == len(babyai.COLOURS) * len(babyai.OBJECTS)
    # Held-out goals are new combinations of words that training goals use.
    train_words = {word for goal in train for word in goal.split()}
    assert all(set(goal.split()) <= train_words for goal in heldout)
    assert goals("heldout", level="BabyAI-PickupLoc-v0")[0].startswith("pick up the ")
    assert all("door" in g for g in goals("all", level="BabyAI-GoToDoor-v0"))
    assert goals("train") == goals("train")


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_goals_sampled_from_goal_split(split):
    env = BabyAIEnv(goal_split=split)
    seen = {env.reset(seed=seed)[1]["goal"] for seed in range(12)}
    assert seen <= set(goals(split)) and len(seen) > 1


def test_reset_with_goal_option_yields_that_mission():
    env = BabyAIEnv()
    for goal in goals("all"):
        _, info = env.reset(seed=1, options={"goal": goal})
        assert info["goal"] == goal == env.mission
        assert info["ground_truth_success"] is False
    # The level's own plural form is a valid mission too.
    _, info = env.reset(seed=1, options={"goal": "go to a green box"})
    assert env.mission == info["goal"] == "go to a green box"


def test_own_missions_when_goal_split_is_none():
    env = BabyAIEnv(goal_split=None)
    missions = {env.reset(seed=seed)[1]["goal"] for seed in range(30)}
    assert any(m.startswith("go to a ") for m in missions)  # the level's plural missions


@pytest.mark.parametrize(
    "goal", ["go to the pink ball", "pick up the red ball", "go to the red door", "", 3]
)
def test_invalid_goal_raises(goal):
    env = BabyAIEnv()
    with pytest.raises(ValueError, match="goal"):
        env.reset(seed=0, options={"goal": goal})


def test_level_without_goal_set_runs_its_own_missions():
    with pytest.raises(ValueError, match="not enumerable"):
        goals("train", level="BabyAI-GoToRedBallGrey-v0")
    env = BabyAIEnv("BabyAI-GoToRedBallGrey-v0", max_goal_retries=20)
    assert env.goal_split is None
    _, info = env.reset(seed=0)
    assert info["goal"] == "go to the red ball"
    _, info = env.reset(seed=0, options={"goal": "go to the red ball"})
    assert info["goal"] == "go to the red ball"
    with pytest.raises(ValueError, match="not a mission of this level"):
        env.reset(seed=0, options={"goal": "go to the blue box"})
    with pytest.raises(ValueError, match="goal set"):
        BabyAIEnv("BabyAI-GoToRedBallGrey-v0", goal_split="train")


def test_unknown_level_lists_valid_ids():
    with pytest.raises(ValueError, match="BabyAI-GoToLocal-v0"):
        BabyAIEnv("BabyAI-NoSuchLevel-v0")
    with pytest.raises(ValueError, match="level"):
        goals("train", level="CartPole-v1")
    with pytest.raises(ValueError, match="split"):
        goals("test")


@pytest.mark.parametrize("action", [7, -1, 1.5, "left", [1, 2]])
def test_invalid_action_raises(action):
    env = BabyAIEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"render_size": 32},
        {"render_size": 512},
        {"obs_size": (64,)},
        {"view": "top"},
        {"render_mode": "human"},
        {"goal_split": "test"},
        {"max_steps": 0},
    ],
)
def test_bad_constructor_arguments_raise(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        BabyAIEnv(**kwargs)


def test_max_steps_truncates_without_success():
    env = BabyAIEnv(max_steps=3)
    env.reset(seed=0)
    results = [env.step(LEFT) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    assert all(r[1] == 0.0 and not r[2] and not r[4]["ground_truth_success"] for r in results)


def test_make_solver_rejects_other_envs():
    with pytest.raises(TypeError, match="BabyAIEnv"):
        make_solver(gymnasium.make("CartPole-v1"))


def test_terminate_on_success_off_keeps_episode_running():
    from vlm_rewards.envs import make_solver
    from vlm_rewards.envs.babyai import BabyAIEnv

    env = BabyAIEnv(terminate_on_success=False)
    obs, info = env.reset(seed=1)
    solver = make_solver(env)
    for _ in range(60):
        obs, reward, terminated, truncated, info = env.step(solver(obs))
        if info["ground_truth_success"]:
            break
    assert info["ground_truth_success"] and reward == 1.0 and not terminated


def test_prompt_fields_load_without_minigrid():
    # Evaluation renders BabyAI prompts on machines without the simulator (the GPU check's);
    # the package must not import MiniGrid until the env itself is asked for.
    code = (
        "import sys; sys.modules['minigrid'] = None\n"
        "from vlm_rewards.evaluation.prompts import render_template\n"
        "from vlm_rewards.envs import babyai\n"
        "print(render_template('a photo of the {name}', 'babyai', 'go to the red ball'), babyai.COLOURS[0])\n"
        "try:\n"
        "    babyai.BabyAIEnv\n"
        "except ImportError:\n"
        "    print('env needs minigrid')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["a photo of the red ball red", "env needs minigrid"]
