"""Wrapper cost controls: score_every, per-episode scoring, background scoring, cache hit rate."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from helpers import GOALS, ColourSquareEnv
from vlm_rewards import RewardScorer
from vlm_rewards.wrappers import RenderFrameInfo, VecVLMReward, VLMRewardVectorWrapper, VLMRewardWrapper


@pytest.fixture
def scorer(tiny_model):
    return RewardScorer(tiny_model, goal_set=GOALS)


def _episode(env, actions, seed=0):
    env.reset(seed=seed)
    steps = []
    for a in actions:
        _, r, term, trunc, info = env.step(a)
        steps.append((r, info))
        if term or trunc:
            break
    return steps


def test_score_every_k_single_env(scorer):
    actions = [int(a) for a in np.random.default_rng(0).integers(0, 3, 12)]
    every = _episode(VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=False), actions)
    third = _episode(VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=False, score_every=5), actions)
    assert len(every) == len(third) == 12  # ColourSquareEnv truncates after 12 steps
    for t, ((r1, i1), (r5, i5)) in enumerate(zip(every, third), start=1):
        due = t % 5 == 0 or t == 12
        assert i5["vlm_scored"] == due and i1["vlm_scored"]
        if due:
            assert r5 == r1 and i5["vlm_probability"] == pytest.approx(i1["vlm_probability"], rel=1e-5)
        else:
            assert r5 == 0.0 and np.isnan(i5["vlm_probability"])
    assert 0.0 <= third[-1][1]["vlm_cache_hit_rate"] <= 1.0  # reported at the episode's end


def test_score_once_per_episode(scorer):
    env = VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=True, score_every="episode")
    before = scorer.frames_scored
    steps = _episode(env, [1] * 20)
    assert len(steps) == 12 and [i["vlm_scored"] for _, i in steps] == [False] * 11 + [True]
    assert scorer.frames_scored - before == 1


@pytest.mark.parametrize("bad", [0, -2, 1.5, "sometimes", True])
def test_score_every_checked(scorer, bad):
    with pytest.raises(ValueError, match="score_every"):
        VLMRewardWrapper(ColourSquareEnv(), scorer, score_every=bad)


def test_vector_score_every(scorer):
    actions = np.random.default_rng(2).integers(0, 3, size=(12, 2))
    make = lambda k: VLMRewardVectorWrapper(  # noqa: E731
        SyncVectorEnv([ColourSquareEnv] * 2, autoreset_mode=AutoresetMode.DISABLED), scorer,
        terminate_on_success=False, score_every=k)
    full, sparse = make(1), make(4)
    full.reset(seed=[1, 2])
    sparse.reset(seed=[1, 2])
    for t, a in enumerate(actions, start=1):
        _, r1, _, trunc, i1 = full.step(a)
        _, r4, _, _, i4 = sparse.step(a)
        due = t % 4 == 0 or trunc.all()
        assert i4["vlm_scored"].tolist() == [due, due] and i1["vlm_scored"].all()
        np.testing.assert_array_equal(r4, r1 if due else np.zeros(2))
        assert i4["_vlm_reward"].all() and i4["_vlm_probability"].tolist() == [due, due]
        assert 0.0 <= i4["vlm_cache_hit_rate"][0] <= 1.0
    assert trunc.all()


def _sb3_rollout(venv, actions):
    venv.seed(7)
    venv.reset()
    out = [venv.step(a) for a in actions]
    venv.close()
    return out


def test_sb3_score_every_and_hit_rate(tiny_model):
    actions = np.ones((12, 3), dtype=np.int64)  # "stay": frames repeat, the cache hits
    scorer = RewardScorer(tiny_model, goal_set=GOALS)
    full = _sb3_rollout(VecVLMReward(DummyVecEnv([lambda: RenderFrameInfo(ColourSquareEnv())] * 3), scorer,
                                     terminate_on_success=False), actions)
    every3 = _sb3_rollout(VecVLMReward(DummyVecEnv([lambda: RenderFrameInfo(ColourSquareEnv())] * 3), scorer,
                                       terminate_on_success=False, score_every=3), actions)
    for t, ((_, r1, d1, inf1), (_, r3, d3, inf3)) in enumerate(zip(full, every3), start=1):
        due = t % 3 == 0 or d1.all()
        assert [i["vlm_scored"] for i in inf3] == [due] * 3
        np.testing.assert_array_equal(r3, r1 if due else 0.0)
        assert all("vlm_frame" not in i for i in inf3)
    assert full[-1][2].all() and full[-1][3][0]["vlm_episode"]["length"] == 12
    assert full[-1][3][0]["vlm_cache_hit_rate"] > 0.5  # the agent stands still: repeated frames


def test_sb3_async_scoring_equals_sync(tiny_model):
    actions = np.random.default_rng(4).integers(0, 3, size=(14, 4))
    fns = [lambda: RenderFrameInfo(ColourSquareEnv())] * 4
    sync = _sb3_rollout(VecVLMReward(DummyVecEnv(fns), RewardScorer(tiny_model, goal_set=GOALS, threshold=0.26)),
                        actions)
    scorer = RewardScorer(tiny_model, goal_set=GOALS, threshold=0.26)
    streamed = _sb3_rollout(VecVLMReward(SubprocVecEnv(fns, start_method="fork"), scorer, async_scoring=True),
                            actions)
    for (o1, r1, d1, i1), (o2, r2, d2, i2) in zip(sync, streamed):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(d1, d2)
        for a, b in zip(i1, i2):
            assert a["goal"] == b["goal"] and a["vlm_probability"] == pytest.approx(b["vlm_probability"], rel=1e-5)
    assert any(d.any() for _, _, d, _ in sync)  # episodes ended (and were reset) along the way
    scorer.close()


def test_async_scoring_needs_subproc(scorer):
    with pytest.raises(ValueError, match="SubprocVecEnv"):
        VecVLMReward(DummyVecEnv([lambda: RenderFrameInfo(ColourSquareEnv())]), scorer, async_scoring=True)


def test_vector_fixed_goal_restarts_score_every_per_episode(scorer):
    # A fixed goal must not carry the score_every count (or the frame window) into the next episode.
    venv = VLMRewardVectorWrapper(SyncVectorEnv([ColourSquareEnv], autoreset_mode=AutoresetMode.DISABLED), scorer,
                                  goal=GOALS[0], terminate_on_success=False, score_every=5)
    venv.reset(seed=0)
    scored = [bool(venv.step(np.array([1]))[4]["vlm_scored"][0]) for _ in range(24)]  # two 12-step episodes
    per_episode = [t % 5 == 0 or t == 12 for t in range(1, 13)]
    assert scored == per_episode * 2
