"""Which goals serve as a goal's fixed negatives: drawn uniformly (the paper), hard ones, or
counterfactual ones.

Hard negatives are the goals most easily confused with the goal:

- by default (house, BabyAI): goals whose objects share the most words with the goal's
  (the colour or the kind: "go near the red ball" -> "go near the red box", "go near the
  blue ball"), ties broken by a seeded shuffle;
- a domain whose record has a ``hard_negative_key`` ranks by it; the phone's: apps whose
  screen has the same layout (the clock's dial and the timer's), then the nearest theme
  colour.

Counterfactual negatives are generated from the goal itself (the paper's future work): the
goals of the domain's ``counterfactuals`` hook that change exactly one attribute of the goal
("go near the red ball" -> "go near the blue ball", "go near the red box"), those of them in
the goal set, ``k`` by a seeded draw. A reward contrasted with them must read the words that
distinguish the goal, not only recognise the scene. ``"counterfactual+uniform"`` takes half
of the ``k`` (rounded up) from the counterfactuals and the rest uniformly from the other goals.
A goal with fewer counterfactuals in the goal set than it needs is topped up uniformly, so
every goal has ``k`` negatives (the scores are a ``(G, K)`` matrix).

All are deterministic in ``(seed, goal, goal_set)``, and :func:`negative_indices` gives
the ``(G, K)`` index matrix the vectorised scores use.

State negatives are not goals: one prompt per goal, rendered from the domain's
``state_negative`` template, showing the goal's objects in a state that does not complete
the goal ("a red ball in a room" for "go near the red ball"). They join whatever negatives
the goal set gives (:func:`state_negative_prompts`, :func:`with_state_negatives`,
:func:`negatives_with_state`), so the softmax can put a frame that shows the ball across the
room on "not yet" instead of on the goal.

Example:
    >>> choose_negatives("go near the red ball", ["go near the red ball", "go near the red box",
    ...     "go near the blue key", "go near the blue ball"], 2, choice="hard", domain="house")
    ['go near the blue ball', 'go near the red box']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vlm_rewards import rewards as R

__all__ = ["NEGATIVE_CHOICES", "choose_negatives", "counterfactuals_in", "negative_indices", "negatives_with_state",
           "offers_state_negatives", "state_negative_prompts", "with_state_negatives"]

NEGATIVE_CHOICES: tuple[str, ...] = ("uniform", "hard", "counterfactual", "counterfactual+uniform")


def counterfactuals_in(goal: str, goal_set: Sequence[str], domain: str) -> list[str]:
    """The entries of ``goal_set`` that are counterfactuals of ``goal`` (its domain's
    ``counterfactuals`` hook), in the hook's order, spelled as in ``goal_set``; goals are
    compared by :func:`~vlm_rewards._validation.goal_key`.
    """
    from vlm_rewards._validation import goal_key
    from vlm_rewards.envs.registry import get_domain, load_hook

    if not isinstance(domain, str):
        raise TypeError(f"domain must name a registered domain for counterfactual negatives, got {domain!r}")
    record = get_domain(domain)
    if record.counterfactuals is None:
        raise ValueError(f"domain {domain!r} has no counterfactuals hook, so it offers no counterfactual negatives")
    own = goal_key(goal)
    entries: dict[str, str] = {}
    for g in goal_set:
        entries.setdefault(goal_key(g), g)
    out, seen = [], {own}
    for cf in load_hook(record.counterfactuals)(goal):
        key = goal_key(cf)
        if key in entries and key not in seen:
            seen.add(key)
            out.append(entries[key])
    return out


def _counterfactual_negatives(goal: str, goal_set: Sequence[str], k: int, choice: str, domain: str | None,
                              seed: int) -> list[str]:
    if domain is None:
        raise ValueError(f"domain must name a registered domain for counterfactual negatives (choice={choice!r}), got None")
    cfs = counterfactuals_in(goal, goal_set, domain)
    want = k if choice == "counterfactual" else (k + 1) // 2
    rng = np.random.default_rng(R._goal_seed(seed, goal))
    if len(cfs) > want:
        cfs = [cfs[i] for i in sorted(rng.choice(len(cfs), size=want, replace=False))]
    taken = set(cfs) | {goal}
    rest = sorted(g for g in set(goal_set) if g not in taken)
    top_up = [rest[i] for i in sorted(rng.choice(len(rest), size=k - len(cfs), replace=False))] if k > len(cfs) else []
    return sorted(cfs + top_up)


def _check_k(k: int | str | None, pool: int, goal: str) -> int:
    if k is None or k == "all":
        return pool
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"negatives (number of negatives) must be a positive integer or 'all', got {k!r}")
    if k > pool:
        raise ValueError(f"negatives={k} requested but the goal set has only {pool} goals besides {goal!r}")
    return int(k)


def choose_negatives(
    goal: str, goal_set: Sequence[str], k: int | str | None = "all", choice: str = "uniform",
    domain: str | None = None, seed: int = 0,
) -> list[str]:
    """``k`` negatives for ``goal`` from ``goal_set`` minus ``goal`` (``"all"``: every other goal).

    ``choice="uniform"`` is :func:`vlm_rewards.rewards.sample_negatives` (so the same
    negatives as :class:`~vlm_rewards.scoring.RewardScorer` with the same seed);
    ``choice="hard"`` needs ``domain`` and picks the most confusable goals;
    ``"counterfactual"`` and ``"counterfactual+uniform"`` need a ``domain`` with a
    ``counterfactuals`` hook (module docstring). With ``k="all"`` every choice gives every
    other goal.
    """
    if choice not in NEGATIVE_CHOICES:
        raise ValueError(f"negative_choice must be one of {NEGATIVE_CHOICES}, got {choice!r}")
    if choice == "uniform" or k is None or k == "all":
        if k is not None and k != "all":
            _check_k(k, len(set(goal_set) - {goal}), goal)
        return R.sample_negatives(goal, goal_set, k, seed)
    pool = sorted(set(goal_set) - {goal})
    k = _check_k(k, len(pool), goal)
    if choice.startswith("counterfactual"):
        return _counterfactual_negatives(goal, pool, k, choice, domain, seed)
    if domain is None:
        raise ValueError("domain must name a registered domain for hard negatives (choice='hard'), got None")
    from vlm_rewards.envs.registry import get_domain, load_hook

    record = get_domain(domain)
    if record.hard_negative_key is not None:
        key = load_hook(record.hard_negative_key)
        ranked = sorted(pool, key=lambda other: (*key(goal, other), other))
    else:
        # Words every goal shares ("go", "near", "the") say nothing about confusability.
        common = set.intersection(*(set(g.split()) for g in goal_set))
        words = set(goal.split()) - common
        rng = np.random.default_rng(R._goal_seed(seed, goal))
        tiebreak = dict(zip(pool, rng.permutation(len(pool)).tolist()))
        ranked = sorted(pool, key=lambda other: (-len(words & set(other.split())), tiebreak[other]))
    return sorted(ranked[:k])


def negative_indices(
    goals: Sequence[str], goal_set: Sequence[str], k: int | str | None = "all", choice: str = "uniform",
    domain: str | None = None, seed: int = 0,
) -> np.ndarray:
    """``(len(goals), K)`` int64 indices into ``goal_set`` of each goal's negatives."""
    index = {g: i for i, g in enumerate(goal_set)}
    missing = [g for g in goals if g not in index]
    if missing:
        raise ValueError(f"goals must belong to goal_set, got {missing[0]!r} which is not in it")
    rows = [[index[n] for n in choose_negatives(g, goal_set, k, choice, domain, seed)] for g in goals]
    return np.array(rows, dtype=np.int64).reshape(len(goals), -1)


