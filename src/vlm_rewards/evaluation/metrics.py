"""Binary-classification metrics of a reward against ground-truth success (scikit-learn).

The reward fires when its score exceeds β (``1[score > β]``, strict). Every threshold
reported here is such a β: predicting "success" for exactly the frames with ``score > β``.

Example:
    >>> import numpy as np
    >>> m = binary_metrics(np.array([0, 0, 1, 1], bool), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> round(m["ap"], 3), m["best_f1"], round(m["best_f1_threshold"], 3)
    (0.833, 0.8, 0.225)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["best_f1", "best_goal_f1", "binary_metrics", "curve_points", "pr_curve", "threshold_metrics"]


def _check(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"labels and scores must be 1-D arrays of one length, got shapes {y.shape} and {s.shape}")
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise ValueError("labels must be booleans or 0/1")
        y = y.astype(bool)
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    return y, s


def _beta_below(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For sklearn thresholds t (predict ``score >= t``), a β with ``score > β`` picking the
    same frames: halfway down to the next lower score (a hair below the lowest score)."""
    uniq = np.unique(scores)
    j = np.searchsorted(uniq, thresholds)
    lower = np.where(j > 0, uniq[np.maximum(j - 1, 0)], thresholds - 1e-3 * np.maximum(1.0, np.abs(thresholds)))
    return (thresholds + lower) / 2.0


def pr_curve(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(precision, recall, beta)`` over every distinct threshold, recall decreasing
    (scikit-learn's ``precision_recall_curve`` without its final (1, 0) point)."""
    from sklearn.metrics import precision_recall_curve

    y, s = _check(labels, scores)
    precision, recall, thresholds = precision_recall_curve(y, s)
    return precision[:-1], recall[:-1], _beta_below(s, thresholds)


def _best_of_curve(precision: np.ndarray, recall: np.ndarray, beta: np.ndarray) -> dict[str, float]:
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    i = int(np.argmax(f1))
    return {"f1": float(f1[i]), "threshold": float(beta[i]), "precision": float(precision[i]), "recall": float(recall[i])}


def best_f1(labels: Any, scores: Any) -> dict[str, float | None]:
    """The β with the highest F1 (the lowest such β on ties) and its precision and recall."""
    y, s = _check(labels, scores)
    if not y.any():
        return {"f1": None, "threshold": None, "precision": None, "recall": None}
    return _best_of_curve(*pr_curve(y, s))


def best_goal_f1(labels: Any, scores: Any, goals: Any) -> dict[str, Any]:
    """The β with the highest F1 *averaged over goals* (each goal's F1 of ``score > β`` on
    its own pairs; goals without positives left out), the lowest such β on ties, with that
    mean and the pooled precision and recall there.

    The β to carry to goals calibration has not seen: a new goal is a new draw from the goal
    population, so the goal-average estimates its F1, while the pooled best F1 weighs goals
    by their positives and lets one goal the model confuses decide β for all of them.
    """
    y, s = _check(labels, scores)
    g = np.asarray(goals)
    if g.shape != y.shape:
        raise ValueError(f"goals must have the labels' shape {y.shape}, got {g.shape}")
    kinds, idx = np.unique(g, return_inverse=True)
    scored = [k for k in range(len(kinds)) if y[idx == k].any()]
    if not scored:
        return {"f1": None, "threshold": None, "precision": None, "recall": None, "goals": 0}
    # Between two positives' scores, raising β drops only false positives, so every goal's F1
    # peaks just below some positive: those are the candidates.
    cand = _beta_below(s, np.unique(s[y]))
    f1 = np.zeros(len(cand))
    for k in scored:
        m = idx == k
        pos, neg = np.sort(s[m & y]), np.sort(s[m & ~y])
        tp = len(pos) - np.searchsorted(pos, cand, side="right")
        fp = len(neg) - np.searchsorted(neg, cand, side="right")
        # Never 0 / 0: a scored goal has positives, so 2 tp + fn >= 1.
        f1 += 2 * tp / (2 * tp + fp + (len(pos) - tp))
    f1 /= len(scored)
    i = int(np.argmax(f1))  # candidates ascend: the first maximum is the lowest β
    pooled = threshold_metrics(y, s, float(cand[i]))
    return {"f1": float(f1[i]), "threshold": float(cand[i]), "precision": pooled["precision"],
            "recall": pooled["recall"], "goals": len(scored)}


def threshold_metrics(labels: Any, scores: Any, beta: float) -> dict[str, float]:
    """Precision, recall and F1 of ``1[score > beta]`` (precision is 0 when nothing fires)."""
    y, s = _check(labels, scores)
    fired = s > beta
    tp = int((fired & y).sum())
    precision = tp / int(fired.sum()) if fired.any() else 0.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "fired": int(fired.sum())}


def curve_points(labels: Any, scores: Any, max_points: int = 200) -> dict[str, list[float]]:
    """The PR curve thinned to at most ``max_points`` points (for JSON and plots)."""
    y, s = _check(labels, scores)
    if not y.any():
        return {"precision": [], "recall": [], "threshold": []}
    precision, recall, beta = pr_curve(y, s)
    idx = np.unique(np.linspace(0, len(precision) - 1, min(max_points, len(precision))).round().astype(int))
    return {k: [round(float(v), 6) for v in arr[idx]] for k, arr in
            (("precision", precision), ("recall", recall), ("threshold", beta))}


def binary_metrics(labels: Any, scores: Any) -> dict[str, Any]:
    """Average precision, ROC-AUC, best F1 and its β, and precision at recall 0.5.

    ``ap`` is scikit-learn's ``average_precision_score`` (a constant scorer gets the
    positive rate); ``precision_at_recall_0.5`` is the highest precision at any β whose
    recall is at least 0.5. Metrics that need positives (or negatives, for ROC-AUC) are
    ``None`` when there are none.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, s = _check(labels, scores)
    n, pos = len(y), int(y.sum())
    out: dict[str, Any] = {"frames": n, "positives": pos, "positive_rate": pos / n if n else None,
                           "ap": None, "roc_auc": None, "best_f1": None, "best_f1_threshold": None,
                           "best_f1_precision": None, "best_f1_recall": None, "precision_at_recall_0.5": None}
    if pos == 0:
        return out
    out["ap"] = float(average_precision_score(y, s))
    if pos < n:
        out["roc_auc"] = float(roc_auc_score(y, s))
    precision, recall, beta = pr_curve(y, s)
    best = _best_of_curve(precision, recall, beta)
    out.update(best_f1=best["f1"], best_f1_threshold=best["threshold"], best_f1_precision=best["precision"],
               best_f1_recall=best["recall"])
    out["precision_at_recall_0.5"] = float(precision[recall >= 0.5].max())
    return out
