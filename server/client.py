"""Python client of the service. It also satisfies the Embedder protocol (model_id, dim, embed_texts,
embed_motions), so milvus_plugin can ingest and search through a running service instead of an in-process model.
It needs only ``pip install 'motion-retrieval[client]'`` (grpcio, protobuf, numpy): no torch, no tokenizer.

    with MotionRetrievalClient("localhost:50051") as client:
        vectors = client.embed_texts(["a person walks forward"])   # (1, 256) float32, unit norm
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from motion_retrieval.serving.hits import CaptionHit, MotionHit
from motion_retrieval_server.api import common_pb2, embedding_pb2, embedding_pb2_grpc, search_pb2, search_pb2_grpc
from motion_retrieval_server.validation import decode_tensor, encode_tensor

# Leave room for the protobuf framing around the tensors when packing a request under the server's byte limit.
_MESSAGE_HEADROOM = 0.9


class MotionRetrievalClient:
    def __init__(self, target: str, *, token: str | None = None, tls_ca: str | os.PathLike | bytes | None = None,
                 timeout: float = 30.0, server_name: str | None = None):
        """``target`` "host:port"; ``token`` sent as ``authorization: Bearer``; ``tls_ca`` a PEM file (or its bytes)
        to trust, which turns TLS on; ``timeout`` the deadline of every call in seconds."""
        options = [("grpc.max_receive_message_length", 256 * 1024 * 1024),
                   ("grpc.max_send_message_length", 256 * 1024 * 1024)]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if tls_ca is not None:
            ca = tls_ca if isinstance(tls_ca, bytes) else Path(tls_ca).read_bytes()
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca), options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self.target = target
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
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
        return method(request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)

    # -- model ------------------------------------------------------------------------------------------------------
    def _model_info(self) -> embedding_pb2.ModelInfo:
        if self._info is None:
            self._info = self._call(self._embedding.GetModelInfo, embedding_pb2.GetModelInfoRequest())
        return self._info

    def model_info(self) -> dict[str, Any]:
        """Model id, dim, accepted skeletons, backend and limits, as a plain dict."""
        info = self._model_info()
        return {
            "model_id": info.model_id, "dim": info.dim, "skeletons": list(info.skeletons), "backend": info.backend,
            "feature_dim": info.feature_dim, "fps": info.fps,
            "limits": {field.name: getattr(info.limits, field.name) for field in info.limits.DESCRIPTOR.fields},
        }

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
            return np.zeros((0, self.dim), dtype=np.float32)
        step = self._model_info().limits.max_batch_size
        parts = [
            self._embed(self._embedding.EmbedTexts, embedding_pb2.EmbedTextsRequest(texts=list(texts[i:i + step])))
            for i in range(0, len(texts), step)
        ]
        return np.concatenate(parts)

    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        """Raw (T, 263) features at 20 fps -> (N, dim) float32 unit vectors."""
        return self._embed_motion_messages([features_message(m) for m in motions])

    def embed_joints(self, joints: np.ndarray | Sequence[np.ndarray], skeleton: str = "smpl22",
                     fps: float = 20.0) -> np.ndarray:
        """Raw joint positions (T, J, 3), or a list of them, of ``skeleton`` at ``fps`` -> (N, dim)."""
        batch = [joints] if isinstance(joints, np.ndarray) and joints.ndim == 3 else list(joints)
        return self._embed_motion_messages([joints_message(j, skeleton, fps) for j in batch])

    def _embed_motion_messages(self, motions: list[common_pb2.Motion]) -> np.ndarray:
        if not motions:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._embed(self._embedding.EmbedMotions, embedding_pb2.EmbedMotionsRequest(motions=chunk))
                 for chunk in self._chunks(motions)]
        return np.concatenate(parts)

    def _chunks(self, items: list) -> Iterable[list]:
        """Consecutive runs of at most max_batch_size items and under the server's message size."""
        limits = self._model_info().limits
        budget = int(limits.max_message_bytes * _MESSAGE_HEADROOM)
        chunk, size = [], 0
        for item in items:
            item_size = item.ByteSize() + 8
            if item_size > budget:
                raise ValueError(f"one motion is {item_size} bytes, over the server's {limits.max_message_bytes} "
                                 "byte message limit; window it")
            if chunk and (len(chunk) >= limits.max_batch_size or size + item_size > budget):
                yield chunk
                chunk, size = [], 0
            chunk.append(item)
            size += item_size
        if chunk:
            yield chunk

    def _embed(self, method, request) -> np.ndarray:
        response = self._call(method, request)
        return np.array(decode_tensor(response.embeddings, "embeddings", rank=2))  # (n, dim), writable copy

    # -- search -----------------------------------------------------------------------------------------------------
    def search_motions(self, text: str, top_k: int = 10, filters: Mapping[str, Any] | None = None, *,
                       offset: int = 0, every_window: bool = False) -> list[dict]:
        """Motions closest to ``text``; ``filters`` keys as MotionFilter (dataset, min_duration, max_duration, fps,
        tags (all of them), tags_any, source_prefix). One hit per source take (its best window) unless
        ``every_window``; ``offset`` skips that many hits (the next page is ``offset + top_k``)."""
        request = search_pb2.SearchMotionsRequest(text=text, top_k=top_k, filter=filter_message(filters),
                                                  offset=offset, every_window=every_window)
        return [motion_hit_dict(h) for h in self._call(self._search.SearchMotions, request).hits]

    def search_captions(self, motion: np.ndarray, top_k: int = 10, keep_duplicates: bool = False) -> list[dict]:
        """Captions closest to a (T, 263) motion: each distinct text once, unless ``keep_duplicates``."""
        request = search_pb2.SearchCaptionsRequest(motion=features_message(motion), top_k=top_k,
                                                   keep_duplicates=keep_duplicates)
        return [caption_hit_dict(h) for h in self._call(self._search.SearchCaptions, request).hits]

    def similar_motions(self, motion: np.ndarray | None = None, *, motion_id: str | None = None, top_k: int = 10,
                        filters: Mapping[str, Any] | None = None, offset: int = 0,
                        every_window: bool = False) -> list[dict]:
        """Motions closest to a (T, 263) motion or to the stored motion ``motion_id`` (exactly one of them); paging
        and one hit per take as :meth:`search_motions`."""
        if (motion is None) == (motion_id is None):
            raise ValueError("give exactly one of motion and motion_id")
        request = search_pb2.SimilarMotionsRequest(top_k=top_k, filter=filter_message(filters), offset=offset,
                                                   every_window=every_window)
        if motion is not None:
            request.motion.CopyFrom(features_message(motion))
        else:
            request.motion_id = motion_id
        return [motion_hit_dict(h) for h in self._call(self._search.SimilarMotions, request).hits]

    def ingest(self, records: Iterable[Any], timeout: float | None = None) -> dict[str, Any]:
        """Stream records (MotionRecord-like objects or dicts with id, dataset, features or joints(+skeleton, fps),
        captions, source, tags, split) to the service; returns the per-item summary."""
        requests = (search_pb2.IngestMotionsRequest(item=motion_item(r)) for r in records)
        response = self._call(self._search.IngestMotions, requests, timeout=timeout)
        summary = {field.name: getattr(response, field.name) for field in response.DESCRIPTOR.fields
                   if field.name != "errors"}
        summary["errors"] = [{"index": e.index, "id": e.id, "message": e.message} for e in response.errors]
        return summary

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
        request = search_pb2.DeleteMotionsRequest(ids=list(ids), names=list(names))
        return int(self._call(self._search.DeleteMotions, request).deleted)

    def motion_preview(self, motion_id: str) -> dict[str, Any]:
        """The stored preview of hit ``motion_id``: ``{"id", "name", "start", "end", "fps", "joints"}`` with
        ``joints`` a (T, 22, 3) float32 array of SMPL-22 positions (metres, Y up) covering the hit's window."""
        preview = self._call(self._search.GetMotionPreview, search_pb2.GetMotionPreviewRequest(id=motion_id))
        return {"id": preview.id, "name": preview.name, "start": preview.start, "end": preview.end,
                "fps": preview.fps, "joints": np.array(decode_tensor(preview.joints, "joints", rank=3))}

    def motion_clip(self, motion_id: str, format: str | int = "smpl22_bvh") -> dict[str, Any]:
        """Hit ``motion_id`` as a file: ``format`` "smpl22_bvh" (default), "joints_npy" or "source_bvh" (or a
        ClipFormat value). Returns ``{"filename", "media_type", "data"}`` (``data`` the file's bytes)."""
        clip = self._call(self._search.GetMotionClip,
                          search_pb2.GetMotionClipRequest(id=motion_id, format=clip_format(format)))
        return {"filename": clip.filename, "media_type": clip.media_type, "data": bytes(clip.data)}

    def collection_stats(self) -> dict[str, Any]:
        stats = self._call(self._search.GetCollectionStats, search_pb2.GetCollectionStatsRequest())
        return {field.name: getattr(stats, field.name) for field in stats.DESCRIPTOR.fields}


