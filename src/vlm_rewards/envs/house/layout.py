"""Floor plans of the 3D house: 1-4 rectangular rooms on a 2x2 grid, joined by doorways.

The plan is plain data sampled from a seeded generator; :class:`~vlm_rewards.envs.house.env.HouseEnv`
turns it into MiniWorld rooms (``add_rect_room`` + ``connect_rooms``). Rooms sit in the
cells of a 2x2 grid around the origin, separated by a wall ``wall_gap`` thick; each room
has its own size, so neighbouring rooms share only part of a wall and the door is cut
in the shared part. Keeping the plan separate from the simulator lets the solver reason
about rooms and doors without touching OpenGL.

Example:
    >>> import numpy as np
    >>> plan = sample_house(np.random.default_rng(0), num_rooms=(3, 3))
    >>> len(plan.rooms), len(plan.doors)
    (3, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CEILING_TEXTURES", "FLOOR_TEXTURES", "WALL_TEXTURES", "DoorPlan", "HousePlan", "RoomPlan", "sample_house"]

# MiniWorld texture names (files miniworld/textures/{name}_{n}.png) that read as indoor
# surfaces; lava, water, grass and door textures would make the house look like a level.
WALL_TEXTURES: tuple[str, ...] = (
    "brick_wall",
    "cardboard",
    "cinder_blocks",
    "concrete",
    "drywall",
    "marble",
    "stucco",
    "wood_planks",
)
FLOOR_TEXTURES: tuple[str, ...] = (
    "asphalt",
    "ceiling_tiles",
    "concrete_tiles",
    "floor_tiles_bw",
    "marble",
    "wood",
    "wood_planks",
)
CEILING_TEXTURES: tuple[str, ...] = ("ceiling_tile_noborder", "ceiling_tiles", "drywall", "white")

# Doors stay this far from room corners so the door frame is a real wall piece.
_DOOR_CORNER_MARGIN = 0.4


@dataclass(frozen=True)
class RoomPlan:
    """An axis-aligned room in grid cell ``cell`` = (column, row) with its textures."""

    cell: tuple[int, int]
    min_x: float
    max_x: float
    min_z: float
    max_z: float
    wall_tex: str
    floor_tex: str
    ceil_tex: str

    @property
    def centre(self) -> np.ndarray:
        return np.array([(self.min_x + self.max_x) / 2, (self.min_z + self.max_z) / 2])


@dataclass(frozen=True)
class DoorPlan:
    """A doorway between rooms ``a`` and ``b`` (indices into the plan's rooms).

    ``axis`` is the coordinate the door spans ("z": the door lies in a wall of constant
    x; "x": in a wall of constant z); ``lo``/``hi`` are its ends along that axis and
    ``centre`` is its (x, z) midpoint in the middle of the wall gap.
    """

    a: int
    b: int
    axis: str
    lo: float
    hi: float
    centre: tuple[float, float]


@dataclass(frozen=True)
class HousePlan:
    rooms: tuple[RoomPlan, ...]
    doors: tuple[DoorPlan, ...]
    wall_gap: float


def _check_range(name: str, value: tuple[float, float], low: float, high: float) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a (min, max) pair of numbers, got {value!r}") from None
    if not low <= lo <= hi <= high:
        raise ValueError(f"{name} must be a (min, max) pair with {low} <= min <= max <= {high}, got {value!r}")
    return lo, hi


def _choose_cells(rng: np.random.Generator, num_rooms: int) -> list[tuple[int, int]]:
    cells = [(0, 0), (1, 0), (1, 1), (0, 1)]  # around the square, so neighbours in the list are adjacent
    start = int(rng.integers(4))
    return sorted(cells[(start + i) % 4] for i in range(num_rooms))


def _adjacent(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1


def sample_house(
    rng: np.random.Generator,
    num_rooms: tuple[int, int] = (2, 4),
    room_size: tuple[float, float] = (4.0, 5.5),
    door_width: tuple[float, float] = (2.0, 2.4),
    wall_gap: float = 0.3,
) -> HousePlan:
    """Sample a floor plan: room count, room sizes, doors and textures all from ``rng``.

    ``num_rooms`` is an inclusive (min, max) range within [1, 4] (one room: a curriculum's
    first level, no doors). With four rooms the
    doors form a loop half of the time and a tree otherwise.
    """
    lo_rooms, hi_rooms = _check_range("num_rooms", num_rooms, 1, 4)
    if lo_rooms != int(lo_rooms) or hi_rooms != int(hi_rooms):
        raise ValueError(f"num_rooms must hold integers, got {num_rooms!r}")
    size_lo, size_hi = _check_range("room_size", room_size, 3.5, 20.0)
    door_lo, door_hi = _check_range("door_width", door_width, 1.0, size_lo - 2 * _DOOR_CORNER_MARGIN)

    n = int(rng.integers(int(lo_rooms), int(hi_rooms) + 1))
    cells = _choose_cells(rng, n)
    half_gap = wall_gap / 2
    rooms = []
    for col, row in cells:
        width, depth = rng.uniform(size_lo, size_hi, size=2)
        min_x, max_x = (-half_gap - width, -half_gap) if col == 0 else (half_gap, half_gap + width)
        min_z, max_z = (-half_gap - depth, -half_gap) if row == 0 else (half_gap, half_gap + depth)
        wall_tex, floor_tex, ceil_tex = (str(rng.choice(t)) for t in (WALL_TEXTURES, FLOOR_TEXTURES, CEILING_TEXTURES))
        bounds = (float(min_x), float(max_x), float(min_z), float(max_z))
        rooms.append(RoomPlan((col, row), *bounds, wall_tex, floor_tex, ceil_tex))

    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if _adjacent(cells[i], cells[j])]
    if len(pairs) == 4 and rng.random() < 0.5:
        pairs.pop(int(rng.integers(4)))

    doors = []
    for i, j in pairs:
        a, b = rooms[i], rooms[j]
        axis = "z" if a.cell[0] != b.cell[0] else "x"
        if axis == "z":
            shared_lo, shared_hi = max(a.min_z, b.min_z), min(a.max_z, b.max_z)
        else:
            shared_lo, shared_hi = max(a.min_x, b.min_x), min(a.max_x, b.max_x)
        width = rng.uniform(door_lo, door_hi)
        start = rng.uniform(shared_lo + _DOOR_CORNER_MARGIN, shared_hi - _DOOR_CORNER_MARGIN - width)
        mid = float(start + width / 2)
        centre = (0.0, mid) if axis == "z" else (mid, 0.0)
        doors.append(DoorPlan(i, j, axis, float(start), float(start + width), centre))
    return HousePlan(tuple(rooms), tuple(doors), float(wall_gap))
