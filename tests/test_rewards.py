import numpy as np
import pytest
import torch

from vlm_rewards import rewards as R


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture
def emb():
    rng = np.random.default_rng(0)
    return {
        "img": rng.normal(size=(5, 8)).astype(np.float32),
        "goal": rng.normal(size=(5, 8)).astype(np.float32),
        "neg": rng.normal(size=(3, 8)).astype(np.float32),
        "base": rng.normal(size=(8,)).astype(np.float32),
    }


def numpy_probability(img, goal, neg, tau):
    img, goal, neg = _unit(img), _unit(goal), _unit(neg)
    pos = (img * goal).sum(-1)
    negs = img @ neg.T
    logits = np.concatenate([pos[:, None], negs], axis=1) / tau
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e[:, 0] / e.sum(axis=1)


@pytest.mark.parametrize("tau", [0.01, 0.1, 1.0])
def test_contrastive_matches_numpy(emb, tau):
    p = R.contrastive_probability(emb["img"], emb["goal"], emb["neg"], temperature=tau).numpy()
    np.testing.assert_allclose(p, numpy_probability(emb["img"], emb["goal"], emb["neg"], tau), rtol=1e-4, atol=1e-6)
    out = R.contrastive(emb["img"], emb["goal"], emb["neg"], temperature=tau, threshold=0.3)
    np.testing.assert_array_equal(out.reward.numpy(), (out.score.numpy() > 0.3).astype(np.float32))


def test_contrastive_per_frame_negatives_equal_shared(emb):
    shared = R.contrastive_probability(emb["img"], emb["goal"], emb["neg"], 0.1)
    per_frame = R.contrastive_probability(emb["img"], emb["goal"], np.broadcast_to(emb["neg"], (5, 3, 8)).copy(), 0.1)
    torch.testing.assert_close(shared, per_frame)


def test_threshold_is_strict():
    img = torch.tensor([[1.0, 0.0]])
    goal = torch.tensor([[0.0, 1.0]])
    neg = torch.tensor([[0.0, -1.0]])  # goal and negative symmetric about img: p = 0.5 exactly
    out = R.contrastive(img, goal, neg, temperature=1.0, threshold=0.5)
    assert out.score.item() == pytest.approx(0.5)
    assert out.reward.item() == 0.0


def test_adding_a_negative_never_raises_p():
    rng = np.random.default_rng(1)
    for _ in range(50):
        img, goal = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
        neg = rng.normal(size=(3, 6))
        extra = np.concatenate([neg, rng.normal(size=(1, 6))])
        p3 = R.contrastive_probability(img, goal, neg, 0.05)
        p4 = R.contrastive_probability(img, goal, extra, 0.05)
        assert bool((p4 <= p3 + 1e-7).all())


def test_embeddings_are_normalised_inside(emb):
    a = R.contrastive_probability(emb["img"], emb["goal"], emb["neg"], 0.1)
    b = R.contrastive_probability(emb["img"] * 7, emb["goal"] * 0.2, emb["neg"] * 3, 0.1)
    torch.testing.assert_close(a, b)


def test_cosine_matches_numpy(emb):
    out = R.cosine(emb["img"], emb["goal"])
    expected = (_unit(emb["img"]) * _unit(emb["goal"])).sum(-1)
    np.testing.assert_allclose(out.reward.numpy(), expected, rtol=1e-5)


def test_goal_baseline_alpha_zero_is_cosine(emb):
    gb = R.goal_baseline(emb["img"], emb["goal"], emb["base"], alpha=0.0)
    cos = R.cosine(emb["img"], emb["goal"])
    torch.testing.assert_close(gb.reward, cos.reward, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("alpha", [0.25, 0.7, 1.0])
def test_goal_baseline_matches_vlmrm_projection(emb, alpha):
    s, g, b = _unit(emb["img"]), _unit(emb["goal"]), _unit(emb["base"])
    expected = []
    for si, gi in zip(s, g):
        d = gi - b
        P = alpha * np.outer(d, d) / (d @ d) + (1 - alpha) * np.eye(len(d))  # VLM-RM's projection
        y = P @ (si - gi)
        expected.append(1 - 0.5 * y @ y)
    out = R.goal_baseline(emb["img"], emb["goal"], emb["base"], alpha=alpha)
    np.testing.assert_allclose(out.reward.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_mineclip_subtracts_chance(emb):
    out = R.mineclip(emb["img"], emb["goal"], emb["neg"], temperature=0.1)
    p = numpy_probability(emb["img"], emb["goal"], emb["neg"], 0.1)
    np.testing.assert_allclose(out.reward.numpy(), np.maximum(p - 1 / 4, 0), rtol=1e-4, atol=1e-6)


def test_mean_embedding_last_k():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(R.mean_embedding(x, 1).numpy(), [0.0, 1.0])
    m = R.mean_embedding(x, 3).numpy()
    np.testing.assert_allclose(m, _unit(np.array([1 / 3, 2 / 3])), rtol=1e-6)


def test_sample_negatives_fixed_and_excludes_goal():
    goal_set = [f"goal {i}" for i in range(10)]
    a = R.sample_negatives("goal 3", goal_set, 4, seed=7)
    assert a == R.sample_negatives("goal 3", list(reversed(goal_set)), 4, seed=7)
    assert len(a) == 4 and "goal 3" not in a and set(a) <= set(goal_set)
    assert R.sample_negatives("goal 3", goal_set, "all") == sorted(set(goal_set) - {"goal 3"})
    draws = {tuple(R.sample_negatives("goal 3", goal_set, 4, seed=s)) for s in range(20)}
    assert len(draws) > 1  # it is a random draw, fixed only per seed


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
    ],
)
def test_bad_reward_parameters(emb, kwargs, match):
    with pytest.raises(ValueError, match=match):
        R.contrastive(emb["img"], emb["goal"], emb["neg"], **kwargs)


def test_bad_alpha(emb):
    for alpha in (-0.1, 1.1):
        with pytest.raises(ValueError, match="alpha"):
            R.goal_baseline(emb["img"], emb["goal"], emb["base"], alpha=alpha)


def test_nan_embeddings_rejected(emb):
    img = emb["img"].copy()
    img[0, 0] = np.nan
    with pytest.raises(ValueError, match="image_emb contains NaN"):
        R.cosine(img, emb["goal"])
    neg = emb["neg"].copy()
    neg[1, 1] = np.inf
    with pytest.raises(ValueError, match="negative_emb"):
        R.contrastive(emb["img"], emb["goal"], neg)


def test_mismatched_batch_sizes(emb):
    with pytest.raises(ValueError, match="one row per frame"):
        R.cosine(emb["img"], emb["goal"][:3])
    with pytest.raises(ValueError, match="embedding size"):
        R.cosine(emb["img"], emb["goal"][:, :4])
    with pytest.raises(ValueError, match="negative_emb"):
        R.contrastive(emb["img"], emb["goal"], np.zeros((2, 3, 8), np.float32) + 1)


def test_empty_negatives_rejected(emb):
    with pytest.raises(ValueError, match="negative_emb"):
        R.contrastive(emb["img"], emb["goal"], np.zeros((0, 8), np.float32))


def test_sample_negatives_bad_input():
    with pytest.raises(ValueError, match="k"):
        R.sample_negatives("a", ["a", "b"], 0)
    with pytest.raises(ValueError, match="k=5"):
        R.sample_negatives("a", ["a", "b", "c"], 5)
    with pytest.raises(ValueError, match="goal"):
        R.sample_negatives("", ["a", "b"], 1)
    with pytest.raises(ValueError, match="goal_set"):
        R.sample_negatives("a", ["a"], 1)
