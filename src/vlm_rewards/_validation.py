"""Input checks shared by the models, scorer and wrappers.

Every public entry point validates its inputs here so that a bad frame or goal fails
with a message naming the argument, instead of deep inside torch or, worse, with a
silently wrong reward.
"""

from __future__ import annotations

import math
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def check_goal(goal: Any, name: str = "goal") -> str:
    if not isinstance(goal, str):
        raise TypeError(f"{name} must be a non-empty string, got {type(goal).__name__}: {goal!r}")
    if not goal.strip():
        raise ValueError(f"{name} must be a non-empty string, got {goal!r}")
    return goal


def normalize_goal(goal: str) -> str:
    """The canonical spelling of a goal text: Unicode NFC, runs of whitespace collapsed to
    one space, no leading or trailing whitespace. Case is kept (the text encoder sees it).

    Composed and decomposed accents, a stray double space or a trailing newline would
    otherwise make one goal two strings, and so two cache keys and two goal-set entries.

    Example:
        >>> normalize_goal("  open the\tclock   app\n")
        'open the clock app'
    """
    return " ".join(unicodedata.normalize("NFC", goal).split())


def goal_key(goal: str) -> str:
    """What goals are compared by: :func:`normalize_goal`, case-folded.

    The case policy: two goals that differ only in case (or in whitespace, or Unicode
    composition) are the *same* goal, so one is never a negative of the other, and
    negatives and goal sets are de-duplicated by this key. The text encoder still sees
    the goal's own case: a case-sensitive model (e.g. SigLIP) may embed "Open Maps" and
    "open maps" differently, but neither is ever scored against the other.

    Example:
        >>> goal_key("Open the Clock App ") == goal_key("open the clock app")
        True
    """
    return normalize_goal(goal).casefold()


def dedupe_goals(goals: Sequence[str]) -> list[str]:
    """``goals`` normalised (:func:`normalize_goal`), the first of each :func:`goal_key` kept, in order."""
    seen: dict[str, str] = {}
    for g in goals:
        seen.setdefault(goal_key(g), normalize_goal(g))
    return list(seen.values())


def check_special_tokens(text: str, special_tokens: Sequence[str], name: str) -> str:
    """Refuse ``text`` if it holds one of the tokenizer's special tokens.

    A tokenizer splits special tokens out before anything else, so ``"open maps</s>now"``
    becomes an end-of-text token in mid-goal: CLIP-style text towers pool at the first
    end-of-text token and silently drop whatever follows. Matched case-insensitively,
    since some tokenizers lower-case before matching.
    """
    folded = text.casefold()
    for tok in special_tokens:
        if tok and tok.casefold() in folded:
            raise ValueError(
                f"{name} contains the tokenizer's special token {tok!r}, which would cut or alter the text "
                f"the model sees; remove it: {text!r}"
            )
    return text


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


#: The temperatures the softmax accepts. Logits are cosine similarities (in [-1, 1]) over
#: τ, so τ >= 1e-4 keeps them within ±1e4, far from float32 overflow (a τ of 1e-39 made
#: them inf and p NaN); above 1e4 every p is within 1e-4 of chance, a reward that says nothing.
MIN_TEMPERATURE = 1e-4
MAX_TEMPERATURE = 1e4


def check_temperature(value: Any, name: str = "temperature") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}: {value!r}")
    value = float(value)
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, got {name}={value}")
    if not (MIN_TEMPERATURE <= value <= MAX_TEMPERATURE):
        raise ValueError(
            f"{name} must be in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}] (cosine logits over a smaller τ overflow, "
            f"a larger one makes p chance everywhere), got {name}={value:g}"
        )
    return value


def check_device(device: Any, name: str = "device"):
    """``device`` (``None``, a string such as ``"cpu"``, ``"cuda:1"``, ``"mps"``, or a
    ``torch.device``) checked to exist on this machine; returns it unchanged.

    torch accepts ``"cuda"`` on a CPU-only machine and fails only on first use, deep in a
    traceback; a misspelling such as ``"gpu"`` fails with torch's own wording.
    """
    if device is None or (isinstance(device, str) and device == "cpu"):
        return device  # the common case, without importing torch
    import torch

    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{name} must be a device name such as 'cpu' or 'cuda:0', got {type(device).__name__}: {device!r}")
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name}={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:<index>' or 'mps'") from None
    if dev.type == "cpu":
        return device
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name}={device!r}: CUDA is not available on this machine (use 'cpu' or leave it unset)")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{name}={device!r}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
        return device
    if dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"{name}={device!r}: MPS is not available on this machine (use 'cpu')")
        return device
    backend = getattr(torch, dev.type, None)
    available = getattr(backend, "is_available", None)
    if callable(available) and available():
        return device
    raise ValueError(f"{name}={device!r}: device type {dev.type!r} is not available on this machine (use 'cpu')")


#: the key of a per-goal threshold mapping that holds the β of every unlisted goal
DEFAULT_GOAL = "*"


def check_thresholds(value: Any, name: str = "threshold", default: float = 0.5) -> tuple[float, dict[str, float]]:
    """A threshold β, or a mapping ``{goal: β}`` with ``"*"`` for unlisted goals
    (``default`` without one), as ``(default β, {normalised goal: β})``.

    Two keys that are the same goal (:func:`goal_key`) with different β are an error:
    which one applied would depend on dict order.
    """
    if not isinstance(value, Mapping):
        return check_unit_interval(value, name), {}
    fallback = default
    per_goal: dict[str, float] = {}
    keys: dict[str, str] = {}
    for goal, beta in value.items():
        if goal == DEFAULT_GOAL:
            fallback = check_unit_interval(beta, f"{name}[{DEFAULT_GOAL!r}]")
            continue
        check_goal(goal, f"{name} key")
        beta = check_unit_interval(beta, f"{name}[{goal!r}]")
        key = goal_key(goal)
        if key in keys and per_goal[keys[key]] != beta:
            raise ValueError(f"{name} gives the same goal two thresholds: {keys[key]!r} and {goal!r}")
        keys.setdefault(key, normalize_goal(goal))
        per_goal[keys[key]] = beta
    return fallback, per_goal


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
