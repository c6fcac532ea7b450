"""The embedding contract (docs/ARCHITECTURE.md, "Embedding contract"): what milvus_plugin and the CLI program
against, implemented in process (motion_retrieval.inference.embedder) and over gRPC (motion_retrieval_server.client)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32, unit norm."""
        ...

    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        """Each motion (T, 263) raw features at 20 fps -> (N, dim) float32, unit norm."""
        ...
