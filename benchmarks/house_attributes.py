"""Does a model tell an object's kind and its colour apart, on pairs it was and was not taught?

On the House find frames of an evaluation set where exactly one "go near the {colour} {kind}"
goal holds, it asks which of "a ball / a box / a key up close" and which of "something
{colour} up close" (six colours) is most similar to the frame, and reports the share of frames
whose kind and colour come out right, for the colour-object pairs the built-in corpus names
and for its compositional hold-out (:data:`vlm_rewards.data.COMPOSITIONAL_HOLDOUT`).
``--greyscale`` scores the frames in greyscale (the kind must then come from shape alone).

Usage::

    python benchmarks/house_attributes.py --model builtin:default --dataset EVAL [--greyscale]

``EVAL`` needs a house:find section (``vlm-rewards collect EVAL --sections house:find``).
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from vlm_rewards.data import COMPOSITIONAL_HOLDOUT, load_evalset
from vlm_rewards.envs._sampling import COLOURED_KINDS
from vlm_rewards.envs.house.vocabulary import COLOURS, OBJECTS
from vlm_rewards.evaluation.scores import Encoder
from vlm_rewards.models import load_model

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def probe(model: str, dataset: str, greyscale: bool = False) -> dict[str, dict[str, float]]:
    sec = load_evalset(dataset, sections=["house:find"]).sections["house:find"]
    enc = Encoder(load_model(model), batch_size=64)
    kinds = enc.texts([f"a {k} up close" for k in COLOURED_KINDS])
    colours = enc.texts([f"something {c} up close" for c in COLOURS])
    tally: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for split, data in sec.splits.items():
        frames = data.frames
        if greyscale:
            frames = np.repeat((frames.astype(np.float32) @ _LUMA)[..., None], 3, axis=-1).round().astype(np.uint8)
        one = np.flatnonzero(data.labels.sum(1) == 1)
        emb = enc.images(frames[one], key=(dataset, split, greyscale))
        for i, e in zip(one, emb):
            name = sec.goals[int(data.labels[i].argmax())].removeprefix("go near the ")
            spec = OBJECTS[name]
            if spec.colour is None:
                continue
            group = "held-out pairs" if name in COMPOSITIONAL_HOLDOUT else "taught pairs"
            for row in (group, name):
                tally[row]["kind"].append(COLOURED_KINDS[int(np.argmax(kinds @ e))] == spec.kind)
                tally[row]["colour"].append(COLOURS[int(np.argmax(colours @ e))] == spec.colour)
    return {row: {"frames": len(t["kind"]), "kind": float(np.mean(t["kind"])), "colour": float(np.mean(t["colour"]))}
            for row, t in tally.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="builtin:default")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--greyscale", action="store_true")
    args = parser.parse_args()
    result = probe(args.model, args.dataset, args.greyscale)
    print(f"model {args.model}, dataset {args.dataset}{', greyscale frames' if args.greyscale else ''}")
    print("| frames of | n | kind right | colour right |\n|---|---:|---:|---:|")
    order = ["taught pairs", "held-out pairs", *sorted(COMPOSITIONAL_HOLDOUT)]
    for row in order:
        if row in result:
            r = result[row]
            print(f"| {row} | {r['frames']} | {r['kind']:.2f} | {r['colour']:.2f} |")


if __name__ == "__main__":
    main()
