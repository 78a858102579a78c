"""The shared VLM-reward step (``vlm_rewards.wrappers.core.RewardStep``) with fake scorers.

Frames are opaque to the step, so the fakes take 1-element "frames" whose value is the
probability the scorer reports: each test decides exactly when the reward fires.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from vlm_rewards.wrappers.core import RewardStep, frame_from_obs


class FakeScorer:
    """A local scorer: encode_frames -> (window) -> score_embeddings; reward = 1[p > 0.5]."""

    def __init__(self, binary=True):
        self.is_binary = binary
        self.goals_seen: list[list[str]] = []
        self.frames_seen: list[int] = []

    def encode_frames(self, frames):
        frames = np.asarray(frames, dtype=np.float32).reshape(len(frames), -1)
        self.frames_seen.append(len(frames))
        return frames

    def score_embeddings(self, emb, goals):
        self.goals_seen.append(list(goals))
        p = np.asarray(emb, dtype=np.float32)[:, 0]
        reward = (p > 0.5).astype(np.float32) if self.is_binary else p
        return SimpleNamespace(reward=reward, score=p)


class FakePool:
    """A remote scorer: score(frames, goals) only, like a RayRewardPool."""

    is_binary = True

    def __init__(self):
        self.calls = []

    def score(self, frames, goals):
        self.calls.append((len(frames), list(goals)))
        p = np.array([float(np.asarray(f).ravel()[0]) for f in frames], dtype=np.float32)
        return SimpleNamespace(reward=(p > 0.5).astype(np.float32), score=p)


def frames(*ps):
    return np.array(ps, dtype=np.float32).reshape(len(ps), 1)


def run(step, ps, ends=None, env_rewards=None, gts=None, offs=None):
    """Step one env through probabilities ``ps``; ``ends[t]``: truncated at step t; ``gts`` and
    ``offs``: the env's ground truth and off-goal flags."""
    outs = []
    for t, p in enumerate(ps):
        trunc = bool(ends and ends[t])
        due = step.due([trunc])
        out = step.apply(frames(p) if due[0] else None, [env_rewards[t] if env_rewards else 0.0], [False], [trunc],
                         [{"ground_truth_success": bool(gts and gts[t]), "off_goal": bool(offs and offs[t])}])
        outs.append(out)
    return outs


def test_fixed_goal_and_goals_from_info():
    scorer = FakeScorer()
    fixed = RewardStep(2, scorer, goal="open the clock app")
    fixed.start_episode(0)  # no info needed
    fixed.start_episode(1, {"goal": "ignored: the goal is fixed"})
    out = fixed.apply(frames(0.1, 0.2), [0, 0], [False, False], [False, False])
    assert scorer.goals_seen[-1] == ["open the clock app"] * 2 and out.goals == ["open the clock app"] * 2

    step = RewardStep(2, scorer)
    step.start_episode(0, {"goal": "a"})
    step.start_episode(1, {"goal": "b"})
    out = step.apply(frames(0.1, 0.2), [0, 0], [False, False], [False, False])
    assert scorer.goals_seen[-1] == ["a", "b"] and out.info(1)["goal"] == "b"
    with pytest.raises(ValueError, match="no goal: pass goal=... to the wrapper"):
        step.start_episode(0, {})
    with pytest.raises(ValueError, match=r"info\['goal'\] of env 1"):
        step.start_episode(1, {"goal": "  "})
    with pytest.raises(TypeError, match="goal"):
        RewardStep(1, scorer, goal=3)


def test_step_before_episode_start_is_an_error():
    step = RewardStep(1, FakeScorer())
    with pytest.raises(ValueError, match="start_episode"):
        step.apply(frames(0.9), [0], [False], [False])


def test_score_every_k_scores_every_kth_step_and_the_last():
    scorer = FakeScorer()
    step = RewardStep(1, scorer, goal="g", terminate_on_success=False, score_every=3)
    step.start_episode(0)
    outs = run(step, [0.9] * 7, ends=[False] * 6 + [True])
    assert [bool(o.scored[0]) for o in outs] == [False, False, True, False, False, True, True]
    assert [float(o.rewards[0]) for o in outs] == [0, 0, 1, 0, 0, 1, 1]
    assert np.isnan(outs[0].probs[0]) and outs[2].probs[0] == pytest.approx(0.9)
    assert scorer.frames_seen == [1, 1, 1]
    # the count restarts with the next episode
    assert [bool(o.scored[0]) for o in run(step, [0.1] * 3)] == [False, False, True]


