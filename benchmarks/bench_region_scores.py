"""Can a policy tell from the VLM's region scores whether the goal's icon is on this screen?

A Phone agent with ``agent.region_features`` sees, for every tap cell of the home screen, the
VLM's score of the cell's crop against the goal's region prompt ("the clock app icon"). When
the goal's icon is on another page, the right action is a swipe, not the best-looking cell.
This benchmark measures, on the home-screen pages of random Phone common layouts (every page
of each layout, the goal drawn from all 10 apps), how well each form of the score says:

- ``shown AUC``: ROC-AUC of "the goal's icon is on this page" by the page's largest score:
  the standardised cosine (what ``region_score: cosine`` adds to the pointer head's box
  logits: the cell's cosine minus the page's mean, over the page's spread), the raw cosine,
  and ``log p(goal | cell)`` (``region_score: log_prob``: a softmax at the reward's τ over
  the region prompts of the 60 apps of ``reward.negatives_from: phone:diverse``);
- ``hit``: on pages that show the icon, the share where the best cell is the icon's;
- ``max log p``: the mean largest log-probability on pages with and without the icon.

``--domain house``: the same question for House's one region, the whole view, on one-room find
episodes (``configs/house_find_room.yaml``'s level; the scripted solver or a random action at
each step, so views near, far from and away from the goal's object all occur): ROC-AUC of "the
goal's object is in view" (``HouseEnv.in_view``) by the view's cosine with "a red ball in a
room" and by its log p against the 24 find goals' prompts.

Usage::

    python benchmarks/bench_region_scores.py                  # 300 layouts, builtin:default
    python benchmarks/bench_region_scores.py --layouts 100 --model builtin:v2
    python benchmarks/bench_region_scores.py --domain house --layouts 100

Prints one row per goal split (training goals, held-out goals).
"""

from __future__ import annotations

import argparse

import numpy as np


def _prompts(scorer, domain: str, goal_list: list[str], negatives: list[str]):
    """Cosine and log-probability :class:`RegionPrompts` with the prompts training uses
    (``agents.envs.region_source``)."""
    from vlm_rewards.envs.registry import get_domain
    from vlm_rewards.evaluation.prompts import render_template
    from vlm_rewards.wrappers.region import RegionPrompts

    def embed(gs: list[str]) -> dict[str, np.ndarray]:
        texts = [render_template(get_domain(domain).region_prompt, domain, g) for g in gs]
        return dict(zip(gs, scorer.text_embeddings(texts).float().numpy()))

    return (RegionPrompts(embed(goal_list)),
            RegionPrompts(embed(goal_list), temperature=scorer.temperature, negatives=embed(negatives) if negatives else None))


def _unit(emb) -> np.ndarray:
    emb = emb.float().numpy()
    return (emb / np.linalg.norm(emb, axis=1, keepdims=True))[None]


def phone_rows(model, layouts: int) -> tuple[dict[bool, list], float]:
    from vlm_rewards import RewardScorer
    from vlm_rewards.envs import negative_pool
    from vlm_rewards.envs.phone.env import PhoneEnv, goal_text, goals

    goal_list = goals("all", "common")
    held = set(goals("heldout", "common"))
    pool = negative_pool(goal_list, "phone:diverse")
    scorer = RewardScorer(model, goal_set=pool)
    cosine, log_prob = _prompts(scorer, "phone", goal_list, pool[len(goal_list):])
    side = int(model.image_size[0])
    rows: dict[bool, list] = {False: [], True: []}
    env = PhoneEnv(apps="common", goal_split="all")
    for seed in range(layouts):
        env.reset(seed=seed)
        goal = goal_text(env.target)
        for page in range(len(env.layout.pages)):
            env.page = page  # look at every page of the layout without swiping
            cells = env.cell_apps()
            emb = _unit(scorer.encode_frames(env.region_crops(side)))
            cos, lp = cosine.score(emb, [goal])[0], log_prob.score(emb, [goal])[0]
            shown = env.target in cells
            where = cells.index(env.target) if shown else -1
            rows[goal in held].append((shown, ((cos - cos.mean()) / (cos.std() + 1e-3)).max(), cos.max(), lp.max(),
                                       int(np.argmax(cos)) == where, int(np.argmax(lp)) == where))
    return rows, scorer.temperature


