import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from stable_baselines3.common.vec_env import DummyVecEnv

from helpers import GOALS, ColourSquareEnv
from vlm_rewards import RewardScorer
from vlm_rewards.wrappers import (
    GoalEmbeddingObservation,
    RenderFrameInfo,
    VecVLMReward,
    VLMRewardVectorWrapper,
    VLMRewardWrapper,
    goal_embedding_table,
)


@pytest.fixture
def scorer(tiny_model):
    return RewardScorer(tiny_model, goal_set=GOALS)


def never(tiny_model):  # p > 1 is impossible: the reward never fires
    return RewardScorer(tiny_model, goal_set=GOALS, threshold=1.0)


def always(tiny_model):  # p > 0 always: the reward fires on every step
    return RewardScorer(tiny_model, goal_set=GOALS, threshold=0.0)


def rollout(env, actions, seed=0):
    obs, info = env.reset(seed=seed)
    out = []
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        out.append((r, info["vlm_probability"], info["env_reward"], term, trunc))
        if term or trunc:
            break
    return out


def test_check_env_single(scorer):
    check_env(VLMRewardWrapper(ColourSquareEnv(), scorer), skip_render_check=True)


def test_check_env_goal_embedding(scorer):
    table = goal_embedding_table(scorer, GOALS)
    env = GoalEmbeddingObservation(VLMRewardWrapper(ColourSquareEnv(), scorer), table)
    check_env(env, skip_render_check=True)
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(env, warn=False)


def test_single_env_info_and_reward(scorer):
    env = VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=False)
    obs, info = env.reset(seed=3)
    assert info["goal"] in GOALS
    obs, reward, term, trunc, info = env.step(2)
    expected = scorer.score(env.render()[None], [info["goal"]])
    assert reward == expected.reward[0] and info["vlm_reward"] == reward
    assert info["vlm_probability"] == pytest.approx(float(expected.score[0]))
    assert info["env_reward"] == float(info["ground_truth_success"])
    assert "ground_truth_success" in info


def test_terminate_on_success(tiny_model):
    steps = rollout(VLMRewardWrapper(ColourSquareEnv(), always(tiny_model)), [1] * 20)
    assert len(steps) == 1 and steps[0][3] is True and steps[0][0] == 1.0
    steps = rollout(VLMRewardWrapper(ColourSquareEnv(), never(tiny_model)), [1] * 20)
    assert len(steps) == 12 and not any(s[3] for s in steps) and steps[-1][4]
    steps = rollout(VLMRewardWrapper(ColourSquareEnv(), always(tiny_model), terminate_on_success=False), [1] * 20)
    assert len(steps) == 12


def test_frame_source_observation_equals_render(scorer):
    a = rollout(VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=False), [2, 0, 2, 2])
    b = rollout(VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=False, frame_source="observation"), [2, 0, 2, 2])
    assert a == b


def test_frame_window_averages(scorer):
    env = VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=False, frame_window=2)
    env.reset(seed=0)
    env.step(2)
    f1 = env.render()
    _, _, _, _, i2 = env.step(0)
    f2 = env.render()
    from vlm_rewards.rewards import mean_embedding

    emb = scorer.encode_frames(np.stack([f1, f2]))
    expected = scorer.score_embeddings(mean_embedding(emb, 2)[None], [i2["goal"]])
    assert i2["vlm_probability"] == pytest.approx(float(expected.score[0]), rel=1e-5)


def test_wrapper_bad_input(scorer):
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        VLMRewardWrapper(ColourSquareEnv(render_mode=None), scorer)
    with pytest.raises(TypeError, match="scorer"):
        VLMRewardWrapper(ColourSquareEnv(), object())
    with pytest.raises(ValueError, match="frame_window"):
        VLMRewardWrapper(ColourSquareEnv(), scorer, frame_window=0)
    with pytest.raises(ValueError, match="goal"):
        VLMRewardWrapper(ColourSquareEnv(), scorer, goal="")
    env = VLMRewardWrapper(ColourSquareEnv(), scorer, frame_source="image")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="frame_source='image'"):
        env.step(1)


def _vector(n, mode):
    return SyncVectorEnv([ColourSquareEnv for _ in range(n)], autoreset_mode=mode)


def test_vector_rewards_equal_single_env(scorer):
    actions = np.random.default_rng(0).integers(0, 3, size=(10, 3))
    venv = VLMRewardVectorWrapper(_vector(3, AutoresetMode.NEXT_STEP), scorer, terminate_on_success=False)
    venv.reset(seed=[10, 11, 12])
    vec = [venv.step(a) for a in actions]
    for i in range(3):
        single = VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=False)
        single.reset(seed=10 + i)
        for t in range(10):
            _, r, term, trunc, info = single.step(int(actions[t, i]))
            _, vr, vterm, vtrunc, vinfo = vec[t]
            assert vr[i] == r
            assert vinfo["vlm_probability"][i] == pytest.approx(info["vlm_probability"], rel=1e-5)
            assert vinfo["goal"][i] == info["goal"]


def test_vector_terminates_and_resets(tiny_model):
    venv = VLMRewardVectorWrapper(_vector(2, AutoresetMode.DISABLED), always(tiny_model))
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    venv.reset(seed=0)
    for _ in range(3):
        obs, r, term, trunc, info = venv.step(np.array([1, 1]))
        assert term.all() and (r == 1).all()
        assert info["_final_obs"].all() and info["final_obs"][0].shape == (24, 24, 3)
        assert set(info["goal"]) <= set(GOALS)
    # the sub-envs were reset by the wrapper: their step counters restarted
    assert all(e.t == 0 for e in venv.env.envs)


