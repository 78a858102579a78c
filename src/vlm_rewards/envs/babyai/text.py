"""BabyAI goals as text: prompt-template fields (no MiniGrid import)."""

from __future__ import annotations

import re

__all__ = ["goal_fields"]

_GOAL = re.compile(r"^(?:go to|pick up|open) (?:the|a) (\w+) (\w+)$")


def goal_fields(goal: str) -> dict[str, str]:
    """``{goal}``, ``{colour}``, ``{object}``, ``{name}``."""
    match = _GOAL.match(" ".join(goal.lower().split()))
    if match is None:
        raise ValueError(f"goal must look like 'go to the {{colour}} {{object}}' for babyai, got {goal!r}")
    colour, obj = match.groups()
    return {"goal": goal, "colour": colour, "object": obj, "name": f"{colour} {obj}"}
