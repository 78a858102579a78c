import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from helpers import COLOURS
from vlm_rewards.cli import app

runner = CliRunner()


@pytest.fixture
def images(tmp_path):
    paths = []
    for name, rgb in list(COLOURS.items())[:2]:
        p = tmp_path / f"{name}.png"
        Image.fromarray(np.full((40, 48, 3), rgb, np.uint8)).save(p)
        paths.append(str(p))
    return paths


def test_score_prints_one_json_per_image(tiny_clip_dir, images):
    args = ["score", "--model", str(tiny_clip_dir), "--goal", "a red ball", "-n", "a blue key", "-n", "a green box", *images]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["image"] for r in lines] == images
    for r in lines:
        assert r["reward"] in (0.0, 1.0) and 0.0 <= r["probability"] <= 1.0
        assert r["settings"]["negatives"] == ["a blue key", "a green box"]
        assert r["settings"]["threshold"] == 0.5 and r["settings"]["reward"] == "contrastive"


def test_score_matches_library(tiny_clip_dir, tiny_model, images):
    from vlm_rewards import RewardScorer
    from vlm_rewards.io import load_image

    result = runner.invoke(app, ["score", "-m", str(tiny_clip_dir), "-g", "a red ball", "-n", "a blue key", images[0]])
    expected = RewardScorer(tiny_model, negatives=["a blue key"]).score(load_image(images[0])[None], "a red ball")
    assert json.loads(result.stdout)["probability"] == pytest.approx(float(expected.score[0]), rel=1e-5)


@pytest.mark.parametrize("reward", ["cosine", "goal_baseline"])
def test_score_other_rewards(tiny_clip_dir, images, reward):
    result = runner.invoke(
        app, ["score", "-m", str(tiny_clip_dir), "-g", "a red ball", "-r", reward, "--baseline", "a square", images[0]]
    )
    assert result.exit_code == 0, result.output
    assert "score" in json.loads(result.stdout)


def test_unreadable_image_named(tiny_clip_dir, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    result = runner.invoke(app, ["score", "-m", str(tiny_clip_dir), "-g", "a red ball", "-n", "x", str(bad)])
    assert result.exit_code == 2
    assert "broken.png" in result.stderr and "cannot be read" in result.stderr


def test_missing_image_named(tiny_clip_dir, tmp_path):
    result = runner.invoke(app, ["score", "-m", str(tiny_clip_dir), "-g", "a", "-n", "b", str(tmp_path / "nope.png")])
    assert result.exit_code == 2 and "nope.png" in result.stderr


def test_contrastive_without_negatives_is_an_error(tiny_clip_dir, images):
    result = runner.invoke(app, ["score", "-m", str(tiny_clip_dir), "-g", "a red ball", images[0]])
    assert result.exit_code == 2 and "needs negatives" in result.stderr


def test_missing_model_is_a_clear_error(images, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(app, ["score", "-m", "hf:nobody/no-such-model", "-g", "a", "-n", "b", images[0]])
    assert result.exit_code == 2 and "hf:nobody/no-such-model" in result.stderr


def test_negatives_from_builtin_goal_set(tiny_clip_dir, images):
    from vlm_rewards import goals

    result = runner.invoke(
        app, ["score", "-m", str(tiny_clip_dir), "-g", "open the clock app", "--goals", "phone", images[0]]
    )
    assert result.exit_code == 0, result.output
    settings = json.loads(result.stdout)["settings"]
    assert settings["goals_spec"] == "phone" and settings["goal_set_size"] == 10 and settings["negatives"] is None
    result = runner.invoke(
        app, ["score", "-m", str(tiny_clip_dir), "-g", "open the clock app", "--goal-set", "nowhere", images[0]]
    )
    assert result.exit_code == 2 and "domain must be one of" in result.stderr
    assert "open the clock app" in goals("phone", "all")
