import numpy as np
import pytest

from vlm_rewards.data import CorpusError, collect_corpus, load_corpus, load_shard, read_manifest
from vlm_rewards.data.corpus import babyai_caption, phone_caption


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return collect_corpus(tmp_path_factory.mktemp("corpus"), domains=("phone", "babyai"), frames_per_domain=96, seed=3, shard_size=40)


def test_manifest_describes_shards(corpus):
    manifest = read_manifest(corpus)
    assert manifest["num_frames"] == 192 and manifest["image_size"] == 64
    assert [s["frames"] for s in manifest["shards"] if s["domain"] == "phone"] == [40, 40, 16]
    frames, captions, labels = load_corpus(corpus)
    assert frames.shape == (192, 64, 64, 3) and frames.dtype == np.uint8
    assert len(captions) == len(labels) == 192 and all(isinstance(c, str) and c for c in captions)
    # Frames differ (the policies move through states) and captions follow the state.
    assert len({f.tobytes() for f in frames}) > 20
    for caption, label in zip(captions, labels):
        if label.startswith("phone:app:"):
            assert label.split(":")[-1] in caption
        if label.startswith("babyai:near:"):
            assert label.split(":")[-1] in caption
    assert any(lab.startswith("phone:app:") for lab in labels) and any(lab == "phone:home" for lab in labels)


def test_same_seed_gives_identical_shards(corpus, tmp_path):
    again = collect_corpus(tmp_path / "again", domains=("phone", "babyai"), frames_per_domain=96, seed=3, shard_size=40)
    for entry in read_manifest(corpus)["shards"]:
        assert (again / entry["file"]).read_bytes() == (corpus / entry["file"]).read_bytes()
    other = collect_corpus(tmp_path / "other", domains=("phone",), frames_per_domain=40, seed=4, shard_size=40)
    assert (other / "phone-00000.npz").read_bytes() != (corpus / "phone-00000.npz").read_bytes()


def test_counts_per_domain_extend_each_domains_stream(corpus, tmp_path):
    # Each domain's frames are a prefix of one stream: asking phone for fewer frames and
    # babyai for more keeps the frames both corpora share.
    mixed = collect_corpus(tmp_path / "mixed", domains=("phone", "babyai"), frames_per_domain={"phone": 40, "babyai": 120},
                           seed=3, shard_size=40)
    manifest = read_manifest(mixed)
    assert manifest["domains"] == {"phone": 40, "babyai": 120} and manifest["num_frames"] == 160
    frames, captions, labels = load_corpus(mixed)
    ref_frames, ref_captions, ref_labels = load_corpus(corpus)
    assert np.array_equal(frames[:40], ref_frames[:40]) and labels[:40] == ref_labels[:40]
    assert np.array_equal(frames[40:136], ref_frames[96:]) and captions[40:136] == ref_captions[96:]
    with pytest.raises(ValueError, match="frames_per_domain"):
        collect_corpus(tmp_path / "x", domains=("phone", "babyai"), frames_per_domain={"phone": 4})
    with pytest.raises(ValueError, match=r"frames_per_domain\['phone'\]"):
        collect_corpus(tmp_path / "x", domains=("phone",), frames_per_domain={"phone": 0})


def test_truncated_shard_is_named(corpus, tmp_path):
    import shutil

    copy = shutil.copytree(corpus, tmp_path / "copy")
    entry = read_manifest(copy)["shards"][1]
    data = (copy / entry["file"]).read_bytes()
    (copy / entry["file"]).write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match=entry["file"]):
        load_corpus(copy)
    (copy / entry["file"]).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(CorpusError, match=f"{entry['file']}.*SHA-256"):
        load_shard(copy, entry)


def test_missing_manifest_and_bad_arguments(tmp_path):
    with pytest.raises(CorpusError, match="manifest.json"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CorpusError, match="manifest.json"):
        read_manifest(tmp_path)
    with pytest.raises(ValueError, match="domains"):
        collect_corpus(tmp_path / "x", domains=("mars",))
    with pytest.raises(TypeError, match="domains"):
        collect_corpus(tmp_path / "x", domains="phone")
    with pytest.raises(ValueError, match="frames_per_domain"):
        collect_corpus(tmp_path / "x", frames_per_domain=0)


def test_phone_corpus_covers_heldout_apps(tmp_path):
    # Goals are held out from the agent, not from the reward model: held-out apps' screens
    # must appear with captions naming them.
    from vlm_rewards.envs.phone import goal_apps

    out = collect_corpus(tmp_path, domains=("phone",), frames_per_domain=1500, seed=0)
    _, captions, labels = load_corpus(out)
    seen = {lab.split(":")[-1] for lab in labels if lab.startswith("phone:app:")}
    heldout = set(goal_apps("heldout", "diverse"))
    assert len(heldout & seen) >= len(heldout) - 2


def test_captions_from_state():
    rng = np.random.default_rng(0)
    assert phone_caption("calendar", 0, rng) == (phone_caption("calendar", 0, np.random.default_rng(0))[0], "phone:app:calendar")
    text, label = phone_caption("home", 1, rng)
    assert label == "phone:home" and "app" not in text.replace("app icons", "")
    from vlm_rewards.envs.babyai import BabyAIEnv

    env = BabyAIEnv(render_mode="rgb_array", render_size=64, goal_split=None)
    env.reset(seed=0)
    text, label = babyai_caption(env.level_env, rng)
    objects = {f"{o.color} {o.type}" for o in env.level_env.grid.grid if o is not None and o.type in ("ball", "box", "key")}
    named = label.split(":", 2)[-1].split(",") if label.startswith("babyai:room:") else [label.split(":")[-1]]
    assert set(named) <= objects and all(n in text for n in named)


def test_house_frames_are_captioned_from_state(tmp_path):
    out = collect_corpus(tmp_path, domains=("house",), frames_per_domain=40, seed=0)
    frames, captions, labels = load_corpus(out)
    assert frames.shape == (40, 64, 64, 3)
    for caption, label in zip(captions, labels):
        kind, *rest = label.split(":")[1:]
        assert kind in ("room", "near", "carry")
        for name in ",".join(rest).split(","):
            assert name in caption


def _names_holdout(caption):
    import re

    from vlm_rewards.data import COMPOSITIONAL_HOLDOUT

    return any(re.search(rf"\b{combo}\b", caption) for combo in COMPOSITIONAL_HOLDOUT)


@pytest.fixture(scope="module")
def house_corpus(tmp_path_factory):
    return collect_corpus(tmp_path_factory.mktemp("house"), domains=("house", "babyai"), frames_per_domain=300, seed=1, shard_size=128)


def test_compositional_holdout_is_never_named(house_corpus):
    from vlm_rewards.data import COMPOSITIONAL_HOLDOUT
    from vlm_rewards.envs.house.vocabulary import HELDOUT_OBJECTS

    assert read_manifest(house_corpus)["holdout"] == sorted(COMPOSITIONAL_HOLDOUT)
    assert not COMPOSITIONAL_HOLDOUT & HELDOUT_OBJECTS  # documented: disjoint from the agent's held-out goals
    _, captions, labels = load_corpus(house_corpus)
    assert not [c for c in captions if _names_holdout(c)]
    assert not [lab for lab in labels if any(combo in lab for combo in COMPOSITIONAL_HOLDOUT)]
    # Every colour and kind of the hold-out is still named, in other combinations.
    text = " ".join(captions)
    for combo in COMPOSITIONAL_HOLDOUT:
        assert all(word in text for word in combo.split())
    house = [(c, lab) for c, lab in zip(captions, labels) if lab.startswith("house:")]
    kinds = {lab.split(":")[1] for _, lab in house}
    assert kinds == {"room", "near", "carry"}


def test_house_corpus_is_mostly_objects_up_close_or_in_view(house_corpus):
    # The re-mix keeps a quarter of the solver's walking frames: frames of one object up
    # close, which a find reward has to recognise, are no longer a small minority.
    _, _, labels = load_corpus(house_corpus)
    kinds = [lab.split(":")[1] for lab in labels if lab.startswith("house:")]
    assert len(kinds) == 300
    assert kinds.count("near") / len(kinds) >= 0.25
    assert kinds.count("room") / len(kinds) >= 0.25


def test_explorer_turns_away_from_walls_deterministically():
    from vlm_rewards.envs.house.solver import Explorer

    a, b = Explorer(np.random.default_rng(3)), Explorer(np.random.default_rng(3))
    actions = []
    for t in range(300):
        action = a.act()
        assert action == b.act() and action in (0, 1, 2)
        a.observe(action, moved=t % 5 != 0)
        b.observe(action, moved=t % 5 != 0)
        actions.append(action)
    assert actions.count(2) > 100 and {0, 1} <= set(actions)
    e = Explorer(np.random.default_rng(0))
    e.observe(2, moved=False)  # bumped into a wall: turn one way until released
    turn = e.act()
    assert turn in (0, 1)
    while e.blocked:
        assert e.act() == turn
        e.observe(turn, moved=False)


def test_house_corpus_is_deterministic(house_corpus, tmp_path):
    again = collect_corpus(tmp_path, domains=("house",), frames_per_domain=300, seed=1, shard_size=128)
    for entry in read_manifest(again)["shards"]:
        assert (again / entry["file"]).read_bytes() == (house_corpus / entry["file"]).read_bytes()


def test_house_caption_drops_frames_showing_a_held_out_object():
    from vlm_rewards.data.corpus import house_caption
    from vlm_rewards.envs.house.env import HouseEnv

    env = HouseEnv(render_mode="rgb_array", render_size=64, goal="go near the yellow ball", num_rooms=(2, 2))
    rng = np.random.default_rng(0)
    dropped = kept = named = 0
    for seed in range(3):
        env.reset(seed=seed)
        ball = env.objects["yellow ball"]
        for _ in range(18):  # a full turn: the ball (if in this room) comes into view and leaves it
            caption = house_caption(env, rng, holdout={"yellow ball"})
            if env.in_view(ball):
                assert caption is None
                dropped += 1
                # Without a hold-out the same frame may name it.
                named += "yellow ball" in " ".join(house_caption(env, np.random.default_rng(1)))
            elif caption is not None:
                kept += 1
                assert "yellow ball" not in caption[0] + caption[1]
            env.step(0)
    assert dropped and kept and named


def test_babyai_caption_never_names_holdout():
    from vlm_rewards.envs.babyai import BabyAIEnv

    env = BabyAIEnv(render_mode="rgb_array", render_size=64, goal_split=None)
    for seed in range(20):
        env.reset(seed=seed)
        objects = {f"{o.color} {o.type}" for o in env.level_env.grid.grid if o is not None and o.type in ("ball", "box", "key")}
        holdout = set(list(sorted(objects))[:3])
        for k in range(5):
            text, label = babyai_caption(env.level_env, np.random.default_rng(k), holdout)
            assert not any(h in text or h in label for h in holdout)


def test_bad_holdout(tmp_path):
    with pytest.raises(ValueError, match="holdout"):
        collect_corpus(tmp_path, domains=("phone",), frames_per_domain=1, holdout={"pink unicorn"})
    with pytest.raises(TypeError, match="holdout"):
        collect_corpus(tmp_path, domains=("phone",), frames_per_domain=1, holdout="yellow ball")


def test_every_frame_has_captions_in_three_styles(corpus):
    from vlm_rewards.data.corpus import CAPTIONS_PER_FRAME, read_corpus

    full = read_corpus(corpus)
    assert full.captions.shape == (192, CAPTIONS_PER_FRAME) == (192, 3)
    assert read_manifest(corpus)["captions_per_frame"] == 3
    apps = [i for i, lab in enumerate(full.labels) if lab.startswith("phone:app:")]
    for i in apps:
        app = full.labels[i].split(":")[-1]
        descriptive, web, instruction = full.captions[i]
        assert all(app in c for c in (descriptive, web, instruction))
        assert "screenshot" in web or "android" in web
        assert instruction.split()[0] in ("open", "launch", "go", "start")
    # load_corpus keeps its one-caption view: the descriptive caption.
    assert load_corpus(corpus)[1] == full.captions[:, 0].tolist()


def test_phone_twins_show_another_app_in_the_same_scene(corpus):
    from vlm_rewards.data import read_corpus

    full = read_corpus(corpus)
    g = full.groups
    assert np.all(np.diff(g) >= 0)  # ids grow along the stream: a twin follows its frame
    twins = [i for i in range(1, len(g)) if g[i] == g[i - 1]]
    phone_twins = [i for i in twins if full.labels[i].startswith("phone:app:")]
    assert phone_twins, "some phone frames must have a twin"
    for i in phone_twins:
        a, b = full.labels[i - 1].split(":")[-1], full.labels[i].split(":")[-1]
        assert a != b and full.labels[i - 1].startswith("phone:app:")
        assert not np.array_equal(full.frames[i - 1], full.frames[i])
        assert all(b in c for c in full.captions[i])


