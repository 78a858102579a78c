"""Caption corpus from the built-in domains, for contrastive pre-training.

Frames are rendered at the VLM's input size by rolling out a mix of policies in each
domain (uniformly random, exploratory, and the scripted solver on privileged state) and
captioned from simulator state: what is on screen, not whether a goal was reached.
Captions cover every goal concept, held-out goals included: the paper holds goals out
from the *agent*, not from the reward model.

Compositional hold-out: the colour-object combinations of :data:`COMPOSITIONAL_HOLDOUT`
are never named by any caption of any domain, so a model trained on the corpus has seen
each of their colours and kinds only in other combinations, and retrieval of e.g. "go near
the yellow ball" measures composition rather than recall. House frames in which a held-out
object may be on screen (or is carried) are dropped, so House pixels of these objects are
never seen either; BabyAI rooms hold eight objects, so dropping would lose most rooms:
BabyAI frames are kept and their captions name only the other objects. The combinations
are disjoint from the agent's held-out goal objects
(:data:`vlm_rewards.envs.house.vocabulary.HELDOUT_OBJECTS`), which the corpus does name: the two
hold-outs measure different things (unseen goals vs unseen compositions).

Each frame carries :data:`CAPTIONS_PER_FRAME` captions of one description in different styles
(descriptive, web alt-text, instruction-like), and some frames are followed by a *twin*: the
same scene with one attribute changed (another app open, an object of another colour or
kind in the same place). Twins share a group id, and pre-training keeps a group in one
batch, so each twin is an in-batch hard negative of the other.

On disk: ``manifest.json`` plus shards ``{domain}-{index:05d}.npz`` holding ``frames``
(uint8, N x S x S x 3), ``captions`` (N x K strings), ``labels`` (the state a caption came
from, e.g. ``phone:app:calendar``: frames with equal labels show the same thing, so
pre-training treats them as positives of each other even when their captions differ) and
``groups`` (int64; equal ids: a frame and its twins). Version-1 corpora (one caption per
frame, no groups) still load. Shards are written deterministically (fixed
zip timestamps) and atomically; the manifest, written last, records each shard's size and
SHA-256, so a truncated or altered shard is reported by name when loaded.

Example:
    >>> from vlm_rewards.data import collect_corpus, load_corpus
    >>> out = collect_corpus("corpus", domains=("phone",), frames_per_domain=64, seed=0)  # doctest: +SKIP
    >>> frames, captions, labels = load_corpus(out)  # doctest: +SKIP
    >>> frames.shape, captions[0]  # doctest: +SKIP
    ((64, 64, 64, 3), 'a phone home screen with app icons')
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlm_rewards.envs._sampling import CorpusFrame
from vlm_rewards.io import atomic_write_bytes, atomic_write_json, read_json_file, read_verified_shard

__all__ = [
    "COMPOSITIONAL_HOLDOUT",
    "CORPUS_DOMAINS",
    "corpus_domains",
    "DEFAULT_DOMAINS",
    "CAPTIONS_PER_FRAME",
    "Corpus",
    "CorpusError",
    "collect_corpus",
    "load_corpus",
    "load_shard",
    "read_corpus",
    "read_manifest",
]

FORMAT = "vlm_rewards.corpus"
VERSION = 2
_READABLE_VERSIONS = (1, 2)
#: captions stored per frame (sources that give fewer are cycled to this many)
CAPTIONS_PER_FRAME = 3
# The cheap domains: a House corpus needs an OpenGL context and minutes of rendering.
DEFAULT_DOMAINS: tuple[str, ...] = ("phone", "babyai")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
#: Where a domain's random stream restarts: once per domain, or at every shard (see collect_corpus).
STREAMS: tuple[str, ...] = ("domain", "shard")

#: Colour-object combinations no caption ever names (see the module docstring). One per
#: kind and colour, each colour and kind still named in other combinations; none is a
#: held-out goal object of the agent, and all are House training-goal objects.
COMPOSITIONAL_HOLDOUT: frozenset[str] = frozenset({"yellow ball", "grey key", "green box"})

Sample = tuple[np.ndarray, str, str]  # frame, caption, label: a source may yield these or CorpusFrame


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus: ``frames`` (uint8 N x S x S x 3), ``captions`` (N x K str array; column
    0 the descriptive caption), ``labels`` (N state labels) and ``groups`` (N int64 ids; a
    frame and its twins share one)."""

    frames: np.ndarray
    captions: np.ndarray
    labels: list[str]
    groups: np.ndarray


class CorpusError(ValueError):
    """A corpus directory is missing, incomplete or corrupted (the message names the file)."""


