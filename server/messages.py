"""Python values <-> the service's protobuf messages, for the clients: the one place both the blocking client
(:mod:`motion_retrieval_server.client`) and the asyncio client (:mod:`motion_retrieval_server.aio_client`) build
requests and read responses, so that the two differ only in how they wait for the answer.

Like the clients, it needs only the ``[client]`` extra (grpcio, protobuf, numpy).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from motion_retrieval.serving.hits import CaptionHit, MotionHit
from motion_retrieval_server.api import common_pb2, embedding_pb2, search_pb2
from motion_retrieval_server.validation import decode_tensor, encode_tensor

# Leave room for the protobuf framing around the tensors when packing a request under the server's byte limit.
_MESSAGE_HEADROOM = 0.9


# -- motions --------------------------------------------------------------------------------------------------------
def features_message(features: np.ndarray) -> common_pb2.Motion:
    return common_pb2.Motion(features=common_pb2.FeatureMotion(features=encode_tensor(np.asarray(features))))


def joints_message(joints: np.ndarray, skeleton: str, fps: float) -> common_pb2.Motion:
    return common_pb2.Motion(joints=common_pb2.JointsMotion(joints=encode_tensor(np.asarray(joints)),
                                                            skeleton=skeleton, fps=fps))


def joints_messages(joints: np.ndarray | Sequence[np.ndarray], skeleton: str, fps: float) -> list[common_pb2.Motion]:
    """One (T, J, 3) array or a list of them."""
    batch = [joints] if isinstance(joints, np.ndarray) and joints.ndim == 3 else list(joints)
    return [joints_message(j, skeleton, fps) for j in batch]


# -- embeddings -----------------------------------------------------------------------------------------------------
def text_requests(texts: Sequence[str], limits: embedding_pb2.Limits) -> list[embedding_pb2.EmbedTextsRequest]:
    """``texts`` in requests of at most the server's batch size."""
    if isinstance(texts, str):
        raise TypeError("embed_texts() takes a sequence of texts, not one string")
    step = limits.max_batch_size
    return [embedding_pb2.EmbedTextsRequest(texts=list(texts[i:i + step])) for i in range(0, len(texts), step)]


def motion_requests(motions: list[common_pb2.Motion], limits: embedding_pb2.Limits
                    ) -> Iterator[embedding_pb2.EmbedMotionsRequest]:
    """Consecutive runs of at most max_batch_size motions and under the server's message size."""
    budget = int(limits.max_message_bytes * _MESSAGE_HEADROOM)
    chunk, size = [], 0
    for item in motions:
        item_size = item.ByteSize() + 8
        if item_size > budget:
            raise ValueError(f"one motion is {item_size} bytes, over the server's {limits.max_message_bytes} "
                             "byte message limit; window it")
        if chunk and (len(chunk) >= limits.max_batch_size or size + item_size > budget):
            yield embedding_pb2.EmbedMotionsRequest(motions=chunk)
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield embedding_pb2.EmbedMotionsRequest(motions=chunk)


def embeddings(response) -> np.ndarray:
    """(n, dim) float32 from an Embed* response (a writable copy)."""
    return np.array(decode_tensor(response.embeddings, "embeddings", rank=2))


def join_embeddings(parts: list[np.ndarray], dim: int) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)


def model_info_dict(info: embedding_pb2.ModelInfo) -> dict[str, Any]:
    return {
        "model_id": info.model_id, "dim": info.dim, "skeletons": list(info.skeletons), "backend": info.backend,
        "feature_dim": info.feature_dim, "fps": info.fps,
        "limits": {field.name: getattr(info.limits, field.name) for field in info.limits.DESCRIPTOR.fields},
    }


