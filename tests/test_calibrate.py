"""Per-goal thresholds, `calibrate` (library and CLI) and `--set-file`, on a tiny labelled folder."""

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from vlm_rewards import RewardScorer
from vlm_rewards.agents.config import load_config
from vlm_rewards.cli import app
from vlm_rewards.evaluation import best_f1, calibrate, load_labelled_folder
from vlm_rewards.evaluation.metrics import best_goal_f1

COLOUR = {"open the clock app": (220, 30, 30), "open the camera app": (30, 200, 30), "open the calendar app": (30, 30, 220)}


class ColourModel:
    """A VLM whose image embedding is a frame's mean colour and whose text embedding is its
    goal's colour: p is high where a frame is mostly the goal's colour."""

    name = "colour"
    num_parameters = 0
    logit_scale = 20.0
    device = torch.device("cpu")

    @staticmethod
    def _vec(rgb):
        v = torch.as_tensor(np.asarray(rgb, dtype=np.float32) / 255.0 - 0.45)
        return torch.nn.functional.normalize(v, dim=-1)

    def encode_images(self, frames):
        x = torch.as_tensor(np.asarray(frames)).float()
        x = x / 255.0 if x.max() > 1 else x
        return self._vec(x.mean(dim=(1, 2)).numpy() * 255.0)

    def encode_texts(self, texts):
        return torch.stack([self._vec(COLOUR[t]) for t in texts])


def _frame(goal, other, w, rng):
    a, b = np.array(COLOUR[goal], float), np.array(COLOUR[other], float)
    img = np.broadcast_to(w * a + (1 - w) * b, (16, 16, 3)) + rng.normal(0, 4, (16, 16, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_folder(root, n=24, seed=0, flip_heldout=False):
    rng = np.random.default_rng(seed)
    goals = list(COLOUR)
    for split in ("train", "heldout"):
        (root / split).mkdir(parents=True)
        for gi, goal in enumerate(goals):
            for i in range(n):
                pos = i % 2 == 0
                other = goals[(gi + 1 + i % 2) % 3]
                w = rng.uniform(0.45, 1.0) if pos else rng.uniform(0.0, 0.6)
                label = pos != (flip_heldout and split == "heldout")
                name = f"{goal.replace(' ', '_')}--{'pos' if label else 'neg'}--{i:03d}.png"
                Image.fromarray(_frame(goal, other, w, rng)).save(root / split / name)
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("labelled"))


def test_labelled_folder_naming_scheme(folder, tmp_path):
    src = load_labelled_folder(folder)
    assert src.goals == sorted(COLOUR) and src.frames["train"].shape == (72, 16, 16, 3)
    rows, cols, labels = src.pairs["train"]
    assert len(rows) == 72 and labels.sum() == 36
    (tmp_path / "train").mkdir()
    (tmp_path / "heldout").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "train" / "open_the_clock_app.png")
    with pytest.raises(ValueError, match="<goal>--<pos|neg>"):
        load_labelled_folder(tmp_path)
    with pytest.raises(ValueError, match="heldout subfolders"):
        load_labelled_folder(tmp_path / "train")


def test_calibrate_at_target_precision_per_goal(folder, tmp_path):
    cal = calibrate(ColourModel(), folder, target_precision=0.9, bootstrap=200, seed=3, out_dir=tmp_path / "out")
    (name, res), = cal.sections.items()
    assert set(res["threshold"]) == {"*", *COLOUR}
    for goal, entry in res["per_goal"].items():
        assert entry["source"] == "goal" and entry["train"]["precision"] >= 0.9
        assert 0.0 <= entry["threshold"] <= 1.0
    held = res["heldout"]
    lo, hi = held["precision_interval"]
    assert lo <= held["precision"] <= hi and held["recall_interval"][0] <= held["recall"] <= held["recall_interval"][1]
    assert res["train"]["precision"] >= 0.9
    # Seeded: the same seed gives the same intervals.
    again = calibrate(ColourModel(), folder, target_precision=0.9, bootstrap=200, seed=3)
    assert again.sections[name]["heldout"] == held
    # The snippet merges into a training config and sets every goal's β.
    snippet = tmp_path / "out" / f"reward_{name}.yaml"
    text = snippet.read_text()
    assert text.startswith("# vlm-rewards calibrate") and "held-out at these values: precision" in text
    cfg = load_config(None, set_files=[snippet])
    assert cfg.reward.threshold == res["threshold"]
    assert (tmp_path / "out" / "calibration.json").is_file()


