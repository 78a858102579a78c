"""Phone goals as text: prompt-template fields, hard-negative ranking and counterfactual goals
(no rendering)."""

from __future__ import annotations

import numpy as np

from vlm_rewards.envs.phone.apps import APPS, DIVERSE_APPS
from vlm_rewards.envs.phone.env import goal_text, parse_goal

__all__ = ["counterfactuals", "goal_fields", "hardness"]


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


def counterfactuals(goal: str) -> list[str]:
    """The goal with its one attribute, the app, changed: every other app of the catalogue
    (the 60-app "diverse" set, which holds the "common" one), in catalogue order.

    Example:
        >>> counterfactuals("open the clock app")[:1]
        ['open the camera app']
    """
    app = parse_goal(goal, "diverse")[1]
    return [goal_text(a) for a in DIVERSE_APPS if a != app]