# -- search ---------------------------------------------------------------------------------------------------------
def filter_message(filters: Mapping[str, Any] | None) -> search_pb2.MotionFilter:
    filters = dict(filters or {})
    known = {f.name for f in search_pb2.MotionFilter.DESCRIPTOR.fields}
    unknown = sorted(set(filters) - known)
    if unknown:
        raise ValueError(f"unknown filter keys {unknown}; known: {sorted(known)}")
    return search_pb2.MotionFilter(**{k: v for k, v in filters.items() if v is not None})


def search_motions_request(text: str, top_k: int, filters: Mapping[str, Any] | None, offset: int,
                           every_window: bool) -> search_pb2.SearchMotionsRequest:
    return search_pb2.SearchMotionsRequest(text=text, top_k=top_k, filter=filter_message(filters), offset=offset,
                                           every_window=every_window)


def search_captions_request(motion: np.ndarray, top_k: int, keep_duplicates: bool
                            ) -> search_pb2.SearchCaptionsRequest:
    return search_pb2.SearchCaptionsRequest(motion=features_message(motion), top_k=top_k,
                                            keep_duplicates=keep_duplicates)


def similar_motions_request(motion: np.ndarray | None, motion_id: str | None, top_k: int,
                            filters: Mapping[str, Any] | None, offset: int, every_window: bool
                            ) -> search_pb2.SimilarMotionsRequest:
    if (motion is None) == (motion_id is None):
        raise ValueError("give exactly one of motion and motion_id")
    request = search_pb2.SimilarMotionsRequest(top_k=top_k, filter=filter_message(filters), offset=offset,
                                               every_window=every_window)
    if motion is not None:
        request.motion.CopyFrom(features_message(motion))
    else:
        request.motion_id = motion_id
    return request


def motion_hit_dict(hit: search_pb2.MotionHit) -> dict[str, Any]:
    """The one hit schema (motion_retrieval.serving.hits): the keys ``search --json`` prints in both modes."""
    return MotionHit.from_message(hit).to_json()


def caption_hit_dict(hit: search_pb2.CaptionHit) -> dict[str, Any]:
    return CaptionHit.from_message(hit).to_json()


def motion_hits(response) -> list[dict[str, Any]]:
    return [motion_hit_dict(h) for h in response.hits]


def caption_hits(response) -> list[dict[str, Any]]:
    return [caption_hit_dict(h) for h in response.hits]


# -- collection -----------------------------------------------------------------------------------------------------
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


def ingest_requests(records: Iterable[Any]) -> Iterator[search_pb2.IngestMotionsRequest]:
    return (search_pb2.IngestMotionsRequest(item=motion_item(r)) for r in records)


def ingest_summary(response: search_pb2.IngestMotionsResponse) -> dict[str, Any]:
    summary = {field.name: getattr(response, field.name) for field in response.DESCRIPTOR.fields
               if field.name != "errors"}
    summary["errors"] = [{"index": e.index, "id": e.id, "message": e.message} for e in response.errors]
    return summary


def delete_request(ids: Sequence[str], names: Sequence[str]) -> search_pb2.DeleteMotionsRequest:
    return search_pb2.DeleteMotionsRequest(ids=list(ids), names=list(names))


def preview_dict(preview: search_pb2.MotionPreview) -> dict[str, Any]:
    return {"id": preview.id, "name": preview.name, "start": preview.start, "end": preview.end,
            "fps": preview.fps, "joints": np.array(decode_tensor(preview.joints, "joints", rank=3))}


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


def clip_request(motion_id: str, format: str | int) -> search_pb2.GetMotionClipRequest:
    return search_pb2.GetMotionClipRequest(id=motion_id, format=clip_format(format))


def clip_dict(clip: search_pb2.MotionClip) -> dict[str, Any]:
    return {"filename": clip.filename, "media_type": clip.media_type, "data": bytes(clip.data)}


def fields_dict(message) -> dict[str, Any]:
    """Every field of a flat message (GetCollectionStats) by name."""
    return {field.name: getattr(message, field.name) for field in message.DESCRIPTOR.fields}