def offers_state_negatives(domain: str) -> bool:
    """Whether ``domain`` has a ``state_negative`` template."""
    from vlm_rewards.envs.registry import get_domain

    return get_domain(domain).state_negative is not None


def state_negative_prompts(goals: Sequence[str], domain: str | None) -> list[str]:
    """One state negative per goal: the domain's ``state_negative`` template rendered with
    the goal's fields ("go near the red ball" -> "a red ball in a room")."""
    from vlm_rewards.envs.registry import get_domain
    from vlm_rewards.evaluation.prompts import render_template

    if not isinstance(domain, str):
        raise TypeError(f"domain must name a registered domain for state negatives, got {domain!r}")
    template = get_domain(domain).state_negative
    if template is None:
        raise ValueError(f"domain {domain!r} has no state_negative template, so it offers no state negatives")
    # Two goals may share a state negative (place goals with one object): each keeps its own.
    return [render_template(template, domain, g) for g in goals]


def with_state_negatives(sims: np.ndarray, negatives: np.ndarray, goals: Sequence[str], domain: str | None,
                         image_emb: np.ndarray, text_emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sims, negatives)`` with each goal's state negative appended: ``text_emb`` holds the
    embeddings of :func:`state_negative_prompts` ``(goals, domain)`` (one row per goal), the
    new columns of ``sims`` are the frames' similarities with them, and row ``j`` of
    ``negatives`` gains the index of goal ``j``'s column."""
    text_emb = np.asarray(text_emb, dtype=np.float64)
    if text_emb.shape[0] != len(goals) or np.asarray(negatives).shape[0] != len(goals):
        raise ValueError(f"need one state-negative embedding and one negatives row per goal ({len(goals)}), "
                         f"got {text_emb.shape[0]} and {np.asarray(negatives).shape[0]}")
    extra = np.asarray(image_emb, dtype=np.float64) @ text_emb.T
    first = sims.shape[1]
    return (np.concatenate([np.asarray(sims, dtype=np.float64), extra], axis=1),
            np.concatenate([np.asarray(negatives, dtype=np.int64), first + np.arange(len(goals))[:, None]], axis=1))


def negatives_with_state(goal: str, goal_set: Sequence[str], k: int | str | None = "all", *, seed: int = 0,
                         choice: str = "uniform", domain: str | None = None) -> list[str]:
    """:func:`choose_negatives` plus the goal's state negative: a ``RewardScorer``
    ``negative_sampler`` (bind ``choice`` and ``domain`` with ``functools.partial``)."""
    return [*choose_negatives(goal, goal_set, k, choice, domain, seed), *state_negative_prompts([goal], domain)]
