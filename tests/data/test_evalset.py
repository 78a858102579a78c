import shutil

import numpy as np
import pytest

from vlm_rewards.data import EvalSetError, collect_evalset, load_evalset, read_evalset_manifest
from vlm_rewards.data.evalset import babyai_labels, house_labels, section_goals

SECTIONS = ("phone:common", "babyai", "house:find")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return collect_evalset(tmp_path_factory.mktemp("evalset"), sections=SECTIONS, frames=40, heldout_frames=24,
                           seed=3, shard_size=16)


def test_layout_labels_and_metadata(dataset):
    manifest = read_evalset_manifest(dataset)
    assert manifest["num_frames"] == 3 * (40 + 24) and manifest["image_size"] == 64
    ds = load_evalset(dataset)
    assert list(ds.sections) == list(SECTIONS) and ds.num_frames == manifest["num_frames"]
    for name, sec in ds.sections.items():
        goals, splits = section_goals(name)
        assert list(sec.goals) == goals and list(sec.goal_splits) == splits
        assert set(sec.split_goals("train")).isdisjoint(sec.split_goals("heldout"))
        for split, n in (("train", 40), ("heldout", 24)):
            d = sec.splits[split]
            assert d.frames.shape == (n, 64, 64, 3) and d.frames.dtype == np.uint8
            assert d.labels.shape == (n, len(goals)) and d.labels.dtype == bool
            assert len(d.episode) == len(d.step) == len(d.policy) == len(d.pursued) == n
            assert (np.diff(d.episode) >= 0).all()  # episodes in order
            # every episode pursued a goal of its own split
            assert {sec.goal_splits[i] for i in d.pursued} == {split}
            assert d.policy.max() < len(sec.policies)
    phone = ds.sections["phone:common"].splits["train"]
    # at most one app is in the foreground; the dataset has positives and home-screen frames
    assert phone.labels.sum(1).max() == 1 and phone.labels.any() and not phone.labels.all(1).any()


def test_same_seed_same_bytes(dataset, tmp_path):
    again = collect_evalset(tmp_path / "again", sections=SECTIONS, frames=40, heldout_frames=24, seed=3, shard_size=16)
    for entry in read_evalset_manifest(dataset)["shards"]:
        assert (again / entry["file"]).read_bytes() == (dataset / entry["file"]).read_bytes()
    other = collect_evalset(tmp_path / "other", sections=("phone:common",), frames=40, heldout_frames=24, seed=4, shard_size=16)
    assert (other / "phone-common-train-00000.npz").read_bytes() != (dataset / "phone-common-train-00000.npz").read_bytes()


def test_labels_agree_with_the_envs_ground_truth():
    from vlm_rewards.envs import babyai, house

    env = house.HouseEnv(family="find", render_mode=None)
    goal = house.parse_goal("go near the yellow box")
    seen = set()
    obs, info = env.reset(seed=2, options={"goal": goal.text})
    solver = house.make_solver(env)
    for _ in range(250):
        obs, _, terminated, truncated, info = env.step(solver(obs))
        assert house_labels(env, [goal])[0] == info["ground_truth_success"]
        seen.add(info["ground_truth_success"])
        if terminated or truncated:
            break
    assert seen == {False, True}
    # an object not in the house is never reached
    absent = next(n for n in house.OBJECTS if n not in env.objects)
    assert not house_labels(env, [house.parse_goal(f"go near the {absent}")])[0]

    benv = babyai.BabyAIEnv(render_mode=None)
    obs, info = benv.reset(seed=0, options={"goal": "go to the red key"})
    solver = babyai.make_solver(benv)
    for _ in range(64):
        obs, _, terminated, truncated, info = benv.step(solver(obs))
        assert babyai_labels(benv.level_env, [("red", "key")])[0] == info["ground_truth_success"]
        if terminated or truncated:
            break
    assert info["ground_truth_success"]


def test_truncated_missing_and_altered_shards_are_named(dataset, tmp_path):
    copy = shutil.copytree(dataset, tmp_path / "copy")
    entry = read_evalset_manifest(copy)["shards"][2]
    data = (copy / entry["file"]).read_bytes()
    (copy / entry["file"]).write_bytes(data[: len(data) // 2])
    with pytest.raises(EvalSetError, match=f"{entry['file']}.*truncated"):
        load_evalset(copy)
    (copy / entry["file"]).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(EvalSetError, match=f"{entry['file']}.*SHA-256"):
        load_evalset(copy)
    (copy / entry["file"]).unlink()
    with pytest.raises(EvalSetError, match=f"{entry['file']} is missing"):
        load_evalset(copy)


def test_missing_dataset_and_bad_arguments(dataset, tmp_path):
    with pytest.raises(EvalSetError, match="does not exist"):
        load_evalset(tmp_path / "nowhere")
    with pytest.raises(EvalSetError, match="manifest.json"):
        load_evalset(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(EvalSetError, match="manifest.json"):
        load_evalset(tmp_path)
    with pytest.raises(EvalSetError, match="no section 'phone:diverse'"):
        load_evalset(dataset, sections=["phone:diverse"])
    with pytest.raises(ValueError, match="sections"):
        collect_evalset(tmp_path / "x", sections=("mars",))
    with pytest.raises(TypeError, match="sections"):
        collect_evalset(tmp_path / "x", sections="phone:common")
    with pytest.raises(ValueError, match="frames"):
        collect_evalset(tmp_path / "x", frames=0)
