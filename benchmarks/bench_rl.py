"""RL throughput: PPO env steps/s with the ground-truth reward vs the VLM reward.

Same PPO (SB3, MultiInputPolicy: NatureCNN on the 64x64 image + MLP on the goal
embedding, same n_steps / batch / epochs / seed), same envs and goal conditioning; the
only difference is the reward:

- ground truth: the env's own reward and termination, no VLM frame rendered;
- VLM: a 64x64 frame each step (phone: ``render()``; house: the observation, which is the
  same image), ``VecVLMReward`` with the built-in default (bf16 where the CPU has bf16
  units, frame cache on), episodes ending when it fires (the paper's setting). Episode
  lengths then differ from the ground-truth run (the VLM fires on its own frames, and
  every end costs a reset): they are reported beside the rates.

Both are timed round-robin in one process (best of ``--rounds``), and the VLM run's time
inside the scorer is reported. This builds its own minimal SB3 set-up (as in
tests/test_integration.py) so it does not depend on ``vlm_rewards.agents``.

    python benchmarks/bench_rl.py [--domains phone,house] [--steps 4096] [--n-envs 8] [--rounds 2]
    python benchmarks/bench_rl.py --score-every 4 --async-steps 2048   # also score_every, async_scoring
"""

from __future__ import annotations

import argparse
import time

import numpy as np

DOMAIN_IDS = {"phone": "vlm_rewards/Phone-v0", "house": "vlm_rewards/House-v0"}


class _Timed:
    """Accumulates the CPU time spent in the scorer's encode and score calls."""

    def __init__(self, scorer):
        self.seconds = 0.0
        for name in ("encode_frames", "score_embeddings"):
            real = getattr(scorer, name)
            setattr(scorer, name, self._wrap(real))

    def _wrap(self, fn):
        def run(*a, **kw):
            t0 = time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                self.seconds += time.process_time() - t0

        return run


#: Where the VLM frame comes from. House's 64x64 observation is the very image render()
#: would draw (same camera, same size), so the VLM scores the observation instead of
#: rendering twice; the phone's observation differs from its frame, so it renders.
FRAME_SOURCE = {"phone": "render", "house": "image"}


def make_venv(domain: str, table: dict, n_envs: int, scorer=None, seed: int = 0, score_every=1):
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    import vlm_rewards.envs  # noqa: F401
    from vlm_rewards.wrappers import GoalEmbeddingObservation, RenderFrameInfo, VecVLMReward

    vlm = scorer is not None
    render = vlm and FRAME_SOURCE[domain] == "render"

    def make():
        env = gym.make(DOMAIN_IDS[domain], obs_size=64, render_size=64, render_mode="rgb_array" if render else None,
                       terminate_on_success=not vlm)
        env = GoalEmbeddingObservation(env, table)
        return RenderFrameInfo(env) if render else env

    venv = DummyVecEnv([make] * n_envs)
    venv.seed(seed)
    if vlm:
        venv = VecVLMReward(venv, scorer, score_every=score_every, frame_source=FRAME_SOURCE[domain])
    return VecMonitor(venv)


def ppo_steps_per_second(venv, steps: int, args) -> tuple[float, float, float, float]:
    """(env steps per wall second, per CPU-second, CPU seconds, mean episode length) of one ``learn``."""
    from stable_baselines3 import PPO

    model = PPO("MultiInputPolicy", venv, n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.epochs,
                seed=args.seed, device="cpu", verbose=0)
    w0, c0 = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps)
    cpu = time.process_time() - c0
    lengths = [ep["l"] for ep in model.ep_info_buffer]
    return (model.num_timesteps / (time.perf_counter() - w0), model.num_timesteps / cpu, cpu,
            float(np.mean(lengths)) if lengths else float("nan"))


def async_check(domain: str, scorer, table: dict, args) -> dict[str, float]:
    """Random-action env steps/s (wall) through ``VecVLMReward`` on a ``SubprocVecEnv``,
    scoring synchronously vs ``async_scoring=True`` (rounds interleaved, best of each)."""
    import gymnasium as gym
    from stable_baselines3.common.vec_env import SubprocVecEnv

    import vlm_rewards.envs  # noqa: F401
    from vlm_rewards.wrappers import GoalEmbeddingObservation, RenderFrameInfo, VecVLMReward

    def make():
        import vlm_rewards.envs  # noqa: F401  (registers the ids in the worker)

        render = FRAME_SOURCE[domain] == "render"
        env = gym.make(DOMAIN_IDS[domain], obs_size=64, render_size=64, render_mode="rgb_array" if render else None,
                       terminate_on_success=False)
        env = GoalEmbeddingObservation(env, table)
        return RenderFrameInfo(env) if render else env

    best = {"sync": 0.0, "async": 0.0}
    for _ in range(args.rounds):
        for name in best:
            venv = VecVLMReward(SubprocVecEnv([make] * args.n_envs, start_method="spawn"), scorer,
                                async_scoring=name == "async", frame_source=FRAME_SOURCE[domain])
            venv.seed(args.seed)
            venv.reset()
            if scorer.cache is not None:
                scorer.cache.clear()
            n = args.async_steps // args.n_envs
            actions = [np.array([venv.action_space.sample() for _ in range(args.n_envs)]) for _ in range(n)]
            t0 = time.perf_counter()
            for a in actions:
                venv.step(a)
            best[name] = max(best[name], n * args.n_envs / (time.perf_counter() - t0))
            venv.close()
    return best


