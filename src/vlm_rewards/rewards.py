"""Reward functions on VLM embeddings: pure, batched, and free of model code.

Each function takes image embeddings ``f(o)`` of shape ``(N, D)`` and goal embeddings
``g(l)`` of shape ``(N, D)`` (one goal per frame) or ``(D,)`` (one goal for all frames),
L2-normalises them (so a dot product is a cosine similarity) and returns a
:class:`RewardOutput` with the reward and the underlying score, both of shape ``(N,)``.

Defaults for the paper's contrastive reward:

- ``temperature`` τ = 0.01, the value CLIP learns (``logit_scale = 100``). The scorer
  uses the loaded model's own learned temperature unless told otherwise, because the
  softmax is only calibrated at the temperature the model was trained with.
- ``threshold`` β = 0.5: the reward fires when the goal is more probable than all fixed
  negatives together, the natural decision point of a softmax. Choose β on held-out
  data for a given model (see ``vlm_rewards.evaluate``).

Example:
    >>> import torch
    >>> from vlm_rewards import rewards
    >>> img = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> goal = torch.tensor([1.0, 0.0]); neg = torch.tensor([[0.0, 1.0]])
    >>> out = rewards.contrastive(img, goal, neg, temperature=0.1, threshold=0.5)
    >>> out.reward.tolist()
    [1.0, 0.0]
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from vlm_rewards._validation import (
    check_embeddings,
    check_goal,
    check_goals,
    dedupe_goals,
    goal_key,
    normalize_goal,
    check_temperature,
    check_unit_interval,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_TEMPERATURE",
    "DEFAULT_THRESHOLD",
    "REWARDS",
    "REWARD_NAMES",
    "RewardFunction",
    "RewardOutput",
    "contrastive",
    "contrastive_probability",
    "cosine",
    "get_reward",
    "goal_baseline",
    "mean_embedding",
    "mineclip",
    "register_reward",
    "sample_negatives",
]

DEFAULT_TEMPERATURE = 0.01
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class RewardOutput:
    """``reward`` and ``score`` (probability for contrastive rewards, else similarity), shape (N,)."""

    reward: torch.Tensor
    score: torch.Tensor


def _normalise(x: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.nn.functional.normalize(x, dim=-1, eps=1e-12)


def _frames_and_goals(image_emb: Any, goal_emb: Any) -> tuple[torch.Tensor, torch.Tensor]:
    image = check_embeddings(image_emb, "image_emb", ndim=2)
    goal = check_embeddings(goal_emb, "goal_emb", ndim=(1, 2))
    if goal.ndim == 1:
        goal = goal.unsqueeze(0).expand(image.shape[0], -1)
    if goal.shape[0] != image.shape[0]:
        raise ValueError(
            f"goal_emb must have one row per frame: image_emb has {image.shape[0]} rows, "
            f"goal_emb has {goal.shape[0]}"
        )
    if goal.shape[1] != image.shape[1]:
        raise ValueError(
            f"goal_emb and image_emb must share the embedding size, got {goal.shape[1]} and {image.shape[1]}"
        )
    goal = goal.to(image.device)
    return _normalise(image), _normalise(goal)


def _negatives(negative_emb: Any, n: int, d: int, device) -> torch.Tensor:
    neg = check_embeddings(negative_emb, "negative_emb", ndim=(2, 3))
    if neg.ndim == 2:
        neg = neg.unsqueeze(0).expand(n, -1, -1)
    if neg.shape[0] != n:
        raise ValueError(
            f"negative_emb of shape (N, K, D) must have N equal to the number of frames ({n}), "
            f"got shape {tuple(neg.shape)}"
        )
    if neg.shape[-1] != d:
        raise ValueError(f"negative_emb must have embedding size {d}, got shape {tuple(neg.shape)}")
    if neg.shape[1] == 0:
        raise ValueError("negative_emb must hold at least one negative")
    return _normalise(neg.to(device))


def contrastive_probability(
    image_emb: Any, goal_emb: Any, negative_emb: Any, temperature: float = DEFAULT_TEMPERATURE
) -> torch.Tensor:
    r"""The paper's goal probability, shape (N,).

    .. math::
        p(l \mid o) = \frac{\exp(f(o)\cdot g(l)/\tau)}
                           {\sum_{l' \in \{l\} \cup \mathcal{N}} \exp(f(o)\cdot g(l')/\tau)}

    with unit-norm embeddings, so ``f(o)·g(l)`` is the cosine similarity. ``negative_emb``
    is ``(K, D)`` (the same negatives for every frame) or ``(N, K, D)``.
    """
    import torch

    tau = check_temperature(temperature, "temperature")
    image, goal = _frames_and_goals(image_emb, goal_emb)
    neg = _negatives(negative_emb, image.shape[0], image.shape[1], image.device)
    pos_logit = (image * goal).sum(-1, keepdim=True)  # (N, 1)
    neg_logits = torch.einsum("nd,nkd->nk", image, neg)  # (N, K)
    logits = torch.cat([pos_logit, neg_logits], dim=1) / tau
    return torch.softmax(logits, dim=1)[:, 0]


def contrastive(
    image_emb: Any,
    goal_emb: Any,
    negative_emb: Any,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    threshold: float = DEFAULT_THRESHOLD,
) -> RewardOutput:
    r"""The paper's binary reward: ``r = 1[p(l|o) > β]`` (strict), with ``p`` from
    :func:`contrastive_probability`. Returns the reward (0.0 or 1.0) and ``p`` as score.

    ``threshold`` is one β for all frames, or one per frame (shape ``(N,)``; e.g. each
    frame's goal's own β, see ``RewardScorer(threshold={goal: β})``).
    """
    p = contrastive_probability(image_emb, goal_emb, negative_emb, temperature)
    if isinstance(threshold, (int, float, np.floating, np.integer)) or threshold is None or isinstance(threshold, bool):
        beta: Any = check_unit_interval(threshold, "threshold")
    else:
        import torch

        # In p's dtype, so a per-frame β equal to a scalar β fires on exactly the same frames.
        beta = torch.as_tensor(np.asarray(threshold, dtype=np.float64) if not isinstance(threshold, torch.Tensor)
                               else threshold).to(device=p.device, dtype=p.dtype)
        if beta.shape != p.shape:
            raise ValueError(f"threshold must be a number or one per frame, shape {tuple(p.shape)}, got shape {tuple(beta.shape)}")
        if not bool(((beta >= 0) & (beta <= 1)).all()):
            raise ValueError("threshold values must be in [0, 1]")
    return RewardOutput(reward=(p > beta).to(p.dtype), score=p)


def cosine(image_emb: Any, goal_emb: Any) -> RewardOutput:
    r"""Cosine similarity baseline: ``r = f(o)·g(l) / (‖f(o)‖‖g(l)‖)``, in [-1, 1]."""
    image, goal = _frames_and_goals(image_emb, goal_emb)
    sim = (image * goal).sum(-1)
    return RewardOutput(reward=sim, score=sim)


def goal_baseline(image_emb: Any, goal_emb: Any, baseline_emb: Any, *, alpha: float = 0.5) -> RewardOutput:
    r"""VLM-RM's goal-baseline regularisation (Rocamonde et al., 2023).

    .. math::
        r = 1 - \tfrac12 \lVert \alpha\,\mathrm{proj}(s) + (1-\alpha)\,s - g \rVert^2

    where ``s = f(o)``, ``g = g(l)`` and ``b`` (the baseline prompt's embedding, e.g. "a
    room") are unit vectors and ``proj`` projects onto the line through ``b`` and ``g``:
    ``proj(s) = g + d dᵀ(s - g)``, ``d = (g - b)/‖g - b‖``. With α = 0 this is
    ``1 - ½‖s - g‖² = cos(s, g)``; with α = 1 only the component along the
    baseline-to-goal direction counts. ``baseline_emb`` is ``(D,)`` or ``(N, D)``.
    """
    a = check_unit_interval(alpha, "alpha")
    image, goal = _frames_and_goals(image_emb, goal_emb)
    _, base = _frames_and_goals(image, baseline_emb)
    direction = goal - base
    norm = direction.norm(dim=-1, keepdim=True)
    if bool((norm < 1e-6).any()):
        raise ValueError("baseline_emb must differ from goal_emb (the projection direction is undefined)")
    d = direction / norm
    diff = image - goal
    along = (diff * d).sum(-1, keepdim=True) * d
    residual = a * along + (1.0 - a) * diff
    r = 1.0 - 0.5 * (residual * residual).sum(-1)
    return RewardOutput(reward=r, score=r)


def mineclip(
    image_emb: Any, goal_emb: Any, negative_emb: Any, *, temperature: float = DEFAULT_TEMPERATURE
) -> RewardOutput:
    r"""MineCLIP-style dense reward: ``r = max(p(l|o) - 1/(K+1), 0)``, K negatives.

    It subtracts the chance level of the softmax over the goal and its K negatives, so
    a frame that matches no prompt better than the others earns nothing.
    """
    import torch

    p = contrastive_probability(image_emb, goal_emb, negative_emb, temperature)
    k = check_embeddings(negative_emb, "negative_emb", ndim=(2, 3)).shape[-2]
    return RewardOutput(reward=torch.clamp(p - 1.0 / (k + 1), min=0.0), score=p)


def mean_embedding(embeddings: Any, k: int) -> torch.Tensor:
    """Multi-frame observation: the renormalised mean of the last ``k`` embeddings.

    ``embeddings`` is ``(T, D)`` (one trajectory, oldest first) or ``(N, T, D)``.
    """
    from vlm_rewards._validation import check_positive_int

    k = check_positive_int(k, "k")
    x = check_embeddings(embeddings, "embeddings", ndim=(2, 3))
    return _normalise(_normalise(x)[..., -k:, :].mean(dim=-2))


def _goal_seed(seed: int, goal: str) -> int:
    # Seeded per goal, not by call order, so a goal's negatives are the same whatever
    # other goals were seen first in the run.
    return (int(seed) * 1_000_003 + zlib.crc32(goal.encode("utf-8"))) % (2**32)


def sample_negatives(goal: str, goal_set: Sequence[str], k: int | str | None, seed: int = 0) -> list[str]:
    """Negatives for ``goal``: ``k`` goals drawn uniformly without replacement from
    ``goal_set`` minus ``goal`` (``k="all"`` or ``None``: all of them).

    Goals are compared by :func:`~vlm_rewards._validation.goal_key` (Unicode NFC,
    whitespace collapsed, case-folded): a goal is never its own negative because its
    goal-set entry is spelled with other case or spacing, and a goal set listing one goal
    twice does not weigh it twice. Negatives come back normalised.

    Deterministic in ``(seed, goal, goal_set)``: draw them once per run and keep them
    fixed, as the paper does, so the reward is not stochastic.
    """
    goal = check_goal(goal, "goal")
    key = goal_key(goal)
    entries = dedupe_goals(check_goals(goal_set, "goal_set"))
    # Seeded by the goal-set entry's own spelling, so every spelling of a goal draws the
    # same negatives (and a canonical goal the same ones as before normalisation existed).
    spelling = next((g for g in entries if goal_key(g) == key), normalize_goal(goal))
    pool = sorted(g for g in entries if goal_key(g) != key)
    if not pool:
        raise ValueError(f"goal_set must contain at least one goal other than {goal!r}")
    if k is None or k == "all":
        return pool
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (number of negatives) must be a positive integer or 'all', got {k!r}")
    if k > len(pool):
        raise ValueError(f"k={k} negatives requested but goal_set has only {len(pool)} goals besides {goal!r}")
    rng = np.random.default_rng(_goal_seed(seed, spelling))
    idx = rng.choice(len(pool), size=int(k), replace=False)
    return [pool[i] for i in sorted(idx)]


# --- Registry ----------------------------------------------------------------------------------

#: the settings a reward function may take, as the scorer passes them (``baseline_emb``: the
#: embedding of the scorer's baseline prompt)
REWARD_PARAMS: tuple[str, ...] = ("temperature", "threshold", "alpha", "baseline_emb")


@dataclass(frozen=True)
class RewardFunction:
    """A reward function and what it needs, so callers ask the record rather than the name.

    ``fn(image_emb, goal_emb, [negative_emb,] **{p: ... for p in params})`` returns a
    :class:`RewardOutput`; ``negative_emb`` is passed iff ``needs_negatives``.

    Attributes:
        binary: rewards are 0/1, so the reward firing may end an episode.
        needs_negatives: scored against each goal's negatives (a goal set or explicit list).
        params: keyword settings ``fn`` takes, from :data:`REWARD_PARAMS`.
        offline: the offline evaluation (``vlm_rewards.evaluation``) has a vectorised form.
    """

    name: str
    fn: Callable[..., RewardOutput]
    binary: bool = False
    needs_negatives: bool = False
    params: tuple[str, ...] = ()
    offline: bool = False

    def __post_init__(self) -> None:
        bad = [p for p in self.params if p not in REWARD_PARAMS]
        if bad:
            raise ValueError(f"params must be names from {REWARD_PARAMS}, got {bad}")

    @property
    def needs_baseline(self) -> bool:
        """Whether a baseline prompt must be given (goal-baseline regularisation)."""
        return "baseline_emb" in self.params


_REWARDS: dict[str, RewardFunction] = {}
#: reward name -> :class:`RewardFunction`, read-only and in registration order
REWARDS: Mapping[str, RewardFunction] = MappingProxyType(_REWARDS)


def register_reward(spec: RewardFunction) -> RewardFunction:
    """Add a reward function to :data:`REWARDS` (so scorers, configs and the CLI accept its name)."""
    if not isinstance(spec, RewardFunction):
        raise TypeError(f"spec must be a RewardFunction, got {type(spec).__name__}")
    if spec.name in _REWARDS:
        raise ValueError(f"reward {spec.name!r} is already registered")
    _REWARDS[spec.name] = spec
    return spec


def get_reward(name: str) -> RewardFunction:
    """The :class:`RewardFunction` named ``name``; ``ValueError`` listing the registered names."""
    if not isinstance(name, str) or name not in _REWARDS:
        raise ValueError(f"reward must be one of {sorted(_REWARDS)}, got {name!r}")
    return _REWARDS[name]


register_reward(RewardFunction("contrastive", contrastive, binary=True, needs_negatives=True,
                               params=("temperature", "threshold"), offline=True))
register_reward(RewardFunction("cosine", cosine, offline=True))
register_reward(RewardFunction("goal_baseline", goal_baseline, params=("alpha", "baseline_emb"), offline=True))
register_reward(RewardFunction("mineclip", mineclip, needs_negatives=True, params=("temperature",)))


def __getattr__(name: str) -> Any:
    # Kept for callers of the former name -> is-binary dict.
    if name == "REWARD_NAMES":
        return {n: r.binary for n, r in _REWARDS.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
