"""A tiny training run on Phone: checkpoints, CSV, evaluation, GIFs, resume, report, CLI."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vlm_rewards.agents.callbacks import read_csv
from vlm_rewards.agents.config import ConfigError, load_config
from vlm_rewards.agents.report import make_report
from vlm_rewards.agents.trainer import RunExistsError, train
from vlm_rewards.cli import app


def tiny_config(model_dir, **over):
    sets = {
        "name": "tiny",
        "total_steps": 128,
        "checkpoint_every": 64,
        "keep_checkpoints": 3,
        "env.n_envs": 2,
        "env.obs_size": 32,
        "env.render_size": 32,
        "env.max_episode_steps": 8,
        "agent.n_steps": 16,
        "agent.batch_size": 32,
        "agent.n_epochs": 1,
        "agent.cnn_channels": "[8, 8]",
        "agent.features_dim": 16,
        "agent.goal_hidden": 8,
        "agent.net_arch": "[16]",
        "reward.model": str(model_dir),
        "reward.dtype": "fp32",
        "eval.every": 64,
        "eval.episodes": 3,
        "eval.n_envs": 2,
        "eval.gif_episodes": 1,
        **over,
    }
    return load_config(None, [f"{k}={v}" for k, v in sets.items()])


@pytest.fixture(scope="module")
def first_run(tiny_clip_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    result = train(tiny_config(tiny_clip_dir), run_dir)
    return run_dir, result


def test_tiny_run_writes_checkpoints_csv_gifs_and_summary(first_run):
    run_dir, result = first_run
    assert result.steps == 128
    state = json.loads((run_dir / "state.json").read_text())
    assert state["step"] == 128 and (run_dir / state["checkpoint"]).is_file()
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.zip"))[-1] == "step_0000000128.zip"
    rows = read_csv(run_dir / "evaluations.csv")
    assert [int(r["step"]) for r in rows] == [0, 64, 128]
    for r in rows:
        assert 0.0 <= r["gt_success"] <= 1.0 and r["episodes"] == 3 and r["length"] <= 8
        assert 0.0 <= r["direct_success"] <= r["gt_success"] and r["direct_chance"] == pytest.approx(1 / 3)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["agent"]["n_steps"] == 16 and saved["reward"]["kind"] == "vlm"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 128 and len(summary["episodes"]) == 3
    assert {e["goal"] for e in summary["episodes"]} == {"open the calendar app", "open the gallery app", "open the maps app"}
    assert (run_dir / "model.zip").is_file() and list((run_dir / "gifs").glob("final_ep00.gif"))


def test_resume_continues_the_step_count(first_run, tiny_clip_dir, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(first_run[0], run_dir)
    # A run killed after its step-64 checkpoint: the newer checkpoint and evaluation are lost.
    (run_dir / "checkpoints" / "step_0000000128.zip").unlink()
    (run_dir / "state.json").write_text(
        json.dumps({"step": 64, "checkpoint": "checkpoints/step_0000000064.zip", "wall_s": 1.0, "train_episodes": 1000})
    )
    cfg = tiny_config(tiny_clip_dir)
    with pytest.raises(RunExistsError, match="--resume"):
        train(cfg, run_dir)
    with pytest.raises(ConfigError, match=r"agent.learning_rate \(run: 0.0005, now: 0.001\)"):
        train(tiny_config(tiny_clip_dir, **{"agent.learning_rate": 1e-3}), run_dir, resume=True)
    # A run written before a config field existed (here reward.state_negatives) resumes: the
    # missing field takes its default.
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    del saved["reward"]["state_negatives"]
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved))
    result = train(tiny_config(tiny_clip_dir, total_steps=192), run_dir, resume=True)
    assert result.resumed_from == 64 and result.steps == 192
    assert [int(r["step"]) for r in read_csv(run_dir / "evaluations.csv")] == [0, 64, 128, 192]
    state = json.loads((run_dir / "state.json").read_text())
    assert state["step"] == 192
    # The training-episode counter continues from the checkpoint's instead of restarting.
    assert state["train_episodes"] > 1000 and result.train_stats["train_episodes"] == state["train_episodes"]
    assert read_csv(run_dir / "evaluations.csv")[-1]["train_episodes"] > 1000


def test_oracle_and_recurrent_agents_train(tiny_clip_dir, tmp_path):
    short = {"total_steps": 32, "eval.every": 32, "eval.gif_episodes": 0}
    oracle = train(tiny_config(tiny_clip_dir, **{"reward.kind": "ground_truth", **short}), tmp_path / "o")
    assert oracle.steps == 32 and 0.0 <= oracle.final["gt_success"] <= 1.0
    rec = train(tiny_config(tiny_clip_dir, **{"agent.algo": "recurrent_ppo", **short}), tmp_path / "r")
    assert rec.steps == 32 and rec.final["episodes"] == 3


def test_report_writes_markdown_and_png(first_run, tmp_path):
    md = make_report([first_run[0]], tmp_path / "rep", title="Tiny")
    text = md.read_text()
    assert text.startswith("# Tiny") and "| tiny | VLM |" in text and "Phone-v0" in text
    assert (tmp_path / "rep" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="not a training run"):
        make_report([tmp_path], tmp_path / "rep2")


def test_cli_train_reports_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("total_steps: -1\nenv: {id: vlm_rewards/Nope-v0}\nreward: {model: builtin:missing}\nfoo: 1\n")
    result = CliRunner().invoke(app, ["train", str(bad), "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    for needle in ("total_steps", "env.id: unknown env", "reward.model: model not found", "foo: unknown field"):
        assert needle in result.output
    assert not (tmp_path / "r").exists()


def test_eval_agent_reevaluates_a_finished_run(first_run):
    run_dir = first_run[0]
    result = CliRunner().invoke(app, ["eval-agent", str(run_dir), "--episodes", "4", "--split", "train"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["episodes"] == 4 and 0.0 <= out["gt_success"] <= 1.0
    saved = json.loads((run_dir / "eval_train_4.json").read_text())
    assert len(saved["episodes"]) == 4 and all(e["goal"] in saved["per_goal"] for e in saved["episodes"])
    bad = CliRunner().invoke(app, ["eval-agent", str(run_dir / "nope")])
    assert bad.exit_code == 2 and "not a training run" in bad.output


def test_eval_agent_seed_is_deterministic_and_fresh(first_run):
    run_dir = first_run[0]

    def run(seed: int) -> dict:
        result = CliRunner().invoke(app, ["eval-agent", str(run_dir), "--episodes", "4", "--split", "train", "--seed", str(seed)])
        assert result.exit_code == 0, result.output
        return json.loads((run_dir / f"eval_train_4_seed{seed}.json").read_text())

    first, again, other = run(123), run(123), run(77)
    assert first == again
    assert [e["seed"] for e in first["episodes"]] == [123, 124, 125, 126]
    assert [e["seed"] for e in other["episodes"]] == [77, 78, 79, 80]
    # Greedy actions where the run samples: a file of its own; the run's evaluation stays.
    greedy = CliRunner().invoke(app, ["eval-agent", str(run_dir), "--episodes", "4", "--split", "train", "--seed", "123",
                                      "--deterministic"])
    assert greedy.exit_code == 0, greedy.output
    assert json.loads((run_dir / "eval_train_4_seed123_deterministic.json").read_text())["deterministic"] is True
    assert json.loads((run_dir / "eval_train_4_seed123.json").read_text()) == first


def test_eval_agent_set_evaluates_the_same_policy_under_other_reward_settings(first_run):
    run_dir = first_run[0]
    args = ["eval-agent", str(run_dir), "--episodes", "4", "--split", "train", "--seed", "31"]
    plain = CliRunner().invoke(app, args)
    confirmed = CliRunner().invoke(app, [*args, "--set", "reward.confirm=[4,4]", "--set", "env.max_episode_steps=3"])
    assert plain.exit_code == 0 and confirmed.exit_code == 0, confirmed.output
    base = json.loads((run_dir / "eval_train_4_seed31.json").read_text())
    (saved,) = run_dir.glob("eval_train_4_seed31_set*.json")
    other = json.loads(saved.read_text())
    assert other["overrides"] == ["reward.confirm=[4,4]", "env.max_episode_steps=3"] and "overrides" not in base
    # Four passing frames are needed before the reward fires: never within a 3-step episode.
    assert all(e["length"] <= 3 and not e["vlm_fired"] for e in other["episodes"])
    assert [e["seed"] for e in other["episodes"]] == [e["seed"] for e in base["episodes"]]
    for bad, needle in ((["--set", "agent.cnn_channels=[8]"], "agent.cnn_channels"), (["--set", "reward.confirm=[0,1]"], "confirm")):
        result = CliRunner().invoke(app, [*args, *bad])
        assert result.exit_code == 2 and needle in result.output


def test_report_groups_seeds_into_mean_and_spread(tmp_path):
    from pathlib import Path

    from vlm_rewards.agents.report import RunData, group_runs

    def run(name, seed, successes, kind="vlm"):
        rows = [{"step": float(s), "gt_success": v, "gt_return": v, "vlm_return": v} for s, v in zip((0, 10, 20), successes)]
        cfg = {"name": name, "seed": seed, "reward": {"kind": kind}, "env": {"id": "x"}}
        return RunData(Path(tmp_path / name), cfg, rows, None)

    runs = [run("a_s0", 0, [0.0, 0.5, 1.0]), run("a_s1", 1, [0.0, 0.3, 0.6]), run("o_s0", 0, [0.1, 0.2, 0.3], "ground_truth")]
    groups = group_runs(runs)
    assert [(g.name, len(g.runs), g.kind) for g in groups] == [("a", 2, "vlm"), ("o", 1, "ground_truth")]
    steps, mean, lo, hi = groups[0].curve("gt_success")
    assert steps == [0, 10, 20] and mean == pytest.approx([0.0, 0.4, 0.8]) and lo == [0.0, 0.3, 0.6] and hi == [0.0, 0.5, 1.0]


def test_report_averages_reevaluations_over_seeds(tmp_path):
    from vlm_rewards.agents.report import RunData, _seed_reevaluation_table, group_runs

    def run(name, seed, train, held):
        d = tmp_path / name
        d.mkdir()
        for split, p in (("train", train), ("heldout", held)):
            metrics = {"gt_success": p, "direct_success": p / 2, "precision": 1.0, "episodes": 100}
            (d / f"eval_{split}_100_seed50000.json").write_text(json.dumps({"metrics": metrics}))
        return RunData(d, {"name": name, "seed": seed, "reward": {"kind": "vlm"}, "env": {"id": "x"}}, [], None)

    lines = _seed_reevaluation_table(group_runs([run("a_s0", 0, 0.6, 0.7), run("a_s1", 1, 0.8, 0.9)]))
    row = next(line for line in lines if line.startswith("| a |"))
    assert "| 2 | 70% ± 14 (60, 80) | 35% ± 7 (30, 40) | 80% ± 14 (70, 90) |" in row and "100% ± 0 (100, 100)" in row


def test_report_pools_reevaluations_over_seeds_of_episodes(tmp_path):
    from vlm_rewards.agents.report import RunData, reevaluations

    run_dir = tmp_path / "r"
    run_dir.mkdir()

    def write(name, seed, p, episodes, precision, fired):
        metrics = {"gt_success": p, "direct_success": p / 2, "precision": precision, "vlm_success": fired,
                   "episodes": episodes}
        (run_dir / name).write_text(json.dumps({"seed": seed, "metrics": metrics}))

    write("eval_train_100_seed50000.json", 50000, 0.8, 100, 0.9, 0.5)
    write("eval_train_100_seed80000.json", 80000, 0.6, 100, 0.6, 0.25)
    # The first 40 episodes of seed 50000 again (overlap: not counted twice), and other settings (left out).
    write("eval_train_40_seed50000.json", 50000, 0.0, 40, 0.0, 0.5)
    write("eval_train_100_seed90000_set1234abcd.json", 90000, 0.0, 100, 0.0, 0.5)
    write("eval_train_100_seed90000_deterministic.json", 90000, 0.0, 100, 0.0, 0.5)
    write("eval_heldout_100_seed50000.json", 50000, 0.9, 100, None, 0.0)
    evals = reevaluations(RunData(run_dir, {"name": "r", "reward": {"kind": "vlm"}}, [], None))
    train = evals["train"]["metrics"]
    assert evals["train"]["seeds"] == [50000, 80000] and train["episodes"] == 200
    assert train["gt_success"] == pytest.approx(0.7) and train["direct_success"] == pytest.approx(0.35)
    # Precision is a fraction of the VLM-ended episodes: 45 of 50 and 15 of 25 are 60 of 75.
    assert train["precision"] == pytest.approx(0.8)
    assert evals["heldout"]["metrics"]["gt_success"] == 0.9 and evals["heldout"]["metrics"]["precision"] is None


_KILLED_RUN = """
import os, signal, sys
import yaml
from vlm_rewards.agents import callbacks, config as cfg_mod, trainer