# -- messages -------------------------------------------------------------------------------------------------------
def features_message(features: np.ndarray) -> common_pb2.Motion:
    return common_pb2.Motion(features=common_pb2.FeatureMotion(features=encode_tensor(np.asarray(features))))


def joints_message(joints: np.ndarray, skeleton: str, fps: float) -> common_pb2.Motion:
    return common_pb2.Motion(joints=common_pb2.JointsMotion(joints=encode_tensor(np.asarray(joints)),
                                                            skeleton=skeleton, fps=fps))


CLIP_FORMATS = {"smpl22_bvh": search_pb2.CLIP_FORMAT_SMPL22_BVH, "joints_npy": search_pb2.CLIP_FORMAT_JOINTS_NPY,
                "source_bvh": search_pb2.CLIP_FORMAT_SOURCE_BVH}


def clip_format(value: str | int) -> int:
    """A ClipFormat value from its short name ("smpl22_bvh", "joints_npy", "source_bvh") or the enum value."""
    if isinstance(value, str):
        key = value.lower().removeprefix("clip_format_")
        if key not in CLIP_FORMATS:
            raise ValueError(f"unknown clip format {value!r}; known: {', '.join(CLIP_FORMATS)}")
        return CLIP_FORMATS[key]
    if int(value) not in search_pb2.ClipFormat.values():
        raise ValueError(f"unknown clip format value {value!r}")
    return int(value)


def filter_message(filters: Mapping[str, Any] | None) -> search_pb2.MotionFilter:
    filters = dict(filters or {})
    known = {f.name for f in search_pb2.MotionFilter.DESCRIPTOR.fields}
    unknown = sorted(set(filters) - known)
    if unknown:
        raise ValueError(f"unknown filter keys {unknown}; known: {sorted(known)}")
    return search_pb2.MotionFilter(**{k: v for k, v in filters.items() if v is not None})


def motion_hit_dict(hit: search_pb2.MotionHit) -> dict[str, Any]:
    """The one hit schema (motion_retrieval.serving.hits): the keys ``search --json`` prints in both modes."""
    return MotionHit.from_message(hit).to_json()


def caption_hit_dict(hit: search_pb2.CaptionHit) -> dict[str, Any]:
    return CaptionHit.from_message(hit).to_json()


def _get(record: Any, name: str, default=None):
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def motion_item(record: Any) -> search_pb2.MotionItem:
    """A MotionRecord (or a dict with the same keys) as a MotionItem; features win over joints when both are set."""
    features = _get(record, "features")
    joints = _get(record, "joints")
    if features is not None:
        motion = features_message(features)
    elif joints is not None:
        motion = joints_message(joints, _get(record, "skeleton", "smpl22"), float(_get(record, "fps", 20.0)))
    else:
        raise ValueError(f"record {_get(record, 'id')!r} has neither features nor joints")
    captions = []
    for caption in _get(record, "captions", None) or ():
        if isinstance(caption, str):
            captions.append(search_pb2.Caption(text=caption))
        else:
            captions.append(search_pb2.Caption(text=_get(caption, "text"), start=float(_get(caption, "start", 0.0)),
                                               end=float(_get(caption, "end", 0.0))))
    return search_pb2.MotionItem(
        id=str(_get(record, "id")), dataset=str(_get(record, "dataset", "") or ""), motion=motion, captions=captions,
        source=str(_get(record, "source", "") or ""), tags=list(_get(record, "tags", None) or ()),
        split=str(_get(record, "split", "") or ""), start=float(_get(record, "start", 0.0) or 0.0),
    )
