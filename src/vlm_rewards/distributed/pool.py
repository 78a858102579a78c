"""``RayRewardPool``: N Ray actors, each holding a loaded VLM, serving batched rewards.

Each actor owns a :class:`~vlm_rewards.RewardScorer` built from the same model spec and
scorer settings as an in-process one, so it gives the same rewards. Requests that reach
an actor while its model is busy are coalesced into one batch for the next forward pass
(optionally waiting ``batch_wait_ms`` for more), so many env workers sending a few frames
each keep an accelerator busy with large batches.

Fault tolerance: actors are created with ``max_restarts``; a request whose actor dies
is sent again (to another actor when there is one) under the same request id, and every
result is matched to its id, so each frame gets exactly one reward. Scoring is a pure
function of (frame, goal) and the fixed settings (negatives are drawn from a seed), so a
restarted actor answers exactly as the one it replaces.

Example:
    >>> from vlm_rewards.distributed import RayRewardPool, start_ray
    >>> with start_ray(num_cpus=2):  # doctest: +SKIP
    ...     with RayRewardPool("builtin:default", num_actors=2, goal_set=goals) as pool:
    ...         pool.score(frames, "open the clock app").reward
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import math
import os
import time
import uuid
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

import ray
from ray import exceptions as rex

from vlm_rewards._validation import check_goal, check_positive_int
from vlm_rewards.scoring import RewardScorer, ScoreResult

__all__ = ["PendingCalls", "RayRewardPool", "RewardPoolClient", "RewardPoolError", "check_frame_batch", "check_request"]

# Failures of the machinery, not of the request: the same request on a (restarted or
# other) actor will succeed. A RayTaskError (the scorer raised) is never retried.
_RETRYABLE = (rex.RayActorError, rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError)
# How long an actor whose request failed is passed over while others are available.
_SUSPECT_S = 2.0
_SCORER_ARGS = frozenset(inspect.signature(RewardScorer.__init__).parameters) - {"self", "model"}


class RewardPoolError(RuntimeError):
    """A request could not be served after all retries (or an actor failed to start)."""


def check_frame_batch(frames: Any) -> np.ndarray:
    """Frames as a contiguous ``(N, H, W, 3)`` uint8/float array (numpy only, so env
    workers validate without importing torch)."""
    if isinstance(frames, (list, tuple)):
        if len(frames) == 0:
            raise ValueError("frames must not be empty (got an empty sequence)")
        shapes = {np.shape(f) for f in frames}
        if len(shapes) != 1:
            raise ValueError(f"frames must all have the same shape, got shapes {sorted(shapes)}")
        frames = np.stack([np.asarray(f) for f in frames])
    if hasattr(frames, "detach") and hasattr(frames, "cpu"):  # a torch tensor
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"frames must be a numpy array (N, H, W, 3) or a list of HxWx3 arrays, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (N, H, W, 3), got {frames.shape}")
    if len(frames) == 0:
        raise ValueError("frames must not be empty (got 0 frames)")
    if not (frames.dtype == np.uint8 or np.issubdtype(frames.dtype, np.floating)):
        raise TypeError(f"frames must be uint8 (0-255) or float in [0, 1], got dtype {frames.dtype}")
    return np.ascontiguousarray(frames)


def check_request(frames: Any, goals: Any) -> tuple[np.ndarray, list[str]]:
    """A checked ``(frames, goals)`` request: one goal per frame (or one string for all)."""
    frames = check_frame_batch(frames)
    if isinstance(goals, str):
        goals = [check_goal(goals)] * len(frames)
    if not isinstance(goals, (Sequence, np.ndarray)):
        raise TypeError(f"goals must be a string or a sequence of strings, got {type(goals).__name__}")
    goals = [check_goal(g, f"goals[{i}]") for i, g in enumerate(goals)]
    if len(goals) != len(frames):
        raise ValueError(f"goals must have one entry per frame: got {len(goals)} goals for {len(frames)} frames")
    return frames, goals


# --------------------------------------------------------------------------------------
# the actor
# --------------------------------------------------------------------------------------
@dataclass
class _Request:
    request_id: Any
    frames: np.ndarray
    goals: list[str]
    future: asyncio.Future


class ScorerServer:
    """Ray actor body: a :class:`RewardScorer` behind an asyncio batcher.

    ``score`` calls are async, so while the model runs (in a worker thread) the event
    loop keeps accepting requests; they are scored together in the next batch.
    """

    def __init__(self, model: Any, scorer_kwargs: dict[str, Any], num_threads: int | None,
                 max_batch_frames: int, batch_wait_s: float):
        import torch

        from vlm_rewards.models import load_model

        if num_threads:
            torch.set_num_threads(num_threads)
        if isinstance(model, (str, os.PathLike)):
            model = load_model(model)
        elif isinstance(model, list):  # [ObjectRef] of a loaded model
            model = ray.get(model[0])
        # device and dtype go to the scorer, which moves the model, exactly as in-process.
        self.scorer = RewardScorer(model, **scorer_kwargs)
        self.max_batch_frames = max_batch_frames
        self.batch_wait_s = batch_wait_s
        self._pending: deque[_Request] = deque()
        self._wake: asyncio.Event | None = None
        self._batcher: asyncio.Task | None = None
        # One thread: the model runs one batch at a time; the event loop stays free.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="vlmr-score")
        self.requests = 0
        self.frames = 0
        self.batches = 0
        self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "restarted": self.restarted,
            "requests": self.requests,
            "frames": self.frames,
            "batches": self.batches,
            "is_binary": self.scorer.is_binary,
            "settings": self.scorer.settings(),
        }

    def ping(self) -> int:
        return os.getpid()

    async def score(self, request_id: Any, frames: Any, goals: list[str]):
        from vlm_rewards._validation import check_frames

        frames, goals = check_request(frames, goals)
        check_frames(frames)  # the scorer's own checks (float range), per request
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher.done():
            self._wake = asyncio.Event()
            self._batcher = loop.create_task(self._batch_loop())
        request = _Request(request_id, frames, goals, loop.create_future())
        self._pending.append(request)
        self._wake.set()
        reward, score = await request.future
        return request_id, reward, score

    async def encode(self, request_id: Any, frames: Any):
        """``(N, D)`` float32 image embeddings (unnormalised, as :meth:`RewardScorer.encode_frames`)."""
        from vlm_rewards._validation import check_frames

        check_frames(frames)
        loop = asyncio.get_running_loop()
        emb = await loop.run_in_executor(self._executor, self._encode, frames)
        self.requests += 1
        self.frames += len(frames)
        return request_id, emb

    def _encode(self, frames: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.scorer.encode_frames(frames).float().cpu().numpy()

    def _take_batch(self) -> list[_Request]:
        """The oldest request and the next ones with the same frame shape, up to
        ``max_batch_frames`` frames (the first is always taken, however large)."""
        first = self._pending.popleft()
        key = (first.frames.shape[1:], first.frames.dtype)
        batch, kept, n = [first], deque(), len(first.frames)
        while self._pending:
            r = self._pending.popleft()
            if (r.frames.shape[1:], r.frames.dtype) == key and n + len(r.frames) <= self.max_batch_frames:
                batch.append(r)
                n += len(r.frames)
            else:
                kept.append(r)
        self._pending = kept
        return batch

    async def _batch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if self.batch_wait_s > 0:
                await asyncio.sleep(self.batch_wait_s)
            if not self._pending:
                self._wake.clear()
                continue
            batch = [r for r in self._take_batch() if not r.future.done()]
            if not self._pending:
                self._wake.clear()
            if not batch:
                continue
            frames = batch[0].frames if len(batch) == 1 else np.concatenate([r.frames for r in batch])
            goals = [g for r in batch for g in r.goals]
            try:
                out = await loop.run_in_executor(self._executor, self.scorer.score, frames, goals)
            except Exception as exc:  # reported to every request of the batch
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(exc)
                continue
            self.batches += 1
            start = 0
            for r in batch:
                stop = start + len(r.frames)
                self.requests += 1
                self.frames += len(r.frames)
                if not r.future.done():
                    r.future.set_result((out.reward[start:stop].copy(), out.score[start:stop].copy()))
                start = stop


# --------------------------------------------------------------------------------------
# the client (picklable: env-worker actors hold one)
# --------------------------------------------------------------------------------------
class RewardPoolClient:
    """Sends score requests to the pool's actors, retries those lost with an actor, and
    returns results in request order. Picklable: give one to each env worker.

    Get one from :meth:`RayRewardPool.client`; it does not own the actors. A pickled
    client carries the actors' names, not their handles, and looks them up on first use.
    """

    def __init__(self, actor_names: list[str], *, namespace: str | None, is_binary: bool, settings: dict[str, Any],
                 split_frames: int, max_retries: int, retry_backoff_s: float, timeout_s: float | None,
                 actors: list[Any] | None = None):
        self.actor_names = list(actor_names)
        self.namespace = namespace
        self._actors = list(actors) if actors is not None else None
        self.is_binary = is_binary
        self.settings = settings
        self.split_frames = split_frames
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.timeout_s = timeout_s
        self._init_local()

    def _init_local(self) -> None:
        uid = uuid.uuid4().int
        self._uid = uid & 0xFFFFFFFFFFFF
        self._counter = itertools.count()
        # A per-client starting actor spreads many clients' small requests over the pool.
        self._next = uid % len(self.actor_names)
        self._in_flight = [0] * len(self.actor_names)
        self._failed_at = [-math.inf] * len(self.actor_names)
        self.retries = 0

    def __getstate__(self) -> dict[str, Any]:
        # Names only: actor handles inside a restartable env worker's arguments are what
        # Ray cannot guarantee across a restart (ray-project/ray#53727).
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        state.pop("retries", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._actors = None
        self._init_local()

    @property
    def actors(self) -> list[Any]:
        """The actors' handles (looked up by name in a copy made by pickling)."""
        if self._actors is None:
            self._actors = [ray.get_actor(name, namespace=self.namespace) for name in self.actor_names]
        return self._actors

    @property
    def num_actors(self) -> int:
        return len(self.actor_names)

    def _pick(self) -> int:
        """The actor for the next request: not one that just failed (it may be restarting),
        then the one with the fewest requests in flight, then round robin."""
        n, now = len(self.actor_names), time.monotonic()
        order = {(self._next + k) % n: k for k in range(n)}
        best = min(order, key=lambda i: (now - self._failed_at[i] < _SUSPECT_S, self._in_flight[i], order[i]))
        self._next = (best + 1) % n
        return best

    def _submit(self, actor: int, method: str, rid: Any, payload: tuple[np.ndarray, list[str] | None]):
        self._in_flight[actor] += 1
        frames, goals = payload
        if method == "score":
            return self.actors[actor].score.remote(rid, frames, goals)
        return self.actors[actor].encode.remote(rid, frames)

    def submit_many(self, requests: Sequence[tuple[Any, Any]]) -> PendingCalls:
        """Send several ``(frames, goals)`` requests without waiting; ``.result()`` collects them."""
        checked = [check_request(f, g) for f, g in requests]
        return PendingCalls(self, checked, method="score")

    def score_many(self, requests: Sequence[tuple[Any, Any]]) -> list[ScoreResult]:
        """Score several ``(frames, goals)`` requests concurrently; results in the same order."""
        return self.submit_many(requests).result()

    def score(self, frames: Any, goals: Sequence[str] | str) -> ScoreResult:
        """Rewards for ``frames`` ``(N, H, W, 3)`` and ``goals`` (one per frame, or one for all).

        Batches larger than ``split_frames`` are split over the actors and put back together
        in order.
        """
        frames, goals = check_request(frames, goals)
        n = len(frames)
        size = max(self.split_frames, math.ceil(n / self.num_actors))
        parts = [(frames[i : i + size], goals[i : i + size]) for i in range(0, n, size)]
        outs = self.score_many(parts)
        if len(outs) == 1:
            return outs[0]
        return ScoreResult(reward=np.concatenate([o.reward for o in outs]), score=np.concatenate([o.score for o in outs]))

    def encode(self, frames: Any, shard_frames: int | None = None) -> np.ndarray:
        """``(N, D)`` float32 image embeddings of ``frames``, in shards of ``shard_frames``
        (default: ``split_frames``) spread over the actors, returned in order."""
        frames = check_frame_batch(frames)
        size = check_positive_int(shard_frames, "shard_frames") if shard_frames is not None else self.split_frames
        parts = [(frames[i : i + size], None) for i in range(0, len(frames), size)]
        outs = PendingCalls(self, parts, method="encode").result()
        return outs[0] if len(outs) == 1 else np.concatenate(outs)


