"""Is a model's weak compositional hold-out the text tower's fault or the image tower's?

The built-in corpus never names three colour-object pairs (:data:`vlm_rewards.data.COMPOSITIONAL_HOLDOUT`).
For each, this compares the goal's own text embedding with one built from taught pairs only, by
the parallelogram rule: for every colour c' and kind k' such that (c, k'), (c', k) and (c', k')
are all taught, ``t(c k') + t(c' k) - t(c' k')``, normalised, averaged over (c', k'). If the text
tower composed colour and kind, the two would agree; if the analogy embedding scores the held-out
pair's frames much better than the goal's own text, the image tower tells the pair apart and the
text tower is what fails.

On the House find frames of an evaluation set it reports, per held-out pair and split: the cosine
of the two embeddings, the taught pair nearest to the goal's own text, and the AP of the
contrastive reward (softmax over the section's goals at the model's τ, goals only) with either
embedding standing for the goal while every other goal keeps its own.

Usage::

    python benchmarks/house_composition.py --model builtin:default --dataset EVAL

``EVAL`` needs a house:find section (``vlm-rewards collect EVAL --sections house:find``).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import average_precision_score

from vlm_rewards.data import COMPOSITIONAL_HOLDOUT, load_evalset
from vlm_rewards.envs._sampling import COLOURED_KINDS
from vlm_rewards.envs.house.vocabulary import COLOURS
from vlm_rewards.evaluation.scores import Encoder, contrastive_scores
from vlm_rewards.models import load_model

PREFIX = "go near the "


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def analogy_embeddings(enc: Encoder, holdout=COMPOSITIONAL_HOLDOUT) -> dict[str, np.ndarray]:
    """For each held-out "colour kind", the mean parallelogram embedding from taught pairs."""
    pairs = [f"{c} {k}" for c in COLOURS for k in COLOURED_KINDS]
    emb = dict(zip(pairs, enc.texts([PREFIX + p for p in pairs])))
    out = {}
    for name in sorted(holdout):
        c, k = name.split(" ")
        terms = [emb[f"{c} {k2}"] + emb[f"{c2} {k}"] - emb[f"{c2} {k2}"]
                 for c2 in COLOURS for k2 in COLOURED_KINDS
                 if c2 != c and k2 != k and not {f"{c} {k2}", f"{c2} {k}", f"{c2} {k2}"} & set(holdout)]
        if not terms:
            raise ValueError(f"no taught pairs complete a parallelogram for {name!r}")
        out[name] = _unit(np.mean([_unit(t) for t in terms], axis=0))
    return out


def compare(model: str, dataset: str) -> list[dict]:
    sec = load_evalset(dataset, sections=["house:find"]).sections["house:find"]
    vlm = load_model(model)
    enc = Encoder(vlm, batch_size=64)
    tau = 1.0 / float(vlm.logit_scale)
    goals = list(sec.goals)
    own = enc.texts(goals)
    analogy = analogy_embeddings(enc)
    taught = [g for g in goals if g.removeprefix(PREFIX) not in COMPOSITIONAL_HOLDOUT and g.removeprefix(PREFIX).split(" ")[0] in COLOURS]
    rows = []
    for split, data in sec.splits.items():
        img = enc.images(data.frames, key=(dataset, split))
        for name, a in analogy.items():
            g = PREFIX + name
            if g not in sec.split_goals(split):  # a split's positives of its own goals, as `evaluate` counts them
                continue
            j = goals.index(g)
            y = data.labels[:, j].astype(bool)
            if not y.any():
                continue
            row = {"pair": name, "split": split, "frames": int(y.sum()), "cos": float(own[j] @ a)}
            near = max(taught, key=lambda t: float(own[goals.index(t)] @ own[j]))
            row["nearest"] = f"{near.removeprefix(PREFIX)} ({float(own[goals.index(near)] @ own[j]):.2f})"
            others = np.array([[k for k in range(len(goals)) if k != j]])
            for label, text in (("own", own[j]), ("analogy", a)):
                texts = own.copy()
                texts[j] = text
                p = contrastive_scores(img @ texts.T, [j], others, tau)[:, 0]
                row[f"ap_{label}"] = float(average_precision_score(y, p))
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="builtin:default")
    parser.add_argument("--dataset", required=True)
    args = parser.parse_args()
    rows = compare(args.model, args.dataset)
    print(f"model {args.model}, dataset {args.dataset}; reward: softmax over the goals, goals only")
    print("| pair | split | positive frames | cos(own, analogy) | nearest taught pair to own text | AP, own text | AP, analogy text |")
    print("|---|---|---:|---:|---|---:|---:|")
    for r in rows:
        print(f"| {r['pair']} | {r['split']} | {r['frames']} | {r['cos']:.2f} | {r['nearest']} | {r['ap_own']:.3f} | {r['ap_analogy']:.3f} |")
    if rows:
        print(f"| mean | | | | | {np.mean([r['ap_own'] for r in rows]):.3f} | {np.mean([r['ap_analogy'] for r in rows]):.3f} |")


if __name__ == "__main__":
    main()
