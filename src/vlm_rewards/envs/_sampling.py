"""Helpers shared by the domains' corpus and evaluation-set generators (``<domain>/samples.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["COLOURED_KINDS", "NOISE", "CorpusFrame", "LabelledFrame", "a", "join", "pick", "styled"]

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


@dataclass(frozen=True)
class CorpusFrame:
    """A pre-training corpus frame: several captions of one state, and its state label.

    ``captions`` are phrasings of the same description in different styles (descriptive,
    web alt-text, instruction-like); pre-training draws one per step. ``twin=True`` marks an
    altered copy of the frame yielded just before it, with one attribute changed (another
    app open, an object of another colour or kind in the same place): pre-training puts the
    two in one batch, so each is a hard negative of the other.
    """

    frame: np.ndarray
    captions: tuple[str, ...]
    label: str
    twin: bool = False


def styled(rng: np.random.Generator, styles: Sequence[Sequence[str]], **fields: str) -> tuple[str, ...]:
    """One template of each style, filled in: a frame's captions (see :class:`CorpusFrame`).

    Draws exactly one random number per style, so a twin frame built from the same ``rng``
    state gets the same templates with its own ``fields``.
    """
    return tuple(pick(rng, style).format(**fields) for style in styles)


def pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def join(things: Sequence[str]) -> str:
    if len(things) == 1:
        return things[0]
    return ", ".join(things[:-1]) + " and " + things[-1]


def a(name: str) -> str:
    return ("an " if name[0] in "aeiou" else "a ") + name
