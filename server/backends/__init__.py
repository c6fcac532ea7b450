"""Where the encoders run: in this process (TorchScript) or on a Triton Inference Server."""

from __future__ import annotations

from motion_retrieval_server.backends.base import BackendError, BackendUnavailable, EmbeddingBackend, ModelMismatchError
from motion_retrieval_server.config import ServeConfig

__all__ = ["BackendError", "BackendUnavailable", "EmbeddingBackend", "ModelMismatchError", "create_backend"]


def create_backend(config: ServeConfig, metrics=None) -> EmbeddingBackend:
    if config.backend == "triton":
        from motion_retrieval_server.backends.triton import TritonBackend

        return TritonBackend(config.model_repository, config.triton_url, retries=config.triton_retries,
                             metrics=metrics)
    from motion_retrieval_server.backends.torchscript import TorchScriptBackend

    return TorchScriptBackend(config.model_repository, workers=config.workers, torch_threads=config.torch_threads,
                              metrics=metrics)
