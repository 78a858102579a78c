"""RayRewardPool against in-process scoring: frames/s, per-request overhead, serialisation.

Measures on this machine, with the shipped ``builtin:default`` model (64x64 frames):

1. frames/s of the in-process :class:`RewardScorer` and of the pool (1 and 2 actors,
   1 CPU each), for one large batch and for a stream of small requests (8 frames, as
   env workers send them) that the actors coalesce into batches;
2. the per-request overhead of the pool: round trip of an empty actor call (``ping``)
   and of a 1-frame ``score`` minus the in-process 1-frame time;
3. the serialisation cost per frame: ``ray.put`` + ``ray.get`` of a uint8 batch in
   this process, and one-way transfer of a batch to an actor (minus an empty call);
4. the projected throughput of K GPU actors from those numbers and an assumed per-actor
   GPU rate (stated; override with ``--gpu-rate``).

    python benchmarks/bench_ray.py [--frames 1024] [--request-frames 8] [--gpu-rate 900]

On a 2-core machine the pool cannot beat in-process scoring on the same cores by much
(the actors share them and add Ray's overhead); the point is to measure that overhead.
Timings are best-of-``--repeats`` (throughput) and medians (latency), so a busy machine
inflates them less.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import time

import numpy as np


def median_seconds(fn, calls: int) -> float:
    fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class _Sink:
    """Receives a batch and returns its size: the one-way transfer cost of a request."""

    def take(self, frames) -> int:
        return int(frames.shape[0])

    def ping(self) -> int:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="builtin:default")
    ap.add_argument("--frames", type=int, default=1024)
    ap.add_argument("--size", type=int, default=64, help="frame height and width")
    ap.add_argument("--request-frames", type=int, default=8, help="frames per request in the streaming test")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--calls", type=int, default=200, help="calls per latency measurement")
    ap.add_argument("--cpus", type=int, default=2, help="threads of the multi-threaded in-process row")
    ap.add_argument("--gpu-rate", type=float, default=900.0,
                    help="assumed frames/s of one GPU actor (default: ViT-H/14 at 224px, bf16, one A100: "
                         "~167 GFLOP/frame at ~150 TFLOP/s sustained)")
    ap.add_argument("--gpu-frame-size", type=int, default=224, help="frame side sent to GPU actors in the projection")
    args = ap.parse_args()

    import ray
    import torch

    from vlm_rewards import RewardScorer, load_model
    from vlm_rewards.distributed import RayRewardPool, start_ray
    from vlm_rewards.envs import goals as domain_goals

    goal_set = domain_goals("phone", "all")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(args.frames, args.size, args.size, 3), dtype=np.uint8)
    goals = [goal_set[i % len(goal_set)] for i in range(args.frames)]
    b = args.request_frames
    requests = [(frames[i : i + b], goals[i : i + b]) for i in range(0, args.frames, b)]

    # The frame cache would turn repeats into lookups; every path here encodes every frame.
    scorer_kwargs = {"goal_set": goal_set}
    if "cache_size" in inspect.signature(RewardScorer).parameters:
        scorer_kwargs["cache_size"] = 0
    local = RewardScorer(load_model(args.model), **scorer_kwargs)

    def in_process(threads: int, fn):
        def run():
            torch.set_num_threads(threads)
            fn()
        return run

    # Each pool actor runs torch with 1 thread (num_cpus=1); in-process is shown with 1
    # thread (the same work per core) and with one thread per core.
    variants = {}
    for threads in sorted({1, args.cpus}):
        variants[f"in-process, 1 batch of {args.frames}, {threads} thread(s)"] = in_process(
            threads, lambda: local.score(frames, goals))
        variants[f"in-process, {b}-frame calls, {threads} thread(s)"] = in_process(
            threads, lambda: [local.score(f, g) for f, g in requests])
    torch.set_num_threads(1)

    # Logical CPUs for both pools at once (3 actors), so that all variants can be measured
    # in interleaved rounds: on a shared machine the load changes between minutes.
    with start_ray(num_cpus=max(args.cpus, 3)) as rt:
        sink = ray.remote(_Sink).options(num_cpus=0).remote()
        ray.get(sink.ping.remote())
        t_ping_sink = median_seconds(lambda: ray.get(sink.ping.remote()), args.calls)
        serial = {}
        for n in (1, 8, 64, 256):
            batch = frames[:n]
            put_get = median_seconds(lambda: ray.get(ray.put(batch)), max(20, args.calls // 4))
            transfer = median_seconds(lambda: ray.get(sink.take.remote(batch)), max(20, args.calls // 4)) - t_ping_sink
            serial[n] = (put_get / n, max(transfer, 0.0) / n)

        pools = {a: RayRewardPool(args.model, num_actors=a, num_cpus=1, split_frames=64, **scorer_kwargs) for a in (1, 2)}
        for a, pool in pools.items():
            variants[f"pool, {a} actor(s), 1 batch of {args.frames}"] = lambda pool=pool: pool.score(frames, goals)
            variants[f"pool, {a} actor(s), {len(requests)} x {b}-frame requests"] = lambda pool=pool: pool.score_many(requests)
        best = {name: 0.0 for name in variants}
        for name, fn in variants.items():  # warm-up
            fn()
        for _ in range(args.repeats):
            for name, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                best[name] = max(best[name], args.frames / (time.perf_counter() - t0))
        torch.set_num_threads(1)
        rows = list(best.items())
        overhead = {}
        for a, pool in pools.items():
            stats = pool.stats()
            overhead[f"coalesced{a}"] = sum(s["requests"] for s in stats) / max(1, sum(s["batches"] for s in stats))
        actor = pools[1].actors[0]
        overhead["ping"] = median_seconds(lambda: ray.get(actor.ping.remote()), args.calls)
        # 1-frame calls in-process and through the pool, alternated call by call so that
        # both medians see the same machine load.
        one_local, one_pool = [], []
        for _ in range(args.calls):
            for fn, times in ((lambda: local.score(frames[:1], goals[:1]), one_local),
                              (lambda: pools[1].score(frames[:1], goals[:1]), one_pool)):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        t_local_1, overhead["score1"] = statistics.median(one_local), statistics.median(one_pool)
        for pool in pools.values():
            pool.close()
        temp_dir = rt.temp_dir

    print(f"\nRay pool vs in-process, model={args.model}, {args.size}x{args.size} frames, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; best of {args.repeats} interleaved rounds "
          f"(Ray temp dir {temp_dir}, removed)")
    print(f"{'path':<52} {'frames/s':>9} {'vs in-proc':>10}")
    base = rows[0][1]
    for name, fps in rows:
        print(f"{name:<52} {fps:>9.0f} {fps / base:>9.2f}x")
    print(f"(requests per model batch over all pool runs: 1 actor {overhead['coalesced1']:.1f}, "
          f"2 actors {overhead['coalesced2']:.1f})")

    # The pool's extra time for a request: never less than an empty call's round trip.
    o_req = max(overhead["score1"] - t_local_1, overhead["ping"])
    print("\nper-request overhead")
    print(f"  empty actor call (ping) round trip        {overhead['ping'] * 1e3:8.3f} ms")
    print(f"  1-frame pool.score                         {overhead['score1'] * 1e3:8.3f} ms")
    print(f"  1-frame in-process score (1 thread)        {t_local_1 * 1e3:8.3f} ms")
    print(f"  => pool overhead per request (o_req)       {o_req * 1e3:8.3f} ms  (max of the difference and ping)")

    print(f"\nserialisation per {args.size}x{args.size}x3 uint8 frame")
    print(f"  {'batch':>6} {'put+get (us)':>13} {'to actor (us)':>14}")
    for n, (pg, tr) in serial.items():
        print(f"  {n:>6} {pg * 1e6:>13.1f} {tr * 1e6:>14.1f}")
    frame_bytes = args.size * args.size * 3
    s_frame = serial[256][1]
    per_byte = s_frame / frame_bytes
    gpu_bytes = args.gpu_frame_size ** 2 * 3
    s_gpu = per_byte * gpu_bytes

    print(f"\nprojection for K GPU actors ({args.gpu_frame_size}x{args.gpu_frame_size} frames, "
          f"assumed R_gpu = {args.gpu_rate:.0f} frames/s per actor)")
    print("  one actor, batch B:  T(B) = o_req + B * s + B / R_gpu;  throughput(K) = K * B / T(B)")
    print(f"  o_req = {o_req * 1e3:.2f} ms (measured), s = {s_gpu * 1e6:.1f} us/frame "
          f"(measured {per_byte * 1e9:.2f} ns/byte x {gpu_bytes} bytes)")
    print("  (serial: no overlap of transfer and compute. The actors' event loop receives the next")
    print("   requests while the model runs, so the real figure lies between this and K * R_gpu;")
    print("   clients must also send K * rate frames/s: each sender process pushes about 1/s frames/s)")
    print(f"  {'K':>3} {'B':>5} {'frames/s':>10} {'of K*R_gpu':>11}")
    for k in (1, 2, 4, 8, 16):
        for batch in (64, 256):
            t = o_req + batch * s_gpu + batch / args.gpu_rate
            rate = k * batch / t
            print(f"  {k:>3} {batch:>5} {rate:>10.0f} {rate / (k * args.gpu_rate):>10.0%}")
    print(f"  one sender process: {1 / s_gpu:.0f} frames/s at {args.gpu_frame_size}px "
          f"=> about {args.gpu_rate * 16 * s_gpu:.1f} sender processes (env workers) to feed 16 actors")


if __name__ == "__main__":
    main()
