"""Prompt templates: how a goal is turned into the text the VLM encodes.

A template is a Python format string over fields parsed from the goal, so that the paper's
prompt study ("Open [TASK]", "Screenshot of [TASK] on Android", ...) can be run on any
domain. Fields per domain:

- every domain: ``{goal}`` (the goal text itself, the default template);
- phone: ``{task}`` / ``{app}``, the app's name ("clock");
- house: ``{name}`` (the object's full name, "red box" or "rubber duck"), ``{colour}``
  ("red", empty for mesh objects), ``{object}`` (its kind: "box", "rubber duck"); place
  goals add ``{dest}``, ``{dest_colour}``, ``{dest_object}``;
- babyai: ``{colour}``, ``{object}``, ``{name}``.

Runs of spaces left by an empty field are collapsed ("a {colour} {object}" reads "a rubber
duck").

Example:
    >>> render_template("Screenshot of {task} on Android", "phone", "open the clock app")
    'Screenshot of clock on Android'
    >>> render_template("a {colour} {object} up close", "house", "go near the rubber duck")
    'a rubber duck up close'
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

__all__ = ["BASELINE_PROMPTS", "BUILTIN_TEMPLATES", "DEFAULT_TEMPLATE", "goal_fields", "render_template", "render_templates"]

DEFAULT_TEMPLATE = "{goal}"

#: the template study's prompts per domain: the paper's four for the phone (its Fig. 5),
#: analogues for the house and BabyAI.
BUILTIN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "phone": ("Open {task}", "Open the {task} app", "Screenshot of {task}", "Screenshot of {task} on Android"),
    "house": ("{goal}", "a {colour} {object}", "a {colour} {object} up close", "a {colour} {object} in a room"),
    "babyai": ("{goal}", "a {colour} {object}", "the agent facing the {colour} {object}", "a grid with a {colour} {object}"),
}

#: goal_baseline's baseline prompt per domain (VLM-RM: a description of the scene without the goal).
BASELINE_PROMPTS: dict[str, str] = {
    "phone": "a phone screen",
    "house": "a room in a house",
    "babyai": "a grid room",
}

_BABYAI = re.compile(r"^(?:go to|pick up|open) (?:the|a) (\w+) (\w+)$")


def _house_object(name: str, prefix: str = "") -> dict[str, str]:
    from vlm_rewards.envs.house.vocabulary import OBJECTS

    spec = OBJECTS[name]
    return {f"{prefix}name" if prefix else "name": name, f"{prefix}colour": spec.colour or "", f"{prefix}object": spec.kind}


def goal_fields(domain: str, goal: str) -> dict[str, str]:
    """The template fields of ``goal`` in ``domain`` ("phone", "house" or "babyai")."""
    if domain == "phone":
        from vlm_rewards.envs.phone import parse_goal

        app = parse_goal(goal, "diverse")[1]
        return {"goal": goal, "task": app, "app": app}
    if domain == "house":
        from vlm_rewards.envs.house.vocabulary import parse_goal

        parsed = parse_goal(goal)
        fields = {"goal": goal, **_house_object(parsed.target)}
        if parsed.dest is not None:
            fields.update(_house_object(parsed.dest, "dest_"))
            fields["dest"] = parsed.dest
        return fields
    if domain == "babyai":
        match = _BABYAI.match(" ".join(goal.lower().split()))
        if match is None:
            raise ValueError(f"goal must look like 'go to the {{colour}} {{object}}' for babyai, got {goal!r}")
        colour, obj = match.groups()
        return {"goal": goal, "colour": colour, "object": obj, "name": f"{colour} {obj}"}
    raise ValueError(f"domain must be one of ('phone', 'house', 'babyai'), got {domain!r}")


def _check_template(template: object) -> str:
    if not isinstance(template, str) or not template.strip():
        raise TypeError(f"template must be a non-empty format string such as 'Screenshot of {{task}}', got {template!r}")
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"template {template!r} is not a valid format string ({exc})") from exc
    if any(n == "" or not n.isidentifier() for n in names):
        raise ValueError(f"template {template!r} must use named fields such as {{goal}}, not positional ones")
    return template


def render_template(template: str, domain: str, goal: str) -> str:
    """``template`` filled with ``goal``'s fields; ``ValueError`` naming a field the domain lacks."""
    template = _check_template(template)
    fields = goal_fields(domain, goal)
    try:
        text = template.format(**fields)
    except KeyError as exc:
        raise ValueError(
            f"template {template!r} uses the field {{{exc.args[0]}}}, which {domain} goals do not have; "
            f"fields for {domain}: {sorted(fields)}"
        ) from None
    text = " ".join(text.split())
    if not text:
        raise ValueError(f"template {template!r} gives an empty prompt for goal {goal!r}")
    return text


def render_templates(template: str, domain: str, goals: Sequence[str]) -> list[str]:
    """The prompts of ``goals``; two goals given the same prompt is an error (one would be
    the other's negative, a silently wrong reward)."""
    texts = [render_template(template, domain, g) for g in goals]
    seen: dict[str, str] = {}
    for goal, text in zip(goals, texts):
        if text in seen:
            raise ValueError(f"template {template!r} gives goals {seen[text]!r} and {goal!r} the same prompt {text!r}")
        seen[text] = goal
    return texts
