"""Mirror-paired batches: a motion and its left/right mirror twin in the same training batch.

Why: a contrastive loss only learns what its in-batch negatives contradict. A corpus with HumanML3D's ``M`` mirrors
holds "waves with the left hand" and "waves with the right hand" for every such motion, but with shuffled batches
of 64 out of thousands of motions a motion meets its own mirror in about 1 % of its batches, so almost nothing
asks the model to tell left from right. A model trained on shuffled batches put the text embeddings of "a person
walks to the left." and "... to the right." almost on one direction, and told real walk-left / walk-right takes
apart by thin margins (docs/EXPERIMENTS.md). Putting each side-specific motion and its twin in one batch makes
the other side the hardest negative of every such pair, every epoch.

A pair is formed only when the captions the two twins carry this epoch differ (``CaptionedMotions.caption_for``
with ``align_mirrors``: twins draw the same caption line, so the texts differ exactly when the line names a side).
Twins whose captions are the same (a symmetric action, or a line without a side word) stay apart as two
ordinary samples: in one batch they would be near-identical motions with identical captions, each a false
negative of the other.

With the CCCL recipe this did not make the model tell sides apart better on real takes, nor move the two walk
captions apart (docs/EXPERIMENTS.md, "The transfer ladder"), so ``train.mirror_pairs`` is off in every preset; see
``loss.cccl_mask_twins`` for the teacher-term interplay.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from motion_retrieval.data.batching import CaptionedMotions


def epoch_units(datasets: Sequence[CaptionedMotions]) -> list[tuple[int, ...]]:
    """This epoch's units over the joint dataset (indices offset dataset by dataset, as ``joint_dataset``):
    (i, j) for twins whose captions differ, (i,) for every other motion."""
    units: list[tuple[int, ...]] = []
    offset = 0
    for dataset in datasets:
        for i, j in enumerate(dataset.mirror_partner):
            if j is None:
                units.append((offset + i,))
            elif i < j:
                if dataset.caption_for(i).text != dataset.caption_for(j).text:
                    units.append((offset + i, offset + j))
                else:
                    units += [(offset + i,), (offset + j,)]
        offset += len(dataset)
    return units


class MirrorPairBatches(Sampler[list[int]]):
    """Batches of ``batch_size`` joint-dataset indices in which side-specific twins sit together.

    The units are shuffled with ``seed`` and laid end to end; a pair is never split across two batches (a batch
    that cannot take a whole pair is closed one short). ``drop_last`` drops a short final batch when at least one
    full batch exists (a lone leftover sample would make a degenerate contrastive batch). Build one per epoch,
    after ``set_epoch`` on the datasets, since the pairs depend on the epoch's caption draw.
    """

    def __init__(self, datasets: Sequence[CaptionedMotions], batch_size: int, seed: int, drop_last: bool = True):
        if batch_size < 2:
            raise ValueError(f"mirror-paired batches need batch_size >= 2, got {batch_size}")
        units = epoch_units(datasets)
        order = np.random.default_rng(seed).permutation(len(units))
        batches: list[list[int]] = [[]]
        for u in order:
            unit = units[u]
            if len(batches[-1]) + len(unit) > batch_size:
                batches.append([])
            batches[-1].extend(unit)
        if not batches[-1]:
            batches.pop()
        if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size - 1:
            batches.pop()
        self.batches = batches
        self.pairs = sum(len(unit) == 2 for unit in units)

    def __iter__(self) -> Iterator[list[int]]:
        return iter([list(b) for b in self.batches])

    def __len__(self) -> int:
        return len(self.batches)
