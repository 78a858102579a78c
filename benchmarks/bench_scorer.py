"""Scorer throughput: frames/s of a ViT-B/32-shaped CLIP (random weights) at 224x224.

Compares the unbatched per-frame fp32 path (what most peers do), batched fp32, and
batched bf16 (AMX on recent Intel CPUs, tensor cores on GPUs), all in one run so the
ratios are comparable on a noisy machine.

    python benchmarks/bench_scorer.py [--frames 256] [--batch 64] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def build_vit_b32(path: Path) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from vlm_rewards.models.tokenizer import train_tokenizer

    tok = train_tokenizer(["go near the red box", "open the clock app"] * 4, vocab_size=300, model_max_length=77)
    config = CLIPConfig(text_config={"vocab_size": len(tok), "eos_token_id": tok.eos_token_id,
                                     "bos_token_id": tok.bos_token_id, "pad_token_id": tok.pad_token_id})
    CLIPModel(config).save_pretrained(path)  # CLIPConfig's defaults are ViT-B/32
    tok.save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(path)
    return path


def frames_per_second(scorer, frames, goals, repeats: int = 2) -> float:
    scorer.score(frames[: min(len(frames), scorer.batch_size)], goals[: min(len(frames), scorer.batch_size)])  # warm-up
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        scorer.score(frames, goals)
        best = max(best, len(frames) / (time.perf_counter() - t0))
    return best


def main() -> None:
    from vlm_rewards import RewardScorer, load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=256)
    ap.add_argument("--naive-frames", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(args.frames, 224, 224, 3), dtype=np.uint8)
    goal_set = ["go near the red box", "go near the blue ball", "open the clock app", "pick up the key"]
    goals = [goal_set[i % 4] for i in range(args.frames)]
    with tempfile.TemporaryDirectory() as tmp:
        path = build_vit_b32(Path(tmp))
        rows = []
        model = load_model(path, device=args.device)
        gflops = 4.4  # ViT-B/32 image tower at 224x224, forward, per frame
        naive = RewardScorer(model, goal_set=goal_set, batch_size=1)
        fps_naive = frames_per_second(naive, frames[: args.naive_frames], goals[: args.naive_frames], repeats=1)
        rows.append(("per-frame fp32 (batch 1)", fps_naive))
        rows.append((f"batched fp32 (batch {args.batch})", frames_per_second(RewardScorer(model, goal_set=goal_set, batch_size=args.batch), frames, goals)))
        model_bf16 = load_model(path, device=args.device, dtype=torch.bfloat16)
        rows.append((f"batched bf16 (batch {args.batch})", frames_per_second(RewardScorer(model_bf16, goal_set=goal_set, batch_size=args.batch), frames, goals)))

    print(f"ViT-B/32-shaped CLIP, 224x224, device={args.device}, threads={torch.get_num_threads()}, "
          f"params={model.num_parameters / 1e6:.0f}M")
    print(f"{'path':<28} {'frames/s':>10} {'vs naive':>9} {'TFLOP/s':>8}")
    for name, fps in rows:
        print(f"{name:<28} {fps:>10.1f} {fps / fps_naive:>8.1f}x {fps * gflops / 1e3:>8.2f}")

    # The shipped default model at its own input size (64x64).
    small = rng.integers(0, 256, size=(4 * args.frames, 64, 64, 3), dtype=np.uint8)
    small_goals = [goal_set[i % 4] for i in range(len(small))]
    print(f"\nbuiltin:default, 64x64, batch {args.batch}")
    print(f"{'dtype':<28} {'frames/s':>10}")
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        default = load_model("builtin:default", device=args.device, dtype=dtype)
        fps = frames_per_second(RewardScorer(default, goal_set=goal_set, batch_size=args.batch), small, small_goals)
        print(f"{name:<28} {fps:>10.1f}")


if __name__ == "__main__":
    main()
