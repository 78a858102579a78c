"""Labelled evaluation datasets: frames with ground-truth success for every goal of a goal set.

The offline evidence of the paper (precision-recall of the VLM reward against ground
truth, as a function of the threshold β) needs frames whose success is known for *every*
goal, not only for the goal the episode pursued: a frame of the clock app is a positive
for "open the clock app" and a negative for the nine other common apps.

A dataset holds one or more *sections*, each a domain and goal set:

- ``phone:common`` / ``phone:diverse``: "open the {app} app", 10 / 60 goals; success =
  the app is in the foreground;
- ``house:find`` (also ``house:lift``, ``house:place``): the House goals of one family,
  with the env's own success predicates (near and in view / carried / dropped next to);
- ``babyai``: BabyAI GoToLocal, "go to the {colour} {object}"; success = the agent faces
  a matching object (the level's own verifier).

Each section has two *splits*, ``train`` and ``heldout``, the goal split of the domain:
the train split's episodes pursue training goals, the held-out split's held-out goals,
each from its own seed stream. Every frame is labelled for every goal of the section (both
splits' goals), so an evaluation can score a split's goals against negatives drawn from
the whole goal set, as the paper does. Calibrate on ``train``, report on ``heldout``.

Episodes mix policies so that positives and hard negatives are present: ``random``
actions, the scripted ``solver`` (privileged state; it reaches the goal and stays a few
frames), a ``noisy`` solver (a random action with probability 0.3) and, on the phone, a
``near_miss`` solver that opens the app next to the goal's icon; BabyAI and House add an
``explore`` policy (mostly forward). House frames are correlated step to step: frames
where no goal holds are kept with probability 0.3, frames where one holds always.

On disk: ``manifest.json`` plus shards ``{section}-{split}-{index:05d}.npz`` (``:``
becomes ``-``) holding ``frames`` (uint8, N x S x S x 3), ``labels`` (bool, N x goals of
the section), ``episode``, ``step``, ``policy`` (index into the section's ``policies``)
and ``pursued`` (index of the episode's goal). Shards are byte-deterministic and written
atomically; the manifest, written last, records each shard's size and SHA-256, so a
truncated or altered shard is reported by name when loaded.

Example:
    >>> from vlm_rewards.data import collect_evalset, load_evalset
    >>> out = collect_evalset("evalset", sections=("phone:common",), frames=256, seed=0)  # doctest: +SKIP
    >>> ds = load_evalset(out)  # doctest: +SKIP
    >>> split = ds.sections["phone:common"].splits["heldout"]  # doctest: +SKIP
    >>> split.frames.shape, split.labels.shape  # doctest: +SKIP
    ((256, 64, 64, 3), (256, 10))
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlm_rewards.data.corpus import _npz_bytes, _progress
from vlm_rewards.io import atomic_write_bytes, atomic_write_json, read_json_file, read_verified_shard

__all__ = [
    "DEFAULT_SECTIONS",
    "EVAL_SECTIONS",
    "eval_sections",
    "SPLITS",
    "EvalSection",
    "EvalSet",
    "EvalSetError",
    "EvalSplit",
    "collect_evalset",
    "write_evalset",
    "load_evalset",
    "read_evalset_manifest",
    "section_goals",
]

FORMAT = "vlm_rewards.evalset"
VERSION = 1
SPLITS: tuple[str, ...] = ("train", "heldout")
# Cheap to collect and the paper's domains first; any registered section can be asked for.
DEFAULT_SECTIONS: tuple[str, ...] = ("phone:common", "phone:diverse", "house:find")

_SHARD_KEYS = ("frames", "labels", "episode", "step", "policy", "pursued")


class EvalSetError(ValueError):
    """An evaluation dataset is missing, incomplete or corrupted (the message names the file)."""



# --- Goal sets -------------------------------------------------------------------------------


def eval_sections() -> tuple[str, ...]:
    """Every section a dataset can hold: each registered domain's ``eval_sections``."""
    from vlm_rewards.envs.registry import domains

    return tuple(s for d in domains().values() if d.evalset is not None for s in d.eval_sections)


def _check_section(name: Any) -> str:
    sections = eval_sections()
    if not isinstance(name, str) or name not in sections:
        raise ValueError(f"sections must name sections from {sections}, got {name!r}")
    return name