def test_vector_next_step_mode_skips_reset_steps(tiny_model):
    venv = VLMRewardVectorWrapper(_vector(2, AutoresetMode.NEXT_STEP), never(tiny_model), terminate_on_success=False)
    venv.reset(seed=0)
    for _ in range(12):
        _, _, _, trunc, _ = venv.step(np.array([1, 1]))
    assert trunc.all()
    _, r, _, _, info = venv.step(np.array([1, 1]))  # the autoreset step: nothing scored
    assert (r == 0).all() and not info["_vlm_reward"].any()


def test_vector_mode_checks(scorer):
    with pytest.raises(ValueError, match="autoreset_mode=AutoresetMode.DISABLED"):
        VLMRewardVectorWrapper(_vector(2, AutoresetMode.NEXT_STEP), scorer)
    with pytest.raises(ValueError, match="SAME_STEP"):
        VLMRewardVectorWrapper(_vector(2, AutoresetMode.SAME_STEP), scorer, terminate_on_success=False)


def _dummy(n, render=True):
    return DummyVecEnv([(lambda: RenderFrameInfo(ColourSquareEnv())) if render else ColourSquareEnv for _ in range(n)])


def test_sb3_rewards_equal_single_env(scorer):
    actions = np.random.default_rng(1).integers(0, 3, size=(8, 2))
    venv = VecVLMReward(_dummy(2), scorer, terminate_on_success=False)
    venv.seed(20)
    venv.reset()
    vec = [venv.step(a) for a in actions]
    for i in range(2):
        single = VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=False)
        single.reset(seed=20 + i)
        for t in range(8):
            _, r, _, _, info = single.step(int(actions[t, i]))
            _, vr, _, vinfos = vec[t]
            assert vr[i] == r and vinfos[i]["goal"] == info["goal"]
            assert vinfos[i]["vlm_probability"] == pytest.approx(info["vlm_probability"], rel=1e-5)
            assert "vlm_frame" not in vinfos[i]


def test_sb3_terminates_and_reports_episode(tiny_model):
    venv = VecVLMReward(_dummy(2), always(tiny_model))
    venv.reset()
    obs, rewards, dones, infos = venv.step(np.array([1, 1]))
    assert dones.all() and (rewards == 1).all()
    for info in infos:
        assert info["terminal_observation"].shape == (24, 24, 3)
        ep = info["vlm_episode"]
        assert ep["length"] == 1 and ep["vlm_success"] and ep["vlm_return"] == 1.0
        assert ep["ground_truth_success"] == info["ground_truth_success"]
    assert all(e.unwrapped.t == 0 for e in venv.venv.envs)  # sub-envs were reset


def test_sb3_observation_frames_equal_render_frames(scorer):
    a = VecVLMReward(_dummy(2), scorer, terminate_on_success=False)
    b = VecVLMReward(_dummy(2, render=False), scorer, terminate_on_success=False, frame_source="observation")
    for v in (a, b):
        v.seed(3)
        v.reset()
    for _ in range(14):  # crosses an episode end (time limit 12)
        ra = a.step(np.array([2, 0]))
        rb = b.step(np.array([2, 0]))
        np.testing.assert_array_equal(ra[1], rb[1])
        assert [i["vlm_probability"] for i in ra[3]] == pytest.approx([i["vlm_probability"] for i in rb[3]])


def test_sb3_requires_frames(scorer):
    venv = VecVLMReward(_dummy(1, render=False), scorer)
    venv.reset()
    with pytest.raises(ValueError, match="RenderFrameInfo"):
        venv.step(np.array([1]))


def test_sb3_must_wrap_raw_vecenv(scorer):
    from stable_baselines3.common.vec_env import VecMonitor

    with pytest.raises(ValueError, match="directly"):
        VecVLMReward(VecMonitor(_dummy(1)), scorer)


def test_goal_embedding_follows_episode_goal(scorer):
    table = goal_embedding_table(scorer, GOALS)
    env = GoalEmbeddingObservation(ColourSquareEnv(), table)
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        np.testing.assert_allclose(obs["goal"], table[info["goal"]], atol=1e-6)
        assert obs["image"].shape == (24, 24, 3)
    obs, info = env.reset(options={"goal": GOALS[2]})
    np.testing.assert_allclose(obs["goal"], table[GOALS[2]], atol=1e-6)


def test_goal_embedding_from_scorer_and_missing_goal(scorer):
    env = GoalEmbeddingObservation(ColourSquareEnv(), scorer)
    obs, info = env.reset(seed=0)
    assert obs["goal"].shape == env.observation_space["goal"].shape
    env = GoalEmbeddingObservation(ColourSquareEnv(), {GOALS[0]: np.ones(16, np.float32) / 4})
    with pytest.raises(ValueError, match="no embedding"):
        env.reset(options={"goal": GOALS[1]})
    with pytest.raises(TypeError, match="RewardScorer or a VLM"):
        GoalEmbeddingObservation(ColourSquareEnv(), object())


def test_vector_frame_window_equals_single_env(scorer):
    actions = np.random.default_rng(2).integers(0, 3, size=(5, 2))
    venv = VLMRewardVectorWrapper(_vector(2, AutoresetMode.NEXT_STEP), scorer, terminate_on_success=False, frame_window=3)
    venv.reset(seed=[4, 5])
    vec = [venv.step(a)[4]["vlm_probability"] for a in actions]
    for i in range(2):
        single = VLMRewardWrapper(ColourSquareEnv(), scorer, terminate_on_success=False, frame_window=3)
        single.reset(seed=4 + i)
        for t in range(5):
            info = single.step(int(actions[t, i]))[4]
            assert vec[t][i] == pytest.approx(info["vlm_probability"], rel=1e-5)
