"""``RewardScorer``: frames + goal texts -> rewards, in batches, with a text cache.

This is the one object the wrappers call. It owns the choices that must stay fixed
for a whole run (the reward function, τ, β, the negatives of each goal) so that the
same frame and goal always get the same reward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlm_rewards import rewards as R
from vlm_rewards._validation import (
    check_frames,
    check_goal,
    check_goals,
    check_positive_int,
    check_temperature,
    check_unit_interval,
)
from vlm_rewards.models.base import VisionLanguageModel

__all__ = ["RewardScorer", "ScoreResult"]


@dataclass(frozen=True)
class ScoreResult:
    """Per-frame ``reward`` and ``score`` (p for contrastive rewards), float32 numpy arrays."""

    reward: np.ndarray
    score: np.ndarray


class RewardScorer:
    """Score N frames against N goals with one batched pass of the image encoder.

    Args:
        model: a :class:`~vlm_rewards.models.VisionLanguageModel` (see ``load_model``).
        reward: ``"contrastive"`` (the paper's), ``"cosine"``, ``"goal_baseline"`` or ``"mineclip"``.
        temperature: τ of the softmax; ``None`` uses the model's learned ``1/logit_scale``.
        threshold: β; the contrastive reward is ``1[p > β]``.
        goal_set: the task's goals; each goal's negatives are drawn from the others once
            (seeded, per goal) and then fixed for the run, as in the paper.
        num_negatives: negatives per goal drawn from ``goal_set`` (``None``: all others).
        negatives: an explicit list of negative texts shared by all goals (instead of
            ``goal_set``); must not contain a scored goal.
        alpha, baseline: goal-baseline regularisation strength and baseline prompt.
        batch_size: frames per forward pass of the image encoder.
        device, dtype: where and in which precision the model runs (e.g. torch.bfloat16).
        seed: seeds the negative sampling.

    Example:
        >>> scorer = RewardScorer(load_model("builtin:default"),  # doctest: +SKIP
        ...                       goal_set=["open the clock app", "open the maps app"])
        >>> scorer.score(frames, ["open the clock app"] * len(frames)).reward  # doctest: +SKIP
    """

    def __init__(
        self,
        model: VisionLanguageModel,
        *,
        reward: str = "contrastive",
        temperature: float | None = None,
        threshold: float = R.DEFAULT_THRESHOLD,
        goal_set: Sequence[str] | None = None,
        num_negatives: int | str | None = None,
        negatives: Sequence[str] | None = None,
        alpha: float = 0.5,
        baseline: str | None = None,
        batch_size: int = 64,
        device: Any = None,
        dtype: Any = None,
        seed: int = 0,
    ):
        if not isinstance(model, VisionLanguageModel):
            raise TypeError(f"model must implement encode_images/encode_texts (see load_model), got {type(model).__name__}")
        if reward not in R.REWARD_NAMES:
            raise ValueError(f"reward must be one of {sorted(R.REWARD_NAMES)}, got {reward!r}")
        self.model = model
        if device is not None or dtype is not None:
            if not hasattr(model, "to"):
                raise TypeError("device/dtype given but the model has no .to(device, dtype) method")
            model.to(device=device, dtype=dtype)
        self.reward_name = reward
        self.temperature = (
            check_temperature(temperature) if temperature is not None else 1.0 / float(model.logit_scale)
        )
        self.threshold = check_unit_interval(threshold, "threshold")
        self.alpha = check_unit_interval(alpha, "alpha")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.seed = int(seed)
        self.goal_set = check_goals(list(goal_set), "goal_set") if goal_set is not None else None
        self.negatives = check_goals(list(negatives), "negatives") if negatives is not None else None
        if goal_set is not None and negatives is not None:
            raise ValueError("give either goal_set (negatives sampled from it) or negatives (an explicit list), not both")
        if num_negatives is not None and num_negatives != "all":
            check_positive_int(num_negatives, "num_negatives")
        self.num_negatives = num_negatives
        if reward in ("contrastive", "mineclip") and goal_set is None and negatives is None:
            raise ValueError(f"reward={reward!r} needs negatives: pass goal_set=[...] or negatives=[...]")
        if reward == "goal_baseline":
            self.baseline = check_goal(baseline, "baseline")
        else:
            self.baseline = baseline
        self._text_cache: dict[str, Any] = {}
        self._negatives_of: dict[str, list[str]] = {}
        self.frames_scored = 0

    # --- configuration ---------------------------------------------------------------
    @property
    def is_binary(self) -> bool:
        """Whether the reward is 0/1 (and so can end an episode when it fires)."""
        return R.REWARD_NAMES[self.reward_name]

    def settings(self) -> dict[str, Any]:
        """The settings that determine every reward, e.g. for logs and reports."""
        return {
            "model": getattr(self.model, "name", type(self.model).__name__),
            "reward": self.reward_name,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "goal_set_size": len(self.goal_set) if self.goal_set is not None else None,
            "num_negatives": self.num_negatives if self.goal_set is not None else None,
            "negatives": self.negatives,
            "alpha": self.alpha if self.reward_name == "goal_baseline" else None,
            "baseline": self.baseline if self.reward_name == "goal_baseline" else None,
            "seed": self.seed,
        }

    def negatives_for(self, goal: str) -> list[str]:
        """The fixed negatives of ``goal`` (drawn on first use, then cached)."""
        goal = check_goal(goal)
        if goal not in self._negatives_of:
            if self.negatives is not None:
                if goal in self.negatives:
                    raise ValueError(f"negatives must not contain the goal itself: {goal!r}")
                self._negatives_of[goal] = list(self.negatives)
            elif self.goal_set is not None:
                k = self.num_negatives
                self._negatives_of[goal] = R.sample_negatives(goal, self.goal_set, k, self.seed)
            else:
                raise ValueError("this scorer has no negatives (pass goal_set or negatives)")
        return self._negatives_of[goal]

    # --- embeddings ------------------------------------------------------------------
    def text_embeddings(self, texts: Sequence[str]):
        """``(M, D)`` embeddings of ``texts``; each distinct string is encoded once per scorer."""
        import torch

        texts = check_goals(list(texts), "texts")
        missing = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
        if missing:
            emb = self.model.encode_texts(missing)
            for t, e in zip(missing, emb):
                self._text_cache[t] = e
        return torch.stack([self._text_cache[t] for t in texts])

    def encode_frames(self, frames: Any):
        """``(N, D)`` image embeddings, in chunks of ``batch_size`` frames."""
        import torch

        frames = check_frames(frames, "frames")
        chunks = [self.model.encode_images(frames[i : i + self.batch_size]) for i in range(0, len(frames), self.batch_size)]
        self.frames_scored += len(frames)
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks)

    # --- rewards ---------------------------------------------------------------------
    def score_embeddings(self, image_emb: Any, goals: Sequence[str]) -> ScoreResult:
        """Rewards for precomputed image embeddings ``(N, D)`` and one goal per row."""
        import torch

        goals = check_goals(list(goals), "goals")
        if len(goals) != len(image_emb):
            raise ValueError(f"goals must have one entry per frame: got {len(goals)} goals for {len(image_emb)} frames")
        with torch.inference_mode():
            goal_emb = self.text_embeddings(goals)
            name = self.reward_name
            if name == "cosine":
                out = R.cosine(image_emb, goal_emb)
            elif name == "goal_baseline":
                out = R.goal_baseline(image_emb, goal_emb, self.text_embeddings([self.baseline])[0], alpha=self.alpha)
            else:
                out = self._softmax_reward(image_emb, goal_emb, goals)
        return ScoreResult(
            reward=out.reward.float().cpu().numpy().astype(np.float32),
            score=out.score.float().cpu().numpy().astype(np.float32),
        )

    def _softmax_reward(self, image_emb, goal_emb, goals: list[str]) -> R.RewardOutput:
        import torch

        negs = [self.negatives_for(g) for g in goals]
        # A goal outside goal_set has one more negative than one inside it; rows with the
        # same number of negatives are scored together.
        groups: dict[int, list[int]] = {}
        for i, n in enumerate(negs):
            groups.setdefault(len(n), []).append(i)
        reward = torch.empty(len(goals))
        score = torch.empty(len(goals))
        for k, rows in groups.items():
            neg_emb = self.text_embeddings([t for i in rows for t in negs[i]]).view(len(rows), k, -1)
            idx = torch.tensor(rows)
            img, goal = image_emb[idx.to(image_emb.device)], goal_emb[idx.to(goal_emb.device)]
            if self.reward_name == "contrastive":
                out = R.contrastive(img, goal, neg_emb, temperature=self.temperature, threshold=self.threshold)
            else:
                out = R.mineclip(img, goal, neg_emb, temperature=self.temperature)
            reward[idx], score[idx] = out.reward.float().cpu(), out.score.float().cpu()
        return R.RewardOutput(reward=reward, score=score)

    def score(self, frames: Any, goals: Sequence[str] | str) -> ScoreResult:
        """Rewards for ``frames`` ``(N, H, W, 3)`` and ``goals`` (one per frame, or one string for all)."""
        frames = check_frames(frames, "frames")
        if isinstance(goals, str):
            goals = [check_goal(goals)] * len(frames)
        goals = check_goals(goals, "goals")
        if len(goals) != len(frames):
            raise ValueError(f"goals must have one entry per frame: got {len(goals)} goals for {len(frames)} frames")
        return self.score_embeddings(self.encode_frames(frames), goals)
