"""bf16 vs fp32 agreement of the reward on labelled evaluation frames (Phone and House).

Collects a small evaluation dataset (``collect_evalset``: mixed random / solver /
near-miss policies, every frame labelled for every goal of its section), scores every
(frame, goal) pair with the built-in default in fp32 and in bf16, and reports the largest
|Δp| and how often the binarised reward 1[p > β] differs, split into frames whose fp32 p
is within the tolerance of β (allowed) and the rest (must be zero).

    python benchmarks/bench_precision.py [--frames 512] [--model builtin:default]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def main() -> None:
    import torch

    from vlm_rewards import RewardScorer, load_model
    from vlm_rewards.data import collect_evalset, load_evalset
    from vlm_rewards.scoring import BF16_P_TOLERANCE, compare_precision

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=512, help="frames per section and split")
    ap.add_argument("--sections", default="phone:common,house:find")
    ap.add_argument("--model", default="builtin:default")
    ap.add_argument("--tolerance", type=float, default=BF16_P_TOLERANCE)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    fp32_model = load_model(args.model)
    bf16_model = load_model(args.model, dtype=torch.bfloat16)
    size = fp32_model.image_size[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        collect_evalset(tmp, sections=args.sections.split(","), frames=args.frames, seed=args.seed, image_size=size)
        ds = load_evalset(tmp)
        print(f"collected {ds.num_frames} frames in {time.perf_counter() - t0:.0f}s")
        for name, section in ds.sections.items():
            ref = RewardScorer(fp32_model, goal_set=list(section.goals), seed=args.seed)
            cand = RewardScorer(bf16_model, goal_set=list(section.goals), seed=args.seed)
            for split_name, split in section.splits.items():
                reports = [compare_precision(ref, cand, split.frames, g, tolerance=args.tolerance)
                           for g in section.goals]
                rows.append((name, split_name, sum(r.frames for r in reports), max(r.max_abs_dp for r in reports),
                             float(np.mean([r.mean_abs_dp for r in reports])),
                             sum(r.near_threshold for r in reports), sum(r.disagreements for r in reports),
                             sum(r.disagreements_outside for r in reports)))
    print(f"\n{args.model}: fp32 vs bf16, β={ref.threshold}, τ={ref.temperature:.4g}, tolerance={args.tolerance}")
    print(f"{'section':<14} {'split':<8} {'pairs':>7} {'max|Δp|':>9} {'mean|Δp|':>9} {'near β':>7} "
          f"{'differ':>7} {'differ, not near β':>19}")
    for r in rows:
        print(f"{r[0]:<14} {r[1]:<8} {r[2]:>7} {r[3]:>9.4f} {r[4]:>9.5f} {r[5]:>7} {r[6]:>7} {r[7]:>19}")
    worst = max(r[3] for r in rows)
    outside = sum(r[7] for r in rows)
    print(f"\nmax |Δp| = {worst:.4f} ({'within' if worst <= args.tolerance else 'ABOVE'} tolerance {args.tolerance}); "
          f"reward disagreements away from β: {outside}")


if __name__ == "__main__":
    main()
