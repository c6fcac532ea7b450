"""A pymilvus.model-style embedding function over an ``Embedder``.

pymilvus' model package (``pymilvus.model.base.BaseEmbeddingFunction``: ``__call__``, ``encode_queries``,
``encode_documents``, ``dim``) is not part of pymilvus 3.0.2 (it moved to the separate ``pymilvus-model``
distribution, which we do not install), so this class subclasses it when it is importable and otherwise offers the
same duck-typed interface. Queries are texts; documents are motions, (T, 263) raw features at 20 fps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

try:  # pragma: no cover - depends on an optional distribution
    from pymilvus.model.base import BaseEmbeddingFunction as _Base
except ImportError:  # pymilvus >= 2.5 without pymilvus-model
    _Base = object


class MotionEmbeddingFunction(_Base):
    """Text queries and motion documents into one space, for code written against pymilvus.model."""

    model_name = "motion-retrieval"

    def __init__(self, embedder):
        self.embedder = embedder

    @property
    def dim(self) -> int:
        return int(self.embedder.dim)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def encode_queries(self, queries: Sequence[str]) -> list[np.ndarray]:
        """Texts -> one (dim,) float32 unit vector each."""
        return list(np.asarray(self.embedder.embed_texts(list(queries)), dtype=np.float32))

    def encode_documents(self, documents: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Motions, (T, 263) raw features each -> one (dim,) float32 unit vector each."""
        return list(np.asarray(self.embedder.embed_motions(list(documents)), dtype=np.float32))

    def __call__(self, inputs: Sequence[str]) -> list[np.ndarray]:
        # pymilvus.model calls the function on texts (its documents are texts); texts are our queries.
        return self.encode_queries(inputs)
