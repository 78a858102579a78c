import numpy as np
import pytest

from vlm_rewards.wrappers import FrameStackImage, GoalEmbeddingObservation
from vlm_rewards.wrappers.stack import current_view

from test_wrappers_patches import GOALS, Noise


def test_stack_holds_the_last_views_oldest_first():
    env = FrameStackImage(GoalEmbeddingObservation(Noise(), GOALS), 3)
    assert env.observation_space["image"].shape == (24, 24, 9)
    obs, _ = env.reset(seed=0)
    first = obs["image"][..., :3]
    # at reset every slot holds the first view
    np.testing.assert_array_equal(obs["image"], np.concatenate([first] * 3, axis=-1))
    views = [first]
    for _ in range(2):
        obs, *_ = env.step(0)
        assert env.observation_space.contains(obs)
        views.append(current_view(obs["image"]))
    np.testing.assert_array_equal(obs["image"], np.concatenate(views, axis=-1))
    assert not np.array_equal(views[1], views[2])
    obs, _ = env.reset(seed=1)  # a new episode forgets the old one's views
    np.testing.assert_array_equal(obs["image"], np.concatenate([current_view(obs["image"])] * 3, axis=-1))


def test_stack_rejects_bad_arguments():
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        FrameStackImage(GoalEmbeddingObservation(Noise(), GOALS), 0)
    with pytest.raises(TypeError, match="Dict observation with an 'image' key"):
        FrameStackImage(Noise(), 2)
