import numpy as np
import pytest

from vlm_rewards._validation import goal_key
from vlm_rewards.envs.registry import get_domain, load_hook
from vlm_rewards.evaluation import choose_negatives
from vlm_rewards.evaluation.core import instruction_sensitivity
from vlm_rewards.evaluation.negatives import counterfactuals_in, negative_indices


def _differs_in_one_word(a: str, b: str) -> bool:
    wa, wb = a.split(), b.split()
    return len(wa) == len(wb) and sum(x != y for x, y in zip(wa, wb)) == 1


def _house_attributes(goal):
    from vlm_rewards.envs.house.vocabulary import OBJECTS, parse_goal

    g = parse_goal(goal)
    out = [g.family]
    for name in g.objects:
        out += [OBJECTS[name].colour, OBJECTS[name].kind]
    return out


@pytest.mark.parametrize("domain", ["phone", "house", "babyai"])
def test_each_registered_domain_has_a_counterfactuals_hook(domain):
    assert callable(load_hook(get_domain(domain).counterfactuals))


@pytest.mark.parametrize("goal", ["go near the red ball", "go near the barrel", "pick up the green key",
                                  "pick up the medkit", "put the red box next to the barrel",
                                  "put the rubber duck next to the blue ball"])
def test_house_counterfactuals_change_one_attribute(goal):
    from vlm_rewards.envs.house.text import counterfactuals
    from vlm_rewards.envs.house.vocabulary import parse_goal

    cfs = counterfactuals(goal)
    assert cfs and goal not in cfs and len(set(cfs)) == len(cfs) and cfs == counterfactuals(goal)
    base = _house_attributes(goal)
    for cf in cfs:
        parse_goal(cf)  # a goal the house can pose
        attrs = _house_attributes(cf)
        assert len(attrs) == len(base) and sum(a != b for a, b in zip(attrs, base)) == 1, cf
    assert counterfactuals("  Go near the RED ball ") == counterfactuals("go near the red ball")
    if goal == "go near the red ball":
        assert {"go near the blue ball", "go near the red box", "go near the red key"} <= set(cfs)
        assert "go near the barrel" not in cfs  # a colour and a kind changed at once


def test_phone_counterfactuals_are_the_other_apps():
    from vlm_rewards.envs.phone.apps import DIVERSE_APPS
    from vlm_rewards.envs.phone.text import counterfactuals

    cfs = counterfactuals("Open the  Clock app")
    assert len(cfs) == len(DIVERSE_APPS) - 1 and "open the clock app" not in cfs
    assert "open the camera app" in cfs and all(_differs_in_one_word(c, "open the clock app") for c in cfs)


@pytest.mark.parametrize("goal", ["go to the red ball", "pick up the grey key", "open the blue door"])
def test_babyai_counterfactuals_change_colour_or_object(goal):
    from vlm_rewards.envs.babyai.text import counterfactuals

    cfs = counterfactuals(goal)
    assert cfs and goal not in cfs and len(set(cfs)) == len(cfs)
    assert all(_differs_in_one_word(c, goal) for c in cfs)
    if goal.startswith("pick up"):
        assert not any(c.endswith("door") for c in cfs)
    with pytest.raises(ValueError, match="goal must look like"):
        counterfactuals("go to the red ball next to the box")


HOUSE = ["go near the red ball", "go near the blue ball", "go near the red box", "go near the green ball",
         "go near the blue key", "go near the barrel", "go near the chair", "go near the grey box"]


def test_counterfactuals_in_keeps_the_goal_sets_spelling_and_drops_the_goal():
    goal_set = [*HOUSE, "Go near the RED ball"]
    cf = counterfactuals_in("go near the red ball", goal_set, "house")
    assert cf == ["go near the blue ball", "go near the green ball", "go near the red box"]
    with pytest.raises(ValueError, match="no counterfactuals hook"):
        counterfactuals_in("open the clock app", ["open the clock app"], "android")


def test_counterfactual_negatives_are_seeded_subsets():
    goal = "go near the red ball"
    cf = set(counterfactuals_in(goal, HOUSE, "house"))
    a = choose_negatives(goal, HOUSE, 2, choice="counterfactual", domain="house", seed=0)
    assert a == choose_negatives(goal, HOUSE, 2, choice="counterfactual", domain="house", seed=0)
    assert set(a) <= cf and len(a) == 2
    draws = {tuple(choose_negatives(goal, HOUSE, 2, choice="counterfactual", domain="house", seed=s)) for s in range(20)}
    assert len(draws) > 1  # the seed picks which of the three
    # More than there are: all counterfactuals, topped up uniformly from the goal set.
    five = choose_negatives(goal, HOUSE, 5, choice="counterfactual", domain="house", seed=1)
    assert cf <= set(five) and set(five) <= set(HOUSE) - {goal} and len(five) == 5
    mixed = choose_negatives(goal, HOUSE, 4, choice="counterfactual+uniform", domain="house", seed=2)
    assert len(mixed) == 4 and len(set(mixed) & cf) >= 2 and goal not in mixed
    assert choose_negatives(goal, HOUSE, "all", choice="counterfactual", domain="house") == sorted(set(HOUSE) - {goal})
    idx = negative_indices(HOUSE, HOUSE, 3, choice="counterfactual", domain="house", seed=0)
    assert idx.shape == (len(HOUSE), 3) and all(i not in row for i, row in enumerate(idx))
    with pytest.raises(ValueError, match="domain must name"):
        choose_negatives(goal, HOUSE, 2, choice="counterfactual")