def section_goals(section: str) -> tuple[list[str], list[str]]:
    """``(goals, goal_splits)`` of a section: all its goals and, for each, "train" or "heldout".

    A section is a goals spec ("phone:common"), so its goals are those of
    :func:`~vlm_rewards.envs.goals_from_spec`.

    Example:
        >>> goals, splits = section_goals("phone:common")
        >>> len(goals), splits.count("heldout")
        (10, 3)
    """
    from vlm_rewards.envs import goals_from_spec

    section = _check_section(section)
    all_goals = goals_from_spec(section, "all")
    heldout = set(goals_from_spec(section, "heldout"))
    return all_goals, ["heldout" if g in heldout else "train" for g in all_goals]


# --- Sources: each domain's generator of labelled frames (its registry record's evalset hook) ---


def house_labels(env: Any, goals: Sequence[Any]) -> np.ndarray:
    """Ground-truth success of parsed House goals; see :func:`vlm_rewards.envs.house.samples.house_labels`."""
    from vlm_rewards.envs.house.samples import house_labels as labels

    return labels(env, goals)


def babyai_labels(level_env: Any, goals: Sequence[tuple[str, str]]) -> np.ndarray:
    """Success of BabyAI go-to goals; see :func:`vlm_rewards.envs.babyai.samples.babyai_labels`."""
    from vlm_rewards.envs.babyai.samples import babyai_labels as labels

    return labels(level_env, goals)


def _source(section: str):
    from vlm_rewards.envs.registry import EvalSource, get_domain, load_hook

    domain, _, variant = section.partition(":")
    hook = get_domain(domain).evalset
    source = load_hook(hook)
    if not isinstance(source, EvalSource):
        raise TypeError(f"Domain.evalset of {domain!r} must name an EvalSource, got {type(source).__name__} at {hook!r}")
    return variant, source



# --- Collection ------------------------------------------------------------------------------


