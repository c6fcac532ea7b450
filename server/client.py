"""Python client of the service. It also satisfies the Embedder protocol (model_id, dim, embed_texts,
embed_motions), so milvus_plugin can ingest and search through a running service instead of an in-process model.
It needs only ``pip install 'motion-retrieval[client]'`` (grpcio, protobuf, numpy): no torch, no tokenizer.

    with MotionRetrievalClient("localhost:50051") as client:
        vectors = client.embed_texts(["a person walks forward"])   # (1, 256) float32, unit norm

Calls refused for overload (RESOURCE_EXHAUSTED) or by an unreachable server (UNAVAILABLE) are retried inside their
deadline by gRPC itself, waiting as long as the service asks (:mod:`motion_retrieval_server.retry`); the asyncio
twin is :class:`motion_retrieval_server.aio_client.AsyncMotionRetrievalClient`. Requests and responses are converted
in :mod:`motion_retrieval_server.messages`, shared by both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from motion_retrieval_server import messages
from motion_retrieval_server.api import common_pb2, embedding_pb2, embedding_pb2_grpc, search_pb2, search_pb2_grpc
from motion_retrieval_server.messages import (  # noqa: F401  (the conversions' old home: importers keep working)
    caption_hit_dict,
    clip_format,
    features_message,
    filter_message,
    joints_message,
    motion_hit_dict,
    motion_item,
)
from motion_retrieval_server.retry import RetryPolicy, channel_options
from motion_retrieval_server.trace_context import trace_metadata

MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # what the client sends and accepts; the server's own limit is lower


def channel_arguments(retry: RetryPolicy | None, server_name: str | None) -> list[tuple[str, object]]:
    """The channel options of both clients: message limits, the retry policy, a TLS name override."""
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", MAX_MESSAGE_BYTES), *channel_options(retry)]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return options


def channel_credentials(tls_ca: str | os.PathLike | bytes | None) -> grpc.ChannelCredentials | None:
    if tls_ca is None:
        return None
    ca = tls_ca if isinstance(tls_ca, bytes) else Path(tls_ca).read_bytes()
    return grpc.ssl_channel_credentials(root_certificates=ca)


def auth_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


class MotionRetrievalClient:
    def __init__(self, target: str, *, token: str | None = None, tls_ca: str | os.PathLike | bytes | None = None,
                 timeout: float = 30.0, server_name: str | None = None, retry: RetryPolicy | None = RetryPolicy()):
        """``target`` "host:port"; ``token`` sent as ``authorization: Bearer``; ``tls_ca`` a PEM file (or its bytes)
        to trust, which turns TLS on; ``timeout`` the deadline of every call in seconds, retries included;
        ``retry`` the retry policy of refused calls (None: no retries)."""
        options = channel_arguments(retry, server_name)
        credentials = channel_credentials(tls_ca)
        if credentials is not None:
            self._channel = grpc.secure_channel(target, credentials, options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self.target = target
        self.timeout = timeout
        self.retry = retry
        self._metadata = auth_metadata(token)
        self._embedding = embedding_pb2_grpc.EmbeddingServiceStub(self._channel)
        self._search = search_pb2_grpc.SearchServiceStub(self._channel)
        self._info: embedding_pb2.ModelInfo | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> MotionRetrievalClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request, timeout: float | None = None):
        # The caller's trace context (when its application traces with OpenTelemetry) travels as traceparent.
        return method(request, timeout=self.timeout if timeout is None else timeout,
                      metadata=self._metadata + trace_metadata())

    # -- model ------------------------------------------------------------------------------------------------------
    def _model_info(self) -> embedding_pb2.ModelInfo:
        if self._info is None:
            self._info = self._call(self._embedding.GetModelInfo, embedding_pb2.GetModelInfoRequest())
        return self._info

    def model_info(self) -> dict[str, Any]:
        """Model id, dim, accepted skeletons, backend and limits, as a plain dict."""
        return messages.model_info_dict(self._model_info())

    @property
    def model_id(self) -> str:
        return self._model_info().model_id

    @property
    def dim(self) -> int:
        return self._model_info().dim

    # -- embeddings -------------------------------------------------------------------------------------------------
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32 unit vectors; batches beyond the server's limit are sent in several requests."""
        if isinstance(texts, str):
            raise TypeError("embed_texts() takes a sequence of texts, not one string")
        if len(texts) == 0:
            return messages.join_embeddings([], self.dim)
        requests = messages.text_requests(texts, self._model_info().limits)
        return messages.join_embeddings([self._embed(self._embedding.EmbedTexts, r) for r in requests], self.dim)

    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        """Raw (T, 263) features at 20 fps -> (N, dim) float32 unit vectors."""
        return self._embed_motion_messages([features_message(m) for m in motions])

    def embed_joints(self, joints: np.ndarray | Sequence[np.ndarray], skeleton: str = "smpl22",
                     fps: float = 20.0) -> np.ndarray:
        """Raw joint positions (T, J, 3), or a list of them, of ``skeleton`` at ``fps`` -> (N, dim)."""
        return self._embed_motion_messages(messages.joints_messages(joints, skeleton, fps))

    def _embed_motion_messages(self, motions: list[common_pb2.Motion]) -> np.ndarray:
        if not motions:
            return messages.join_embeddings([], self.dim)
        requests = messages.motion_requests(motions, self._model_info().limits)
        return messages.join_embeddings([self._embed(self._embedding.EmbedMotions, r) for r in requests], self.dim)

    def _embed(self, method, request) -> np.ndarray:
        return messages.embeddings(self._call(method, request))  # (n, dim)

    # -- search -----------------------------------------------------------------------------------------------------
    def search_motions(self, text: str, top_k: int = 10, filters: Mapping[str, Any] | None = None, *,
                       offset: int = 0, every_window: bool = False) -> list[dict]:
        """Motions closest to ``text``; ``filters`` keys as MotionFilter (dataset, min_duration, max_duration, fps,
        tags (all of them), tags_any, source_prefix). One hit per source take (its best window) unless
        ``every_window``; ``offset`` skips that many hits (the next page is ``offset + top_k``)."""
        request = messages.search_motions_request(text, top_k, filters, offset, every_window)
        return messages.motion_hits(self._call(self._search.SearchMotions, request))

    def search_captions(self, motion: np.ndarray, top_k: int = 10, keep_duplicates: bool = False) -> list[dict]:
        """Captions closest to a (T, 263) motion: each distinct text once, unless ``keep_duplicates``."""
        request = messages.search_captions_request(motion, top_k, keep_duplicates)
        return messages.caption_hits(self._call(self._search.SearchCaptions, request))

    def similar_motions(self, motion: np.ndarray | None = None, *, motion_id: str | None = None, top_k: int = 10,
                        filters: Mapping[str, Any] | None = None, offset: int = 0,
                        every_window: bool = False) -> list[dict]:
        """Motions closest to a (T, 263) motion or to the stored motion ``motion_id`` (exactly one of them); paging
        and one hit per take as :meth:`search_motions`."""
        request = messages.similar_motions_request(motion, motion_id, top_k, filters, offset, every_window)
        return messages.motion_hits(self._call(self._search.SimilarMotions, request))

    def ingest(self, records: Iterable[Any], timeout: float | None = None) -> dict[str, Any]:
        """Stream records (MotionRecord-like objects or dicts with id, dataset, features or joints(+skeleton, fps),
        captions, source, tags, split) to the service; returns the per-item summary."""
        return messages.ingest_summary(self._call(self._search.IngestMotions, messages.ingest_requests(records),
                                                  timeout=timeout))

    def ingest_paths(self, paths: Sequence[str | os.PathLike], **options: Any):
        """Read motion files and folders here and ingest them into the service's own collections (streamed through
        IngestMotions); returns a ``remote_ingest.RemoteIngestSummary``. ``options``: ``shard``, ``reader_options``,
        ``config`` (``RemoteIngestConfig``), ``progress`` (``motion_retrieval_server.remote_ingest.ingest_paths``).
        Needs the data layer (``motion_retrieval[milvus]`` or ``[serve]``) beside ``[client]``."""
        from motion_retrieval_server.remote_ingest import ingest_paths

        return ingest_paths(self, paths, **options)

    def delete(self, ids: Sequence[str] = (), names: Sequence[str] = ()) -> int:
        """Delete motions by row id (hit ``id``) and/or record id (``name``, with all its windows); returns the
        motion rows removed."""
        return int(self._call(self._search.DeleteMotions, messages.delete_request(ids, names)).deleted)

    def motion_preview(self, motion_id: str) -> dict[str, Any]:
        """The stored preview of hit ``motion_id``: ``{"id", "name", "start", "end", "fps", "joints"}`` with
        ``joints`` a (T, 22, 3) float32 array of SMPL-22 positions (metres, Y up) covering the hit's window."""
        return messages.preview_dict(self._call(self._search.GetMotionPreview,
                                                search_pb2.GetMotionPreviewRequest(id=motion_id)))

    def motion_clip(self, motion_id: str, format: str | int = "smpl22_bvh") -> dict[str, Any]:
        """Hit ``motion_id`` as a file: ``format`` "smpl22_bvh" (default), "joints_npy" or "source_bvh" (or a
        ClipFormat value). Returns ``{"filename", "media_type", "data"}`` (``data`` the file's bytes)."""
        return messages.clip_dict(self._call(self._search.GetMotionClip, messages.clip_request(motion_id, format)))

    def collection_stats(self) -> dict[str, Any]:
        return messages.fields_dict(self._call(self._search.GetCollectionStats,
                                               search_pb2.GetCollectionStatsRequest()))

