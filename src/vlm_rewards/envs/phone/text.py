"""Phone goals as text: prompt-template fields and hard-negative ranking (no rendering)."""

from __future__ import annotations

import numpy as np

from vlm_rewards.envs.phone.apps import APPS
from vlm_rewards.envs.phone.env import parse_goal

__all__ = ["goal_fields", "hardness"]


def goal_fields(goal: str) -> dict[str, str]:
    """``{goal}``, ``{task}`` and ``{app}`` (the app's name, "clock")."""
    app = parse_goal(goal, "diverse")[1]
    return {"goal": goal, "task": app, "app": app}


def hardness(goal: str, other: str) -> tuple[float, float]:
    """Sort key of ``other`` as a negative of ``goal``: same screen layout first (the clock's
    dial and the timer's), then the nearest theme colour."""
    a, b = APPS[parse_goal(goal, "diverse")[1]], APPS[parse_goal(other, "diverse")[1]]
    rgb = [np.array([int(c.color[i : i + 2], 16) for i in (1, 3, 5)], float) for c in (a, b)]
    return (-float(a.screen == b.screen), float(np.linalg.norm(rgb[0] - rgb[1])))