def main() -> None:
    import torch

    from vlm_rewards import RewardScorer, load_model
    from vlm_rewards.envs import goals
    from vlm_rewards.wrappers import goal_embedding_table

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", default="phone,house")
    ap.add_argument("--steps", type=int, default=4096, help="env steps per PPO run")
    ap.add_argument("--n-envs", type=int, default=8)
    ap.add_argument("--n-steps", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model", default="builtin:default")
    ap.add_argument("--dtype", default="auto", help="scorer precision: auto, bf16 or fp32")
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the image tower (compiled and warmed up before any timing)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch.set_num_threads for the whole run, PPO and scorer alike (default 1: CPU-second "
                         "rates then measure one core whatever else the machine runs; 0 = torch's default)")
    ap.add_argument("--score-every", default="1", help="also time this score_every (e.g. 4 or episode)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--async-steps", type=int, default=0,
                    help="also time this many random-action steps on a SubprocVecEnv, sync vs async scoring")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    score_every = args.score_every if args.score_every == "episode" else int(args.score_every)

    rows, asyncs = [], []
    for domain in args.domains.split(","):
        goal_set = goals(domain, "all")
        scorer = RewardScorer(load_model(args.model), goal_set=goal_set, dtype=args.dtype, compile=args.compile)
        if args.compile:  # compile for every batch size a step can produce, outside the timings
            size = scorer.model.image_size
            for n in range(1, args.n_envs + 1):
                scorer.encode_frames(np.random.default_rng(n).integers(0, 256, (n, *size, 3), dtype=np.uint8))
        table = goal_embedding_table(scorer, goal_set)
        timer = _Timed(scorer)
        best = {"gt": (0.0, 0.0), "vlm": (0.0, 0.0)}
        share = hit = 0.0
        lengths: dict[str, float] = {}
        variants = {"gt": None, "vlm": 1}
        if score_every != 1:
            best[f"vlm_k{score_every}"] = (0.0, 0.0)
            variants[f"vlm_k{score_every}"] = score_every
        for _ in range(args.rounds):
            for name, k in variants.items():
                timer.seconds = 0.0
                if scorer.cache is not None:
                    scorer.cache.clear()
                venv = make_venv(domain, table, args.n_envs, scorer if k is not None else None, args.seed, k or 1)
                wall_sps, cpu_sps, cpu, ep_len = ppo_steps_per_second(venv, args.steps, args)
                venv.close()
                if cpu_sps > best[name][1]:
                    lengths[name] = ep_len
                    if name == "vlm":
                        share, hit = timer.seconds / cpu, scorer.cache_stats()["hit_rate"]
                best[name] = (max(best[name][0], wall_sps), max(best[name][1], cpu_sps))
        rows.append((domain, best, share, hit, lengths))
        if args.async_steps:
            asyncs.append((domain, async_check(domain, scorer, table, args)))
    print(f"\nPPO env steps/s, {args.n_envs} envs, n_steps={args.n_steps}, batch={args.batch_size}, "
          f"epochs={args.epochs}, {args.steps} steps per run, best of {args.rounds}; "
          f"VLM: {args.model} dtype={args.dtype}{' compiled' if args.compile else ''}; "
          f"torch threads={torch.get_num_threads()}")
    extra = [k for k in rows[0][1] if k.startswith("vlm_k")]
    for col, label in ((1, "per CPU-second"), (0, "per wall-clock second")):
        print(f"\nenv steps {label}")
        head = f"{'domain':<8} {'ground truth':>13} {'VLM reward':>11} {'VLM / GT':>9}"
        head += "".join(f" {'score_every=' + k[5:]:>15} {'/ GT':>6}" for k in extra)
        print(head + (f" {'scorer CPU':>11} {'hit rate':>9} {'episode length GT / VLM':>24}" if col == 1 else ""))
        for domain, best, share, hit, lengths in rows:
            line = f"{domain:<8} {best['gt'][col]:>13.0f} {best['vlm'][col]:>11.0f} {best['vlm'][col] / best['gt'][col]:>8.0%}"
            line += "".join(f" {best[k][col]:>15.0f} {best[k][col] / best['gt'][col]:>5.0%}" for k in extra)
            ep = f"{lengths.get('gt', float('nan')):.0f} / {lengths.get('vlm', float('nan')):.0f}"
            print(line + (f" {share:>10.0%} {hit:>9.2f} {ep:>24}" if col == 1 else ""))
    if asyncs:
        print(f"\nrandom-action env steps per wall-clock second, SubprocVecEnv x{args.n_envs} (spawn), "
              f"{args.async_steps} steps, best of {args.rounds}")
        print(f"{'domain':<8} {'sync scoring':>13} {'async_scoring':>14} {'ratio':>6}")
        for domain, best in asyncs:
            print(f"{domain:<8} {best['sync']:>13.0f} {best['async']:>14.0f} {best['async'] / best['sync']:>5.2f}x")


if __name__ == "__main__":
    main()
