"""The frozen language model, loaded once per process, and the caption pre-computation every run starts with.

Loading the LM (importing transformers, reading the weights) takes seconds; training, evaluation and the CLI share
one instance per backbone name. The LM never trains, so sharing it is safe.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from motion_retrieval.models.text_backbone import TextBackbone, TokenStateCache

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=2)
def shared_backbone(name: str) -> TextBackbone:
    """The frozen backbone ``name`` (a ModelConfig ``text.backbone``), loaded on first use."""
    log.info("loading frozen text backbone %s", name)
    return TextBackbone(name)


def precompute_captions(cache: TokenStateCache, texts: Sequence[str], batch_size: int, progress: bool) -> int:
    """Frozen-LM token states and teacher embeddings for every caption, once; returns how many were computed."""
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if not missing:
        return 0
    chunks = range(0, len(missing), batch_size)
    if progress:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc="caching caption token states", unit="batch")
    for start in chunks:
        cache.add(missing[start : start + batch_size])
    cache.flush()
    return len(missing)
