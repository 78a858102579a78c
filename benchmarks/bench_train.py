"""Training throughput: env steps per second of PPO with the VLM reward, as ``vlm-rewards train`` runs it.

Each row builds the run's vector env, scorer and agent from a recipe and times
``model.learn`` (rollouts with VLM scoring plus PPO updates), after a warm-up, on one
torch thread. Rows: the VLM reward with and without the frame-embedding cache, and the
ground-truth oracle (which still encodes frames with the VLM where the policy takes its view or
region features). The last column is the wall time of the recipe's
``total_steps`` at that rate: a recipe's targets are judged on its agent at the end of training,
so this is the time to reach them (evaluations during training not included).

Usage:
    python benchmarks/bench_train.py [--steps 4096] [--recipes configs/phone_common.yaml configs/house_find.yaml]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def steps_per_second(recipe: Path, overrides: list[str], steps: int) -> tuple[float, float, int]:
    """(env steps/s, frame-cache hit rate, the recipe's total_steps) for ``steps`` training steps of ``recipe``."""
    import torch

    from vlm_rewards.agents.config import load_config
    from vlm_rewards.agents.envs import goal_table, make_scorer
    from vlm_rewards.agents.venvs import make_train_venv
    from vlm_rewards.agents.algos import build_agent

    cfg = load_config(recipe, overrides)
    torch.set_num_threads(cfg.agent.torch_threads or torch.get_num_threads())
    scorer = make_scorer(cfg.reward, cfg.env, seed=cfg.seed)
    venv = make_train_venv(cfg, scorer, goal_table(scorer, cfg.env))
    model = build_agent(cfg, venv)
    warm = cfg.agent.n_steps * cfg.env.n_envs
    model.learn(warm)
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    rate = steps / (time.perf_counter() - start)
    cache = getattr(scorer, "cache", None)
    venv.close()
    used = cache is not None and (cache.hits + cache.misses) > 0  # an oracle without VLM features never encodes
    return rate, (cache.hit_rate if used else float("nan")), cfg.total_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--recipes", nargs="+", type=Path, default=[
        ROOT / "configs/phone_common.yaml", ROOT / "configs/phone_common_pointer.yaml", ROOT / "configs/house_find.yaml",
        ROOT / "configs/house_find_room.yaml"])
    args = parser.parse_args()
    rows = [
        ("VLM reward, frame cache", ["reward.kind=vlm"]),
        ("VLM reward, no cache", ["reward.kind=vlm", "reward.frame_cache=0"]),
        ("oracle (ground truth)", ["reward.kind=ground_truth"]),
    ]
    print(f"# training throughput ({platform.processor() or platform.machine()}, {args.steps} env steps after warm-up)")
    print("| recipe | reward | env steps/s | vs oracle | cache hit rate | recipe's steps: minutes at this rate |")
    print("|---|---|---:|---:|---:|---:|")
    for recipe in args.recipes:
        # The oracle first: each VLM row is reported as a fraction of it (measured in this run).
        oracle = steps_per_second(recipe, rows[-1][1], args.steps)
        for label, overrides in rows:
            rate, hit, total = oracle if overrides is rows[-1][1] else steps_per_second(recipe, overrides, args.steps)
            hit_s = "" if hit != hit else f"{hit:.2f}"
            print(f"| {recipe.stem} | {label} | {rate:,.0f} | {rate / oracle[0]:.0%} | {hit_s} | "
                  f"{total / 1000:,.0f}k: {total / rate / 60:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
