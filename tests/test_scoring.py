import numpy as np
import pytest
import torch

from helpers import GOALS
from vlm_rewards import RewardScorer
from vlm_rewards import rewards as R


@pytest.fixture
def frames():
    return np.random.default_rng(0).integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)


def test_score_matches_manual_pipeline(tiny_model, frames):
    scorer = RewardScorer(tiny_model, goal_set=GOALS, threshold=0.3)
    goals = [GOALS[i % 4] for i in range(6)]
    out = scorer.score(frames, goals)
    img = tiny_model.encode_images(frames)
    for i, g in enumerate(goals):
        negs = [x for x in GOALS if x != g]
        expected = R.contrastive(
            img[i : i + 1], tiny_model.encode_texts([g]), tiny_model.encode_texts(negs),
            temperature=1 / tiny_model.logit_scale, threshold=0.3,
        )
        assert out.score[i] == pytest.approx(expected.score.item(), rel=1e-4)
        assert out.reward[i] == expected.reward.item()
    assert out.reward.dtype == np.float32 and out.reward.shape == (6,)


def test_single_goal_string_broadcasts(tiny_model, frames):
    scorer = RewardScorer(tiny_model, goal_set=GOALS)
    a = scorer.score(frames, GOALS[1])
    b = scorer.score(frames, [GOALS[1]] * 6)
    np.testing.assert_array_equal(a.score, b.score)


def test_batching_does_not_change_results(tiny_model, frames):
    big = RewardScorer(tiny_model, goal_set=GOALS, batch_size=64).score(frames, GOALS[0])
    small = RewardScorer(tiny_model, goal_set=GOALS, batch_size=4).score(frames, GOALS[0])
    np.testing.assert_allclose(big.score, small.score, rtol=1e-5, atol=1e-6)


def test_text_embeddings_cached(tiny_model, frames, monkeypatch):
    calls = []
    real = tiny_model.encode_texts
    monkeypatch.setattr(tiny_model, "encode_texts", lambda texts: calls.append(list(texts)) or real(texts))
    scorer = RewardScorer(tiny_model, goal_set=GOALS)
    scorer.score(frames, GOALS[0])
    scorer.score(frames, GOALS[0])
    scorer.score(frames, [GOALS[0], GOALS[1]] * 3)
    encoded = [t for c in calls for t in c]
    assert sorted(encoded) == sorted(GOALS)  # each distinct string encoded exactly once


def test_negatives_fixed_per_goal_and_seed(tiny_model):
    goal_set = [f"go to the box number {i}" for i in range(12)]
    a = RewardScorer(tiny_model, goal_set=goal_set, num_negatives=3, seed=5)
    b = RewardScorer(tiny_model, goal_set=goal_set, num_negatives=3, seed=5)
    b.negatives_for(goal_set[7])  # a different first goal must not change goal 0's negatives
    assert a.negatives_for(goal_set[0]) == b.negatives_for(goal_set[0])
    assert a.negatives_for(goal_set[0]) is a.negatives_for(goal_set[0])
    assert len(a.negatives_for(goal_set[0])) == 3 and goal_set[0] not in a.negatives_for(goal_set[0])


def test_goals_inside_and_outside_goal_set(tiny_model, frames):
    scorer = RewardScorer(tiny_model, goal_set=GOALS[:3])
    mixed = scorer.score(frames[:2], [GOALS[0], GOALS[3]])  # GOALS[3] has one more negative
    alone = scorer.score(frames[1:2], [GOALS[3]])
    assert mixed.score[1] == pytest.approx(alone.score[0], rel=1e-5)


def test_explicit_negatives(tiny_model, frames):
    scorer = RewardScorer(tiny_model, negatives=GOALS[1:])
    out = scorer.score(frames, GOALS[0])
    ref = RewardScorer(tiny_model, goal_set=GOALS).score(frames, GOALS[0])
    np.testing.assert_allclose(out.score, ref.score, rtol=1e-5)
    with pytest.raises(ValueError, match="negatives must not contain the goal"):
        scorer.score(frames, GOALS[1])


