"""Floor grid of a MiniWorld house: indoor cells, clearance and cost-to-go fields.

Shared by the env (which rejects layouts where an object cannot be reached) and the
scripted solver (which plans on the same grid), so "reachable" means the same to both.
Everything is vectorised numpy; a 4-room house is about 60x60 cells.

Example:
    >>> cost = np.ones((3, 3)); cost[1, :2] = np.inf  # a wall with a gap at one end
    >>> goal = np.zeros((3, 3), dtype=bool); goal[2, 0] = True
    >>> round(float(cost_to_go(goal, cost)[0, 0]), 2)  # around the wall's end
    4.83
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

__all__ = [
    "CELL",
    "NEIGHBOURS",
    "WANTED_CLEARANCE",
    "FloorGrid",
    "clearance_cost",
    "cost_to_go",
    "descend",
    "segments_cross_walls",
    "wall_distances",
]

#: Grid cell side in metres.
CELL = 0.2
NEIGHBOURS: list[tuple[int, int]] = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]


def _segment_distances(points: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """Distance from each 2D point (M, 2) to the nearest segment of ``segs`` (N, 2, 2)."""
    a, b = segs[None, :, 0], segs[None, :, 1]
    ab = b - a
    t = np.clip(np.sum((points[:, None] - a) * ab, axis=-1) / np.maximum(np.sum(ab * ab, axis=-1), 1e-12), 0, 1)
    closest = a + t[..., None] * ab
    return np.linalg.norm(points[:, None] - closest, axis=-1).min(axis=1)


def segments_cross_walls(starts: np.ndarray, end: np.ndarray, wall_segs: np.ndarray) -> np.ndarray:
    """For each 2D point of ``starts`` (M, 2), whether the segment to ``end`` (2,) properly
    crosses a wall of ``wall_segs`` (N, 2, 3); walls are full height, so this is line of sight."""
    a, b = wall_segs[None, :, 0, [0, 2]], wall_segs[None, :, 1, [0, 2]]
    p, q = starts[:, None, :], np.broadcast_to(end, starts.shape)[:, None, :]

    def orient(u, v, w):
        return (v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (w[..., 0] - u[..., 0])

    crosses = (orient(a, b, p) * orient(a, b, q) < 0) & (orient(p, q, a) * orient(p, q, b) < 0)
    return crosses.any(axis=1)


def wall_distances(points: np.ndarray, wall_segs: np.ndarray) -> np.ndarray:
    """Distance (m) from floor points (..., 2) given as (x, z) to the nearest wall of
    ``wall_segs`` (N, 2, 3)."""
    flat = points.reshape(-1, 2)
    return _segment_distances(flat, wall_segs[:, :, [0, 2]]).reshape(points.shape[:-1])


class FloorGrid:
    """The floor of a MiniWorld house as a grid: indoor cells and their distance to walls.

    ``rooms`` are MiniWorld rooms (axis-aligned here, doorway passages included) and
    ``wall_segs`` the env's (N, 2, 3) wall segments.
    """

    def __init__(self, rooms, wall_segs: np.ndarray) -> None:
        self.min_x = float(min(r.min_x for r in rooms))
        self.min_z = float(min(r.min_z for r in rooms))
        nx = int(math.ceil((max(r.max_x for r in rooms) - self.min_x) / CELL))
        nz = int(math.ceil((max(r.max_z for r in rooms) - self.min_z) / CELL))
        xs = self.min_x + (np.arange(nx) + 0.5) * CELL
        zs = self.min_z + (np.arange(nz) + 0.5) * CELL
        self.points = np.stack(np.meshgrid(xs, zs, indexing="ij"), axis=-1)  # (nx, nz, 2): x, z
        inside = np.zeros((nx, nz), dtype=bool)
        for room in rooms:
            inside |= (
                (self.points[..., 0] > room.min_x)
                & (self.points[..., 0] < room.max_x)
                & (self.points[..., 1] > room.min_z)
                & (self.points[..., 1] < room.max_z)
            )
        self.inside = inside
        self.wall_distance = wall_distances(self.points, wall_segs)

    @property
    def shape(self) -> tuple[int, int]:
        return self.inside.shape

    def cell(self, x: float, z: float) -> tuple[int, int]:
        """The (clipped) cell holding floor point (x, z)."""
        i = int(np.clip((x - self.min_x) // CELL, 0, self.shape[0] - 1))
        j = int(np.clip((z - self.min_z) // CELL, 0, self.shape[1] - 1))
        return i, j

    def clearance(self, radius: float, obstacles: Iterable[tuple[np.ndarray, float]]) -> np.ndarray:
        """Gap (m) between a disc of ``radius`` centred on each cell and the nearest wall or
        obstacle, given as (3D MiniWorld position, radius) pairs; -inf outside the house."""
        gaps = self.wall_distance - radius
        for pos, obstacle_radius in obstacles:
            dist = np.linalg.norm(self.points - pos[[0, 2]], axis=-1)
            gaps = np.minimum(gaps, dist - obstacle_radius - radius)
        return np.where(self.inside, gaps, -np.inf)

    def distance_to(self, pos: np.ndarray) -> np.ndarray:
        """Distance (m) from each cell centre to floor point ``pos`` (a 3D MiniWorld position)."""
        return np.linalg.norm(self.points - pos[[0, 2]], axis=-1)


def cost_to_go(goal: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Cheapest path cost from every cell to any ``goal`` cell, 8-connected.

    Moving between neighbouring cells costs their mean ``cost`` times the step length in
    cells; ``inf`` cost cells are walls, and unreachable cells get ``inf``.
    """
    dist = np.where(goal & np.isfinite(cost), 0.0, np.inf)
    nx, nz = cost.shape
    padded_cost = np.pad(cost, 1, constant_values=np.inf)
    steps = [(di, dj, math.hypot(di, dj) * 0.5) for di, dj in NEIGHBOURS]
    for _ in range(nx * nz):
        padded = np.pad(dist, 1, constant_values=np.inf)
        best = dist.copy()
        for di, dj, step in steps:
            nb_dist = padded[1 + di : 1 + di + nx, 1 + dj : 1 + dj + nz]
            nb_cost = padded_cost[1 + di : 1 + di + nx, 1 + dj : 1 + dj + nz]
            np.minimum(best, nb_dist + step * (cost + nb_cost), out=best)
        if np.array_equal(best, dist):
            break
        dist = best
    return dist


