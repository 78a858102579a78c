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
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlm_rewards.data.corpus import _npz_bytes, _progress
from vlm_rewards.io import atomic_write_bytes, atomic_write_json, read_json_file, read_verified_shard

__all__ = [
    "DEFAULT_SECTIONS",
    "EVAL_SECTIONS",
    "SPLITS",
    "EvalSection",
    "EvalSet",
    "EvalSetError",
    "EvalSplit",
    "collect_evalset",
    "load_evalset",
    "read_evalset_manifest",
    "section_goals",
]

FORMAT = "vlm_rewards.evalset"
VERSION = 1
SPLITS: tuple[str, ...] = ("train", "heldout")
#: every section a dataset can hold
EVAL_SECTIONS: tuple[str, ...] = ("phone:common", "phone:diverse", "house:find", "house:lift", "house:place", "babyai")
DEFAULT_SECTIONS: tuple[str, ...] = ("phone:common", "phone:diverse", "house:find")
BABYAI_LEVEL = "BabyAI-GoToLocal-v0"

_NOISE = 0.3  # probability of a random action for the noisy solver
_HOUSE_KEEP_NEGATIVE = 0.3
_SHARD_KEYS = ("frames", "labels", "episode", "step", "policy", "pursued")


class EvalSetError(ValueError):
    """An evaluation dataset is missing, incomplete or corrupted (the message names the file)."""


@dataclass(frozen=True)
class Sample:
    frame: np.ndarray
    labels: np.ndarray  # bool, one per goal of the section
    episode: int
    step: int
    policy: int
    pursued: int


# --- Goal sets -------------------------------------------------------------------------------


def _check_section(name: Any) -> str:
    if not isinstance(name, str) or name not in EVAL_SECTIONS:
        raise ValueError(f"sections must name sections from {EVAL_SECTIONS}, got {name!r}")
    return name


def section_goals(section: str) -> tuple[list[str], list[str]]:
    """``(goals, goal_splits)`` of a section: all its goals and, for each, "train" or "heldout".

    Example:
        >>> goals, splits = section_goals("phone:common")
        >>> len(goals), splits.count("heldout")
        (10, 3)
    """
    from vlm_rewards.envs import goals as domain_goals

    section = _check_section(section)
    domain, _, part = section.partition(":")
    kwargs: dict[str, Any] = {}
    if domain == "phone":
        kwargs = {"goal_set": part}
    elif domain == "house":
        kwargs = {"family": part}
    else:
        kwargs = {"level": BABYAI_LEVEL}
    all_goals = domain_goals(domain, "all", **kwargs)
    heldout = set(domain_goals(domain, "heldout", **kwargs))
    return all_goals, ["heldout" if g in heldout else "train" for g in all_goals]


# --- Sources: one generator of labelled frames per domain --------------------------------------


def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


PHONE_POLICIES = ("random", "solver", "noisy", "near_miss")


def _phone_plan(env: Any, app: str) -> int:
    """Next discrete action towards having ``app`` in the foreground (public env state)."""
    from vlm_rewards.envs import phone

    if env.foreground == app:
        return 0  # a tap on in-app content is inert: stay
    if env.foreground is not None:
        return phone.BACK
    page, slot = env.layout.locate(app)
    if page is None:
        return phone.N_TAP_CELLS - phone.GRID_COLS + slot
    if page == env.page:
        return slot
    return phone.SWIPE_LEFT if page > env.page else phone.SWIPE_RIGHT


def _phone_neighbour(env: Any, app: str, rng: np.random.Generator) -> str:
    """An app whose icon sits next to ``app``'s (same page or dock), for near misses."""
    page, slot = env.layout.locate(app)
    slots = env.layout.dock if page is None else env.layout.pages[page]
    cols = len(env.layout.dock)
    near = [slot - 1, slot + 1] if page is None else [slot - 1, slot + 1, slot - cols, slot + cols]
    candidates = [slots[i] for i in near if 0 <= i < len(slots) and slots[i] not in (None, app)]
    if not candidates:
        candidates = [a for a in env.layout.dock if a != app]
    return _pick(rng, candidates)


