"""The built-in model family: compute-matched schedules and training every size in one call.

Training every size for the same number of steps starves the large ones (they end at a
higher loss than the small ones and rank worse), which is not a statement about model
size. A *compute-matched* family gives each size the samples it needs instead: the number
of training samples grows with the parameter count as ``(params / params_base) **
exponent`` (``exponent=1``: tokens proportional to parameters, as compute-optimal scaling
suggests; the default 0.5 keeps the whole family within a few CPU hours), and the peak
learning rate shrinks with the width as ``base_lr * width_base / width``, the rule for
Adam on hidden weights in width-scaled transformers (muP), so wider models take smaller
steps. Batch size is the same for all: in-batch negatives set the contrastive task's
difficulty, and the sizes should solve the same task.

Example:
    >>> from vlm_rewards.family import compute_matched
    >>> plan = compute_matched(["xs", "s"], base="s", base_steps=2000)
    >>> plan["xs"]["steps"] < plan["s"]["steps"]
    True
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlm_rewards.io import atomic_write_json, read_json_file

__all__ = ["DEFAULT_FAMILY", "compute_matched", "num_parameters", "train_family"]

#: The sizes ``vlm-rewards family`` trains by default: 42x from the smallest to the largest,
#: and ``s``, the shipped default's size, in the middle.
DEFAULT_FAMILY: tuple[str, ...] = ("xxs", "xs", "s", "ms")


class _Vocabulary:
    """What :func:`vlm_rewards.pretrain.build_model` reads from a tokenizer, without training one."""

    def __init__(self, size: int, max_length: int):
        self._size, self.model_max_length = size, max_length
        self.pad_token_id, self.bos_token_id, self.eos_token_id = 0, 1, 2

    def __len__(self) -> int:
        return self._size


def num_parameters(size: str, vocab_size: int = 1000, image_size: int = 64, patch_size: int = 8,
                   max_text_length: int = 32) -> int:
    """Parameters of a model of preset ``size`` (built on torch's meta device: no memory, no init)."""
    import torch

    from vlm_rewards.pretrain import build_model

    with torch.device("meta"):
        model = build_model(size, _Vocabulary(vocab_size, max_text_length), image_size=image_size, patch_size=patch_size)
    return sum(p.numel() for p in model.parameters())


def compute_matched(
    sizes: Sequence[str],
    *,
    base: str = "s",
    base_steps: int = 2000,
    batch_size: int = 128,
    base_lr: float = 1e-3,
    exponent: float = 0.5,
    vocab_size: int = 1000,
) -> dict[str, dict[str, Any]]:
    """Per-size ``steps``, ``batch_size``, ``lr`` and ``num_parameters`` (see the module docstring).

    ``base`` (a size, not necessarily in ``sizes``) trains for ``base_steps`` at ``base_lr``;
    the others scale from it.

    Example:
        >>> {size: (p["steps"], p["lr"]) for size, p in compute_matched(["xs", "s"], base_steps=1000).items()}
        {'xs': (429, 0.002), 's': (1000, 0.001)}
    """
    from vlm_rewards.pretrain import SIZES

    if isinstance(sizes, str) or not sizes or any(s not in SIZES for s in sizes) or len(set(sizes)) != len(sizes):
        raise ValueError(f"sizes must be distinct names from {sorted(SIZES)}, got {sizes!r}")
    if base not in SIZES:
        raise ValueError(f"base must be one of {sorted(SIZES)}, got {base!r}")
    for name, value in (("base_steps", base_steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(base_lr, (int, float)) or not base_lr > 0:
        raise ValueError(f"base_lr must be a positive float, got {base_lr!r}")
    if isinstance(exponent, bool) or not isinstance(exponent, (int, float)) or not 0 <= exponent <= 2:
        raise ValueError(f"exponent must be a float in [0, 2], got {exponent!r}")
    base_params = num_parameters(base, vocab_size)
    base_width = SIZES[base]["vision"]["hidden_size"]
    plan = {}
    for size in sizes:
        params = num_parameters(size, vocab_size)
        width = SIZES[size]["vision"]["hidden_size"]
        plan[size] = {
            "num_parameters": params,
            "steps": max(1, round(base_steps * (params / base_params) ** exponent)),
            "batch_size": batch_size,
            "lr": float(f"{base_lr * base_width / width:.3g}"),
            "width": width,
        }
    return plan


def train_family(
    corpus_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    sizes: Sequence[str] = DEFAULT_FAMILY,
    *,
    seed: int = 0,
    loss: str = "infonce",
    checkpoint_every: int = 100,
    device: str | None = None,
    threads: int | None = None,
    progress: bool = False,
    **schedule: Any,
) -> Path:
    """Train each size of ``sizes`` on one corpus with its :func:`compute_matched` schedule
    (``schedule``: that function's keywords, ``base``, ``base_steps``, ``batch_size``,
    ``base_lr``, ``exponent``; its defaults otherwise).

    ``out_dir/<size>`` receives each model (resumable: a killed run continues from the last
    checkpoint, and sizes already finished are skipped); ``out_dir/family.json`` the plan,
    and per size the wall time and the final training and held-out losses. Returns ``out_dir``.
    """
    from vlm_rewards.pretrain import pretrain

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = compute_matched(sizes, **schedule)
    summary_path = out / "family.json"
    summary = read_json_file(summary_path, ValueError) if summary_path.is_file() else {}
    results = summary.get("results", {}) if summary.get("plan") == plan and summary.get("seed") == seed else {}
    for size, schedule in plan.items():
        model_dir = out / size
        if size in results and (model_dir / "model.safetensors").is_file():
            continue
        t0 = time.time()
        pretrain(corpus_dir, model_dir, size=size, steps=schedule["steps"], batch_size=schedule["batch_size"], seed=seed,
                 lr=schedule["lr"], loss=loss, checkpoint_every=checkpoint_every, device=device, threads=threads,
                 progress=progress)
        log = read_json_file(model_dir / "training_log.json", ValueError)
        tail = log["history"][-min(100, len(log["history"])):]
        results[size] = {
            "seconds": round(time.time() - t0, 1),
            "final_loss": round(sum(h["loss"] for h in tail) / len(tail), 4),
            "heldout_loss": log["evals"][-1]["heldout_loss"] if log.get("evals") else None,
        }
        atomic_write_json(summary_path, {"corpus": str(corpus_dir), "seed": seed, "loss": loss, "plan": plan,
                                         "results": results})
    return out