def house_rows(model, episodes: int, steps: int = 30) -> tuple[dict[bool, list], float]:
    from vlm_rewards import RewardScorer
    from vlm_rewards.envs.house.env import HouseEnv
    from vlm_rewards.envs.house.solver import make_solver
    from vlm_rewards.envs.house.vocabulary import goals

    goal_list = goals("all", family="find")
    held = set(goals("heldout", family="find"))
    scorer = RewardScorer(model, goal_set=goal_list)
    cosine, log_prob = _prompts(scorer, "house", goal_list, [])
    side = int(model.image_size[0])
    rng = np.random.default_rng(0)
    env = HouseEnv(family="find", num_rooms=[1, 1], num_objects=[3, 5], room_size=[5.0, 6.5], actions="walk",
                   goal_split="all", obs_size=64, render_size=side, max_episode_steps=steps)
    rows: dict[bool, list] = {False: [], True: []}
    for seed in range(episodes):
        env.reset(seed=seed)
        solver = make_solver(env)
        goal, target = env.goal.text, env.objects[env.goal.target]
        obs = None
        for _ in range(steps):
            emb = _unit(scorer.encode_frames(env.region_crops(side)))
            shown = env.in_view(target)
            cos, lp = cosine.score(emb, [goal])[0, 0], log_prob.score(emb, [goal])[0, 0]
            rows[goal in held].append((shown, cos, cos, lp, False, False))
            action = solver(obs) if rng.random() < 0.5 else int(rng.integers(env.action_space.n))
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
    env.close()
    return rows, scorer.temperature


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="builtin:default")
    parser.add_argument("--domain", choices=("phone", "house"), default="phone")
    parser.add_argument("--layouts", type=int, default=300, help="random home screens, or House episodes (seeds 0..N-1)")
    args = parser.parse_args()
    if args.layouts < 1:
        parser.error(f"--layouts must be >= 1, got {args.layouts}")

    import torch
    from sklearn.metrics import roc_auc_score

    from vlm_rewards.models import load_model

    torch.set_num_threads(1)
    model = load_model(args.model)
    rows, tau = (phone_rows if args.domain == "phone" else house_rows)(model, args.layouts)

    what = "pages" if args.domain == "phone" else "views"
    print(f"model {args.model}, {args.domain}, {args.layouts} {'layouts' if args.domain == 'phone' else 'episodes'}, τ = {tau:.4f}")
    print(f"| goals | {what} | shown | shown AUC: standardised cosine | raw cosine | log p | "
          "hit: cosine | log p | max log p: shown | not shown |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for is_held, name in ((False, "training goals"), (True, "held-out goals")):
        r = rows[is_held]
        if not r:
            continue
        shown = np.array([x[0] for x in r])
        col = lambda k: np.array([x[k] for x in r], dtype=float)  # noqa: E731
        aucs = [roc_auc_score(shown, col(k)) if 0 < shown.mean() < 1 else float("nan") for k in (1, 2, 3)]
        if args.domain == "house":  # one region: nothing to standardise over, no cell to hit
            print(f"| {name} | {len(r)} | {shown.mean():.2f} | – | {aucs[1]:.3f} | {aucs[2]:.3f} | – | – | "
                  f"{col(3)[shown].mean():.2f} | {col(3)[~shown].mean():.2f} |")
            continue
        print(f"| {name} | {len(r)} | {shown.mean():.2f} | {aucs[0]:.3f} | {aucs[1]:.3f} | {aucs[2]:.3f} | "
              f"{col(4)[shown].mean():.3f} | {col(5)[shown].mean():.3f} | {col(3)[shown].mean():.2f} | "
              f"{col(3)[~shown].mean():.2f} |")


if __name__ == "__main__":
    main()
