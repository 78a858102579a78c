"""Random-action throughput of ``vlm_rewards/Phone-v0``.

Steps per second with uniformly random actions (resets included, 30-step time limit),
for both action modes and goal sets, with and without a ``render()`` call every step.
Target: above 2,000 steps/s at the agent observation size on one CPU core.

Usage:
    python benchmarks/bench_phone.py [--steps 5000] [--obs-size 64] [--render-size 224]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time

import gymnasium as gym

import vlm_rewards.envs  # noqa: F401  (registers the ids)


def steps_per_second(action_mode: str, app_set: str, obs_size: int, render_size: int | None, steps: int) -> float:
    """Random-action steps/s; ``render_size`` None means ``render()`` is never called."""
    env = gym.make(
        "vlm_rewards/Phone-v0",
        action_mode=action_mode,
        apps=app_set,
        obs_size=obs_size,
        render_mode=None if render_size is None else "rgb_array",
        render_size=render_size or 224,
    )
    env.reset(seed=0)
    env.action_space.seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if render_size is not None:
            env.render()
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--obs-size", type=int, default=64)
    parser.add_argument("--render-size", type=int, default=224)
    args = parser.parse_args()

    print(f"Phone-v0 random-action throughput ({args.steps} steps each, {platform.processor() or platform.machine()})")
    header = f"{'action_mode':<12}{'apps':<10}{'obs':>6}{'render':>8}{'steps/s':>10}"
    print(header)
    print("-" * len(header))
    for mode, app_set, render in itertools.product(
        ("touch", "discrete"), ("common", "diverse"), (None, args.render_size)
    ):
        sps = steps_per_second(mode, app_set, args.obs_size, render, args.steps)
        print(f"{mode:<12}{app_set:<10}{args.obs_size:>6}{render or '-':>8}{sps:>10.0f}")


if __name__ == "__main__":
    main()
