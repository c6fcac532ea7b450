"""Learning-rate schedule: an optional linear warm-up and an optional cosine decay, as a pure function of progress.

The paper's recipe and the presets keep a constant learning rate [C] (``lr_schedule="constant"``, no warm-up); the
schedule exists for the recipe ablations of docs/EXPERIMENTS.md ("MoT++ on today's recipe": a factorised transformer
often wants a warm-up and a decay more than a three-block stack does).

Stateless on purpose: the factor depends only on how far training has come (epochs, fractional), so a run resumed
from its checkpoint continues the schedule exactly, and nothing about it has to be stored in the checkpoint.
"""

from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "cosine")


def lr_factor(progress: float, epochs: int, warmup_epochs: float = 0.0, schedule: str = "constant",
              min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate once ``progress`` epochs of training are done.

    ``progress`` counts the step being taken: the trainer passes ``epoch + (step + 1) / steps_per_epoch``, so the
    first step of a warm-up is never taken at 0. Warm-up: linear from 0 to 1 over ``warmup_epochs``. ``cosine``:
    after the warm-up, half a cosine from 1 down to ``min_ratio`` at the end of the last epoch.
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
    if warmup_epochs > 0 and progress < warmup_epochs:
        return max(progress, 0.0) / warmup_epochs
    if schedule == "constant":
        return 1.0
    span = epochs - warmup_epochs
    done = min(max((progress - warmup_epochs) / span, 0.0), 1.0) if span > 0 else 1.0
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * done))
