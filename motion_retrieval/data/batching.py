"""From MotionRecords of several datasets to training batches (joint-dataset learning, PAPER.md section 6).

* Each dataset is normalised with its own mean/std, computed on its train split (TMR's per-dataset stats); there
  are no per-dataset heads or tokens: the datasets are simply concatenated (``ConcatDataset``), optionally
  re-weighted with a ``WeightedRandomSampler``.
* Each motion contributes ONE random caption per epoch, and the motion is cropped to that caption's segment
  (Guo: frames ``[int(start*20), int(end*20))``). Train/val captions outside 2-10 s are dropped; test captions
  never are. ``M`` mirrors are ordinary extra motions (the readers return them as records).
* A clip longer than the encoder's ``max_frames`` (200) is resampled to it by nearest neighbour (PAPER.md 2).
* The collated batch is a dict of padded tensors, boolean masks (True = real frame / token), lengths, the cached
  frozen-LM token states of each caption and its teacher sentence embedding (``TokenStateCache``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, WeightedRandomSampler

from motion_retrieval.data.augment import AugmentConfig, Augmenter
from motion_retrieval.data.humanml3d import caption_frames, crop_to_caption
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.errors import MotionDataError
from motion_retrieval.mirror import mirror_partners
from motion_retrieval.serving.motions import fit_to_max_frames
from motion_retrieval.stats import Normalizer

log = logging.getLogger(__name__)

MIN_CLIP_FRAMES = 2  # a clip needs two frames to be a motion at all


def usable_captions(
    record: MotionRecord, min_seconds: float | None = None, max_seconds: float | None = None
) -> list[Caption]:
    """The captions of ``record`` whose segment has >= 2 frames and, when limits are given, lasts min..max s."""
    kept = []
    for caption in record.captions:
        first, last = caption_frames(caption, record.num_frames, record.fps)
        if last - first < MIN_CLIP_FRAMES:
            continue
        seconds = (last - first) / record.fps
        if min_seconds is not None and seconds < min_seconds:
            continue
        if max_seconds is not None and seconds > max_seconds:
            continue
        kept.append(caption)
    return kept


@dataclass
class Sample:
    """One (motion clip, caption) pair, the clip normalised and at most ``max_frames`` long."""

    motion: np.ndarray  # (T, 263) float32, normalised
    caption: str
    key: str  # the motion's id (the record's, not the crop's: evaluation protocols key on it)
    dataset: str


class CaptionedMotions(Dataset):
    """One dataset split as (motion, caption) samples.

    ``augment`` (training only): domain-randomisation transforms (``data.augment``), drawn per clip from
    (seed, epoch, index). ``random_caption=True`` (training): every epoch each motion draws one of its usable
    captions; the draw is a pure function of (seed, epoch, index) so runs are reproducible with any number of
    workers. ``False``
    (validation, test): always the FIRST usable caption, TMR's choice for its protocols.
    """

    def __init__(
        self,
        records: Sequence[MotionRecord],
        normalizer: Normalizer,
        *,
        name: str,
        max_frames: int,
        min_seconds: float | None = None,
        max_seconds: float | None = None,
        random_caption: bool = True,
        seed: int = 0,
        augment: AugmentConfig | None = None,
        align_mirrors: bool = False,
    ):
        self.name = name
        self.align_mirrors = align_mirrors
        self.augmenter = Augmenter(augment) if augment is not None and augment.enabled else None
        self.normalizer = normalizer
        self.max_frames = max_frames
        self.random_caption = random_caption
        self.seed = seed
        self.epoch = 0
        self.records: list[MotionRecord] = []
        self.captions: list[list[Caption]] = []
        no_features = no_captions = 0
        limits = "" if min_seconds is None else f" of {min_seconds:g}-{max_seconds:g} s"
        for record in records:
            if record.features is None:
                no_features += 1
                continue
            captions = usable_captions(record, min_seconds, max_seconds)
            if not captions:
                no_captions += 1
                continue
            self.records.append(record)
            self.captions.append(captions)
        if no_features or no_captions:
            log.info("%s: dropped %d motions without features and %d without a usable caption%s; %d kept",
                     name, no_features, no_captions, limits, len(self.records))
        if not self.records:
            where = records[0].source if records else None
            raise MotionDataError(where, f"dataset {name!r}: no usable clips ({len(records)} motions read, "
                                         f"{no_captions} without a usable caption{limits}, "
                                         f"{no_features} without features)")
        self.mirror_partner = mirror_partners(self.keys())

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def all_caption_texts(self) -> list[str]:
        """Every caption this dataset can ever emit (what the token-state cache must hold)."""
        if not self.random_caption:
            return [captions[0].text for captions in self.captions]
        return [c.text for captions in self.captions for c in captions]

    def keys(self) -> list[str]:
        return [record.id for record in self.records]

    def caption_for(self, index: int) -> Caption:
        """The caption motion ``index`` carries this epoch. With ``align_mirrors`` a motion and its mirror twin
        draw the same caption line (the mirror's captions are the original's, side words swapped, line by line)."""
        captions = self.captions[index]
        if not self.random_caption or len(captions) == 1:
            return captions[0]
        key = index
        partner = self.mirror_partner[index]
        if self.align_mirrors and partner is not None and len(self.captions[partner]) == len(captions):
            key = min(index, partner)
        rng = np.random.default_rng((self.seed, self.epoch, key))
        return captions[int(rng.integers(len(captions)))]

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        caption = self.caption_for(index)
        clip = crop_to_caption(record, caption).features
        rng = np.random.default_rng((self.seed, self.epoch, index, 1)) if self.augmenter is not None else None
        if rng is not None:
            clip = self.augmenter.raw(np.asarray(clip, dtype=np.float32), rng)
        clip = fit_to_max_frames(clip, self.max_frames)  # (T<=max_frames, 263)
        motion = self.normalizer.normalize(np.asarray(clip, dtype=np.float32)).astype(np.float32)
        if rng is not None:
            motion = self.augmenter.normalised(motion, rng)
        return Sample(motion=motion, caption=caption.text, key=record.id, dataset=self.name)


def joint_dataset(datasets: Sequence[CaptionedMotions]) -> ConcatDataset:
    """The joint training set: the datasets one after the other, no per-dataset tokens (PAPER.md 6)."""
    return ConcatDataset(list(datasets))


def weighted_sampler(
    datasets: Sequence[CaptionedMotions], weights: Mapping[str, float], generator: torch.Generator | None = None
) -> WeightedRandomSampler:
    """Draw dataset ``d`` with probability proportional to ``weights[d]`` (default 1), uniform within it.

    An epoch keeps its usual length (the total number of motions); sampling is with replacement.
    """
    unknown = sorted(set(weights) - {d.name for d in datasets})
    if unknown:
        raise MotionDataError(None, f"dataset_weights name datasets that are not being trained on: {unknown}")
    per_sample = torch.cat([
        torch.full((len(d),), float(weights.get(d.name, 1.0)) / len(d), dtype=torch.double) for d in datasets
    ])
    return WeightedRandomSampler(per_sample, num_samples=len(per_sample), replacement=True, generator=generator)


class CaptionStates(Protocol):
    """What the collator asks of the frozen language model's token-state cache (``TokenStateCache`` of
    models.text_backbone, which the trainer builds): the states of a batch of captions."""

    def get(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(states (B, L, D) float32, mask (B, L) bool, teacher (B, D) float32 unit-norm)."""
        ...