def test_score_once_per_episode():
    step = RewardStep(1, FakeScorer(), goal="g", score_every="episode")
    step.start_episode(0)
    outs = run(step, [0.9] * 4, ends=[False, False, False, True])
    assert [bool(o.scored[0]) for o in outs] == [False, False, False, True]
    assert outs[-1].episodes[0]["vlm_success"] is True


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="score_every"):
        RewardStep(1, FakeScorer(), score_every=0)
    with pytest.raises(ValueError, match="frame_window"):
        RewardStep(1, FakeScorer(), frame_window=0)
    with pytest.raises(ValueError, match="num_envs"):
        RewardStep(0, FakeScorer())
    with pytest.raises(TypeError, match="scorer"):
        RewardStep(1, object())
    step = RewardStep(2, FakeScorer(), goal="g")
    with pytest.raises(ValueError, match="frames must hold one entry per due env"):
        step.apply(frames(0.1), [0, 0], [False, False], [False, False])
    with pytest.raises(ValueError, match="terminated"):
        step.apply(frames(0.1, 0.2), [0, 0], [False], [False, False])


def test_terminate_on_success_ends_the_episode_with_a_record():
    step = RewardStep(1, FakeScorer(), goal="g", terminate_on_success=True)
    step.start_episode(0)
    outs = run(step, [0.2, 0.3, 0.8], env_rewards=[0.0, 1.0, 0.0], gts=[False, True, False])
    assert [bool(o.terminated[0]) for o in outs] == [False, False, True]
    assert outs[-1].ended_by_vlm[0] and outs[-1].fired[0]
    assert not outs[0].episodes and not outs[1].episodes
    assert outs[-1].episodes[0] == {
        "vlm_return": 1.0, "length": 3, "vlm_success": True, "ground_truth_success": True, "direct_success": True,
        "goal": "g", "env_return": 1.0, "vlm_fired": True, "fired_at": 3, "gt_at_fire": False,
    }
    # a new episode starts from zero
    out = run(step, [0.1], ends=[True])[0]
    assert out.episodes[0]["length"] == 1 and out.episodes[0]["vlm_fired"] is False
    assert out.episodes[0]["gt_at_fire"] is None and out.episodes[0]["fired_at"] is None


def test_without_terminate_on_success_the_first_fire_is_recorded():
    step = RewardStep(1, FakeScorer(), goal="g", terminate_on_success=False)
    step.start_episode(0)
    outs = run(step, [0.1, 0.9, 0.7, 0.2], ends=[False, False, False, True], gts=[False, True, False, False])
    assert not any(o.terminated[0] for o in outs) and [bool(o.fired[0]) for o in outs] == [False, True, True, False]
    ep = outs[-1].episodes[0]
    assert ep["vlm_return"] == 2.0 and ep["vlm_success"] is False  # the last step did not fire
    assert ep["vlm_fired"] and ep["fired_at"] == 2 and ep["gt_at_fire"] is True and ep["ground_truth_success"]


def test_env_termination_is_kept_and_not_counted_as_the_vlms():
    step = RewardStep(2, FakeScorer(), goal="g")
    step.start_episode(0)
    step.start_episode(1)
    out = step.apply(frames(0.9, 0.9), [1, 0], [True, False], [False, True])
    assert out.terminated.tolist() == [True, True] and out.ended_by_vlm.tolist() == [False, False]
    assert sorted(out.episodes) == [0, 1]


def test_non_binary_reward_never_terminates():
    step = RewardStep(1, FakeScorer(binary=False), goal="g", terminate_on_success=True)
    step.start_episode(0)
    outs = run(step, [0.9, 0.95], ends=[False, True])
    assert not step.terminate_on_success and not any(o.terminated[0] for o in outs)
    assert outs[0].rewards[0] == pytest.approx(0.9)
    ep = outs[-1].episodes[0]
    assert ep["vlm_success"] is None and ep["vlm_fired"] is False and ep["vlm_return"] == pytest.approx(1.85)