# --- Domains -------------------------------------------------------------------------------
# Each domain's frames and captions come from its own package (the ``corpus`` hook of its
# registry record); the caption functions are re-exported here for existing callers.


def phone_caption(foreground: str, page: int, rng: np.random.Generator) -> tuple[str, str]:
    """(caption, label) for a phone frame; see :func:`vlm_rewards.envs.phone.samples.phone_caption`."""
    from vlm_rewards.envs.phone.samples import phone_caption as caption

    return caption(foreground, page, rng)


def babyai_caption(level_env: Any, rng: np.random.Generator, holdout: Iterable[str] = ()) -> tuple[str, str]:
    """(caption, label) for a BabyAI frame; see :func:`vlm_rewards.envs.babyai.samples.babyai_caption`."""
    from vlm_rewards.envs.babyai.samples import babyai_caption as caption

    return caption(level_env, rng, holdout)


def house_caption(env: Any, rng: np.random.Generator, holdout: Iterable[str] = ()) -> tuple[str, str] | None:
    """(caption, label) for a House frame or None; see :func:`vlm_rewards.envs.house.samples.house_caption`."""
    from vlm_rewards.envs.house.samples import house_caption as caption

    return caption(env, rng, holdout)


def corpus_domains() -> tuple[str, ...]:
    """Registered domains that offer corpus frames (their record's ``corpus`` hook)."""
    from vlm_rewards.envs.registry import domains

    return tuple(name for name, d in domains().items() if d.corpus is not None)


def _source(domain: str) -> Callable[[np.random.Generator, int, frozenset[str]], Iterator[Sample]]:
    from vlm_rewards.envs.registry import get_domain, load_hook

    return load_hook(get_domain(domain).corpus)



# --- Shards --------------------------------------------------------------------------------


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    # np.savez stamps entries with the current time; fixed timestamps make the same
    # corpus byte-identical across runs, so its SHA-256 identifies it.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _check_int(value: Any, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo or (hi is not None and value > hi):
        bound = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")
    return int(value)


def _check_holdout(holdout: Any) -> frozenset[str]:
    from vlm_rewards.envs._sampling import COLOURED_KINDS
    from vlm_rewards.envs.house.vocabulary import COLOURS

    valid = [f"{colour} {kind}" for kind in COLOURED_KINDS for colour in COLOURS]
    if isinstance(holdout, str) or not isinstance(holdout, Iterable):
        raise TypeError(f"holdout must be a collection of colour-object names such as {{'yellow ball'}}, got {holdout!r}")
    holdout = frozenset(holdout)
    bad = sorted(str(h) for h in holdout if h not in valid)
    if bad:
        raise ValueError(f"holdout must name colour-object combinations from {valid}, got {bad}")
    return holdout