def _check_int(value: Any, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo or (hi is not None and value > hi):
        bound = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")
    return int(value)


def _shard_name(section: str, split: str, index: int) -> str:
    return f"{section.replace(':', '-')}-{split}-{index:05d}.npz"


def collect_evalset(
    out_dir: str | os.PathLike,
    sections: Sequence[str] = DEFAULT_SECTIONS,
    frames: int = 768,
    heldout_frames: int | None = None,
    seed: int = 0,
    image_size: int = 64,
    shard_size: int = 2048,
    progress: bool = False,
) -> Path:
    """Roll out mixed policies in each section's domain and write labelled frames to ``out_dir``.

    ``frames`` frames per section for the train split and ``heldout_frames`` (default:
    ``frames``) for the held-out split, rendered at ``image_size``. Deterministic: the same
    arguments give byte-identical shards; each (section, split) has its own seed stream,
    so adding a section does not change the others. Returns ``out_dir``.

    Example:
        >>> collect_evalset("evalset", sections=("phone:common", "house:find"), frames=512, seed=1)  # doctest: +SKIP
        PosixPath('evalset')
    """
    if isinstance(sections, str):
        raise TypeError(f"sections must be a sequence of section names such as ('phone:common',), got the string {sections!r}")
    sections = [_check_section(s) for s in sections]
    if not sections or len(set(sections)) != len(sections):
        raise ValueError(f"sections must be distinct names from {eval_sections()}, got {sections!r}")
    counts = {"train": _check_int(frames, "frames", 1),
              "heldout": _check_int(frames if heldout_frames is None else heldout_frames, "heldout_frames", 1)}
    seed = _check_int(seed, "seed", 0)
    image_size = _check_int(image_size, "image_size", 32, 1024)
    shard_size = _check_int(shard_size, "shard_size", 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)  # the old dataset is invalid from here on

    meta: dict[str, Any] = {}
    shards: list[dict[str, Any]] = []
    bar = _progress(progress)
    with bar:
        for section in sections:
            domain = section.partition(":")[0]
            variant, source_def = _source(section)
            policies = source_def.policies
            goals, goal_splits = section_goals(section)
            meta[section] = {"domain": domain, "goals": goals, "goal_splits": goal_splits,
                             "policies": list(policies), "frames": dict(counts)}
            for split in SPLITS:
                task = bar.add_task(f"evalset {section} {split}", total=counts[split])
                rng = np.random.default_rng([seed, zlib.crc32(f"{section}/{split}".encode())])
                source = source_def.samples(variant, goals, split, rng, image_size)
                batches = ([next(source) for _ in range(min(shard_size, counts[split] - done))]
                           for done in range(0, counts[split], shard_size))
                shards += _write_shards(out, section, split, batches, image_size, lambda n, t=task: bar.advance(t, n))
    _write_manifest(out, seed, image_size, sections, meta, shards)
    return out


def write_evalset(
    out_dir: str | os.PathLike,
    section: str,
    policies: Sequence[str],
    frames: dict[str, Sequence[Any]],
    seed: int,
    image_size: int,
    shard_size: int = 2048,
) -> Path:
    """Write labelled frames that came from elsewhere (e.g. a trained agent's episodes) as a dataset.

    ``frames`` maps each split of :data:`SPLITS` to its
    :class:`~vlm_rewards.envs._sampling.LabelledFrame` list, labelled for every goal of
    ``section`` (:func:`section_goals` order); ``policies`` names their ``policy`` indices.
    The result loads with :func:`load_evalset` like a collected one, so ``evaluate`` and
    ``calibrate`` read it unchanged.
    """
    section = _check_section(section)
    if set(frames) != set(SPLITS) or any(len(v) == 0 for v in frames.values()):
        raise ValueError(f"frames must hold frames for each split of {SPLITS}, got {({k: len(v) for k, v in frames.items()})}")
    policies = [str(p) for p in policies]
    if not policies:
        raise ValueError("policies must name at least one policy")
    goals, goal_splits = section_goals(section)
    image_size = _check_int(image_size, "image_size", 32, 1024)
    shard_size = _check_int(shard_size, "shard_size", 1)
    for split, batch in frames.items():
        for f in batch:
            if f.labels.shape != (len(goals),):
                raise ValueError(f"frames[{split!r}]: labels of shape {f.labels.shape}, expected ({len(goals)},) for {section}")
            if not 0 <= f.policy < len(policies):
                raise ValueError(f"frames[{split!r}]: policy index {f.policy} outside policies {policies}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    counts = {split: len(frames[split]) for split in SPLITS}
    meta = {section: {"domain": section.partition(":")[0], "goals": goals, "goal_splits": goal_splits,
                      "policies": policies, "frames": counts}}
    shards: list[dict[str, Any]] = []
    for split in SPLITS:
        batch = list(frames[split])
        batches = (batch[i:i + shard_size] for i in range(0, len(batch), shard_size))
        shards += _write_shards(out, section, split, batches, image_size, lambda n: None)
    _write_manifest(out, _check_int(seed, "seed", 0), image_size, [section], meta, shards)
    return out


def _write_shards(out: Path, section: str, split: str, batches, image_size: int, advance) -> list[dict[str, Any]]:
    """Write each batch of labelled frames as one shard; the manifest entries of the shards."""
    entries = []
    for index, batch in enumerate(batches):
        for s in batch:
            if s.frame.shape != (image_size, image_size, 3):
                raise RuntimeError(f"{section} rendered a {s.frame.shape} frame, expected {(image_size, image_size, 3)}")
        advance(len(batch))
        data = _npz_bytes({
            "frames": np.stack([s.frame for s in batch]).astype(np.uint8),
            "labels": np.stack([s.labels for s in batch]).astype(bool),
            "episode": np.array([s.episode for s in batch], dtype=np.int32),
            "step": np.array([s.step for s in batch], dtype=np.int32),
            "policy": np.array([s.policy for s in batch], dtype=np.uint8),
            "pursued": np.array([s.pursued for s in batch], dtype=np.int16),
        })
        name = _shard_name(section, split, index)
        atomic_write_bytes(out / name, data)
        entries.append({"file": name, "section": section, "split": split, "frames": len(batch),
                        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return entries


def _write_manifest(out: Path, seed: int, image_size: int, sections: Sequence[str], meta: dict[str, Any],
                    shards: list[dict[str, Any]]) -> None:
    """The manifest, written last: a dataset without one is incomplete."""
    atomic_write_json(out / "manifest.json", {
        "format": FORMAT,
        "version": VERSION,
        "seed": seed,
        "image_size": image_size,
        "section_order": list(sections),  # the JSON writer sorts keys
        "sections": meta,
        "num_frames": sum(sum(m["frames"].values()) for m in meta.values()),
        "shards": shards,
    })


# --- Reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalSplit:
    """The frames of one split of one section, with per-frame labels and metadata."""

    section: str
    split: str
    frames: np.ndarray  # uint8 (N, S, S, 3)
    labels: np.ndarray  # bool (N, G): success of every goal of the section
    episode: np.ndarray
    step: np.ndarray
    policy: np.ndarray
    pursued: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class EvalSection:
    """One domain and goal set: its goals (label columns), their goal split, and the data splits."""

    name: str
    domain: str
    goals: tuple[str, ...]
    goal_splits: tuple[str, ...]
    policies: tuple[str, ...]
    splits: dict[str, EvalSplit] = field(default_factory=dict)

    def split_goals(self, split: str) -> list[str]:
        """The goals of the goal split ``split`` ("train" or "heldout"), in label-column order."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return [g for g, s in zip(self.goals, self.goal_splits) if s == split]


@dataclass(frozen=True)
class EvalSet:
    """A loaded dataset: ``sections[name].splits[split]``."""

    path: Path
    manifest: dict[str, Any]
    sections: dict[str, EvalSection]

    @property
    def num_frames(self) -> int:
        return sum(len(sp) for sec in self.sections.values() for sp in sec.splits.values())


def read_evalset_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The dataset manifest; :class:`EvalSetError` naming the file when missing or invalid."""
    root = Path(path)
    if not root.is_dir():
        raise EvalSetError(f"dataset {str(root)!r} does not exist (collect one with `vlm-rewards collect {root}`)")
    file = root / "manifest.json"
    if not file.is_file():
        raise EvalSetError(f"{file} is missing: {root} is not a complete evaluation dataset (run `vlm-rewards collect`)")
    manifest = read_json_file(file, EvalSetError)
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION
            or not isinstance(manifest.get("shards"), list) or not isinstance(manifest.get("sections"), dict)):
        raise EvalSetError(f"{file} is not a {FORMAT} v{VERSION} manifest")
    return manifest


def _load_shard(root: Path, entry: dict[str, Any], num_goals: int) -> dict[str, np.ndarray]:
    path = root / entry["file"]
    data = read_verified_shard(path, entry, "dataset shard", EvalSetError)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in _SHARD_KEYS}
    if any(len(a) != entry["frames"] for a in arrays.values()) or arrays["labels"].shape[1:] != (num_goals,):
        raise EvalSetError(f"dataset shard {path} does not match the manifest ({entry['frames']} frames x {num_goals} goals)")
    return arrays


def load_evalset(
    path: str | os.PathLike, sections: Sequence[str] | None = None, splits: Sequence[str] = SPLITS
) -> EvalSet:
    """Load (and verify) a dataset written by :func:`collect_evalset`.

    ``sections`` selects sections (default: all); asking for one the dataset does not
    hold is an :class:`EvalSetError` listing those it does.
    """
    root = Path(path)
    manifest = read_evalset_manifest(root)
    held = list(manifest.get("section_order") or manifest["sections"])
    if isinstance(sections, str):
        raise TypeError(f"sections must be a sequence of section names, got the string {sections!r}")
    wanted = held if sections is None else list(sections)
    missing = [s for s in wanted if s not in held]
    if missing:
        raise EvalSetError(f"dataset {root} has no section {missing[0]!r}; it holds {held}")
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ValueError(f"splits must be names from {SPLITS}, got {bad}")
    out: dict[str, EvalSection] = {}
    for name in wanted:
        meta = manifest["sections"][name]
        goals = tuple(meta["goals"])
        loaded: dict[str, EvalSplit] = {}
        for split in splits:
            parts = [_load_shard(root, e, len(goals)) for e in manifest["shards"] if e["section"] == name and e["split"] == split]
            if not parts:
                raise EvalSetError(f"dataset {root} has no shards for section {name!r}, split {split!r}")
            cat = {k: np.concatenate([p[k] for p in parts]) for k in _SHARD_KEYS}
            loaded[split] = EvalSplit(section=name, split=split, **cat)
        out[name] = EvalSection(name=name, domain=meta["domain"], goals=goals, goal_splits=tuple(meta["goal_splits"]),
                                policies=tuple(meta["policies"]), splits=loaded)
    return EvalSet(path=root, manifest=manifest, sections=out)


def __getattr__(name: str) -> Any:
    # EVAL_SECTIONS follows the domain registry, so a domain registered later is included.
    if name == "EVAL_SECTIONS":
        return eval_sections()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
