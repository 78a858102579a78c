"""Each policy head learns a one-step grounding task: tap the cell whose colour the goal names.

The cells' colours are shuffled every episode, so a policy that ignores the goal, or one
that memorises a place, succeeds at chance (1 / number of cells).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

from vlm_rewards.agents.algos import build_agent, load_agent
from vlm_rewards.agents.config import TrainConfig
from vlm_rewards.agents.policy import GoalImageExtractor, PointerActionNet, PointerExtractor, box_masks, random_shift

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 70, 230), "yellow": (230, 210, 40)}
SIDE = 32


class TapColourEnv(gym.Env):
    """2 x 2 coloured cells; goal "tap <colour>"; one tap ends the episode (reward 1 if right).

    Action 4 ("wait") is a non-pointer action that never succeeds.
    """

    metadata = {"render_modes": []}
    pointer_boxes = ((0.0, 0.0, 0.5, 0.5), (0.5, 0.0, 1.0, 0.5), (0.0, 0.5, 0.5, 1.0), (0.5, 0.5, 1.0, 1.0))

    def __init__(self):
        names = list(COLOURS)
        self.table = {n: np.eye(len(names), 8, k=i, dtype=np.float32)[0] for i, n in enumerate(names)}
        self.observation_space = spaces.Dict(
            {"image": spaces.Box(0, 255, (SIDE, SIDE, 3), np.uint8), "goal": spaces.Box(-1, 1, (8,), np.float32)}
        )
        self.action_space = spaces.Discrete(5)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.order = [list(COLOURS)[i] for i in self.np_random.permutation(len(COLOURS))]
        self.goal = self.order[int(self.np_random.integers(len(self.order)))]
        img = np.zeros((SIDE, SIDE, 3), np.uint8)
        h = SIDE // 2
        for k, name in enumerate(self.order):
            r, c = divmod(k, 2)
            img[r * h + 2 : (r + 1) * h - 2, c * h + 2 : (c + 1) * h - 2] = COLOURS[name]
        self.obs = {"image": img, "goal": self.table[self.goal]}
        return self.obs, {"goal": self.goal}

    def step(self, action):
        success = int(action) < 4 and self.order[int(action)] == self.goal
        return self.obs, float(success), True, False, {"ground_truth_success": success}


def _success_rate(model, episodes: int = 200) -> float:
    env = TapColourEnv()
    wins = 0
    for ep in range(episodes):
        obs, _ = env.reset(seed=10_000 + ep)
        action, _ = model.predict(obs, deterministic=True)
        wins += env.step(action)[1]
    return wins / episodes


@pytest.mark.parametrize(
    ("head", "fusion", "steps", "extra"),
    [("pointer", "film", 3072, {}), ("mlp", "film", 6144, {}), ("mlp", "film_all", 6144, {}),
     ("mlp", "film", 6144, {"augment_shift": 2})],  # random-shift augmentation must not stop it learning
)
def test_head_learns_to_tap_the_named_colour(head, fusion, steps, extra):
    torch.manual_seed(0)
    venv = DummyVecEnv([TapColourEnv] * 8)
    venv.seed(0)
    config = TrainConfig.model_validate(
        {
            "seed": 0,
            "agent": {"head": head, "fusion": fusion, "n_steps": 32, "batch_size": 64, "n_epochs": 4, "learning_rate": 1e-3,
                      "gamma": 0.9, "cnn_channels": [16, 32, 32], "features_dim": 64, **extra},
        }
    )
    model = build_agent(config, venv)
    for key, value in extra.items():
        assert getattr(model.policy.features_extractor, key) == value
    model.learn(steps)
    assert _success_rate(model) >= 0.9


def test_film_all_starts_as_film_and_loads_agents_saved_with_film():
    space = spaces.Dict({"image": spaces.Box(0, 255, (3, SIDE, SIDE), np.uint8), "goal": spaces.Box(-1, 1, (8,), np.float32)})
    torch.manual_seed(0)
    last = GoalImageExtractor(space, cnn_channels=[4, 8, 8], features_dim=16, goal_hidden=8, fusion="film")
    every = GoalImageExtractor(space, cnn_channels=[4, 8, 8], features_dim=16, goal_hidden=8, fusion="film_all")
    # the last layer's FiLM keeps its parameter names; only the early layers' are new
    missing = every.load_state_dict(last.state_dict(), strict=False).missing_keys
    assert sorted(missing) == [f"early_films.{i}.{p}" for i in (0, 1) for p in ("bias", "weight")]
    obs = {"image": torch.rand(3, 3, SIDE, SIDE) * 255, "goal": torch.rand(3, 8)}
    torch.testing.assert_close(every(obs), last(obs))  # early FiLMs start as the identity
    with torch.no_grad():
        every.early_films[0].bias[0] = 1.0  # a goal-independent scale of 2 on channel 0 of layer 0
    assert not torch.allclose(every(obs), last(obs))
    with pytest.raises(ValueError, match="fusion"):
        GoalImageExtractor(space, fusion="gated")


def test_box_masks_cover_each_box_and_reject_bad_boxes():
    masks = box_masks(TapColourEnv.pointer_boxes, 8, 8)
    assert masks.shape == (4, 8, 8) and masks.sum(dim=(1, 2)).tolist() == [16, 16, 16, 16]
    assert not (masks[0] & masks[3]).any()
    tiny = box_masks([(0.1, 0.1, 0.11, 0.11)], 4, 4)
    assert tiny.sum() == 1  # smaller than one cell: the nearest cell
    with pytest.raises(ValueError, match=r"boxes\[0\]"):
        box_masks([(0.5, 0.0, 0.2, 1.0)], 4, 4)


def test_pointer_logits_are_the_box_maxima():
    space = TapColourEnv().observation_space
    space = spaces.Dict({"image": spaces.Box(0, 255, (3, SIDE, SIDE), np.uint8), "goal": space["goal"]})
    extractor = PointerExtractor(space, TapColourEnv.pointer_boxes, cnn_channels=[4, 4], features_dim=8, goal_hidden=4)
    obs = {"image": torch.rand(2, 3, SIDE, SIDE) * 255, "goal": torch.rand(2, 8)}
    feats = extractor(obs)
    assert feats.shape == (2, 4 + 8 + 4)
    # recompute one box's logit by hand
    h = obs["image"]
    g = extractor.goal_mlp(obs["goal"])
    for conv, film in zip(extractor.convs, extractor.films):
        scale, shift = film(g).chunk(2, dim=1)
        h = torch.relu(conv(h) * (1 + scale[:, :, None, None]) + shift[:, :, None, None])
    logit_map = extractor.detector(h)[:, 0]
    top_left = logit_map[:, : logit_map.shape[1] // 2, : logit_map.shape[2] // 2].flatten(1).amax(1)
    torch.testing.assert_close(feats[:, 0], top_left)
    head = PointerActionNet(feats.shape[1], 4, 5)
    logits = head(feats)
    assert logits.shape == (2, 5)
    torch.testing.assert_close(logits[:, :4], feats[:, :4])
    with pytest.raises(ValueError, match="n_boxes"):
        PointerActionNet(16, 6, 5)


class RegionTapEnv(TapColourEnv):
    """TapColourEnv plus ``obs["region"]``: a (noisy) VLM-like similarity of each cell with the
    goal. Training goals are three colours; yellow is held out and its goal embedding is one the
    policy never saw, so only the region feature can ground it."""

    def __init__(self, goals=("red", "green", "blue"), with_region=True):
        super().__init__()
        self.goals = list(goals)
        self.table["yellow"] = np.full(8, -0.5, np.float32)  # unseen in training
        self.with_region = with_region
        spaces_ = dict(self.observation_space.spaces)
        if with_region:
            spaces_["region"] = spaces.Box(-1, 1, (4,), np.float32)
        self.observation_space = spaces.Dict(spaces_)

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed)
        self.goal = self.goals[int(self.np_random.integers(len(self.goals)))]
        obs = {"image": obs["image"], "goal": self.table[self.goal]}
        if self.with_region:
            noise = self.np_random.normal(0.0, 0.02, 4)
            obs["region"] = (np.array([0.3 if c == self.goal else 0.1 for c in self.order]) + noise).astype(np.float32)
        self.obs = obs
        return obs, {"goal": self.goal}


@pytest.mark.parametrize("with_region", [True, False])
def test_pointer_grounds_a_heldout_goal_through_region_features(with_region):
    torch.manual_seed(0)
    venv = DummyVecEnv([lambda: RegionTapEnv(with_region=with_region)] * 8)
    venv.seed(0)
    config = TrainConfig.model_validate({"seed": 0, "agent": {
        "head": "pointer", "n_steps": 32, "batch_size": 64, "n_epochs": 4, "learning_rate": 1e-3, "gamma": 0.9,
        "cnn_channels": [16, 32, 32], "features_dim": 64}})
    model = build_agent(config, venv)
    model.learn(3072)
    env = RegionTapEnv(goals=("yellow",), with_region=with_region)
    wins = 0
    for ep in range(200):
        obs, _ = env.reset(seed=20_000 + ep)
        wins += env.step(model.predict(obs, deterministic=True)[0])[1]
    if with_region:
        assert wins / 200 >= 0.9
    else:
        assert wins / 200 <= 0.5  # chance is 0.25: the goal embedding alone cannot name yellow


class TapPatchEnv(TapColourEnv):
    """TapColourEnv with a blank image: only obs["patches"] (a 2 x 2 grid of the colours' unit
    embeddings, in the goal's space, as ``VLM.encode_patches`` gives) says where the goal is."""

    def __init__(self):
        super().__init__()
        self.observation_space = spaces.Dict({**self.observation_space.spaces,
                                              "patches": spaces.Box(-1, 1, (8, 2, 2), np.float32)})

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        grid = np.stack([self.table[name] for name in self.order], axis=1).reshape(8, 2, 2)
        self.obs = {"image": np.zeros_like(obs["image"]), "goal": obs["goal"], "patches": grid}
        return self.obs, info


def test_mlp_head_grounds_the_goal_through_the_vlm_patches():
    torch.manual_seed(0)
    venv = DummyVecEnv([TapPatchEnv] * 8)
    venv.seed(0)
    config = TrainConfig.model_validate(
        {"seed": 0, "agent": {"n_steps": 32, "batch_size": 64, "n_epochs": 4, "learning_rate": 1e-3, "gamma": 0.9,
                              "cnn_channels": [8, 8], "features_dim": 32, "vlm_patches": True}}
    )
    model = build_agent(config, venv)
    extractor = model.policy.features_extractor
    assert extractor.patch_sim and extractor.features_dim == 32 + 64 + 32
    model.learn(4096)
    env = TapPatchEnv()
    wins = 0
    for ep in range(200):
        obs, _ = env.reset(seed=10_000 + ep)
        wins += env.step(model.predict(obs, deterministic=True)[0])[1]
    assert wins / 200 >= 0.9  # the image is blank: chance is 0.25


def test_patch_branch_needs_a_grid():
    space = spaces.Dict({"image": spaces.Box(0, 255, (3, SIDE, SIDE), np.uint8), "goal": spaces.Box(-1, 1, (8,), np.float32),
                         "patches": spaces.Box(-1, 1, (8, 4), np.float32)})
    with pytest.raises(ValueError, match="'patches' must be"):
        GoalImageExtractor(space)


class ShownOrNotEnv(TapColourEnv):
    """Five colours, four cells: in half the episodes the goal's colour is not on the screen,
    and the right action is 4 ("swipe"); otherwise tap it. ``obs["region"]`` holds a noisy
    VLM-like log p(goal | cell). Purple is held out: its goal embedding is one the policy never
    saw, so only the region feature can say where, and whether, it is."""

    ALL = ("red", "green", "blue", "yellow", "purple")

    def __init__(self, goals=("red", "green", "blue", "yellow")):
        super().__init__()
        self.goals = list(goals)
        self.table["purple"] = np.full(8, -0.5, np.float32)
        self.observation_space = spaces.Dict({**self.observation_space.spaces,
                                              "region": spaces.Box(-30.0, 0.0, (4,), np.float32)})

    def reset(self, *, seed=None, options=None):
        gym.Env.reset(self, seed=seed)
        rng = self.np_random
        self.goal = self.goals[int(rng.integers(len(self.goals)))]
        others = [c for c in self.ALL if c != self.goal]
        shown = [others[i] for i in rng.permutation(len(others))[:3]]
        if rng.random() < 0.5:
            shown.append(self.goal)
        else:
            shown.append(others[[c not in shown for c in others].index(True)])
        self.order = [shown[i] for i in rng.permutation(4)]
        img = np.zeros((SIDE, SIDE, 3), np.uint8)
        h = SIDE // 2
        palette = {**COLOURS, "purple": (150, 50, 200)}
        for k, name in enumerate(self.order):
            r, c = divmod(k, 2)
            img[r * h + 2 : (r + 1) * h - 2, c * h + 2 : (c + 1) * h - 2] = palette[name]
        p = np.array([0.9 if c == self.goal else 0.02 for c in self.order])
        region = np.clip(np.log(p) + rng.normal(0.0, 0.3, 4), -30.0, 0.0).astype(np.float32)
        self.obs = {"image": img, "goal": self.table[self.goal], "region": region}
        return self.obs, {"goal": self.goal}

    def step(self, action):
        shown = self.goal in self.order
        success = (int(action) < 4 and self.order[int(action)] == self.goal) or (int(action) == 4 and not shown)
        return self.obs, float(success), True, False, {"ground_truth_success": success}


def test_pointer_with_log_prob_regions_swipes_when_the_goal_is_not_shown():
    torch.manual_seed(0)
    venv = DummyVecEnv([ShownOrNotEnv] * 8)
    venv.seed(0)
    config = TrainConfig.model_validate({"seed": 0, "agent": {
        "head": "pointer", "region_features": True, "region_score": "log_prob", "n_steps": 32, "batch_size": 64,
        "n_epochs": 4, "learning_rate": 1e-3, "gamma": 0.9, "cnn_channels": [16, 32, 32], "features_dim": 64}})
    model = build_agent(config, venv)
    assert model.policy.features_extractor.region_score == "log_prob"
    model.learn(4096)
    env = ShownOrNotEnv(goals=("purple",))
    wins = {True: [], False: []}
    for ep in range(300):
        obs, _ = env.reset(seed=30_000 + ep)
        wins[env.goal in env.order].append(env.step(model.predict(obs, deterministic=True)[0])[1])
    # A policy that always taps its best cell gets the shown half only; one that ignores the
    # region feature cannot find purple (chance 0.25 when shown).
    assert np.mean(wins[True]) >= 0.9 and np.mean(wins[False]) >= 0.9, (np.mean(wins[True]), np.mean(wins[False]))


def test_region_score_must_be_known_and_needs_region_features():
    space = spaces.Dict({"image": spaces.Box(0, 255, (3, SIDE, SIDE), np.uint8), "goal": spaces.Box(-1, 1, (8,), np.float32),
                         "region": spaces.Box(-30, 0, (4,), np.float32)})
    with pytest.raises(ValueError, match="region_score"):
        PointerExtractor(space, TapColourEnv.pointer_boxes, region_score="prob")
    with pytest.raises(ValueError, match="region_score"):
        GoalImageExtractor(space, region_score="prob")
    with pytest.raises(ValueError, match="region_features"):
        TrainConfig.model_validate({"agent": {"region_score": "log_prob"}})
    with pytest.raises(ValueError, match="region_features"):
        TrainConfig.model_validate({"agent": {"region_weight": 3.0}})
    assert PointerExtractor(space, TapColourEnv.pointer_boxes, region_score="log_prob").region_weight.item() == 1.0
    assert PointerExtractor(space, TapColourEnv.pointer_boxes, region_score="log_prob", region_weight=3.0).region_weight.item() == 3.0
    assert GoalImageExtractor(space, region_score="log_prob", region_weight=2.0).region_scale.item() == 2.0


def test_built_and_loaded_agents_log_nowhere_without_tensorboard(tmp_path, monkeypatch):
    # SB3's default logger makes a directory under the temp dir on every learn().
    import tempfile

    logs = tmp_path / "temp"
    logs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(logs))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    venv = DummyVecEnv([TapColourEnv] * 2)
    config = TrainConfig.model_validate({"seed": 0, "agent": {"n_steps": 16, "batch_size": 32, "n_epochs": 1,
                                                               "cnn_channels": [4, 8, 8], "features_dim": 16}})
    agent = build_agent(config, venv)
    agent.learn(32)
    agent.save(tmp_path / "agent.zip")
    load_agent(tmp_path / "agent.zip", config, env=venv).learn(32, reset_num_timesteps=False)
    assert not list(logs.glob("SB3-*"))