def collect_corpus(
    out_dir: str | os.PathLike,
    domains: Sequence[str] = DEFAULT_DOMAINS,
    frames_per_domain: int | Mapping[str, int] = 4096,
    seed: int = 0,
    image_size: int = 64,
    shard_size: int = 2048,
    progress: bool = False,
    holdout: Iterable[str] = COMPOSITIONAL_HOLDOUT,
    streams: str = "domain",
    workers: int = 1,
) -> Path:
    """Render and caption ``frames_per_domain`` frames from each of ``domains`` into ``out_dir``.

    ``frames_per_domain`` is one count for every domain or a mapping with a count for each
    domain. A domain's frames are a prefix of one stream per (seed, domain), so a larger
    count only appends frames.

    Deterministic: the same arguments give byte-identical shards. No caption names a
    colour-object combination of ``holdout`` (default :data:`COMPOSITIONAL_HOLDOUT`;
    recorded in the manifest). Returns ``out_dir``.

    ``streams`` says where a domain's random stream restarts. "domain": one stream per
    (seed, domain), so one domain is built by one process. "shard": one stream per (seed,
    domain, shard index), so shards can be built side by side: ``workers`` processes then
    build them in parallel, and the bytes do not depend on ``workers``. The two give different
    corpora of the same recipe (each domain's first shard aside); the manifest records which
    (absent: "domain"). With "domain" streams, ``workers`` > 1 builds the domains side by side,
    with the same bytes as one process.

    Example:
        >>> collect_corpus("corpus", domains=("phone", "babyai"), frames_per_domain=256, seed=1)  # doctest: +SKIP
        PosixPath('corpus')
    """
    if isinstance(domains, str):
        raise TypeError(f"domains must be a sequence of domain names such as ('phone', 'babyai'), got the string {domains!r}")
    domains = list(domains)
    offered = corpus_domains()
    if not domains or any(d not in offered for d in domains) or len(set(domains)) != len(domains):
        raise ValueError(f"domains must be distinct names from {offered}, got {domains!r}")
    if isinstance(frames_per_domain, Mapping):
        if set(frames_per_domain) != set(domains):
            raise ValueError(f"frames_per_domain must give a count for each of {domains}, got {dict(frames_per_domain)!r}")
        counts = {d: _check_int(frames_per_domain[d], f"frames_per_domain[{d!r}]", 1) for d in domains}
    else:
        n = _check_int(frames_per_domain, "frames_per_domain", 1)
        counts = {d: n for d in domains}
    seed = _check_int(seed, "seed", 0)
    image_size = _check_int(image_size, "image_size", 32, 1024)
    shard_size = _check_int(shard_size, "shard_size", 1)
    holdout = _check_holdout(holdout)
    if streams not in STREAMS:
        raise ValueError(f"streams must be one of {STREAMS}, got {streams!r}")
    workers = _check_int(workers, "workers", 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)  # the old corpus is invalid from here on

    # A job is one stream: a whole domain, or one shard of it. Jobs yield shards in corpus
    # order with group ids counted from 0; the ids are made corpus-wide here, as one process
    # counting through every domain would.
    jobs: list[tuple[Any, ...]] = []
    for domain in domains:
        if streams == "domain":
            jobs.append((domain, [seed, zlib.crc32(domain.encode())], counts[domain], shard_size, image_size, holdout))
        else:
            for k, done in enumerate(range(0, counts[domain], shard_size)):
                n = min(shard_size, counts[domain] - done)
                jobs.append((domain, [seed, zlib.crc32(domain.encode()), k], n, n, image_size, holdout))
    shards: list[dict[str, Any]] = []
    next_group = 0
    bar = _progress(progress)
    with bar, _job_runner(workers, len(jobs)) as run:
        tasks = {d: bar.add_task(f"corpus {d}", total=counts[d]) for d in domains}
        base, current = 0, -1
        for job, domain, shard in run(jobs):
            if job != current:  # a new stream counts its groups from 0
                base, current = next_group, job
            shard["groups"] += base
            next_group = int(shard["groups"].max()) + 1
            data = _npz_bytes(shard)
            name = f"{domain}-{len(shards):05d}.npz"
            atomic_write_bytes(out / name, data)
            n = len(shard["frames"])
            shards.append({"file": name, "domain": domain, "frames": n, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
            bar.advance(tasks[domain], n)
    atomic_write_json(out / "manifest.json", {
        "format": FORMAT,
        "version": VERSION,
        "seed": seed,
        "image_size": image_size,
        "domains": counts,
        "num_frames": sum(counts.values()),
        "captions_per_frame": CAPTIONS_PER_FRAME,
        "holdout": sorted(holdout),
        **({"streams": streams} if streams != "domain" else {}),  # domain-stream manifests stay as they were
        "shards": shards,
    })
    return out


def _stream_shards(domain: str, seed: list[int], frames: int, shard_size: int, image_size: int,
                   holdout: frozenset[str]) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """The shards of ``frames`` frames drawn from one stream of ``domain``; groups from 0."""
    source = _source(domain)(np.random.default_rng(seed), image_size, holdout)
    group, done = -1, 0
    while done < frames:
        n = min(shard_size, frames - done)
        items, groups = [], []
        for _ in range(n):
            item = _corpus_frame(next(source), domain)
            if item.frame.shape != (image_size, image_size, 3):
                raise RuntimeError(f"{domain} rendered a {item.frame.shape} frame, expected {(image_size, image_size, 3)}")
            if not (item.twin and group >= 0):
                group += 1  # a twin joins the group of the frame before it
            items.append(item)
            groups.append(group)
        yield domain, {
            "frames": np.stack([i.frame for i in items]).astype(np.uint8),
            "captions": np.array([[i.captions[k % len(i.captions)] for k in range(CAPTIONS_PER_FRAME)] for i in items], dtype=str),
            "labels": np.array([i.label for i in items], dtype=str),
            "groups": np.array(groups, dtype=np.int64),
        }
        done += n


def _job_shards(job: tuple[Any, ...]) -> list[tuple[str, dict[str, np.ndarray]]]:
    return list(_stream_shards(*job))


_Shards = Iterator[tuple[int, str, dict[str, np.ndarray]]]


@contextlib.contextmanager
def _job_runner(workers: int, jobs: int) -> Iterator[Callable[[list[tuple[Any, ...]]], _Shards]]:
    """``run(jobs)``: (job index, domain, shard) of every job's shards, in job order; in this
    process, or in a pool of ``workers`` processes ("spawn": a forked OpenGL context or torch
    thread pool is not safe to use)."""
    if workers == 1 or jobs == 1:
        yield lambda js: ((j, *shard) for j, job in enumerate(js) for shard in _stream_shards(*job))
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(min(workers, jobs)) as pool:
        yield lambda js: ((j, *shard) for j, shards in enumerate(pool.imap(_job_shards, js)) for shard in shards)


def _corpus_frame(item: Any, domain: str) -> CorpusFrame:
    if isinstance(item, CorpusFrame):
        if not item.captions or not all(isinstance(c, str) and c for c in item.captions):
            raise RuntimeError(f"{domain}'s corpus source gave a frame without captions: {item.captions!r}")
        return item
    frame, caption, label = item
    return CorpusFrame(frame, (caption,), label)


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs):
        return 0

    def advance(self, *args, **kwargs):
        pass


def _progress(enabled: bool):
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


# --- Reading -------------------------------------------------------------------------------


def read_manifest(corpus_dir: str | os.PathLike) -> dict[str, Any]:
    """The corpus manifest; :class:`CorpusError` naming the file when missing or invalid."""
    path = Path(corpus_dir) / "manifest.json"
    if not path.is_file():
        raise CorpusError(f"{path} is missing: {corpus_dir} is not a complete corpus (run collect_corpus)")
    manifest = read_json_file(path, CorpusError)
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") not in _READABLE_VERSIONS
            or not isinstance(manifest.get("shards"), list)):
        raise CorpusError(f"{path} is not a {FORMAT} manifest of version {' or '.join(map(str, _READABLE_VERSIONS))}")
    return manifest


