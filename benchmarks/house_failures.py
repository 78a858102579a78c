"""Why does a trained House agent fail? Episode-level diagnostics on fresh episodes.

For each episode of a run's agent (or a shipped agent) on one-room House find, ground truth
ending the episode, it records whether the goal's object was ever in view
(``HouseEnv.in_view``), for how many steps, how close the agent came, and how many steps left
the agent's pose unchanged ("stuck": walking into an object or a wall, which a policy that
sees one frame cannot notice). Failures are then split into *stuck* (at least 5 stuck steps),
and, of the others, *never saw the goal* and *saw it* (then passed it by: perception or choice).

With the search map's explore action (``env.explore_action``) it also counts the explore steps
and the floor looked at, and can change the agent: ``--explore-bias B`` adds B to the explore
action's logit; ``--explore-unless-in-view`` takes the explore action whenever the goal is not
in view within the search map's sight (privileged: an upper bound on what learning *when* to explore can give).

Usage::

    python benchmarks/house_failures.py RUN_DIR [--episodes 100] [--split train] [--seed 60000]
        [--explore-bias B | --explore-unless-in-view]

Prints one summary row and, with ``--list``, one row per failed episode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

STUCK_STEPS = 5  # stuck steps that make a failure a "stuck" one


def _sight(env) -> float:
    """Metres within which a goal in view counts as seen: the run's search map's sight, or the
    map's default when the run has none."""
    from vlm_rewards.envs.house.memory import SearchMap

    while env is not None:
        if isinstance(getattr(env, "memory", None), SearchMap):
            return env.memory.sight
        env = getattr(env, "env", None)
    return SearchMap().sight


