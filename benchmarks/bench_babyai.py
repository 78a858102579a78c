"""Throughput of BabyAIEnv: steps/s with random actions and reset time (goal regeneration).

Run:  python benchmarks/bench_babyai.py [--steps 2000] [--resets 50]
Prints a Markdown table; one row per (level, view).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vlm_rewards.envs.babyai import BabyAIEnv

LEVELS = ("BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0", "BabyAI-GoTo-v0")


def bench(level: str, view: str, steps: int, resets: int) -> dict[str, float]:
    env = BabyAIEnv(level, view=view, obs_size=64, render_size=224, render_mode="rgb_array")
    rng = np.random.default_rng(0)

    start = time.perf_counter()
    for seed in range(resets):
        env.reset(seed=seed)  # a train goal, regenerated until the level's mission matches
    reset_ms = (time.perf_counter() - start) / resets * 1e3

    env.reset(seed=0)
    actions = rng.integers(0, 3, size=steps)  # left / right / forward: never ends by mistake
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            env.reset()
    step_rate = steps / (time.perf_counter() - start)

    start = time.perf_counter()
    for _ in range(100):
        env.render()
    render_ms = (time.perf_counter() - start) / 100 * 1e3
    return {"steps_per_s": step_rate, "reset_ms": reset_ms, "render_224_ms": render_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--resets", type=int, default=50)
    args = parser.parse_args()
    print("| level | view | steps/s (obs 64x64) | reset (ms) | render 224 (ms) |")
    print("|---|---|---|---|---|")
    for level in LEVELS:
        for view in ("full", "agent"):
            r = bench(level, view, args.steps, args.resets)
            print(
                f"| {level} | {view} | {r['steps_per_s']:.0f} | {r['reset_ms']:.1f} | {r['render_224_ms']:.1f} |"
            )


if __name__ == "__main__":
    main()
