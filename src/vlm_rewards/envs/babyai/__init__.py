"""The BabyAI domain (``vlm_rewards/BabyAI-v0``): an adapter over MiniGrid's ``BabyAI-*`` levels.

Modules: :mod:`~vlm_rewards.envs.babyai.env` (the Gymnasium env, goals, solver),
:mod:`~vlm_rewards.envs.babyai.text` (prompt fields; no MiniGrid import),
:mod:`~vlm_rewards.envs.babyai.samples` (corpus and evaluation-set generators).
"""

from __future__ import annotations

from vlm_rewards.envs.babyai.env import (
    COLOURS,
    DEFAULT_LEVEL,
    HELDOUT_COMBINATIONS,
    OBJECTS,
    BabyAIEnv,
    BabyAISolver,
    goals,
    make_solver,
)

__all__ = ["COLOURS", "DEFAULT_LEVEL", "HELDOUT_COMBINATIONS", "OBJECTS", "BabyAIEnv", "BabyAISolver", "goals", "make_solver"]
