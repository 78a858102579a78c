"""Offline evaluation of a VLM reward against ground truth: metrics, calibration, studies.

For each section of a dataset (a domain and goal set, see :mod:`vlm_rewards.data.evalset`)
and each split, every frame is scored against every goal of the split's goals; the scores
are compared with the ground-truth labels per goal and pooled over (frame, goal) pairs:
the precision-recall curve as β sweeps, average precision, ROC-AUC, the best F1 and its β,
precision at recall 0.5 (:mod:`~vlm_rewards.evaluation.metrics`).

Calibration chooses τ on a small grid (the model's τ times 1/4 ... 4) maximising the pooled F1,
and β maximising the training goals' mean F1 at it, on the ``train`` split, and reports ``heldout`` at those values: what a user who tunes the
reward on training goals gets on goals the agent never trained on.

Instruction sensitivity (:func:`instruction_sensitivity`): for sections whose domain has a
``counterfactuals`` hook, how often a positive frame scores its goal above every goal that
differs from it in one attribute ("the red ball" vs "the blue ball", "the red box"): a
reward that recognises the scene but not the instruction fails it.

Studies reuse the same embeddings (each frame and each prompt encoded once per model):
prompt templates (the paper's Fig. 5), the number and choice of negatives (uniform, hard,
counterfactual), and model size
(:func:`scaling_study`, the paper's Fig. 4).

Example:
    >>> from vlm_rewards.evaluation import evaluate
    >>> ev = evaluate("builtin:default", "evalset", out_dir="eval-out")  # doctest: +SKIP
    >>> ev.metrics["sections"]["phone:common"]["splits"]["heldout"]["pooled"]["ap"]  # doctest: +SKIP
    0.97
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vlm_rewards.data.evalset import SPLITS, EvalSection, EvalSet, EvalSetError, load_evalset
from vlm_rewards.evaluation.metrics import best_f1, best_goal_f1, binary_metrics, curve_points, threshold_metrics
from vlm_rewards.envs import negative_pool
from vlm_rewards.evaluation.negatives import (
    NEGATIVE_CHOICES,
    negative_indices,
    offers_state_negatives,
    state_negative_prompts,
    with_state_negatives,
)
from vlm_rewards.evaluation.prompts import BASELINE_PROMPTS, BUILTIN_TEMPLATES, DEFAULT_TEMPLATE, render_templates
from vlm_rewards.evaluation.scores import Encoder, contrastive_scores, cosine_scores, goal_baseline_scores
from vlm_rewards.rewards import REWARDS, get_reward

__all__ = [
    "EVAL_REWARDS",
    "NEGATIVE_COUNTS",
    "TAU_FACTORS",
    "Evaluation",
    "RewardSpec",
    "evaluate",
    "instruction_sensitivity",
    "scaling_study",
]

#: rewards the offline evaluation can score: those whose registry record is ``offline``
EVAL_REWARDS: tuple[str, ...] = tuple(name for name, r in REWARDS.items() if r.offline)
#: calibration grid: the base temperature times these
TAU_FACTORS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
#: the negatives study's counts (paper: negatives drawn uniformly from the goal set)
NEGATIVE_COUNTS: tuple[int | str, ...] = (1, 3, 7, "all")


@dataclass(frozen=True)
class RewardSpec:
    """How frames are scored: the reward, its negatives, the prompt template, τ, α, baseline.

    ``temperature=None`` is the model's learned τ; ``baseline=None`` the domain's
    :data:`~vlm_rewards.evaluation.prompts.BASELINE_PROMPTS` entry.
    """

    reward: str = "contrastive"
    negatives: int | str = "all"
    negative_choice: str = "uniform"
    template: str = DEFAULT_TEMPLATE
    temperature: float | None = None
    alpha: float = 0.5
    baseline: str | None = None
    seed: int = 0
    #: a goal-set spec ("phone:diverse") whose goals join the section's as negatives, as a
    #: training config's ``reward.negatives_from`` does, so calibrated β fits that reward
    negatives_from: str | None = None
    #: add each goal's state negative (the domain's ``state_negative`` prompt, "a red ball in
    #: a room") to its negatives, as a training config's ``reward.state_negatives`` does;
    #: sections of domains without the template are scored without
    state_negatives: bool = False

    def __post_init__(self) -> None:
        from vlm_rewards._validation import check_temperature, check_unit_interval

        if self.reward not in EVAL_REWARDS:
            raise ValueError(f"reward must be one of {EVAL_REWARDS}, got {self.reward!r}")
        k = self.negatives
        if k != "all" and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"negatives must be a positive integer or 'all', got {k!r}")
        if self.negative_choice not in NEGATIVE_CHOICES:
            raise ValueError(f"negative_choice must be one of {NEGATIVE_CHOICES}, got {self.negative_choice!r}")
        if self.temperature is not None:
            check_temperature(self.temperature)
        check_unit_interval(self.alpha, "alpha")
        if self.negatives_from is not None:
            from vlm_rewards.envs import goals_from_spec

            goals_from_spec(self.negatives_from)  # an unknown spec is an error here, not later
        if not isinstance(self.state_negatives, bool):
            raise TypeError(f"state_negatives must be a bool, got {self.state_negatives!r}")
        if self.state_negatives and not self.function.needs_negatives:
            raise ValueError(f"state_negatives needs reward='contrastive' (only it uses negatives), got reward={self.reward!r}")

    @property
    def function(self):
        """The reward's :class:`~vlm_rewards.rewards.RewardFunction` record."""
        return get_reward(self.reward)

    @property
    def tunes_temperature(self) -> bool:
        """Whether τ changes the scores (and so is calibrated)."""
        return "temperature" in self.function.params

    def settings(self) -> dict[str, Any]:
        out = {"reward": self.reward, "template": self.template, "seed": self.seed}
        if self.function.needs_negatives:
            out.update(negatives=self.negatives, negative_choice=self.negative_choice)
            if self.negatives_from is not None:
                out.update(negatives_from=self.negatives_from)
            if self.state_negatives:
                out.update(state_negatives=True)
        if self.function.needs_baseline:
            out.update(alpha=self.alpha, baseline=self.baseline)
        return out


