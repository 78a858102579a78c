import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from vlm_rewards.wrappers import GoalEmbeddingObservation, RegionSimilarityObservation


class Cells(gym.Env):
    """Three regions whose crops are solid colours; the goal names one colour."""

    pointer_boxes = ((0, 0, 1 / 3, 1), (1 / 3, 0, 2 / 3, 1), (2 / 3, 0, 1, 1))
    observation_space = spaces.Box(0, 255, (8, 8, 3), np.uint8)
    action_space = spaces.Discrete(3)
    layout = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.layout = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
        self.np_random.shuffle(self.layout)
        self.goal = ("red", "green", "blue")[int(self.np_random.integers(3))]
        return np.zeros((8, 8, 3), np.uint8), {"goal": self.goal}

    def step(self, action):
        return np.zeros((8, 8, 3), np.uint8), 0.0, True, False, {"goal": self.goal}

    def region_crops(self, size):
        return np.stack([np.full((size, size, 3), c, np.uint8) for c in self.layout])


PROMPTS = {"red": np.array([1.0, 0, 0]), "green": np.array([0, 1.0, 0]), "blue": np.array([0, 0, 1.0])}
RGB = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


class MeanColour:
    """A fake VLM: an image's embedding is its mean colour."""

    image_size = (4, 4)

    def encode_images(self, frames):
        return torch.nn.functional.normalize(torch.as_tensor(np.asarray(frames), dtype=torch.float32).mean(dim=(1, 2)), dim=-1)


def test_region_similarity_points_at_the_goal_colour():
    env = RegionSimilarityObservation(GoalEmbeddingObservation(Cells(), PROMPTS), MeanColour(), PROMPTS)
    assert env.observation_space["region"].shape == (3,)
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        assert int(np.argmax(obs["region"])) == env.unwrapped.layout.index(RGB[info["goal"]])
        assert obs["region"].max() == pytest.approx(1.0) and sorted(obs["region"])[:2] == [0.0, 0.0]
        assert env.observation_space.contains(obs)
        assert "region" in env.step(0)[0]


def test_region_wrapper_names_what_is_missing():
    prompts = {"red": np.ones(3)}
    with pytest.raises(TypeError, match="Dict observation"):
        RegionSimilarityObservation(Cells(), MeanColour(), prompts)
    plain = GoalEmbeddingObservation(gym.make("CartPole-v1"), {"red": np.ones(3)})
    with pytest.raises(TypeError, match="region_crops"):
        RegionSimilarityObservation(plain, MeanColour(), prompts)
    with pytest.raises(TypeError, match="encoder"):
        RegionSimilarityObservation(GoalEmbeddingObservation(Cells(), prompts), object(), prompts)
    env = RegionSimilarityObservation(GoalEmbeddingObservation(Cells(), {g: np.ones(3) for g in ("red", "green", "blue")}),
                                      MeanColour(), prompts)
    with pytest.raises(KeyError, match="region prompt"):
        for seed in range(10):
            env.reset(seed=seed)


class WholeView(Cells):
    """No pointer actions: the whole view is the one region (as House)."""

    pointer_boxes = None
    num_regions = 1

    def __getattribute__(self, name):
        if name == "pointer_boxes":
            raise AttributeError(name)
        return super().__getattribute__(name)

    def region_crops(self, size):
        return np.full((1, size, size, 3), self.layout[0], np.uint8)


def test_an_env_without_pointer_actions_gives_its_num_regions():
    env = RegionSimilarityObservation(GoalEmbeddingObservation(WholeView(), PROMPTS), MeanColour(), PROMPTS)
    assert env.observation_space["region"].shape == (1,)
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        in_sight = env.unwrapped.layout[0] == RGB[info["goal"]]
        assert obs["region"][0] == pytest.approx(1.0 if in_sight else 0.0)


def test_the_mlp_extractor_reads_region_features():
    from vlm_rewards.agents.policy import GoalImageExtractor

    space = spaces.Dict({"image": spaces.Box(0, 255, (3, 16, 16), np.uint8), "goal": spaces.Box(-1, 1, (4,), np.float32),
                         "region": spaces.Box(-1, 1, (1,), np.float32)})
    ext = GoalImageExtractor(space, cnn_channels=[4, 4], features_dim=8, goal_hidden=4)
    assert ext.features_dim == 8 + 4 + 16
    obs = {"image": torch.rand(2, 3, 16, 16) * 255, "goal": torch.rand(2, 4), "region": torch.tensor([[0.1], [0.4]])}
    out = ext(obs)
    assert out.shape == (2, 28) and not torch.allclose(out[0, -16:], out[1, -16:])
