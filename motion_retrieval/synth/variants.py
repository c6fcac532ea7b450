"""Corpus variants: what a training corpus (``train``) draws from, and what only the ``transfer`` corpus holds.

The transfer corpus is for model selection: it holds only what training corpora never contain, so a model scored
on it is scored on generalisation, not on memorised templates or bodies. One fixed rule partitions every list the
generator draws from (a family's caption templates, subjects, synonyms, sentence frames, action forms, styles):
the item at position ``i`` is held out for transfer when ``i % 3 == 2``, so lists of two or more items keep
training items and lists of three or more hold something out. Continuous ranges (body proportions, rest-pose
geometry, tempo) are partitioned by value: training draws inside ``[lo, hi]``, transfer draws from a band of a
quarter of that width just outside it, on either side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

__all__ = ["VARIANTS", "check_variant", "draw", "held_out", "partition"]

VARIANTS: tuple[str, ...] = ("train", "transfer")
T = TypeVar("T")


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown corpus variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return variant


def held_out(index: int) -> bool:
    """Whether the item at ``index`` of any partitioned list belongs to the transfer corpus only."""
    return index % 3 == 2


def partition(items: Sequence[T], variant: str) -> list[T]:
    """The items of ``items`` that ``variant`` may draw (a fixed partition by position; see the module doc)."""
    want = check_variant(variant) == "transfer"
    return [item for i, item in enumerate(items) if held_out(i) == want]


def draw(rng: np.random.Generator, lo: float, hi: float, variant: str = "train") -> float:
    """A value inside ``[lo, hi]`` for training; for transfer, one just outside it (a band of width (hi-lo)/4 on
    either side). Always consumes two random numbers, so both variants advance a generator alike."""
    u, side = rng.random(), rng.random()
    if variant == "train":
        return float(lo + u * (hi - lo))
    check_variant(variant)
    band = 0.25 * (hi - lo)
    return float(hi + u * band) if side < 0.5 else float(lo - u * band)
