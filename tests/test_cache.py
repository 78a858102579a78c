import threading

import numpy as np
import pytest
import torch

from vlm_rewards.cache import EmbeddingCache, frame_key, frame_keys


def test_frame_key_tells_frames_apart():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    b = a.copy()
    b[7, 7, 2] ^= 1  # one bit of one pixel
    assert frame_key(a) == frame_key(a.copy())
    assert frame_key(a) != frame_key(b)
    assert frame_key(a) != frame_key(a.reshape(4, 16, 3))  # same bytes, other shape
    assert frame_key(np.zeros((4, 4, 3), np.float32)) != frame_key(np.zeros((4, 4, 3), np.int32))


def test_frame_key_of_views_equals_key_of_copies():
    big = np.random.default_rng(1).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    view = big[:, ::2, ::2]  # not contiguous
    assert not view[0].flags.c_contiguous
    assert frame_keys(view) == frame_keys(np.ascontiguousarray(view))
    assert frame_keys(torch.from_numpy(big)) == frame_keys(big)


def test_frame_key_rejects_non_arrays():
    with pytest.raises(TypeError, match="frame must be a numpy array"):
        frame_key([[1, 2, 3]])


def test_lru_evicts_least_recently_used_and_counts():
    cache = EmbeddingCache(max_entries=2)
    cache.put("a", torch.tensor([1.0]))
    cache.put("b", torch.tensor([2.0]))
    assert cache.get("a").item() == 1.0  # "a" is now the most recent
    cache.put("c", torch.tensor([3.0]))  # evicts "b"
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.get("b") is None
    stats = cache.stats()
    assert (stats["hits"], stats["misses"], stats["evictions"], stats["entries"]) == (1, 1, 1, 2)
    assert cache.hit_rate == pytest.approx(0.5)
    cache.clear()
    assert len(cache) == 0 and cache.hit_rate == 0.0


def test_storage_is_fixed_and_lookups_are_copies():
    cache = EmbeddingCache(max_entries=3)
    cache.put_many(["a", "b"], torch.arange(8.0).view(2, 4))
    assert cache.nbytes == 3 * 4 * 4
    row = cache.get("a")
    row += 100  # the caller owns its copy
    assert torch.equal(cache.get("a"), torch.arange(4.0))
    for i in range(10):
        cache.put(i, torch.full((4,), float(i)))
    assert cache.nbytes == 3 * 4 * 4 and len(cache) == 3
    assert torch.equal(cache.get(9), torch.full((4,), 9.0)) and cache.get("a") is None
    cache.put_many(["x", "x"], [torch.zeros(4), torch.ones(4)])
    assert torch.equal(cache.get("x"), torch.ones(4))  # the last value of a repeated key
    with pytest.raises(ValueError, match="size 4"):
        cache.put("y", torch.zeros(5))
    with pytest.raises(ValueError, match="vectors"):
        cache.put("y", torch.zeros(2, 2))


def test_lookup_and_put_many():
    cache = EmbeddingCache(max_entries=10)
    cache.put_many(["x", "y"], [torch.zeros(2), torch.ones(2)])
    found = cache.lookup(["y", "z", "x"])
    assert found[1] is None and torch.equal(found[0], torch.ones(2)) and torch.equal(found[2], torch.zeros(2))
    assert (cache.hits, cache.misses) == (2, 1)
    with pytest.raises(ValueError, match="same length"):
        cache.put_many(["a"], [])
    with pytest.raises(ValueError, match="must not be None"):
        cache.put("a", None)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_max_entries_checked(bad):
    with pytest.raises((TypeError, ValueError), match="max_entries"):
        EmbeddingCache(max_entries=bad)


def test_bounded_under_concurrent_use():
    cache = EmbeddingCache(max_entries=50)

    def work(offset: int) -> None:
        for i in range(400):
            cache.put((offset, i), torch.tensor([float(i)]))
            cache.get((offset, i // 2))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50
    stats = cache.stats()
    assert stats["hits"] + stats["misses"] == 1600 and stats["evictions"] == 1600 - 50
