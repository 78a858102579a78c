"""Offline reward evaluation throughput: 10,000 frames x 20 goals with the built-in model.

    python benchmarks/bench_evaluate.py [--frames 10000] [--heldout-frames 500] [--model builtin:default]
                                        [--dtype fp32|bf16] [--batch-size 256] [--dataset DIR] [--no-report]

The dataset is the House find section (20 training goals, 4 held out): ``--frames`` train
frames, each scored against the 20 training goals, plus ``--heldout-frames`` held-out frames
(the split calibration is reported on). It is collected once into ``--dataset`` (default
``/tmp/vlm-rewards-bench-evalset-{frames}``) and reused. The evaluation is timed end to end
(``vlm_rewards.evaluation.evaluate``: load, image and text encoding, similarity matrices,
per-goal and pooled metrics, τ/β calibration on a 5-point τ grid, plots and report) and by
stage. Target: under 60 s for 10,000 x 20 on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--heldout-frames", type=int, default=500)
    parser.add_argument("--model", default="builtin:default")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--dataset", type=Path, default=None)
    parser.add_argument("--no-report", action="store_true", help="skip plots and report.md")
    args = parser.parse_args()

    import torch

    from vlm_rewards import load_model
    from vlm_rewards.data import EvalSetError, collect_evalset, load_evalset, read_evalset_manifest
    from vlm_rewards.evaluation import evaluate

    path = args.dataset or Path(tempfile.gettempdir()) / f"vlm-rewards-bench-evalset-{args.frames}-{args.heldout_frames}"
    try:
        read_evalset_manifest(path)
        collect_s = None
    except EvalSetError:
        t = time.perf_counter()
        collect_evalset(path, sections=("house:find",), frames=args.frames, heldout_frames=args.heldout_frames, seed=0)
        collect_s = time.perf_counter() - t

    t0 = time.perf_counter()
    model = load_model(args.model, dtype=torch.bfloat16 if args.dtype == "bf16" else None)
    data = load_evalset(path)
    load_s = time.perf_counter() - t0
    section = data.sections["house:find"]
    n_train, n_held = len(section.splits["train"]), len(section.splits["heldout"])
    goals = len(section.split_goals("train"))

    with tempfile.TemporaryDirectory() as out:
        t, cpu = time.perf_counter(), time.process_time()
        ev = evaluate(model, data, out_dir=None if args.no_report else out, batch_size=args.batch_size)
        eval_s, eval_cpu = time.perf_counter() - t, time.process_time() - cpu
    total = load_s + eval_s
    tm = ev.timing
    res = ev.metrics["sections"]["house:find"]

    print(f"model {args.model} ({model.num_parameters:,} parameters, {args.dtype}), torch threads {torch.get_num_threads()}")
    print(f"dataset {path}: train {n_train} frames x {goals} goals, held-out {n_held} frames x "
          f"{len(section.split_goals('heldout'))} goals" + (f" (collected in {collect_s:.1f} s)" if collect_s else " (reused)"))
    print()
    print("| stage | seconds |")
    print("|---|---:|")
    print(f"| load model and dataset | {load_s:.1f} |")
    enc = tm["encode_and_similarities"]
    print(f"| encode {n_train + n_held:,} frames and {len(section.goals)} prompts, similarity matrices "
          f"({(n_train + n_held) / enc:,.0f} frames/s) | {enc:.1f} |")
    print(f"| metrics per goal and pooled, calibration (5 τ) | {tm['metrics_and_calibration']:.1f} |")
    if "report" in tm:
        print(f"| plots and report | {tm['report']:.1f} |")
    print(f"| **total** ({n_train:,} x {goals} + {n_held:,} x {len(section.split_goals('heldout'))}) | **{total:.1f}** |")
    print()
    held, train = res["splits"]["heldout"]["pooled"], res["splits"]["train"]["pooled"]
    print(f"train AP {train['ap']:.3f}, held-out AP {held['ap']:.3f}; target < 60 s: {'met' if total < 60 else 'MISSED'}")
    # On a shared machine the wall time depends on the other jobs; the CPU time does not.
    print(f"evaluate(): {eval_s:.1f} s wall, {eval_cpu:.1f} s CPU (all threads); 1-min load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
