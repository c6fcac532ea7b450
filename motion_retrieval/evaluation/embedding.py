"""Embed a test (or validation) split with a model: the input of ``evaluate_protocols``.

At test time each encoder's mu is the embedding (PAPER.md 1) and the protocols use the first caption of each motion,
with the motion cropped to that caption's segment (TMR). Test captions are never length-filtered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from motion_retrieval.data.batching import CaptionedMotions, Collator, to_device
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.evaluation.protocols import evaluate_protocols, ndcg_relevance, strip_subject
from motion_retrieval.models.retrieval import RetrievalModel
from motion_retrieval.models.text_backbone import TokenStateCache
from motion_retrieval.stats import Normalizer

log = logging.getLogger(__name__)


@dataclass
class EmbeddedSet:
    keys: list[str]  # motion ids, one per row
    captions: list[str]  # the caption of each row (the motion's first)
    motion: np.ndarray  # (N, D) float32, unit norm
    text: np.ndarray  # (N, D) float32, unit norm
    teacher: np.ndarray  # (N, E) float32, unit norm
    relevance: np.ndarray | None = None  # (N, N) nDCG relevance, text x motion (protocols.ndcg_relevance)


def evaluation_set(
    records: Sequence[MotionRecord], normalizer: Normalizer, name: str, max_frames: int,
    min_seconds: float | None = None, max_seconds: float | None = None,
) -> CaptionedMotions:
    """First caption of each motion, no length filter unless limits are given (validation uses the train limits)."""
    return CaptionedMotions(records, normalizer, name=name, max_frames=max_frames, min_seconds=min_seconds,
                            max_seconds=max_seconds, random_caption=False)


@torch.no_grad()
def embed_set(
    model: RetrievalModel,
    dataset: CaptionedMotions,
    cache: TokenStateCache,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> EmbeddedSet:
    """mu of both towers for every (motion, first caption) row of ``dataset``, L2-normalised."""
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=Collator(cache))
    if progress:
        loader = tqdm(loader, desc=f"embedding {dataset.name}", unit="batch", leave=False)
    keys: list[str] = []
    captions: list[str] = []
    motion, text, teacher = [], [], []
    try:
        for batch in loader:
            batch = to_device(batch, device)
            motion.append(model.embed_motion(batch["motion"], batch["motion_mask"]).float().cpu())  # (B, D)
            text.append(model.embed_text(batch["text_states"], batch["text_mask"]).float().cpu())  # (B, D)
            teacher.append(batch["teacher"].float().cpu())  # (B, E)
            keys += batch["keys"]
            captions += batch["captions"]
    finally:
        model.train(was_training)
    return EmbeddedSet(keys, captions, torch.cat(motion).numpy(), torch.cat(text).numpy(), torch.cat(teacher).numpy(),
                       relevance=caption_set_relevance(dataset, captions, cache))


def caption_set_relevance(dataset: CaptionedMotions, queries: Sequence[str], cache: TokenStateCache) -> np.ndarray:
    """The (N, N) nDCG relevance of every motion (all its captions) to every row's query (its first caption)."""
    texts = [c.text for captions in dataset.captions for c in captions]
    owner = [row for row, captions in enumerate(dataset.captions) for _ in captions]
    backbone = cache.backbone
    caption_emb = backbone.sentence_embeddings([strip_subject(t) for t in texts]).numpy()  # (C, E)
    query_emb = backbone.sentence_embeddings([strip_subject(q) for q in queries]).numpy()  # (N, E)
    return ndcg_relevance(query_emb, queries, caption_emb, texts, owner, len(queries))


def evaluate_embedded(
    embedded: EmbeddedSet, protocols: Sequence[str], nsim_keys: Sequence[str] | None = None, batch_size: int = 32
) -> dict[str, dict[str, float]]:
    return evaluate_protocols(embedded.motion, embedded.text, embedded.keys, embedded.captions, embedded.teacher,
                              protocols=protocols, nsim_keys=nsim_keys, batch_size=batch_size,
                              relevance=embedded.relevance)
