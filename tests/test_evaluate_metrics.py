import numpy as np
import pytest

from vlm_rewards.evaluation.metrics import (
    best_f1,
    best_goal_f1,
    binary_metrics,
    curve_points,
    pr_curve,
    threshold_metrics,
)


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    return rng.random(500) < 0.2


def test_scorer_returning_the_label_is_perfect(labels):
    m = binary_metrics(labels, labels.astype(float))
    assert m["ap"] == 1.0 and m["roc_auc"] == 1.0 and m["best_f1"] == 1.0 and m["precision_at_recall_0.5"] == 1.0
    assert m["positives"] == labels.sum() and m["positive_rate"] == pytest.approx(labels.mean())
    # The reported β fires exactly on the positives (strict: 1[score > β]).
    assert 0.0 < m["best_f1_threshold"] < 1.0
    assert threshold_metrics(labels, labels.astype(float), m["best_f1_threshold"])["f1"] == 1.0


def test_constant_scorer_gets_the_positive_rate(labels):
    m = binary_metrics(labels, np.full(len(labels), 0.3))
    assert m["ap"] == pytest.approx(labels.mean())
    assert m["roc_auc"] == 0.5
    # Firing on everything is the only operating point: recall 1, precision = positive rate.
    assert m["best_f1_recall"] == 1.0 and m["best_f1_precision"] == pytest.approx(labels.mean())
    assert m["best_f1_threshold"] < 0.3


def test_known_small_example():
    y = np.array([0, 0, 1, 1, 0, 1], bool)
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    m = binary_metrics(y, s)
    # ranking 0.9+ 0.8+ 0.4- 0.35+ 0.2- 0.1-: AP = (1 + 1 + 3/4) / 3
    assert m["ap"] == pytest.approx((1 + 1 + 0.75) / 3)
    assert m["roc_auc"] == pytest.approx(8 / 9)
    # best: fire on the top four (precision 3/4, recall 1), β between 0.2 and 0.35
    assert m["best_f1"] == pytest.approx(6 / 7) and m["best_f1_precision"] == 0.75 and m["best_f1_recall"] == 1.0
    assert 0.2 < m["best_f1_threshold"] < 0.35
    assert m["precision_at_recall_0.5"] == 1.0
    assert threshold_metrics(y, s, m["best_f1_threshold"]) == {"precision": 0.75, "recall": 1.0,
                                                               "f1": pytest.approx(6 / 7), "fired": 4}
    p, r, beta = pr_curve(y, s)
    for pi, ri, bi in zip(p, r, beta):  # every point of the curve is what 1[s > β] gives
        t = threshold_metrics(y, s, bi)
        assert (t["precision"], t["recall"]) == (pytest.approx(pi), pytest.approx(ri))
    pts = curve_points(y, s, max_points=3)
    assert len(pts["recall"]) == 3


def test_degenerate_and_bad_input():
    none = binary_metrics(np.zeros(5, bool), np.arange(5.0))
    assert none["ap"] is None and none["roc_auc"] is None and none["positives"] == 0
    assert best_f1(np.zeros(3, bool), np.arange(3.0))["f1"] is None
    allpos = binary_metrics(np.ones(4, bool), np.arange(4.0))
    assert allpos["ap"] == 1.0 and allpos["roc_auc"] is None
    with pytest.raises(ValueError, match="labels and scores"):
        binary_metrics(np.zeros(3, bool), np.zeros(4))
    with pytest.raises(ValueError, match="labels"):
        binary_metrics(np.array([0, 2, 1]), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        binary_metrics(np.array([0, 1]), np.array([0.1, np.nan]))


def test_best_goal_f1_maximises_the_goal_mean_f1():
    rng = np.random.default_rng(0)
    for _ in range(100):
        n, n_goals = int(rng.integers(5, 60)), int(rng.integers(1, 5))
        g = rng.integers(0, n_goals, n)
        y = rng.random(n) < 0.3
        s = np.round(rng.random(n) + y * rng.random() * 0.5, 2)  # rounded: ties
        res = best_goal_f1(y, s, g)
        if not y.any():
            assert res["f1"] is None and res["threshold"] is None
            continue
        scored = [k for k in np.unique(g) if y[g == k].any()]

        def mean_f1(beta):
            return np.mean([threshold_metrics(y[g == k], s[g == k], beta)["f1"] for k in scored])

        brute = max(mean_f1(b) for b in [*(np.unique(s) - 1e-6), s.max() + 1])
        assert res["f1"] == pytest.approx(brute) and mean_f1(res["threshold"]) == pytest.approx(res["f1"])
        assert res["goals"] == len(scored)
        pooled = threshold_metrics(y, s, res["threshold"])
        assert (res["precision"], res["recall"]) == (pooled["precision"], pooled["recall"])


def test_best_goal_f1_is_not_decided_by_one_confused_goal():
    # Goals a, b, d: positives at 0.8 and 0.4, a negative at 0.1. Goal c is confused: six
    # negatives at 0.5 outscore the easy goals' weaker positives. The pooled best F1 puts β
    # above c's negatives and drops half of every easy goal's recall; the goal mean keeps the
    # easy goals perfect below 0.4, the better guess for a new goal that is not confused.
    easy_y, easy_s = [1, 1, 0], [0.8, 0.4, 0.1]
    y = np.array(easy_y * 3 + [1, 1] + [0] * 6, bool)
    s = np.array(easy_s * 3 + [0.9, 0.9] + [0.5] * 6)
    g = np.array(["a"] * 3 + ["b"] * 3 + ["d"] * 3 + ["c"] * 8)
    assert best_f1(y, s)["threshold"] > 0.5
    res = best_goal_f1(y, s, g)
    assert res["threshold"] < 0.4 and res["f1"] == pytest.approx((3 + 2 * 2 / (2 * 2 + 6)) / 4)
    with pytest.raises(ValueError, match="goals"):
        best_goal_f1(y, s, g[:-1])
