"""Dataset collection and offline evaluation on Ray (``collect --ray``, ``evaluate --ray``).

- :func:`collect_evalset_on_ray`: one Ray task per section (each section has its own
  seed stream), shards shipped back as bytes and written here with the merged manifest.
  The result is byte-identical to :func:`~vlm_rewards.data.collect_evalset` with the
  same arguments, and the workers need no shared filesystem.
- :func:`evaluate_on_ray`: :func:`~vlm_rewards.evaluation.evaluate` with the image
  embeddings (the expensive part) computed by a :class:`RayRewardPool` in shards of
  frames; metrics, calibration and the report are computed here as usual.

Example:
    >>> from vlm_rewards.distributed.datasets import collect_evalset_on_ray, evaluate_on_ray
    >>> collect_evalset_on_ray("evalset", sections=("phone:common", "house:find"), frames=512)  # doctest: +SKIP
    >>> evaluate_on_ray("builtin:default", "evalset", num_actors=2, out_dir="eval-out")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlm_rewards.evaluation.scores import Encoder

__all__ = ["RayEncoder", "collect_evalset_on_ray", "evaluate_on_ray"]


def _collect_one_section(section: str, *, frames: int, heldout_frames: int | None, seed: int,
                         image_size: int, shard_size: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Ray task: collect one section into a scratch dir; its manifest and shard bytes."""
    import json

    from vlm_rewards.data.evalset import collect_evalset

    scratch = tempfile.mkdtemp(prefix="vlmr-collect-")
    try:
        out = collect_evalset(scratch, sections=[section], frames=frames, heldout_frames=heldout_frames, seed=seed,
                              image_size=image_size, shard_size=shard_size)
        manifest = json.loads((Path(out) / "manifest.json").read_text())
        files = {entry["file"]: (Path(out) / entry["file"]).read_bytes() for entry in manifest["shards"]}
        return manifest, files
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def collect_evalset_on_ray(
    out_dir: str | os.PathLike,
    sections: Sequence[str] | None = None,
    frames: int = 768,
    heldout_frames: int | None = None,
    seed: int = 0,
    image_size: int = 64,
    shard_size: int = 2048,
    *,
    task_cpus: float = 1,
    progress: Callable[[int, int], None] | None = None,
    start_kwargs: dict[str, Any] | None = None,
) -> Path:
    """:func:`~vlm_rewards.data.collect_evalset`, one Ray task per section; same bytes.

    ``task_cpus``: Ray CPUs per section task. ``start_kwargs`` (``address``, ``num_cpus``,
    ``run_dir``...) start Ray when it is not running (see :func:`start_ray`).
    """
    from vlm_rewards.data.evalset import DEFAULT_SECTIONS, EVAL_SECTIONS
    from vlm_rewards.distributed.parallel import map_shards
    from vlm_rewards.io import atomic_write_bytes, atomic_write_json

    sections = list(DEFAULT_SECTIONS if sections is None else sections)
    if isinstance(sections, str) or not sections or len(set(sections)) != len(sections):
        raise ValueError(f"sections must be distinct names from {EVAL_SECTIONS}, got {sections!r}")
    bad = [s for s in sections if s not in EVAL_SECTIONS]
    if bad:
        raise ValueError(f"unknown section {bad[0]!r}; expected names from {EVAL_SECTIONS}")
    parts = map_shards(
        _collect_one_section, sections, num_cpus=task_cpus, progress=progress,
        shared={"frames": frames, "heldout_frames": heldout_frames, "seed": seed, "image_size": image_size,
                "shard_size": shard_size},
        start_kwargs=start_kwargs,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)  # the old dataset is invalid from here on
    manifest = dict(parts[0][0])
    manifest.update(section_order=sections, sections={}, shards=[], num_frames=0)
    for section, (sub, files) in zip(sections, parts):
        for entry in sub["shards"]:
            atomic_write_bytes(out / entry["file"], files[entry["file"]])
        manifest["sections"][section] = sub["sections"][section]
        manifest["shards"].extend(sub["shards"])
        manifest["num_frames"] += sub["num_frames"]
    atomic_write_json(out / "manifest.json", manifest)
    return out


class _PoolImages:
    """Stands in for an :class:`Encoder`'s scorer: frames go to the pool, texts stay local."""

    def __init__(self, pool: Any, local: Any, shard_frames: int):
        self.pool, self.local, self.shard_frames = pool, local, shard_frames
        self.frames_scored = 0

    def encode_frames(self, frames: Any):
        import torch

        frames = np.asarray(frames)
        self.frames_scored += len(frames)
        return torch.from_numpy(self.pool.encode(frames, shard_frames=self.shard_frames))

    def text_embeddings(self, texts: Sequence[str]):
        return self.local.text_embeddings(texts)


class RayEncoder(Encoder):
    """An evaluation :class:`~vlm_rewards.evaluation.scores.Encoder` whose image
    embeddings come from a :class:`RayRewardPool` in shards of ``shard_frames``.

    ``shard_frames`` a multiple of the actors' ``batch_size`` keeps the forward-pass
    batches the same as in-process, so the embeddings match to float rounding.

    Example:
        >>> enc = RayEncoder(load_model("builtin:default"), pool)  # doctest: +SKIP
        >>> evaluate(enc.model, "evalset", encoder=enc)  # doctest: +SKIP
    """

    def __init__(self, model: Any, pool: Any, batch_size: int = 256, shard_frames: int = 1024):
        super().__init__(model, batch_size=batch_size)
        self._scorer = _PoolImages(pool, self._scorer, shard_frames)


def evaluate_on_ray(
    model: str | os.PathLike,
    dataset: str | os.PathLike,
    *,
    num_actors: int = 2,
    actor_cpus: float = 1,
    actor_gpus: float = 0,
    shard_frames: int = 1024,
    batch_size: int = 256,
    dtype: Any = None,
    device: Any = None,
    start_kwargs: dict[str, Any] | None = None,
    **evaluate_kwargs: Any,
):
    """:func:`~vlm_rewards.evaluation.evaluate` with image embeddings computed on Ray.

    ``num_actors`` pool actors (``actor_cpus``/``actor_gpus`` each; GPUs run the model on
    ``"cuda"``) encode the dataset's frames in shards of ``shard_frames``; the text side,
    metrics and report run here. ``start_kwargs`` go to :func:`start_ray` if Ray is not
    running. Other keywords are :func:`evaluate`'s. Returns its :class:`Evaluation`.
    """
    from vlm_rewards.distributed.pool import RayRewardPool
    from vlm_rewards.distributed.runtime import ensure_ray
    from vlm_rewards.evaluation import evaluate
    from vlm_rewards.models import load_model

    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a model spec ('builtin:default', 'hf:<id>', a directory), got {type(model).__name__}")
    vlm = load_model(model, dtype=dtype)  # texts, τ and the model's name stay local
    runtime = ensure_ray(**(start_kwargs or {}))
    try:
        scorer_kwargs: dict[str, Any] = {"reward": "cosine", "batch_size": batch_size, "dtype": dtype}
        if device is not None:
            scorer_kwargs["device"] = device
        with RayRewardPool(os.fspath(model), num_actors=num_actors, num_cpus=actor_cpus, num_gpus=actor_gpus,
                           split_frames=shard_frames, **scorer_kwargs) as pool:
            encoder = RayEncoder(vlm, pool, batch_size=batch_size, shard_frames=shard_frames)
            return evaluate(vlm, dataset, encoder=encoder, batch_size=batch_size, **evaluate_kwargs)
    finally:
        if runtime is not None:
            runtime.shutdown()
