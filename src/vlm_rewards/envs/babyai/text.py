"""BabyAI goals as text: prompt-template fields and counterfactual goals (no MiniGrid import)."""

from __future__ import annotations

import re

__all__ = ["COLOURS", "OBJECTS", "counterfactuals", "goal_fields"]

#: MiniGrid's colour names, in BabyAI's mission order (the env module re-exports them).
COLOURS: tuple[str, ...] = ("red", "green", "blue", "purple", "yellow", "grey")
#: the pickable objects of BabyAI missions (doors are goals of "go to" and "open" only).
OBJECTS: tuple[str, ...] = ("ball", "box", "key")

# Which object kinds each verb's missions may name, so a counterfactual is a mission the
# verb can have ("pick up the red door" cannot).
_KINDS: dict[str, tuple[str, ...]] = {"go to": (*OBJECTS, "door"), "pick up": OBJECTS, "open": ("door",)}

_GOAL = re.compile(r"^(go to|pick up|open) (the|a) (\w+) (\w+)$")


def goal_fields(goal: str) -> dict[str, str]:
    """``{goal}``, ``{colour}``, ``{object}``, ``{name}``."""
    match = _GOAL.match(" ".join(goal.lower().split()))
    if match is None:
        raise ValueError(f"goal must look like 'go to the {{colour}} {{object}}' for babyai, got {goal!r}")
    colour, obj = match.groups()[2:]
    return {"goal": goal, "colour": colour, "object": obj, "name": f"{colour} {obj}"}


def counterfactuals(goal: str) -> list[str]:
    """Goals that differ from ``goal`` in exactly one attribute: the colour (other colours,
    same object), then the object kind (same colour, other kinds the verb allows).

    Example:
        >>> counterfactuals("go to the red ball")[:2]
        ['go to the green ball', 'go to the blue ball']
    """
    if not isinstance(goal, str):
        raise TypeError(f"goal must be a str like 'go to the red ball', got {type(goal).__name__}")
    match = _GOAL.match(" ".join(goal.lower().split()))
    if match is None:
        raise ValueError(f"goal must look like 'go to the {{colour}} {{object}}' for babyai, got {goal!r}")
    verb, article, colour, obj = match.groups()
    out = [f"{verb} {article} {c} {obj}" for c in COLOURS if c != colour]
    out += [f"{verb} {article} {colour} {k}" for k in _KINDS[verb] if k != obj]
    return out