class PendingCalls:
    """Requests in flight from :meth:`RewardPoolClient.submit_many` (or ``encode``).

    :meth:`result` waits for every request and re-sends those whose actor died (same
    request id; another actor when there is one, else the same one once Ray has
    restarted it) and returns one result per request, in order. A reply is accepted only
    for a request id still waiting for one, so no frame gets two rewards or none.
    """

    def __init__(self, client: RewardPoolClient, checked: list[tuple[np.ndarray, list[str] | None]], method: str = "score"):
        self._client = client
        self._requests = checked
        self._method = method
        ids = [(client._uid, next(client._counter)) for _ in checked]
        self._slot_of = {rid: i for i, rid in enumerate(ids)}
        self._pending: dict[Any, tuple[Any, int]] = {}  # ref -> (request id, actor)
        self._delayed: list[tuple[float, Any]] = []  # (resend time, request id)
        # request id -> [requests lost with a dead actor, failures of any kind, first failure time]
        self._failures: dict[Any, list[float]] = {}
        for rid in ids:
            self._send(rid)
        self._results: list[Any] = [None] * len(checked)

    def _send(self, rid: Any) -> None:
        c = self._client
        a = c._pick()
        payload = self._requests[self._slot_of[rid]]
        self._pending[c._submit(a, self._method, rid, payload)] = (rid, a)

    def _failed(self, rid: Any, a: int, exc: Exception) -> None:
        c = self._client
        now = time.monotonic()
        lost, failures, first = self._failures.setdefault(rid, [0, 0, now])
        # An unavailable actor is restarting: waiting for it costs time, not attempts. A
        # request lost with a dead actor counts against max_retries.
        lost += not isinstance(exc, rex.ActorUnavailableError)
        failures += 1
        self._failures[rid] = [lost, failures, first]
        if lost > c.max_retries:
            raise RewardPoolError(f"request {rid} was lost {lost} times (max_retries={c.max_retries}); last error: {exc}") from exc
        if c.timeout_s is not None and now - first > c.timeout_s:
            raise RewardPoolError(f"request {rid} could not be served for {c.timeout_s}s after its actor died: {exc}") from exc
        c.retries += 1
        c._failed_at[a] = now
        self._delayed.append((now + min(1.0, c.retry_backoff_s * 2 ** min(failures - 1, 6)), rid))

    def result(self) -> list[Any]:
        """One result per request, in order: :class:`ScoreResult` for ``score``, an
        ``(N, D)`` float32 array for ``encode``."""
        c = self._client
        try:
            while self._pending or self._delayed:
                now = time.monotonic()
                due = [rid for t, rid in self._delayed if t <= now]
                if due:
                    self._delayed = [d for d in self._delayed if d[0] > now]
                    for rid in due:
                        self._send(rid)
                if not self._pending:
                    time.sleep(max(0.0, min(d[0] for d in self._delayed) - now))
                    continue
                wait = c.timeout_s
                if self._delayed:
                    next_due = min(d[0] for d in self._delayed) - now
                    wait = next_due if wait is None else min(wait, next_due)
                ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=max(wait, 0.0) if wait is not None else None)
                if not ready:
                    if self._delayed:
                        continue
                    raise TimeoutError(
                        f"no reward from the pool within timeout_s={c.timeout_s}s ({len(self._pending)} requests pending)"
                    )
                for ref in ready:
                    rid, a = self._pending.pop(ref)
                    c._in_flight[a] -= 1
                    try:
                        got_id, *value = ray.get(ref)
                    except _RETRYABLE as exc:
                        self._failed(rid, a, exc)
                        continue
                    i = self._slot_of.get(got_id)
                    if got_id != rid or i is None or self._results[i] is not None:
                        raise RewardPoolError(f"reply for request {got_id} does not match the request {rid} it answers")
                    self._results[i] = ScoreResult(reward=value[0], score=value[1]) if self._method == "score" else value[0]
        finally:
            if self._pending:  # an error: these replies will never be read
                for _, a in self._pending.values():
                    c._in_flight[a] -= 1
                self._pending.clear()
            self._delayed.clear()
        return list(self._results)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# the pool
