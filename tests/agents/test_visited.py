"""Frames a trained agent visits, labelled by ground truth, as a calibration set (vlm_rewards.agents.visited)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "trained_agents"


def _frames(n: int, goals: int, size: int = 32, policy: int = 0):
    from vlm_rewards.envs._sampling import LabelledFrame

    rng = np.random.default_rng(n)
    return [LabelledFrame(rng.integers(0, 255, (size, size, 3), dtype=np.uint8), rng.random(goals) < 0.2, i // 3, i % 3,
                          policy, i % goals) for i in range(n)]


def test_write_evalset_round_trips_and_names_bad_input(tmp_path):
    from vlm_rewards.data import load_evalset, write_evalset
    from vlm_rewards.data.evalset import section_goals

    goals, _ = section_goals("phone:common")
    frames = {"train": _frames(5, len(goals)), "heldout": _frames(3, len(goals))}
    out = write_evalset(tmp_path / "set", "phone:common", ["agent"], frames, seed=1, image_size=32, shard_size=2)
    split = load_evalset(out).sections["phone:common"].splits["train"]
    assert len(split) == 5 and np.array_equal(split.frames[4], frames["train"][4].frame)
    assert np.array_equal(split.labels, np.stack([f.labels for f in frames["train"]]))
    assert split.pursued.tolist() == [f.pursued for f in frames["train"]]
    with pytest.raises(ValueError, match="frames must hold frames for each split"):
        write_evalset(tmp_path / "x", "phone:common", ["agent"], {"train": frames["train"]}, seed=1, image_size=32)
    with pytest.raises(ValueError, match="labels of shape"):
        write_evalset(tmp_path / "x", "phone:common", ["agent"], {"train": _frames(2, 3), "heldout": frames["heldout"]},
                      seed=1, image_size=32)
    with pytest.raises(ValueError, match="policy index 1"):
        write_evalset(tmp_path / "x", "phone:common", ["agent"],
                      {"train": _frames(2, len(goals), policy=1), "heldout": frames["heldout"]}, seed=1, image_size=32)
    with pytest.raises(ValueError, match="sections must name"):
        write_evalset(tmp_path / "x", "phone:nope", ["agent"], frames, seed=1, image_size=32)


def test_visited_frames_carry_the_envs_ground_truth(tmp_path):
    """The frames of an episode are labelled as the env judged it: an episode that reached its
    goal has a frame positive for that goal, one that did not has none."""
    from vlm_rewards.agents.rollouts import evaluate_run
    from vlm_rewards.agents.visited import VISITED_POLICY, collect_visited
    from vlm_rewards.data import load_evalset

    run = shutil.copytree(SHIPPED / "phone_common_region", tmp_path / "run")
    out = collect_visited(run, tmp_path / "visited", episodes=6, heldout_episodes=3, seed=31_000)
    section = load_evalset(out).sections["phone:common"]
    assert section.policies == (VISITED_POLICY,)
    train = section.splits["train"]
    train_goals = set(section.split_goals("train"))
    assert {section.goals[i] for i in train.pursued} <= train_goals
    assert {section.goals[i] for i in section.splits["heldout"].pursued} <= set(section.split_goals("heldout"))
    # The same episodes through eval-agent: its ground-truth success per episode.
    result = evaluate_run(run, episodes=6, split="train", seed=31_000)
    reached = {e.seed - 31_000: e.gt_success for e in result.episodes}
    assert set(train.episode.tolist()) == set(reached)
    for episode, success in reached.items():
        rows = train.episode == episode
        pursued = int(train.pursued[rows][0])
        assert bool(train.labels[rows, pursued].any()) == bool(success), episode
        assert train.step[rows].tolist() == list(range(rows.sum()))  # every scored frame, from the reset on
    assert any(reached.values())


def test_collect_visited_names_a_missing_run(tmp_path):
    from vlm_rewards.agents.visited import collect_visited

    with pytest.raises(ValueError, match="not a training run"):
        collect_visited(tmp_path, tmp_path / "out", episodes=1)
    with pytest.raises(ValueError, match="episodes must be"):
        collect_visited(tmp_path, tmp_path / "out", episodes=0)


def test_cli_collect_visited_writes_a_calibration_set_and_names_bad_runs(tmp_path):
    from typer.testing import CliRunner

    from vlm_rewards.cli import app
    from vlm_rewards.data import read_evalset_manifest

    runner = CliRunner()
    bad = runner.invoke(app, ["collect-visited", str(tmp_path), str(tmp_path / "out")])
    assert bad.exit_code != 0 and "not a training run" in bad.output
    run = shutil.copytree(SHIPPED / "phone_common_region", tmp_path / "run")
    ok = runner.invoke(app, ["collect-visited", str(run), str(tmp_path / "set"), "--episodes", "3", "--heldout-episodes", "2"])
    assert ok.exit_code == 0, ok.output
    manifest = read_evalset_manifest(tmp_path / "set")
    assert manifest["section_order"] == ["phone:common"] and manifest["sections"]["phone:common"]["policies"] == ["agent"]
    assert str(manifest["num_frames"]) in ok.output


def test_run_section_reads_the_envs_default_goal_set():
    from vlm_rewards.agents.config import TrainConfig
    from vlm_rewards.agents.visited import run_section

    def config(env_id, **kwargs):
        return TrainConfig.model_validate({"env": {"id": env_id, "kwargs": kwargs}})

    assert run_section(config("vlm_rewards/Phone-v0")) == "phone:common"  # PhoneEnv(apps="common")
    assert run_section(config("vlm_rewards/Phone-v0", apps="diverse")) == "phone:diverse"
    assert run_section(config("vlm_rewards/House-v0", family="lift")) == "house:lift"
    # House-v0 without a family mixes find and lift goals: no one section labels them
    with pytest.raises(ValueError, match="env.kwargs.family"):
        run_section(config("vlm_rewards/House-v0"))