def _phone_source(section: str, split: str, rng: np.random.Generator, image_size: int) -> Iterator[Sample]:
    from vlm_rewards.envs import phone

    goal_set = section.partition(":")[2]
    all_goals, _ = section_goals(section)
    apps = [phone.parse_goal(g, goal_set)[1] for g in all_goals]
    column = {app: i for i, app in enumerate(apps)}
    pursue = phone.goals(split, goal_set)
    env = phone.PhoneEnv(goal_set=goal_set, goal_split=split, render_mode="rgb_array", render_size=image_size,
                         terminate_on_success=False)
    episode = 0
    while True:
        goal = _pick(rng, pursue)
        env.reset(seed=int(rng.integers(2**31)), options={"goal": goal})
        policy = int(rng.integers(len(PHONE_POLICIES)))
        name = PHONE_POLICIES[policy]
        target = env.target if name != "near_miss" else _phone_neighbour(env, env.target, rng)
        length, hold = int(rng.integers(4, 16)), int(rng.integers(1, 5))
        pursued = all_goals.index(goal)
        for t in range(length + 1):
            if t:
                if name == "random" or (name == "noisy" and rng.random() < _NOISE):
                    action = int(rng.integers(phone.N_DISCRETE))
                else:
                    action = _phone_plan(env, target)
                env.step(action)
            labels = np.zeros(len(apps), dtype=bool)
            if env.foreground in column:
                labels[column[env.foreground]] = True
            yield Sample(env.render(), labels, episode, t, policy, pursued)
            if name != "random" and env.foreground == target:
                hold -= 1
                if hold < 0:
                    break
        episode += 1


HOUSE_POLICIES = ("random", "explore", "solver", "noisy")


def house_labels(env: Any, goals: Sequence[Any]) -> np.ndarray:
    """Ground-truth success of each parsed House goal (``house_goals.Goal``) in ``env``'s state.

    The predicates are the env's own (``is_near`` and ``in_view`` / ``carrying`` /
    ``objects_adjacent``); a goal about an object not in the house is False.
    """
    objects = env.objects
    carrying = env.agent.carrying
    near_in_view: dict[str, bool] = {}
    out = np.zeros(len(goals), dtype=bool)
    for i, goal in enumerate(goals):
        target = objects.get(goal.target)
        if target is None:
            continue
        if goal.family == "find":
            if goal.target not in near_in_view:
                near_in_view[goal.target] = env.is_near(target) and env.in_view(target)
            out[i] = near_in_view[goal.target]
        elif goal.family == "lift":
            out[i] = carrying is target
        else:
            dest = objects.get(goal.dest)
            out[i] = dest is not None and carrying is not target and env.objects_adjacent(target, dest)
    return out


def _house_source(section: str, split: str, rng: np.random.Generator, image_size: int) -> Iterator[Sample]:
    from vlm_rewards.envs import house
    from vlm_rewards.envs.house_solver import Explorer

    family = section.partition(":")[2]
    all_goals, _ = section_goals(section)
    parsed = [house.parse_goal(g) for g in all_goals]
    pursue = house.goals(split, family=family)
    env = house.HouseEnv(family=family, goal_split=split, render_mode="rgb_array", render_size=image_size,
                         terminate_on_success=False, max_episode_steps=100_000)
    episode = 0
    while True:
        goal = _pick(rng, pursue)
        obs, _ = env.reset(seed=int(rng.integers(2**31)), options={"goal": goal})
        solver = house.make_solver(env)
        policy = int(rng.integers(len(HOUSE_POLICIES)))
        name = HOUSE_POLICIES[policy]
        steps = 250 if name in ("solver", "noisy") else int(rng.integers(8, 40))
        look_around = -1  # steps left after success; -1: not yet reached
        explorer = Explorer(rng)
        pursued = all_goals.index(goal)
        for t in range(steps + 1):
            if t:
                if look_around > 0:  # after success: glance about, step back (in view but far, out of view)
                    action = _pick(rng, (0, 1, 3))
                elif name == "random" or (name == "noisy" and rng.random() < _NOISE):
                    action = int(rng.integers(env.action_space.n))
                elif name in ("solver", "noisy"):
                    action = solver(obs)
                else:
                    action = explorer.act()
                before = env.agent.pos.copy()
                obs, _, _, _, info = env.step(action)
                if name == "explore":
                    explorer.observe(action, moved=not np.allclose(before, env.agent.pos))
                if look_around > 0:
                    look_around -= 1
                elif look_around < 0 and name in ("solver", "noisy") and info["ground_truth_success"]:
                    look_around = int(rng.integers(3, 10))
            labels = house_labels(env, parsed)
            if labels.any() or rng.random() < _HOUSE_KEEP_NEGATIVE:
                yield Sample(env.render(), labels, episode, t, policy, pursued)
            if look_around == 0:
                break
        episode += 1


