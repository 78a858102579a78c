import json

import numpy as np
import pytest

from vlm_rewards import rewards as R
from vlm_rewards.data import collect_evalset, load_evalset
from vlm_rewards.evaluation import RewardSpec, choose_negatives, evaluate, render_template, scaling_study
from vlm_rewards.evaluation.negatives import negative_indices
from vlm_rewards.evaluation.scores import Encoder, contrastive_scores, cosine_scores, goal_baseline_scores
from vlm_rewards.scoring import RewardScorer


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return collect_evalset(tmp_path_factory.mktemp("evalset"), sections=("phone:common", "babyai"), frames=32,
                           heldout_frames=24, seed=1)


@pytest.fixture(scope="module")
def frames(dataset):
    return load_evalset(dataset, sections=["phone:common"]).sections["phone:common"].splits["train"].frames[:12]


@pytest.mark.parametrize("k", [3, "all"])
def test_vectorised_contrastive_equals_the_scorer(tiny_model, frames, k):
    goal_set = [f"open the {a} app" for a in ("clock", "camera", "maps", "phone", "settings")]
    enc = Encoder(tiny_model, batch_size=5)
    img = enc.images(frames)
    sims = img @ enc.texts(goal_set).T
    neg = negative_indices(goal_set, goal_set, k, seed=7)
    p = contrastive_scores(sims, range(len(goal_set)), neg, temperature=0.05)
    scorer = RewardScorer(tiny_model, goal_set=goal_set, num_negatives=None if k == "all" else k, temperature=0.05, seed=7)
    for j, goal in enumerate(goal_set):
        assert [goal_set[i] for i in neg[j]] == scorer.negatives_for(goal)
        expected = scorer.score_embeddings(img, [goal] * len(frames)).score
        np.testing.assert_allclose(p[:, j], expected, atol=1e-5)
    np.testing.assert_allclose(scorer.score(frames[:2], goal_set[0]).score, p[:2, 0], atol=1e-5)  # from pixels too
    cosine = RewardScorer(tiny_model, reward="cosine").score_embeddings(img, [goal_set[1]] * len(frames)).score
    np.testing.assert_allclose(cosine_scores(sims, [1])[:, 0], cosine, atol=1e-5)


def test_each_distinct_frame_is_encoded_once(tiny_model, frames):
    enc = Encoder(tiny_model, batch_size=4)
    doubled = np.concatenate([frames[:5], frames[:5], frames[5:7]])
    emb = enc.images(doubled, key="k")
    assert enc.frames_encoded == len({f.tobytes() for f in doubled})
    np.testing.assert_array_equal(emb[:5], emb[5:10])
    assert enc.images(doubled, key="k") is emb and enc.frames_encoded == len({f.tobytes() for f in doubled})
    direct = tiny_model.encode_images(doubled[10:]).numpy()
    np.testing.assert_allclose(emb[10:], direct, atol=1e-5)


def test_vectorised_goal_baseline_equals_the_reward_function(tiny_model, frames):
    goals = ["open the clock app", "open the maps app"]
    enc = Encoder(tiny_model)
    img, text, base = enc.images(frames), enc.texts(goals), enc.texts(["a phone screen"])[0]
    for alpha in (0.0, 0.5, 1.0):
        r = goal_baseline_scores(img @ text.T, text, img @ base, base, [0, 1], alpha)
        for j in range(2):
            expected = R.goal_baseline(img, text[j], base, alpha=alpha).reward.numpy()
            np.testing.assert_allclose(r[:, j], expected, atol=1e-5)


def test_templates_and_hard_negatives():
    assert render_template("Open the {task} app", "phone", "open the maps app") == "Open the maps app"
    assert render_template("a {colour} {object} up close", "house", "go near the red box") == "a red box up close"
    assert render_template("a {colour} {object}", "babyai", "go to the grey key") == "a grey key"
    with pytest.raises(ValueError, match=r"\{colour\}.*fields for phone"):
        render_template("a {colour} app", "phone", "open the maps app")
    with pytest.raises(ValueError, match="named fields"):
        render_template("open {}", "phone", "open the maps app")
    house = ["go near the red ball", "go near the red box", "go near the blue key", "go near the blue ball", "go near the barrel"]
    hard = choose_negatives("go near the red ball", house, 2, choice="hard", domain="house")
    assert hard == ["go near the blue ball", "go near the red box"]
    uniform = choose_negatives("go near the red ball", house, 2, seed=3)
    assert uniform == R.sample_negatives("go near the red ball", house, 2, seed=3)
    with pytest.raises(ValueError, match="negatives=9"):
        choose_negatives("go near the red ball", house, 9)
    with pytest.raises(ValueError, match="negative_choice"):
        choose_negatives("go near the red ball", house, 2, choice="nearest")