# --------------------------------------------------------------------------------------
class RayRewardPool:
    """``num_actors`` Ray actors, each with the VLM loaded, serving ``score(frames, goals)``.

    Args:
        model: a model spec (``"builtin:default"``, ``"hf:<id>"``, a directory; each actor
            loads it, so on a cluster it must exist on every node) or a loaded
            :class:`~vlm_rewards.VisionLanguageModel` (shipped once through the object store).
        num_actors: actors in the pool.
        num_cpus, num_gpus: Ray resources per actor (fractions share a device); with
            ``num_gpus > 0`` the model runs on ``"cuda"`` unless ``device`` says otherwise.
        max_batch_frames: most frames an actor scores in one coalesced batch.
        batch_wait_ms: how long an actor waits for more requests before a batch (0: batch
            only what queued while the model was busy, which adds no latency).
        split_frames: a ``score`` call larger than this is split across the actors.
        max_restarts: restarts per actor (-1: unlimited).
        max_retries: times a request is re-sent after its actor died.
        timeout_s: longest wait for any reply, or for a dead actor's restart (``None``: forever).
        start_timeout_s: longest wait for the actors to start (and load the model).
        start_kwargs: for :func:`start_ray` when Ray is not running yet.
        scorer_kwargs: :class:`~vlm_rewards.RewardScorer` settings (``goal_set``, ``reward``,
            ``threshold``, ``temperature``, ``negatives``, ``batch_size``, ``dtype``, ``device``, ``seed``...).

    If Ray is not running, a local instance is started (see :func:`start_ray`,
    ``start_kwargs``) and shut down by :meth:`close`.

    Example:
        >>> pool = RayRewardPool("builtin:default", num_actors=2, goal_set=goals)  # doctest: +SKIP
        >>> pool.score(frames, ["open the clock app"] * len(frames)).reward  # doctest: +SKIP
        >>> pool.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        *,
        num_actors: int = 2,
        num_cpus: float = 1,
        num_gpus: float = 0,
        max_batch_frames: int = 256,
        batch_wait_ms: float = 0.0,
        split_frames: int = 64,
        max_restarts: int = -1,
        max_retries: int = 5,
        retry_backoff_s: float = 0.05,
        timeout_s: float | None = 600.0,
        start_timeout_s: float | None = 300.0,
        start_kwargs: dict[str, Any] | None = None,
        **scorer_kwargs: Any,
    ):
        from vlm_rewards.distributed.runtime import await_started, ensure_ray
        from vlm_rewards.models.base import VisionLanguageModel

        unknown = sorted(set(scorer_kwargs) - _SCORER_ARGS)
        if unknown:
            raise TypeError(f"unknown scorer setting(s) {unknown}; RewardScorer takes {sorted(_SCORER_ARGS)}")
        if not isinstance(model, (str, os.PathLike, VisionLanguageModel)):
            raise TypeError(f"model must be a model spec string/path or a loaded VisionLanguageModel, got {type(model).__name__}")
        num_actors = check_positive_int(num_actors, "num_actors")
        for name, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {name}={value!r}")
        if not isinstance(max_restarts, int) or max_restarts < -1:
            raise ValueError(f"max_restarts must be an integer >= -1 (-1: unlimited), got {max_restarts!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        if batch_wait_ms < 0:
            raise ValueError(f"batch_wait_ms must be >= 0, got {batch_wait_ms}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0 or None, got {timeout_s}")
        if num_gpus > 0:
            scorer_kwargs.setdefault("device", "cuda")

        self._runtime = ensure_ray(**(start_kwargs or {}))
        self.num_actors = num_actors
        self.closed = False
        try:
            # The pool keeps the reference so a restarted actor can still fetch the model.
            self._model_ref = None if isinstance(model, (str, os.PathLike)) else ray.put(model)
            # Boxed in a list: a bare ObjectRef argument of a restartable actor is one Ray
            # cannot guarantee for a restart (ray-project/ray#53727); the pool holds the ref.
            model_arg = os.fspath(model) if isinstance(model, (str, os.PathLike)) else [self._model_ref]
            actor_cls = ray.remote(ScorerServer)
            options = dict(
                num_cpus=num_cpus,
                num_gpus=num_gpus,
                max_restarts=max_restarts,
                max_task_retries=0,  # the client retries, so it knows about every retry
                scheduling_strategy="SPREAD",
            )
            threads = max(1, int(num_cpus)) if num_cpus else None
            max_batch_frames = check_positive_int(max_batch_frames, "max_batch_frames")
            # Named, so that clients in other processes find them by name.
            tag = uuid.uuid4().hex[:12]
            self.actor_names = [f"vlmr-reward-{tag}-{i}" for i in range(num_actors)]
            self.namespace = ray.get_runtime_context().namespace
            self.actors = [
                actor_cls.options(name=name, **options).remote(model_arg, dict(scorer_kwargs), threads, max_batch_frames,
                                                              batch_wait_ms / 1e3)
                for name in self.actor_names
            ]
            try:
                infos = await_started([a.info.remote() for a in self.actors], start_timeout_s, f"{num_actors} reward actors")
            except rex.RayActorError as exc:
                raise RewardPoolError(f"a reward actor failed to start: {exc}") from exc
        except BaseException:
            self._shutdown_runtime()
            raise
        self._client = RewardPoolClient(
            self.actor_names, namespace=self.namespace, actors=self.actors, is_binary=infos[0]["is_binary"],
            settings=infos[0]["settings"], split_frames=check_positive_int(split_frames, "split_frames"),
            max_retries=max_retries, retry_backoff_s=float(retry_backoff_s), timeout_s=timeout_s,
        )

    # --- serving -----------------------------------------------------------------------
    def client(self) -> RewardPoolClient:
        """A picklable client for other processes (env workers); it shares these actors."""
        self._check_open()
        c = self._client
        return RewardPoolClient(
            self.actor_names, namespace=self.namespace, actors=self.actors, is_binary=c.is_binary,
            settings=c.settings, split_frames=c.split_frames, max_retries=c.max_retries,
            retry_backoff_s=c.retry_backoff_s, timeout_s=c.timeout_s,
        )

    def score(self, frames: Any, goals: Sequence[str] | str) -> ScoreResult:
        """Rewards for ``frames`` and ``goals``, as :meth:`RewardScorer.score` returns them."""
        self._check_open()
        return self._client.score(frames, goals)

    def score_many(self, requests: Sequence[tuple[Any, Any]]) -> list[ScoreResult]:
        """Score many ``(frames, goals)`` requests at once (they are batched per actor)."""
        self._check_open()
        return self._client.score_many(requests)

    def submit_many(self, requests: Sequence[tuple[Any, Any]]) -> PendingCalls:
        """Send many requests without waiting; ``.result()`` returns them in order."""
        self._check_open()
        return self._client.submit_many(requests)

    def encode(self, frames: Any, shard_frames: int | None = None) -> np.ndarray:
        """``(N, D)`` float32 image embeddings, shards spread over the actors (offline evaluation)."""
        self._check_open()
        return self._client.encode(frames, shard_frames)

    @property
    def is_binary(self) -> bool:
        return self._client.is_binary

    @property
    def retries(self) -> int:
        """Requests re-sent by this process after an actor died."""
        return self._client.retries

    def settings(self) -> dict[str, Any]:
        """The scorer settings (as :meth:`RewardScorer.settings`)."""
        return dict(self._client.settings)

    def stats(self) -> list[dict[str, Any]]:
        """Per actor: pid, whether it was restarted, requests, frames and batches served."""
        self._check_open()
        return ray.get([a.info.remote() for a in self.actors])

    # --- lifetime ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this RayRewardPool is closed")

    def _shutdown_runtime(self) -> None:
        if self._runtime is not None:
            self._runtime.shutdown()
            self._runtime = None

    def close(self) -> None:
        """Stop the actors (and the local Ray instance if this pool started it)."""
        if self.closed:
            return
        self.closed = True
        try:
            if ray.is_initialized():
                for a in self.actors:
                    ray.kill(a, no_restart=True)
        finally:
            self._shutdown_runtime()

    def __enter__(self) -> RayRewardPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RayRewardPool(num_actors={self.num_actors}, settings={self._client.settings.get('model')!r})"