def _read_shard(corpus_dir: str | os.PathLike, entry: dict[str, Any], first_group: int) -> Corpus:
    path = Path(corpus_dir) / entry["file"]
    data = read_verified_shard(path, entry, "corpus shard", CorpusError)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        frames, captions, labels = npz["frames"], npz["captions"], npz["labels"].tolist()
        # Version 1: one caption per frame and no twins.
        groups = npz["groups"] if "groups" in npz.files else np.arange(first_group, first_group + len(frames), dtype=np.int64)
    if captions.ndim == 1:
        captions = captions[:, None]
    if len(frames) != entry["frames"] or not len(captions) == len(labels) == len(groups) == len(frames):
        raise CorpusError(f"corpus shard {path} holds {len(frames)} frames, manifest says {entry['frames']}")
    return Corpus(frames, captions, labels, groups)


def load_shard(corpus_dir: str | os.PathLike, entry: dict[str, Any]) -> tuple[np.ndarray, list[str], list[str]]:
    """(frames, captions, labels) of one manifest shard entry, verified against the manifest;
    ``captions`` holds each frame's first (descriptive) caption."""
    shard = _read_shard(corpus_dir, entry, 0)
    return shard.frames, shard.captions[:, 0].tolist(), shard.labels


def read_corpus(corpus_dir: str | os.PathLike, domains: Sequence[str] | None = None) -> Corpus:
    """The whole corpus (or the shards of ``domains``), in manifest order, every caption included."""
    manifest = read_manifest(corpus_dir)
    parts: list[Corpus] = []
    next_group = 0
    for entry in manifest["shards"]:
        if domains is not None and entry["domain"] not in domains:
            continue
        part = _read_shard(corpus_dir, entry, next_group)
        parts.append(part)
        next_group = int(part.groups.max()) + 1 if len(part.groups) else next_group
    if not parts:
        raise CorpusError(f"corpus {corpus_dir} has no frames for domains={domains!r}")
    width = max(p.captions.shape[1] for p in parts)
    captions = np.concatenate([np.concatenate([p.captions] * -(-width // p.captions.shape[1]), axis=1)[:, :width] for p in parts])
    return Corpus(np.concatenate([p.frames for p in parts]), captions, [lab for p in parts for lab in p.labels],
                  np.concatenate([p.groups for p in parts]))


def load_corpus(corpus_dir: str | os.PathLike, domains: Sequence[str] | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """All frames (uint8 N x S x S x 3), first captions and labels of a corpus, in manifest order
    (:func:`read_corpus` gives every caption and the twin groups)."""
    corpus = read_corpus(corpus_dir, domains)
    return corpus.frames, corpus.captions[:, 0].tolist(), corpus.labels


def __getattr__(name: str) -> Any:
    # CORPUS_DOMAINS follows the domain registry, so a domain registered later is included.
    if name == "CORPUS_DOMAINS":
        return corpus_domains()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
