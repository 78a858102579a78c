"""Choose the contrastive reward's β (and optionally τ) from labelled frames, per goal and pooled.

:func:`calibrate` scores the ``train`` split of a labelled dataset, picks β for each goal
(and one pooled β for every other goal, the ``"*"`` entry) either at a target precision
(the largest recall whose train precision reaches it) or at the best F1 (for the pooled β: the
best F1 averaged over training goals, :func:`~vlm_rewards.evaluation.metrics.best_goal_f1`), and reports
precision and recall on the ``heldout`` split at those β, with a seeded bootstrap
interval over held-out frames. Nothing of the held-out split is used to choose.

The result is a YAML snippet a training config merges in::

    reward:
      threshold: {"*": 0.41, "open the clock app": 0.63, ...}
      temperature: 0.02          # only with tune_temperature

(``vlm-rewards train CONFIG --set-file snippet.yaml``).

Datasets: an evaluation set from ``vlm-rewards collect`` (each section separately; its
goal split means the held-out goals get the pooled β), or a folder of image files
labelled by their names (:func:`load_labelled_folder`).

Example:
    >>> cal = calibrate("builtin:default", "evalset", target_precision=0.9)  # doctest: +SKIP
    >>> cal.sections["phone:common"]["heldout"]["precision"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vlm_rewards.data.evalset import SPLITS, EvalSet, load_evalset
from vlm_rewards.envs import negative_pool
from vlm_rewards.evaluation.core import TAU_FACTORS, RewardSpec, _load_model
from vlm_rewards.evaluation.metrics import best_f1, best_goal_f1, pr_curve
from vlm_rewards.evaluation.negatives import (
    negative_indices,
    offers_state_negatives,
    state_negative_prompts,
    with_state_negatives,
)
from vlm_rewards.evaluation.scores import Encoder, contrastive_scores

__all__ = ["Calibration", "IMAGE_SUFFIXES", "LabelledFrames", "calibrate", "load_labelled_folder"]

#: image files :func:`load_labelled_folder` reads
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_LABELS = {"pos": True, "yes": True, "1": True, "true": True, "neg": False, "no": False, "0": False, "false": False}


@dataclass
class LabelledFrames:
    """One source of labelled (frame, goal) pairs: a section of an evaluation set or a folder.

    ``pairs[split]`` is ``(rows, cols, labels)``: frame row, goal column (into ``goals``,
    the goal set negatives are drawn from) and whether the goal holds in the frame.
    """

    name: str
    goals: list[str]
    domain: str | None
    frames: dict[str, np.ndarray]
    pairs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


def _section_source(data: EvalSet, name: str) -> LabelledFrames:
    sec = data.sections[name]
    frames, pairs = {}, {}
    for split in SPLITS:
        cols = np.array([sec.goals.index(g) for g in sec.split_goals(split)], dtype=np.int64)
        labels = sec.splits[split].labels[:, cols]
        n = labels.shape[0]
        frames[split] = sec.splits[split].frames
        pairs[split] = (np.repeat(np.arange(n), len(cols)), np.tile(cols, n), labels.ravel().astype(bool))
    return LabelledFrames(name, list(sec.goals), sec.domain, frames, pairs)


def load_labelled_folder(path: str | os.PathLike) -> LabelledFrames:
    """Frames labelled by their file names, for :func:`calibrate`.

    Layout: ``PATH/train/`` and ``PATH/heldout/``, each holding image files named
    ``<goal>--<label>[--<anything>].<ext>``: the goal text (``_`` stands for a space),
    then ``pos`` or ``neg`` (also ``yes``/``no``, ``1``/``0``), then anything that keeps
    names distinct. E.g. ``open_the_clock_app--pos--0007.png`` is a frame where "open the
    clock app" is achieved, ``open_the_clock_app--neg--0008.png`` one where it is not.
    Each frame is labelled for its goal only; every goal named in either split makes up
    the goal set its negatives are drawn from.
    """
    from vlm_rewards._validation import dedupe_goals, goal_key
    from vlm_rewards.io import load_image

    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"dataset {str(root)!r} is neither an evaluation set nor a folder")
    found: dict[str, list[tuple[Path, str, bool]]] = {}
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            raise ValueError(f"labelled folder {str(root)!r} must hold {' and '.join(SPLITS)} subfolders; {split}/ is missing")
        items = []
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            parts = file.stem.split("--")
            label = _LABELS.get(parts[1].strip().lower()) if len(parts) >= 2 else None
            goal = re.sub(r"_", " ", parts[0]).strip()
            if label is None or not goal:
                raise ValueError(
                    f"{file}: expected a name '<goal>--<pos|neg>[--<id>]{file.suffix}' (underscores for spaces)"
                )
            items.append((file, goal, label))
        if not items:
            raise ValueError(f"{folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
        found[split] = items
    goals = sorted(dedupe_goals([g for items in found.values() for _, g, _ in items]))
    if len(goals) < 2:
        raise ValueError(f"labelled folder {str(root)!r} names only {goals}: the contrastive reward needs at least two goals")
    column = {goal_key(g): j for j, g in enumerate(goals)}
    frames, pairs = {}, {}
    for split, items in found.items():
        images = [load_image(f) for f, _, _ in items]
        shapes = {im.shape for im in images}
        if len(shapes) != 1:
            raise ValueError(f"{root / split}: images must share one size, got {sorted(shapes)}")
        frames[split] = np.stack(images)
        pairs[split] = (np.arange(len(items)), np.array([column[goal_key(g)] for _, g, _ in items], dtype=np.int64),
                        np.array([lab for _, _, lab in items], dtype=bool))
    return LabelledFrames(root.name, goals, None, frames, pairs)


# --- choosing β ---------------------------------------------------------------------------


def _choose(labels: np.ndarray, scores: np.ndarray, target: float | None) -> dict[str, Any] | None:
    """β at the target precision (largest recall reaching it) or at the best F1; None when
    there are no positives or the target is out of reach."""
    if not labels.any():
        return None
    if target is None:
        b = best_f1(labels, scores)
        # β is a probability; the curve's lowest β sits a hair below the lowest score.
        return {"threshold": float(np.clip(b["threshold"], 0.0, 1.0)), "precision": b["precision"], "recall": b["recall"], "f1": b["f1"]}
    precision, recall, beta = pr_curve(labels, scores)
    ok = np.flatnonzero(precision >= target)
    if not len(ok):
        return None
    i = int(ok[np.argmax(recall[ok])])
    p, r = float(precision[i]), float(recall[i])
    return {"threshold": float(np.clip(beta[i], 0.0, 1.0)), "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r > 0 else 0.0}


def _choose_for_new_goals(labels: np.ndarray, scores: np.ndarray, cols: np.ndarray, target: float, quantile: float,
                          draws: int, rng: np.random.Generator, candidates: int = 512) -> dict[str, Any] | None:
    """The pooled β for goals calibration has not seen: the most recall whose train precision
    reaches ``target`` in a fraction ``quantile`` of resamplings of the training *goals*.

    A β chosen on pooled training pairs is tuned to those goals' mix; a held-out goal is a new
    draw from the goal population, and goals differ (one confusable pair of colours decides a
    goal's precision). Resampling goals puts that spread into the choice. None when no β
    reaches it."""
    goals = np.unique(cols)
    if not labels.any() or len(goals) < 2:
        return None
    # Candidate βs: quantiles of the positives' scores (a β between them changes only recall).
    cand = np.unique(np.quantile(scores[labels], np.linspace(0.0, 1.0, candidates)))
    idx = np.searchsorted(goals, cols)
    # fired[t, pair] for each candidate; per-goal true and false firings at each candidate
    tp = np.zeros((len(cand), len(goals)))
    fp = np.zeros((len(cand), len(goals)))
    order = np.argsort(scores)
    s_sorted, g_sorted, l_sorted = scores[order], idx[order], labels[order]
    for t, beta in enumerate(cand):
        above = slice(np.searchsorted(s_sorted, beta, side="right"), None)
        tp[t] = np.bincount(g_sorted[above], weights=l_sorted[above], minlength=len(goals))
        fp[t] = np.bincount(g_sorted[above], weights=~l_sorted[above], minlength=len(goals))
    pos = np.bincount(idx, weights=labels, minlength=len(goals))
    w = rng.multinomial(len(goals), np.full(len(goals), 1.0 / len(goals)), size=draws).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = (tp @ w.T) / ((tp + fp) @ w.T)  # (candidates, draws)
    prec = np.where(np.isnan(prec), 1.0, prec)  # nothing fires in a draw: no false positive either
    low = np.quantile(prec, 1.0 - quantile, axis=1)
    ok = np.flatnonzero(low >= target)
    if not len(ok):
        return None
    t = int(ok[0])  # the lowest such β: the most recall
    p = float(tp[t].sum() / max(tp[t].sum() + fp[t].sum(), 1.0))
    r = float(tp[t].sum() / pos.sum())
    return {"threshold": float(np.clip(cand[t], 0.0, 1.0)), "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r > 0 else 0.0, "goal_quantile_precision": float(low[t])}


def _counts(fired: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    tp, nf, pos = int((fired & labels).sum()), int(fired.sum()), int(labels.sum())
    p = tp / nf if nf else None
    r = tp / pos if pos else None
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else (0.0 if nf and pos else None)
    return {"precision": p, "recall": r, "f1": f1, "fired": nf, "positives": pos, "pairs": int(len(labels))}


def _bootstrap(rows: np.ndarray, fired: np.ndarray, labels: np.ndarray, n_frames: int, draws: int,
               confidence: float, rng: np.random.Generator) -> dict[str, list[float] | None]:
    """Percentile intervals of precision and recall, resampling frames (a frame's pairs share
    its picture, so they are resampled together)."""
    tp = np.bincount(rows, weights=fired & labels, minlength=n_frames)
    nf = np.bincount(rows, weights=fired, minlength=n_frames)
    pos = np.bincount(rows, weights=labels, minlength=n_frames)
    weights = rng.multinomial(n_frames, np.full(n_frames, 1.0 / n_frames), size=draws).astype(np.float64)
    tp_b, nf_b, pos_b = weights @ tp, weights @ nf, weights @ pos
    lo, hi = 50 * (1 - confidence), 50 * (1 + confidence)
    out: dict[str, list[float] | None] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, num, den in (("precision", tp_b, nf_b), ("recall", tp_b, pos_b)):
            vals = (num / den)[den > 0]
            out[f"{name}_interval"] = [float(np.percentile(vals, lo)), float(np.percentile(vals, hi))] if len(vals) else None
    return out


@dataclass
class Calibration:
    """What :func:`calibrate` chose and measured, per source (evaluation-set section or folder).

    ``sections[name]``: ``threshold`` (``{"*": pooled β, goal: β}`` or one β),
    ``temperature`` (tuned τ, or ``None`` for the model's), ``train`` (pooled, at the
    chosen β), ``heldout`` (pooled precision, recall, F1 with ``*_interval`` bounds),
    ``per_goal`` (each goal's β, why, train and held-out figures), ``tau_grid``.
    """

    settings: dict[str, Any]
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def snippet(self, section: str) -> dict[str, Any]:
        """The config snippet of ``section``: ``{"reward": {"threshold": ..., ["temperature": τ],
        ["state_negatives": true]}}`` (β fits only the negatives it was chosen with)."""
        res = self.sections[section]
        reward: dict[str, Any] = {"threshold": res["threshold"]}
        if res["temperature"] is not None:
            reward["temperature"] = res["temperature"]
        if self.settings.get("state_negatives"):
            reward["state_negatives"] = True
        return {"reward": reward}

    def snippet_yaml(self, section: str) -> str:
        import yaml

        res, s = self.sections[section], self.settings
        held = res["heldout"]

        def fmt(v: float | None, iv: list[float] | None) -> str:
            return "n/a" if v is None else f"{v:.3f}" + (f" [{iv[0]:.3f}, {iv[1]:.3f}]" if iv else "")

        aim = f"precision >= {s['target_precision']}" if s["target_precision"] is not None else "best F1"
        if s.get("goal_quantile") is not None and res.get("goal_quantile_precision") is not None:
            aim += f" (pooled beta: in {s['goal_quantile']:.0%} of training-goal resamplings)"
        if s.get("min_recall") is not None:
            fell = sorted(g for g, e in res["per_goal"].items() if e["source"] == FALLBACK_SOURCE)
            aim += (f"; goals below recall {s['min_recall']} there: precision >= {s['fallback_precision']}"
                    f" ({', '.join(fell) if fell else 'none'})")
        header = [
            f"# vlm-rewards calibrate: model {s['model']}, dataset {s['dataset']}, section {section}",
            f"# beta chosen on the train split for {aim}; per goal where a goal has >= {s['min_positives']} train positives",
            f"# held-out at these values: precision {fmt(held['precision'], held.get('precision_interval'))}, "
            f"recall {fmt(held['recall'], held.get('recall_interval'))} ({int(s['confidence'] * 100)}% bootstrap, "
            f"{s['bootstrap']} draws, seed {s['seed']})",
            "# merge into a training config: vlm-rewards train CONFIG --set-file THIS_FILE",
        ]
        return "\n".join(header) + "\n" + yaml.safe_dump(self.snippet(section), sort_keys=False, allow_unicode=True)

    def write(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """``calibration.json`` and one ``reward_<section>.yaml`` snippet per section; the snippets' paths."""
        from vlm_rewards.io import atomic_write_json, atomic_write_text

        out = Path(out_dir)
        paths = {}
        for name, res in self.sections.items():
            if res["threshold"] is None:
                continue  # nothing was chosen: no snippet that could be merged by mistake
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
            paths[name] = atomic_write_text(out / f"reward_{safe}.yaml", self.snippet_yaml(name))
        atomic_write_json(out / "calibration.json", {"settings": self.settings, "sections": self.sections})
        return paths


def _scores(enc: Encoder, src: LabelledFrames, split: str, spec: RewardSpec, tau: float, cache: dict) -> np.ndarray:
    """p of each pair of ``split`` (goal against its negatives from the source's goal set)."""
    # The source's goals first, so their indices stay valid; then the extra negatives.
    pool = negative_pool(src.goals, spec.negatives_from)
    key = (src.name, split)
    if key not in cache:
        from vlm_rewards.evaluation.prompts import render_templates

        if src.domain is not None:
            prompts = render_templates(spec.template, src.domain, pool)
        else:
            if "{goal}" not in spec.template:
                raise ValueError(f"template must contain '{{goal}}' for a labelled folder, got {spec.template!r}")
            prompts = [spec.template.replace("{goal}", g) for g in pool]
        emb = enc.images(src.frames[split], key=("calibrate", src.name, split)).astype(np.float64)
        cache[key] = emb @ enc.texts(prompts).astype(np.float64).T
    rows, cols, _ = src.pairs[split]
    used = np.unique(cols)
    goals = [src.goals[c] for c in used]
    neg = negative_indices(goals, pool, spec.negatives, spec.negative_choice, src.domain, spec.seed)
    sims = cache[key]
    if spec.state_negatives and src.domain is not None and offers_state_negatives(src.domain):
        emb = enc.images(src.frames[split], key=("calibrate", src.name, split))
        sims, neg = with_state_negatives(sims, neg, goals, src.domain, emb, enc.texts(state_negative_prompts(goals, src.domain)))
    p = contrastive_scores(sims, used, neg, tau)  # (N, len(used))
    return p[rows, np.searchsorted(used, cols)]


#: ``source`` of a goal whose own β came from the fallback precision (``min_recall``)
FALLBACK_SOURCE = "goal (fallback precision)"


def _goal_choice(labels: np.ndarray, scores: np.ndarray, target: float | None, min_recall: float | None,
                 fallback: float | None) -> dict[str, Any] | None:
    """A goal's own β: at the target precision; where that recovers less than ``min_recall``
    of its train positives (or nothing reaches the target), the one with the most recall at
    the ``fallback`` precision, if it recovers more: some precision traded for a reward that
    fires on every training goal. (Online it did not pay for the House ms agents, which reached
    their silent goals anyway; see docs/evaluation.md, 2a.)"""
    choice = _choose(labels, scores, target)
    if min_recall is None or (choice is not None and choice["recall"] >= min_recall):
        return choice
    lower = _choose(labels, scores, fallback)
    if lower is not None and (choice is None or lower["recall"] > choice["recall"]):
        return {**lower, "fallback": True}
    return choice


def _calibrate_source(enc: Encoder, src: LabelledFrames, spec: RewardSpec, base_tau: float, *, target: float | None,
                      per_goal: bool, tune_temperature: bool, tau_factors: Sequence[float], min_positives: int,
                      draws: int, confidence: float, rng: np.random.Generator,
                      goal_quantile: float | None = None, min_recall: float | None = None,
                      fallback_precision: float | None = None) -> dict[str, Any]:
    cache: dict = {}
    taus = [base_tau * f for f in tau_factors] if tune_temperature else [base_tau]
    grid, best = [], None
    for tau in taus:
        _, _, labels = src.pairs["train"]
        choice = _choose(labels, _scores(enc, src, "train", spec, tau, cache), target)
        grid.append({"temperature": tau, **(choice or {"threshold": None})})
        # Best F1: the highest F1; a target precision: the most recall at that precision.
        rank = None if choice is None else (choice["f1"] if target is None else choice["recall"])
        if rank is not None and (best is None or rank > best[0]):
            best = (rank, tau, choice)
    if best is None:
        # Reported, not raised: other sections may calibrate fine, and the reachable precision
        # tells the user what target to ask for instead.
        _, _, labels = src.pairs["train"]
        reach = None
        if labels.any():
            precision, recall, _ = pr_curve(labels, _scores(enc, src, "train", spec, base_tau, cache))
            reach = float(precision.max())
        why = ("the train split has no positives" if not labels.any() else
               f"no β reaches precision {target} on the train split (at most {reach:.3f})")
        return {"threshold": None, "pooled_threshold": None, "temperature": None, "unreachable": why,
                "max_train_precision": reach, "train": None, "heldout": None, "per_goal": {}, "tau_grid": grid}
    _, tau, pooled = best
    rows, cols, labels = src.pairs["train"]
    train_scores = _scores(enc, src, "train", spec, tau, cache)
    new_goals = None
    if target is None:
        # The pooled β is the one goals without their own β get (held-out goals among them):
        # the training goals' mean F1 estimates a new goal's, the pooled F1 does not.
        g = best_goal_f1(labels, train_scores, cols)
        if g["threshold"] is not None:
            pooled = {"threshold": float(np.clip(g["threshold"], 0.0, 1.0)), "precision": g["precision"],
                      "recall": g["recall"], "f1": g["f1"]}
    if goal_quantile is not None and target is not None:
        new_goals = _choose_for_new_goals(labels, train_scores, cols, target, goal_quantile, draws,
                                          np.random.default_rng(rng.integers(2**32)))
        if new_goals is not None:
            pooled = new_goals
    betas = np.full(len(src.goals), pooled["threshold"])
    goals_out: dict[str, dict[str, Any]] = {}
    for j, goal in enumerate(src.goals):
        m = cols == j
        if not m.any():
            continue
        npos = int(labels[m].sum())
        entry: dict[str, Any] = {"train_positives": npos, "train_pairs": int(m.sum())}
        choice = (_goal_choice(labels[m], train_scores[m], target, min_recall, fallback_precision)
                  if per_goal and npos >= min_positives else None)
        if choice is not None and not labels[m].all():
            betas[j] = choice["threshold"]
            entry.update(threshold=choice["threshold"], source=FALLBACK_SOURCE if choice.get("fallback") else "goal")
        else:
            why = ("per_goal off" if not per_goal else f"fewer than {min_positives} train positives" if npos < min_positives
                   else "no train negatives" if labels[m].all() else "target out of reach")
            entry.update(threshold=pooled["threshold"], source=f"pooled ({why})")
        entry["train"] = _counts(train_scores[m] > betas[j], labels[m])
        goals_out[goal] = entry
    held_rows, held_cols, held_labels = src.pairs["heldout"]
    held_scores = _scores(enc, src, "heldout", spec, tau, cache)
    held_fired = held_scores > betas[held_cols]
    n_held = len(src.frames["heldout"])
    heldout = {**_counts(held_fired, held_labels),
               **_bootstrap(held_rows, held_fired, held_labels, n_held, draws, confidence, rng)}
    for j, goal in enumerate(src.goals):
        m = held_cols == j
        if m.any():
            entry = goals_out.setdefault(goal, {"threshold": float(betas[j]), "source": "pooled (no train frames)"})
            entry["heldout"] = {**_counts(held_fired[m], held_labels[m]),
                                **_bootstrap(held_rows[m], held_fired[m], held_labels[m], n_held, draws, confidence, rng)}
    own = {g: e["threshold"] for g, e in goals_out.items() if e["source"] in ("goal", FALLBACK_SOURCE)}
    threshold: Any = {"*": pooled["threshold"], **own} if per_goal else pooled["threshold"]
    return {
        "threshold": threshold,
        "pooled_threshold": pooled["threshold"],
        "temperature": tau if tune_temperature else None,
        # None: goal_quantile was not asked for, or no β met it (the pooled β is then the plain one)
        "goal_quantile_precision": None if new_goals is None else new_goals["goal_quantile_precision"],
        "train": _counts(train_scores > betas[cols], labels),
        "heldout": heldout,
        "per_goal": goals_out,
        "tau_grid": grid,
    }


def calibrate(
    model: Any,
    dataset: str | os.PathLike | EvalSet | LabelledFrames,
    *,
    target_precision: float | None = None,
    per_goal: bool = True,
    tune_temperature: bool = False,
    min_positives: int = 5,
    sections: Sequence[str] | None = None,
    spec: RewardSpec | None = None,
    tau_factors: Sequence[float] = TAU_FACTORS,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    goal_quantile: float | None = None,
    min_recall: float | None = None,
    fallback_precision: float | None = None,
    out_dir: str | os.PathLike | None = None,
    batch_size: int = 256,
    encoder: Encoder | None = None,
    **spec_fields: Any,
) -> Calibration:
    """Choose β (and τ with ``tune_temperature``) on the train split; report held-out precision and recall.

    Args:
        model: a spec (``"builtin:default"``, ``"hf:<id>"``, a directory) or a loaded model.
        dataset: an evaluation set (``vlm-rewards collect``), a folder of frames labelled
            by file name (:func:`load_labelled_folder`), or either loaded.
        target_precision: choose each β as the one with the most train recall whose train
            precision reaches this; ``None``: the β of the best train F1 (each goal's own; the
            pooled β maximises the training goals' mean F1, a stand-in for a new goal's).
        per_goal: a β per goal (goals with at least ``min_positives`` train positives and
            some train negatives; the others, held-out goals included, get the pooled β
            under ``"*"``); ``False``: one pooled β.
        tune_temperature: also choose τ from the model's τ times ``tau_factors`` (the one
            with the best pooled train F1, or the most recall at the target precision).
        bootstrap, confidence, seed: held-out intervals from ``bootstrap`` resamplings of
            the held-out frames (seeded: same seed, same interval).
        goal_quantile: with ``target_precision``, choose the pooled β (the one goals without
            their own β get, held-out goals among them) so that train precision reaches the
            target in this fraction of ``bootstrap`` resamplings of the training goals, a
            margin for goals calibration has not seen (e.g. 0.9); ``None``: on the pooled pairs.
        min_recall, fallback_precision: with ``target_precision`` and per-goal β: a goal whose
            β at the target recovers less than ``min_recall`` of its train positives (or that
            no β brings to the target) gets the β with the most recall at
            ``fallback_precision`` instead, where that recovers more (reported as
            ``source: "goal (fallback precision)"``). Both or neither.
        out_dir: write ``calibration.json`` and a ``reward_<section>.yaml`` snippet per section.
        spec, spec_fields: the reward settings (``negatives``, ``template``, ``temperature``, ...);
            the reward must be the binary ``contrastive`` one.
    """
    from vlm_rewards._validation import check_positive_int, check_unit_interval

    spec = replace(spec or RewardSpec(), **spec_fields)
    if not spec.function.binary or not spec.function.needs_negatives:
        raise ValueError(f"calibrate chooses β of a binary reward scored against negatives (contrastive), got reward={spec.reward!r}")
    if target_precision is not None:
        target_precision = check_unit_interval(target_precision, "target_precision")
    if goal_quantile is not None:
        goal_quantile = check_unit_interval(goal_quantile, "goal_quantile")
        if target_precision is None:
            raise ValueError("goal_quantile applies to a target precision: pass target_precision too")
    if (min_recall is None) != (fallback_precision is None):
        raise ValueError("min_recall and fallback_precision go together: pass both or neither")
    if min_recall is not None:
        min_recall = check_unit_interval(min_recall, "min_recall")
        fallback_precision = check_unit_interval(fallback_precision, "fallback_precision")
        if target_precision is None or not per_goal:
            raise ValueError("min_recall applies to per-goal β at a target precision: pass target_precision and per_goal=True")
        if fallback_precision >= target_precision:
            raise ValueError(f"fallback_precision must be below target_precision={target_precision}, got {fallback_precision}")
    min_positives = check_positive_int(min_positives, "min_positives")
    bootstrap = check_positive_int(bootstrap, "bootstrap")
    confidence = check_unit_interval(confidence, "confidence")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got confidence={confidence}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got seed={seed!r}")
    vlm = _load_model(model)
    if isinstance(dataset, LabelledFrames):
        sources, where = [dataset], dataset.name
    elif isinstance(dataset, EvalSet) or (Path(dataset) / "manifest.json").is_file():
        data = dataset if isinstance(dataset, EvalSet) else load_evalset(dataset, sections)
        names = list(sections) if sections is not None else list(data.sections)
        missing = [s for s in names if s not in data.sections]
        if missing:
            raise ValueError(f"sections: dataset {data.path} has no section {missing[0]!r}; it holds {list(data.sections)}")
        sources, where = [_section_source(data, n) for n in names], str(data.path)
    else:
        if sections is not None:
            raise ValueError("sections applies to evaluation sets, not to a labelled folder")
        sources, where = [load_labelled_folder(dataset)], str(dataset)
    enc = encoder or Encoder(vlm, batch_size=batch_size)
    base_tau = spec.temperature if spec.temperature is not None else 1.0 / float(vlm.logit_scale)
    settings = {"model": getattr(vlm, "name", type(vlm).__name__), "dataset": where, **spec.settings(),
                "base_temperature": base_tau, "target_precision": target_precision, "per_goal": per_goal,
                "tune_temperature": tune_temperature, "min_positives": min_positives, "bootstrap": bootstrap,
                "confidence": confidence, "seed": int(seed), "goal_quantile": goal_quantile,
                "min_recall": min_recall, "fallback_precision": fallback_precision}
    result = Calibration(settings=settings)
    for src in sources:
        rng = np.random.default_rng(int(seed))  # per source, so a section's interval does not depend on the others
        result.sections[src.name] = _calibrate_source(
            enc, src, spec, base_tau, target=target_precision, per_goal=per_goal, tune_temperature=tune_temperature,
            tau_factors=tau_factors, min_positives=min_positives, draws=bootstrap, confidence=confidence, rng=rng,
            goal_quantile=goal_quantile, min_recall=min_recall, fallback_precision=fallback_precision)
    if out_dir is not None:
        result.write(out_dir)
    return result
