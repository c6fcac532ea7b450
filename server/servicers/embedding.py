"""EmbeddingService: batches of texts or motions in, unit-norm embeddings out.

Every item is checked once as it is decoded (validation, the serving contract's checks); joints are
converted to features on the conversion threads; the vectors the backend returns are checked too, so that an input
the model turns into NaN/inf is refused by index (INVALID_ARGUMENT) instead of being returned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np

from motion_retrieval.serving.inputs import check_embeddings
from motion_retrieval.serving.tensors import FEATURE_DIM, FPS
from motion_retrieval_server.api import common_pb2, embedding_pb2, embedding_pb2_grpc
from motion_retrieval_server.backends.base import EmbeddingBackend
from motion_retrieval_server.config import ServiceLimits
from motion_retrieval_server.metrics import ServiceMetrics
from motion_retrieval_server.servicers.calls import check_budget, status_on_error, time_budget
from motion_retrieval_server.validation import SKELETONS, DecodedMotion, check_texts, decode_motions, encode_tensor

log = logging.getLogger(__name__)


async def to_features(decoded: Sequence[DecodedMotion], executor: Executor, budget: float) -> list[np.ndarray]:
    """Checked request motions -> raw (T, 263) features; joints are converted on ``executor`` (CPU work)."""
    if not any(d.needs_conversion for d in decoded):
        return [d.features for d in decoded]
    loop = asyncio.get_running_loop()
    jobs = [loop.run_in_executor(executor, d.to_features) for d in decoded]
    return list(await asyncio.wait_for(asyncio.gather(*jobs), budget))


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, backend: EmbeddingBackend, limits: ServiceLimits, metrics: ServiceMetrics,
                 convert_executor: Executor):
        self._backend = backend
        self._limits = limits
        self._metrics = metrics
        self._convert_executor = convert_executor

    async def EmbedTexts(self, request: embedding_pb2.EmbedTextsRequest, context) -> embedding_pb2.EmbedResponse:
        async with status_on_error(context, "EmbedTexts"):
            texts = check_texts(request.texts, self._limits)
            self._metrics.batch_size.labels(method="EmbedTexts").observe(len(texts))
            budget = time_budget(context)
            check_budget(budget, "EmbedTexts")
            embeddings = check_embeddings(await self._backend.embed_texts(texts, timeout=budget), "texts")  # (N, D)
            return embedding_pb2.EmbedResponse(embeddings=encode_tensor(embeddings),
                                               model_id=self._backend.info.model_id)

    async def EmbedMotions(self, request: embedding_pb2.EmbedMotionsRequest, context) -> embedding_pb2.EmbedResponse:
        async with status_on_error(context, "EmbedMotions"):
            budget = time_budget(context)
            check_budget(budget, "EmbedMotions")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + budget
            decoded = decode_motions(request.motions, self._limits)
            motions = await to_features(decoded, self._convert_executor, budget)
            self._metrics.batch_size.labels(method="EmbedMotions").observe(len(motions))
            remaining = deadline - loop.time()
            check_budget(remaining, "EmbedMotions")
            embeddings = check_embeddings(await self._backend.embed_motions(motions, timeout=remaining), "motions")
            return embedding_pb2.EmbedResponse(embeddings=encode_tensor(embeddings),
                                               model_id=self._backend.info.model_id)

    async def GetModelInfo(self, request: embedding_pb2.GetModelInfoRequest, context) -> embedding_pb2.ModelInfo:
        async with status_on_error(context, "GetModelInfo"):
            return model_info_message(self._backend, self._limits)


def model_info_message(backend: EmbeddingBackend, limits: ServiceLimits) -> embedding_pb2.ModelInfo:
    info = backend.info
    return embedding_pb2.ModelInfo(
        model_id=info.model_id,
        dim=info.dim,
        skeletons=list(SKELETONS),
        backend=backend.name,
        feature_dim=FEATURE_DIM,
        fps=FPS,
        limits=common_pb2.Limits(
            max_batch_size=limits.max_batch_size,
            max_frames=limits.max_frames,
            min_frames=limits.min_frames,
            encoder_frames=info.max_frames,
            max_text_chars=limits.max_text_chars,
            max_text_tokens=info.max_text_tokens,
            max_message_bytes=limits.max_message_bytes,
            max_delete_ids=limits.max_delete_ids,
            max_top_k=limits.max_top_k,
        ),
    )
