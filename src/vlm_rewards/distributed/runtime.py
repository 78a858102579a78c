"""Start, connect to and shut down Ray, keeping its files out of the user's home.

A local instance (``address=None``) is started by this process: its temp and session
files go under the run directory (``<run_dir>/ray``) or a fresh ``/tmp/vlmr-ray-*``
directory, and :meth:`RayRuntime.shutdown` stops every process it started and checks
that none is left behind. A cluster is joined by address (``"auto"``,
``"<head-ip>:6379"`` or ``"ray://<head-ip>:10001"``); its processes and files belong to
whoever started it and are left alone.

Example:
    >>> from vlm_rewards.distributed import start_ray
    >>> with start_ray(num_cpus=2) as rt:  # doctest: +SKIP
    ...     pool = RayRewardPool("builtin:default", goal_set=goals)
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["RayRuntime", "RayShutdownError", "await_started", "ensure_ray", "ray_temp_dir", "start_ray"]

# Ray puts Unix sockets at <temp_dir>/session_<date>_<pid>/sockets/plasma_store; the
# session part is ~62 characters and AF_UNIX paths stop at 107, so longer temp dirs fail
# in the raylet with an obscure error.
_MAX_TEMP_DIR_CHARS = 40
_AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


class RayShutdownError(RuntimeError):
    """Ray processes started by this runtime were still running after shutdown."""


_TOKEN: str | None = None


def _process_token() -> str:
    """One token per process: Ray's token loader caches the first one it reads."""
    global _TOKEN
    if _TOKEN is None:
        _TOKEN = secrets.token_hex(32)
    return _TOKEN


def _require_ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "vlm_rewards.distributed needs Ray: pip install 'vlm-rewards[ray]' (or 'ray[default]>=2.9')"
        ) from exc
    return ray


def ray_temp_dir(run_dir: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """Where a local Ray instance keeps its files: ``(path, created_here)``.

    ``<run_dir>/ray`` when that path is short enough for Ray's Unix sockets, otherwise a
    new ``/tmp/vlmr-ray-*`` directory (``created_here=True``: removed at shutdown).
    """
    if run_dir is not None:
        candidate = Path(run_dir).expanduser().resolve() / "ray"
        if len(str(candidate)) <= _MAX_TEMP_DIR_CHARS:
            candidate.mkdir(parents=True, exist_ok=True)
            return candidate, False
    base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix="vlmr-ray-", dir=base)), True


def _ray_children() -> list[Any]:
    import psutil

    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


class RayRuntime:
    """A Ray connection made by :func:`start_ray`; a context manager that shuts it down.

    Attributes:
        address: the cluster address (``None`` for a local instance started here).
        temp_dir: the local instance's temp/session directory (``None`` when connected).
        owns_cluster: whether this process started the Ray processes (and stops them).
    """

    def __init__(self, address: str | None, temp_dir: Path | None, owns_cluster: bool,
                 remove_temp_dir: bool, saved_env: dict[str, str | None], children_before: set[int] | None = None):
        self.address = address
        self.temp_dir = temp_dir
        self.owns_cluster = owns_cluster
        self._remove_temp_dir = remove_temp_dir
        self._saved_env = saved_env
        # Everything the local instance spawned (gcs_server, raylet, workers, agents):
        # shutdown checks each of these is gone.
        before = children_before or set()
        self._processes = [p for p in _ray_children() if p.pid not in before] if owns_cluster else []
        self.closed = False

    @property
    def process_ids(self) -> list[int]:
        """PIDs of the Ray processes this runtime started (empty when connected to a cluster)."""
        return [p.pid for p in self._processes]

    def shutdown(self, timeout: float = 15.0) -> None:
        """Disconnect; for a local instance, stop its processes and remove a ``/tmp`` temp dir.

        Raises :class:`RayShutdownError` if a process it started survives even a kill.
        """
        if self.closed:
            return
        self.closed = True
        ray = _require_ray()
        ray.shutdown()
        try:
            if self.owns_cluster:
                self._reap(timeout)
        finally:
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            if self._remove_temp_dir and self.temp_dir is not None:
                shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _reap(self, timeout: float) -> None:
        import psutil

        # Workers spawned after start-up (actors, tasks) are children of the raylet.
        procs = {p.pid: p for p in self._processes}
        for p in list(procs.values()):
            try:
                for child in p.children(recursive=True):
                    procs.setdefault(child.pid, child)
            except psutil.Error:
                pass
        alive = [p for p in procs.values() if _alive(p)]
        _, alive = psutil.wait_procs(alive, timeout=timeout)
        if alive:
            for p in alive:
                try:
                    p.kill()
                except psutil.Error:
                    pass
            _, alive = psutil.wait_procs(alive, timeout=5)
        alive = [p for p in alive if _alive(p)]
        if alive:
            names = ", ".join(f"{p.pid} ({_name(p)})" for p in alive)
            raise RayShutdownError(f"Ray processes still running after shutdown: {names}")

    def __enter__(self) -> RayRuntime:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        where = self.address or f"local, temp_dir={self.temp_dir}"
        return f"RayRuntime({where}, {'closed' if self.closed else 'open'})"


