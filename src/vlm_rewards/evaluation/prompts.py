"""Prompt templates: how a goal is turned into the text the VLM encodes.

A template is a Python format string over fields parsed from the goal, so that the paper's
prompt study ("Open [TASK]", "Screenshot of [TASK] on Android", ...) can be run on any
domain. Fields per domain (each domain's ``goal_fields`` hook, see
:mod:`vlm_rewards.envs.registry`):

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

import string
from collections.abc import Mapping, Sequence

__all__ = ["BASELINE_PROMPTS", "BUILTIN_TEMPLATES", "DEFAULT_TEMPLATE", "goal_fields", "render_template", "render_templates"]

DEFAULT_TEMPLATE = "{goal}"


class _ByDomain(Mapping):
    """Live view of one :class:`~vlm_rewards.envs.registry.Domain` attribute, per domain name."""

    def __init__(self, attr: str):
        self._attr = attr

    def _items(self) -> dict:
        from vlm_rewards.envs.registry import domains

        return {n: getattr(d, self._attr) for n, d in domains().items() if getattr(d, self._attr) is not None}

    def __getitem__(self, name: str):
        return self._items()[name]

    def __iter__(self):
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return repr(self._items())


#: the template study's prompts per domain (each record's ``templates``): the paper's four
#: for the phone (its Fig. 5), analogues for the house and BabyAI.
BUILTIN_TEMPLATES: Mapping[str, tuple[str, ...]] = _ByDomain("templates")

#: goal_baseline's baseline prompt per domain (each record's ``baseline_prompt``; VLM-RM: a
#: description of the scene without the goal).
BASELINE_PROMPTS: Mapping[str, str] = _ByDomain("baseline_prompt")


def goal_fields(domain: str, goal: str) -> dict[str, str]:
    """The template fields of ``goal`` in ``domain`` (its record's ``goal_fields`` hook;
    only ``{goal}`` for a domain without one)."""
    from vlm_rewards.envs.registry import get_domain, load_hook

    record = get_domain(domain)
    if record.goal_fields is None:
        return {"goal": goal}
    return load_hook(record.goal_fields)(goal)


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
