import numpy as np
import pytest

from vlm_rewards.evaluation.metrics import best_f1, binary_metrics, curve_points, pr_curve, threshold_metrics


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
