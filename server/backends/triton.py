"""Triton backend: the encoders run on a Triton Inference Server reached over gRPC (tritonclient.grpc.aio).

The service tokenises (the text model inside Triton takes ids) and pads motions to the encoder's 200 frames. Calls
that fail because Triton is away (connection refused, model reloading) are retried with exponential backoff, within
the caller's deadline; after ``retries`` attempts the call answers UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tritonclient.grpc.aio as triton_aio
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from motion_retrieval.export.repository import RepositoryInfo
from motion_retrieval.inference.preprocess import pad_motions
from motion_retrieval.inference.tokenizer import TextTokenizer
from server.backends.base import BackendError, BackendUnavailable, EmbeddingBackend, load_repository_info

log = logging.getLogger(__name__)

MOTION_MODEL = "motion_encoder"
TEXT_MODEL = "text_encoder"
OUTPUT = "EMBEDDING__0"
# Reconnect quickly after Triton comes back: gRPC's default reconnect backoff grows to 120 s.
CHANNEL_ARGS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]
# gRPC codes (as tritonclient spells them) that mean "Triton is not there right now", worth a retry.
_TRANSIENT_STATUS = {"StatusCode.UNAVAILABLE", "StatusCode.UNKNOWN", "StatusCode.CANCELLED"}
_TRANSIENT_MESSAGES = ("is not ready", "unknown model", "not found", "failed to connect", "connection refused")


def _is_transient(exc: InferenceServerException) -> bool:
    status = str(exc.status() or "")
    message = str(exc.message() or "").lower()
    return status in _TRANSIENT_STATUS or any(m in message for m in _TRANSIENT_MESSAGES)


class TritonBackend(EmbeddingBackend):
    name = "triton"

    def __init__(self, model_repository: Path, url: str, *, retries: int = 3, backoff_s: float = 0.1,
                 metrics=None):
        self._repository = Path(model_repository)
        self._url = url
        self._retries = max(1, retries)
        self._backoff_s = backoff_s
        self._metrics = metrics
        self._info: RepositoryInfo | None = None
        self._tokenizer: TextTokenizer | None = None
        self._client: triton_aio.InferenceServerClient | None = None

    @property
    def info(self) -> RepositoryInfo:
        if self._info is None:
            raise BackendUnavailable("the Triton backend has not started")
        return self._info

    async def start(self) -> None:
        # Triton serves the model; the service still reads the repository for the tokenizer and the model facts, so
        # both sides must come from the same export.
        self._info = load_repository_info(self._repository, require_models=False)
        self._tokenizer = TextTokenizer(self._info.tokenizer, self._info.max_text_tokens)
        self._client = triton_aio.InferenceServerClient(self._url, channel_args=CHANNEL_ARGS)
        log.info("triton backend: %s, model %s", self._url, self._info.model_id)

    async def is_ready(self) -> bool:
        if self._client is None:
            return False
        try:
            return (await self._client.is_server_ready(client_timeout=1.0)
                    and await self._client.is_model_ready(MOTION_MODEL, client_timeout=1.0)
                    and await self._client.is_model_ready(TEXT_MODEL, client_timeout=1.0))
        except InferenceServerException:
            return False

    async def embed_texts(self, texts: Sequence[str], timeout: float) -> np.ndarray:
        return await self._in_chunks(self._embed_texts, list(texts), timeout)

    async def embed_motions(self, motions: Sequence[np.ndarray], timeout: float) -> np.ndarray:
        return await self._in_chunks(self._embed_motions, list(motions), timeout)

    async def _in_chunks(self, embed, items: list, timeout: float) -> np.ndarray:
        """Batches beyond the models' max_batch_size (config.pbtxt) go as concurrent requests, which Triton's
        dynamic batcher schedules together."""
        step = self.info.serving.max_batch_size
        chunks = [items[i:i + step] for i in range(0, len(items), step)]
        parts = await asyncio.gather(*(embed(chunk, timeout) for chunk in chunks))
        return np.concatenate(parts)  # (N, dim)

    async def _embed_texts(self, texts: list[str], timeout: float) -> np.ndarray:
        input_ids, attention_mask = self._tokenizer.encode(texts)  # (B, L) each
        inputs = [_input("INPUT_IDS__0", input_ids, "INT64"), _input("ATTENTION_MASK__1", attention_mask, "INT64")]
        return await self._infer(TEXT_MODEL, inputs, timeout)

    async def _embed_motions(self, motions: list[np.ndarray], timeout: float) -> np.ndarray:
        motion, mask = pad_motions(motions, max_frames=self.info.max_frames)  # (B, 200, 263), (B, 200)
        inputs = [_input("MOTION__0", motion, "FP32"), _input("MASK__1", mask, "BOOL")]
        return await self._infer(MOTION_MODEL, inputs, timeout)

    async def _infer(self, model: str, inputs: list[InferInput], timeout: float) -> np.ndarray:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_error: InferenceServerException | None = None
        for attempt in range(self._retries):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError(f"{model}: no time left after {attempt} attempts")
            start = time.perf_counter()
            try:
                result = await self._client.infer(
                    model, inputs, outputs=[InferRequestedOutput(OUTPUT)], client_timeout=remaining
                )
            except InferenceServerException as exc:
                if str(exc.status()) == "StatusCode.DEADLINE_EXCEEDED":
                    raise asyncio.TimeoutError(f"{model}: Triton did not answer in {remaining:.3f} s") from exc
                if not _is_transient(exc):
                    raise BackendError(f"Triton {model}: {exc.message()}") from exc
                last_error = exc
                if self._metrics is not None:
                    self._metrics.backend_retries.labels(backend=self.name).inc()
                pause = min(self._backoff_s * 2**attempt, max(0.0, deadline - loop.time()))
                log.warning("Triton %s attempt %d/%d failed (%s); retrying in %.2f s",
                            model, attempt + 1, self._retries, exc.message(), pause)
                if attempt + 1 < self._retries:
                    await asyncio.sleep(pause)
                continue
            if self._metrics is not None:
                self._metrics.backend_latency.labels(backend=self.name, encoder=model).observe(
                    time.perf_counter() - start)
            embeddings = result.as_numpy(OUTPUT)
            if embeddings is None:
                raise BackendError(f"Triton {model} answered without {OUTPUT}")
            return embeddings.astype(np.float32, copy=False)
        raise BackendUnavailable(
            f"Triton at {self._url} is unavailable ({model}: {last_error.message() if last_error else 'no answer'}) "
            f"after {self._retries} attempts; retry later"
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _input(name: str, array: np.ndarray, datatype: str) -> InferInput:
    tensor = InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor
