"""How well can a policy that sees perfectly do at House find, with and without memory?

The learned House agents plateau at about 70% success on one-room find goals (the oracle,
trained on ground truth, too). This benchmark measures the ceiling that the *policy class*
sets, with perception taken out of the question: each scripted policy reads the target's
true position, but only while the target is in view (``HouseEnv.in_view``) and, optionally,
no further than ``--sight`` metres (a crude stand-in for what a 64-pixel image resolves).

Levels (``--level``): ``room``, the one-room level of ``configs/house_find_room.yaml`` (time
limit 60); ``rooms``, the 2-4-room house of ``configs/house_find_rooms.yaml`` (time limit 150).

Policies:

- ``reactive``: no memory. Target in view: turn towards it, walk when it is ahead;
  otherwise turn left. What a feed-forward policy on one frame can express.
- ``reactive+side-steps``: the same with ``actions="walk"``: when the way ahead is blocked
  while the target is ahead, step sideways (towards the free side) instead of walking into
  the obstacle, so the target stays in view.
- ``reactive+two-frames``: side steps without being told what blocks the way: what a policy
  that sees the previous view beside the current one (``env.frame_stack: 2``) can tell. When a
  step left the view unchanged (the agent did not move), step sideways, left first, then right
  if that did not move either; otherwise the reactive policy.
- ``reactive+explore``: the two-frame policy while the target is in view; otherwise it wanders
  (the eval set's explorer: mostly forward, turning for a few steps after bumping into
  something; random, so it needs no memory beyond the last step). A memoryless policy that
  searches by walking instead of turning on the spot: what leaving the first room takes.
- ``search-map``: the memory of ``env.search_map`` (:class:`~vlm_rewards.envs.house.memory.SearchMap`,
  the floor looked at within ``--sight``). The two-frame policy while the target is in view;
  otherwise the explore step of ``env.explore_action``
  (:class:`~vlm_rewards.envs.house.memory.FrontierExplorer`: towards the nearest floor not yet
  looked at, round walls, side-stepping objects it bumps into). What a policy with that map
  and that skill can reach.
- ``seen-once``: one bit of memory. Turn left until the target has been seen once, then the
  scripted solver (a planner that goes round obstacles and may lose sight of the target).
- ``solver``: the scripted solver throughout (knows where everything is).

Usage::

    python benchmarks/bench_house_policies.py                      # 200 episodes
    python benchmarks/bench_house_policies.py --episodes 500 --sight 99 4 3
    python benchmarks/bench_house_policies.py --level rooms --episodes 100

Prints success rate (± one standard error) and mean episode length per policy and sight.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from vlm_rewards.envs.house.env import HouseEnv
from vlm_rewards.envs.house.memory import FrontierExplorer, SearchMap
from vlm_rewards.envs.house.solver import MOVE_FORWARD, TURN_LEFT, TURN_RIGHT, Explorer, make_solver

# Side-step ids in actions="walk" (after the four move ids).
STRAFE_LEFT, STRAFE_RIGHT = 4, 5
# Heading error (degrees) within which the reactive policies walk rather than turn.
AIM_TOLERANCE = 12.0
# The recipes' levels (configs/house_find_room.yaml, configs/house_find_rooms.yaml) and time limits.
LEVELS = {
    "room": ({"family": "find", "num_rooms": (1, 1), "num_objects": (3, 5), "room_size": (5.0, 6.5)}, 60),
    "rooms": ({"family": "find", "num_rooms": (2, 4)}, 150),
}
POLICIES = ("reactive", "reactive+side-steps", "reactive+two-frames", "reactive+explore", "search-map", "seen-once", "solver")


def _target_bearing(env: HouseEnv, sight: float) -> float | None:
    """Degrees to the target (positive: to the right) if it is in view within ``sight`` m."""
    target = env.objects[env.goal.target]
    rel = target.pos - env.agent.pos
    if not env.in_view(target) or float(np.linalg.norm(rel[[0, 2]])) > sight:
        return None
    return math.degrees(math.atan2(rel @ env.agent.right_vec, rel @ env.agent.dir_vec))


def _blocked(env: HouseEnv, offset: np.ndarray) -> bool:
    return env.intersect(env.agent, env.agent.pos + offset, env.agent.radius) is not None


def reactive(env: HouseEnv, sight: float, side_steps: bool) -> int:
    bearing = _target_bearing(env, sight)
    if bearing is None:
        return TURN_LEFT
    if abs(bearing) >= AIM_TOLERANCE:
        return TURN_RIGHT if bearing > 0 else TURN_LEFT
    step = env.params.sample(None, "forward_step")
    if side_steps and _blocked(env, env.agent.dir_vec * step):
        return STRAFE_LEFT if _blocked(env, env.agent.right_vec * step) else STRAFE_RIGHT
    return MOVE_FORWARD


def two_frames(env: HouseEnv, sight: float, last: int | None, moved: bool) -> int:
    """The reactive policy, with side steps chosen from whether the last step changed the view."""
    if last is not None and not moved and last in (MOVE_FORWARD, STRAFE_LEFT):
        return STRAFE_LEFT if last == MOVE_FORWARD else STRAFE_RIGHT
    return reactive(env, sight, side_steps=False)


def run(policy: str, sight: float, episodes: int, seed: int, max_steps: int, level: str = "room") -> tuple[float, float, float]:
    """(success rate, its standard error, mean episode length) over ``episodes`` episodes."""
    walk = policy in ("reactive+side-steps", "reactive+two-frames", "reactive+explore", "search-map")
    env = HouseEnv(**LEVELS[level][0], actions="walk" if walk else "move", max_episode_steps=max_steps)
    successes, lengths = [], []
    for i in range(episodes):
        env.reset(seed=seed + i)
        solver, seen = make_solver(env), False
        explorer = Explorer(np.random.default_rng(seed + i))
        if policy == "search-map":
            memory = SearchMap(sight=min(sight, 50.0))
            memory.reset(env)
            frontier = FrontierExplorer(memory)
            frontier.reset(env)
        blocked = False
        last, moved = None, True
        for t in range(1, max_steps + 1):
            if policy == "reactive+two-frames":
                action = two_frames(env, sight, last, moved)
            elif policy == "reactive+explore":
                wander = _target_bearing(env, sight) is None
                action = explorer.act() if wander else two_frames(env, sight, last, moved)
            elif policy == "search-map":
                memory.update(env)
                if _target_bearing(env, sight) is None:
                    action = frontier.act(env, last, blocked)
                else:
                    action = two_frames(env, sight, last, moved)
            elif policy == "solver":
                action = solver(None)
            elif policy == "seen-once":
                seen = seen or _target_bearing(env, sight) is not None
                action = solver(None) if seen else TURN_LEFT
            else:
                action = reactive(env, sight, side_steps=policy == "reactive+side-steps")
            before = (env.agent.pos.copy(), float(env.agent.dir))
            _, _, terminated, truncated, info = env.step(action)
            last, moved = action, not (np.allclose(before[0], env.agent.pos) and before[1] == float(env.agent.dir))
            blocked = bool(info["blocked"])
            if policy == "reactive+explore" and wander:
                explorer.observe(action, moved)
            elif policy == "reactive+explore":
                explorer.blocked = 0  # approaching: a wander resumes walking, not mid-turn
            if terminated or truncated:
                break
        successes.append(bool(info["ground_truth_success"]))
        lengths.append(t)
    env.close()
    p = float(np.mean(successes))
    return p, math.sqrt(p * (1 - p) / episodes), float(np.mean(lengths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=90_000, help="episode i starts from env seed SEED + i")
    parser.add_argument("--level", choices=tuple(LEVELS), default="room", help="one room, or the 2-4-room house")
    parser.add_argument("--max-steps", type=int, default=None, help="time limit (default: the level's recipe's, 60 or 150)")
    parser.add_argument("--sight", type=float, nargs="+", default=[99.0, 4.0],
                        help="metres within which the target is seen when in view (99: anywhere in the room)")
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    args = parser.parse_args()
    if args.max_steps is None:
        args.max_steps = LEVELS[args.level][1]
    if args.episodes < 1 or args.max_steps < 1:
        parser.error("--episodes and --max-steps must be positive")
    where = "one room" if args.level == "room" else "2-4 rooms"
    print(f"House find, {where}; {args.episodes} episodes from seed {args.seed}; time limit {args.max_steps} steps\n")
    print("| policy | sight (m) | success | mean length |")
    print("|---|---:|---:|---:|")
    for policy in args.policies:
        for sight in ([None] if policy == "solver" else args.sight):
            p, se, length = run(policy, sight if sight is not None else math.inf, args.episodes, args.seed,
                                args.max_steps, args.level)
            shown = "n/a" if sight is None else ("any" if sight >= 99 else f"{sight:g}")
            print(f"| {policy} | {shown} | {100 * p:.0f}% ± {100 * se:.0f} | {length:.1f} |", flush=True)


if __name__ == "__main__":
    main()
