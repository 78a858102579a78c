"""Object vocabulary and language goals of the 3D house (no simulator import needed).

Objects are MiniWorld entities. Boxes, balls and keys come in MiniWorld's six colours
and are named "{colour} {kind}"; mesh objects have a fixed look, so their name carries
no colour ("rubber duck", "barrel", ...). Barrels and chairs are furniture: they can
be found, and serve as place destinations, but cannot be lifted.

Goal families and their forms::

    find   "go near the {object}"
    lift   "pick up the {object}"                          (liftable objects only)
    place  "put the {object} next to the {other object}"   (the first one liftable)

Split: the colour-object combinations in :data:`HELDOUT_OBJECTS` never occur in a
training goal; every goal that mentions one of them is held out. The held-out objects
still appear as distractors in training episodes, and every colour and every kind is
named by some training goal. Place goals are a fixed subset of all pairs (see
:func:`place_pairs`) so the goal set stays a manageable size.

Example:
    >>> goals("train", family="find")[:2]
    ['go near the green box', 'go near the grey box']
    >>> parse_goal("put the red box next to the barrel").dest
    'barrel'
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

__all__ = [
    "COLOURS",
    "FAMILIES",
    "FIND_MARGIN",
    "GOAL_FORMS",
    "HELDOUT_OBJECTS",
    "OBJECTS",
    "PLACE_MARGIN",
    "Goal",
    "ObjectSpec",
    "goals",
    "parse_goal",
    "place_pairs",
]

#: MiniWorld's colour names (``miniworld.entity.COLOR_NAMES``), in its sorted order.
COLOURS: tuple[str, ...] = ("blue", "green", "grey", "purple", "red", "yellow")

FAMILIES: tuple[str, ...] = ("find", "lift", "place")
SPLITS: tuple[str, ...] = ("train", "heldout", "all")

GOAL_FORMS: dict[str, str] = {
    "find": "go near the {object}",
    "lift": "pick up the {object}",
    "place": "put the {object} next to the {other object}",
}

#: find succeeds when the agent's and the object's bounding circles are at most this far
#: apart (m) and the object is in view.
FIND_MARGIN = 1.0
#: place succeeds when the two objects' bounding circles are at most this far apart (m).
PLACE_MARGIN = 0.5

_PATTERNS: dict[str, re.Pattern[str]] = {
    "find": re.compile(r"go near the (?P<target>.+)"),
    "lift": re.compile(r"pick up the (?P<target>.+)"),
    "place": re.compile(r"put the (?P<target>.+?) next to the (?P<dest>.+)"),
}


@dataclass(frozen=True)
class ObjectSpec:
    """One nameable object: how the goal text names it and how MiniWorld builds it.

    ``shape`` is "box" (a coloured :class:`miniworld.entity.Box`) or a mesh file name
    under ``miniworld/meshes`` (coloured meshes add ``_{colour}``); ``height`` is the
    world size in metres; ``liftable`` objects can be picked up and carried.
    """

    name: str
    kind: str
    colour: str | None
    shape: str
    height: float
    liftable: bool


# Sizes are chosen so that every object covers a few pixels of a 64x64 view from across
# a room, and furniture is too large to carry.
_COLOURED_KINDS: dict[str, tuple[str, float]] = {"box": ("box", 0.55), "ball": ("ball", 0.55), "key": ("key", 0.4)}
_MESH_OBJECTS: tuple[ObjectSpec, ...] = (
    ObjectSpec("rubber duck", "rubber duck", None, "duckie", 0.45, True),
    ObjectSpec("traffic cone", "traffic cone", None, "cone", 0.6, True),
    ObjectSpec("medkit", "medkit", None, "medkit", 0.45, True),
    ObjectSpec("potion", "potion", None, "potion", 0.5, True),
    ObjectSpec("barrel", "barrel", None, "barrel", 1.0, False),
    ObjectSpec("chair", "chair", None, "office_chair", 1.05, False),
)

#: name -> spec, in a fixed order (coloured kinds by colour, then mesh objects).
OBJECTS: dict[str, ObjectSpec] = {
    **{
        f"{colour} {kind}": ObjectSpec(f"{colour} {kind}", kind, colour, shape, height, True)
        for kind, (shape, height) in _COLOURED_KINDS.items()
        for colour in COLOURS
    },
    **{spec.name: spec for spec in _MESH_OBJECTS},
}

#: Colour-object combinations never used in a training goal (4 of the 18, ~20%).
HELDOUT_OBJECTS: frozenset[str] = frozenset({"red ball", "green key", "blue box", "purple ball"})

# Keep one place pair in this many (by a stable hash of its text): all 400+ pairs would
# swamp the find and lift goals in the goal set without adding new words.
_PLACE_SUBSAMPLE = 4


@dataclass(frozen=True)
class Goal:
    """A parsed goal: its family, the object it is about and, for place goals, the destination."""

    family: str
    target: str
    dest: str | None = None

    @property
    def text(self) -> str:
        if self.family == "place":
            return f"put the {self.target} next to the {self.dest}"
        return GOAL_FORMS[self.family].format(object=self.target)

    @property
    def objects(self) -> tuple[str, ...]:
        return (self.target,) if self.dest is None else (self.target, self.dest)

    @property
    def heldout(self) -> bool:
        return any(name in HELDOUT_OBJECTS for name in self.objects)


def place_pairs() -> list[tuple[str, str]]:
    """The (object, destination) pairs of the place goals, in a fixed order.

    A pair qualifies when the two objects are of different kinds (so the text never
    reads "put the red box next to the blue box") and the CRC-32 of the goal text is
    divisible by 4, a stable rule that keeps about a quarter of the pairs.
    """
    pairs = []
    for target, spec in OBJECTS.items():
        if not spec.liftable:
            continue
        for dest, dest_spec in OBJECTS.items():
            if dest_spec.kind == spec.kind:
                continue
            text = Goal("place", target, dest).text
            if zlib.crc32(text.encode()) % _PLACE_SUBSAMPLE == 0:
                pairs.append((target, dest))
    return pairs


def _family_goals(family: str) -> list[Goal]:
    if family == "place":
        return [Goal("place", target, dest) for target, dest in place_pairs()]
    names = [name for name, spec in OBJECTS.items() if family == "find" or spec.liftable]
    return [Goal(family, name) for name in names]


def goals(split: str = "train", family: str | None = None) -> list[str]:
    """The house goal texts of ``split`` ("train", "heldout", "all"), optionally one family.

    Example:
        >>> len(goals("heldout", family="lift"))
        4
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be None or one of {FAMILIES}, got {family!r}")
    texts = []
    for fam in FAMILIES if family is None else (family,):
        for goal in _family_goals(fam):
            if split == "all" or goal.heldout == (split == "heldout"):
                texts.append(goal.text)
    return texts


