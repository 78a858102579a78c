import json

import pytest
from typer.testing import CliRunner

from vlm_rewards.cli import app
from vlm_rewards.data import load_corpus, read_manifest

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "corpus"
    result = runner.invoke(app, ["corpus", str(out), "--domains", "phone,babyai", "--frames-per-domain", "24", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout and "48 frames" in result.stdout
    return out


def test_corpus_command_matches_library(corpus_dir, tmp_path):
    from vlm_rewards.data import collect_corpus

    manifest = read_manifest(corpus_dir)
    assert manifest["domains"] == {"phone": 24, "babyai": 24} and manifest["seed"] == 2 and manifest["image_size"] == 64
    lib = collect_corpus(tmp_path / "lib", domains=("phone", "babyai"), frames_per_domain=24, seed=2)
    assert read_manifest(lib)["shards"] == manifest["shards"]  # same bytes (SHA-256 per shard)


def test_corpus_counts_per_domain(tmp_path):
    result = runner.invoke(app, ["corpus", str(tmp_path), "--domains", "phone,babyai", "--frames-per-domain", "babyai=6, phone=4"])
    assert result.exit_code == 0, result.output
    assert read_manifest(tmp_path)["domains"] == {"phone": 4, "babyai": 6}


def test_corpus_no_holdout_flag(tmp_path):
    result = runner.invoke(app, ["corpus", str(tmp_path), "--domains", "babyai", "--frames-per-domain", "4", "--no-holdout"])
    assert result.exit_code == 0, result.output
    assert read_manifest(tmp_path)["holdout"] == []


def test_pretrain_command_trains_and_resumes(corpus_dir, tmp_path):
    out = tmp_path / "model"
    args = ["pretrain", str(corpus_dir), str(out), "--size", "xs", "--steps", "3", "--batch-size", "16", "--lr", "0.002"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout and "final loss" in result.stdout
    log = json.loads((out / "training_log.json").read_text())
    assert log["args"]["size"] == "xs" and log["args"]["lr"] == 0.002 and len(log["history"]) == 3
    from vlm_rewards import load_model

    assert load_model(out).encode_texts(["open the clock app"]).shape[0] == 1
    # A finished run leaves no checkpoint; --no-resume retrains from scratch to the same weights.
    again = runner.invoke(app, [*args, "--no-resume"])
    assert again.exit_code == 0, again.output
    assert json.loads((out / "training_log.json").read_text())["history"] == log["history"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["corpus", "{tmp}/c", "--domains", "phone,mars"], "--domains"),
        (["corpus", "{tmp}/c", "--domains", "phone,phone"], "--domains"),
        (["corpus", "{tmp}/c", "--frames-per-domain", "0"], "--frames-per-domain"),
        (["corpus", "{tmp}/c", "--domains", "phone,babyai", "--frames-per-domain", "phone=8"], "--frames-per-domain"),
        (["corpus", "{tmp}/c", "--domains", "phone", "--frames-per-domain", "phone=x"], "--frames-per-domain"),
        (["corpus", "{tmp}/c", "--domains", "phone", "--frames-per-domain", "mars=8"], "--frames-per-domain"),
        (["corpus", "{tmp}/c", "--image-size", "8"], "--image-size"),
        (["corpus", "{tmp}/c", "--seed", "-1"], "--seed"),
        (["pretrain", "{corpus}", "{tmp}/m", "--size", "huge"], "--size"),
        (["pretrain", "{corpus}", "{tmp}/m", "--steps", "0"], "--steps"),
        (["pretrain", "{corpus}", "{tmp}/m", "--batch-size", "1"], "--batch-size"),
        (["pretrain", "{corpus}", "{tmp}/m", "--lr", "-1"], "--lr"),
        (["pretrain", "{corpus}", "{tmp}/m", "--batch-size", "1000", "--size", "xs", "--steps", "1"], "batch_size"),
        (["pretrain", "{tmp}", "{tmp}/m", "--steps", "1"], "CORPUS_DIR"),
    ],
)
def test_bad_input_exits_2_naming_the_argument(corpus_dir, tmp_path, args, named):
    args = [a.format(tmp=tmp_path, corpus=corpus_dir) for a in args]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert named in result.stderr


def test_corpus_command_house(tmp_path):
    result = runner.invoke(app, ["corpus", str(tmp_path), "--domains", "house", "--frames-per-domain", "12"])
    assert result.exit_code == 0, result.output
    _, captions, labels = load_corpus(tmp_path)
    assert len(captions) == 12 and all(lab.startswith("house:") for lab in labels)