def _alive(p: Any) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _name(p: Any) -> str:
    try:
        return p.name()
    except Exception:
        return "?"


def start_ray(
    address: str | None = None,
    *,
    num_cpus: int | float | None = None,
    num_gpus: int | float | None = None,
    run_dir: str | os.PathLike | None = None,
    object_store_memory: int | None = None,
    log_to_driver: bool = False,
    **init_kwargs: Any,
) -> RayRuntime:
    """Start a local Ray instance, or connect to a cluster, and return its :class:`RayRuntime`.

    Args:
        address: ``None`` starts a local instance in this process (unless ``RAY_ADDRESS``
            is set, which Ray treats as an address); ``"auto"`` joins a cluster started
            on this machine with ``ray start --head``; ``"<ip>:6379"`` joins as a driver
            on a cluster node; ``"ray://<ip>:10001"`` uses Ray Client from outside.
        num_cpus, num_gpus: resources of a local instance (default: what the machine has).
        run_dir: local instance files go to ``<run_dir>/ray`` (kept) if the path is short
            enough for Ray's sockets, else to a ``/tmp/vlmr-ray-*`` dir removed at shutdown.
        object_store_memory: bytes of shared memory for a local instance's object store.
        log_to_driver: forward actor/task stdout and stderr to this process.
        init_kwargs: passed on to ``ray.init`` (e.g. ``runtime_env``).

    A local instance gets a fresh token for Ray's token authentication through the
    environment, so nothing is written to ``~/.ray``.

    Example:
        >>> rt = start_ray(num_cpus=2)  # doctest: +SKIP
        >>> rt.shutdown()  # doctest: +SKIP
    """
    ray = _require_ray()
    if ray.is_initialized():
        raise RuntimeError("Ray is already initialised in this process; use ensure_ray() to reuse it")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ValueError(f"address must be None, 'auto', '<ip>:<port>' or 'ray://<ip>:<port>', got {address!r}")
    connecting = address is not None or bool(os.environ.get("RAY_ADDRESS"))
    saved_env: dict[str, str | None] = {}

    def set_env(key: str, value: str) -> None:
        saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    # No usage-stats reporting (and no network attempt from a machine without it).
    set_env("RAY_USAGE_STATS_ENABLED", "0")
    kwargs: dict[str, Any] = dict(log_to_driver=log_to_driver, **init_kwargs)
    kwargs.setdefault("logging_level", "warning")
    temp_dir: Path | None = None
    created = False
    if connecting:
        for name, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("object_store_memory", object_store_memory)):
            if value is not None:
                raise ValueError(f"{name} applies to a local instance only; the cluster at {address or os.environ['RAY_ADDRESS']!r} sets its own")
        kwargs["address"] = address
    else:
        temp_dir, created = ray_temp_dir(run_dir)
        kwargs.update(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, _temp_dir=str(temp_dir))
        if object_store_memory is not None:
            kwargs["object_store_memory"] = int(object_store_memory)
        # Ray >= 2.5x turns token auth on for new local clusters and would write the token
        # to ~/.ray/auth_token; handing it one through the environment keeps $HOME clean.
        default_token = Path.home() / ".ray" / "auth_token"
        if not any(os.environ.get(v) for v in _AUTH_VARS) and not default_token.exists():
            # Ray sets RAY_AUTH_MODE=token itself (and reloads its config); restored at shutdown.
            saved_env.setdefault("RAY_AUTH_MODE", os.environ.get("RAY_AUTH_MODE"))
            set_env("RAY_AUTH_TOKEN", _process_token())
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    children_before = {p.pid for p in _ray_children()}
    try:
        ray.init(**kwargs)
    except BaseException:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if created and temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return RayRuntime(address if connecting else None, temp_dir, not connecting, created, saved_env, children_before)


def ensure_ray(**start_kwargs: Any) -> RayRuntime | None:
    """Ray for a pool or a parallel map: ``None`` if this process is already connected,
    else a new :func:`start_ray` runtime (which the caller then owns and shuts down)."""
    ray = _require_ray()
    if ray.is_initialized():
        return None
    return start_ray(**start_kwargs)



def await_started(refs: list[Any], timeout: float | None, what: str) -> list[Any]:
    """``ray.get(refs)`` for the first call to new actors, with an error that says why they
    did not start when the cluster lacks the resources they asked for."""
    ray = _require_ray()
    try:
        return ray.get(refs, timeout=timeout)
    except ray.exceptions.GetTimeoutError as exc:
        free = {k: v for k, v in ray.available_resources().items() if k in ("CPU", "GPU", "memory")}
        total = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
        raise TimeoutError(
            f"{what} did not start within {timeout}s; the cluster has {free} free of {total}. "
            "Ask for fewer resources per actor (num_cpus/num_gpus may be fractions) or add nodes."
        ) from exc
