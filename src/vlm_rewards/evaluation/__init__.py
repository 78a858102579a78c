"""Offline evaluation of VLM rewards against ground truth (the paper's Figs. 4 and 5).

- :func:`evaluate`: precision-recall, AP, ROC-AUC, best F1, calibration of τ and β on the
  train split reported on held-out goals, optional prompt-template and negatives studies,
  and a report (``metrics.json``, PNG plots, ``report.md``);
- :func:`calibrate`: β (and τ) per goal and pooled, chosen on the train split for a target
  precision or the best F1, held-out precision and recall with bootstrap intervals, and a
  YAML snippet for training configs;
- :func:`scaling_study`: the same for a list of models, against parameter count;
- building blocks: :mod:`.metrics`, :mod:`.scores` (vectorised goal-by-frame rewards),
  :mod:`.prompts` (templates), :mod:`.negatives`, :mod:`.plots`, :mod:`.report`.

Datasets come from :func:`vlm_rewards.data.collect_evalset`. Heavy libraries (torch,
scikit-learn, matplotlib) load on first use.

Example:
    >>> from vlm_rewards.data import collect_evalset  # doctest: +SKIP
    >>> from vlm_rewards.evaluation import evaluate  # doctest: +SKIP
    >>> collect_evalset("evalset", sections=("phone:common",), frames=512)  # doctest: +SKIP
    >>> evaluate("builtin:default", "evalset", templates="builtin", out_dir="eval-out")  # doctest: +SKIP
"""

from vlm_rewards.evaluation.calibrate import Calibration, calibrate, load_labelled_folder
from vlm_rewards.evaluation.core import (
    EVAL_REWARDS,
    NEGATIVE_COUNTS,
    TAU_FACTORS,
    Evaluation,
    RewardSpec,
    evaluate,
    instruction_sensitivity,
    scaling_study,
)
from vlm_rewards.evaluation.metrics import best_f1, binary_metrics, pr_curve, threshold_metrics
from vlm_rewards.evaluation.negatives import NEGATIVE_CHOICES, choose_negatives, counterfactuals_in
from vlm_rewards.evaluation.prompts import BUILTIN_TEMPLATES, render_template

__all__ = [
    "BUILTIN_TEMPLATES",
    "Calibration",
    "calibrate",
    "load_labelled_folder",
    "EVAL_REWARDS",
    "NEGATIVE_CHOICES",
    "NEGATIVE_COUNTS",
    "TAU_FACTORS",
    "Evaluation",
    "RewardSpec",
    "best_f1",
    "binary_metrics",
    "choose_negatives",
    "counterfactuals_in",
    "evaluate",
    "instruction_sensitivity",
    "pr_curve",
    "render_template",
    "scaling_study",
    "threshold_metrics",
]