def test_calibrate_best_f1_pooled_uses_train_only(folder, tmp_path):
    model = ColourModel()
    cal = calibrate(model, folder, per_goal=False, bootstrap=50)
    res = next(iter(cal.sections.values()))
    # The pooled β is the train split's best goal-mean-F1 β, computed independently here.
    src = load_labelled_folder(folder)
    scorer = RewardScorer(model, goal_set=src.goals)
    rows, cols, labels = src.pairs["train"]
    p = scorer.score(src.frames["train"][rows], [src.goals[c] for c in cols]).score
    assert res["threshold"] == pytest.approx(best_goal_f1(labels, p, cols)["threshold"], abs=1e-4)
    # Held-out labels never move the choice.
    flipped = calibrate(model, make_folder(tmp_path / "flip", flip_heldout=True), per_goal=False, bootstrap=50)
    assert next(iter(flipped.sections.values()))["threshold"] == res["threshold"]


def test_calibrate_tunes_temperature_and_checks_arguments(folder):
    cal = calibrate(ColourModel(), folder, tune_temperature=True, bootstrap=20)
    res = next(iter(cal.sections.values()))
    assert res["temperature"] in [g["temperature"] for g in res["tau_grid"]] and len(res["tau_grid"]) == 5
    assert "temperature" in cal.snippet(next(iter(cal.sections)))["reward"]
    with pytest.raises(ValueError, match="target_precision"):
        calibrate(ColourModel(), folder, target_precision=1.5)
    with pytest.raises(ValueError, match="binary reward"):
        calibrate(ColourModel(), folder, reward="cosine")


def test_per_goal_thresholds_in_the_scorer():
    model = ColourModel()
    rng = np.random.default_rng(0)
    frames = np.stack([_frame("open the clock app", "open the camera app", 0.5, rng)] * 2)
    goals = ["open the clock app", "open the camera app"]
    scorer = RewardScorer(model, goal_set=list(COLOUR), threshold={"*": 1.0, " Open the Clock app": 0.0})
    out = scorer.score(frames, goals)
    assert out.reward.tolist() == [1.0, 0.0]
    assert scorer.threshold_for("open the clock app") == 0.0 and scorer.threshold_for("open the camera app") == 1.0
    assert scorer.settings()["threshold"] == {"*": 1.0, "Open the Clock app": 0.0}
    # A per-goal β equal to the scalar one fires on exactly the same frames.
    beta = float(out.score[1])
    same = RewardScorer(model, goal_set=list(COLOUR), threshold=beta).score(frames, goals)
    mapped = RewardScorer(model, goal_set=list(COLOUR), threshold={"*": beta}).score(frames, goals)
    assert same.reward.tolist() == mapped.reward.tolist()
    with pytest.raises(ValueError, match=r"threshold\['a'\] must be in \[0, 1\]"):
        RewardScorer(model, goal_set=list(COLOUR), threshold={"a": 2})
    with pytest.raises(ValueError, match="two thresholds"):
        RewardScorer(model, goal_set=list(COLOUR), threshold={"a b": 0.2, "A  B": 0.3})


def test_config_threshold_mapping_and_set_file(tmp_path):
    cfg = load_config(None, ['reward.threshold={"open the clock app": 0.7, "*": 0.4}'])
    assert cfg.reward.threshold == {"open the clock app": 0.7, "*": 0.4}
    assert load_config(None).reward.threshold == 0.5
    with pytest.raises(ValueError, match="does not have"):
        load_config(None, ['reward.threshold={"open the klock app": 0.7}'])
    snippet = tmp_path / "s.yaml"
    snippet.write_text(yaml.safe_dump({"reward": {"threshold": {"*": 0.3}, "temperature": 0.02}}))
    cfg = load_config(None, ["reward.temperature=0.05"], set_files=[snippet])
    assert cfg.reward.threshold == {"*": 0.3} and cfg.reward.temperature == 0.05  # --set wins