def test_house_twins_change_one_attribute_of_one_object(house_corpus):
    from vlm_rewards.data import COMPOSITIONAL_HOLDOUT, read_corpus
    from vlm_rewards.envs.house.vocabulary import OBJECTS

    full = read_corpus(house_corpus)
    g = full.groups
    twins = [i for i in range(1, len(g)) if g[i] == g[i - 1] and full.labels[i].startswith("house:")]
    assert len(twins) >= 10
    for i in twins:
        kind_a, name_a = full.labels[i - 1].split(":")[1:]
        kind_b, name_b = full.labels[i].split(":")[1:]
        assert kind_a == kind_b and kind_a in ("near", "carry")
        a, b = OBJECTS[name_a], OBJECTS[name_b]
        assert name_a != name_b and (a.colour == b.colour) != (a.kind == b.kind)  # exactly one attribute differs
        assert b.liftable and name_b not in COMPOSITIONAL_HOLDOUT
        assert not np.array_equal(full.frames[i - 1], full.frames[i])


def test_version_1_corpus_still_loads(corpus, tmp_path):
    import hashlib
    import io
    import json
    import shutil

    from vlm_rewards.data import read_corpus
    from vlm_rewards.data.corpus import _npz_bytes

    copy = shutil.copytree(corpus, tmp_path / "v1")
    manifest = json.loads((copy / "manifest.json").read_text())
    for entry in manifest["shards"]:
        with np.load(io.BytesIO((copy / entry["file"]).read_bytes())) as npz:
            data = _npz_bytes({"frames": npz["frames"], "captions": npz["captions"][:, 0], "labels": npz["labels"]})
        (copy / entry["file"]).write_bytes(data)
        entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest["version"] = 1
    del manifest["captions_per_frame"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    old = read_corpus(copy)
    assert old.captions.shape == (192, 1) and list(old.groups) == list(range(192))
    assert old.captions[:, 0].tolist() == read_corpus(corpus).captions[:, 0].tolist()


def test_phone_icon_close_ups_name_their_app(corpus):
    from vlm_rewards.data import read_corpus
    from vlm_rewards.envs.phone import PhoneEnv

    full = read_corpus(corpus)
    icons = [i for i, lab in enumerate(full.labels) if lab.startswith("phone:icon:")]
    assert icons
    for i in icons:
        app = full.labels[i].split(":")[-1]
        assert all(app in c for c in full.captions[i]) and all("icon" in c or "tap" in c for c in full.captions[i])
    # The crop is the env's own region crop: the icon's cell, not the whole screen.
    env = PhoneEnv(apps="diverse", render_mode="rgb_array", render_size=64)
    env.reset(seed=0)
    crops = env.region_crops(64)
    apps = env.cell_apps()
    assert crops.shape == (24, 64, 64, 3) and len(apps) == 24 and apps[0] is not None
    assert len({c.tobytes() for c, a in zip(crops, apps) if a is not None}) == sum(a is not None for a in apps)


def test_workers_build_the_same_bytes(corpus, tmp_path):
    # Domains side by side: the corpus of one process, byte for byte.
    pooled = collect_corpus(tmp_path / "pooled", domains=("phone", "babyai"), frames_per_domain=96, seed=3, shard_size=40,
                            workers=2)
    assert (pooled / "manifest.json").read_bytes() == (corpus / "manifest.json").read_bytes()
    # Shard streams: the bytes do not depend on the worker count, and the manifest says so.
    one = collect_corpus(tmp_path / "one", domains=("phone", "babyai"), frames_per_domain=96, seed=3, shard_size=40,
                         streams="shard")
    three = collect_corpus(tmp_path / "three", domains=("phone", "babyai"), frames_per_domain=96, seed=3, shard_size=40,
                           streams="shard", workers=3)
    manifest = read_manifest(three)
    assert manifest["streams"] == "shard" and "streams" not in read_manifest(corpus)
    assert (one / "manifest.json").read_bytes() == (three / "manifest.json").read_bytes()
    # Each shard restarts its stream, so the later shards differ from the one-stream corpus...
    assert (three / "phone-00001.npz").read_bytes() != (corpus / "phone-00001.npz").read_bytes()
    # ...and group ids stay corpus-wide: no two shards share one.
    from vlm_rewards.data import read_corpus

    groups = read_corpus(three).groups
    assert np.all(np.diff(groups) >= 0) and groups[0] == 0
    per_shard = np.split(groups, np.cumsum([s["frames"] for s in manifest["shards"]])[:-1])
    assert all(a.max() < b.min() for a, b in zip(per_shard, per_shard[1:]))
    with pytest.raises(ValueError, match="streams"):
        collect_corpus(tmp_path / "x", domains=("phone",), streams="frame")
    with pytest.raises(ValueError, match="workers"):
        collect_corpus(tmp_path / "x", domains=("phone",), workers=0)
