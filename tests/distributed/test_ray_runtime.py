"""start_ray / shutdown (files under /tmp, none in $HOME, no processes left) and map_shards."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from vlm_rewards.distributed import map_shards, start_ray  # noqa: E402
from vlm_rewards.distributed.runtime import ray_temp_dir  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _square_plus(shard, offset=0):
    return [x * x + offset for x in shard]


def _crash_first_time(shard, marker_dir):
    """Kills its own worker process the first time it runs shard 2 (Ray reruns it)."""
    marker = Path(marker_dir) / f"seen-{shard}"
    if shard == 2 and not marker.exists():
        marker.touch()
        os._exit(1)
    return shard * 10


def _fail_on_two(shard):
    if shard == 2:
        raise ValueError("shard 2 is bad")
    return shard


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_local_instance_runs_shards_and_shuts_down_clean(tmp_path):
    home_ray = Path.home() / ".ray"
    home_ray_before = home_ray.exists()
    env_before = {k: os.environ.get(k) for k in ("RAY_AUTH_TOKEN", "RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED")}
    rt = start_ray(num_cpus=2, object_store_memory=80 * 1024**2)
    try:
        assert rt.owns_cluster and rt.address is None
        assert str(rt.temp_dir).startswith("/tmp/") and rt.temp_dir.is_dir()
        assert any(p.name.startswith("session_") for p in rt.temp_dir.iterdir())
        names = {psutil.Process(pid).name() for pid in rt.process_ids if not _gone(pid)}
        assert {"raylet", "gcs_server"} <= names
        assert ray.cluster_resources()["CPU"] == 2

        # results in shard order, shared kwargs shipped once
        assert map_shards(_square_plus, [[1, 2], [3], [4, 5, 6]], shared={"offset": 1}, num_cpus=0.5) == [
            [2, 5], [10], [17, 26, 37]
        ]
        # a worker that dies mid-shard is replaced and the shard run again
        done = []
        out = map_shards(_crash_first_time, [1, 2, 3], shared={"marker_dir": str(tmp_path)}, num_cpus=0.5,
                         max_in_flight=2, progress=lambda d, n: done.append((d, n)))
        assert out == [10, 20, 30] and done[-1] == (3, 3) and len(done) == 3
        assert (tmp_path / "seen-2").exists()  # shard 2's first run did die
        # an exception from fn is not retried and names its shard
        with pytest.raises(ValueError, match="shard 2 is bad") as info:
            map_shards(_fail_on_two, [1, 2, 3], num_cpus=0.5)
        assert any("shard 1 of 3" in note for note in getattr(info.value, "__notes__", []))
        with pytest.raises(RuntimeError, match="already initialised"):
            start_ray(num_cpus=1)
    finally:
        pids, temp_dir = rt.process_ids, rt.temp_dir
        rt.shutdown()
    assert not ray.is_initialized()
    leftover = [pid for pid in pids if not _gone(pid)]
    assert leftover == [], f"Ray processes left running: {leftover}"
    assert not any(p.name() in ("raylet", "gcs_server") for p in psutil.Process().children(recursive=True) if not _gone(p.pid))
    assert not temp_dir.exists()  # a /tmp temp dir made for this run is removed
    assert home_ray.exists() == home_ray_before  # nothing written to ~/.ray
    assert {k: os.environ.get(k) for k in env_before} == env_before
    rt.shutdown()  # idempotent


def test_temp_dir_choice(tmp_path):
    short = Path("/tmp") / f"vlmr-t{os.getpid()}"
    try:
        path, created = ray_temp_dir(short)
        assert path == short / "ray" and not created and path.is_dir()
    finally:
        import shutil

        shutil.rmtree(short, ignore_errors=True)
    # a run dir too long for Ray's socket paths falls back to /tmp
    path, created = ray_temp_dir(tmp_path / ("x" * 60))
    try:
        assert created and str(path).startswith("/tmp/vlmr-ray-")
    finally:
        path.rmdir()


def test_bad_arguments():
    with pytest.raises(ValueError, match="address must be"):
        start_ray(address="")
    with pytest.raises(ValueError, match="num_cpus applies to a local instance only"):
        start_ray(address="auto", num_cpus=2)
    with pytest.raises(TypeError, match="shards must be a sequence"):
        map_shards(_square_plus, "abc")
    with pytest.raises(TypeError, match="fn must be callable"):
        map_shards(3, [1])
    assert map_shards(_square_plus, []) == []
