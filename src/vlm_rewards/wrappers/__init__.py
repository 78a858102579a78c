"""Gymnasium and Stable-Baselines3 wrappers that put a VLM reward into the step result.

Every wrapper is a thin adapter around one :class:`~vlm_rewards.wrappers.core.RewardStep`
(which also drives the Ray env workers and agent evaluation), one module each:

- :mod:`.core`: the step itself (goals, ``score_every``, frame window, termination on
  success, episode records); numpy only, no Gymnasium, SB3 or torch at import.
- :mod:`.single`: :class:`VLMRewardWrapper` (one env; reward from ``env.render()`` or the
  observation) and :class:`RenderFrameInfo` (the rendered frame in ``info``, for SB3
  vector envs, which reset a finished env before the wrapper could render it).
- :mod:`.vector`: :class:`VLMRewardVectorWrapper` (a Gymnasium vector env; all sub-envs
  scored in one batch).
- :mod:`.sb3`: :class:`VecVLMReward` (the same for a Stable-Baselines3 ``VecEnv``) and
  :class:`VecRegionSimilarity` (:mod:`.region`'s policy input, one batch per step).
- :mod:`.region`: :class:`RegionSimilarityObservation` (the VLM's similarity of each screen
  region with the goal, as a policy input) and :class:`RegionCropsInfo` (its per-env half).
- :mod:`.stack` and :mod:`.action`: :class:`FrameStackImage` (the last few views) and
  :class:`PreviousActionObservation` (the last action), the memory a feed-forward policy lacks.
- :mod:`.goal`: :class:`GoalEmbeddingObservation` (the goal's text embedding in the
  observation, so one policy can be conditioned on language) and :func:`goal_embedding_table`.

Every wrapper replaces the env reward with the VLM reward and keeps the original in
``info["env_reward"]``; ``info["vlm_reward"]`` and ``info["vlm_probability"]`` hold the
reward and its score (p for the contrastive reward), and ``info["ground_truth_success"]``
is passed through when the env provides it. With ``terminate_on_success`` (the paper's
setting) the episode ends when a binary VLM reward fires.

Cost controls (see ``docs/performance.md``): ``score_every=k`` scores every k-th step of an
episode and its last step (other steps get reward 0 and ``info["vlm_scored"] = False``);
``score_every="episode"`` scores only the last frame of each episode (VLM-RM style, one
batched pass for the envs that finish together); ``VecVLMReward(async_scoring=True)``
encodes the frames of the sub-envs that have finished stepping while the others still
step. ``info["vlm_cache_hit_rate"]`` is the scorer's frame-cache hit rate so far (every
step in the vector wrappers, at episode ends in :class:`VLMRewardWrapper`).

The adapters load on first use, so ``import vlm_rewards.wrappers.core`` imports neither
Gymnasium nor Stable-Baselines3.

Example:
    >>> from vlm_rewards.wrappers import VLMRewardWrapper  # doctest: +SKIP
    >>> env = VLMRewardWrapper(gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array"), scorer)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from vlm_rewards.wrappers.core import RewardStep, StepOutput

_LAZY = {
    "VLMRewardWrapper": "vlm_rewards.wrappers.single",
    "RenderFrameInfo": "vlm_rewards.wrappers.single",
    "VLMRewardVectorWrapper": "vlm_rewards.wrappers.vector",
    "VecVLMReward": "vlm_rewards.wrappers.sb3",
    "VecRegionSimilarity": "vlm_rewards.wrappers.sb3",
    "VecPatchFeatures": "vlm_rewards.wrappers.sb3",
    "PatchFeatureObservation": "vlm_rewards.wrappers.patches",
    "FrameStackImage": "vlm_rewards.wrappers.stack",
    "PreviousActionObservation": "vlm_rewards.wrappers.action",
    "GoalEmbeddingObservation": "vlm_rewards.wrappers.goal",
    "goal_embedding_table": "vlm_rewards.wrappers.goal",
    "RegionSimilarityObservation": "vlm_rewards.wrappers.region",
    "RegionCropsInfo": "vlm_rewards.wrappers.region",
}

__all__ = sorted([*_LAZY, "RewardStep", "StepOutput"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vlm_rewards.wrappers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