class Collator:
    """Samples -> a batch dict; the frozen-LM outputs come from the (precomputed) token-state cache.

    Keys: ``motion`` (B, T, 263) float32 zero-padded to the longest clip, ``motion_mask`` (B, T) bool,
    ``length`` (B,) int64, ``text_states`` (B, L, D) float32, ``text_mask`` (B, L) bool, ``teacher`` (B, D)
    float32 unit-norm, and the lists ``captions``, ``keys``, ``datasets``.
    """

    def __init__(self, cache: CaptionStates | None):
        self.cache = cache

    def __call__(self, samples: Sequence[Sample]) -> dict:
        lengths = torch.tensor([s.motion.shape[0] for s in samples], dtype=torch.int64)  # (B,)
        frames = int(lengths.max())
        motion = torch.zeros(len(samples), frames, samples[0].motion.shape[1])  # (B, T, 263)
        for i, sample in enumerate(samples):
            motion[i, : sample.motion.shape[0]] = torch.from_numpy(sample.motion)
        mask = torch.arange(frames)[None, :] < lengths[:, None]  # (B, T)
        batch = {
            "motion": motion,
            "motion_mask": mask,
            "length": lengths,
            "captions": [s.caption for s in samples],
            "keys": [s.key for s in samples],
            "datasets": [s.dataset for s in samples],
        }
        if self.cache is not None:
            states, text_mask, teacher = self.cache.get(batch["captions"])  # (B, L, D), (B, L), (B, D)
            batch.update(text_states=states, text_mask=text_mask, teacher=teacher)
        return batch


def to_device(batch: dict, device: torch.device | str) -> dict:
    """Tensors to ``device``; lists stay as they are."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def fit_normalizers(train_records: Mapping[str, Sequence[MotionRecord]]) -> dict[str, Normalizer]:
    """Per-dataset mean/std over every frame of its train split (TMR's stats; PAPER.md 6)."""
    normalizers = {}
    for name, records in train_records.items():
        features = [r.features for r in records if r.features is not None]
        if not features:
            raise MotionDataError(None, f"dataset {name!r}: no motion features in the train split to compute stats")
        normalizers[name] = Normalizer.fit(features)
    return normalizers
