"""The quality figures of a model card: Phone and House goal retrieval and reward AP.

    python scripts/model_card_metrics.py [MODEL]      (default: builtin:default)

Phone: ``vlm_rewards.pretrain.evaluate_phone`` (3 seeded layouts; top-1 of the open app's
goal among the split's goals and among all goals of the set; mean average precision of
the contrastive reward, negatives = the set's other goals, at the model's temperature).
House: ``vlm_rewards.pretrain.evaluate_house`` (frames where exactly one find goal holds,
8 seeded episodes per object; top-1 among all 24 find goals and within the group).
"""

import sys

from vlm_rewards import load_model
from vlm_rewards.pretrain import evaluate_house, evaluate_phone


def main() -> None:
    model = load_model(sys.argv[1] if len(sys.argv) > 1 else "builtin:default")
    print(f"model: {model.name} ({model.num_parameters:,} parameters)\n")
    print("| Phone goals | frames | top-1 (split) | top-1 (all goals of set) | AP |")
    print("|---|---:|---:|---:|---:|")
    for app_set in ("common", "diverse"):
        for split in ("heldout", "train"):
            r = evaluate_phone(model, apps=app_set, split=split, episodes=3)
            print(f"| {app_set}, {split} ({r['num_goals_split']}) | {r['num_frames']} | {r['top1_split']:.2f} "
                  f"| {r['top1_all']:.2f} (of {r['num_goals_all']}) | {r['ap']:.2f} |")
    print("\n| House find goals | frames | top-1 (of 24) | top-1 (within group) |")
    print("|---|---:|---:|---:|")
    for group, r in evaluate_house(model, episodes=8).items():
        print(f"| {group} | {r['num_frames']} | {r['top1_all']:.2f} | {r['top1_group']:.2f} |")


if __name__ == "__main__":
    main()
