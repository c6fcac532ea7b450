"""The backend interface the servicers use: async embedding calls with a time budget, readiness, model facts, and
the check that the encoders answering are the model this service describes."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motion_retrieval.errors import ConfigError
from motion_retrieval.serving.repository import RepositoryInfo, read_repository_info


class BackendError(Exception):
    """The backend failed on a request for a reason retrying will not fix (servicers answer INTERNAL)."""


class BackendUnavailable(BackendError):
    """The backend is not there (loading, or Triton down after the retries); servicers answer UNAVAILABLE."""


class ModelMismatchError(BackendUnavailable):
    """The encoders answering serve another model than this service's repository describes (e.g. old and new Triton
    pods behind one Service during a rolling upgrade): nothing is returned or written with their vectors."""


def load_repository_info(model_repository: Path, require_models: bool) -> RepositoryInfo:
    """The repository's motion_retrieval.json; ConfigError that says how to export when model files are missing."""
    try:
        return read_repository_info(model_repository, require_models=require_models)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}\nExport a model repository with `motion-retrieval export --out {model_repository}` (from the "
            "shipped default run when --run is left out) or pass --model-repository DIR"
        ) from None


class EmbeddingBackend(abc.ABC):
    name: str

    @property
    @abc.abstractmethod
    def info(self) -> RepositoryInfo:
        """The served model (id, dim, frames, tokens); valid after :meth:`start`."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Load or connect. Raises ConfigError for a repository that cannot be served."""

    @abc.abstractmethod
    async def is_ready(self) -> bool:
        """Whether an embedding call would be served now, by this model (polled by the health watcher)."""

    @abc.abstractmethod
    async def embed_texts(self, texts: Sequence[str], timeout: float) -> np.ndarray:
        """Checked texts -> (N, dim) float32 vectors as the model gives them (the caller checks they are finite);
        ``timeout`` seconds at most (asyncio.TimeoutError beyond)."""

    @abc.abstractmethod
    async def embed_motions(self, motions: Sequence[np.ndarray], timeout: float) -> np.ndarray:
        """Checked raw (T_i, 263) features at 20 fps -> (N, dim) float32 vectors as the model gives them."""

    async def verify_model(self, timeout: float) -> None:
        """ModelMismatchError unless the encoders serve this repository's model right now (asked afresh, before every
        ingest write). In-process towers are checked against the description when they load: nothing to ask."""
        return None

    @abc.abstractmethod
    async def close(self) -> None: ...