@pytest.mark.parametrize("reward", ["cosine", "goal_baseline", "mineclip"])
def test_other_rewards(tiny_model, frames, reward):
    scorer = RewardScorer(tiny_model, reward=reward, goal_set=GOALS, baseline="a coloured square")
    out = scorer.score(frames, GOALS[2])
    assert out.reward.shape == (6,) and np.isfinite(out.reward).all()
    assert not scorer.is_binary


def test_bf16_scorer_agrees_with_fp32(tiny_clip_dir, frames):
    from vlm_rewards import load_model

    fp32 = RewardScorer(load_model(tiny_clip_dir), goal_set=GOALS).score(frames, GOALS[0])
    bf16 = RewardScorer(load_model(tiny_clip_dir), goal_set=GOALS, dtype=torch.bfloat16).score(frames, GOALS[0])
    assert np.abs(fp32.score - bf16.score).max() < 0.02


# ---- bad input: one test per kind -------------------------------------------------------
@pytest.fixture
def scorer(tiny_model):
    return RewardScorer(tiny_model, goal_set=GOALS)


def test_frames_wrong_rank(scorer):
    with pytest.raises(ValueError, match=r"frames must have shape \(N, H, W, 3\)"):
        scorer.score(np.zeros((32, 32, 3), np.uint8), GOALS[0])


def test_frames_wrong_channels(scorer):
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        scorer.score(np.zeros((2, 32, 32, 4), np.uint8), GOALS[0])


def test_frames_wrong_dtype(scorer):
    with pytest.raises(TypeError, match="dtype uint8 or float"):
        scorer.score(np.zeros((2, 32, 32, 3), np.int32), GOALS[0])


def test_frames_nan(scorer):
    f = np.zeros((2, 32, 32, 3), np.float32)
    f[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        scorer.score(f, GOALS[0])
    f[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        scorer.score(f, GOALS[0])


def test_float_frames_out_of_range(scorer):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        scorer.score(np.full((1, 32, 32, 3), 255.0, np.float32), GOALS[0])


def test_empty_batch(scorer):
    with pytest.raises(ValueError, match="frames must not be empty"):
        scorer.score(np.zeros((0, 32, 32, 3), np.uint8), [])
    with pytest.raises(ValueError, match="frames must not be empty"):
        scorer.score([], GOALS[0])


def test_empty_or_non_string_goal(scorer):
    f = np.zeros((1, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="goal"):
        scorer.score(f, "   ")
    with pytest.raises(TypeError, match=r"goals\[0\] must be a non-empty string"):
        scorer.score(f, [3])


def test_mismatched_goals_and_frames(scorer):
    with pytest.raises(ValueError, match="2 goals for 3 frames"):
        scorer.score(np.zeros((3, 32, 32, 3), np.uint8), GOALS[:2])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"temperature": -0.5}, ValueError, "temperature"),
        ({"threshold": 1.01}, ValueError, "threshold"),
        ({"alpha": -0.2}, ValueError, "alpha"),
        ({"reward": "nope"}, ValueError, "reward must be one of"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"num_negatives": 0}, ValueError, "num_negatives"),
        ({"reward": "goal_baseline"}, TypeError, "baseline"),
    ],
)
def test_bad_scorer_settings(tiny_model, kwargs, error, match):
    with pytest.raises(error, match=match):
        RewardScorer(tiny_model, goal_set=GOALS, **kwargs)


def test_contrastive_needs_negatives(tiny_model):
    with pytest.raises(ValueError, match="needs negatives"):
        RewardScorer(tiny_model)
    with pytest.raises(ValueError, match="not both"):
        RewardScorer(tiny_model, goal_set=GOALS, negatives=["x"])


def test_model_type_checked():
    with pytest.raises(TypeError, match="model must implement"):
        RewardScorer(object(), goal_set=GOALS)
