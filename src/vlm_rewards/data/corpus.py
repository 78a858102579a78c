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
(:data:`vlm_rewards.envs.house_goals.HELDOUT_OBJECTS`), which the corpus does name: the two
hold-outs measure different things (unseen goals vs unseen compositions).

On disk: ``manifest.json`` plus shards ``{domain}-{index:05d}.npz`` holding ``frames``
(uint8, N x S x S x 3), ``captions`` and ``labels`` (the state a caption came from, e.g.
``phone:app:calendar``: frames with equal labels show the same thing, so pre-training treats
them as positives of each other even when their caption templates differ). Shards are written deterministically (fixed
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

import hashlib
import io
import math
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlm_rewards.io import atomic_write_bytes, atomic_write_json, read_json_file, read_verified_shard

__all__ = [
    "COMPOSITIONAL_HOLDOUT",
    "CORPUS_DOMAINS",
    "DEFAULT_DOMAINS",
    "CorpusError",
    "collect_corpus",
    "load_corpus",
    "load_shard",
    "read_manifest",
]

FORMAT = "vlm_rewards.corpus"
VERSION = 1
CORPUS_DOMAINS: tuple[str, ...] = ("phone", "babyai", "house")
DEFAULT_DOMAINS: tuple[str, ...] = ("phone", "babyai")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

#: Colour-object combinations no caption ever names (see the module docstring). One per
#: kind and colour, each colour and kind still named in other combinations; none is a
#: held-out goal object of the agent, and all are House training-goal objects.
COMPOSITIONAL_HOLDOUT: frozenset[str] = frozenset({"yellow ball", "grey key", "green box"})
_COLOURED_KINDS = ("ball", "box", "key")

Sample = tuple[np.ndarray, str, str]  # frame, caption, label


class CorpusError(ValueError):
    """A corpus directory is missing, incomplete or corrupted (the message names the file)."""


# --- Domains -------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _join(things: Sequence[str]) -> str:
    if len(things) == 1:
        return things[0]
    return ", ".join(things[:-1]) + " and " + things[-1]


_APP_CAPTIONS = (
    "the {a} app open on a phone",
    "a phone showing the {a} app",
    "the {a} app is open",
    "{a} app screen",
    "a screenshot of the {a} app",
    "the {a} app",
    "the phone has the {a} app open",
)
_HOME_CAPTIONS = (
    "a phone home screen with app icons",
    "the phone launcher showing app icons",
    "home screen page {p} of a phone",
    "a grid of app icons on a phone",
    "the launcher of a phone",
)


def phone_caption(foreground: str, page: int, rng: np.random.Generator) -> tuple[str, str]:
    """(caption, label) for a phone frame with ``foreground`` ("home" or an app key) on ``page``."""
    if foreground == "home":
        return _pick(rng, _HOME_CAPTIONS).format(p=page + 1), "phone:home"
    return _pick(rng, _APP_CAPTIONS).format(a=foreground), f"phone:app:{foreground}"


def _phone_samples(rng: np.random.Generator, image_size: int, holdout: frozenset[str]) -> Iterator[Sample]:
    del holdout  # app names carry no colour-object combinations
    from vlm_rewards.envs import phone

    env = phone.PhoneEnv(goal_set="diverse", goal_split="all", render_mode="rgb_array", render_size=image_size)
    all_goals = phone.goals("all", goal_set="diverse")
    n_cells = phone.N_TAP_CELLS
    while True:
        obs, info = env.reset(seed=int(rng.integers(2**31)), options={"goal": _pick(rng, all_goals)})
        policy = _pick(rng, ("random", "explore", "explore", "solver"))
        solver = phone.make_solver(env)
        yield (env.render(), *phone_caption(info["foreground"], info["page"], rng))
        for _ in range(int(rng.integers(4, 16))):
            if policy == "solver":
                action = solver(obs)
            elif policy == "random":
                action = int(rng.integers(env.action_space.n))
            elif info["foreground"] == "home":  # explore: open apps, turn pages
                action = int(rng.integers(n_cells)) if rng.random() < 0.7 else _pick(rng, (phone.SWIPE_LEFT, phone.SWIPE_RIGHT))
            else:
                action = phone.BACK if rng.random() < 0.5 else phone.HOME
            obs, _, terminated, truncated, info = env.step(action)
            yield (env.render(), *phone_caption(info["foreground"], info["page"], rng))
            if terminated or truncated:
                break


def babyai_caption(level_env: Any, rng: np.random.Generator, holdout: Iterable[str] = ()) -> tuple[str, str]:
    """(caption, label) from a MiniGrid level's state: objects in the room, what the agent faces or carries.

    Objects named in ``holdout`` (e.g. "yellow ball") are never named; with an empty
    ``holdout`` the captions and random draws are those of corpus version 1.
    """
    holdout = frozenset(holdout)
    objects = []
    for obj in level_env.grid.grid:
        if obj is not None and obj.type in _COLOURED_KINDS and f"{obj.color} {obj.type}" not in holdout:
            objects.append(f"{obj.color} {obj.type}")
    carrying = getattr(level_env, "carrying", None)
    if carrying is not None and f"{carrying.color} {carrying.type}" not in holdout:
        name = f"{carrying.color} {carrying.type}"
        return _pick(rng, ("the agent carrying the {o}", "the agent holds the {o}")).format(o=name), f"babyai:carry:{name}"
    front = level_env.grid.get(*level_env.front_pos)
    if (front is not None and front.type in _COLOURED_KINDS and f"{front.color} {front.type}" not in holdout
            and rng.random() < 0.8):
        name = f"{front.color} {front.type}"
        text = _pick(rng, ("the agent next to the {o}", "the agent in front of the {o}", "the agent facing the {o}", "the agent at the {o}"))
        return text.format(o=name), f"babyai:near:{name}"
    objects = list(dict.fromkeys(objects))  # a room can hold two identical objects
    if not objects:
        return "an empty grid room", "babyai:room"
    k = int(rng.integers(1, min(4, len(objects)) + 1))
    chosen = [objects[i] for i in sorted(rng.choice(len(objects), size=k, replace=False))]
    start = _pick(rng, ("a grid with a {o}", "a grid room with a {o}", "a top-down grid world with a {o}"))
    return start.format(o=_join(chosen).replace(" and ", " and a ").replace(", ", ", a ")), "babyai:room:" + ",".join(chosen)


def _babyai_samples(rng: np.random.Generator, image_size: int, holdout: frozenset[str]) -> Iterator[Sample]:
    from vlm_rewards.envs import babyai

    env = babyai.BabyAIEnv(level="BabyAI-GoToLocal-v0", goal_split=None, render_size=image_size, render_mode="rgb_array")
    level = env.level_env
    while True:
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        policy = _pick(rng, ("random", "explore", "solver", "solver"))
        solver = babyai.make_solver(env)
        yield (env.render(), *babyai_caption(level, rng, holdout))
        for _ in range(int(rng.integers(4, 24))):
            if policy == "solver":
                action = solver(obs)
            elif policy == "random":
                action = int(rng.integers(3))  # left, right, forward
            else:
                action = 2 if rng.random() < 0.7 else int(rng.integers(2))
            obs, _, terminated, truncated, _ = env.step(action)
            yield (env.render(), *babyai_caption(level, rng, holdout))
            if terminated or truncated:
                break


def _a(name: str) -> str:
    return ("an " if name[0] in "aeiou" else "a ") + name


def _may_be_on_screen(env: Any, ent: Any) -> bool:
    """Whether any part of ``ent`` may show in the agent's view: a looser test than
    ``env.in_view`` (which wants the centre well inside the frame), widened by the
    object's size and passing when the centre or either side is in the line of sight."""
    from vlm_rewards.envs.house_nav import segments_cross_walls

    agent = env.agent
    fwd, right = agent.cam_dir, agent.right_vec
    up = np.cross(right, fwd)
    rel = ent.pos + np.array([0.0, ent.height / 2, 0.0]) - agent.cam_pos
    depth = float(rel @ fwd)
    extent = max(float(ent.radius), float(ent.height) / 2)
    if depth + extent <= 0.0:
        return False
    tan_y = math.tan(math.radians(agent.cam_fov_y) / 2)
    tan_x = tan_y * env.obs_fb.width / env.obs_fb.height
    d = max(depth, 1e-3)
    if abs(rel @ right) - extent > d * tan_x or abs(rel @ up) - extent > d * tan_y:
        return False
    side = right[[0, 2]] * ent.radius
    centre = ent.pos[[0, 2]]
    ends = (centre, centre + side, centre - side)
    return any(not segments_cross_walls(agent.cam_pos[None, [0, 2]], end, env.wall_segs)[0] for end in ends)


_HOUSE_CARRY = ("holding {o}", "the agent holds {o}", "carrying {o} in a house")
_HOUSE_NEAR = ("{o} up close", "close to {o}", "right in front of {o}", "{o} just ahead in a house")
_HOUSE_ROOM = ("{o} in a room", "a room with {o}", "a house room with {o}", "{o} in a house")
_HOUSE_EMPTY = ("an empty room in a house", "a wall of a room", "a room of a house with nothing in it")


def house_caption(env: Any, rng: np.random.Generator, holdout: Iterable[str] = ()) -> tuple[str, str] | None:
    """(caption, label) for a House frame from simulator state, or None to drop the frame.

    Names what the agent carries ("holding a yellow key"), else, usually, an object it is
    near ("a blue ball up close"), else up to three objects in view, nearest first ("a red
    box and a green key in a room"). Returns None when an object named in ``holdout`` may
    be on screen or is carried: such frames are left out of the corpus.
    """
    holdout = frozenset(holdout)
    carrying = getattr(env.agent, "carrying", None)
    if any(name in holdout and (ent is carrying or _may_be_on_screen(env, ent)) for name, ent in env.objects.items()):
        return None
    names = {id(ent): name for name, ent in env.objects.items()}
    if carrying is not None and id(carrying) in names:
        name = names[id(carrying)]
        return _pick(rng, _HOUSE_CARRY).format(o=_a(name)), f"house:carry:{name}"
    visible = [name for name, ent in env.objects.items() if env.in_view(ent)]
    near = [name for name in visible if env.is_near(env.objects[name])]
    if near and rng.random() < 0.8:
        name = _pick(rng, near)
        return _pick(rng, _HOUSE_NEAR).format(o=_a(name)), f"house:near:{name}"
    if not visible:
        return _pick(rng, _HOUSE_EMPTY), "house:room"
    dist = {name: float(np.linalg.norm(env.objects[name].pos - env.agent.pos)) for name in visible}
    chosen = sorted(visible, key=dist.__getitem__)[:3]
    text = _pick(rng, _HOUSE_ROOM).format(o=_join([_a(name) for name in chosen]))
    return text, "house:room:" + ",".join(sorted(chosen))


# Frames with no object in view are mostly walls and floors: keep this fraction of them,
# so that the House corpus is mostly about objects.
_HOUSE_KEEP_EMPTY = 0.3
# The solver spends most of an episode walking towards its goal, with objects far away or
# in its hands: keep this fraction of those frames, so that frames of one object up close
# (what a find reward has to recognise) are not a small minority of the corpus.
_HOUSE_KEEP_WALK = 0.25
_HOUSE_WALK_LABELS = ("house:room", "house:carry")


def _house_samples(rng: np.random.Generator, image_size: int, holdout: frozenset[str]) -> Iterator[Sample]:
    from vlm_rewards.envs import house
    from vlm_rewards.envs.house_solver import Explorer

    env = house.HouseEnv(goal_split="all", render_mode="rgb_array", render_size=image_size)
    # Scripted episodes head for their goal's objects: goals about held-out objects would
    # only yield frames that are dropped.
    episode_goals = [g for g in house.goals("all") if not set(house.parse_goal(g).objects) & holdout]

    def sample(policy: str) -> Sample | None:
        caption = house_caption(env, rng, holdout)
        if caption is None or (caption[1] == "house:room" and rng.random() >= _HOUSE_KEEP_EMPTY):
            return None
        if policy == "solver" and caption[1].startswith(_HOUSE_WALK_LABELS) and rng.random() >= _HOUSE_KEEP_WALK:
            return None
        return (env.render(), *caption)

    while True:
        obs, _ = env.reset(seed=int(rng.integers(2**31)), options={"goal": _pick(rng, episode_goals)})
        policy = _pick(rng, ("random", "explore", "solver", "solver"))
        solver = house.make_solver(env)
        explorer = Explorer(rng)
        # The solver needs up to ~200 steps; the others would mostly see walls by then.
        steps = 200 if policy == "solver" else int(rng.integers(8, 40))
        look_around = 0
        for t in range(steps + 1):
            if t:
                if look_around:  # after success: turn and step about the goal, mostly near objects
                    action = _pick(rng, (0, 1, 2, 3))
                    look_around -= 1
                elif policy == "solver":
                    action = solver(obs)
                elif policy == "random":
                    action = int(rng.integers(env.action_space.n))
                else:
                    action = explorer.act()
                before = env.agent.pos.copy()
                obs, _, terminated, truncated, _ = env.step(action)
                if policy == "explore":
                    explorer.observe(action, moved=not np.allclose(before, env.agent.pos))
                if truncated:
                    break
                if terminated and not look_around:
                    if policy != "solver" or not t:
                        break
                    look_around = int(rng.integers(6, 16))
            item = sample(policy)
            if item is not None:
                yield item
            if look_around == 0 and t and terminated:
                break


_SOURCES: dict[str, Callable[[np.random.Generator, int, frozenset[str]], Iterator[Sample]]] = {
    "phone": _phone_samples,
    "babyai": _babyai_samples,
    "house": _house_samples,
}


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
    from vlm_rewards.envs.house_goals import COLOURS

    valid = [f"{colour} {kind}" for kind in _COLOURED_KINDS for colour in COLOURS]
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
    frames_per_domain: int = 4096,
    seed: int = 0,
    image_size: int = 64,
    shard_size: int = 2048,
    progress: bool = False,
    holdout: Iterable[str] = COMPOSITIONAL_HOLDOUT,
) -> Path:
    """Render and caption ``frames_per_domain`` frames from each of ``domains`` into ``out_dir``.

    Deterministic: the same arguments give byte-identical shards. No caption names a
    colour-object combination of ``holdout`` (default :data:`COMPOSITIONAL_HOLDOUT`;
    recorded in the manifest). Returns ``out_dir``.

    Example:
        >>> collect_corpus("corpus", domains=("phone", "babyai"), frames_per_domain=256, seed=1)  # doctest: +SKIP
        PosixPath('corpus')
    """
    if isinstance(domains, str):
        raise TypeError(f"domains must be a sequence of domain names such as ('phone', 'babyai'), got the string {domains!r}")
    domains = list(domains)
    if not domains or any(d not in _SOURCES for d in domains) or len(set(domains)) != len(domains):
        raise ValueError(f"domains must be distinct names from {CORPUS_DOMAINS}, got {domains!r}")
    frames_per_domain = _check_int(frames_per_domain, "frames_per_domain", 1)
    seed = _check_int(seed, "seed", 0)
    image_size = _check_int(image_size, "image_size", 32, 1024)
    shard_size = _check_int(shard_size, "shard_size", 1)
    holdout = _check_holdout(holdout)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)  # the old corpus is invalid from here on

    shards: list[dict[str, Any]] = []
    bar = _progress(progress)
    with bar:
        for domain in domains:
            task = bar.add_task(f"corpus {domain}", total=frames_per_domain)
            # Each domain has its own stream, so adding a domain does not change the others.
            rng = np.random.default_rng([seed, zlib.crc32(domain.encode())])
            source = _SOURCES[domain](rng, image_size, holdout)
            done = 0
            while done < frames_per_domain:
                n = min(shard_size, frames_per_domain - done)
                frames, captions, labels = [], [], []
                for _ in range(n):
                    frame, caption, label = next(source)
                    if frame.shape != (image_size, image_size, 3):
                        raise RuntimeError(f"{domain} rendered a {frame.shape} frame, expected {(image_size, image_size, 3)}")
                    frames.append(frame)
                    captions.append(caption)
                    labels.append(label)
                    bar.advance(task)
                data = _npz_bytes({
                    "frames": np.stack(frames).astype(np.uint8),
                    "captions": np.array(captions, dtype=str),
                    "labels": np.array(labels, dtype=str),
                })
                name = f"{domain}-{len(shards):05d}.npz"
                atomic_write_bytes(out / name, data)
                shards.append({"file": name, "domain": domain, "frames": n, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
                done += n
    atomic_write_json(out / "manifest.json", {
        "format": FORMAT,
        "version": VERSION,
        "seed": seed,
        "image_size": image_size,
        "domains": {d: frames_per_domain for d in domains},
        "num_frames": frames_per_domain * len(domains),
        "holdout": sorted(holdout),
        "shards": shards,
    })
    return out


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
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION or not isinstance(manifest.get("shards"), list):
        raise CorpusError(f"{path} is not a {FORMAT} v{VERSION} manifest")
    return manifest


def load_shard(corpus_dir: str | os.PathLike, entry: dict[str, Any]) -> tuple[np.ndarray, list[str], list[str]]:
    """(frames, captions, labels) of one manifest shard entry, verified against the manifest."""
    path = Path(corpus_dir) / entry["file"]
    data = read_verified_shard(path, entry, "corpus shard", CorpusError)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        frames, captions, labels = npz["frames"], npz["captions"].tolist(), npz["labels"].tolist()
    if len(frames) != entry["frames"] or len(captions) != len(frames):
        raise CorpusError(f"corpus shard {path} holds {len(frames)} frames, manifest says {entry['frames']}")
    return frames, captions, labels


def load_corpus(corpus_dir: str | os.PathLike, domains: Sequence[str] | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """All frames (uint8 N x S x S x 3), captions and labels of a corpus, in manifest order."""
    manifest = read_manifest(corpus_dir)
    frames, captions, labels = [], [], []
    for entry in manifest["shards"]:
        if domains is not None and entry["domain"] not in domains:
            continue
        f, c, lab = load_shard(corpus_dir, entry)
        frames.append(f)
        captions += c
        labels += lab
    if not frames:
        raise CorpusError(f"corpus {corpus_dir} has no frames for domains={domains!r}")
    return np.concatenate(frames), captions, labels