def test_evaluate_is_deterministic_and_writes_a_report(tiny_model, dataset, tmp_path):
    from PIL import Image

    ev = evaluate(tiny_model, dataset, templates="builtin", negatives_study=True, out_dir=tmp_path / "a")
    again = evaluate(tiny_model, dataset, templates="builtin", negatives_study=True, sections=["phone:common"])
    first = ev.metrics["sections"]["phone:common"]
    assert json.dumps(again.metrics["sections"]["phone:common"], sort_keys=True) == json.dumps(first, sort_keys=True)
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert m == json.loads(json.dumps(ev.metrics)) and list(ev.metrics["sections"]) == ["phone:common", "babyai"]
    assert set(json.loads((tmp_path / "a" / "timing.json").read_text())) >= {"total", "encode_and_similarities"}
    phone = m["sections"]["phone:common"]
    assert phone["splits"]["heldout"]["goals"] == 3 and phone["splits"]["train"]["goals"] == 7
    assert set(phone["splits"]["heldout"]["per_goal"]) == set(phone["goals"]["heldout"])
    assert 0.0 <= phone["splits"]["heldout"]["pooled"]["ap"] <= 1.0
    cal = phone["calibration"]
    assert cal["temperature"] in [g["temperature"] for g in cal["grid"]] and len(cal["grid"]) == 5
    # τ from the pooled best F1, β from the training goals' mean F1 (the pooled β beside it)
    chosen = max(cal["grid"], key=lambda g: g["train_best_f1"])
    assert cal["temperature"] == chosen["temperature"] and cal["pooled_threshold"] == chosen["threshold"]
    assert 0.0 <= cal["heldout"]["f1_at_pooled_threshold"] <= 1.0
    assert [r["template"] for r in phone["templates"]][-1] == "Screenshot of {task} on Android"
    counts = [(r["negatives"], r["choice"]) for r in phone["negatives"]]
    choices = ["uniform", "hard", "counterfactual", "counterfactual+uniform"]
    assert counts == [(k, c) for k in (1, 3, 7) for c in choices] + [("all", "uniform")]
    assert all("skipped" not in r for r in phone["negatives"])
    sens = phone["sensitivity"]
    assert sens["pooled"]["pairs"] == sens["train"]["pairs"] + sens["heldout"]["pairs"] > 0
    assert 0.0 <= sens["pooled"]["win_all"] <= sens["pooled"]["beaten"] <= 1.0
    assert m["sensitivity"]["pairs"] == sum(s["sensitivity"]["pooled"]["pairs"] for s in m["sections"].values())
    report = (tmp_path / "a" / "report.md").read_text()
    for png in ("pr_curves.png", "histograms.png", "templates.png", "negatives.png"):
        assert f"]({png})" in report
        with Image.open(tmp_path / "a" / png) as img:
            img.verify()
            assert img.format == "PNG" and img.size[0] > 200
    assert "Screenshot of {task} on Android" in report
    assert "## Instruction sensitivity" in report and "| all sections | pooled |" in report


def test_goal_retrieval_counts_frames_with_one_goal_achieved(tiny_model, dataset):
    from vlm_rewards.evaluation.prompts import render_templates

    ev = evaluate(tiny_model, dataset, sections=["phone:common"])
    r = ev.metrics["sections"]["phone:common"]["retrieval"]
    sec = load_evalset(dataset, sections=["phone:common"]).sections["phone:common"]
    enc = Encoder(tiny_model)
    text = enc.texts(render_templates(RewardSpec().template, "phone", list(sec.goals))).astype(np.float64)
    for split in ("train", "heldout"):
        labels = sec.splits[split].labels
        sims = enc.images(sec.splits[split].frames).astype(np.float64) @ text.T
        ours = set(sec.split_goals(split))
        rows = [i for i in range(len(labels)) if labels[i].sum() == 1 and sec.goals[labels[i].argmax()] in ours]
        assert r[split]["frames"] == len(rows) > 0
        assert r[split]["top1"] == pytest.approx(np.mean([sims[i].argmax() == labels[i].argmax() for i in rows]))
        assert sum(g["frames"] for g in r[split]["per_goal"].values()) == len(rows)
        assert set(r[split]["per_goal"]) <= ours
        for goal, g in r[split]["per_goal"].items():
            j = sec.goals.index(goal)
            misses = [sims[i].argmax() for i in rows if labels[i].argmax() == j and sims[i].argmax() != j]
            if not misses:
                assert g["mistaken_for"] is None and g["top1"] == 1.0
            else:
                worst = np.bincount(misses).argmax()
                assert g["mistaken_for"] == [sec.goals[worst], misses.count(worst)]


