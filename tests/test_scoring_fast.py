"""The fast paths of RewardScorer: frame cache, precision options, threads, background scoring."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from helpers import GOALS
from vlm_rewards import RewardScorer, load_model
from vlm_rewards.models.accel import bf16_supported, matmul_roof, resolve_dtype, thread_limit
from vlm_rewards.scoring import BF16_P_TOLERANCE, compare_precision


@pytest.fixture
def frames():
    return np.random.default_rng(0).integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)


def _count_encoded(monkeypatch, model):
    seen = []
    real = model.encode_images
    monkeypatch.setattr(model, "encode_images", lambda f: seen.append(len(f)) or real(f))
    return seen


def test_repeated_frames_are_encoded_once(tiny_model, frames, monkeypatch):
    seen = _count_encoded(monkeypatch, tiny_model)
    scorer = RewardScorer(tiny_model, goal_set=GOALS)
    stream = frames[[0, 1, 0, 2, 1, 0]]  # three distinct frames, repeats within the batch
    emb = scorer.encode_frames(stream)
    assert sum(seen) == 3
    scorer.encode_frames(frames[[2, 1]])  # all cached
    assert sum(seen) == 3 and scorer.frames_encoded == 3 and scorer.frames_scored == 8
    stats = scorer.cache_stats()
    assert stats["hits"] == 5 and stats["misses"] == 3 and stats["hit_rate"] == pytest.approx(5 / 8)
    ref = RewardScorer(tiny_model, goal_set=GOALS, cache_size=0).encode_frames(stream)
    torch.testing.assert_close(emb, ref, rtol=1e-5, atol=1e-6)
    assert torch.equal(emb[0], emb[2]) and torch.equal(emb[0], emb[5])


def test_cache_gives_the_same_rewards(tiny_model, frames):
    goals = [GOALS[i % 4] for i in range(6)]
    cached = RewardScorer(tiny_model, goal_set=GOALS)
    first = cached.score(frames, goals)
    again = cached.score(frames, goals)
    plain = RewardScorer(tiny_model, goal_set=GOALS, cache_size=0).score(frames, goals)
    np.testing.assert_array_equal(first.score, again.score)
    np.testing.assert_allclose(first.score, plain.score, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(first.reward, plain.reward)


def test_cache_off_and_bounded(tiny_model, monkeypatch):
    seen = _count_encoded(monkeypatch, tiny_model)
    off = RewardScorer(tiny_model, goal_set=GOALS, cache_size=0)
    same = np.zeros((4, 32, 32, 3), np.uint8)
    off.encode_frames(same)
    assert sum(seen) == 4 and off.cache_stats() is None
    small = RewardScorer(tiny_model, goal_set=GOALS, cache_size=5, batch_size=8)
    rng = np.random.default_rng(3)
    for _ in range(4):
        small.encode_frames(rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8))
    assert small.cache_stats()["entries"] == 5 and small.cache_stats()["evictions"] == 27
    assert small.cache.nbytes == 5 * 16 * 4  # fixed storage: 5 rows of 16 float32


@pytest.mark.parametrize("bad", [-1, 1.5, "big", True])
def test_cache_size_checked(tiny_model, bad):
    with pytest.raises(ValueError, match="cache_size"):
        RewardScorer(tiny_model, goal_set=GOALS, cache_size=bad)


def test_dtype_names_and_errors(tiny_clip_dir):
    model = load_model(tiny_clip_dir)
    RewardScorer(model, goal_set=GOALS, dtype="bf16")
    assert model.dtype == torch.bfloat16
    assert resolve_dtype("fp32") == torch.float32 and resolve_dtype(None) is None
    assert resolve_dtype("auto", "cpu") == (torch.bfloat16 if bf16_supported("cpu") else torch.float32)
    with pytest.raises(ValueError, match="dtype must be"):
        RewardScorer(model, goal_set=GOALS, dtype="half-ish")
    with pytest.raises(TypeError, match="dtype must be"):
        resolve_dtype(16)


def test_threads_option_restores_setting(tiny_model, frames):
    before = torch.get_num_threads()
    one = RewardScorer(tiny_model, goal_set=GOALS, threads=1, cache_size=0).score(frames, GOALS[0])
    assert torch.get_num_threads() == before
    ref = RewardScorer(tiny_model, goal_set=GOALS, cache_size=0).score(frames, GOALS[0])
    np.testing.assert_allclose(one.score, ref.score, rtol=1e-5, atol=1e-6)
    with thread_limit(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        RewardScorer(tiny_model, goal_set=GOALS, threads=0)


def test_attention_kernels_agree(tiny_clip_dir, frames):
    eager = RewardScorer(load_model(tiny_clip_dir), goal_set=GOALS, attention="eager").score(frames, GOALS[1])
    sdpa = RewardScorer(load_model(tiny_clip_dir), goal_set=GOALS, attention="sdpa").score(frames, GOALS[1])
    np.testing.assert_allclose(eager.score, sdpa.score, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="attention must be"):
        RewardScorer(load_model(tiny_clip_dir), goal_set=GOALS, attention="flash")


def test_background_scoring_in_order(tiny_model):
    rng = np.random.default_rng(5)
    batches = [rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8) for n in (3, 1, 5, 2)]
    scorer = RewardScorer(tiny_model, goal_set=GOALS)
    futures = [scorer.submit_frames(b) for b in batches]
    scored = scorer.submit(batches[0], GOALS[2])
    ref = RewardScorer(tiny_model, goal_set=GOALS, cache_size=0)
    for b, f in zip(batches, futures):
        torch.testing.assert_close(f.result(), ref.encode_frames(b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scored.result().score, ref.score(batches[0], GOALS[2]).score, rtol=1e-5, atol=1e-6)
    scorer.close()
    with pytest.raises(ValueError, match="frames"):
        scorer.submit_frames(np.zeros((0, 32, 32, 3), np.uint8))


@pytest.fixture(scope="module")
def phone_frames():
    """Real Phone frames at the built-in model's size: home screens and open apps."""
    import vlm_rewards.envs  # noqa: F401
    from vlm_rewards.envs import goals, make_solver

    env = gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array", render_size=64, goal_split="all")
    out, goal_of = [], []
    for k, goal in enumerate(goals("phone", "all")[:4]):
        obs, info = env.reset(seed=k, options={"goal": goal})
        solver = make_solver(env)
        for _ in range(6):
            out.append(env.render())
            goal_of.append(goal)
            obs, _, terminated, truncated, info = env.step(solver(obs))
            if terminated or truncated:
                out.append(env.render())
                goal_of.append(goal)
                break
    return np.stack(out), goal_of