BABYAI_POLICIES = ("random", "explore", "solver", "noisy")
_BABYAI_GOAL = re.compile(r"^go to the (\w+) (\w+)$")


def babyai_labels(level_env: Any, goals: Sequence[tuple[str, str]]) -> np.ndarray:
    """Success of each "go to the {colour} {object}" goal, as ``(colour, object)`` pairs: the
    agent faces a matching object (what the level's ``GoToInstr`` verifies)."""
    front = level_env.grid.get(*level_env.front_pos)
    if front is None:
        return np.zeros(len(goals), dtype=bool)
    return np.array([front.color == c and front.type == o for c, o in goals], dtype=bool)


def _babyai_source(section: str, split: str, rng: np.random.Generator, image_size: int) -> Iterator[Sample]:
    from vlm_rewards.envs import babyai

    all_goals, _ = section_goals(section)
    pairs = [_BABYAI_GOAL.match(g).groups() for g in all_goals]  # type: ignore[union-attr]
    env = babyai.BabyAIEnv(level=BABYAI_LEVEL, goal_split=split, render_mode="rgb_array", render_size=image_size,
                           terminate_on_success=False)
    level = env.level_env
    episode = 0
    while True:
        env.reset(seed=int(rng.integers(2**31)))
        policy = int(rng.integers(len(BABYAI_POLICIES)))
        name = BABYAI_POLICIES[policy]
        solver = babyai.make_solver(env)
        steps = 64 if name in ("solver", "noisy") else int(rng.integers(4, 24))
        after = -1
        pursued = all_goals.index(env.goal)
        for t in range(steps + 1):
            if t:
                if after > 0 or name == "random" or (name == "noisy" and rng.random() < _NOISE):
                    action = int(rng.integers(3))  # left, right, forward
                    if name == "noisy":
                        # The bot assumes its own actions were taken: a fresh one replans from here.
                        solver = babyai.make_solver(env)
                elif name == "explore":
                    action = 2 if rng.random() < 0.7 else int(rng.integers(2))
                else:
                    try:
                        action = solver(None)
                    except Exception:  # noqa: BLE001  (minigrid's bot can fail on states it did not plan for)
                        break
                _, _, terminated, truncated, info = env.step(action)
                if after > 0:
                    after -= 1
                elif after < 0 and name in ("solver", "noisy") and info["ground_truth_success"]:
                    after = int(rng.integers(1, 4))
            yield Sample(env.render(), babyai_labels(level, pairs), episode, t, policy, pursued)
            if after == 0 or (t and (terminated or truncated)):
                break
        episode += 1


_SOURCES: dict[str, tuple[Callable[..., Iterator[Sample]], tuple[str, ...]]] = {
    "phone": (_phone_source, PHONE_POLICIES),
    "house": (_house_source, HOUSE_POLICIES),
    "babyai": (_babyai_source, BABYAI_POLICIES),
}


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
        raise ValueError(f"sections must be distinct names from {EVAL_SECTIONS}, got {sections!r}")
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
            source_fn, policies = _SOURCES[domain]
            goals, goal_splits = section_goals(section)
            meta[section] = {"domain": domain, "goals": goals, "goal_splits": goal_splits,
                             "policies": list(policies), "frames": dict(counts)}
            for split in SPLITS:
                task = bar.add_task(f"evalset {section} {split}", total=counts[split])
                rng = np.random.default_rng([seed, zlib.crc32(f"{section}/{split}".encode())])
                source = source_fn(section, split, rng, image_size)
                done = index = 0
                while done < counts[split]:
                    batch = [next(source) for _ in range(min(shard_size, counts[split] - done))]
                    for s in batch:
                        if s.frame.shape != (image_size, image_size, 3):
                            raise RuntimeError(f"{section} rendered a {s.frame.shape} frame, expected {(image_size, image_size, 3)}")
                    bar.advance(task, len(batch))
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
                    shards.append({"file": name, "section": section, "split": split, "frames": len(batch),
                                   "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
                    done += len(batch)
                    index += 1
    atomic_write_json(out / "manifest.json", {
        "format": FORMAT,
        "version": VERSION,
        "seed": seed,
        "image_size": image_size,
        "section_order": sections,  # the JSON writer sorts keys
        "sections": meta,
        "num_frames": sum(counts.values()) * len(sections),
        "shards": shards,
    })
    return out


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