def test_instruction_sensitivity_on_a_hand_built_case():
    goals = ["red ball", "blue ball", "red box"]
    cf = [[1, 2], [0], [0]]
    sims = np.array([
        [0.9, 0.5, 0.95],  # red ball holds: beats blue ball, loses to red box
        [0.1, 0.8, 0.2],   # blue ball holds: beats red ball
        [0.7, 0.1, 0.6],   # red box and red ball hold: they are not rivals on this frame
        [0.3, 0.2, 0.1],   # nothing holds
    ])
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]])
    r = instruction_sensitivity(sims, labels, goals, cf)
    # pairs: (0, red ball) beats 1 of 2; (1, blue ball) beats 1 of 1; (2, red ball) vs blue ball only: wins;
    # (2, red box) has no rival left.
    assert r["pairs"] == 3
    assert r["win_all"] == pytest.approx(2 / 3) and r["beaten"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert instruction_sensitivity(sims, labels, goals, [[], [], []]) == {"pairs": 0, "win_all": None, "beaten": None}
    with pytest.raises(ValueError, match="counterfactuals must list one entry per goal"):
        instruction_sensitivity(sims, labels, goals, cf[:2])
    assert goal_key("Red Ball") == goal_key("red ball")


class _Constant:
    """A fake VLM: every text and frame maps to the same unit vector."""

    logit_scale = 10.0
    special_tokens = ()
    image_size = (8, 8)
    device = "cpu"

    def encode_texts(self, texts):
        import torch

        return torch.nn.functional.normalize(torch.ones(len(texts), 4), dim=-1)

    def encode_images(self, frames):
        import torch

        return torch.nn.functional.normalize(torch.ones(len(frames), 4), dim=-1)


def test_scorer_draws_negatives_with_a_negative_sampler():
    import functools

    from vlm_rewards.envs import house
    from vlm_rewards.models.base import VisionLanguageModel
    from vlm_rewards.scoring import RewardScorer

    VisionLanguageModel.register(_Constant)
    goals = house.goals("all", family="find")
    sampler = functools.partial(choose_negatives, choice="counterfactual", domain="house")
    scorer = RewardScorer(_Constant(), goal_set=goals, num_negatives=4, negative_sampler=sampler, seed=3)
    negs = scorer.negatives_for("go near the red ball")
    assert negs == choose_negatives("go near the red ball", goals, 4, "counterfactual", "house", seed=3)
    assert set(negs) <= set(counterfactuals_in("go near the red ball", goals, "house"))
    assert scorer.negatives_for("GO NEAR the red ball ") == negs  # one draw per goal, however it is spelled
    assert "choose_negatives(choice='counterfactual', domain='house')" == scorer.settings()["negative_sampler"]
    uniform = RewardScorer(_Constant(), goal_set=goals, num_negatives=4, seed=3)
    assert uniform.settings()["negative_sampler"] is None
    with pytest.raises(TypeError, match="negative_sampler"):
        RewardScorer(_Constant(), goal_set=goals, negative_sampler="counterfactual")
    with pytest.raises(ValueError, match="goal_set"):
        RewardScorer(_Constant(), negatives=["a room"], negative_sampler=sampler)
    cheat = RewardScorer(_Constant(), goal_set=goals, negative_sampler=lambda goal, gs, k, seed: [goal.upper()])
    with pytest.raises(ValueError, match="own negatives"):
        cheat.negatives_for("go near the red ball")


def test_train_config_negative_choice_reaches_the_scorer_settings():
    from vlm_rewards.agents.config import TrainConfig
    from vlm_rewards.agents.envs import scorer_settings

    base = {"name": "x", "env": {"id": "vlm_rewards/House-v0", "kwargs": {"family": "find"}}}
    with pytest.raises(ValueError, match="num_negatives"):
        TrainConfig.model_validate({**base, "reward": {"negative_choice": "counterfactual"}})
    with pytest.raises(ValueError, match="negative_choice"):
        TrainConfig.model_validate({**base, "reward": {"negative_choice": "opposites", "num_negatives": 3}})
    config = TrainConfig.model_validate({**base, "reward": {"negative_choice": "counterfactual+uniform", "num_negatives": 6}})
    sampler = scorer_settings(config.reward, config.env)["negative_sampler"]
    assert sampler.keywords == {"choice": "counterfactual+uniform", "domain": "house"}
    goals = scorer_settings(config.reward, config.env)["goal_set"]
    assert sampler("go near the red ball", goals, 6, seed=0) == choose_negatives(
        "go near the red ball", goals, 6, "counterfactual+uniform", "house", seed=0)
    plain = TrainConfig.model_validate({**base})
    assert scorer_settings(plain.reward, plain.env)["negative_sampler"] is None
