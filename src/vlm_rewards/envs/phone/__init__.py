"""The phone domain (``vlm_rewards/Phone-v0``): a simulated launcher drawn with Pillow.

Modules: :mod:`~vlm_rewards.envs.phone.env` (the Gymnasium env, goals, scripted solver),
:mod:`~vlm_rewards.envs.phone.apps` (the app catalogue and its drawings),
:mod:`~vlm_rewards.envs.phone.text` (prompt fields, hard negatives),
:mod:`~vlm_rewards.envs.phone.samples` (corpus and evaluation-set generators).

Example:
    >>> from vlm_rewards.envs import phone
    >>> len(phone.goals("all", apps="diverse"))
    60
"""

from __future__ import annotations

from vlm_rewards.envs.phone.env import (
    ACTION_NAMES,
    APP_SETS,
    BACK,
    HOME,
    LIFT,
    N_DISCRETE,
    N_TAP_CELLS,
    REPEAT,
    SWIPE_LEFT,
    SWIPE_RIGHT,
    TOUCH,
    DiscretePhoneActions,
    PhoneEnv,
    PhoneLayout,
    TouchEvent,
    cell_center,
    tap_boxes,
    gesture_events,
    goal_apps,
    goal_text,
    goals,
    make_solver,
    parse_goal,
)
from vlm_rewards.envs.phone.apps import GRID_COLS

__all__ = [
    "ACTION_NAMES",
    "APP_SETS",
    "BACK",
    "GRID_COLS",
    "HOME",
    "LIFT",
    "N_DISCRETE",
    "N_TAP_CELLS",
    "REPEAT",
    "SWIPE_LEFT",
    "SWIPE_RIGHT",
    "TOUCH",
    "DiscretePhoneActions",
    "PhoneEnv",
    "PhoneLayout",
    "TouchEvent",
    "cell_center",
    "tap_boxes",
    "gesture_events",
    "goal_apps",
    "goal_text",
    "goals",
    "make_solver",
    "parse_goal",
]
