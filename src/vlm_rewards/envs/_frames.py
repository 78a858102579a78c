"""Frame-size arguments and resizing shared by the domains."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image


def size_arg(name: str, value: Any, lo: int, hi: int) -> tuple[int, int]:
    """``int`` or ``(height, width)`` -> ``(height, width)``, each in ``[lo, hi]``.

    A value of the wrong type is a ``TypeError``, one out of range a ``ValueError``; both name
    the argument.
    """
    size = (value, value) if isinstance(value, (int, np.integer)) else value
    if (
        isinstance(value, bool)
        or not isinstance(size, Sequence)
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)
    ):
        raise TypeError(f"{name} must be an int or (height, width) ints in [{lo}, {hi}], got {value!r}")
    if len(size) != 2:
        raise ValueError(f"{name} must be an int or a (height, width) pair, got {value!r}")
    if not all(lo <= v <= hi for v in size):
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return int(size[0]), int(size[1])


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` resized to ``(height, width)`` (bilinear); always a new array, since callers
    may keep observations across steps."""
    if frame.shape[:2] == tuple(size):
        return np.array(frame, dtype=np.uint8)
    image = Image.fromarray(frame).resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)
