"""A bounded LRU cache of image embeddings, keyed by a hash of each frame's bytes.

RL rollouts repeat frames a lot: a phone agent sees the same home screen or app screen
many times, an agent standing still renders the same view. Encoding a frame costs
millions of multiply-adds; hashing its bytes costs microseconds. :class:`EmbeddingCache`
lets :class:`~vlm_rewards.RewardScorer` encode each distinct frame once and keeps memory
flat however long the run (``max_entries`` bounds it; the least recently used entry is
dropped first).

Keys are a 128-bit BLAKE2b digest of the frame's shape, dtype and bytes, so frames that
differ in one pixel, or hold the same bytes in another shape, never share an entry.
``hashlib`` releases the GIL while hashing, and every cache operation takes a lock, so a
background scoring thread may share the cache.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from vlm_rewards._validation import check_positive_int

__all__ = ["EmbeddingCache", "frame_key", "frame_keys"]

FrameKey = bytes


def frame_key(frame: np.ndarray) -> FrameKey:
    """16-byte digest of one frame's shape, dtype and bytes: equal keys mean identical frames.

    Example:
        >>> import numpy as np
        >>> a = np.zeros((4, 4, 3), np.uint8)
        >>> frame_key(a) == frame_key(a.copy()), frame_key(a) == frame_key(a.reshape(2, 8, 3))
        (True, False)
    """
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(frame).__name__}")
    data = frame if frame.flags.c_contiguous else np.ascontiguousarray(frame)
    h = hashlib.blake2b(f"{frame.shape}|{frame.dtype.str}|".encode(), digest_size=16)
    h.update(data.view(np.uint8).reshape(-1))
    return h.digest()


def frame_keys(frames: Any) -> list[FrameKey]:
    """One :func:`frame_key` per frame of a batch (numpy array or CPU torch tensor)."""
    if not isinstance(frames, np.ndarray):
        frames = frames.numpy()  # CPU torch tensors share memory with the array: no copy
    return [frame_key(f) for f in frames]


class EmbeddingCache:
    """LRU map from frame keys to embedding vectors, with hit/miss counters.

    The vectors live in one preallocated ``(max_entries, D)`` tensor (allocated at the
    first :meth:`put`, with that vector's size, dtype and device), so memory is fixed:
    ``max_entries * D * itemsize`` plus about 200 bytes of bookkeeping per entry.
    :meth:`lookup` returns copies, never views of that storage.

    Args:
        max_entries: the most embeddings kept; the least recently used go first.

    Example:
        >>> import torch
        >>> cache = EmbeddingCache(max_entries=2)
        >>> cache.put("a", torch.ones(3)); cache.put("b", torch.zeros(3)); cache.put("c", torch.ones(3))
        >>> cache.get("a") is None, len(cache), cache.stats()["evictions"]
        (True, 2, 1)
    """

    def __init__(self, max_entries: int = 4096):
        self.max_entries = check_positive_int(max_entries, "max_entries")
        self._slots: OrderedDict[Hashable, int] = OrderedDict()
        self._store = None  # (max_entries, D) tensor, allocated on the first put
        self._free: list[int] = []
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._slots

    @property
    def nbytes(self) -> int:
        """Bytes of the embedding storage (0 before the first put)."""
        return 0 if self._store is None else self._store.numel() * self._store.element_size()

    @property
    def hit_rate(self) -> float:
        """Fraction of lookups answered from the cache (0.0 before any lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def stats(self) -> dict[str, float | int]:
        """Counters for logs: hits, misses, hit_rate, entries, max_entries, evictions."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": self.hit_rate,
                "entries": len(self._slots),
                "max_entries": self.max_entries,
                "evictions": self.evictions,
            }

    def get(self, key: Hashable) -> Any | None:
        """A copy of the vector of ``key`` (marking it recently used), or ``None``; counts a hit or miss."""
        return self.lookup([key])[0]

    def lookup(self, keys: Sequence[Hashable]) -> list[Any | None]:
        """Copies of the vectors of ``keys`` (``None`` where absent), under one lock; counts hits and misses."""
        out: list[Any | None] = [None] * len(keys)
        found: list[int] = []
        slots: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                slot = self._slots.get(key)
                if slot is None:
                    self.misses += 1
                else:
                    self._slots.move_to_end(key)
                    self.hits += 1
                    found.append(i)
                    slots.append(slot)
            if found:
                import torch

                rows = self._store.index_select(0, torch.tensor(slots, device=self._store.device))
        for j, i in enumerate(found):
            out[i] = rows[j]
        return out

    def put(self, key: Hashable, value: Any) -> None:
        """Store the vector ``value`` under ``key``, dropping the least recently used entry if full."""
        self.put_many([key], [value])

    def put_many(self, keys: Sequence[Hashable], values: Sequence[Any]) -> None:
        import torch

        if len(keys) != len(values):
            raise ValueError(f"keys and values must have the same length, got {len(keys)} and {len(values)}")
        if any(v is None for v in values):
            raise ValueError("cache values must not be None")
        if not len(keys):
            return
        rows = torch.stack([torch.as_tensor(v) for v in values]) if not isinstance(values, torch.Tensor) else values
        if rows.ndim != 2:
            raise ValueError(f"cache values must be vectors, got shape {tuple(rows.shape[1:])}")
        with self._lock:
            if self._store is None:
                self._store = torch.empty(self.max_entries, rows.shape[1], dtype=rows.dtype, device=rows.device)
                self._free = list(range(self.max_entries - 1, -1, -1))
            if rows.shape[1] != self._store.shape[1]:
                raise ValueError(f"cache values must have size {self._store.shape[1]}, got {rows.shape[1]}")
            last = {key: j for j, key in enumerate(keys)}  # a key given twice keeps its last value
            targets: list[int] = []
            for key in last:
                slot = self._slots.get(key)
                if slot is None:
                    if not self._free:
                        _, slot = self._slots.popitem(last=False)
                        self.evictions += 1
                    else:
                        slot = self._free.pop()
                    self._slots[key] = slot
                self._slots.move_to_end(key)
                targets.append(slot)
            if len(last) < len(keys):
                rows = rows[list(last.values())]
            self._store[torch.tensor(targets, device=self._store.device)] = rows.to(
                device=self._store.device, dtype=self._store.dtype)

    def count(self, hits: int = 0, misses: int = 0) -> None:
        """Add to the counters (for lookups answered elsewhere, e.g. duplicates within a batch)."""
        with self._lock:
            self.hits += int(hits)
            self.misses += int(misses)

    def clear(self) -> None:
        """Drop every entry and reset the counters (the storage is kept for reuse)."""
        with self._lock:
            self._slots.clear()
            if self._store is not None:
                self._free = list(range(self.max_entries - 1, -1, -1))
            self.hits = self.misses = self.evictions = 0

    def __repr__(self) -> str:
        return f"EmbeddingCache(entries={len(self)}/{self.max_entries}, hit_rate={self.hit_rate:.3f})"
