"""Memory: resident set size of the scorer over a long frame stream stays flat.

Part 1 streams ``--frames`` (default 1M) 64x64 frames through ``RewardScorer.score`` with
the frame cache on: about 70% distinct frames, the rest repeats of recent ones, in
env-sized batches. The image encoder is a cheap deterministic stand-in (a fixed random
projection of a subsampled frame, 128-d like the built-in default) so the whole stream
runs in about a minute; everything else (validation, hashing, the LRU cache, reward
computation) is the real code path. The RSS is sampled along the way, for the bounded
cache at two sizes and, over a shorter stream, for a cache too large to ever evict (what
an unbounded cache would do).

Part 2 streams ``--model-frames`` frames through the real built-in default and reports the
same samples, so the model's own memory behaviour is covered too.

    python benchmarks/bench_memory.py [--frames 1000000] [--model-frames 50000] [--batch 16]
"""

from __future__ import annotations

import argparse
import gc
import resource
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ProjectionModel:
    """A stand-in VLM: embeddings are a fixed random projection of an 8x-subsampled frame."""

    name = "projection-stand-in"
    num_parameters = 192 * 128
    logit_scale = 100.0

    def __init__(self, dim: int = 128, seed: int = 0):
        import torch

        gen = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(192, dim, generator=gen)
        self.dim = dim

    @property
    def device(self):
        import torch

        return torch.device("cpu")

    def encode_images(self, frames):
        import torch

        from vlm_rewards._validation import check_frames

        frames = check_frames(frames)
        x = frames[:, ::8, ::8].float().reshape(len(frames), -1)[:, :192]
        return torch.nn.functional.normalize(x @ self.weight, dim=-1)

    def encode_texts(self, texts):
        import torch

        rows = [torch.randn(self.dim, generator=torch.Generator().manual_seed(sum(map(ord, t)))) for t in texts]
        return torch.nn.functional.normalize(torch.stack(rows), dim=-1)


def frame_stream(total: int, batch: int, size: int = 64, repeat: float = 0.3, seed: int = 0):
    """Batches of frames: a counter stamped into a random base frame makes each new frame
    distinct; with probability ``repeat`` a frame is instead one of the last 512."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, size=(64, size, size, 3), dtype=np.uint8)
    recent = np.zeros((512, size, size, 3), dtype=np.uint8)
    made = 0
    while made < total:
        n = min(batch, total - made)
        out = pool[rng.integers(0, len(pool), n)].copy()
        stamp = np.arange(made, made + n, dtype=np.int64)
        out[:, 0, :8, 0] = stamp.view(np.uint8).reshape(n, 8)
        again = rng.random(n) < repeat
        if made >= 512 and again.any():
            out[again] = recent[rng.integers(0, 512, int(again.sum()))]
        recent[(made + np.arange(n)) % 512] = out
        made += n
        yield out


def run(scorer, total: int, batch: int, goals: list[str], samples: int = 20) -> list[tuple[int, float]]:
    gc.collect()
    points = [(0, rss_mb())]
    every = max(batch, total // samples)
    done = 0
    for frames in frame_stream(total, batch):
        g = [goals[(done + i) % len(goals)] for i in range(len(frames))]
        scorer.score(frames, g)
        done += len(frames)
        if done // every != (done - len(frames)) // every or done == total:
            points.append((done, rss_mb()))
    return points


def report(name: str, points: list[tuple[int, float]], scorer, seconds: float) -> None:
    stats = scorer.cache_stats() or {}
    total = points[-1][0]
    at = lambda frac: next(p[1] for p in points if p[0] >= frac * total)  # noqa: E731
    print(f"{name:<40} {total:>9,} {points[0][1]:>7.0f} {at(0.25):>8.0f} {at(0.5):>8.0f} {at(1.0):>8.0f} "
          f"{at(1.0) - at(0.25):>+9.1f} {stats.get('entries', 0):>8,} {stats.get('hit_rate', 0):>5.2f} "
          f"{total / seconds:>8.0f}")


CASES = [
    # (name, model, cache size, which frame count)
    ("stand-in encoder, cache 4096 (default)", "stand-in", 4096, "frames"),
    ("stand-in encoder, cache 65536", "stand-in", 65536, "frames"),
    ("stand-in encoder, cache never full", "stand-in", 0, "unbounded_frames"),
    ("builtin:default bf16, cache 4096", "builtin:default", 4096, "model_frames"),
]


def run_case(index: int, args) -> None:
    import torch

    from vlm_rewards import RewardScorer, load_model

    torch.set_num_threads(args.threads)
    name, spec, cache_size, count = CASES[index]
    total = getattr(args, count)
    cache_size = cache_size or 10 * total
    goals = [f"open the app number {i}" for i in range(10)]
    model = ProjectionModel() if spec == "stand-in" else load_model(spec, dtype=torch.bfloat16)
    scorer = RewardScorer(model, goal_set=goals, cache_size=cache_size, batch_size=64)
    t0 = time.perf_counter()
    points = run(scorer, total, args.batch, goals)
    report(name, points, scorer, time.perf_counter() - t0)
    print(f"  peak RSS of this process: {peak_rss_mb():.0f} MB", flush=True)


def main() -> None:
    import subprocess
    import sys

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--unbounded-frames", type=int, default=200_000)
    ap.add_argument("--model-frames", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--case", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case is not None:
        run_case(args.case, args)
        return
    print("Each stream in a fresh process; RSS in MB at the start and after 25%, 50% and 100% of it")
    print(f"{'stream':<40} {'frames':>9} {'start':>7} {'25%':>8} {'50%':>8} {'100%':>8} {'25->100%':>9} "
          f"{'entries':>8} {'hits':>5} {'frames/s':>8}", flush=True)
    for i, (_, _, _, count) in enumerate(CASES):
        if getattr(args, count) > 0:
            subprocess.run([sys.executable, __file__, "--case", str(i)] + sys.argv[1:], check=True)


if __name__ == "__main__":
    main()
