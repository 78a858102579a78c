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

Usage::

    python benchmarks/bench_region_scores.py                  # 300 layouts, builtin:default
    python benchmarks/bench_region_scores.py --layouts 100 --model builtin:v2

Prints one row per goal split (training apps, held-out apps).
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="builtin:default")
    parser.add_argument("--layouts", type=int, default=300, help="random home screens (seeds 0..N-1)")
    args = parser.parse_args()
    if args.layouts < 1:
        parser.error(f"--layouts must be >= 1, got {args.layouts}")

    import torch
    from sklearn.metrics import roc_auc_score

    from vlm_rewards import RewardScorer
    from vlm_rewards.envs import negative_pool
    from vlm_rewards.envs.phone.env import PhoneEnv, goal_text, goals
    from vlm_rewards.envs.registry import get_domain
    from vlm_rewards.evaluation.prompts import render_template
    from vlm_rewards.models import load_model
    from vlm_rewards.wrappers.region import RegionPrompts

    torch.set_num_threads(1)
    model = load_model(args.model)
    goal_list = goals("all", "common")
    held = set(goals("heldout", "common"))
    pool = negative_pool(goal_list, "phone:diverse")
    scorer = RewardScorer(model, goal_set=pool)

    def embed(gs: list[str]) -> dict[str, np.ndarray]:
        # The prompts training uses (agents.envs.region_source).
        texts = [render_template(get_domain("phone").region_prompt, "phone", g) for g in gs]
        emb = scorer.text_embeddings(texts).float().numpy()
        return dict(zip(gs, emb))

    cosine = RegionPrompts(embed(goal_list))
    log_prob = RegionPrompts(embed(goal_list), temperature=scorer.temperature, negatives=embed(pool[len(goal_list):]))
    side = int(model.image_size[0])

    rows = {False: [], True: []}
    env = PhoneEnv(apps="common", goal_split="all")
    for seed in range(args.layouts):
        env.reset(seed=seed)
        goal = goal_text(env.target)
        for page in range(len(env.layout.pages)):
            env.page = page  # look at every page of the layout without swiping
            cells = env.cell_apps()
            emb = scorer.encode_frames(env.region_crops(side)).float().numpy()
            emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True))[None]
            cos = cosine.score(emb, [goal])[0]
            lp = log_prob.score(emb, [goal])[0]
            shown = env.target in cells
            where = cells.index(env.target) if shown else -1
            rows[goal in held].append((shown, ((cos - cos.mean()) / (cos.std() + 1e-3)).max(), cos.max(), lp.max(),
                                       int(np.argmax(cos)) == where, int(np.argmax(lp)) == where))

    print(f"model {args.model}, {args.layouts} layouts, τ = {scorer.temperature:.4f}")
    print("| goals | pages | shown | shown AUC: standardised cosine | raw cosine | log p | "
          "hit: cosine | log p | max log p: shown | not shown |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for is_held, name in ((False, "training apps"), (True, "held-out apps")):
        r = rows[is_held]
        if not r:
            continue
        shown = np.array([x[0] for x in r])
        col = lambda k: np.array([x[k] for x in r], dtype=float)  # noqa: E731
        aucs = [roc_auc_score(shown, col(k)) if 0 < shown.mean() < 1 else float("nan") for k in (1, 2, 3)]
        print(f"| {name} | {len(r)} | {shown.mean():.2f} | {aucs[0]:.3f} | {aucs[1]:.3f} | {aucs[2]:.3f} | "
              f"{col(4)[shown].mean():.3f} | {col(5)[shown].mean():.3f} | {col(3)[shown].mean():.2f} | "
              f"{col(3)[~shown].mean():.2f} |")


if __name__ == "__main__":
    main()
