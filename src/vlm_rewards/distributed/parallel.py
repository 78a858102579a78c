"""``map_shards``: run ``fn(shard)`` for every shard as Ray tasks; results in shard order.

The generic helper behind ``vlm-rewards collect --ray`` and ``evaluate --ray``: each
shard (a seed range, a list of files, a goal subset...) is an independent task. A task
whose worker process or node dies is run again by Ray (``max_retries``); an exception
raised by ``fn`` is not retried and reaches the caller with the shard index in its notes.

Example:
    >>> from vlm_rewards.distributed import map_shards
    >>> map_shards(lambda s: sum(s), [[1, 2], [3, 4]], num_cpus=1)  # doctest: +SKIP
    [3, 7]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from vlm_rewards._validation import check_positive_int

__all__ = ["map_shards"]

S = TypeVar("S")
R = TypeVar("R")


def map_shards(
    fn: Callable[..., R],
    shards: Sequence[S],
    *,
    shared: Mapping[str, Any] | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    max_retries: int = 3,
    max_in_flight: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    start_kwargs: Mapping[str, Any] | None = None,
) -> list[R]:
    """``[fn(shard, **shared) for shard in shards]``, each call a Ray task.

    Args:
        fn: a picklable function (module-level, or a closure: cloudpickle ships it).
        shards: the work items, one task each.
        shared: keyword arguments for every call; each value goes to the object store
            once (a model, a goal list), not once per task.
        num_cpus, num_gpus: Ray resources per task.
        max_retries: reruns of a task whose worker died (not of one that raised).
        max_in_flight: most tasks submitted at once (default: all), to bound memory.
        progress: called as ``progress(done, total)`` after each shard finishes.
        start_kwargs: for :func:`~vlm_rewards.distributed.start_ray` when Ray is not
            running yet (e.g. ``{"address": "auto"}`` or ``{"num_cpus": 8}``); a local
            instance started here is shut down before returning.
    """
    import ray

    from vlm_rewards.distributed.runtime import ensure_ray

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(shards, (str, bytes)) or not isinstance(shards, Sequence):
        raise TypeError(f"shards must be a sequence of work items, got {type(shards).__name__}")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    limit = len(shards) if max_in_flight is None else check_positive_int(max_in_flight, "max_in_flight")
    if not shards:
        return []
    runtime = ensure_ray(**dict(start_kwargs or {}))
    try:
        task = ray.remote(fn).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries, retry_exceptions=False)
        common = {k: ray.put(v) for k, v in (shared or {}).items()}
        results: list[Any] = [None] * len(shards)
        index_of: dict[Any, int] = {}
        next_shard, done = 0, 0
        while done < len(shards):
            while next_shard < len(shards) and len(index_of) < limit:
                index_of[task.remote(shards[next_shard], **common)] = next_shard
                next_shard += 1
            ready, _ = ray.wait(list(index_of), num_returns=1)
            for ref in ready:
                i = index_of.pop(ref)
                try:
                    results[i] = ray.get(ref)
                except Exception as exc:
                    for other in index_of:
                        ray.cancel(other)
                    exc.add_note(f"while running shard {i} of {len(shards)}: {shards[i]!r:.200}")
                    raise
                done += 1
                if progress is not None:
                    progress(done, len(shards))
        return results
    finally:
        if runtime is not None:
            runtime.shutdown()
