"""Training on Ray: the run's vector env as env-worker actors rewarded by a reward pool.

With ``env.vec_env: ray`` in a training config, :func:`vlm_rewards.agents.envs.make_train_venv`
builds its env here: the same sub-envs as in-process (``make_env``: goal embedding in
the observation), stepped by :class:`RayVecEnv` workers that send their frames to a
:class:`RayRewardPool` whose actors hold a scorer with the run's reward settings. The
learner (SB3 PPO) and the evaluation stay in the training process.

Example:
    >>> config = load_config("configs/phone_common.yaml", ["env.vec_env=ray", "ray.reward_actors=2"])  # doctest: +SKIP
    >>> train(config, "runs/phone-ray")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["make_ray_train_venv", "pool_scorer_kwargs"]


def pool_scorer_kwargs(config: Any) -> dict[str, Any]:
    """The :class:`RewardScorer` settings of the run (as ``agents.envs.make_scorer`` uses
    them), for the pool's actors."""
    from vlm_rewards.agents.envs import _negative_pool, _torch_dtype
    from vlm_rewards.distributed.pool import _SCORER_ARGS

    reward = config.reward
    kwargs: dict[str, Any] = dict(
        reward=reward.function,
        temperature=reward.temperature,
        threshold=reward.threshold,
        goal_set=_negative_pool(reward, config.env) if reward.spec.needs_negatives else None,
        num_negatives=reward.num_negatives,
        alpha=reward.alpha,
        baseline=reward.baseline,
        seed=config.seed,
        dtype=_torch_dtype(reward.dtype),
    )
    if "cache_size" in _SCORER_ARGS:
        kwargs["cache_size"] = reward.frame_cache
    if reward.device is not None:
        kwargs["device"] = reward.device
    return kwargs


def make_ray_train_venv(config: Any, table: dict[str, Any], *, seed: int | None = None):
    """``VecMonitor(RayVecEnv)`` for ``config`` (a :class:`~vlm_rewards.agents.TrainConfig`
    with ``env.vec_env == "ray"``); closing it stops the workers, the pool and a local
    Ray instance started for it.
    """
    from stable_baselines3.common.vec_env import VecMonitor

    from vlm_rewards.agents.envs import make_env
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
            terminate_on_success=config.reward.terminate_on_success, close_with=owned,
        )
    except BaseException:
        for obj in owned:
            (obj.close if hasattr(obj, "close") else obj.shutdown)()
        raise
    venv.seed(config.seed if seed is None else seed)
    return VecMonitor(venv)
