import numpy as np
import pytest
from gymnasium import spaces

from vlm_rewards.wrappers import FrameStackImage, GoalEmbeddingObservation, PreviousActionObservation

from test_wrappers_patches import GOALS, Noise


def test_previous_action_is_the_one_hot_of_the_last_step_and_zero_after_reset():
    env = PreviousActionObservation(FrameStackImage(GoalEmbeddingObservation(Noise(), GOALS), 2))
    assert env.observation_space["prev_action"] == spaces.Box(0.0, 1.0, (2,), np.float32)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs["prev_action"], [0.0, 0.0])
    for action, expected in ((1, [0.0, 1.0]), (0, [1.0, 0.0]), (np.int64(1), [0.0, 1.0])):
        obs, *_ = env.step(action)
        assert env.observation_space.contains(obs)
        np.testing.assert_array_equal(obs["prev_action"], expected)
    assert obs["image"].shape == (24, 24, 6)  # the other keys pass through
    obs, _ = env.reset(seed=1)  # a new episode has no previous action
    np.testing.assert_array_equal(obs["prev_action"], [0.0, 0.0])


def test_previous_action_rejects_bad_envs():
    with pytest.raises(TypeError, match="Dict observation"):
        PreviousActionObservation(Noise())
    env = PreviousActionObservation(GoalEmbeddingObservation(Noise(), GOALS))
    with pytest.raises(ValueError, match="already has a 'prev_action' key"):
        PreviousActionObservation(env)


class Bumpy(Noise):
    """Noise whose steps report {"bump": action == 1}."""

    def step(self, action):
        frame, reward, terminated, truncated, info = super().step(action)
        return frame, reward, terminated, truncated, {**info, "bump": action == 1}


def test_flags_append_the_steps_info_keys_after_the_one_hot():
    env = PreviousActionObservation(GoalEmbeddingObservation(Bumpy(), GOALS), flags=("bump", "missing"))
    assert env.observation_space["prev_action"].shape == (4,)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["prev_action"], [0, 0, 0, 0])
    obs, *_ = env.step(1)
    np.testing.assert_array_equal(obs["prev_action"], [0, 1, 1, 0])  # an absent key reads 0
    obs, *_ = env.step(0)
    np.testing.assert_array_equal(obs["prev_action"], [1, 0, 0, 0])
    with pytest.raises(TypeError, match="flags must be a sequence of info key names"):
        PreviousActionObservation(GoalEmbeddingObservation(Bumpy(), GOALS), flags="bump")
