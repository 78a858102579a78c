import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

from vlm_rewards.wrappers import GoalEmbeddingObservation, PatchFeatureObservation, VecPatchFeatures

GOALS = {"red": np.array([1.0, 0, 0]), "green": np.array([0, 1.0, 0])}


class Noise(gym.Env):
    """Random 24x24 frames; ends after 3 steps, so vector envs auto-reset."""

    observation_space = spaces.Box(0, 255, (24, 24, 3), np.uint8)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._frame(), {"goal": "red"}

    def _frame(self):
        return self.np_random.integers(0, 256, (24, 24, 3), dtype=np.uint8)

    def step(self, action):
        self.t += 1
        return self._frame(), 0.0, self.t >= 3, False, {"goal": "red"}


def test_patches_are_the_vlms_of_the_current_view(tiny_model):
    env = PatchFeatureObservation(GoalEmbeddingObservation(Noise(), GOALS), tiny_model)
    obs, _ = env.reset(seed=0)
    space = env.observation_space["patches"]
    assert space.shape == tuple(tiny_model.encode_patches(obs["image"][None]).shape[1:])
    assert env.observation_space.contains(obs)
    np.testing.assert_allclose(obs["patches"], tiny_model.encode_patches(obs["image"][None])[0].numpy(), atol=1e-6)
    obs, *_ = env.step(0)
    np.testing.assert_allclose(obs["patches"], tiny_model.encode_patches(obs["image"][None])[0].numpy(), atol=1e-6)


def test_vector_patches_equal_each_envs_own_including_the_last_view(tiny_model):
    venv = VecPatchFeatures(DummyVecEnv([lambda: GoalEmbeddingObservation(Noise(), GOALS)] * 3), tiny_model)
    venv.seed(0)
    obs = venv.reset()
    ends = 0
    for _ in range(4):
        np.testing.assert_allclose(obs["patches"], tiny_model.encode_patches(obs["image"]).numpy(), atol=1e-5)
        obs, _, dones, infos = venv.step(np.zeros(3, int))
        for i in np.flatnonzero(dones):
            ends += 1
            last = infos[i]["terminal_observation"]
            np.testing.assert_allclose(last["patches"], tiny_model.encode_patches(last["image"][None])[0].numpy(), atol=1e-5)
    assert ends == 3


def test_patch_wrappers_name_what_is_missing(tiny_model):
    with pytest.raises(TypeError, match="Dict observation with an 'image' key"):
        PatchFeatureObservation(Noise(), tiny_model)
    with pytest.raises(TypeError, match="encode_patches"):
        PatchFeatureObservation(GoalEmbeddingObservation(Noise(), GOALS), object())
    with pytest.raises(TypeError, match="Dict observation with an 'image' key"):
        VecPatchFeatures(DummyVecEnv([Noise]), tiny_model)
