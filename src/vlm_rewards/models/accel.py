"""Fast inference helpers: precision choice, torch.compile, thread limits, FLOP roofs.

What each setting bought on the project's 2-core CPU (AMD EPYC, AVX-512 BF16, no AMX)
is in ``docs/performance.md``; in short, bf16 weights and batching give the bulk,
``torch.compile`` with inductor weight freezing adds a further 1.3-1.8x on small models,
and oversubscribed cores (env workers, other jobs) make 2 torch threads far slower than
1 unless ``OMP_WAIT_POLICY=PASSIVE`` is set before torch is imported.

Example:
    >>> from vlm_rewards.models.accel import preferred_dtype, thread_limit
    >>> preferred_dtype("cpu")  # doctest: +SKIP
    torch.bfloat16
    >>> with thread_limit(1):  # doctest: +SKIP
    ...     model.encode_images(frames)
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "bf16_supported",
    "compile_image_forward",
    "image_flops_per_frame",
    "matmul_roof",
    "preferred_dtype",
    "resolve_dtype",
    "thread_limit",
]

_DTYPE_NAMES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
                "fp16": "float16", "float16": "float16"}


@functools.lru_cache(maxsize=None)
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_supported(device: Any = "cpu") -> bool:
    """Whether ``device`` has native bf16 matrix units (AMX or AVX-512 BF16 on CPU; Ampere+ GPUs).

    Without them torch still runs bf16, but through fp32 emulation that is slower than fp32.
    """
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    flags = _cpu_flags()
    if flags:
        return bool({"amx_bf16", "avx512_bf16"} & flags)
    is_supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(is_supported()) if is_supported is not None else False


def preferred_dtype(device: Any = "cpu"):
    """``torch.bfloat16`` where the hardware runs it natively, else ``torch.float32``."""
    import torch

    return torch.bfloat16 if bf16_supported(device) else torch.float32


def resolve_dtype(dtype: Any, device: Any = None):
    """``None``/a ``torch.dtype``/``"fp32"``/``"bf16"``/``"fp16"``/``"auto"`` -> ``torch.dtype`` or ``None``.

    ``"auto"`` picks bf16 where the device supports it natively (see :func:`bf16_supported`).
    """
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if not isinstance(dtype, str):
        raise TypeError(f"dtype must be a torch.dtype or one of 'auto', 'fp32', 'bf16', 'fp16', got {dtype!r}")
    if dtype == "auto":
        return preferred_dtype(device if device is not None else "cpu")
    if dtype not in _DTYPE_NAMES:
        raise ValueError(f"dtype must be a torch.dtype or one of 'auto', 'fp32', 'bf16', 'fp16', got {dtype!r}")
    return getattr(torch, _DTYPE_NAMES[dtype])


@contextlib.contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)``, restoring the old value after.

    ``None`` leaves the setting alone. Switching costs microseconds (the OpenMP pool is
    kept), so wrapping every forward pass is fine.
    """
    import torch

    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    old = torch.get_num_threads()
    if old == threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def compile_image_forward(forward: Callable, device: Any = "cpu") -> Callable:
    """``torch.compile`` an image-tower forward ``pixels -> features`` for inference.

    Compiled once with a dynamic batch axis (any batch size reuses the same kernels). On
    CPU inductor's weight *freezing* is switched on for the calls, which lets oneDNN
    pre-pack the weights into its blocked bf16 layout instead of repacking them on every
    matrix product. The first call compiles (seconds to a minute on two cores).
    """
    import torch

    compiled = torch.compile(forward, dynamic=True)
    if torch.device(device).type != "cpu":
        return compiled
    import torch._inductor.config as inductor_config

    def run(pixels):
        with inductor_config.patch(freezing=True):
            return compiled(pixels)

    return run


def image_flops_per_frame(forward: Callable, pixels) -> float:
    """FLOPs (multiply and add counted separately) of ``forward`` per frame of ``pixels``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        forward(pixels)
    return counter.get_total_flops() / len(pixels)


def matmul_roof(dtype: Any = None, device: Any = "cpu", *, m: int = 4096, k: int = 768, n: int = 3072,
                repeats: int = 5, threads: int | None = None, clock: str = "wall") -> float:
    """Best measured FLOP/s of one ``(m, k) @ (k, n)`` matrix product: the practical roof.

    The default shape is a ViT-B MLP layer over a batch of tokens. Best of ``repeats``
    timings of a few products each, so a briefly busy machine lowers it little.
    ``clock="cpu"`` divides by the process's CPU time instead of wall time (per core with
    one thread: unaffected by other jobs sharing the machine; CPU devices only).
    """
    import torch

    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    dtype = resolve_dtype(dtype, device) or torch.float32
    device = torch.device(device)
    now = time.process_time if clock == "cpu" and device.type == "cpu" else time.perf_counter
    a = torch.randn(m, k, dtype=dtype, device=device)
    w = torch.randn(n, k, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    inner = 10 if device.type == "cuda" else 3
    best = 0.0
    with thread_limit(threads), torch.inference_mode():
        torch.nn.functional.linear(a, w)
        sync()
        for _ in range(repeats):
            t0 = now()
            for _ in range(inner):
                torch.nn.functional.linear(a, w)
            sync()
            best = max(best, inner * 2.0 * m * k * n / max(now() - t0, 1e-9))
    return best
