"""Scale out on Ray: a reward-model serving pool, Ray-backed env workers, sharded maps.

Needs the ``ray`` extra (``pip install 'vlm-rewards[ray]'``). Names load on first use,
so importing this package does not import Ray.

- :class:`RayRewardPool`: N actors holding the VLM; batched, ordered, fault-tolerant ``score``.
- :class:`RayVecEnv`: a Stable-Baselines3 ``VecEnv`` whose env workers are Ray actors
  that get their rewards from the pool.
- :func:`map_shards`: run a function over shards as Ray tasks (collection, evaluation).
- :func:`start_ray` / :class:`RayRuntime`: start a local instance (files under the run
  dir or ``/tmp``) or join a cluster by address; clean shutdown.

Example:
    >>> from vlm_rewards.distributed import RayRewardPool, start_ray  # doctest: +SKIP
    >>> with start_ray(num_cpus=4), RayRewardPool("builtin:default", goal_set=goals) as pool:  # doctest: +SKIP
    ...     rewards = pool.score(frames, goals).reward
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "RayRewardPool": "vlm_rewards.distributed.pool",
    "RewardPoolClient": "vlm_rewards.distributed.pool",
    "RewardPoolError": "vlm_rewards.distributed.pool",
    "RayVecEnv": "vlm_rewards.distributed.vec_env",
    "map_shards": "vlm_rewards.distributed.parallel",
    "RayRuntime": "vlm_rewards.distributed.runtime",
    "RayShutdownError": "vlm_rewards.distributed.runtime",
    "ensure_ray": "vlm_rewards.distributed.runtime",
    "start_ray": "vlm_rewards.distributed.runtime",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vlm_rewards.distributed' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
