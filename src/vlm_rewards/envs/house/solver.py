"""Scripted solver for the 3D house, using privileged state (positions, floor plan).

Navigation is a cost-to-go field on a 0.2 m grid of the floor plan (:mod:`~vlm_rewards.envs.house.nav`):
walls and objects are soft obstacles whose cost rises as clearance falls, so routes keep
to the middle of rooms and doorways. The field is followed with a short look-ahead,
turning whenever the heading is off by more than half a turn step; close to the target,
in its room, the agent heads straight for it and acts: picks it up when MiniWorld's
pickup probe would hit it, drops the carried object once it would land next to the
destination, or (find) stops where the object is in view.

A carried object rides a metre ahead and sweeps a wide circle, which is what makes
place goals hard. The solver therefore lifts only where the load has room to swing
round, checks every turn against the load's collisions (turning the long way, or first
stepping to a roomier spot), carries it through doorways in one straight run chosen by
simulating the motion, and puts the load down to lift it again elsewhere if it still
gets wedged. Blocked moves back off and re-plan; repeated states break loops.

Example:
    >>> from vlm_rewards.envs.house.env import HouseEnv
    >>> env = HouseEnv(goal="pick up the yellow box")
    >>> solver = make_solver(env)
    >>> obs, info = env.reset(seed=3)
    >>> for _ in range(250):
    ...     obs, reward, terminated, truncated, info = env.step(solver(obs))
    ...     if terminated or truncated:
    ...         break
    >>> info["ground_truth_success"]
    True
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable

import numpy as np

from vlm_rewards.envs.house.vocabulary import FIND_MARGIN, PLACE_MARGIN
from vlm_rewards.envs.house.nav import CELL, WANTED_CLEARANCE, clearance_cost, cost_to_go, descend, wall_distances

__all__ = ["Explorer", "HouseSolver", "make_solver"]

# Action ids of HouseEnv.Actions, repeated here to keep this module free of OpenGL imports.
TURN_LEFT, TURN_RIGHT, MOVE_FORWARD, MOVE_BACK, PICKUP, DROP = range(6)

_LOOKAHEAD = 0.8
# Larger than nav.WANTED_CLEARANCE when carrying: the carried object sweeps a wide circle when
# the agent turns.
_WANTED_CLEARANCE_CARRYING = 1.3


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


class HouseSolver:
    """Callable ``solver(obs) -> action`` for a :class:`~vlm_rewards.envs.house.env.HouseEnv`.

    It reads the env's state, not ``obs``, and notices new episodes by itself, so one
    solver serves an env for any number of resets.
    """

    def __init__(self, env) -> None:
        self.env = env.unwrapped
        self._agent = None

    def _new_episode(self) -> None:
        self._agent = self.env.agent
        self._grid = self.env.floor_grid
        self._field: np.ndarray | None = None
        self._clearance: np.ndarray | None = None
        self._field_key: Any = None
        self._last_state: tuple | None = None
        self._last_action: int | None = None
        self._queue: list[int] = []
        self._stuck = 0  # blocked moves so far this episode
        self._stuck_carrying = 0  # blocked moves since the last lift
        self._inflation: dict[int, float] = {}  # id(entity) -> extra berth (m) after it blocked us
        self._lift_room = 0.0  # turning room (m) required where the target is lifted
        self._wedged: list[np.ndarray] = []  # where a carried load got stuck and was dropped
        self._visits: dict[tuple, int] = {}  # rounded (x, z, heading) -> times seen
        self._loops = 0

    def __call__(self, obs: Any = None) -> int:
        env = self.env
        if env.agent is not self._agent:
            self._new_episode()
        state = (*env.agent.pos, env.agent.dir)
        if self._last_action in (TURN_LEFT, TURN_RIGHT, MOVE_FORWARD, MOVE_BACK) and state == self._last_state:
            self._on_blocked(self._last_action)
        self._break_loops()
        action = self._decide()
        self._last_state, self._last_action = state, action
        return action

    # ------------------------------------------------------------------ decisions
    def _decide(self) -> int:
        env = self.env
        goal = env.goal
        target = env.objects[goal.target]
        carrying = env.agent.carrying
        if carrying is not None and carrying is not target:
            return DROP
        if self._queue:
            return self._queue.pop(0)
        if goal.family == "find":
            return self._approach(target, "find")
        if goal.family == "lift" or carrying is None:
            return self._approach(target, "pickup")
        return self._approach(env.objects[goal.dest], "drop")

    def _break_loops(self) -> None:
        """Leave a cycle of moves (planner and escapes undoing each other) by doing
        something else: drop the load to lift it elsewhere, or wander off a few steps."""
        agent = self.env.agent
        key = (round(agent.pos[0], 1), round(agent.pos[2], 1), round(math.degrees(agent.dir)) % 360)
        self._visits[key] = self._visits.get(key, 0) + 1
        if self._visits[key] < 4 or self._queue:
            return
        self._visits.clear()
        self._loops += 1
        self._field_key = None
        if agent.carrying is not None and self.env.goal.family == "place":
            self._wedged.append(agent.pos.copy())
            self._queue = [DROP, MOVE_BACK, MOVE_BACK]
        else:
            turn = TURN_LEFT if self._loops % 2 else TURN_RIGHT
            self._queue = [turn] * (2 + self._loops % 4) + [MOVE_FORWARD] * 3

    def _on_blocked(self, action: int) -> None:
        """Get unstuck: a wall, an object or the carried object stopped the last move or turn."""
        self._stuck += 1
        self._field_key = None  # plan afresh from wherever the escape ends
        blocker = self._blocker(action)
        if blocker is not None:
            # Give the object that got in the way a wider berth from now on.
            self._inflation[id(blocker)] = min(self._inflation.get(id(blocker), 0.0) + 0.3, 1.2)
        agent = self.env.agent
        if agent.carrying is not None:
            self._stuck_carrying += 1
            if self._stuck_carrying >= 4:
                # Escapes keep failing with the load: set it down, lift it from elsewhere.
                self._stuck_carrying = 0
                self._wedged.append(agent.pos.copy())
                self._queue = [DROP, MOVE_BACK, MOVE_BACK]
                return
        swing = TURN_LEFT if self._stuck % 2 else TURN_RIGHT
        if action == MOVE_BACK:
            self._queue = [swing, MOVE_FORWARD]
        elif action == MOVE_FORWARD:
            self._queue = [MOVE_BACK, MOVE_BACK, swing, MOVE_FORWARD]
        else:
            self._queue = [MOVE_BACK, MOVE_BACK]

    # ------------------------------------------------------------------ motion model
    def _heading(self, direction: float) -> np.ndarray:
        return np.array([math.cos(direction), 0.0, -math.sin(direction)])

    def _load_hits(self, pos: np.ndarray, direction: float):
        """What the carried object would hit with the agent at ``pos`` facing ``direction``."""
        carried = self.env.agent.carrying
        load = pos + self._heading(direction) * self._reach(carried)
        load[1] = carried.pos[1]
        return self.env.intersect(carried, load, carried.radius)

    def _pose_free(self, pos: np.ndarray, direction: float) -> bool:
        """Whether the agent (and its load) fit at ``pos`` facing ``direction``."""
        env, agent = self.env, self.env.agent
        if wall_distances(pos[[0, 2]], env.wall_segs) < agent.radius:
            return False
        for ent in env.entities:
            if ent is agent or ent is agent.carrying:
                continue
            if np.linalg.norm((ent.pos - pos)[[0, 2]]) < agent.radius + ent.radius:
                return False
        return agent.carrying is None or not self._load_hits(pos, direction)

    def _can_rotate(self, pos: np.ndarray, error: float, turn: int) -> bool:
        """Whether turning ``turn`` repeatedly from ``pos`` brings the heading error within tolerance."""
        env, agent = self.env, self.env.agent
        step = math.radians(env.params.sample(None, "turn_step")) * (1 if turn == TURN_LEFT else -1)
        direction = agent.dir
        for _ in range(int(2 * math.pi / abs(step)) + 1):
            if abs(error) <= self._tolerance():
                return True
            direction += step
            error = _wrap(error - step)
            if self._load_hits(pos, direction):
                return False
        return False

    def _can_face(self, offset: np.ndarray) -> bool:
        """Whether the agent can turn on the spot to head along ``offset`` (x, z)."""
        agent = self.env.agent
        error = _wrap(math.atan2(-offset[1], offset[0]) - agent.dir)
        if agent.carrying is None or abs(error) <= self._tolerance():
            return True
        return self._can_rotate(agent.pos, error, TURN_LEFT) or self._can_rotate(agent.pos, error, TURN_RIGHT)

    def _blocker(self, action: int):
        """The object that stopped ``action`` (the agent or its load would hit it), if any."""
        env, agent = self.env, self.env.agent
        pos, direction = agent.pos, agent.dir
        if action in (MOVE_FORWARD, MOVE_BACK):
            step = env.params.sample(None, "forward_step") * (1 if action == MOVE_FORWARD else -1)
            pos = pos + agent.dir_vec * step
            hit = env.intersect(agent, pos, agent.radius)
            if hit is not None and hit is not True:
                return hit
        else:
            turn = math.radians(env.params.sample(None, "turn_step"))
            direction += turn if action == TURN_LEFT else -turn
        if agent.carrying is None:
            return None
        hit = self._load_hits(pos, direction)
        return hit if hit is not None and hit is not True else None

    def _tolerance(self) -> float:
        return math.radians(self.env.params.get_max("turn_step")) / 2 + 1e-3

    def _turn_towards(self, offset: np.ndarray) -> int | None:
        """The turn that heads the agent along ``offset`` (x, z), or None if already on course.

        Empty-handed the agent turns on the spot. A carried object sweeps a wide circle,
        so the agent turns the way that stays clear of walls and furniture, and where
        neither way is clear it first steps back or forward to a spot where one is, or
        failing that drops the load.
        """
        agent = self.env.agent
        error = _wrap(math.atan2(-offset[1], offset[0]) - agent.dir)
        if abs(error) <= self._tolerance():
            return None
        short, long = (TURN_LEFT, TURN_RIGHT) if error > 0 else (TURN_RIGHT, TURN_LEFT)
        if agent.carrying is None:
            return short
        for turn in (short, long):
            if self._can_rotate(agent.pos, error, turn):
                return turn
        step = self.env.params.sample(None, "forward_step")
        for count in range(1, 8):
            for move, sign in ((MOVE_FORWARD, 1), (MOVE_BACK, -1)):
                path = [agent.pos + agent.dir_vec * sign * step * k for k in range(1, count + 1)]
                if all(self._pose_free(p, agent.dir) for p in path) and (
                    self._can_rotate(path[-1], error, short) or self._can_rotate(path[-1], error, long)
                ):
                    # Commit to the whole shift, or the next waypoint may undo it.
                    self._queue = [move] * (count - 1)
                    return move
        # Wedged between walls and furniture: put the load down and lift it again from a
        # spot with room to turn (see _plan).
        self._wedged.append(agent.pos.copy())
        return DROP

    def _approach(self, ent, mode: str) -> int:
        env, agent = self.env, self.env.agent
        # MiniWorld's pickup takes whatever a disc just in front of the agent touches.
        probe = agent.pos + agent.dir_vec * 1.5 * agent.radius
        if mode == "pickup" and env.intersect(agent, probe, 1.2 * agent.radius) is ent:
            self._ensure_plan(ent, mode, self._stop_distance(ent, mode))
            # Never lift again where the load got wedged.
            if self._roomy(ent) and all(np.linalg.norm(agent.pos - p) > 0.3 for p in self._wedged):
                self._stuck_carrying = 0
                return PICKUP
        if mode == "drop" and self._drop_lands_next_to(ent):
            return DROP
        offset = (ent.pos - agent.pos)[[0, 2]]
        dist = float(np.linalg.norm(offset))
        stop = self._stop_distance(ent, mode)
        self._ensure_plan(ent, mode, stop)
        here = agent.pos[[0, 2]]
        # Close by with nothing in between, head straight for the target rather than for
        # the nearest cell of the goal region (a sidestep that a carried load may not allow).
        direct = dist <= stop or (
            dist <= stop + 1.0 and self._line_clear(here, here + offset * (1 - stop / dist)) and self._can_face(offset)
        )
        direct &= bool(self._same_room(here[None], ent.pos[[0, 2]])[0]) and (mode != "pickup" or self._roomy(ent))
        if direct:
            turn = self._turn_towards(offset)
            if turn is not None:
                return turn
            if mode == "find" and dist < self._min_view_distance(ent):
                return MOVE_BACK
            return MOVE_FORWARD
        if agent.carrying is not None:
            door_action = self._door_action(self._descend(*self._start_cell(here), length=3.0))
            if door_action is not None:
                return door_action
        waypoint = self._waypoint(ent, mode, stop)
        turn = self._turn_towards(waypoint - agent.pos[[0, 2]])
        return MOVE_FORWARD if turn is None else turn

    def _drop_lands_next_to(self, dest) -> bool:
        carried = self.env.agent.carrying
        gap = np.linalg.norm((carried.pos - dest.pos)[[0, 2]]) - carried.radius - dest.radius
        return bool(gap <= PLACE_MARGIN - 0.1)

    def _stop_distance(self, ent, mode: str) -> float:
        agent = self.env.agent
        if mode == "pickup":
            return agent.radius + ent.radius + 0.35
        if mode == "find":
            return agent.radius + ent.radius + FIND_MARGIN - 0.2
        carried = agent.carrying
        return self._reach(carried) + carried.radius + ent.radius + PLACE_MARGIN - 0.2

    def _reach(self, carried) -> float:
        """How far ahead of the agent MiniWorld holds ``carried`` (``_get_carry_pos``)."""
        agent = self.env.agent
        return 1.05 * (agent.radius + carried.radius + self.env.max_forward_step)

    def _min_view_distance(self, ent) -> float:
        """Closest distance at which ``ent``'s centre is still above the image's bottom edge."""
        agent = self.env.agent
        lowest = math.radians(-agent.cam_pitch + 0.85 * agent.cam_fov_y / 2)
        return (agent.cam_height - ent.height / 2) / math.tan(lowest)

    # ------------------------------------------------------------------ navigation
    def _ensure_plan(self, ent, mode: str, stop: float) -> None:
        key = (id(ent), mode, self.env.agent.carrying is not None)
        if key != self._field_key:
            self._field, self._clearance = self._plan(ent, mode, stop)
            self._field_key = key

    def _waypoint(self, ent, mode: str, stop: float) -> np.ndarray:
        """The point to steer for: a short look-ahead along the cost-to-go field's descent."""
        grid = self._grid
        self._ensure_plan(ent, mode, stop)
        here = self.env.agent.pos[[0, 2]]
        path = self._descend(*self._start_cell(here))
        point = grid.points[path[0]]
        for cell in path[1:]:
            # Stop where going straight at the next cell would graze an obstacle.
            if np.linalg.norm(point - here) >= _LOOKAHEAD or not self._line_clear(here, grid.points[cell]):
                break
            point = grid.points[cell]
        return point

    def _start_cell(self, here: np.ndarray) -> tuple[int, int]:
        grid, field = self._grid, self._field
        i, j = grid.cell(*here)
        if np.isfinite(field[i, j]):
            return i, j
        # Close to a wall or an object the agent's own cell counts as blocked: start from
        # the nearest open cell.
        lo_i, lo_j = max(i - 4, 0), max(j - 4, 0)
        window = field[lo_i : i + 5, lo_j : j + 5]
        gaps = np.linalg.norm(grid.points[lo_i : i + 5, lo_j : j + 5] - here, axis=-1)
        gaps = np.where(np.isfinite(window), gaps, np.inf)
        di, dj = np.unravel_index(np.argmin(gaps), gaps.shape)
        return lo_i + di, lo_j + dj

    def _descend(self, i: int, j: int, length: float = 3.5) -> list[tuple[int, int]]:
        """Cells from (i, j) down the cost-to-go field, about ``length`` m of them."""
        cells = next(n for n in itertools.count(1) if n * CELL >= length)  # as len(path) * CELL < length
        return descend(self._field, i, j, max_cells=cells)

    def _door_ahead(self, path: list[tuple[int, int]]):
        """The first doorway on ``path`` as (door, axis index of its normal, far side sign), or None."""
        env, grid = self.env, self._grid
        half_gap = env.plan.wall_gap / 2 + CELL / 2
        here = env.agent.pos[[0, 2]]
        points = [grid.points[cell] for cell in path]
        for index, point in enumerate(points):
            for door in env.plan.doors:
                normal = 0 if door.axis == "z" else 1  # doors lie in the walls at x = 0 or z = 0
                if abs(point[normal]) > half_gap or not door.lo <= point[1 - normal] <= door.hi:
                    continue
                # The far side is where the route leaves the doorway, not simply across
                # from the agent, which may already stand in it.
                after = [p[normal] for p in points[index:] if abs(p[normal]) > half_gap]
                far = math.copysign(1.0, after[0]) if after else -math.copysign(1.0, here[normal])
                return door, normal, far
        return None

    def _door_action(self, path: list[tuple[int, int]]) -> int | None:
        """Carry the load through the next doorway on ``path`` in one straight run.

        The load rides a metre ahead and cuts corners, so following the route's look-ahead
        often jams it against the door frame. Instead the agent looks for the smallest
        feasible turn after which going straight takes agent and load through the doorway
        without touching anything, turns, then commits to the run. None when no doorway is
        near or no straight run exists yet (then the route brings the agent closer).
        """
        found = self._door_ahead(path)
        if found is None:
            return None
        door, normal, far = found
        env, agent = self.env, self.env.agent
        turn = math.radians(env.params.sample(None, "turn_step"))
        for k in sorted(range(-9, 10), key=lambda k: (abs(k), k)):
            direction = agent.dir + k * turn
            if any(self._load_hits(agent.pos, agent.dir + math.copysign(i, k) * turn) for i in range(1, abs(k) + 1)):
                continue
            run = self._straight_run(direction, normal, far, env.plan.wall_gap / 2 + agent.carrying.radius + 0.3)
            if run is None:
                continue
            if k == 0:
                self._queue = [MOVE_FORWARD] * (run - 1)
                return MOVE_FORWARD
            return TURN_LEFT if k > 0 else TURN_RIGHT
        return None

    def _straight_run(self, direction: float, normal: int, far: float, clear_by: float) -> int | None:
        """Forward steps heading ``direction`` until the agent is ``clear_by`` m past the door
        plane on side ``far``, or None if agent or load would hit something on the way."""
        env, agent = self.env, self.env.agent
        step = self._heading(direction) * env.params.sample(None, "forward_step")
        pos = agent.pos.copy()
        for count in range(1, 60):
            pos = pos + step
            if not self._pose_free(pos, direction):
                return None
            if far * pos[[0, 2]][normal] >= clear_by:
                return count
        return None

    def _roomy(self, load) -> bool:
        """Whether the agent stands where ``load``, once lifted, can swing round (see _plan);
        stepping up to it from a planned lifting spot costs a little of that room. Only
        place goals carry the load anywhere."""
        if self.env.goal.family != "place":
            return True
        return bool(self._turning_room(self.env.agent.pos[None, [0, 2]], load)[0] >= self._lift_room - 0.45)

    def _turning_room(self, points: np.ndarray, load) -> np.ndarray:
        """Distance from floor points (..., 2) to the nearest wall or to furniture taller than
        the height ``load`` would be carried at: the radius it can swing through there."""
        env, agent = self.env, self.env.agent
        room = self._grid.wall_distance if points is self._grid.points else wall_distances(points, env.wall_segs)
        carry_height = max(agent.cam_height - load.height - 0.3, 0.0)
        for other in env.entities:
            if other is not agent and other is not load and other.height > carry_height:
                room = np.minimum(room, np.linalg.norm(points - other.pos[[0, 2]], axis=-1) - other.radius)
        return room

    def _same_room(self, points: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Which floor points (..., 2) lie in the room of ``target`` (x, z), doorways excluded.

        Rooms fill the quadrants around the origin (see :mod:`~vlm_rewards.envs.house.layout`), so a room is a
        pair of coordinate signs.
        """
        half_gap = self.env.plan.wall_gap / 2
        same = np.ones(points.shape[:-1], dtype=bool)
        for axis in (0, 1):
            same &= (np.abs(points[..., axis]) > half_gap) & (np.sign(points[..., axis]) == np.sign(target[axis]))
        return same

    def _door_alignment_cost(self) -> np.ndarray:
        """Extra cost for being off a door's centre line just before it, so that a carried
        load (which cuts corners) is brought to the door square on."""
        grid, plan = self._grid, self.env.plan
        extra = np.zeros(grid.shape)
        for door in plan.doors:
            normal = 0 if door.axis == "z" else 1
            across = np.abs(grid.points[..., normal])
            off = np.abs(grid.points[..., 1 - normal] - (door.lo + door.hi) / 2)
            near = (across <= 2.0) & (off <= (door.hi - door.lo) / 2 + 1.5)
            extra += np.where(near, 3.0 * np.minimum(off, 1.5) / 1.5 * (1.0 - across / 2.0), 0.0)
        return extra

    def _line_clear(self, start: np.ndarray, end: np.ndarray) -> bool:
        steps = max(int(np.linalg.norm(end - start) / (CELL / 2)), 1)
        for t in np.linspace(0, 1, steps + 1)[1:]:
            i, j = self._grid.cell(*(start + t * (end - start)))
            if self._clearance[i, j] < 0.05:
                return False
        return True

    def _plan(self, ent, mode: str, stop: float) -> tuple[np.ndarray, np.ndarray]:
        env, grid = self.env, self._grid
        agent = env.agent
        wanted = _WANTED_CLEARANCE_CARRYING if agent.carrying is not None else WANTED_CLEARANCE
        # The target is an obstacle too: the goal cells ring it at the stopping distance.
        obstacles = [
            (e.pos, e.radius + (0.0 if e is ent else self._inflation.get(id(e), 0.0)))
            for e in env.entities
            if e is not agent and e is not agent.carrying
        ]
        clearance = grid.clearance(agent.radius, obstacles)
        cost = clearance_cost(clearance, wanted)
        cost = np.where(clearance < 0.3, cost + 10.0, cost)  # scraping past is a last resort
        if agent.carrying is not None:
            cost = cost + self._door_alignment_cost()
        # Near the target through a wall or a doorway does not count.
        goal = (grid.distance_to(ent.pos) <= stop) & np.isfinite(cost) & self._same_room(grid.points, ent.pos[[0, 2]])
        if mode == "pickup" and env.goal.family == "place" and goal.any():
            # Lift where the carried object can swing round without hitting a wall or
            # furniture taller than the height it is carried at, among the spots the
            # agent can get to.
            start = grid.distance_to(agent.pos) <= 1.5 * CELL
            reachable = np.isfinite(cost_to_go(start, np.where(np.isfinite(cost), 1.0, np.inf)))
            if (goal & reachable).any():
                goal &= reachable
            sweep = self._reach(ent) + ent.radius + 0.1
            room = np.where(goal, self._turning_room(grid.points, ent), -np.inf)
            self._lift_room = min(sweep, room.max() - 0.1)
            goal &= room >= self._lift_room
        return cost_to_go(goal, cost), clearance


def make_solver(env) -> Callable[[Any], int]:
    """A scripted solver for a ``HouseEnv`` (or a wrapper of one): ``solver(obs) -> action``."""
    from vlm_rewards.envs.house.env import HouseEnv

    if not isinstance(env.unwrapped, HouseEnv):
        raise TypeError(f"env must be a HouseEnv, got {type(env.unwrapped).__name__}")
    return HouseSolver(env)


class Explorer:
    """The corpus's and eval set's ``explore`` policy: mostly forward, turning away from walls.

    After a forward step that did not move the agent it turns one way for a few steps
    (each step ends the turn with probability 0.3). All randomness comes from ``rng``, in a
    fixed order, so datasets built with it are deterministic.
    """

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.blocked = 0  # 0: walking; 1 or 2: turning (action blocked - 1)

    def act(self) -> int:
        if self.blocked:
            return self.blocked - 1
        return 2 if self.rng.random() < 0.7 else int(self.rng.integers(2))

    def observe(self, action: int, moved: bool) -> None:
        """Tell the walker whether ``action`` moved the agent."""
        if action == 2 and not moved:
            self.blocked = int(self.rng.integers(2)) + 1
        elif self.blocked and self.rng.random() < 0.3:
            self.blocked = 0
