"""Throughput of ``vlm_rewards/House-v0`` (MiniWorld, headless Mesa on CPU) and solver success.

Prints a table of env steps per second with random actions at a 64x64 observation,
without and with ``render()`` of the VLM frame each step (224x224 by default), the time
per reset, and the scripted solver's success rate and episode length per goal family.

Usage::

    python benchmarks/bench_house.py                   # defaults
    python benchmarks/bench_house.py --steps 4000 --episodes 100

The target is > 500 random-action steps/s at 64x64 without render(); rendering the VLM
frame every step is extra and is reported separately.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vlm_rewards.envs.house.env import HouseEnv
from vlm_rewards.envs.house.vocabulary import FAMILIES
from vlm_rewards.envs.house.solver import make_solver


def random_steps_per_second(env: HouseEnv, steps: int, render: bool, seed: int = 0) -> tuple[float, float]:
    """(steps/s, resets/s) with uniformly random actions; resets count into the step time."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    resets, reset_time = 0, 0.0
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if render:
            env.render()
        if terminated or truncated:
            t0 = time.perf_counter()
            env.reset()
            reset_time += time.perf_counter() - t0
            resets += 1
    elapsed = time.perf_counter() - start
    return steps / elapsed, (resets / reset_time if resets else float("nan"))


def solver_success(family: str, episodes: int, seed: int = 0) -> tuple[float, float, int]:
    """(success rate, mean steps of successes, max steps) of the scripted solver."""
    env = HouseEnv(family=family, goal_split="all")
    solver = make_solver(env)
    lengths, successes = [], 0
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        for step in range(1, env.max_episode_steps + 1):
            obs, _, terminated, truncated, info = env.step(solver(obs))
            if terminated or truncated:
                break
        if info["ground_truth_success"]:
            successes += 1
            lengths.append(step)
    env.close()
    return successes / episodes, float(np.mean(lengths)) if lengths else float("nan"), max(lengths, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="random-action steps per measurement")
    parser.add_argument("--episodes", type=int, default=50, help="solver episodes per goal family")
    parser.add_argument("--obs-size", type=int, default=64)
    parser.add_argument("--render-size", type=int, default=224)
    args = parser.parse_args()

    env = HouseEnv(obs_size=args.obs_size, render_size=args.render_size, render_mode="rgb_array")
    plain, resets = random_steps_per_second(env, args.steps, render=False)
    rendered, _ = random_steps_per_second(env, args.steps // 2, render=True)
    env.close()
    print(f"| measurement (obs {args.obs_size}x{args.obs_size}) | value |")
    print("|---|---|")
    print(f"| random steps/s, no render() | {plain:.0f} |")
    print(f"| random steps/s, render() {args.render_size}x{args.render_size} every step | {rendered:.0f} |")
    print(f"| resets/s | {resets:.1f} |")
    for family in FAMILIES:
        rate, mean_len, max_len = solver_success(family, args.episodes)
        label = f"solver {family}: success over {args.episodes} episodes (mean / max steps)"
        print(f"| {label} | {rate:.1%} ({mean_len:.0f} / {max_len}) |")


if __name__ == "__main__":
    main()
