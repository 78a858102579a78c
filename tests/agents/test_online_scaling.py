"""`online_scaling` / `vlm-rewards scaling-agents`: agents per reward-model size beside the offline AP."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from vlm_rewards.agents.online_scaling import online_scaling
from vlm_rewards.cli import app


def _run(root, name, model, seed, train, heldout, precision, kind="vlm", splits=("train", "heldout")):
    run = root / name
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"name": name, "seed": seed, "reward": {"kind": kind, "model": model}}))
    (run / "evaluations.csv").write_text("step,gt_success\n0,0.0\n")
    for split, gt in (("train", train), ("heldout", heldout)):
        if split in splits:
            metrics = {"gt_success": gt, "episodes": 100.0, "precision": precision, "direct_success": gt / 2}
            (run / f"eval_{split}_100_seed50000.json").write_text(json.dumps({"metrics": metrics}))
    return run


@pytest.fixture
def offline(tmp_path):
    path = tmp_path / "scaling.json"
    models = [{"model": m, "num_parameters": n, "sections": {"house:find": {"ap": ap, "calibrated_ap": ap + 0.05}}}
              for m, n, ap in (("small", 1000, 0.4), ("builtin:default", 50_000, 0.8))]
    path.write_text(json.dumps({"models": models}))
    return path


def test_online_scaling_groups_seeds_by_model_and_orders_by_size(tmp_path, offline):
    runs = [_run(tmp_path, "big_s0", "builtin:default", 0, 0.8, 0.6, 0.9),
            _run(tmp_path, "big_s1", "builtin:default", 1, 0.6, 0.4, 1.0),
            _run(tmp_path, "small_s0", "small", 0, 0.2, 0.1, 0.5)]
    md = online_scaling(runs, offline, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "online_scaling.json").read_text())
    assert [r["model"] for r in data["rows"]] == ["small", "builtin:default"]
    big = data["rows"][1]
    assert big["seeds"] == 2 and big["train_mean"] == pytest.approx(0.7) and big["train_sd"] == pytest.approx(0.1414, abs=1e-3)
    assert big["heldout_mean"] == pytest.approx(0.5) and big["precision_mean"] == pytest.approx(0.95)
    text = md.read_text()
    assert "| `builtin:default` | 50,000 | 2 | 0.800 (0.850) | 70% ± 14 | 50% ± 14 | 25% ± 7 | 95% ± 7 | 95% ± 7 |" in text
    assert "| `small` | 1,000 | 1 | 0.400 (0.450) | 20% | 10% | 5% | 50% | 50% |" in text
    assert "oracle" not in text and data["oracle"] is None
    assert (tmp_path / "out" / "online_scaling.png").read_bytes()[:4] == b"\x89PNG"


def test_online_scaling_draws_the_oracle_beside_the_sizes(tmp_path, offline):
    runs = [_run(tmp_path, "small_s0", "small", 0, 0.2, 0.1, None)]  # the reward never fired: precision n/a
    oracles = [_run(tmp_path, f"oracle_s{s}", "builtin:default", s, gt, gt, None, kind="ground_truth")
               for s, gt in ((0, 0.7), (1, 0.9))]
    md = online_scaling(runs, offline, tmp_path / "out", oracle_runs=oracles)
    text = md.read_text()
    assert "| `small` | 1,000 | 1 | 0.400 (0.450) | 20% | 10% | 5% | n/a | n/a |" in text
    assert "| oracle (ground-truth reward) | | 2 | | 80% ± 14 | 80% ± 14 | 40% ± 7 | | |" in text
    assert json.loads((tmp_path / "out" / "online_scaling.json").read_text())["oracle"]["train_mean"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="oracle_runs.*ground_truth"):
        online_scaling(runs, offline, tmp_path / "o", oracle_runs=runs)
    result = CliRunner().invoke(app, ["scaling-agents", str(runs[0]), "--offline", str(offline), "-o", str(tmp_path / "c"),
                                      "--oracle", str(oracles[0]), "--oracle", str(oracles[1])])
    assert result.exit_code == 0, result.output
    assert "80% ± 14" in (tmp_path / "c" / "online_scaling.md").read_text()


def test_online_scaling_errors_name_the_argument(tmp_path, offline):
    unknown = _run(tmp_path, "u", "hf:other", 0, 0.5, 0.5, 1.0)
    with pytest.raises(ValueError, match="reward.model='hf:other'"):
        online_scaling([unknown], offline, tmp_path / "o")
    oracle = _run(tmp_path, "o", "small", 0, 0.5, 0.5, 1.0, kind="ground_truth")
    with pytest.raises(ValueError, match="not the VLM reward"):
        online_scaling([oracle], offline, tmp_path / "o")
    no_eval = _run(tmp_path, "n", "small", 0, 0.5, 0.5, 1.0, splits=("train",))
    with pytest.raises(ValueError, match="split 'heldout'"):
        online_scaling([no_eval], offline, tmp_path / "o")
    with pytest.raises(ValueError, match="section"):
        online_scaling([_run(tmp_path, "ok", "small", 0, 0.5, 0.5, 1.0)], offline, tmp_path / "o", section="babyai")
    with pytest.raises(ValueError, match="offline"):
        online_scaling([no_eval], tmp_path / "missing.json", tmp_path / "o")
    result = CliRunner().invoke(app, ["scaling-agents", str(unknown), "--offline", str(offline), "-o", str(tmp_path / "c")])
    assert result.exit_code != 0 and "hf:other" in result.output
