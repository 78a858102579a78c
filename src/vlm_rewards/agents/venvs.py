"""The vector env a run trains in: SB3's DummyVecEnv / SubprocVecEnv, or Ray workers.

:func:`make_train_venv` wraps the in-process vector env in ``VecVLMReward``. With
``env.vec_env: ray``, :func:`make_ray_train_venv` builds it from the same sub-envs
(``make_env``: goal embedding in the observation), stepped by :class:`RayVecEnv` workers
that send their frames to a :class:`RayRewardPool` whose actors hold a scorer with the
run's reward settings. The learner (SB3 PPO) and the evaluation stay in the training
process. This module is the agents' side of :mod:`vlm_rewards.distributed`, which knows
nothing of training configs.

Example:
    >>> config = load_config("configs/phone_common.yaml", ["env.vec_env=ray", "ray.reward_actors=2"])  # doctest: +SKIP
    >>> train(config, "runs/phone-ray")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from vlm_rewards.agents.config import TrainConfig
from vlm_rewards.agents.envs import goal_table, make_env, region_source, scorer_settings

__all__ = ["make_ray_train_venv", "make_train_venv", "pool_scorer_kwargs"]


def pool_scorer_kwargs(config: Any) -> dict[str, Any]:
    """The run's scorer settings (:func:`~vlm_rewards.agents.envs.scorer_settings`) for the
    pool's actors, which load the model themselves (hence dtype and device here)."""
    from vlm_rewards.distributed.pool import _SCORER_ARGS
    from vlm_rewards.models.accel import resolve_dtype

    reward = config.reward
    kwargs = scorer_settings(reward, config.env, seed=config.seed)
    kwargs["dtype"] = resolve_dtype(reward.dtype, reward.device)
    if "cache_size" not in _SCORER_ARGS:
        kwargs.pop("cache_size")
    if reward.device is not None:
        kwargs["device"] = reward.device
    return kwargs


def make_ray_train_venv(config: Any, table: dict[str, Any], *, seed: int | None = None):
    """``VecMonitor(RayVecEnv)`` for ``config`` (a :class:`~vlm_rewards.agents.TrainConfig`
    with ``env.vec_env == "ray"``); closing it stops the workers, the pool and a local
    Ray instance started for it.
    """
    from stable_baselines3.common.vec_env import VecMonitor

    from vlm_rewards.distributed.pool import RayRewardPool
    from vlm_rewards.distributed.runtime import ensure_ray
    from vlm_rewards.distributed.vec_env import RayVecEnv

    rc = config.ray
    start: dict[str, Any] = {"address": rc.address} if rc.address else {"num_cpus": rc.num_cpus, "num_gpus": rc.num_gpus}
    vlm = config.reward.kind == "vlm"
    owned: list[Any] = []
    runtime = ensure_ray(**start)
    if runtime is not None:
        owned.append(runtime)
    try:
        pool = None
        if vlm:
            pool = RayRewardPool(
                config.reward.model, num_actors=rc.reward_actors, num_cpus=rc.reward_actor_cpus,
                num_gpus=rc.reward_actor_gpus, max_batch_frames=rc.max_batch_frames, batch_wait_ms=rc.batch_wait_ms,
                **pool_scorer_kwargs(config),
            )
            owned.insert(0, pool)  # closed before the runtime
        # The worker renders the frame itself before an auto-reset: no RenderFrameInfo.
        factory = functools.partial(
            make_env, config.env, table, split="train", terminate_on_success=not vlm, render=vlm, frame_info=False
        )
        venv = RayVecEnv(
            [factory] * config.env.n_envs, pool, num_workers=rc.env_workers, worker_num_cpus=rc.env_worker_cpus,
            terminate_on_success=config.reward.terminate_on_success, confirm=config.reward.confirm, close_with=owned,
        )
    except BaseException:
        for obj in owned:
            (obj.close if hasattr(obj, "close") else obj.shutdown)()
        raise
    venv.seed(config.seed if seed is None else seed)
    return VecMonitor(venv)


def make_train_venv(config: TrainConfig, scorer, table: dict[str, np.ndarray] | None = None, *, seed: int | None = None):
    """The SB3 vector env the agent trains in (see :mod:`vlm_rewards.agents.envs`)."""
    from vlm_rewards.wrappers import VecPatchFeatures

    table = goal_table(scorer, config.env) if table is None else table
    venv = make_ray_train_venv(config, table, seed=seed) if config.env.vec_env == "ray" else _local_train_venv(config, scorer, table, seed)
    # One batched encoding of every sub-env's view per step, outside the monitor (which only
    # counts rewards); the reward encodes the rendered frame, which may differ in size.
    return VecPatchFeatures(venv, scorer.model) if config.agent.vlm_patches else venv


def _local_train_venv(config: TrainConfig, scorer, table: dict[str, np.ndarray], seed: int | None):
    """``VecMonitor`` over SB3's DummyVecEnv/SubprocVecEnv with the VLM reward and region features."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    from vlm_rewards.wrappers import VecRegionSimilarity, VecVLMReward

    vlm = config.reward.kind == "vlm"
    regions = region_source(config, scorer)
    factory = functools.partial(
        make_env, config.env, table, split="train", terminate_on_success=not vlm, render=vlm,
        regions=regions, batch_regions=True,
    )
    fns = [factory] * config.env.n_envs
    venv = SubprocVecEnv(fns, start_method="spawn") if config.env.vec_env == "subproc" else DummyVecEnv(fns)
    venv.seed(config.seed if seed is None else seed)
    if vlm:
        venv = VecVLMReward(venv, scorer, terminate_on_success=config.reward.terminate_on_success,
                            confirm=config.reward.confirm)
    if regions is not None:
        # Outside the reward: its batched encoding of the same frames fills the scorer's cache.
        venv = VecRegionSimilarity(venv, *regions)
    return VecMonitor(venv)
