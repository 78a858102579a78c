"""State negatives: the goal's objects in a state that does not complete the goal join its
negatives, offline (evaluate, calibrate) and online (the training config's scorer)."""

import numpy as np
import pytest

from vlm_rewards.evaluation.negatives import (
    choose_negatives,
    negatives_with_state,
    offers_state_negatives,
    state_negative_prompts,
    with_state_negatives,
)
from vlm_rewards.evaluation.scores import contrastive_scores


def test_prompts_follow_each_domains_template():
    assert state_negative_prompts(["go near the red ball", "pick up the medkit"], "house") == [
        "a red ball in a room", "a medkit in a room"]
    assert state_negative_prompts(["go to the grey key"], "babyai") == ["a grid with a grey key"]
    # Two place goals about one object share their state negative; each keeps its own column.
    assert state_negative_prompts(["put the red box next to the barrel", "put the red box next to the chair"],
                                  "house") == ["a red box in a room"] * 2
    assert offers_state_negatives("house") and not offers_state_negatives("phone")
    with pytest.raises(ValueError, match="state_negative"):
        state_negative_prompts(["open the clock app"], "phone")
    with pytest.raises(TypeError, match="domain"):
        state_negative_prompts(["go near the red ball"], None)


def test_a_frame_that_matches_the_state_negative_is_not_a_success():
    # Frame 0 shows the goal state, frame 1 the object across the room: against the other
    # goal alone both look like the goal; the state negative takes frame 1's mass.
    image = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]])
    goals = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # the goal, another goal
    sims = image @ goals.T
    neg = np.array([[1]])
    plain = contrastive_scores(sims, [0], neg, 0.1)
    state = np.array([[0.0, 1.0, 0.0]])  # "a red ball in a room"
    sims2, neg2 = with_state_negatives(sims, neg, ["go near the red ball"], "house", image, state)
    assert sims2.shape == (2, 3) and neg2.tolist() == [[1, 2]]
    scored = contrastive_scores(sims2, [0], neg2, 0.1)
    assert plain[1, 0] > 0.99 and scored[1, 0] < 0.5 < scored[0, 0]
    with pytest.raises(ValueError, match="per goal"):
        with_state_negatives(sims, neg, ["go near the red ball"], "house", image, np.zeros((2, 3)))


def test_sampler_adds_the_state_negative_to_the_goal_sets_draw():
    from vlm_rewards.envs import house

    goals = house.goals("all", family="find")
    negs = negatives_with_state("go near the red ball", goals, 3, seed=2, choice="uniform", domain="house")
    assert negs[:-1] == choose_negatives("go near the red ball", goals, 3, "uniform", "house", seed=2)
    assert negs[-1] == "a red ball in a room" and len(negs) == 4


def test_train_config_turns_state_negatives_on_for_domains_that_offer_them():
    from vlm_rewards.agents.config import TrainConfig
    from vlm_rewards.agents.envs import scorer_settings

    house = {"name": "x", "env": {"id": "vlm_rewards/House-v0", "kwargs": {"family": "find"}}}
    config = TrainConfig.model_validate({**house, "reward": {"state_negatives": True}})
    settings = scorer_settings(config.reward, config.env)
    sampler = settings["negative_sampler"]
    assert sampler.keywords == {"choice": "uniform", "domain": "house"}
    assert sampler("go near the red ball", settings["goal_set"], None, seed=0)[-1] == "a red ball in a room"
    with pytest.raises(ValueError, match="state_negative"):
        TrainConfig.model_validate({"name": "x", "env": {"id": "vlm_rewards/Phone-v0"}, "reward": {"state_negatives": True}})
    with pytest.raises(ValueError, match="state_negatives"):
        TrainConfig.model_validate({**house, "reward": {"state_negatives": True, "function": "cosine"}})


def test_scorer_scores_with_state_negatives(tiny_model):
    import functools

    from vlm_rewards.envs import house
    from vlm_rewards.scoring import RewardScorer

    goals = house.goals("all", family="find")
    sampler = functools.partial(negatives_with_state, choice="uniform", domain="house")
    scorer = RewardScorer(tiny_model, goal_set=goals, negative_sampler=sampler, threshold=0.5)
    assert scorer.negatives_for("go near the red ball")[-1] == "a red ball in a room"
    assert len(scorer.negatives_for("go near the red ball")) == len(goals)
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    out = scorer.score(frames, "go near the red ball")
    plain = RewardScorer(tiny_model, goal_set=goals, threshold=0.5).score(frames, "go near the red ball")
    # One more negative in the denominator: p can only fall.
    assert np.all(np.asarray(out.score) <= np.asarray(plain.score) + 1e-6)


def test_evaluate_and_calibrate_with_state_negatives(tiny_clip_dir, tmp_path):
    from vlm_rewards.data import collect_evalset
    from vlm_rewards.evaluation import calibrate, evaluate
    from vlm_rewards.evaluation.core import RewardSpec

    data = collect_evalset(tmp_path / "ev", sections=("house:find", "phone:common"), frames=24, heldout_frames=24, seed=1,
                           image_size=32)
    plain = evaluate(str(tiny_clip_dir), data, sections=["house:find", "phone:common"])
    state = evaluate(str(tiny_clip_dir), data, sections=["house:find", "phone:common"], state_negatives=True)
    assert state.metrics["settings"]["state_negatives"] is True
    # Phone offers none: its scores do not change; the house's do.
    p, s = plain.metrics["sections"], state.metrics["sections"]
    assert s["phone:common"]["splits"]["train"]["pooled"] == p["phone:common"]["splits"]["train"]["pooled"]
    assert s["house:find"]["splits"]["train"]["pooled"] != p["house:find"]["splits"]["train"]["pooled"]
    cal = calibrate(str(tiny_clip_dir), data, sections=["house:find"], state_negatives=True, bootstrap=10)
    assert cal.settings["state_negatives"] is True
    name = next(n for n, r in cal.sections.items() if r["threshold"] is not None)
    assert cal.snippet(name)["reward"]["state_negatives"] is True
    with pytest.raises(ValueError, match="state_negatives"):
        RewardSpec(reward="cosine", state_negatives=True)
