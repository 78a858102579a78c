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


def test_log_prob_regions_are_a_softmax_over_every_prompt():
    from vlm_rewards.wrappers.region import LOG_PROB_FLOOR, RegionPrompts

    negatives = {"yellow": np.array([1.0, 1.0, 0.0]), "red": np.array([0.0, 0.0, 7.0])}  # red: the goal's row wins
    prompts = RegionPrompts(PROMPTS, temperature=0.1, negatives=negatives)
    assert prompts.kind == "log_prob" and prompts.bounds == (LOG_PROB_FLOOR, 0.0) and len(prompts) == 3
    env = RegionSimilarityObservation(GoalEmbeddingObservation(Cells(), PROMPTS), MeanColour(), prompts)
    assert env.observation_space["region"].low.min() == LOG_PROB_FLOOR
    obs, info = env.reset(seed=1)
    emb = np.array([np.array(c, float) / np.linalg.norm(c) for c in env.unwrapped.layout])
    matrix = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [2 ** -0.5, 2 ** -0.5, 0]])  # red, green, blue, yellow
    logits = emb @ matrix.T / 0.1
    own = logits[:, ("red", "green", "blue").index(info["goal"])]
    expected = own - np.log(np.exp(logits).sum(axis=1))
    np.testing.assert_allclose(obs["region"], np.clip(expected, LOG_PROB_FLOOR, 0.0), rtol=1e-5, atol=1e-5)
    assert env.observation_space.contains(obs)
    # Far below every alternative: clipped at the floor, not -inf.
    cold = RegionPrompts(PROMPTS, temperature=1e-4)
    low = cold.score(np.array([[[0.0, 1.0, 0.0]]], np.float32), ["red"])
    assert low[0, 0] == LOG_PROB_FLOOR
    # Without a temperature it is the cosine similarity.
    assert RegionPrompts(PROMPTS).kind == "cosine"
    np.testing.assert_allclose(RegionPrompts(PROMPTS).score(emb[None].astype(np.float32), [info["goal"]])[0],
                               emb @ PROMPTS[info["goal"]], atol=1e-6)
    with pytest.raises(KeyError, match="region prompt"):
        prompts.score(emb[None].astype(np.float32), ["yellow"])  # a negative, not a goal
    # Goals sharing a prompt share its row: the duplicate does not halve the goal's probability.
    shared = RegionPrompts({**PROMPTS, "crimson": PROMPTS["red"] * 2.0}, temperature=0.1)
    assert shared.matrix.shape == (3, 3) and shared.row("crimson") == shared.row("red")
    np.testing.assert_allclose(shared.score(emb[None].astype(np.float32), ["crimson"]),
                               RegionPrompts(PROMPTS, temperature=0.1).score(emb[None].astype(np.float32), ["red"]))
    with pytest.raises(ValueError, match="temperature"):
        RegionPrompts(PROMPTS, temperature=0.0)


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


class Shifting(Cells):
    """The layout rotates every step and an episode lasts two steps: views differ at every
    step, at every episode end (the terminal view) and at every reset."""

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.t += 1
        self.layout = self.layout[1:] + self.layout[:1]
        return np.zeros((8, 8, 3), np.uint8), 0.0, self.t >= 2, False, {"goal": self.goal}


def test_the_batched_vector_wrapper_gives_the_per_env_wrappers_regions_terminal_views_included():
    from stable_baselines3.common.vec_env import DummyVecEnv

    from vlm_rewards.wrappers import RegionCropsInfo, VecRegionSimilarity

    calls = []

    class Counting(MeanColour):
        def encode_images(self, frames):
            calls.append(len(frames))
            return super().encode_images(frames)

    per_env = DummyVecEnv([lambda: RegionSimilarityObservation(GoalEmbeddingObservation(Shifting(), PROMPTS), MeanColour(), PROMPTS)] * 3)
    batched = VecRegionSimilarity(
        DummyVecEnv([lambda: RegionCropsInfo(GoalEmbeddingObservation(Shifting(), PROMPTS), size=4)] * 3), Counting(), PROMPTS)
    assert batched.observation_space == per_env.observation_space
    per_env.seed(7), batched.seed(7)
    a, b = per_env.reset(), batched.reset()
    np.testing.assert_allclose(b["region"], a["region"], atol=1e-6)
    ended = 0
    for _ in range(5):
        calls.clear()
        a, _, done_a, info_a = per_env.step(np.zeros(3, int))
        b, _, done_b, info_b = batched.step(np.zeros(3, int))
        assert (done_a == done_b).all() and len(calls) == 1  # one encoding per step for all sub-envs
        np.testing.assert_allclose(b["region"], a["region"], atol=1e-6)
        for i in np.flatnonzero(done_a):
            ended += 1
            np.testing.assert_allclose(info_b[i]["terminal_observation"]["region"], info_a[i]["terminal_observation"]["region"], atol=1e-6)
            assert "region_crops" not in info_b[i]
    assert ended >= 6


def test_vec_region_similarity_needs_the_crops_in_info():
    from stable_baselines3.common.vec_env import DummyVecEnv

    from vlm_rewards.wrappers import VecRegionSimilarity

    with pytest.raises(TypeError, match="RegionCropsInfo"):
        VecRegionSimilarity(DummyVecEnv([lambda: GoalEmbeddingObservation(Cells(), PROMPTS)]), MeanColour(), PROMPTS)
