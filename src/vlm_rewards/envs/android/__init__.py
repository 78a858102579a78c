"""The AndroidEnv adapter (``vlm_rewards/AndroidEnv-v0``, extra ``android``); goals are env arguments.

See :mod:`~vlm_rewards.envs.android.env`.
"""

from __future__ import annotations

from vlm_rewards.envs.android.env import AndroidGoalEnv, SuccessFn, load_android_env

__all__ = ["AndroidGoalEnv", "SuccessFn", "load_android_env"]
