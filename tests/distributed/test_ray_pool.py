"""RayRewardPool and RayVecEnv on a local 2-CPU Ray instance with a tiny CLIP.

One Ray instance and one pool serve the whole module (Ray and the actors' torch
imports take seconds); the kill tests restart actors, which the pool must absorb.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("psutil")

import helpers  # noqa: E402
from helpers import GOALS, ColourSquareEnv  # noqa: E402

from vlm_rewards import RewardScorer  # noqa: E402
from vlm_rewards.distributed import RayRewardPool, RayVecEnv, start_ray  # noqa: E402
from vlm_rewards.distributed.pool import RewardPoolClient  # noqa: E402

# Env factories and the test env live in test files that Ray workers cannot import by
# name; ship them by value.
ray.cloudpickle.register_pickle_by_value(helpers)
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def runtime():
    rt = start_ray(num_cpus=2, object_store_memory=128 * 1024**2)
    yield rt
    rt.shutdown()


@pytest.fixture(scope="module")
def pool(runtime, tiny_clip_dir):
    # 0.5 CPU each leaves room on the 2-CPU instance for two env workers.
    # β = 0.25 makes the random tiny model's reward fire on about a quarter of the frames.
    p = RayRewardPool(tiny_clip_dir, num_actors=2, num_cpus=0.5, goal_set=GOALS, threshold=0.25,
                      max_batch_frames=64, split_frames=16)
    yield p
    p.close()


@pytest.fixture(scope="module")
def scorer(tiny_model):
    return RewardScorer(tiny_model, goal_set=GOALS, threshold=0.25)


def _batch(n: int, seed: int = 0, size: int = 24):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    goals = [GOALS[int(i)] for i in rng.integers(len(GOALS), size=n)]
    return frames, goals


def _info_once_restarted(actor, timeout: float = 300.0) -> dict:
    # A restarted actor re-imports torch and reloads the model: on a loaded 2-core machine
    # that has taken over a minute.
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ray.get(actor.info.remote(), timeout=timeout)
        except ray.exceptions.ActorUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_pool_matches_in_process_scorer(pool, scorer):
    frames, goals = _batch(40)
    expected = scorer.score(frames, goals)
    # 40 frames > split_frames: split over both actors and put back together in order.
    out = pool.score(frames, goals)
    np.testing.assert_array_equal(out.reward, expected.reward)
    np.testing.assert_allclose(out.score, expected.score, rtol=0, atol=1e-6)
    assert out.reward.dtype == expected.reward.dtype == np.float32
    # New frames scored as one request (<= split_frames) go through the model in the same
    # batch as in-process, so the result is bit-identical.
    fresh, fresh_goals = _batch(12, seed=10)
    np.testing.assert_array_equal(pool.score(fresh, fresh_goals).score, scorer.score(fresh, fresh_goals).score)
    assert 0 < expected.reward.sum() < len(frames) or np.unique(expected.score).size > 1
    assert pool.settings()["goal_set_size"] == len(GOALS)


def test_concurrent_requests_are_batched_and_ordered(pool, scorer):
    frames, goals = _batch(60, seed=1)
    requests = [(frames[i : i + 3], goals[i : i + 3]) for i in range(0, 60, 3)]
    before = {s["pid"]: s["batches"] for s in pool.stats()}
    outs = pool.score_many(requests)
    after = pool.stats()
    expected = scorer.score(frames, goals)
    np.testing.assert_allclose(np.concatenate([o.score for o in outs]), expected.score, rtol=0, atol=1e-6)
    batches = sum(s["batches"] - before.get(s["pid"], 0) for s in after)
    assert batches < len(requests), "20 requests sent at once were not coalesced into fewer batches"


def test_bad_requests_fail_with_named_argument(pool):
    frames, goals = _batch(3)
    with pytest.raises(ValueError, match="goals must have one entry per frame"):
        pool.score(frames, goals[:2])
    with pytest.raises(ValueError, match=r"frames must have shape \(N, H, W, 3\)"):
        pool.score(frames[0], goals[0])
    with pytest.raises(TypeError, match="unknown scorer setting"):
        RayRewardPool("builtin:default", num_actors=1, goalset=GOALS)
    # Float frames outside [0, 1] are rejected by the actor (the scorer's own check) and
    # the error reaches the caller without retries.
    with pytest.raises(ValueError, match="frames"):
        pool.score(np.full((2, 8, 8, 3), 7.0, dtype=np.float32), goals[:2])


def test_actor_killed_mid_stream_every_frame_scored_once(pool, scorer):
    frames, goals = _batch(240, seed=2)
    requests = [(frames[i : i + 2], goals[i : i + 2]) for i in range(0, 240, 2)]
    expected = scorer.score(frames, goals)
    client = pool.client()
    pending = client.submit_many(requests)  # 120 requests in flight over 2 actors
    victim = pool.actors[0]
    ray.kill(victim, no_restart=False)
    outs = pending.result()
    assert client.retries >= 1, "the kill did not hit any in-flight request"
    assert len(outs) == len(requests) and all(len(o.reward) == 2 for o in outs)
    np.testing.assert_array_equal(np.concatenate([o.reward for o in outs]), expected.reward)
    np.testing.assert_allclose(np.concatenate([o.score for o in outs]), expected.score, rtol=0, atol=1e-6)
    # The killed actor came back (restarted by Ray) and serves again.
    assert _info_once_restarted(victim)["restarted"] is True
    again = pool.score(frames[:4], goals[:4])
    np.testing.assert_array_equal(again.reward, expected.reward[:4])


def test_unschedulable_workers_fail_with_a_reason(pool):
    with pytest.raises(TimeoutError, match="did not start within .*free"):
        RayVecEnv([_make_env], pool, worker_num_cpus=64, start_timeout_s=1)


def test_client_pickles_without_local_state(pool):
    import pickle

    client = pool.client()
    client.retries = 5
    data = ray.cloudpickle.dumps(client)
    assert b"ActorHandle" not in data  # names travel, not handles (see RewardPoolClient)
    copy = pickle.loads(data)
    assert isinstance(copy, RewardPoolClient)
    assert copy.retries == 0 and copy.num_actors == 2 and copy.is_binary
    frames, goals = _batch(3, seed=5)
    np.testing.assert_array_equal(copy.score(frames, goals).reward, pool.score(frames, goals).reward)


def _make_env():
    return ColourSquareEnv(render_mode="rgb_array", max_steps=6)


@pytest.fixture(scope="module")
def venv(pool):
    # One set of env workers serves the stepping and the PPO test (worker start-up is slow).
    v = RayVecEnv([_make_env] * 4, pool, num_workers=2, worker_num_cpus=0.5)
    yield v
    v.close()


def test_ray_vec_env_steps_with_pool_rewards(venv, scorer):
    venv.seed(3)
    obs = venv.reset()
    assert obs.shape == (4, 24, 24, 3)
    assert all(info["goal"] in GOALS for info in venv.reset_infos)
    fired = truncated = 0
    for _ in range(8):
        obs, rewards, dones, infos = venv.step(np.array([2, 0, 1, 2]))
        frames = np.stack([info["terminal_observation"] if d else o for o, d, info in zip(obs, dones, infos)])
        expected = scorer.score(frames, [info["goal"] for info in infos])
        np.testing.assert_array_equal(rewards, expected.reward)
        assert [info["vlm_reward"] for info in infos] == list(rewards)
        for r, d, info in zip(rewards, dones, infos):
            # terminate_on_success: a fired reward ends the episode; so does the time limit
            assert d == (r > 0 or info["TimeLimit.truncated"])
            if d:
                assert info["vlm_episode"]["vlm_success"] == (r > 0)
                fired += r > 0
                truncated += info["TimeLimit.truncated"]
    assert fired > 0  # with β = 0.25 some episodes end on a VLM success
    assert venv.get_attr("max_steps") == [6] * 4
    assert venv.env_method("render", indices=[3])[0].shape == (24, 24, 3)
    assert venv.env_is_wrapped(ColourSquareEnv) == [False] * 4


def test_ppo_learns_on_ray_vec_env(venv):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    model = PPO("MlpPolicy", VecMonitor(venv), n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu",
                policy_kwargs={"net_arch": [16]})
    model.learn(total_timesteps=64)
    assert model.num_timesteps >= 64
    assert len(model.ep_info_buffer) > 0  # episodes ended (VLM success or time limit)


class _CrashOnce(ColourSquareEnv):
    """Kills its worker process at the 2nd step, once (a marker file remembers)."""

    def __init__(self, marker):
        super().__init__(render_mode="rgb_array", max_steps=6)
        self.marker, self.steps = marker, 0

    def step(self, action):
        self.steps += 1
        if self.steps == 2 and not self.marker.exists():
            self.marker.touch()
            os._exit(1)
        return super().step(action)


def test_ray_vec_env_survives_env_worker_death(pool, tmp_path):
    marker = tmp_path / "crashed"
    # The module's pool and env workers hold both CPUs: these workers reserve none.
    venv = RayVecEnv([_make_env, lambda: _CrashOnce(marker)], pool, num_workers=2, worker_num_cpus=0,
                     terminate_on_success=False)
    try:
        venv.seed(0)
        venv.reset()
        first_obs, *_ = venv.step(np.array([1, 1]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            obs, rewards, dones, infos = venv.step(np.array([1, 1]))  # worker 1 dies here
        assert marker.exists() and any("env worker 1" in str(w.message) for w in caught)
        assert dones[1] and infos[1]["env_worker_restarted"] and infos[1]["TimeLimit.truncated"]
        assert rewards[1] == 0.0
        np.testing.assert_array_equal(infos[1]["terminal_observation"], first_obs[1])
        assert not dones[0] and "vlm_reward" in infos[0]  # the other worker was not disturbed
        obs, rewards, dones, infos = venv.step(np.array([1, 1]))  # both serve again
        assert "vlm_reward" in infos[1] and venv.worker_restarts == 1
    finally:
        venv.close()


def test_pool_encode_matches_evaluation_encoder(pool, tiny_model):
    pytest.importorskip("sklearn")
    from vlm_rewards.distributed.datasets import RayEncoder
    from vlm_rewards.evaluation.scores import Encoder

    frames, _ = _batch(50, seed=4)
    frames[10] = frames[3]  # a repeated frame is encoded once and shared
    raw = pool.encode(frames, shard_frames=16)
    assert raw.shape == (50, 16) and raw.dtype == np.float32
    local = Encoder(tiny_model).images(frames)
    remote = RayEncoder(tiny_model, pool, shard_frames=16).images(frames, key="x")
    np.testing.assert_allclose(np.asarray(remote), np.asarray(local), rtol=0, atol=1e-5)
    assert RayEncoder(tiny_model, pool).texts(GOALS).shape == (len(GOALS), 16)


def test_collect_on_ray_is_byte_identical(runtime, tmp_path):
    from vlm_rewards.data import collect_evalset
    from vlm_rewards.distributed.datasets import collect_evalset_on_ray

    kwargs = dict(sections=("phone:common", "phone:diverse"), frames=6, heldout_frames=4, seed=3, shard_size=4)
    local = collect_evalset(tmp_path / "local", **kwargs)
    # The module's actors hold both CPUs: these tasks reserve none.
    remote = collect_evalset_on_ray(tmp_path / "ray", task_cpus=0, **kwargs)
    local_files = sorted(p.name for p in local.iterdir())
    assert sorted(p.name for p in remote.iterdir()) == local_files and len(local_files) > 4
    for name in local_files:
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name


def test_training_config_runs_ppo_on_ray(runtime):
    from vlm_rewards.agents import load_config
    from vlm_rewards.agents.envs import goal_table, make_scorer
    from vlm_rewards.agents.venvs import make_train_venv
    from vlm_rewards.agents.algos import build_agent

    # No CPUs reserved: the module's pool and env workers already hold both.
    cfg = load_config(None, ["env.vec_env=ray", "env.n_envs=2", "env.obs_size=32", "agent.n_steps=8",
                             "agent.batch_size=16", "agent.n_epochs=1", "agent.features_dim=16", "agent.net_arch=[16]",
                             "agent.cnn_channels=[8]", "reward.dtype=fp32", "ray.reward_actor_cpus=0",
                             "ray.env_worker_cpus=0", "ray.env_workers=1"])
    scorer = make_scorer(cfg.reward, cfg.env, seed=cfg.seed)
    venv = make_train_venv(cfg, scorer, goal_table(scorer, cfg.env), seed=0)
    try:
        ray_venv = venv.venv
        assert isinstance(ray_venv, RayVecEnv) and len(ray_venv.workers) == 1
        pool = ray_venv._close_with[0]
        assert pool.settings() == scorer.settings()  # the actors score as the run's scorer does
        agent = build_agent(cfg, venv)
        agent.learn(16)
        assert agent.num_timesteps >= 16
        obs, rewards, dones, infos = venv.step(np.array([venv.action_space.sample() for _ in range(2)]))
        assert set(obs) == {"image", "goal"} and all("vlm_probability" in info for info in infos)
    finally:
        venv.close()
    assert pool.closed