def test_random_shift_moves_each_image_whole_within_the_pad():
    gen = torch.Generator().manual_seed(0)
    images = torch.arange(2 * 2 * 8 * 8, dtype=torch.float32).reshape(2, 2, 8, 8)
    shifted = random_shift(images, 2, generator=gen)
    assert shifted.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="replicate")
    for i in range(2):
        # the crop is one of the 25 windows of the padded image, the same for both channels
        windows = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(padded[i, :, dy:dy + 8, dx:dx + 8], shifted[i])]
        assert len(windows) == 1
    # over many draws both extreme offsets occur and a batch gets different offsets
    many = random_shift(images[:1].expand(200, -1, -1, -1), 2, generator=gen)
    corners = {int(many[k, 0, 0, 0]) for k in range(200)}
    assert {int(images[0, 0, 0, 0]), int(images[0, 0, 2, 2])} <= corners
    assert torch.equal(random_shift(images, 0), images)
    with pytest.raises(ValueError, match="pad"):
        random_shift(images, -1)


def test_augment_shift_acts_in_training_mode_only_and_needs_the_mlp_head():
    space = spaces.Dict({"image": spaces.Box(0, 255, (3, SIDE, SIDE), np.uint8), "goal": spaces.Box(-1, 1, (8,), np.float32)})
    torch.manual_seed(0)
    extractor = GoalImageExtractor(space, cnn_channels=[4, 8, 8], features_dim=16, goal_hidden=8, augment_shift=3)
    obs = {"image": torch.rand(4, 3, SIDE, SIDE) * 255, "goal": torch.rand(4, 8)}
    extractor.eval()
    torch.testing.assert_close(extractor(obs), extractor(obs))  # rollouts and evaluation: no augmentation
    extractor.train()
    assert not torch.allclose(extractor(obs), extractor(obs))
    with pytest.raises(ValueError, match="augment_shift"):
        GoalImageExtractor(space, augment_shift=-1)
    with pytest.raises(ValueError, match="augment_shift"):
        TrainConfig.model_validate({"agent": {"head": "pointer", "augment_shift": 4}})