on_step = callbacks.EpisodeStatsCallback._on_step

def on_step_then_die(self):
    # SIGKILL in the middle of the second segment: after the step-64 checkpoint and evaluation
    if self.model.num_timesteps >= 100:
        os.kill(os.getpid(), signal.SIGKILL)
    return on_step(self)

callbacks.EpisodeStatsCallback._on_step = on_step_then_die
config = cfg_mod.TrainConfig.model_validate(yaml.safe_load(open(sys.argv[1])))
trainer.train(config, sys.argv[2])
"""


def test_a_run_killed_with_sigkill_and_resumed_ends_like_an_uninterrupted_run(tiny_clip_dir, tmp_path):
    import signal
    import subprocess
    import sys

    import torch

    from vlm_rewards.agents.algos import load_agent
    from vlm_rewards.agents.config import dump_config

    cfg = tiny_config(tiny_clip_dir, total_steps=192, **{"eval.gif_episodes": 0})
    whole = train(cfg, tmp_path / "whole")

    (tmp_path / "cfg.yaml").write_text(dump_config(cfg))
    (tmp_path / "killed.py").write_text(_KILLED_RUN)
    proc = subprocess.run([sys.executable, str(tmp_path / "killed.py"), str(tmp_path / "cfg.yaml"), str(tmp_path / "part")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert json.loads((tmp_path / "part" / "state.json").read_text())["step"] == 64
    resumed = train(cfg, tmp_path / "part", resume=True)
    assert resumed.resumed_from == 64 and resumed.steps == whole.steps == 192

    def rows(run):
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in read_csv(tmp_path / run / "evaluations.csv")]

    assert [int(r["step"]) for r in rows("part")] == [0, 64, 128, 192]
    assert rows("part") == rows("whole")  # every metric (read_csv gives missing values as the one math.nan)
    assert resumed.final == whole.final and resumed.train_stats == whole.train_stats
    a = load_agent(tmp_path / "whole" / "model.zip", cfg).policy.state_dict()
    b = load_agent(tmp_path / "part" / "model.zip", cfg).policy.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_ship_agent_drops_optimizer_state_and_evaluates_like_the_run(first_run, tmp_path):
    import zipfile

    from vlm_rewards.agents.rollouts import evaluate_run
    from vlm_rewards.agents.ship import ship_agent

    run_dir = first_run[0]
    result = CliRunner().invoke(app, ["ship-agent", str(run_dir), str(tmp_path / "shipped")])
    assert result.exit_code == 0, result.output
    shipped = tmp_path / "shipped"
    assert sorted(p.name for p in shipped.iterdir()) == ["config.yaml", "evaluations.csv", "model.zip"]
    sizes = {p.parent.name: zipfile.ZipFile(p).getinfo("policy.optimizer.pth").file_size
             for p in (run_dir / "model.zip", shipped / "model.zip")}
    assert sizes["shipped"] < sizes[run_dir.name] / 2  # no Adam moments left
    # The policy is the run's bit for bit: the same fresh episodes give the same record.
    a = evaluate_run(run_dir, episodes=3, split="train", seed=4242).to_dict()
    b = evaluate_run(shipped, episodes=3, split="train", seed=4242).to_dict()
    assert a["episodes"] == b["episodes"]
    with pytest.raises(ValueError, match="over the"):
        ship_agent(run_dir, tmp_path / "too_small", max_bytes=1000)
    assert not (tmp_path / "too_small" / "model.zip").exists()
    with pytest.raises(ValueError, match="not a finished training run"):
        ship_agent(tmp_path / "nothing", tmp_path / "x")
    with pytest.raises(ValueError, match="out_dir must differ"):
        ship_agent(run_dir, run_dir)
    with pytest.raises(ValueError, match="weights must be"):
        ship_agent(run_dir, tmp_path / "x", weights="int8")


def test_ship_agent_in_half_precision_is_the_run_rounded_to_fp16(first_run, tmp_path):
    import zipfile

    import torch
    import yaml

    from vlm_rewards.agents.algos import load_agent
    from vlm_rewards.agents.config import validate_config
    from vlm_rewards.agents.rollouts import evaluate_run

    run_dir = first_run[0]
    result = CliRunner().invoke(app, ["ship-agent", str(run_dir), str(tmp_path / "half"), "--weights", "fp16"])
    assert result.exit_code == 0, result.output
    full = CliRunner().invoke(app, ["ship-agent", str(run_dir), str(tmp_path / "full")])
    assert full.exit_code == 0, full.output
    sizes = {d: zipfile.ZipFile(tmp_path / d / "model.zip").getinfo("policy.pth").file_size for d in ("half", "full")}
    assert sizes["half"] < 0.7 * sizes["full"]  # 0.64 here: the tiny policy's pickle overhead; ~0.5 at scale
    config = validate_config(yaml.safe_load((run_dir / "config.yaml").read_text()), "config.yaml")
    run = load_agent(run_dir / "model.zip", config).policy.state_dict()
    half = load_agent(tmp_path / "half" / "model.zip", config).policy.state_dict()
    assert run.keys() == half.keys()
    for name, value in run.items():
        assert half[name].dtype == value.dtype, name  # loaded back into the float32 policy
        if value.is_floating_point():
            assert torch.equal(half[name], value.half().to(value.dtype)), name
    assert len(evaluate_run(tmp_path / "half", episodes=2, split="train", seed=4242).episodes) == 2
    bad = CliRunner().invoke(app, ["ship-agent", str(run_dir), str(tmp_path / "y"), "--weights", "bf8"])
    assert bad.exit_code != 0 and "--weights" in bad.output


@pytest.mark.parametrize(("kind", "score"), [("vlm", "cosine"), ("ground_truth", "cosine"), ("vlm", "log_prob")])
def test_house_view_feature_is_batched_and_matches_each_envs_own_view(tiny_clip_dir, kind, score):
    """The train venv's obs["region"] (one batched encoding per step, outside the reward, whose
    forced resets included) is the VLM's score of each sub-env's current view: its cosine
    similarity with the goal's region prompt, or its log-probability against every goal's."""
    import numpy as np

    from vlm_rewards.agents.envs import goal_table, make_scorer, region_source
    from vlm_rewards.agents.venvs import make_train_venv
    from vlm_rewards.wrappers.region import goal_prompt, prompt_table, region_similarity

    config = tiny_config(
        tiny_clip_dir, **{"env.id": "vlm_rewards/House-v0", "env.kwargs": "{family: find, num_rooms: [1, 1], actions: move}",
                          "env.max_episode_steps": 5, "env.n_envs": 3, "agent.region_features": "true",
                          "reward.kind": kind, "reward.threshold": 0.01,  # fires at once: forced resets
                          "agent.region_score": score})
    scorer = make_scorer(config.reward, config.env)
    venv = make_train_venv(config, scorer, goal_table(scorer, config.env))
    encoder, prompts = region_source(config, scorer)
    table = prompt_table(prompts)
    assert table.kind == score and len(table) == 24  # every find goal, training and held out
    inner = venv
    while hasattr(inner, "venv"):
        inner = inner.venv
    ends = 0
    obs = venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(12):
        crops = np.stack([e.unwrapped.region_crops(config.env.render_size) for e in inner.envs])
        goals = [e.unwrapped.goal.text for e in inner.envs]
        expected = region_similarity(scorer.encode_frames, crops, np.stack([goal_prompt(table, g) for g in goals]))
        if score == "log_prob":
            views = scorer.encode_frames(crops.reshape(-1, *crops.shape[2:])).float().numpy()
            views /= np.linalg.norm(views, axis=1, keepdims=True)
            logits = views @ table.matrix.T / scorer.temperature
            log_z = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
            expected = (logits[np.arange(len(goals)), [table.row(g) for g in goals]] - log_z)[:, None]
            assert venv.observation_space["region"].high.max() == 0.0
        np.testing.assert_allclose(obs["region"], expected, atol=1e-4)
        obs, _, dones, infos = venv.step(rng.integers(4, size=3))
        for i in np.flatnonzero(dones):
            ends += 1
            assert infos[i]["terminal_observation"]["region"].shape == (1,)
    assert ends >= 3
    venv.close()


def test_evaluation_view_feature_is_batched_and_matches_each_envs_own_view(tiny_clip_dir, monkeypatch):
    """evaluate_agent's obs["region"] (one batched encoding per step, over slots that start,
    step, finish or idle at different times) is the VLM's similarity of each slot's current view."""
    import types

    import numpy as np

    from vlm_rewards.agents import rollouts
    from vlm_rewards.agents.envs import goal_table, make_scorer, region_source
    from vlm_rewards.wrappers.region import goal_prompt, prompt_table, region_similarity

    config = tiny_config(
        tiny_clip_dir, **{"env.id": "vlm_rewards/House-v0", "env.kwargs": "{family: find, num_rooms: [1, 1], actions: move}",
                          "env.max_episode_steps": 4, "agent.region_features": "true", "reward.threshold": 0.05})
    scorer = make_scorer(config.reward, config.env)
    table = prompt_table(region_source(config, scorer)[1])
    envs = []

    def recording_make_env(*args, **kwargs):
        envs.append(rollouts_make_env(*args, **kwargs))
        return envs[-1]

    rollouts_make_env = rollouts.make_env
    monkeypatch.setattr(rollouts, "make_env", recording_make_env)
    rng = np.random.default_rng(0)
    calls = []

    def predict(batch, deterministic=True):
        expected = region_similarity(
            scorer.encode_frames,
            np.stack([e.unwrapped.region_crops(config.env.render_size) for e in envs]),
            np.stack([goal_prompt(table, e.unwrapped.goal.text) for e in envs]),
        )
        np.testing.assert_allclose(batch["region"], expected, atol=1e-5)
        calls.append(len(envs))
        return rng.integers(4, size=len(envs)), None

    model = types.SimpleNamespace(policy=object(), predict=predict)
    result = rollouts.evaluate_agent(model, config, scorer, goal_table(scorer, config.env), episodes=5, n_envs=3, seed=7)
    lengths = [e.length for e in result.episodes]
    # Slots out of step (one episode ends after a step, the reward fired) and idle slots at the end.
    assert len(result.episodes) == 5 and len(envs) == 3 and len(set(lengths)) > 1 and len(calls) > max(lengths)


def test_house_agent_with_vlm_patches_and_two_views_trains_and_evaluates(tiny_clip_dir, tmp_path):
    """env.frame_stack=2 and agent.vlm_patches: the VLM's patch embeddings reach the policy in training (batched,
    VecPatchFeatures) and in evaluation (per env), and the run re-evaluates."""
    import numpy as np

    from vlm_rewards.agents.envs import goal_table, make_scorer
    from vlm_rewards.agents.venvs import make_train_venv

    config = tiny_config(tiny_clip_dir, **{"env.id": "vlm_rewards/House-v0", "env.kwargs": "{family: find, num_rooms: [1, 1], num_objects: [3, 5], room_size: [5.0, 6.5], actions: walk}",
                                           "agent.vlm_patches": "true", "env.frame_stack": 2})
    scorer = make_scorer(config.reward, config.env)
    venv = make_train_venv(config, scorer, goal_table(scorer, config.env))
    obs = venv.reset()
    # two views stacked along the channels; patches of the newest
    assert obs["image"].shape[1:] == (32, 32, 6)
    assert obs["patches"].shape[:2] == (2, scorer.model.encode_texts(["x"]).shape[1])
    newest = np.ascontiguousarray(obs["image"][..., 3:])
    np.testing.assert_allclose(obs["patches"], scorer.model.encode_patches(newest).numpy(), atol=1e-5)
    venv.close()
    result = train(config, tmp_path / "run")
    assert result.steps == 128
    from stable_baselines3 import PPO

    assert PPO.load(tmp_path / "run" / "model.zip").policy.features_extractor.patch_conv is not None
    out = CliRunner().invoke(app, ["eval-agent", str(tmp_path / "run"), "--episodes", "2", "--seed", "7"])
    assert out.exit_code == 0, out.output


def test_house_agent_with_the_previous_action_trains_and_evaluates(tiny_clip_dir, tmp_path):
    """env.prev_action: the last action, one-hot, reaches the policy in training and in evaluation, and the policy
    reads it (its output changes with it)."""
    import numpy as np
    import torch
    from stable_baselines3 import PPO

    config = tiny_config(tiny_clip_dir, **{"env.id": "vlm_rewards/House-v0", "env.kwargs": "{family: find, num_rooms: [1, 1], num_objects: [3, 5], room_size: [5.0, 6.5], actions: walk}",
                                           "env.prev_action": "true", "env.frame_stack": 2})
    result = train(config, tmp_path / "run")
    assert result.steps == 128
    model = PPO.load(tmp_path / "run" / "model.zip")
    space = model.observation_space
    assert space["prev_action"].shape == (7,)  # six walk actions, then the bump sensor
    obs = {k: torch.as_tensor(np.stack([v.sample(), v.sample()])) for k, v in space.spaces.items()}
    obs["image"], obs["goal"] = obs["image"][:1].repeat(2, 1, 1, 1), obs["goal"][:1].repeat(2, 1)
    obs["prev_action"] = torch.eye(7)[[0, 3]]
    features = model.policy.features_extractor(obs)
    assert features.shape[1] == model.policy.features_extractor.features_dim
    assert not torch.equal(features[0], features[1])
    out = CliRunner().invoke(app, ["eval-agent", str(tmp_path / "run"), "--episodes", "2", "--seed", "7"])
    assert out.exit_code == 0, out.output


def test_house_agent_with_the_search_map_starts_as_the_agent_it_is_initialised_from(tiny_clip_dir, tmp_path):
    """env.search_map: the map reaches the policy in training and evaluation; a map-less agent is a valid
    agent.init_from (the map branch starts at zero), and the new policy acts exactly as it did."""
    import numpy as np
    import torch
    from stable_baselines3 import PPO

    house = {"env.id": "vlm_rewards/House-v0", "env.kwargs": "{family: find, num_rooms: [2, 2], actions: walk}",
             "env.frame_stack": 2, "total_steps": 64, "eval.gif_episodes": 0}
    train(tiny_config(tiny_clip_dir, **house), tmp_path / "plain")
    frozen = {**house, "env.search_map": "true", "agent.learning_rate": 1e-12, "agent.init_from": str(tmp_path / "plain")}
    train(tiny_config(tiny_clip_dir, **frozen), tmp_path / "map")
    plain, mapped = PPO.load(tmp_path / "plain" / "model.zip"), PPO.load(tmp_path / "map" / "model.zip")
    assert mapped.observation_space["map"].shape == (3, 16, 16)
    obs = {k: torch.as_tensor(np.stack([v.sample() for _ in range(4)])) for k, v in mapped.observation_space.spaces.items()}
    obs["map"] = (obs["map"] > 0.5).float()
    without = {k: v for k, v in obs.items() if k != "map"}
    with torch.no_grad():
        want = plain.policy.get_distribution(without).distribution.probs
        got = mapped.policy.get_distribution(obs).distribution.probs
        torch.testing.assert_close(got, want)
        # Once its gate opens, the map changes what the policy does.
        torch.nn.init.normal_(mapped.policy.features_extractor.map_gate)
        moved = mapped.policy.get_distribution(obs).distribution.probs
        blank = mapped.policy.get_distribution({**obs, "map": torch.zeros_like(obs["map"])}).distribution.probs
    assert not torch.allclose(moved, blank)
    out = CliRunner().invoke(app, ["eval-agent", str(tmp_path / "map"), "--episodes", "2", "--seed", "7"])
    assert out.exit_code == 0, out.output


def test_house_agent_with_the_explore_action_keeps_the_saved_agents_choices(tiny_clip_dir, tmp_path):
    """env.explore_action: one more action; an agent saved without it is a valid agent.init_from, whose
    actions keep their odds among themselves, and the new action starts as likely as an average one, or
    agent.new_action_bias logits above that."""
    import math

    import numpy as np
    import torch
    from stable_baselines3 import PPO

    house = {"env.id": "vlm_rewards/House-v0", "env.kwargs": "{family: find, num_rooms: [2, 2], actions: walk}",
             "env.frame_stack": 2, "total_steps": 64, "eval.gif_episodes": 0}
    train(tiny_config(tiny_clip_dir, **house), tmp_path / "plain")
    frozen = {**house, "env.search_map": "true", "env.explore_action": "true", "agent.learning_rate": 1e-12,
              "agent.init_from": str(tmp_path / "plain")}
    train(tiny_config(tiny_clip_dir, **frozen), tmp_path / "explore")
    plain, explore = PPO.load(tmp_path / "plain" / "model.zip"), PPO.load(tmp_path / "explore" / "model.zip")
    assert (plain.action_space.n, explore.action_space.n) == (6, 7)
    obs = {k: torch.as_tensor(np.stack([v.sample() for _ in range(4)])) for k, v in explore.observation_space.spaces.items()}
    without = {k: v for k, v in obs.items() if k != "map"}
    with torch.no_grad():
        want = plain.policy.get_distribution(without).distribution.probs
        got = explore.policy.get_distribution(obs).distribution.probs
    torch.testing.assert_close(got[:, :6] / got[:, :6].sum(1, keepdim=True), want)
    saved_bias = plain.policy.action_net.bias.detach()
    assert float(explore.policy.action_net.bias[6].detach()) == pytest.approx(float(saved_bias.mean()), abs=1e-5)
    assert torch.all(got[:, 6] > 0.2 * got[:, :6].min(1).values)
    out = CliRunner().invoke(app, ["eval-agent", str(tmp_path / "explore"), "--episodes", "2", "--seed", "7"])
    assert out.exit_code == 0, out.output
    # agent.new_action_bias: the new action's logit starts that much above the saved mean; the
    # saved actions still keep their odds among themselves.
    train(tiny_config(tiny_clip_dir, **frozen, **{"agent.new_action_bias": 4.0}), tmp_path / "biased")
    biased = PPO.load(tmp_path / "biased" / "model.zip")
    assert float(biased.policy.action_net.bias[6].detach()) == pytest.approx(float(saved_bias.mean()) + 4.0, abs=1e-5)
    with torch.no_grad():
        leaning = biased.policy.get_distribution(obs).distribution.probs
    torch.testing.assert_close(leaning[:, :6] / leaning[:, :6].sum(1, keepdim=True), want)
    odds = (leaning[:, 6] / (1 - leaning[:, 6])) / (got[:, 6] / (1 - got[:, 6]))
    torch.testing.assert_close(odds, torch.full_like(odds, math.exp(4.0)), rtol=1e-3, atol=0)
    # benchmarks/house_failures.py counts explore steps; --explore-unless-in-view explores whenever the
    # goal is out of sight, so every such step is one.
    import importlib.util

    spec = importlib.util.spec_from_file_location("house_failures", Path(__file__).parents[2] / "benchmarks" / "house_failures.py")
    failures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(failures)
    (forced,) = failures.run_episodes(tmp_path / "explore", 1, "train", 3, explore_unless_in_view=True)
    assert forced["steps"] > 0 and forced["explore"] >= forced["steps"] - forced["in_view"]
    assert forced["sight"] == 4.0  # "seen" means within the run's search map's sight
    with pytest.raises(SystemExit, match="need a run with env.explore_action"):
        failures.run_episodes(tmp_path / "plain", 1, "train", 3, explore_bias=1.0)


def test_explore_action_needs_the_search_map_and_walk_actions(tiny_clip_dir):
    house = {"env.id": "vlm_rewards/House-v0", "env.kwargs": "{family: find, actions: walk}"}
    with pytest.raises(ConfigError, match="agent.new_action_bias needs agent.init_from"):
        tiny_config(tiny_clip_dir, **house, **{"agent.new_action_bias": 4.0})
    with pytest.raises(ConfigError, match="env.explore_action needs env.search_map"):
        tiny_config(tiny_clip_dir, **house, **{"env.explore_action": "true"})
    with pytest.raises(ConfigError, match="env.explore_action needs env.kwargs.actions='walk'"):
        tiny_config(tiny_clip_dir, **{**house, "env.kwargs": "{family: find, actions: move}"},
                    **{"env.search_map": "true", "env.explore_action": "true"})


def test_search_map_needs_house_and_the_mlp_head(tiny_clip_dir):
    with pytest.raises(ConfigError, match="env.search_map needs a House env"):
        tiny_config(tiny_clip_dir, **{"env.search_map": "true"})
    with pytest.raises(ConfigError, match="env.search_map works with agent.head='mlp'"):
        tiny_config(tiny_clip_dir, **{"env.id": "vlm_rewards/House-v0", "env.kwargs": "{family: find}",
                                      "env.search_map": "true", "agent.head": "pointer"})


def test_prev_action_needs_the_mlp_head(tiny_clip_dir):
    with pytest.raises(ConfigError, match="env.prev_action works with agent.head='mlp'"):
        tiny_config(tiny_clip_dir, **{"env.prev_action": "true", "agent.head": "pointer"})


def test_linear_lr_schedule_follows_the_whole_run_across_segments(tiny_clip_dir, tmp_path):
    from stable_baselines3 import PPO

    from vlm_rewards.agents.algos import LinearToZero

    # Segment ending at 64 of a 128-step run: half-way through that segment (progress
    # remaining 0.5, i.e. step 32) a quarter of the run is done.
    assert LinearToZero(1e-3, 64, 128)(0.5) == pytest.approx(0.75e-3)
    assert LinearToZero(1e-3, 128, 128)(0.0) == 0.0 and LinearToZero(1e-3, 64, 128)(1.0) == pytest.approx(1e-3)
    rates = {}
    for schedule in ("constant", "linear"):
        config = tiny_config(tiny_clip_dir, **{"agent.lr_schedule": schedule, "agent.learning_rate": 1e-3, "eval.every": 1000})
        train(config, tmp_path / schedule)
        rates[schedule] = PPO.load(tmp_path / schedule / "model.zip").policy.optimizer.param_groups[0]["lr"]
    # The last update ran at step 128 of 128: a linear schedule has reached 0 there.
    assert rates == {"constant": pytest.approx(1e-3), "linear": 0.0}


def test_init_from_starts_from_a_trained_agents_policy(tiny_clip_dir, tmp_path):
    import torch

    from vlm_rewards.agents.algos import load_agent

    short = {"total_steps": 64, "eval.gif_episodes": 0}
    source = tmp_path / "one_room"
    cfg = tiny_config(tiny_clip_dir, **short)
    train(cfg, source)
    want = load_agent(source / "model.zip", cfg).policy.state_dict()
    # A learning rate of 1e-12 leaves the weights where they started: the source's, from a
    # run directory or from its zip, and far from them without init_from.
    frozen = {**short, "agent.learning_rate": 1e-12}
    for name, init in (("dir", source), ("zip", source / "model.zip"), ("none", None)):
        over = {**frozen, **({"agent.init_from": str(init)} if init else {})}
        train(tiny_config(tiny_clip_dir, **over), tmp_path / name)
        got = load_agent(tmp_path / name / "model.zip", tiny_config(tiny_clip_dir, **over)).policy.state_dict()
        same = all(torch.allclose(got[k], v, atol=1e-6) for k, v in want.items() if v.is_floating_point())
        assert same == (init is not None), name
    # A policy of another shape, or nothing at the path: a ConfigError naming the field, and
    # no run directory left behind.
    with pytest.raises(ConfigError, match=r"agent.init_from: .*does not fit.*shape"):
        train(tiny_config(tiny_clip_dir, **short, **{"agent.init_from": str(source), "agent.features_dim": 24}), tmp_path / "bad")
    with pytest.raises(ConfigError, match="agent.init_from: .*neither an SB3 zip"):
        train(tiny_config(tiny_clip_dir, **short, **{"agent.init_from": str(tmp_path / "nowhere")}), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
