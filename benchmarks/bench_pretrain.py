"""Pre-training throughput: frame-caption pairs/s of each model size, fp32 vs bf16 autocast.

Runs :func:`vlm_rewards.pretrain.pretrain` for a few steps per (size, precision) on a small
corpus and times the steps after the first (which pays for lazy initialisation). A step is
what training does: batch gather, augmentation, forward, InfoNCE loss, backward, AdamW.
Checkpointing is off (``checkpoint_every`` beyond the last step).

    python benchmarks/bench_pretrain.py [--sizes xs,s,m,l] [--steps 6] [--batch-size 64] [--threads 2]
    python benchmarks/bench_pretrain.py --device cuda --batch-size 256 --steps 30 --corpus WORK/corpus  # GPU

``--corpus`` times on an existing corpus (``vlm-rewards corpus``) instead of building a small
Phone/BabyAI one, so it runs where the environments are not installed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def pairs_per_second(corpus: Path, out: Path, size: str, bf16: bool, steps: int, batch_size: int,
                     threads: int | None, device: str | None) -> float:
    from vlm_rewards.pretrain import pretrain

    stamps: list[float] = []
    pretrain(corpus, out, size=size, steps=steps, batch_size=batch_size, seed=0, resume=False, bf16=bf16,
             threads=threads, device=device, checkpoint_every=steps + 1,
             callback=lambda step, loss: stamps.append(time.perf_counter()))
    return batch_size * (len(stamps) - 1) / (stamps[-1] - stamps[0])


def main() -> None:
    from transformers.utils import logging as hf_logging

    from vlm_rewards.data import collect_corpus
    from vlm_rewards.pretrain import SIZES

    hf_logging.disable_progress_bar()  # save_pretrained's shard bar would break up the table

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="xs,s,m,l")
    ap.add_argument("--steps", type=int, default=6, help="steps per run; the first is not timed")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--corpus", type=Path, default=None, help="an existing corpus directory (default: build a small one)")
    args = ap.parse_args()
    sizes = args.sizes.split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or args.steps < 2:
        ap.error(f"--sizes must be names from {sorted(SIZES)} (got {unknown}) and --steps >= 2")

    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus or collect_corpus(Path(tmp) / "corpus", domains=("phone", "babyai"),
                                               frames_per_domain=max(256, args.batch_size * 2), seed=0)
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        print(f"device={device} threads={args.threads} batch={args.batch_size} timed steps={args.steps - 1} "
              f"torch={torch.__version__}")
        print("| size | parameters | fp32 pairs/s | bf16 pairs/s | bf16 / fp32 |")
        print("|------|-----------:|-------------:|-------------:|------------:|")
        for size in sizes:
            rates = {}
            for bf16 in (False, True):
                out = Path(tmp) / f"{size}-{bf16}"
                rates[bf16] = pairs_per_second(corpus, out, size, bf16, args.steps, args.batch_size,
                                               args.threads, args.device)
            params = json.loads((out / "training_log.json").read_text())["num_parameters"]
            print(f"| {size:<4} | {params:>10,} | {rates[False]:>12.1f} | {rates[True]:>12.1f} | "
                  f"{rates[True] / rates[False]:>11.2f} |", flush=True)


if __name__ == "__main__":
    main()
