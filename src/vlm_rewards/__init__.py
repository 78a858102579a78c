"""vlm-rewards: vision-language models (CLIP family) as rewards for language-goal RL.

Implements *Vision-Language Models as a Source of Rewards* (Baumli et al., 2023).
Heavy dependencies (torch, transformers, stable-baselines3) load on first use, so
``import vlm_rewards`` stays fast. Importing it registers the Gymnasium ids
(``vlm_rewards/Phone-v0``, ...) without importing any env, so ``gym.make`` works after
``import vlm_rewards`` and ``gym.make("vlm_rewards:vlm_rewards/Phone-v0")`` with no import.

Example:
    >>> from vlm_rewards import load_model, RewardScorer  # doctest: +SKIP
    >>> scorer = RewardScorer(load_model("builtin:default"), goal_set=goals)  # doctest: +SKIP
    >>> scorer.score(frames, "open the clock app").reward  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

# Registers every domain's env ids with Gymnasium (entry points are strings: nothing heavy loads).
import vlm_rewards.envs.registry  # noqa: E402, F401

__version__ = "0.1.0"

_LAZY = {
    "load_model": "vlm_rewards.models",
    "builtin_models": "vlm_rewards.models",
    "ModelLoadError": "vlm_rewards.models",
    "ModelNotAvailableError": "vlm_rewards.models",
    "VisionLanguageModel": "vlm_rewards.models",
    "RewardScorer": "vlm_rewards.scoring",
    "ScoreResult": "vlm_rewards.scoring",
    "VLMRewardWrapper": "vlm_rewards.wrappers",
    "VLMRewardVectorWrapper": "vlm_rewards.wrappers",
    "VecVLMReward": "vlm_rewards.wrappers",
    "GoalEmbeddingObservation": "vlm_rewards.wrappers",
    "RenderFrameInfo": "vlm_rewards.wrappers",
    "goals": "vlm_rewards.envs",
    "rewards": "vlm_rewards.rewards",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if name == "rewards" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vlm_rewards' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
