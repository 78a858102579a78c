"""Helpers shared by the domains' corpus and evaluation-set generators (``<domain>/samples.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["COLOURED_KINDS", "NOISE", "LabelledFrame", "a", "join", "pick"]

#: object kinds that carry a colour in both the house and BabyAI ("red ball")
COLOURED_KINDS = ("ball", "box", "key")
#: probability of a random action for the evaluation set's noisy solver
NOISE = 0.3


@dataclass(frozen=True)
class LabelledFrame:
    """An evaluation-set frame with the ground-truth success of every goal of its section."""

    frame: np.ndarray
    labels: np.ndarray  # bool, one per goal of the section
    episode: int
    step: int
    policy: int
    pursued: int


def pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def join(things: Sequence[str]) -> str:
    if len(things) == 1:
        return things[0]
    return ", ".join(things[:-1]) + " and " + things[-1]


def a(name: str) -> str:
    return ("an " if name[0] in "aeiou" else "a ") + name