def test_inactive_envs_are_left_alone():
    scorer = FakeScorer()
    step = RewardStep(3, scorer, goal="g")
    for i in range(3):
        step.start_episode(i)
    out = step.apply(frames(0.9, 0.2), [0, 0, 0], [False, False, False], [False, False, False],
                     active=[True, False, True])
    assert out.scored.tolist() == [True, False, True] and out.rewards.tolist() == [1.0, 0.0, 0.0]
    assert np.isnan(out.probs[1]) and out.terminated.tolist() == [True, False, False]
    assert scorer.frames_seen == [2]
    assert [step.episode_length(i) for i in range(3)] == [0, 0, 1]  # env 0's episode ended


def test_infos_as_a_gymnasium_vector_dict():
    step = RewardStep(2, FakeScorer(), goal="g", terminate_on_success=False)
    step.start_episode(0)
    step.start_episode(1)
    infos = {"ground_truth_success": np.array([True, True]), "_ground_truth_success": np.array([True, False])}
    out = step.apply(frames(0.1, 0.1), [0, 0], [False, False], [True, True], infos)
    assert out.episodes[0]["ground_truth_success"] and not out.episodes[1]["ground_truth_success"]


def test_frame_window_scores_the_mean_of_the_last_k_embeddings():
    torch = pytest.importorskip("torch")
    from vlm_rewards.rewards import mean_embedding

    class TorchScorer(FakeScorer):
        def encode_frames(self, f):
            return torch.as_tensor(np.asarray(f, dtype=np.float32))

        def score_embeddings(self, emb, goals):
            self.last = emb
            return super().score_embeddings(emb.numpy(), goals)

    scorer = TorchScorer()
    step = RewardStep(1, scorer, goal="g", frame_window=2, terminate_on_success=False)
    step.start_episode(0)
    seq = [np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([[0.6, 0.8]])]
    for t, f in enumerate(seq):
        step.apply(f, [0], [False], [False])
        expected = mean_embedding(torch.as_tensor(np.concatenate(seq[max(0, t - 1): t + 1])).float(), 2)
        torch.testing.assert_close(scorer.last[0], expected)
    step.start_episode(0)  # a new episode forgets the old frames
    step.apply(seq[1], [0], [False], [False])
    torch.testing.assert_close(scorer.last[0], mean_embedding(torch.as_tensor(seq[1]).float(), 2))


def test_precomputed_embeddings_equal_frames():
    a, b = RewardStep(1, FakeScorer(), goal="g"), RewardStep(1, FakeScorer(), goal="g")
    a.start_episode(0)
    b.start_episode(0)
    out_a = a.apply(frames(0.7), [0], [False], [False])
    out_b = b.apply(None, [0], [False], [False], embeddings=frames(0.7))
    assert out_a.rewards.tolist() == out_b.rewards.tolist() and out_a.probs.tolist() == out_b.probs.tolist()


def test_remote_scorer():
    pool = FakePool()
    step = RewardStep(2, pool, terminate_on_success=True, owner="RayVecEnv")
    step.start_episode(0, {"goal": "a"})
    step.start_episode(1, {"goal": "b"})
    out = step.apply([np.full((2, 2, 3), 0.9), np.full((2, 2, 3), 0.1)], [0, 0], [False, False], [False, False])
    assert pool.calls == [(2, ["a", "b"])] and out.terminated.tolist() == [True, False]
    assert np.isnan(out.cache_hit_rate)  # the pool keeps no frame cache here
    with pytest.raises(ValueError, match="frame_window must be 1 with a remote scorer"):
        RewardStep(2, pool, frame_window=3)
    with pytest.raises(ValueError, match="embeddings need a local scorer"):
        step.apply(None, [0, 0], [False, False], [False, False], embeddings=frames(0.1, 0.2))


def test_frame_from_obs():
    obs = {"image": np.zeros((2, 2, 3)), "goal": np.ones(4)}
    assert frame_from_obs(obs, "image").shape == (2, 2, 3)
    assert frame_from_obs(np.ones((2, 2, 3)), "observation").shape == (2, 2, 3)
    with pytest.raises(ValueError, match="frame_source='pixels'"):
        frame_from_obs(obs, "pixels")


@pytest.mark.parametrize(
    ("gts", "offs", "direct"),
    [
        ([False, False, True, False], [False, False, False, False], True),  # straight to the goal
        ([False, False, True, False], [False, True, False, False], False),  # a wrong state first
        ([False, True, False, False], [False, False, False, True], True),  # wrong state only after success
        ([False, False, False, False], [False, False, False, False], False),  # never succeeded
    ],
)
def test_direct_success_needs_the_goal_before_any_off_goal_state(gts, offs, direct):
    step = RewardStep(1, FakeScorer(), goal="g", terminate_on_success=False)
    step.start_episode(0)
    outs = run(step, [0.1] * 4, ends=[False, False, False, True], gts=gts, offs=offs)
    record = outs[-1].episodes[0]
    assert record["direct_success"] is direct and record["ground_truth_success"] is any(gts)


