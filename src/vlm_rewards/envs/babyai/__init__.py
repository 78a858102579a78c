"""The BabyAI domain (``vlm_rewards/BabyAI-v0``): an adapter over MiniGrid's ``BabyAI-*`` levels.

Modules: :mod:`~vlm_rewards.envs.babyai.env` (the Gymnasium env, goals, solver),
:mod:`~vlm_rewards.envs.babyai.text` (prompt fields; no MiniGrid import),
:mod:`~vlm_rewards.envs.babyai.samples` (corpus and evaluation-set generators).
"""

from __future__ import annotations

from typing import Any

from vlm_rewards.envs.babyai.text import COLOURS, OBJECTS

# The names below live in env.py, which imports MiniGrid; they load on first use so that
# text.py (prompt fields for evaluation and templates) works where MiniGrid is not installed.
_ENV_NAMES = ("DEFAULT_LEVEL", "HELDOUT_COMBINATIONS", "BabyAIEnv", "BabyAISolver", "goals", "make_solver")
__all__ = ["COLOURS", "DEFAULT_LEVEL", "HELDOUT_COMBINATIONS", "OBJECTS", "BabyAIEnv", "BabyAISolver", "goals", "make_solver"]


def __getattr__(name: str) -> Any:
    if name in _ENV_NAMES:
        from vlm_rewards.envs.babyai import env

        return getattr(env, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