def test_compositional_holdout_summary_on_house(tiny_model, dataset, tmp_path):
    from vlm_rewards.data import COMPOSITIONAL_HOLDOUT

    data = collect_evalset(tmp_path, sections=("house:find",), frames=160, heldout_frames=16, seed=2)
    res = evaluate(tiny_model, data).metrics["sections"]["house:find"]
    comp = res["compositional"]
    assert sorted(comp["goals"]) == sorted(f"go near the {o}" for o in COMPOSITIONAL_HOLDOUT)
    per_goal = res["splits"]["train"]["per_goal"]  # all three are training goals of the agent
    aps = [per_goal[g]["ap"] for g in comp["goals"] if per_goal[g]["ap"] is not None]
    assert comp["mean_ap"] == (pytest.approx(np.mean(aps)) if aps else None)
    ret = res["retrieval"]["train"]["per_goal"]
    assert comp["retrieval_frames"] == sum(ret[g]["frames"] for g in comp["goals"] if g in ret)
    assert comp["mistaken_for"] == {g: [*ret[g]["mistaken_for"], ret[g]["frames"]] for g in comp["goals"]
                                    if g in ret and ret[g]["mistaken_for"]}
    assert evaluate(tiny_model, dataset).metrics["sections"]["phone:common"]["compositional"] is None


def test_goal_set_and_section_checks(tiny_model, dataset):
    from vlm_rewards.envs import goals

    ev = evaluate(tiny_model, dataset, goal_set=goals("phone", "all"), reward="cosine")
    assert list(ev.metrics["sections"]) == ["phone:common"]
    with pytest.raises(ValueError, match="goal_set .*does not match.*phone:common"):
        evaluate(tiny_model, dataset, goal_set=goals("phone", "all", apps="diverse"))
    with pytest.raises(ValueError, match="no section 'house:find'"):
        evaluate(tiny_model, dataset, sections=["house:find"])
    with pytest.raises(ValueError, match=r"\{task\}.*babyai"):
        evaluate(tiny_model, dataset, template="Open {task}")
    with pytest.raises(ValueError, match="negatives_study needs reward='contrastive'"):
        evaluate(tiny_model, dataset, reward="cosine", negatives_study=True)
    with pytest.raises(ValueError, match="reward must be one of"):
        RewardSpec(reward="mineclip")
    with pytest.raises(ValueError, match="negatives"):
        RewardSpec(negatives=0)


def test_goal_baseline_and_cosine_rewards_calibrate_beta_only(tiny_model, dataset):
    ev = evaluate(tiny_model, dataset, sections=["phone:common"], reward="goal_baseline", alpha=0.5)
    cal = ev.metrics["sections"]["phone:common"]["calibration"]
    assert cal["temperature"] is None and len(cal["grid"]) == 1 and cal["threshold"] is not None


def test_scaling_study(tiny_clip_dir, tiny_siglip_dir, dataset, tmp_path):
    from PIL import Image

    result = scaling_study([str(tiny_siglip_dir), str(tiny_clip_dir)], dataset, sections=["phone:common"],
                           templates=["{goal}", "Open {task}"], out_dir=tmp_path)
    params = [r["num_parameters"] for r in result["models"]]
    assert params == sorted(params) and len(params) == 2
    for r in result["models"]:
        s = r["sections"]["phone:common"]
        assert 0.0 <= s["ap"] <= 1.0 and [t["template"] for t in s["templates"]] == ["{goal}", "Open {task}"]
        assert 0.0 <= s["top1"] <= 1.0 and 0.0 <= s["calibrated_ap"] <= 1.0
    with Image.open(tmp_path / "scaling.png") as img:
        img.verify()
    md = (tmp_path / "scaling.md").read_text()
    assert "](scaling.png)" in md and "`Open {task}`" in md and "phone:common top-1" in md
    assert json.loads((tmp_path / "scaling.json").read_text())["models"][0]["num_parameters"] == params[0]


@pytest.mark.parametrize("tau", [0.5, 0.01, 0.0005])  # the last underflows exp and takes the logsumexp path
def test_contrastive_scores_match_the_softmax_formula(tau):
    rng = np.random.default_rng(0)
    sims = rng.uniform(-1, 1, (300, 9))
    neg = negative_indices([str(i) for i in range(4)], [str(i) for i in range(9)], 3, seed=2)
    p = contrastive_scores(sims, range(4), neg, tau)
    for j in range(4):
        logits = np.concatenate([sims[:, [j]], sims[:, neg[j]]], axis=1) / tau
        logits -= logits.max(1, keepdims=True)
        expected = np.exp(logits[:, 0]) / np.exp(logits).sum(1)
        np.testing.assert_allclose(p[:, j], expected, rtol=1e-9, atol=1e-12)
