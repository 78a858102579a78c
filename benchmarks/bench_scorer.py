"""Scorer throughput: frames/s for a ViT-B/32-shaped CLIP (random weights, 224x224) and the
built-in default (64x64), as a fraction of the measured bf16 matrix-product roof.

Paths compared, all in one process and round-robin (the machine is shared; each path
keeps its best of ``--rounds`` rounds, and the roof is re-measured every round):

- per-frame fp32 (batch 1): what most peers do;
- batched fp32, batched bf16, batched bf16 + ``torch.compile`` (inductor, frozen weights);
- the frame cache on a real rollout stream (Phone and House frames of 8 lock-step envs,
  half solver / half random actions), scored in env-sized batches as a vector env would.

Rates are per wall-clock second and per CPU-second of this process (with the default one
torch thread: what one core delivers, whatever else the shared machine runs).

``--ablations`` adds what was measured and not kept: eager attention, channels-last input,
autocast instead of bf16 weights, batch-size sweep and 1 vs 2 threads.

    python benchmarks/bench_scorer.py [--frames 128] [--batch 64] [--rounds 3] [--ablations]
    python benchmarks/bench_scorer.py --threads 2 --frames 64 --rounds 2   # both cores, on a quiet machine
    python benchmarks/bench_scorer.py --arch none --model docs/results/scaling_family/models/ms  # another 64x64 model
    python benchmarks/bench_scorer.py --device cuda --arch b32,l14 --batch 256 --threads 0 --no-default  # GPU
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_best, rate, rollout_stream  # noqa: E402

GOAL_SET = ["go near the red box", "go near the blue ball", "open the clock app", "pick up the key"]
ARCHS = {
    # CLIPConfig's defaults are ViT-B/32
    "b32": {},
    "l14": {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
            "patch_size": 14},
}


def build_vit(path: Path, arch: str = "b32") -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from vlm_rewards.models.tokenizer import train_tokenizer

    tok = train_tokenizer(["go near the red box", "open the clock app"] * 4, vocab_size=300, model_max_length=77)
    config = CLIPConfig(text_config={"vocab_size": len(tok), "eos_token_id": tok.eos_token_id,
                                     "bos_token_id": tok.bos_token_id, "pad_token_id": tok.pad_token_id},
                        vision_config=ARCHS[arch], projection_dim=768 if arch == "l14" else 512)
    CLIPModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(path)
    return path


def build_vit_b32(path: Path) -> Path:  # kept for other scripts
    return build_vit(path, "b32")


def scorer_rate(scorer, frames, goals, chunk: int | None = None):
    """A variant: score all ``frames`` (in ``chunk``-sized calls, default one call); frames/s."""
    chunk = chunk or len(frames)

    def run() -> float:
        if scorer.cache is not None:
            scorer.cache.clear()  # every round starts cold: hits come from repeats in the stream only
        return rate(lambda: sum(len(scorer.score(frames[i:i + chunk], goals[i:i + chunk]).reward)
                                for i in range(0, len(frames), chunk)))

    return run


def section(title: str, model_dir, size: int, args, device: str, stream_domains: list[str]) -> None:
    from vlm_rewards import RewardScorer, load_model
    from vlm_rewards.models.accel import image_flops_per_frame, matmul_roof

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(args.frames, size, size, 3), dtype=np.uint8)
    goals = [GOAL_SET[i % 4] for i in range(args.frames)]
    naive_n = min(args.naive_frames, args.frames)
    fp32 = load_model(model_dir, device=device)
    bf16 = load_model(model_dir, device=device, dtype=torch.bfloat16)
    flops = image_flops_per_frame(bf16._image_forward, bf16.preprocess(frames[:2]))
    b = args.batch
    mk = lambda model, batch, **kw: RewardScorer(model, goal_set=GOAL_SET, batch_size=batch, cache_size=0,  # noqa: E731
                                                 **kw)
    variants = {
        "per-frame fp32 (batch 1)": scorer_rate(mk(fp32, 1), frames[:naive_n], goals[:naive_n], chunk=1),
        f"batched fp32 (batch {b})": scorer_rate(mk(fp32, b), frames, goals),
        f"batched bf16 (batch {b})": scorer_rate(mk(bf16, b), frames, goals),
    }
    if not args.no_compile:
        compiled = load_model(model_dir, device=device, dtype=torch.bfloat16)
        scorer = mk(compiled, b, compile=True)
        t0 = time.perf_counter()
        scorer.score(frames[:b], goals[:b])
        print(f"[{title}] torch.compile took {time.perf_counter() - t0:.0f}s", flush=True)
        variants[f"bf16 + compile (batch {b})"] = scorer_rate(scorer, frames, goals)
    else:
        compiled = bf16
    if args.ablations:
        variants.update(ablations(model_dir, device, frames, goals, args))
    best_model = compiled
    for domain in stream_domains:
        stream, stream_goals = rollout_stream(domain, args.stream_frames, size, n_envs=args.n_envs, seed=args.seed)
        scorer = RewardScorer(best_model, goal_set=GOAL_SET + sorted(set(stream_goals)), batch_size=b,
                              cache_size=4096)
        variants[f"{domain} stream, cache, {args.n_envs}/call"] = scorer_rate(scorer, stream, stream_goals,
                                                                           chunk=args.n_envs)
        nocache = RewardScorer(best_model, goal_set=GOAL_SET + sorted(set(stream_goals)), batch_size=b,
                               cache_size=0)
        variants[f"{domain} stream, no cache, {args.n_envs}/call"] = scorer_rate(nocache, stream, stream_goals,
                                                                              chunk=args.n_envs)
        hit_scorer = scorer
    roofs: list[tuple[float, float]] = []

    # On a GPU a ViT-sized matrix product is too small to show the roof: use a big one.
    shape = dict(m=8192, k=8192, n=8192) if torch.device(device).type == "cuda" else {}

    def measure_roof() -> None:
        roofs.append((matmul_roof(torch.bfloat16, device, repeats=2, **shape),
                      matmul_roof(torch.bfloat16, device, repeats=2, clock="cpu", **shape)))

    best = interleaved_best(variants, rounds=args.rounds, between=measure_roof)
    roof_wall, roof_cpu = max(r[0] for r in roofs), max(r[1] for r in roofs)
    naive_wall, naive_cpu = best["per-frame fp32 (batch 1)"]
    threads = torch.get_num_threads()
    on_cpu = torch.device(device).type == "cpu"  # CPU-seconds say nothing about GPU work
    roof_name = "x".join(map(str, shape.values())) or "4096x768x3072"
    print(f"\n{title}: {flops / 1e9:.2f} GFLOP/frame, device={device}, torch threads={threads}; bf16 roof "
          f"(best {roof_name} matmul) {roof_wall / 1e12:.3f} TFLOP/s wall = {roof_wall / flops:.0f} frames/s"
          + (f", {roof_cpu / 1e12:.3f} TFLOP/CPU-s = {roof_cpu / flops:.0f} frames/CPU-s" if on_cpu else ""))
    print(f"{'path':<36} {'frames/s':>9} {'vs naive':>9} {'TFLOP/s':>8} {'of roof':>8}"
          + (f" | {'frames/CPU-s':>12} {'vs naive':>9} {'TFLOP/CPU-s':>11} {'of roof':>8}" if on_cpu else ""))
    for name, (wall, cpu) in best.items():
        print(f"{name:<36} {wall:>9.1f} {wall / naive_wall:>8.1f}x {wall * flops / 1e12:>8.3f} "
              f"{wall * flops / roof_wall:>7.0%}"
              + (f" | {cpu:>12.1f} {cpu / naive_cpu:>8.1f}x {cpu * flops / 1e12:>11.3f} {cpu * flops / roof_cpu:>7.0%}"
                 if on_cpu else ""))
    if stream_domains:
        print(f"(stream rows: effective frames/s including cache hits; last stream's hit rate "
              f"{hit_scorer.cache_stats()['hit_rate']:.2f})")


def ablations(model_dir, device, frames, goals, args) -> dict:
    """Variants measured to decide the defaults (see docs/performance.md)."""
    from vlm_rewards import RewardScorer, load_model

    out = {}
    b = args.batch
    eager = load_model(model_dir, device=device, dtype=torch.bfloat16)
    out["bf16, eager attention"] = scorer_rate(
        RewardScorer(eager, goal_set=GOAL_SET, batch_size=b, cache_size=0, attention="eager"),
        frames, goals)
    cl = load_model(model_dir, device=device, dtype=torch.bfloat16)
    conv = cl.model.vision_model.embeddings.patch_embedding
    conv.to(memory_format=torch.channels_last)
    out["bf16, channels-last patch conv"] = scorer_rate(
        RewardScorer(cl, goal_set=GOAL_SET, batch_size=b, cache_size=0), frames, goals)
    auto = load_model(model_dir, device=device)
    auto_scorer = RewardScorer(auto, goal_set=GOAL_SET, batch_size=b, cache_size=0)
    dev_type = torch.device(device).type

    def autocast_run() -> float:
        with torch.autocast(dev_type, dtype=torch.bfloat16):
            return scorer_rate(auto_scorer, frames, goals)()

    out["fp32 weights + bf16 autocast"] = autocast_run
    bf16 = load_model(model_dir, device=device, dtype=torch.bfloat16)
    for batch in (16, 32, 128):
        if batch != b:
            out[f"bf16, batch {batch}"] = scorer_rate(
                RewardScorer(bf16, goal_set=GOAL_SET, batch_size=batch, cache_size=0),
                frames, goals)
    if dev_type == "cpu" and torch.get_num_threads() == 1:
        # per-call switch to 2 threads; compare the wall-clock column (the CPU column also
        # counts the second OpenMP thread's spinning)
        out["bf16, 2 threads (wall only)"] = scorer_rate(
            RewardScorer(bf16, goal_set=GOAL_SET, batch_size=b, cache_size=0, threads=2), frames, goals)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=128)
    ap.add_argument("--naive-frames", type=int, default=16)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch.set_num_threads for the run (default 1: per-CPU-second rates then measure one "
                         "core whatever else runs; 0 = torch's default)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--arch", default="b32", help="comma-separated: b32 (ViT-B/32), l14 (ViT-L/14), none")
    ap.add_argument("--default-frames", type=int, default=1024, help="frames for the builtin:default section")
    ap.add_argument("--stream-frames", type=int, default=512)
    ap.add_argument("--n-envs", type=int, default=8)
    ap.add_argument("--stream-domains", default="phone,house",
                    help="comma-separated domains of the rollout-stream rows (house needs MiniWorld), or none")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--no-default", action="store_true", help="skip the built-in model section")
    ap.add_argument("--model", default="builtin:default",
                    help="the 64x64 model of the built-in section (a builtin: name or a model directory)")
    ap.add_argument("--ablations", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    streams = [d for d in args.stream_domains.split(",") if d and d != "none"]
    with tempfile.TemporaryDirectory() as tmp:
        for arch in [a for a in args.arch.split(",") if a and a != "none"]:
            path = build_vit(Path(tmp) / arch, arch)
            name = {"b32": "ViT-B/32", "l14": "ViT-L/14"}[arch]
            section(f"{name}-shaped CLIP, 224x224", path, 224, args, args.device,
                    streams if arch == "b32" else [])
    if not args.no_default:
        from vlm_rewards.models.loading import resolve_spec

        path, _ = resolve_spec(args.model)
        args.frames = args.default_frames
        args.naive_frames = max(args.naive_frames, 64)
        section(f"{args.model}, 64x64", path, 64, args, args.device, streams)


if __name__ == "__main__":
    main()
