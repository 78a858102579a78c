"""Input checks shared by the models, scorer and wrappers.

Every public entry point validates its inputs here so that a bad frame or goal fails
with a message naming the argument, instead of deep inside torch or, worse, with a
silently wrong reward.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np


def check_goal(goal: Any, name: str = "goal") -> str:
    if not isinstance(goal, str):
        raise TypeError(f"{name} must be a non-empty string, got {type(goal).__name__}: {goal!r}")
    if not goal.strip():
        raise ValueError(f"{name} must be a non-empty string, got {goal!r}")
    return goal


def check_goals(goals: Any, name: str = "goals") -> list[str]:
    if isinstance(goals, str) or not isinstance(goals, Sequence):
        raise TypeError(f"{name} must be a sequence of strings, got {type(goals).__name__}")
    if len(goals) == 0:
        raise ValueError(f"{name} must not be empty")
    return [check_goal(g, f"{name}[{i}]") for i, g in enumerate(goals)]


def check_unit_interval(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(value).__name__}: {value!r}")
    value = float(value)
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {name}={value}")
    return value


def check_temperature(value: Any, name: str = "temperature") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}: {value!r}")
    value = float(value)
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, got {name}={value}")
    return value


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {type(value).__name__}: {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {name}={value}")
    return int(value)


def check_frames(frames: Any, name: str = "frames"):
    """Validate a batch of RGB frames and return it as a torch tensor, NHWC.

    Accepts uint8 frames (0-255) or floating frames in [0, 1], as a numpy array, a
    torch tensor or a sequence of HxWx3 arrays of one shape. A single HxWx3 frame is
    not accepted here: callers add the batch axis explicitly so that a forgotten axis
    cannot be mistaken for a batch of 1-pixel-wide images.
    """
    import torch

    if isinstance(frames, (list, tuple)):
        if len(frames) == 0:
            raise ValueError(f"{name} must not be empty (got an empty sequence)")
        try:
            frames = np.stack([np.asarray(f) for f in frames])
        except ValueError as exc:
            shapes = sorted({tuple(np.shape(f)) for f in frames})
            raise ValueError(f"{name} must all have the same shape, got shapes {shapes}") from exc
    if isinstance(frames, np.ndarray):
        if frames.dtype == object or not (
            frames.dtype == np.uint8 or np.issubdtype(frames.dtype, np.floating)
        ):
            raise TypeError(f"{name} must have dtype uint8 or float, got {frames.dtype}")
        with warnings.catch_warnings():
            # Read-only arrays (e.g. from PIL) are fine: preprocessing never writes in place.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            frames = torch.from_numpy(np.ascontiguousarray(frames))
    elif not isinstance(frames, torch.Tensor):
        raise TypeError(
            f"{name} must be a numpy array or torch tensor of shape (N, H, W, 3), got {type(frames).__name__}"
        )
    if frames.dtype != torch.uint8 and not frames.dtype.is_floating_point:
        raise TypeError(f"{name} must have dtype uint8 or float, got {frames.dtype}")
    if frames.ndim != 4:
        raise ValueError(f"{name} must have shape (N, H, W, 3) (rank 4), got shape {tuple(frames.shape)}")
    if frames.shape[0] == 0:
        raise ValueError(f"{name} must not be empty (got a batch of 0 frames)")
    if frames.shape[-1] != 3:
        raise ValueError(
            f"{name} must have 3 (RGB) channels last, shape (N, H, W, 3), got shape {tuple(frames.shape)}"
        )
    if frames.shape[1] < 2 or frames.shape[2] < 2:
        raise ValueError(f"{name} must be at least 2x2 pixels, got shape {tuple(frames.shape)}")
    if frames.dtype.is_floating_point:
        if not bool(torch.isfinite(frames).all()):
            raise ValueError(f"{name} contains NaN or inf values")
        lo, hi = float(frames.min()), float(frames.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"float {name} must be in [0, 1] (uint8 frames are 0-255), got values in [{lo:.3g}, {hi:.3g}]"
            )
    return frames


def check_embeddings(x: Any, name: str, ndim: int | tuple[int, ...] = 2):
    """Return ``x`` as a float32 torch tensor after checking rank and finiteness."""
    import torch

    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    elif not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be an array of embeddings, got {type(x).__name__}") from exc
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point array, got dtype {x.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in allowed:
        raise ValueError(f"{name} must have rank {' or '.join(map(str, allowed))}, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values")
    return x.float()