@dataclass
class Evaluation:
    """The result of :func:`evaluate`: JSON-able ``metrics``, raw ``curves`` for the plots
    (per section: ``(scores, labels)`` arrays), and stage ``timing`` in seconds."""

    metrics: dict[str, Any]
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)


# --- Scoring a section ----------------------------------------------------------------------------


class _SectionScorer:
    """Scores of one section's splits for one model, from cached similarity matrices."""

    def __init__(self, encoder: Encoder, dataset: EvalSet, section: EvalSection):
        self.encoder = encoder
        self.section = section
        self.key = (str(dataset.path), section.name)
        self._sims: dict[tuple[str, str], Any] = {}

    def image_emb(self, split: str):
        return self.encoder.images(self.section.splits[split].frames, key=(*self.key, split))

    def sims(self, split: str, template: str, pool: Sequence[str] | None = None):
        """Similarities of the split's frames to ``pool`` (default: the section's goals)."""
        pool = list(self.section.goals) if pool is None else list(pool)
        k = (split, template, tuple(pool))
        if k not in self._sims:
            prompts = render_templates(template, self.section.domain, pool)
            # float64: float32 BLAS may give duplicate frames slightly different scores
            # depending on their row, which breaks their ties and moves AP.
            self._sims[k] = self.image_emb(split).astype(np.float64) @ self.encoder.texts(prompts).astype(np.float64).T
        return self._sims[k]

    def with_state_negatives(self, split: str, sims: np.ndarray, neg: np.ndarray, goals: Sequence[str]):
        """``(sims, neg)`` with each of ``goals``' state negative appended (not templated: it
        describes a scene, it is not a goal)."""
        prompts = state_negative_prompts(goals, self.section.domain)
        return with_state_negatives(sims, neg, goals, self.section.domain, self.image_emb(split), self.encoder.texts(prompts))

    def scores(self, split: str, spec: RewardSpec, temperature: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(scores, labels, goals)``: ``(N, G)`` for the goals of goal split ``split``."""
        sec = self.section
        goals = sec.split_goals(split)
        cols = [sec.goals.index(g) for g in goals]
        labels = sec.splits[split].labels[:, cols]
        # The offline rewards (EVAL_REWARDS) differ in what they need: negatives (the
        # contrastive probability), a baseline prompt (goal-baseline), or nothing (cosine).
        if spec.function.needs_negatives:
            pool = negative_pool(list(sec.goals), spec.negatives_from)
            sims = self.sims(split, spec.template, pool)
            neg = negative_indices(goals, pool, spec.negatives, spec.negative_choice, sec.domain, spec.seed)
            if spec.state_negatives and offers_state_negatives(sec.domain):
                sims, neg = self.with_state_negatives(split, sims, neg, goals)
            return contrastive_scores(sims, cols, neg, temperature), labels, goals
        sims = self.sims(split, spec.template)
        if not spec.function.needs_baseline:
            return cosine_scores(sims, cols), labels, goals
        baseline = spec.baseline or BASELINE_PROMPTS[sec.domain]
        prompts = render_templates(spec.template, sec.domain, list(sec.goals))
        goal_emb = self.encoder.texts(prompts)
        base_emb = self.encoder.texts([baseline])[0]
        base_sims = self.image_emb(split).astype(np.float64) @ base_emb.astype(np.float64)
        return goal_baseline_scores(sims, goal_emb, base_sims, base_emb, cols, spec.alpha), labels, goals


def _split_metrics(scores: np.ndarray, labels: np.ndarray, goals: list[str]) -> dict[str, Any]:
    per_goal = {g: binary_metrics(labels[:, j], scores[:, j]) for j, g in enumerate(goals)}
    aps = [m["ap"] for m in per_goal.values() if m["ap"] is not None]
    pooled = binary_metrics(labels.ravel(), scores.ravel())
    pooled["curve"] = curve_points(labels.ravel(), scores.ravel())
    return {
        "goals": len(goals),
        "frames": int(labels.shape[0]),
        "pooled": pooled,
        "mean_ap": float(np.mean(aps)) if aps else None,
        "goals_without_positives": [g for g, m in per_goal.items() if m["ap"] is None],
        "per_goal": per_goal,
    }


def _retrieval(scorer: _SectionScorer, template: str) -> dict[str, Any]:
    """Goal retrieval per split: on frames where exactly one goal of the section holds and
    that goal is of the split, whether it is the most similar of *all* the section's goals;
    per goal also the wrong goal ranked first most often (``mistaken_for``: goal, frames),
    which tells e.g. a wrong colour from a wrong object kind."""
    sec = scorer.section
    out: dict[str, Any] = {}
    for split in SPLITS:
        labels = sec.splits[split].labels
        truth = labels.argmax(1)
        top = scorer.sims(split, template).argmax(1)
        hit = top == truth
        cols = [sec.goals.index(g) for g in sec.split_goals(split)]
        keep = (labels.sum(1) == 1) & np.isin(truth, cols)
        per_goal = {}
        for j in cols:
            m = keep & (truth == j)
            if m.any():
                wrong = np.bincount(top[m & ~hit], minlength=len(sec.goals))
                per_goal[sec.goals[j]] = {"frames": int(m.sum()), "top1": float(hit[m].mean()),
                                          "mistaken_for": [sec.goals[int(wrong.argmax())], int(wrong.max())] if wrong.any() else None}
        out[split] = {"frames": int(keep.sum()), "top1": float(hit[keep].mean()) if keep.any() else None,
                      "per_goal": per_goal}
    return out


def instruction_sensitivity(sims: np.ndarray, labels: np.ndarray, goals: Sequence[str],
                            counterfactuals: Sequence[Sequence[int]]) -> dict[str, Any]:
    """Whether the reward reads the instruction: on each positive (frame, goal) pair whose
    goal has counterfactuals (column indices into ``goals``), does the true goal's similarity
    beat each counterfactual's on that frame?

    ``sims`` and ``labels`` are ``(N, G)``; ``counterfactuals[j]`` lists goal ``j``'s
    counterfactual columns. A counterfactual that also holds on the frame (labels 1) is left
    out of that pair: the frame cannot tell them apart. The contrastive probability of the
    true goal against the same negatives is monotone in its similarity margin, so comparing
    similarities is comparing p. Returns ``pairs``, ``win_all`` (fraction of pairs where the
    goal beats every counterfactual) and ``beaten`` (mean fraction of counterfactuals beaten),
    ``None`` without pairs.
    """
    sims, labels = np.asarray(sims), np.asarray(labels)
    if sims.shape != labels.shape or sims.ndim != 2:
        raise ValueError(f"sims and labels must be (frames, goals) arrays of one shape, got {sims.shape} and {labels.shape}")
    if len(counterfactuals) != sims.shape[1]:
        raise ValueError(f"counterfactuals must list one entry per goal ({sims.shape[1]}), got {len(counterfactuals)}")
    wins, fractions = [], []
    for j, cols in enumerate(counterfactuals):
        cols = np.asarray(list(cols), dtype=np.int64)
        if cols.size == 0:
            continue
        for i in np.flatnonzero(labels[:, j]):
            rivals = cols[labels[i, cols] == 0]
            if rivals.size == 0:
                continue
            beat = sims[i, j] > sims[i, rivals]
            wins.append(bool(beat.all()))
            fractions.append(float(beat.mean()))
    return {"pairs": len(wins), "win_all": float(np.mean(wins)) if wins else None,
            "beaten": float(np.mean(fractions)) if fractions else None}


def _sensitivity(scorer: _SectionScorer, template: str) -> dict[str, Any] | None:
    """:func:`instruction_sensitivity` per split (each split's positives, counterfactuals from
    all the section's goals) and pooled over the splits; ``None`` when the section's domain
    has no counterfactuals hook."""
    from vlm_rewards.envs.registry import get_domain
    from vlm_rewards.evaluation.negatives import counterfactuals_in

    sec = scorer.section
    if get_domain(sec.domain).counterfactuals is None:
        return None
    index = {g: i for i, g in enumerate(sec.goals)}
    cf = [[index[c] for c in counterfactuals_in(g, sec.goals, sec.domain)] for g in sec.goals]
    out: dict[str, Any] = {}
    pooled = {"pairs": 0, "win_all": 0.0, "beaten": 0.0}
    for split in SPLITS:
        # Positives of the split's own goals only, as the split's other metrics count them.
        own = {index[g] for g in sec.split_goals(split)}
        per = instruction_sensitivity(scorer.sims(split, template), sec.splits[split].labels, sec.goals,
                                      [c if j in own else [] for j, c in enumerate(cf)])
        out[split] = per
        if per["pairs"]:
            pooled["pairs"] += per["pairs"]
            pooled["win_all"] += per["pairs"] * per["win_all"]
            pooled["beaten"] += per["pairs"] * per["beaten"]
    n = pooled["pairs"]
    out["pooled"] = {"pairs": n, "win_all": pooled["win_all"] / n if n else None, "beaten": pooled["beaten"] / n if n else None}
    return out


def _compositional(sec: EvalSection, result: dict[str, Any]) -> dict[str, Any] | None:
    """AP and top-1 on the House goals whose object is a colour-object combination that the
    built-in corpus never names (:data:`~vlm_rewards.data.corpus.COMPOSITIONAL_HOLDOUT`):
    compositional generalisation, for models trained on that corpus."""
    from vlm_rewards.envs.registry import get_domain

    if not get_domain(sec.domain).corpus_hides_compositions:
        return None
    from vlm_rewards.data.corpus import COMPOSITIONAL_HOLDOUT
    from vlm_rewards.evaluation.prompts import goal_fields

    aps, frames, hits, goals, mistaken = [], 0, 0.0, [], {}
    for split in SPLITS:
        for g in sec.split_goals(split):
            if goal_fields(sec.domain, g).get("name") not in COMPOSITIONAL_HOLDOUT:
                continue
            goals.append(g)
            ap = result["splits"][split]["per_goal"][g]["ap"]
            if ap is not None:
                aps.append(ap)
            r = result["retrieval"][split]["per_goal"].get(g)
            if r:
                frames += r["frames"]
                hits += r["frames"] * r["top1"]
                if r.get("mistaken_for"):
                    mistaken[g] = [*r["mistaken_for"], r["frames"]]  # [wrong goal, its frames, the goal's frames]
    return {"goals": goals, "mean_ap": float(np.mean(aps)) if aps else None,
            "retrieval_frames": frames, "top1": hits / frames if frames else None, "mistaken_for": mistaken}


def _calibrate(scorer: _SectionScorer, spec: RewardSpec, base_tau: float,
               tau_factors: Sequence[float]) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """τ maximising pooled F1 on train, β maximising the training goals' mean F1 at that τ
    (:func:`best_goal_f1`: the held-out goals are new goals); held-out metrics at them."""
    taus = [base_tau * f for f in tau_factors] if spec.tunes_temperature else [base_tau]
    grid = []
    best: tuple[float, float, float] | None = None  # (f1, tau, beta)
    for tau in taus:
        scores, labels, _ = scorer.scores("train", spec, tau)
        b = best_f1(labels.ravel(), scores.ravel())
        grid.append({"temperature": tau, "train_best_f1": b["f1"], "threshold": b["threshold"]})
        if b["f1"] is not None and (best is None or b["f1"] > best[0]):
            best = (b["f1"], tau, b["threshold"])
    out: dict[str, Any] = {"grid": grid, "temperature": None, "threshold": None, "pooled_threshold": None,
                           "train": None, "heldout": None}
    held_scores, held_labels, _ = scorer.scores("heldout", spec, best[1] if best else base_tau)
    if best is None:
        return out, (held_scores, held_labels)
    _, tau, pooled_beta = best
    train_scores, train_labels, _ = scorer.scores("train", spec, tau)
    goal_ids = np.broadcast_to(np.arange(train_labels.shape[1]), train_labels.shape)
    beta = best_goal_f1(train_labels.ravel(), train_scores.ravel(), goal_ids.ravel())["threshold"]
    pooled_held = binary_metrics(held_labels.ravel(), held_scores.ravel())
    out.update(
        temperature=tau if spec.tunes_temperature else None,
        threshold=beta,
        pooled_threshold=pooled_beta,  # the pooled best-F1 β, for comparison
        train=threshold_metrics(train_labels.ravel(), train_scores.ravel(), beta),
        heldout={**threshold_metrics(held_labels.ravel(), held_scores.ravel(), beta),
                 "ap": pooled_held["ap"], "roc_auc": pooled_held["roc_auc"], "best_f1": pooled_held["best_f1"],
                 "f1_at_pooled_threshold": threshold_metrics(held_labels.ravel(), held_scores.ravel(), pooled_beta)["f1"]},
    )
    return out, (held_scores, held_labels)


# --- Entry points ---------------------------------------------------------------------------------


def _load_model(model: Any) -> Any:
    from vlm_rewards.models import VisionLanguageModel, load_model

    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    if not isinstance(model, VisionLanguageModel):
        raise TypeError(f"model must be a model spec ('builtin:default', 'hf:<id>', a directory) or a loaded model, got {type(model).__name__}")
    return model


def _select_sections(dataset: EvalSet, sections: Sequence[str] | None, goal_set: Sequence[str] | None) -> list[str]:
    names = list(dataset.sections) if sections is None else list(sections)
    missing = [s for s in names if s not in dataset.sections]
    if missing:
        raise EvalSetError(f"dataset {dataset.path} has no section {missing[0]!r}; it holds {list(dataset.sections)}")
    if goal_set is None:
        return names
    if isinstance(goal_set, str) or not isinstance(goal_set, Sequence) or not goal_set:
        raise TypeError(f"goal_set must be a non-empty sequence of goal texts, got {goal_set!r}")
    wanted = set(goal_set)
    matching = [s for s in names if set(dataset.sections[s].goals) == wanted]
    if matching:
        return matching
    described = []
    for s in names:
        have = set(dataset.sections[s].goals)
        extra, lacking = sorted(wanted - have)[:3], sorted(have - wanted)[:3]
        described.append(f"{s} ({len(have)} goals; not in it: {extra}; missing from the request: {lacking})")
    raise ValueError(
        f"goal_set ({len(wanted)} goals) does not match the goal set of any section of dataset {dataset.path}: "
        + "; ".join(described)
    )


def _templates_for(templates: Sequence[str] | str | None, domain: str) -> list[str]:
    if templates is None:
        return []
    if templates == "builtin":
        return list(BUILTIN_TEMPLATES[domain])
    if isinstance(templates, str):
        raise TypeError(f"templates must be 'builtin' or a list of template strings, got the string {templates!r}")
    return list(templates)


def evaluate(
    model: Any,
    dataset: str | os.PathLike | EvalSet,
    *,
    spec: RewardSpec | None = None,
    sections: Sequence[str] | None = None,
    goal_set: Sequence[str] | None = None,
    templates: Sequence[str] | str | None = None,
    negatives_study: bool = False,
    negative_counts: Sequence[int | str] = NEGATIVE_COUNTS,
    tau_factors: Sequence[float] = TAU_FACTORS,
    out_dir: str | os.PathLike | None = None,
    batch_size: int = 256,
    encoder: Encoder | None = None,
    **spec_fields: Any,
) -> Evaluation:
    """Evaluate ``model``'s reward on ``dataset`` (see the module docstring).

    Args:
        model: a spec (``"builtin:default"``, ``"hf:<id>"``, a directory) or a loaded model.
        dataset: a directory written by :func:`~vlm_rewards.data.collect_evalset`, or a loaded one.
        spec: the reward settings; or give its fields as keywords (``reward="cosine"``,
            ``negatives=3``, ``template="Screenshot of {task}"``, ...).
        sections: evaluate only these sections (default: all of the dataset).
        goal_set: the goals the caller expects; the sections whose goal set is exactly this
            are evaluated, and none matching is a ``ValueError`` naming the differences.
        templates: also run the prompt-template study: a list of templates, or
            ``"builtin"`` for each domain's :data:`~vlm_rewards.evaluation.prompts.BUILTIN_TEMPLATES`.
        negatives_study: also run the negatives study (contrastive only): AP for each of
            ``negative_counts`` negatives, drawn uniformly, hard and counterfactual.
        out_dir: write ``metrics.json``, ``timing.json``, the PNG plots and ``report.md`` here.

    Example:
        >>> ev = evaluate("builtin:default", "evalset", templates="builtin", out_dir="out")  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    spec = replace(spec or RewardSpec(), **spec_fields)
    if negatives_study and not spec.function.needs_negatives:
        raise ValueError(f"negatives_study needs reward='contrastive' (only it uses negatives), got reward={spec.reward!r}")
    vlm = _load_model(model)
    data = dataset if isinstance(dataset, EvalSet) else load_evalset(dataset, sections)
    names = _select_sections(data, sections, goal_set)
    for name in names:  # fail before any encoding when a template does not fit a domain
        sec = data.sections[name]
        for t in [spec.template, *_templates_for(templates, sec.domain)]:
            render_templates(t, sec.domain, list(sec.goals))
    timing = {"load": time.perf_counter() - t0}
    enc = encoder or Encoder(vlm, batch_size=batch_size)
    base_tau = spec.temperature if spec.temperature is not None else 1.0 / float(vlm.logit_scale)
    metrics: dict[str, Any] = {
        "model": {"name": getattr(vlm, "name", type(vlm).__name__), "num_parameters": int(vlm.num_parameters),
                  "temperature": 1.0 / float(vlm.logit_scale)},
        "dataset": {"path": str(data.path), "seed": data.manifest.get("seed"), "image_size": data.manifest.get("image_size")},
        "settings": {**spec.settings(), "temperature": base_tau if spec.tunes_temperature else None},
        "sections": {},
    }
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    t_encode = t_metrics = t_studies = 0.0
    for name in names:
        sec = data.sections[name]
        scorer = _SectionScorer(enc, data, sec)
        t = time.perf_counter()
        for split in SPLITS:
            scorer.sims(split, spec.template)
        t_encode += time.perf_counter() - t
        t = time.perf_counter()
        result: dict[str, Any] = {"domain": sec.domain, "goals": {s: sec.split_goals(s) for s in SPLITS}, "splits": {}}
        curves[name] = {}
        for split in SPLITS:
            scores, labels, goals = scorer.scores(split, spec, base_tau)
            result["splits"][split] = _split_metrics(scores, labels, goals)
            curves[name][split] = (scores, labels)
        result["calibration"], curves[name]["calibrated_heldout"] = _calibrate(scorer, spec, base_tau, tau_factors)
        result["retrieval"] = _retrieval(scorer, spec.template)
        result["compositional"] = _compositional(sec, result)
        result["sensitivity"] = _sensitivity(scorer, spec.template)
        t_metrics += time.perf_counter() - t
        t = time.perf_counter()
        if templates is not None:
            result["templates"] = _template_study(scorer, spec, base_tau, _templates_for(templates, sec.domain))
        if negatives_study:
            result["negatives"] = _negatives_study(scorer, spec, base_tau, negative_counts)
        t_studies += time.perf_counter() - t
        metrics["sections"][name] = result
    pooled = [r["sensitivity"]["pooled"] for r in metrics["sections"].values() if r.get("sensitivity")]
    n = sum(p["pairs"] for p in pooled)
    metrics["sensitivity"] = {
        "pairs": n,
        "win_all": sum(p["pairs"] * p["win_all"] for p in pooled if p["pairs"]) / n if n else None,
        "beaten": sum(p["pairs"] * p["beaten"] for p in pooled if p["pairs"]) / n if n else None,
    }
    timing.update(encode_and_similarities=t_encode, metrics_and_calibration=t_metrics, studies=t_studies)
    ev = Evaluation(metrics=metrics, curves=curves, timing=timing)
    if out_dir is not None:
        from vlm_rewards.evaluation.report import write_report

        t = time.perf_counter()
        write_report(ev, out_dir)
        ev.timing["report"] = time.perf_counter() - t
    ev.timing["total"] = time.perf_counter() - t0
    if out_dir is not None:
        from vlm_rewards.io import atomic_write_json

        atomic_write_json(Path(out_dir) / "timing.json", {k: round(v, 3) for k, v in ev.timing.items()})
    return ev


def _summary(scorer: _SectionScorer, spec: RewardSpec, tau: float) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score

    out = {}
    for split in SPLITS:
        scores, labels, goals = scorer.scores(split, spec, tau)
        pooled = binary_metrics(labels.ravel(), scores.ravel())
        aps = [float(average_precision_score(labels[:, j], scores[:, j])) for j in range(len(goals)) if labels[:, j].any()]
        out[split] = {"ap": pooled["ap"], "best_f1": pooled["best_f1"], "roc_auc": pooled["roc_auc"],
                      "mean_ap": float(np.mean(aps)) if aps else None}
    return out


def _template_study(scorer: _SectionScorer, spec: RewardSpec, tau: float, templates: list[str]) -> list[dict[str, Any]]:
    rows = []
    for template in templates:
        s = replace(spec, template=template)
        prompt = render_templates(template, scorer.section.domain, [scorer.section.goals[0]])[0]
        rows.append({"template": template, "example": prompt, **_summary(scorer, s, tau)})
    return rows


def _negatives_study(scorer: _SectionScorer, spec: RewardSpec, tau: float,
                     counts: Sequence[int | str]) -> list[dict[str, Any]]:
    others = len(scorer.section.goals) - 1
    rows = []
    from vlm_rewards.envs.registry import get_domain

    has_cf = get_domain(scorer.section.domain).counterfactuals is not None
    for count in counts:
        for choice in NEGATIVE_CHOICES:
            if count == "all" and choice != "uniform":
                continue  # all negatives: the choice does not matter
            row: dict[str, Any] = {"negatives": count, "choice": choice}
            if count != "all" and count >= others:
                row["skipped"] = f"the goal set has only {others} other goals"
            elif choice.startswith("counterfactual") and not has_cf:
                row["skipped"] = f"domain {scorer.section.domain!r} has no counterfactuals hook"
            else:
                row.update(_summary(scorer, replace(spec, negatives=count, negative_choice=choice), tau))
            rows.append(row)
    return rows


def scaling_study(
    models: Sequence[Any],
    dataset: str | os.PathLike | EvalSet,
    *,
    spec: RewardSpec | None = None,
    sections: Sequence[str] | None = None,
    templates: Sequence[str] | str | None = None,
    out_dir: str | os.PathLike | None = None,
    batch_size: int = 256,
    **spec_fields: Any,
) -> dict[str, Any]:
    """Evaluate each of ``models`` on ``dataset``: held-out AP and best F1 against parameter count.

    The paper's Fig. 4: bigger VLM, better precision-recall. ``templates`` adds the prompt
    study per model. With ``out_dir``: ``scaling.json``, ``scaling.png`` and ``scaling.md``.

    Example:
        >>> scaling_study(["/tmp/family/xs", "builtin:default"], "evalset", out_dir="scaling")  # doctest: +SKIP
    """
    if isinstance(models, (str, os.PathLike)) or not isinstance(models, Sequence) or not models:
        raise TypeError(f"models must be a non-empty list of model specs, got {models!r}")
    data = dataset if isinstance(dataset, EvalSet) else load_evalset(dataset, sections)
    rows = []
    for model in models:
        vlm = _load_model(model)
        t = time.perf_counter()
        ev = evaluate(vlm, data, spec=spec, sections=sections, templates=templates, batch_size=batch_size, **spec_fields)
        row: dict[str, Any] = {"model": str(model) if isinstance(model, (str, os.PathLike)) else ev.metrics["model"]["name"],
                               "num_parameters": ev.metrics["model"]["num_parameters"],
                               "seconds": round(time.perf_counter() - t, 2), "sections": {}}
        for name, res in ev.metrics["sections"].items():
            held = res["splits"]["heldout"]
            cal = res["calibration"]
            row["sections"][name] = {
                "ap": held["pooled"]["ap"], "best_f1": held["pooled"]["best_f1"], "mean_ap": held["mean_ap"],
                "roc_auc": held["pooled"]["roc_auc"],
                "calibrated_f1": cal["heldout"]["f1"] if cal["heldout"] else None,
                "calibrated_ap": cal["heldout"]["ap"] if cal["heldout"] else None,
                "top1": res["retrieval"]["heldout"]["top1"],
                "compositional": res["compositional"],
                "templates": res.get("templates"),
            }
        rows.append(row)
        del vlm, ev
    rows.sort(key=lambda r: r["num_parameters"])
    settings = replace(spec or RewardSpec(), **spec_fields).settings()
    result = {"dataset": {"path": str(data.path), "seed": data.manifest.get("seed")}, "settings": settings,
              "sections": list(sections or data.sections), "models": rows}
    if out_dir is not None:
        from vlm_rewards.evaluation.report import write_scaling_report

        write_scaling_report(result, out_dir)
    return result