def _goal_error(text: object, reason: str) -> ValueError:
    forms = "; ".join(f"{fam}: {form!r}" for fam, form in GOAL_FORMS.items())
    liftable = sorted(name for name, spec in OBJECTS.items() if spec.liftable)
    fixed = sorted(name for name, spec in OBJECTS.items() if not spec.liftable)
    return ValueError(
        f"goal {text!r} is not a house goal ({reason}). Valid goal families and forms: {forms}. "
        f"Liftable objects: {liftable}; furniture (find / destination only): {fixed}."
    )


def parse_goal(text: str) -> Goal:
    """Parse a goal text (case and surrounding spaces ignored) into a :class:`Goal`.

    Any well-formed goal about known objects is accepted, including place pairs outside
    the enumerated goal set. Raises ``ValueError`` listing the valid forms otherwise.
    """
    if not isinstance(text, str):
        raise TypeError(f"goal must be a str, got {type(text).__name__}")
    normalised = " ".join(text.lower().split()).rstrip(".")
    for family, pattern in _PATTERNS.items():
        match = pattern.fullmatch(normalised)
        if match is None:
            continue
        target, dest = match.group("target"), match.groupdict().get("dest")
        unknown = [name for name in (target, dest) if name is not None and name not in OBJECTS]
        if unknown:
            raise _goal_error(text, f"unknown object {unknown[0]!r}")
        if family != "find" and not OBJECTS[target].liftable:
            raise _goal_error(text, f"the {target} cannot be lifted")
        if dest == target:
            raise _goal_error(text, "an object cannot be put next to itself")
        return Goal(family, target, dest)
    raise _goal_error(text, "no goal form matches")
