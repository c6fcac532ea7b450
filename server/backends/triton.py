"""Triton backend: the encoders run on a Triton Inference Server reached over gRPC (tritonclient.grpc.aio).

The service tokenises (the text model inside Triton takes ids of a fixed length) and pads motions to the encoder's
200 frames, with the serving contract's code. Calls that fail because Triton is away (UNAVAILABLE: connection
refused, a model reloading) are retried by gRPC itself, with exponential backoff within the caller's deadline, from
the channel's service config (``retryPolicy``); after ``retries`` attempts the call answers UNAVAILABLE.

``--triton-url dns:///HOST:PORT`` resolves every address of HOST (a headless Kubernetes Service) and spreads calls
over them with gRPC's ``round_robin`` policy; a plain ``HOST:PORT`` keeps one connection (pick_first).

Model identity: every config Triton serves carries the parameter ``motion_retrieval_model_id``. Readiness requires
it to equal this service's model id for both models, and :meth:`TritonBackend.verify_model` asks again before every
ingest write, so vectors of another model (old and new Triton pods side by side during a rolling upgrade) are never
returned as this model's or written into its collections.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tritonclient.grpc.aio as triton_aio
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from motion_retrieval.serving.motions import pad_motions
from motion_retrieval.serving.repository import MODEL_ID_PARAMETER, RepositoryInfo
from motion_retrieval.serving.tensors import (
    ATTENTION_MASK_INPUT,
    EMBEDDING_OUTPUT,
    INPUT_IDS_INPUT,
    MASK_INPUT,
    MOTION_INPUT,
    MOTION_MODEL,
    TEXT_MODEL,
)
from motion_retrieval.serving.tokenizer import TextTokenizer
from motion_retrieval_server.backends.base import (
    BackendError,
    BackendUnavailable,
    EmbeddingBackend,
    ModelMismatchError,
    load_repository_info,
)
from motion_retrieval_server.tracing import span, trace_headers

log = logging.getLogger(__name__)

TRITON_SERVICE = "inference.GRPCInferenceService"
MAX_GRPC_ATTEMPTS = 5  # gRPC caps retryPolicy.maxAttempts at 5
_NOT_THERE = {"StatusCode.UNAVAILABLE", "StatusCode.NOT_FOUND"}  # Triton away, or the model not loaded (yet)


def service_config(url: str, attempts: int, backoff_s: float = 0.1, max_backoff_s: float = 1.0) -> dict:
    """The gRPC service config of the Triton channel: retries on UNAVAILABLE, round_robin for ``dns:///`` targets."""
    config: dict = {}
    if attempts > 1:
        config["methodConfig"] = [{
            "name": [{"service": TRITON_SERVICE}],
            "retryPolicy": {
                "maxAttempts": attempts,
                "initialBackoff": f"{backoff_s:g}s",
                "maxBackoff": f"{max_backoff_s:g}s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }]
    if url.startswith("dns:"):
        config["loadBalancingConfig"] = [{"round_robin": {}}]
    return config


def channel_args(url: str, attempts: int) -> list[tuple[str, object]]:
    return [
        # Reconnect quickly after Triton comes back: gRPC's default reconnect backoff grows to 120 s.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", json.dumps(service_config(url, attempts))),
        # Re-resolve a headless Service's pods at least this often, so that new Triton pods get traffic.
        ("grpc.dns_min_time_between_resolutions_ms", 5000),
    ]


class TritonBackend(EmbeddingBackend):
    name = "triton"

    def __init__(self, model_repository: Path, url: str, *, retries: int = 3, metrics=None):
        self._repository = Path(model_repository)
        self._url = url
        self._attempts = min(max(1, retries), MAX_GRPC_ATTEMPTS)
        self._metrics = metrics
        self._info: RepositoryInfo | None = None
        self._tokenizer: TextTokenizer | None = None
        self._client: triton_aio.InferenceServerClient | None = None
        self._mismatch: str | None = None  # what the last identity check found wrong, None when it matched

    @property
    def info(self) -> RepositoryInfo:
        if self._info is None:
            raise BackendUnavailable("the Triton backend has not started")
        return self._info

    async def start(self) -> None:
        # Triton serves the model; the service reads the repository's description for the tokenizer, the tensors and
        # the model id that Triton's configs must carry.
        self._info = load_repository_info(self._repository, require_models=False)
        self._tokenizer = TextTokenizer(self._info.tokenizer, self._info.max_text_tokens)  # fixed length
        self._client = triton_aio.InferenceServerClient(self._url, channel_args=channel_args(self._url,
                                                                                              self._attempts))
        log.info("triton backend: %s, model %s", self._url, self._info.model_id)

    # -- readiness and identity --------------------------------------------------------------------------------------
    async def is_ready(self) -> bool:
        if self._client is None:
            return False
        try:
            ready = (await self._client.is_server_ready(client_timeout=1.0)
                     and await self._client.is_model_ready(MOTION_MODEL, client_timeout=1.0)
                     and await self._client.is_model_ready(TEXT_MODEL, client_timeout=1.0))
            if not ready:
                return False
            await self.verify_model(timeout=1.0)
        except ModelMismatchError:
            return False
        except (InferenceServerException, BackendUnavailable):
            return False
        return True

    async def verify_model(self, timeout: float) -> None:
        """Ask Triton for both models' configs; ModelMismatchError unless both carry this service's model id."""
        found = {}
        for model in (MOTION_MODEL, TEXT_MODEL):
            try:
                config = await self._client.get_model_config(model, client_timeout=max(timeout, 0.05))
            except InferenceServerException as exc:
                raise self._error(model, exc) from exc
            parameters = config.config.parameters
            found[model] = parameters[MODEL_ID_PARAMETER].string_value if MODEL_ID_PARAMETER in parameters else ""
        wrong = {m: v for m, v in found.items() if v != self.info.model_id}
        if wrong:
            served = ", ".join(f"{m} is {v or 'a model without a motion_retrieval_model_id parameter'}"
                               for m, v in wrong.items())
            problem = (f"Triton at {self._url} serves another model than this service ({self.info.model_id}): "
                       f"{served}; point the service at a repository exported with the same model (or wait for the "
                       "rollout to finish)")
            if problem != self._mismatch:
                log.error("%s", problem)
            self._mismatch = problem
            raise ModelMismatchError(problem)
        if self._mismatch is not None:
            log.info("Triton at %s serves %s again", self._url, self.info.model_id)
        self._mismatch = None

    # -- embeddings --------------------------------------------------------------------------------------------------
    async def embed_texts(self, texts: Sequence[str], timeout: float) -> np.ndarray:
        return await self._in_chunks(self._embed_texts, list(texts), timeout)

    async def embed_motions(self, motions: Sequence[np.ndarray], timeout: float) -> np.ndarray:
        return await self._in_chunks(self._embed_motions, list(motions), timeout)

    async def _in_chunks(self, embed, items: list, timeout: float) -> np.ndarray:
        """Batches beyond the models' max_batch_size (config.pbtxt) go as concurrent requests, which Triton's
        dynamic batcher schedules together. Refused while the last identity check found another model."""
        if self._mismatch is not None:
            raise ModelMismatchError(self._mismatch)
        step = self.info.serving.max_batch_size
        chunks = [items[i:i + step] for i in range(0, len(items), step)]
        parts = await asyncio.gather(*(embed(chunk, timeout) for chunk in chunks))
        return np.concatenate(parts)  # (N, dim)

    async def _embed_texts(self, texts: list[str], timeout: float) -> np.ndarray:
        input_ids, attention_mask = self._tokenizer.encode(texts, validated=True)  # (B, max_text_tokens) each
        inputs = [_input(INPUT_IDS_INPUT, input_ids, "INT64"), _input(ATTENTION_MASK_INPUT, attention_mask, "INT64")]
        return await self._infer(TEXT_MODEL, inputs, timeout)

    async def _embed_motions(self, motions: list[np.ndarray], timeout: float) -> np.ndarray:
        motion, mask = pad_motions(motions, self.info.max_frames, self.info.feature_dim)  # (B, 200, 263), (B, 200)
        inputs = [_input(MOTION_INPUT, motion, "FP32"), _input(MASK_INPUT, mask, "BOOL")]
        return await self._infer(MOTION_MODEL, inputs, timeout)

    async def _infer(self, model: str, inputs: list[InferInput], timeout: float) -> np.ndarray:
        if timeout <= 0:
            raise asyncio.TimeoutError(f"{model}: no time left")
        start = time.perf_counter()
        with span("triton.infer", **{"rpc.system": "grpc", "rpc.service": TRITON_SERVICE, "rpc.method": "ModelInfer",
                                     "triton.model": model, "triton.batch_size": int(inputs[0].shape()[0])}):
            try:
                # headers: the W3C trace context, so that Triton's own tracing joins the caller's trace.
                result = await self._client.infer(model, inputs, outputs=[InferRequestedOutput(EMBEDDING_OUTPUT)],
                                                  client_timeout=timeout, headers=trace_headers() or None)
            except InferenceServerException as exc:
                if str(exc.status()) == "StatusCode.DEADLINE_EXCEEDED":
                    raise asyncio.TimeoutError(f"{model}: Triton did not answer in {timeout:.3f} s") from exc
                raise self._error(model, exc) from exc
        if self._metrics is not None:
            self._metrics.backend_latency.labels(backend=self.name, encoder=model).observe(time.perf_counter() - start)
        embeddings = result.as_numpy(EMBEDDING_OUTPUT)
        if embeddings is None:
            raise BackendError(f"Triton {model} answered without {EMBEDDING_OUTPUT}")
        return embeddings.astype(np.float32, copy=False)

    def _error(self, model: str, exc: InferenceServerException) -> BackendError:
        if str(exc.status()) in _NOT_THERE:
            return BackendUnavailable(f"Triton at {self._url} is unavailable ({model}: {exc.message()}) after "
                                      f"{self._attempts} attempts; retry later")
        if str(exc.status()) == "StatusCode.DEADLINE_EXCEEDED":
            return BackendUnavailable(f"Triton at {self._url} did not answer ({model}: {exc.message()})")
        return BackendError(f"Triton {model}: {exc.message()}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _input(name: str, array: np.ndarray, datatype: str) -> InferInput:
    tensor = InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor
