"""A map of where a House agent has looked: the memory a search across rooms needs.

A feed-forward agent in the 2-4-room house spends its episode turning in its first room
when the goal is in another (docs/results/agents/README.md, "House find goals in 2-4
rooms"): nothing it sees tells it that it has already looked everywhere here. A scripted
policy that sees perfectly but remembers nothing tops out near 60% there
(``benchmarks/bench_house_policies.py --level rooms``). :class:`SearchMap` keeps what
an agent with odometry and a depth sense would build for itself, as ObjectNav agents
do (Chaplot et al. 2020, "Object Goal Navigation using Goal-Oriented Semantic
Exploration"): the floor it has had in view within ``sight`` metres, which of that floor
lies along a wall (so unseen floor past a seen edge that is *not* a wall is a way on, a
doorway or a part of the room not yet looked at), and where it has stood. It reads the
env's pose and floor plan, never where the objects are.

The policy gets an egocentric crop: ``(3, size, size)`` with the agent at the centre
facing up (row 0 is ahead), ``cell`` metres per map cell.

:class:`FrontierExplorer` is a navigation skill on the same map, as the frontier-based
exploration of Yamauchi (1997) that ObjectNav agents call as a long-term goal: one step
towards the nearest floor not yet looked at, round walls (it knows the floor plan, not
where the objects are; a bump makes it side-step). With ``explore_action=True``,
:class:`SearchMapObservation` gives the policy that step as one more action: the agent
still has to learn, from its reward alone, when to stop exploring and which object to
walk to.

Example:
    >>> from vlm_rewards.envs.house.env import HouseEnv
    >>> env = HouseEnv(family="find", num_rooms=(2, 2))  # doctest: +SKIP
    >>> _ = env.reset(seed=0)  # doctest: +SKIP
    >>> memory = SearchMap()  # doctest: +SKIP
    >>> memory.reset(env); memory.update(env)  # doctest: +SKIP
    >>> memory.egocentric(env).shape  # doctest: +SKIP
    (3, 16, 16)
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from vlm_rewards.envs.house.nav import CELL, WANTED_CLEARANCE, FloorGrid, clearance_cost, cost_to_go, descend, segments_cross_walls

__all__ = ["FrontierExplorer", "SearchMap", "SearchMapObservation"]

#: Map channels, in order.
CHANNELS = ("seen floor", "seen wall", "visited")
# Floor within this distance (m) of a wall counts as "along a wall" (grid cells are 0.2 m).
_WALL_BAND = 0.45
# Floor within this distance (m) of the agent counts as seen (see SearchMap.update).
_FEET = 0.5


class SearchMap:
    """The per-episode memory; call :meth:`reset` after each env reset, :meth:`update` after
    each reset and step.

    Args:
        sight: metres within which floor in the camera's horizontal field of view counts as
            looked at (4 m: about what a 64-pixel view lets an agent recognise an object at).
        size: side of the egocentric crop, in map cells (even: the agent sits at the corner
            of the four centre cells).
        cell: metres per map cell.
    """

    def __init__(self, sight: float = 4.0, size: int = 16, cell: float = 0.75):
        if not (isinstance(sight, (int, float)) and sight > 0):
            raise ValueError(f"sight must be a positive number of metres, got {sight!r}")
        if not (isinstance(size, int) and size >= 2 and size % 2 == 0):
            raise ValueError(f"size must be an even int >= 2, got {size!r}")
        if not (isinstance(cell, (int, float)) and cell > 0):
            raise ValueError(f"cell must be a positive number of metres, got {cell!r}")
        self.sight, self.size, self.cell = float(sight), size, float(cell)
        self.grid: FloorGrid | None = None

    def reset(self, env) -> None:
        house = env.unwrapped
        self.grid = house.floor_grid
        self._points = self.grid.points[self.grid.inside]  # (M, 2) indoor cell centres
        self._wall = self.grid.wall_distance[self.grid.inside] <= _WALL_BAND
        self.seen = np.zeros(len(self._points), dtype=bool)
        self.visited = np.zeros(len(self._points), dtype=bool)

    def _check(self) -> None:
        if self.grid is None:
            raise RuntimeError("SearchMap.reset(env) must be called after the env's reset")

    def update(self, env) -> None:
        """Mark the floor now in view within ``sight`` (walls hide; objects do not) or within
        0.5 m of the agent, and the agent's own cell."""
        self._check()
        house = env.unwrapped
        agent = house.agent
        cam = agent.cam_pos[[0, 2]]
        fwd = agent.dir_vec[[0, 2]]
        right = agent.right_vec[[0, 2]]
        rel = self._points - cam
        depth = rel @ fwd
        tan_x = math.tan(math.radians(agent.cam_fov_y) / 2) * house.obs_fb.width / house.obs_fb.height
        ahead = (depth > 0.05) & (np.abs(rel @ right) <= depth * tan_x) & (np.einsum("ij,ij->i", rel, rel) <= self.sight**2)
        ahead &= ~self.seen  # what is seen stays seen: test only the rest
        if ahead.any():
            idx = np.flatnonzero(ahead)
            visible = ~segments_cross_walls(self._points[idx], cam, house.wall_segs)
            self.seen[idx[visible]] = True
        here = np.einsum("ij,ij->i", self._points - agent.pos[[0, 2]], self._points - agent.pos[[0, 2]])
        self.visited[int(np.argmin(here))] = True
        # The floor at its feet, which the camera never has ahead of it, counts as looked at:
        # otherwise a search for unseen floor would turn on the spot for ever.
        feet = np.flatnonzero((here <= _FEET**2) & ~self.seen)
        if len(feet):
            self.seen[feet[~segments_cross_walls(self._points[feet], agent.pos[[0, 2]], house.wall_segs)]] = True

    def egocentric(self, env) -> np.ndarray:
        """``(3, size, size)`` float32 of :data:`CHANNELS` around the agent, ahead up."""
        self._check()
        agent = env.unwrapped.agent
        out = np.zeros((len(CHANNELS), self.size, self.size), dtype=np.float32)
        marks = self.seen | self.visited
        if not marks.any():
            return out
        rel = self._points[marks] - agent.pos[[0, 2]]
        ahead = rel @ agent.dir_vec[[0, 2]]
        side = rel @ agent.right_vec[[0, 2]]
        half = self.size // 2
        rows = half - 1 - np.floor(ahead / self.cell).astype(int)
        cols = half + np.floor(side / self.cell).astype(int)
        keep = (rows >= 0) & (rows < self.size) & (cols >= 0) & (cols < self.size)
        rows, cols = rows[keep], cols[keep]
        seen, wall, visited = self.seen[marks][keep], self._wall[marks][keep], self.visited[marks][keep]
        out[0, rows[seen], cols[seen]] = 1.0
        out[1, rows[seen & wall], cols[seen & wall]] = 1.0
        out[2, rows[visited], cols[visited]] = 1.0
        return out

    @property
    def seen_fraction(self) -> float:
        """Share of the house's floor looked at so far."""
        self._check()
        return float(self.seen.mean())


# House's walk action ids (HouseEnv actions="walk"), repeated to keep this module free of OpenGL imports.
_TURN_LEFT, _TURN_RIGHT, _FORWARD, _STRAFE_LEFT, _STRAFE_RIGHT = 0, 1, 2, 4, 5
# Heading error (degrees) within which the explorer walks rather than turns: twice the
# scripted policies' aim, since a frontier is a region, not a point.
_EXPLORE_AIM = 24.0
# How far (grid cells, 0.2 m each) down the cost-to-go field the explorer aims: 0.8 m.
_EXPLORE_LOOKAHEAD = 5


class FrontierExplorer:
    """One step at a time towards the nearest floor a :class:`SearchMap` has not marked as
    looked at, on the floor plan's cost-to-go field (keeping off walls, as the scripted solver
    does). It does not know where the objects are: after a blocked move forward it side-steps.
    With nothing left to look at it turns on the spot.

    Call :meth:`act` after the map's :meth:`SearchMap.update` for the current step; the field
    is recomputed only when the seen floor has grown.
    """

    def __init__(self, memory: SearchMap):
        self.memory = memory
        self._cost: np.ndarray | None = None

    def reset(self, env) -> None:
        """After the map's reset: the floor plan's travel costs (walls only)."""
        house = env.unwrapped
        # No obstacles: the explorer knows the walls, not the objects (-inf clearance outside).
        self._cost = clearance_cost(self.memory.grid.clearance(house.agent.radius, ()), wanted=WANTED_CLEARANCE)
        self._field, self._seen_count = None, -1
        self._side = _STRAFE_LEFT

    def _frontier_field(self) -> np.ndarray:
        seen_count = int(self.memory.seen.sum())
        if seen_count != self._seen_count:
            grid = self.memory.grid
            unseen = np.zeros(grid.shape, dtype=bool)
            unseen[grid.inside] = ~self.memory.seen
            self._field, self._seen_count = cost_to_go(unseen, self._cost), seen_count
        return self._field

    def act(self, env, last_action: int | None = None, blocked: bool = False) -> int:
        """The walk action id of the next exploring step, given the walk action id of the env's
        last step and whether it was blocked (HouseEnv's ``info["blocked"]``)."""
        if self._cost is None:
            raise RuntimeError("FrontierExplorer.reset(env) must be called after the map's reset")
        house = env.unwrapped
        agent, grid = house.agent, self.memory.grid
        field = self._frontier_field()
        here = agent.pos[[0, 2]]
        i, j = grid.cell(*here)
        if not np.isfinite(field[i, j]):  # too close to a wall for the grid: from the nearest open cell
            open_cells = np.argwhere(np.isfinite(field))
            if not len(open_cells):
                return _TURN_LEFT  # everything reachable has been looked at
            i, j = open_cells[np.argmin(np.linalg.norm(grid.points[tuple(open_cells.T)] - here, axis=1))]
        path = descend(field, int(i), int(j), max_cells=_EXPLORE_LOOKAHEAD)
        offset = grid.points[path[-1]] - here
        if np.linalg.norm(offset) < CELL / 2:
            return _TURN_LEFT  # at the frontier: look round
        bearing = math.degrees(math.atan2(offset @ agent.right_vec[[0, 2]], offset @ agent.dir_vec[[0, 2]]))
        if abs(bearing) >= _EXPLORE_AIM:
            return _TURN_RIGHT if bearing > 0 else _TURN_LEFT
        if blocked and last_action in (_STRAFE_LEFT, _STRAFE_RIGHT):
            self._side = _STRAFE_RIGHT if last_action == _STRAFE_LEFT else _STRAFE_LEFT  # that side is shut too
        if blocked and last_action in (_FORWARD, _STRAFE_LEFT, _STRAFE_RIGHT):
            return self._side  # an object the floor plan does not show: step round it
        return _FORWARD


class SearchMapObservation(gym.Wrapper):
    """Add ``obs["map"]``: the :class:`SearchMap` of a House env (or a wrapper of one, with a
    Dict observation), updated after every reset and step. ``info["seen_fraction"]`` says how
    much of the house's floor the agent has looked at.

    With ``explore_action`` (House ``actions="walk"`` only) the action space gains one id,
    after the env's own: "explore", one step of the :class:`FrontierExplorer`.
    ``info["explored"]`` says whether the step was one.
    """

    def __init__(self, env: gym.Env, sight: float = 4.0, size: int = 16, cell: float = 0.75,
                 explore_action: bool = False):
        super().__init__(env)
        from vlm_rewards.envs.house.env import HouseEnv

        if not isinstance(env.unwrapped, HouseEnv):
            raise TypeError(f"SearchMapObservation needs a House env, got {type(env.unwrapped).__name__}")
        space = env.observation_space
        if not isinstance(space, spaces.Dict):
            raise TypeError("env must have a Dict observation (wrap it in GoalEmbeddingObservation first)")
        if "map" in space.spaces:
            raise ValueError("env's observation already has a 'map' key")
        self.memory = SearchMap(sight, size, cell)
        box = spaces.Box(0.0, 1.0, (len(CHANNELS), size, size), np.float32)
        self.observation_space = spaces.Dict({**space.spaces, "map": box})
        self.explorer: FrontierExplorer | None = None
        if explore_action:
            if env.unwrapped.action_set != "walk":
                raise ValueError(f"explore_action needs House actions='walk', got {env.unwrapped.action_set!r}")
            self.explorer = FrontierExplorer(self.memory)
            self.explore_id = int(env.action_space.n)
            self.action_space = spaces.Discrete(self.explore_id + 1)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.memory.reset(self.env)
        self.memory.update(self.env)
        if self.explorer is not None:
            self.explorer.reset(self.env)
            self._last, self._blocked = None, False
        return {**obs, "map": self.memory.egocentric(self.env)}, {**info, "seen_fraction": self.memory.seen_fraction}

    def step(self, action):
        explored = False
        if self.explorer is not None:
            if not self.action_space.contains(action):
                raise ValueError(f"action must be an int in [0, {self.explore_id}], got {action!r}")
            explored = int(action) == self.explore_id
            if explored:
                action = self.explorer.act(self.env, self._last, self._blocked)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.memory.update(self.env)
        info = {**info, "seen_fraction": self.memory.seen_fraction}
        if self.explorer is not None:
            self._last, self._blocked = int(action), bool(info.get("blocked", False))
            info["explored"] = explored
        return {**obs, "map": self.memory.egocentric(self.env)}, reward, terminated, truncated, info
