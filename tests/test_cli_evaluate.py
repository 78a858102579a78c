import json
import shutil

import pytest
from typer.testing import CliRunner

from vlm_rewards.cli import app
from vlm_rewards.data import read_evalset_manifest

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "evalset"
    result = runner.invoke(app, ["collect", str(out), "--sections", "phone:common", "--frames", "24", "--heldout-frames", "16",
                                 "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "40 labelled frames" in result.stdout
    return out


def test_collect_matches_library(dataset, tmp_path):
    from vlm_rewards.data import collect_evalset

    lib = collect_evalset(tmp_path / "lib", sections=("phone:common",), frames=24, heldout_frames=16, seed=2)
    assert read_evalset_manifest(lib)["shards"] == read_evalset_manifest(dataset)["shards"]
    result = runner.invoke(app, ["collect", str(tmp_path / "x"), "--sections", "phone:common,mars"])
    assert result.exit_code == 2 and "--sections" in result.output


def test_evaluate_writes_the_report(dataset, tiny_clip_dir, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_clip_dir), "--dataset", str(dataset), "--out", str(out),
                                 "--negatives", "3", "--negative-choice", "hard", "--templates", "builtin",
                                 "--goal-set", "phone"])
    assert result.exit_code == 0, result.output
    assert "phone:common: held-out AP" in result.stdout and str(out / "report.md") in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["negatives"] == 3 and metrics["settings"]["negative_choice"] == "hard"
    assert len(metrics["sections"]["phone:common"]["templates"]) == 4
    assert (out / "templates.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_bad_input_is_a_clear_error(dataset, tiny_clip_dir, tmp_path):
    base = ["evaluate", "--model", str(tiny_clip_dir), "--out", str(tmp_path / "o")]
    result = runner.invoke(app, [*base, "--dataset", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "does not exist" in result.output
    copy = shutil.copytree(dataset, tmp_path / "copy")
    shard = read_evalset_manifest(copy)["shards"][0]["file"]
    data = (copy / shard).read_bytes()
    (copy / shard).write_bytes(data[:100])
    result = runner.invoke(app, [*base, "--dataset", str(copy)])
    assert result.exit_code == 2 and shard in result.output and "truncated" in result.output
    result = runner.invoke(app, [*base, "--dataset", str(dataset), "--goal-set", "phone:diverse"])
    assert result.exit_code == 2 and "does not match" in result.output
    result = runner.invoke(app, [*base, "--dataset", str(dataset), "--negatives", "zero"])
    assert result.exit_code == 2 and "--negatives" in result.output
    result = runner.invoke(app, [*base, "--dataset", str(dataset), "--negatives", "12"])
    assert result.exit_code == 2 and "negatives=12" in result.output


def test_scaling_command(dataset, tiny_clip_dir, tiny_siglip_dir, tmp_path):
    result = runner.invoke(app, ["scaling", "--model", str(tiny_clip_dir), "--model", str(tiny_siglip_dir),
                                 "--dataset", str(dataset), "--out", str(tmp_path), "--reward", "cosine"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "scaling.json").read_text())["models"]
    assert len(rows) == 2 and rows[0]["num_parameters"] <= rows[1]["num_parameters"]
    assert (tmp_path / "scaling.png").read_bytes()[:4] == b"\x89PNG"