def run_episodes(run_dir: Path, episodes: int, split: str, seed: int, explore_bias: float = 0.0,
                 explore_unless_in_view: bool = False) -> list[dict]:
    import torch

    from vlm_rewards.agents.algos import load_agent
    from vlm_rewards.agents.config import load_config
    from vlm_rewards.agents.envs import goal_table, make_env, make_scorer, patch_source, region_source

    torch.set_num_threads(1)
    config = load_config(run_dir / "config.yaml")
    if config.env.domain != "house":
        raise SystemExit(f"{run_dir} is a {config.env.domain} run; this diagnosis is for House")
    scorer = make_scorer(config.reward, config.env)
    env = make_env(config.env, goal_table(scorer, config.env), split=split, terminate_on_success=True, render=True,
                   frame_info=False, regions=region_source(config, scorer), patches=patch_source(config, scorer))
    model = load_agent(run_dir / "model.zip", config)
    explore_id = env.action_space.n - 1 if config.env.explore_action else None
    if (explore_bias or explore_unless_in_view) and explore_id is None:
        raise SystemExit(f"--explore-bias / --explore-unless-in-view need a run with env.explore_action; {run_dir} has none")
    if explore_bias:
        with torch.no_grad():
            model.policy.action_net.bias[explore_id] += explore_bias
    sight = _sight(env)
    records = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        house = env.unwrapped
        target = house.objects[house.goal.target]
        rec = {"seed": seed + i, "goal": house.goal.text, "in_view": 0, "stuck": 0, "min_dist": np.inf, "success": False,
               "first_wrong": None, "explore": 0, "steps": 0, "saw": False, "seen_floor": 0.0, "sight": sight}
        done = False
        while not done:
            in_view = bool(house.in_view(target))
            dist = float(np.linalg.norm((target.pos - house.agent.pos)[[0, 2]]))
            rec["in_view"] += int(in_view)
            rec["min_dist"] = min(rec["min_dist"], dist)
            pose = (house.agent.pos.copy(), float(house.agent.dir))
            sees = in_view and dist <= sight
            rec["saw"] = rec["saw"] or bool(sees)
            action, _ = model.predict(obs, deterministic=config.eval.deterministic)
            if explore_unless_in_view and not sees:
                action = np.int64(explore_id)
            rec["explore"] += int(explore_id is not None and int(action) == explore_id)
            rec["steps"] += 1
            obs, _, terminated, truncated, info = env.step(action)
            rec["seen_floor"] = float(info.get("seen_fraction", np.nan))
            rec["stuck"] += int(np.allclose(pose[0], house.agent.pos) and pose[1] == float(house.agent.dir))
            rec["success"] = rec["success"] or bool(info.get("ground_truth_success", False))
            if rec["first_wrong"] is None and not rec["success"]:
                rec["first_wrong"] = next((name for name, ent in house.objects.items() if name != house.goal.target
                                           and house.is_near(ent) and house.in_view(ent)), None)
            done = terminated or truncated
        records.append(rec)
    env.close()
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run directory of 'vlm-rewards train' (or a shipped agent)")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--split", choices=["train", "heldout", "all"], default="train")
    parser.add_argument("--seed", type=int, default=60_000, help="episode i starts from env seed SEED + i")
    parser.add_argument("--list", action="store_true", help="one row per failed episode")
    parser.add_argument("--explore-bias", type=float, default=0.0, help="add this to the explore action's logit")
    parser.add_argument("--explore-unless-in-view", action="store_true",
                        help="explore whenever the goal is not in view within the search map's sight (privileged upper bound)")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error("--episodes must be positive")
    if args.explore_bias and args.explore_unless_in_view:
        parser.error("--explore-bias and --explore-unless-in-view exclude each other")
    if not (args.run_dir / "model.zip").is_file():
        parser.error(f"run_dir: {args.run_dir / 'model.zip'} does not exist")
    recs = run_episodes(args.run_dir, args.episodes, args.split, args.seed, args.explore_bias, args.explore_unless_in_view)
    fails = [r for r in recs if not r["success"]]
    stuck = sum(r["stuck"] >= STUCK_STEPS for r in fails)
    never = sum(r["stuck"] < STUCK_STEPS and r["in_view"] == 0 for r in fails)
    print(f"{args.run_dir}: {args.episodes} {args.split} episodes from seed {args.seed} (ground truth ends them)\n")
    print("| success | failures | stuck ≥ 5 steps | not stuck, never saw the goal | not stuck, saw it | stuck steps per episode |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {100 * (1 - len(fails) / len(recs)):.0f}% | {len(fails)} | {stuck} | {never} | {len(fails) - never - stuck} "
          f"| {np.mean([r['stuck'] for r in recs]):.1f} |")
    if any(r["explore"] for r in recs) or not np.isnan(recs[0]["seen_floor"]):
        print(f"\nExplore steps: {sum(r['explore'] for r in recs) / sum(r['steps'] for r in recs):.0%} of all steps. "
              f"Failures that never had the goal in view within {recs[0]['sight']:g} m: {sum(not r['saw'] for r in fails)} of "
              f"{len(fails)}; floor looked at by their end: {np.mean([r['seen_floor'] for r in fails] or [np.nan]):.0%}.")
    # Before reaching the goal, the first other object the agent stood near: does it share the
    # goal's colour or its kind ("grey key" for "grey ball")? Goal confusion shows as "shares".
    wrong = [(r["first_wrong"], r["goal"].removeprefix("go near the ")) for r in recs if r["first_wrong"]]
    colour = sum(len(w.split()) == 2 and len(t.split()) == 2 and w.split()[0] == t.split()[0] for w, t in wrong)
    kind = sum(w.split()[-1] == t.split()[-1] for w, t in wrong)
    print(f"\nWent near another object before the goal in {len(wrong)} of {len(recs)} episodes: "
          f"{colour} shared the goal's colour, {kind} its kind.")
    if args.list:
        print("\n| seed | goal | steps in view | stuck steps | closest (m) | first other object near |\n|---:|---|---:|---:|---:|---|")
        for r in fails:
            print(f"| {r['seed']} | {r['goal']} | {r['in_view']} | {r['stuck']} | {r['min_dist']:.2f} | {r['first_wrong'] or ''} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