# Clearance (m, beyond the agent's radius) with which a route costs nothing extra: the solver and
# the explorer both keep this far off walls where the house lets them.
WANTED_CLEARANCE = 0.9


def clearance_cost(clearance: np.ndarray, wanted: float, floor: float = 0.1) -> np.ndarray:
    """Per-cell travel cost from :meth:`FloorGrid.clearance`: 1 with ``wanted`` m to spare,
    up to 5 at no gap, so routes keep to the middle of rooms and doorways; ``inf`` (never
    through) below ``floor`` m."""
    cost = 1.0 + 4.0 * np.clip(wanted - clearance, 0, None) / wanted
    return np.where(clearance >= floor, cost, np.inf)


def descend(field: np.ndarray, i: int, j: int, max_cells: int) -> list[tuple[int, int]]:
    """Cells from (i, j) down the cost-to-go ``field`` (8-connected, steepest first), at most
    ``max_cells`` of them, stopping at a goal cell or a local minimum."""
    nx, nz = field.shape
    path = [(i, j)]
    while field[i, j] > 0 and len(path) < max_cells:
        best, bi, bj = min(
            (field[i + di, j + dj], i + di, j + dj) for di, dj in NEIGHBOURS if 0 <= i + di < nx and 0 <= j + dj < nz
        )
        if not best < field[i, j]:
            break
        i, j = bi, bj
        path.append((i, j))
    return path
