"""asyncio client of the service (``grpc.aio``): the blocking client's methods as coroutines, for services and
web backends that run on an event loop. Same retry policy (:mod:`motion_retrieval_server.retry`), same requests and
results (:mod:`motion_retrieval_server.messages`); needs only the ``[client]`` extra.

    async with AsyncMotionRetrievalClient("localhost:50051") as client:
        vectors = await client.embed_texts(["a person walks forward"])   # (1, 256) float32, unit norm
        hits = await client.search_motions("a person waves", top_k=5)

A client belongs to the event loop it was made on (gRPC's asyncio channels do); make it inside the loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import Any

import grpc
import numpy as np

from motion_retrieval_server import messages
from motion_retrieval_server.api import common_pb2, embedding_pb2, embedding_pb2_grpc, search_pb2, search_pb2_grpc
from motion_retrieval_server.client import auth_metadata, channel_arguments, channel_credentials
from motion_retrieval_server.retry import RetryPolicy
from motion_retrieval_server.trace_context import trace_metadata


class AsyncMotionRetrievalClient:
    def __init__(self, target: str, *, token: str | None = None, tls_ca: str | os.PathLike | bytes | None = None,
                 timeout: float = 30.0, server_name: str | None = None, retry: RetryPolicy | None = RetryPolicy()):
        """As :class:`motion_retrieval_server.client.MotionRetrievalClient`: ``target`` "host:port"; ``token`` sent
        as ``authorization: Bearer``; ``tls_ca`` a PEM file (or its bytes) that turns TLS on; ``timeout`` the
        deadline of every call in seconds, retries included; ``retry`` the retry policy (None: no retries)."""
        options = channel_arguments(retry, server_name)
        credentials = channel_credentials(tls_ca)
        if credentials is not None:
            self._channel = grpc.aio.secure_channel(target, credentials, options)
        else:
            self._channel = grpc.aio.insecure_channel(target, options)
        self.target = target
        self.timeout = timeout
        self.retry = retry
        self._metadata = auth_metadata(token)
        self._embedding = embedding_pb2_grpc.EmbeddingServiceStub(self._channel)
        self._search = search_pb2_grpc.SearchServiceStub(self._channel)
        self._info: embedding_pb2.ModelInfo | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------------
    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncMotionRetrievalClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _call(self, method, request, timeout: float | None = None):
        # The caller's trace context (when its application traces with OpenTelemetry) travels as traceparent.
        return await method(request, timeout=self.timeout if timeout is None else timeout,
                            metadata=self._metadata + trace_metadata())

    # -- model ------------------------------------------------------------------------------------------------------
    async def _model_info(self) -> embedding_pb2.ModelInfo:
        if self._info is None:
            self._info = await self._call(self._embedding.GetModelInfo, embedding_pb2.GetModelInfoRequest())
        return self._info

    async def model_info(self) -> dict[str, Any]:
        """Model id, dim, accepted skeletons, backend and limits, as a plain dict."""
        return messages.model_info_dict(await self._model_info())

    async def model_id(self) -> str:
        return (await self._model_info()).model_id

    async def dim(self) -> int:
        return (await self._model_info()).dim

    # -- embeddings -------------------------------------------------------------------------------------------------
    async def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32 unit vectors; batches beyond the server's limit go as several requests at once."""
        if isinstance(texts, str):
            raise TypeError("embed_texts() takes a sequence of texts, not one string")
        info = await self._model_info()
        requests = messages.text_requests(texts, info.limits)
        return messages.join_embeddings(await self._embed_all(self._embedding.EmbedTexts, requests), info.dim)

    async def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        """Raw (T, 263) features at 20 fps -> (N, dim) float32 unit vectors."""
        return await self._embed_motion_messages([messages.features_message(m) for m in motions])

    async def embed_joints(self, joints: np.ndarray | Sequence[np.ndarray], skeleton: str = "smpl22",
                           fps: float = 20.0) -> np.ndarray:
        """Raw joint positions (T, J, 3), or a list of them, of ``skeleton`` at ``fps`` -> (N, dim)."""
        return await self._embed_motion_messages(messages.joints_messages(joints, skeleton, fps))

    async def _embed_motion_messages(self, motions: list[common_pb2.Motion]) -> np.ndarray:
        info = await self._model_info()
        requests = list(messages.motion_requests(motions, info.limits))
        return messages.join_embeddings(await self._embed_all(self._embedding.EmbedMotions, requests), info.dim)

    async def _embed_all(self, method, requests: list) -> list[np.ndarray]:
        responses = await asyncio.gather(*(self._call(method, r) for r in requests))
        return [messages.embeddings(r) for r in responses]

    # -- search -----------------------------------------------------------------------------------------------------
    async def search_motions(self, text: str, top_k: int = 10, filters: Mapping[str, Any] | None = None, *,
                             offset: int = 0, every_window: bool = False) -> list[dict]:
        """Motions closest to ``text`` (arguments as the blocking client's)."""
        request = messages.search_motions_request(text, top_k, filters, offset, every_window)
        return messages.motion_hits(await self._call(self._search.SearchMotions, request))

    async def search_captions(self, motion: np.ndarray, top_k: int = 10, keep_duplicates: bool = False
                              ) -> list[dict]:
        """Captions closest to a (T, 263) motion: each distinct text once, unless ``keep_duplicates``."""
        request = messages.search_captions_request(motion, top_k, keep_duplicates)
        return messages.caption_hits(await self._call(self._search.SearchCaptions, request))

    async def similar_motions(self, motion: np.ndarray | None = None, *, motion_id: str | None = None,
                              top_k: int = 10, filters: Mapping[str, Any] | None = None, offset: int = 0,
                              every_window: bool = False) -> list[dict]:
        """Motions closest to a (T, 263) motion or to the stored motion ``motion_id`` (exactly one of them)."""
        request = messages.similar_motions_request(motion, motion_id, top_k, filters, offset, every_window)
        return messages.motion_hits(await self._call(self._search.SimilarMotions, request))

    async def ingest(self, records: Iterable[Any] | AsyncIterable[Any], timeout: float | None = None
                     ) -> dict[str, Any]:
        """Stream records (MotionRecord-like objects or dicts, as the blocking client's; an async iterable too) to
        the service; returns the per-item summary. Not retried: a refused stream is the caller's to restart."""
        if isinstance(records, AsyncIterable):
            requests = (search_pb2.IngestMotionsRequest(item=messages.motion_item(r)) async for r in records)
        else:
            requests = messages.ingest_requests(records)
        return messages.ingest_summary(await self._call(self._search.IngestMotions, requests, timeout=timeout))

    async def delete(self, ids: Sequence[str] = (), names: Sequence[str] = ()) -> int:
        """Delete motions by row id and/or record id; returns the motion rows removed."""
        return int((await self._call(self._search.DeleteMotions, messages.delete_request(ids, names))).deleted)

    async def motion_preview(self, motion_id: str) -> dict[str, Any]:
        """The stored preview of hit ``motion_id`` (see the blocking client's)."""
        return messages.preview_dict(await self._call(self._search.GetMotionPreview,
                                                      search_pb2.GetMotionPreviewRequest(id=motion_id)))

    async def motion_clip(self, motion_id: str, format: str | int = "smpl22_bvh") -> dict[str, Any]:
        """Hit ``motion_id`` as a file ``{"filename", "media_type", "data"}`` (see the blocking client's)."""
        return messages.clip_dict(await self._call(self._search.GetMotionClip,
                                                   messages.clip_request(motion_id, format)))

    async def collection_stats(self) -> dict[str, Any]:
        return messages.fields_dict(await self._call(self._search.GetCollectionStats,
                                                     search_pb2.GetCollectionStatsRequest()))