def test_cli_calibrate(folder, tiny_clip_dir, tmp_path):
    from vlm_rewards.agents.config import load_config as _  # noqa: F401

    result = CliRunner().invoke(app, ["calibrate", "-m", str(tiny_clip_dir), "-d", str(folder), "-o", str(tmp_path),
                                      "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    assert "train precision" in result.output and "held-out precision" in result.output and "snippet:" in result.output
    assert list(tmp_path.glob("reward_*.yaml"))
    bad = CliRunner().invoke(app, ["calibrate", "-m", str(tiny_clip_dir), "-d", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "neither an evaluation set nor a folder" in bad.output


def test_unreachable_target_is_reported_not_guessed(tmp_path):
    from vlm_rewards.evaluation.calibrate import LabelledFrames

    rng = np.random.default_rng(0)
    goals = sorted(COLOUR)
    # Labels opposite to the colours: the frames the model likes most are negatives, so no
    # β reaches precision 0.9.
    frames = np.stack([_frame(goals[0], goals[1], w, rng) for w in (1.0, 0.95, 0.0, 0.05)])
    pairs = (np.arange(4), np.zeros(4, dtype=np.int64), np.array([False, False, True, True]))
    src = LabelledFrames("upside-down", goals, None, {"train": frames, "heldout": frames},
                         {"train": pairs, "heldout": pairs})
    cal = calibrate(ColourModel(), src, target_precision=0.9, bootstrap=20, out_dir=tmp_path)
    res = cal.sections["upside-down"]
    assert res["threshold"] is None and res["max_train_precision"] == pytest.approx(0.5)
    assert "no β reaches precision 0.9" in res["unreachable"]
    assert not list(tmp_path.glob("reward_*.yaml")) and (tmp_path / "calibration.json").is_file()


def test_negatives_from_extends_the_pool_after_the_section_goals():
    from vlm_rewards.envs import goals_from_spec
    from vlm_rewards.envs import negative_pool
    from vlm_rewards.evaluation.core import RewardSpec

    common = goals_from_spec("phone:common")
    pool = negative_pool(common, "phone:diverse")
    assert pool[: len(common)] == common  # the section's goal indices stay valid
    assert len(pool) == len(goals_from_spec("phone:diverse")) == len(set(pool))
    assert negative_pool(["Open the CLOCK app"], "phone:common").count("open the clock app") == 0  # compared as goals
    assert negative_pool(common, None) == common
    assert RewardSpec(negatives_from="phone:diverse").settings()["negatives_from"] == "phone:diverse"
    with pytest.raises(ValueError):
        RewardSpec(negatives_from="nope:nothing")


def _goal_population(n_goals, rng, hard_every=3):
    """Scores of (frame, goal) pairs for goals of one population: every ``hard_every``-th goal
    has confusable negatives (scores up to 0.95); the others' negatives stay below 0.5."""
    scores, labels, cols = [], [], []
    for g in range(n_goals):
        hard = g % hard_every == 0
        pos = rng.uniform(0.55, 1.0, 40)
        neg = rng.uniform(0.0, 0.95 if hard else 0.5, 160)
        scores += [pos, neg]
        labels += [np.ones(40, bool), np.zeros(160, bool)]
        cols += [np.full(200, g)]
    return np.concatenate(scores), np.concatenate(labels), np.concatenate(cols)


def test_goal_quantile_leaves_a_margin_for_new_goals():
    from vlm_rewards.evaluation.calibrate import _choose, _choose_for_new_goals

    rng = np.random.default_rng(0)
    train = _goal_population(9, rng)
    plain = _choose(train[1], train[0], 0.9)
    robust = _choose_for_new_goals(train[1], train[0], train[2], 0.9, 0.9, 500, np.random.default_rng(1))
    assert robust["threshold"] > plain["threshold"] and robust["recall"] < plain["recall"]
    assert robust["precision"] >= 0.9 and robust["goal_quantile_precision"] >= 0.9

    def precision(data, beta):
        fired = data[0] > beta
        return (fired & data[1]).sum() / max(fired.sum(), 1)

    # New goals of the same population, drawn in small groups as a held-out split is: the
    # plain β misses the target in more of them than the margin does.
    groups = [_goal_population(3, rng, hard_every=int(rng.integers(1, 6))) for _ in range(200)]
    miss_plain = np.mean([precision(d, plain["threshold"]) < 0.9 for d in groups])
    miss_robust = np.mean([precision(d, robust["threshold"]) < 0.9 for d in groups])
    assert miss_robust < miss_plain
    # One goal gives nothing to resample; a target no resampling reaches gives None.
    one = (train[0][train[2] == 0], train[1][train[2] == 0], train[2][train[2] == 0])
    assert _choose_for_new_goals(one[1], one[0], one[2], 0.9, 0.9, 50, rng) is None


def test_calibrate_goal_quantile_argument(folder, tmp_path):
    cal = calibrate(ColourModel(), folder, target_precision=0.8, goal_quantile=0.9, bootstrap=50, out_dir=tmp_path)
    (name, res), = cal.sections.items()
    assert cal.settings["goal_quantile"] == 0.9
    assert res["goal_quantile_precision"] >= 0.8 and "training-goal resamplings" in (tmp_path / f"reward_{name}.yaml").read_text()
    plain = calibrate(ColourModel(), folder, target_precision=0.8, bootstrap=50).sections[name]
    assert plain["goal_quantile_precision"] is None and res["pooled_threshold"] > plain["pooled_threshold"]
    with pytest.raises(ValueError, match="goal_quantile"):
        calibrate(ColourModel(), folder, goal_quantile=0.9)
    with pytest.raises(ValueError, match="goal_quantile"):
        calibrate(ColourModel(), folder, target_precision=0.9, goal_quantile=2.0)


def test_min_recall_trades_precision_for_recall_on_goals_the_target_leaves_silent():
    from vlm_rewards.evaluation.calibrate import _goal_choice

    rng = np.random.default_rng(3)
    # A hard goal: its top scores are mostly negatives, so precision 0.9 is reached only at a
    # β that recovers a sliver of its positives; precision 0.6 recovers most of them.
    labels = np.r_[np.ones(40, bool), np.zeros(160, bool)]
    scores = np.r_[rng.uniform(0.5, 0.9, 40), rng.uniform(0.0, 0.6, 150), rng.uniform(0.85, 0.95, 10)]
    scores[0] = 0.99  # one positive above every negative
    strict = _goal_choice(labels, scores, 0.9, None, None)
    assert strict["recall"] < 0.1 and "fallback" not in strict
    floor = _goal_choice(labels, scores, 0.9, 0.3, 0.6)
    assert floor["fallback"] and floor["recall"] >= 0.5 and floor["precision"] >= 0.6 and floor["threshold"] < strict["threshold"]
    # A goal the target already serves keeps its β.
    easy = np.r_[rng.uniform(0.6, 1.0, 40), rng.uniform(0.0, 0.5, 160)]
    assert _goal_choice(labels, easy, 0.9, 0.3, 0.6) == _goal_choice(labels, easy, 0.9, None, None)


def test_calibrate_min_recall_arguments_and_snippet(folder, tmp_path):
    cal = calibrate(ColourModel(), folder, target_precision=0.99, min_recall=0.95, fallback_precision=0.5, bootstrap=20,
                    out_dir=tmp_path)
    (name, res), = cal.sections.items()
    from vlm_rewards.evaluation.calibrate import FALLBACK_SOURCE

    fell = [g for g, e in res["per_goal"].items() if e["source"] == FALLBACK_SOURCE]
    snippet = yaml.safe_load((tmp_path / f"reward_{name}.yaml").read_text())["reward"]["threshold"]
    # Goals that fell back keep their own β in the snippet (not the pooled one).
    assert fell and all(snippet[g] == res["per_goal"][g]["threshold"] for g in fell)
    assert cal.settings["min_recall"] == 0.95 and "goals below recall 0.95" in (tmp_path / f"reward_{name}.yaml").read_text()
    for bad in (dict(min_recall=0.3), dict(fallback_precision=0.5), dict(min_recall=0.3, fallback_precision=0.95)):
        with pytest.raises(ValueError, match="min_recall|fallback_precision"):
            calibrate(ColourModel(), folder, target_precision=0.9, bootstrap=20, **bad)
    with pytest.raises(ValueError, match="min_recall"):
        calibrate(ColourModel(), folder, min_recall=0.3, fallback_precision=0.5, bootstrap=20)
