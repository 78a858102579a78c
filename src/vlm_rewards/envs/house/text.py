"""House goals as text: prompt-template fields and counterfactual goals (no simulator import)."""

from __future__ import annotations

from vlm_rewards.envs.house.vocabulary import COLOURS, OBJECTS, Goal, parse_goal

__all__ = ["counterfactuals", "goal_fields", "object_variants"]


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


def object_variants(name: str) -> list[str]:
    """The objects that differ from ``name`` in one attribute: other colours of the same kind,
    then other kinds of the same colour; a mesh object has no colour, so its variants are the
    other colourless objects."""
    spec = OBJECTS[name]
    if spec.colour is None:
        return [n for n, s in OBJECTS.items() if s.colour is None and n != name]
    same_kind = [f"{c} {spec.kind}" for c in COLOURS if c != spec.colour]
    same_colour = [n for n, s in OBJECTS.items() if s.colour == spec.colour and n != name]
    return [n for n in same_kind + same_colour if n in OBJECTS]


def counterfactuals(goal: str) -> list[str]:
    """Goals that differ from ``goal`` in exactly one attribute of one object: its colour or
    its kind (place goals: of the object, then of the destination). Only goals the house can
    pose are returned (a lift target stays liftable, a destination is not the object).

    Example:
        >>> counterfactuals("go near the red ball")[:2]
        ['go near the blue ball', 'go near the green ball']
    """
    parsed = parse_goal(goal)
    out = []
    for target in object_variants(parsed.target):
        if parsed.family != "find" and not OBJECTS[target].liftable:
            continue
        if target != parsed.dest:
            out.append(Goal(parsed.family, target, parsed.dest).text)
    if parsed.dest is not None:
        out += [Goal("place", parsed.target, d).text for d in object_variants(parsed.dest) if d != parsed.target]
    return out
