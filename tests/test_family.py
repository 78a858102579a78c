import json

import pytest

from vlm_rewards.data import collect_corpus
from vlm_rewards.family import compute_matched, num_parameters, train_family


def test_compute_matched_gives_larger_models_more_samples_and_smaller_steps():
    plan = compute_matched(["xxs", "xs", "s", "ms", "m", "l"], base="s", base_steps=1000)
    params = [plan[s]["num_parameters"] for s in plan]
    steps = [plan[s]["steps"] for s in plan]
    lrs = [plan[s]["lr"] for s in plan]
    assert params == sorted(params) and steps == sorted(steps) and lrs == sorted(lrs, reverse=True)
    assert plan["s"]["steps"] == 1000 and plan["s"]["lr"] == 1e-3
    assert params[-1] / params[0] > 30
    # exponent 1: samples proportional to parameters; 0: the same steps for all.
    linear = compute_matched(["xs", "s"], base="s", base_steps=1000, exponent=1.0)
    assert linear["xs"]["steps"] == round(1000 * num_parameters("xs") / num_parameters("s"))
    assert {p["steps"] for p in compute_matched(["xs", "s"], exponent=0.0).values()} == {2000}


@pytest.mark.parametrize("kwargs, named", [
    (dict(sizes=["xs", "huge"]), "sizes"), (dict(sizes="xs"), "sizes"), (dict(sizes=["xs"], base="q"), "base"),
    (dict(sizes=["xs"], base_steps=0), "base_steps"), (dict(sizes=["xs"], exponent=-1), "exponent"),
    (dict(sizes=["xs"], base_lr=0), "base_lr"),
])
def test_compute_matched_names_bad_arguments(kwargs, named):
    with pytest.raises(ValueError, match=named):
        compute_matched(**kwargs)


def test_train_family_on_a_tiny_corpus(tmp_path):
    corpus = collect_corpus(tmp_path / "corpus", domains=("phone",), frames_per_domain=96, seed=0)
    out = train_family(corpus, tmp_path / "family", ["xxs", "xs"], base="xs", base_steps=8, batch_size=16,
                       checkpoint_every=4)
    summary = json.loads((out / "family.json").read_text())
    steps = {size: len(json.loads((out / size / "training_log.json").read_text())["history"]) for size in ("xxs", "xs")}
    assert steps["xs"] == 8 and 1 <= steps["xxs"] < steps["xs"]
    assert set(summary["results"]) == {"xxs", "xs"} and summary["results"]["xs"]["heldout_loss"] is not None
    # Re-running skips sizes already trained.
    before = (out / "xs" / "model.safetensors").stat().st_mtime_ns
    train_family(corpus, tmp_path / "family", ["xxs", "xs"], base="xs", base_steps=8, batch_size=16, checkpoint_every=4)
    assert (out / "xs" / "model.safetensors").stat().st_mtime_ns == before