# --- confirmation: k of the last n scored frames --------------------------------------------
def _run(step, ps, ends=None):
    """Step one env through probabilities ``ps``; the rewards and terminations per step."""
    step.start_episode(0, {"goal": "g"})
    rewards, terms = [], []
    for t, p in enumerate(ps):
        end = bool(ends and ends[t])
        frames = np.array([[p]], dtype=np.float32) if step.due([end])[0] else None
        out = step.apply(frames, [0.0], [False], [end], [{}])
        rewards.append(float(out.rewards[0]))
        terms.append(bool(out.terminated[0]))
    return rewards, terms


def test_confirm_default_is_the_papers_rule():
    rewards, terms = _run(RewardStep(1, FakeScorer(), terminate_on_success=False), [0.2, 0.9, 0.1, 0.8])
    assert rewards == [0.0, 1.0, 0.0, 1.0]


def test_confirm_k_of_n_fires_only_when_held():
    ps = [0.9, 0.1, 0.9, 0.2, 0.2, 0.9, 0.9]
    rewards, _ = _run(RewardStep(1, FakeScorer(), terminate_on_success=False, confirm=(2, 2)), ps)
    assert rewards == [0, 0, 0, 0, 0, 0, 1.0]  # two passing frames in a row only at the end
    rewards, _ = _run(RewardStep(1, FakeScorer(), terminate_on_success=False, confirm=(2, 3)), ps)
    assert rewards == [0, 0, 1.0, 0, 0, 0, 1.0]  # [.9 .1 .9] and [.2 .9 .9]
    # With termination the episode ends at the first confirmed step, and the next episode
    # starts with an empty window.
    step = RewardStep(1, FakeScorer(), terminate_on_success=True, confirm=(2, 3))
    rewards, terms = _run(step, [0.9, 0.1, 0.9])
    assert terms == [False, False, True] and rewards[-1] == 1.0
    rewards, _ = _run(step, [0.9])
    assert rewards == [0.0]


def test_confirm_counts_scored_frames_only_and_keeps_probs():
    step = RewardStep(1, FakeScorer(), terminate_on_success=False, confirm=(2, 2), score_every=2)
    step.start_episode(0, {"goal": "g"})
    seen = []
    for p in (0.9, 0.9, 0.9, 0.9):
        due = step.due([False])[0]
        out = step.apply(np.array([[p]], np.float32) if due else None, [0.0], [False], [False], [{}])
        seen.append((bool(out.scored[0]), float(out.rewards[0]), float(out.probs[0])))
    assert [s[1] for s in seen] == [0.0, 0.0, 0.0, 1.0]  # scored at steps 2 and 4
    assert seen[1][2] == pytest.approx(0.9)  # p stays each frame's own


def test_confirm_checked():
    with pytest.raises(ValueError, match="k <= n"):
        RewardStep(1, FakeScorer(), confirm=(3, 2))
    with pytest.raises(TypeError, match="pair"):
        RewardStep(1, FakeScorer(), confirm=2)
    with pytest.raises(ValueError, match="confirm n must be >= 1"):
        RewardStep(1, FakeScorer(), confirm=(1, 0))
    with pytest.raises(ValueError, match="binary reward"):
        RewardStep(1, FakeScorer(binary=False), confirm=(2, 2))


def test_confirm_in_config_and_wrappers(tiny_model):
    import gymnasium as gym

    from helpers import GOALS
    from vlm_rewards import RewardScorer
    from vlm_rewards.agents.config import load_config
    from vlm_rewards.wrappers import VLMRewardWrapper

    assert load_config(None).reward.confirm == (1, 1)
    assert load_config(None, ["reward.confirm=[2, 3]"]).reward.confirm == (2, 3)
    with pytest.raises(ValueError, match="k <= n"):
        load_config(None, ["reward.confirm=[3, 2]"])
    scorer = RewardScorer(tiny_model, goal_set=GOALS)
    env = VLMRewardWrapper(gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array", render_size=32), scorer,
                           goal=GOALS[0], confirm=(2, 4))
    assert env.confirm == (2, 4)
