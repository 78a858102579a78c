"""Helpers shared by the scoring benchmarks: real rollout streams and interleaved timing.

The machine these run on is shared, so every comparison is measured in one process,
round-robin over the variants, keeping each variant's best round: a busy moment then
slows one round of every variant rather than all rounds of one. Rates are reported per
wall-clock second and per CPU-second of the process; with one torch thread the latter is
insensitive to other jobs taking the cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

DOMAIN_IDS = {"phone": "vlm_rewards/Phone-v0", "house": "vlm_rewards/House-v0"}


def rollout_stream(domain: str, frames: int, render_size: int, *, n_envs: int = 8, seed: int = 0,
                   p_random: float = 0.5) -> tuple[np.ndarray, list[str]]:
    """``frames`` rendered frames of ``n_envs`` envs stepped in lock-step (time-major, as a
    vector env hands them to the scorer) and each frame's episode goal.

    Each step is the scripted solver's action with probability ``1 - p_random``, else a
    random action, so the stream holds goal states, near misses and aimless wandering.
    """
    import gymnasium as gym

    import vlm_rewards.envs  # noqa: F401
    from vlm_rewards.envs import make_solver

    rng = np.random.default_rng(seed)
    envs = [gym.make(DOMAIN_IDS[domain], render_mode="rgb_array", render_size=render_size, goal_split="all")
            for _ in range(n_envs)]
    obs, solvers = [], []
    for i, env in enumerate(envs):
        o, _ = env.reset(seed=seed * 1000 + i)
        obs.append(o)
        solvers.append(make_solver(env))
    out: list[np.ndarray] = []
    goals: list[str] = []
    episode = [n_envs * 0 + i for i in range(n_envs)]
    while len(out) < frames:
        for i, env in enumerate(envs):
            action = env.action_space.sample() if rng.random() < p_random else solvers[i](obs[i])
            obs[i], _, terminated, truncated, info = env.step(action)
            out.append(env.render())
            goals.append(info["goal"])
            if terminated or truncated:
                episode[i] += n_envs
                obs[i], _ = env.reset(seed=seed * 1000 + episode[i])
                solvers[i] = make_solver(env)
    for env in envs:
        env.close()
    return np.stack(out[:frames]), goals[:frames]


def interleaved_best(variants: dict[str, Callable[[], tuple[float, float]]], rounds: int = 3,
                     between: Callable[[], None] | None = None) -> dict[str, tuple[float, float]]:
    """Call each variant (returning ``(wall rate, CPU rate)``) ``rounds`` times round-robin;
    the best wall rate and the best CPU rate of each."""
    best = {name: (0.0, 0.0) for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            wall, cpu = run()
            best[name] = (max(best[name][0], wall), max(best[name][1], cpu))
            if between is not None:
                between()
    return best


def rate(fn: Callable[[], int]) -> tuple[float, float]:
    """Items per wall-clock second and per CPU-second of this process for one call of ``fn``
    (which returns how many items it processed).

    With one torch thread the CPU rate is what one core delivers, whatever else the
    machine is running; the wall rate is what this run got.
    """
    w0, c0 = time.perf_counter(), time.process_time()
    n = fn()
    return n / (time.perf_counter() - w0), n / max(time.process_time() - c0, 1e-9)
