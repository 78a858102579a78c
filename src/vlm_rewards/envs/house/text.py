"""House goals as text: prompt-template fields (no simulator import)."""

from __future__ import annotations

from vlm_rewards.envs.house.vocabulary import OBJECTS, parse_goal

__all__ = ["goal_fields"]


def _object(name: str, prefix: str = "") -> dict[str, str]:
    spec = OBJECTS[name]
    return {f"{prefix}name" if prefix else "name": name, f"{prefix}colour": spec.colour or "", f"{prefix}object": spec.kind}


def goal_fields(goal: str) -> dict[str, str]:
    """``{goal}``, ``{name}``, ``{colour}``, ``{object}``; place goals add ``{dest}``,
    ``{dest_colour}``, ``{dest_object}``."""
    parsed = parse_goal(goal)
    fields = {"goal": goal, **_object(parsed.target)}
    if parsed.dest is not None:
        fields.update(_object(parsed.dest, "dest_"))
        fields["dest"] = parsed.dest
    return fields
