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

from collections.abc import Callable
from typing import Any

__all__ = ["make_ray_train_venv"]


def make_ray_train_venv(config: Any, env_factory: Callable[[], Any], scorer_kwargs: dict[str, Any], *,
                        seed: int | None = None):
    """``VecMonitor(RayVecEnv)`` for ``config`` (a :class:`~vlm_rewards.agents.TrainConfig`
    with ``env.vec_env == "ray"``): ``env.n_envs`` copies of ``env_factory``'s env, rewarded by a
    pool whose scorers take ``scorer_kwargs``; closing it stops the workers, the pool and a
    local Ray instance started for it.

    The caller (:mod:`vlm_rewards.agents.envs`) builds the factory and the scorer settings,
    so this layer needs nothing from the agents package.
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
                **scorer_kwargs,
            )
            owned.insert(0, pool)  # closed before the runtime
        venv = RayVecEnv(
            [env_factory] * config.env.n_envs, pool, num_workers=rc.env_workers, worker_num_cpus=rc.env_worker_cpus,
            terminate_on_success=config.reward.terminate_on_success, close_with=owned,
        )
    except BaseException:
        for obj in owned:
            (obj.close if hasattr(obj, "close") else obj.shutdown)()
        raise
    venv.seed(config.seed if seed is None else seed)
    return VecMonitor(venv)