def test_bf16_matches_fp32_on_real_frames(phone_frames):
    from vlm_rewards.envs import goals

    frames, goal_of = phone_frames
    goal_set = goals("phone", "all")
    fp32 = RewardScorer(load_model("builtin:default"), goal_set=goal_set)
    bf16 = RewardScorer(load_model("builtin:default"), goal_set=goal_set, dtype=torch.bfloat16)
    report = compare_precision(fp32, bf16, frames, goal_of)
    assert report.frames == len(frames) and report.tolerance == BF16_P_TOLERANCE
    assert 0.0 < report.max_abs_dp <= BF16_P_TOLERANCE  # bf16 does change p, by little
    assert report.ok and report.disagreements_outside == 0
    assert fp32.score(frames, goal_of).reward.max() == 1.0  # the solver's frames reach the goal


def test_compare_precision_flags_a_wrong_scorer(tiny_clip_dir, frames, monkeypatch):
    ref = RewardScorer(load_model(tiny_clip_dir), goal_set=GOALS)
    broken_model = load_model(tiny_clip_dir)
    real = broken_model.encode_images
    monkeypatch.setattr(broken_model, "encode_images",
                        lambda f: torch.nn.functional.normalize(real(f) + 0.5 * torch.randn(len(f), 16), dim=-1))
    broken = RewardScorer(broken_model, goal_set=GOALS, temperature=ref.temperature)
    report = compare_precision(ref, broken, frames, GOALS[0], tolerance=1e-3)
    assert not report.ok and report.max_abs_dp > 1e-3
    other = RewardScorer(load_model(tiny_clip_dir), goal_set=GOALS, threshold=0.9)
    with pytest.raises(ValueError, match="share reward settings"):
        compare_precision(ref, other, frames, GOALS[0])


def test_matmul_roof_is_positive():
    assert matmul_roof(torch.float32, m=64, k=64, n=64, repeats=1) > 0
