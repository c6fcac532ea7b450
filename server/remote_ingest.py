"""Ingest files into the service's own collections: read and check them here, stream them through ``IngestMotions``.

This is what ``motion-retrieval ingest --server`` and ``MotionRetrievalClient.ingest_paths`` run. The files are read
with the same data layer as a local ingest (``motion_retrieval.data.shards.RecordWalk``: one bad file fails only
itself, ``--shard I/N`` reads one shard), long takes are cut into the same windows, and each window travels as one
``MotionItem`` whose id and start are the window's, so the service (which windows nothing shorter than 10 s) keys it
exactly as a local ingest would. The service embeds with its own model and writes into its own Milvus: rows land
where ``search --server`` looks.

On the wire each window goes as joints or as features, whichever is smaller: SMPL-22 joints at 20 fps are 66 floats
a frame against 263 for features, so a take read from joints (.bvh, .npy/.npz joint arrays) travels as joints and
the service computes its features with the same pipeline a local reader uses (the reader is then asked not to
compute them here); a HumanML3D feature folder travels as features.

Streams: ``stream_windows`` windows per ``IngestMotions`` call, sent while they are read (gRPC flow control pushes
back on reading when the service is busy embedding). A call cut off by the network or a restarting service is
replayed from its first window (``retries`` times): ingest is an upsert by stable key and skips rows stored with the
same content, so a replay, like re-running the whole command after a crash, writes nothing twice. Per-window
refusals of the service come back as ``failed`` items naming their file.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from motion_retrieval.data.record import MotionRecord
from motion_retrieval.data.shards import RecordWalk, Shard
from motion_retrieval.errors import ConfigError

log = logging.getLogger(__name__)

WIRE_FORMATS = ("auto", "features", "joints")
# Status codes after which a stream is replayed: the service or the network went away, or it shed load.
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


@dataclass(frozen=True)
class RemoteIngestConfig:
    window_seconds: float = 10.0  # longer takes are cut into windows (as a local ingest: the encoder sees 10 s)
    stride_seconds: float = 5.0  # start-to-start distance of windows
    stream_windows: int = 256  # windows per IngestMotions call: bounds one call's duration and what a replay resends
    stream_timeout_s: float = 900.0  # deadline of one IngestMotions call
    retries: int = 3  # replays of a call cut off with UNAVAILABLE / RESOURCE_EXHAUSTED
    retry_backoff_s: float = 1.0  # first wait before a replay; doubles each time
    wire: str = "auto"  # "auto" (smaller of joints and features), "features" or "joints" (when the file has them)

    def __post_init__(self) -> None:
        if self.wire not in WIRE_FORMATS:
            raise ConfigError(f"wire format {self.wire!r}: expected one of {', '.join(WIRE_FORMATS)}")
        if self.stream_windows < 1:
            raise ConfigError(f"stream_windows must be >= 1, got {self.stream_windows}")
        if not (self.window_seconds > 0 and 0 < self.stride_seconds <= self.window_seconds):
            raise ConfigError(f"need 0 < stride <= window seconds, got {self.stride_seconds}, {self.window_seconds}")


@dataclass
class RemoteProblem:
    """A file or window that was not ingested, and why (the fields of the plugin's SkippedItem)."""

    source: str
    reason: str
    record_id: str | None = None
    start_s: float | None = None
    end_s: float | None = None


@dataclass
class RemoteIngestSummary:
    """What an ingest through the service did (the keys of a local ingest's summary, plus the service's address)."""

    model_id: str
    collection: str
    service: str
    shard: str = "0/1"
    files: int = 0  # files looked at (read or failed), not PATH arguments
    records: int = 0  # motions read
    windows: int = 0  # windows sent (motion rows to be)
    sent_bytes: int = 0  # motion tensors on the wire
    ingested: int = 0  # motion rows the service wrote (new or changed)
    unchanged: int = 0  # already stored with the same content
    captions: int = 0
    streams: int = 0  # IngestMotions calls that completed
    replays: int = 0
    skipped: list[RemoteProblem] = field(default_factory=list)  # refused here: unreadable or unusable files
    failed: list[RemoteProblem] = field(default_factory=list)  # refused by the service
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Sent:
    """Where a streamed window came from, to name its file when the service refuses it."""

    source: str
    record_id: str
    start_s: float
    end_s: float


def ingest_paths(
    client,
    paths: Sequence[str | Path],
    *,
    reader: Callable[..., Iterable[MotionRecord]] | None = None,
    reader_options: dict[str, Any] | None = None,
    shard: Shard | None = None,
    config: RemoteIngestConfig | None = None,
    progress: bool = False,
    summary: RemoteIngestSummary | None = None,
) -> RemoteIngestSummary:
    """Read ``paths`` (files or folders, one ``shard`` of them) and ingest them into the collections of the service
    ``client`` talks to. ``reader`` defaults to ``load_path`` with ``reader_options`` (units, up, fps, skeleton,
    rig, rig_map, ...). ``summary`` may be passed in to watch it fill (progress reporting); it is returned.
    Raises ``grpc.RpcError`` when the service refuses the whole call (auth, unavailable after the retries)."""
    from tqdm import tqdm

    config = config or RemoteIngestConfig()
    shard = shard or Shard()
    info = client.model_info()
    if summary is None:
        summary = RemoteIngestSummary(model_id=info["model_id"], collection="", service=client.target)
    summary.model_id, summary.shard = info["model_id"], str(shard)
    summary.collection = _collection_name(client)
    walk = RecordWalk(paths, reader or _default_reader(config, reader_options or {}), shard)
    items = _items(walk, config, summary)
    started = time.perf_counter()
    bar = tqdm(desc=f"ingest via {client.target}", unit="window", disable=not progress, leave=False)
    try:
        while True:
            chunk: list[tuple[dict[str, Any], _Sent]] = []
            source = _Chunk(items, config.stream_windows, chunk)
            response = _stream(client, source, chunk, config, summary)
            if response is None:  # nothing left to send
                break
            _account(response, chunk, summary)
            bar.update(len(chunk))
            log.info("shard %s: %d files, %d windows sent, %d written, %d unchanged, %d skipped, %d failed",
                     summary.shard, summary.files, summary.windows, summary.ingested, summary.unchanged,
                     len(summary.skipped), len(summary.failed))
            if source.exhausted:
                break
    finally:
        bar.close()
        summary.files = len(walk.files)
        summary.seconds = round(time.perf_counter() - started, 3)
    return summary


class _Chunk:
    """Up to ``limit`` items of the shared item iterator, remembered in ``sent`` as gRPC pulls them (the replay
    buffer of the call); iterating again replays what was pulled, then goes on."""

    def __init__(self, items: Iterator[tuple[dict[str, Any], _Sent]], limit: int,
                 sent: list[tuple[dict[str, Any], _Sent]]):
        self._items = items
        self._limit = limit
        self._sent = sent
        self.exhausted = False

    def peek(self) -> bool:
        """Pull the first item; False when there is none (no call is made for an empty chunk)."""
        if not self._sent:
            nxt = next(self._items, None)
            if nxt is None:
                self.exhausted = True
                return False
            self._sent.append(nxt)
        return True

    def records(self) -> Iterator[dict[str, Any]]:
        for item, _ in list(self._sent):
            yield item
        while len(self._sent) < self._limit:
            nxt = next(self._items, None)
            if nxt is None:
                self.exhausted = True
                return
            self._sent.append(nxt)
            yield nxt[0]


def _stream(client, source: _Chunk, chunk: list, config: RemoteIngestConfig, summary: RemoteIngestSummary):
    """One IngestMotions call over ``source`` (replayed on retryable failures); None when there was nothing to send."""
    if not source.peek():
        return None
    wait = config.retry_backoff_s
    for attempt in range(config.retries + 1):
        try:
            response = client.ingest(source.records(), timeout=config.stream_timeout_s)
            summary.streams += 1
            return response
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code not in _RETRYABLE or attempt == config.retries:
                raise
            summary.replays += 1
            log.warning("IngestMotions to %s failed (%s: %s); replaying %d windows in %.1f s (attempt %d of %d)",
                        client.target, code.name, exc.details() if hasattr(exc, "details") else exc, len(chunk), wait,
                        attempt + 1, config.retries)
            time.sleep(wait)
            wait *= 2
    raise AssertionError("unreachable")  # the loop returns or raises


def _account(response: dict[str, Any], chunk: list[tuple[dict[str, Any], _Sent]],
             summary: RemoteIngestSummary) -> None:
    summary.ingested += response["written"]
    summary.unchanged += response["unchanged"]
    summary.captions += response["caption_rows"]
    reported = set()
    for error in response["errors"]:
        reported.add(error["index"])
        sent = chunk[error["index"]][1] if error["index"] < len(chunk) else None
        summary.failed.append(_problem(sent, error["id"], error["message"]))
    missing = response["failed"] - len(reported)  # beyond the first 100 errors the service lists
    if missing > 0:
        summary.failed.append(RemoteProblem(f"service {summary.service}", f"{missing} more windows refused (the "
                                            "service lists the first 100 of a call)"))


def _problem(sent: _Sent | None, item_id: str, message: str) -> RemoteProblem:
    if sent is None:
        return RemoteProblem("", message, item_id or None)
    return RemoteProblem(sent.source, message, sent.record_id, sent.start_s, sent.end_s)


# ----------------------------------------------------------------------------------------------------- items
def _items(walk: RecordWalk, config: RemoteIngestConfig,
           summary: RemoteIngestSummary) -> Iterator[tuple[dict[str, Any], _Sent]]:
    """(MotionItem fields, where it came from) for every window of every record; per-file failures go to summary.skipped
    as the walk meets them."""
    from motion_retrieval.data.windows import split_into_windows

    reported = 0
    for record in walk:
        summary.files = len(walk.files)
        reported = _skip_errors(walk, summary, reported)
        summary.records += 1
        try:
            windows = [_unplaceholder(w) for w in split_into_windows(_placeholder(record), config.window_seconds,
                                                                     config.stride_seconds)]
        except Exception as exc:  # noqa: BLE001 (one record's failure is reported with its file, the rest goes on)
            summary.skipped.append(RemoteProblem(record.source, f"cannot window it: {exc}", record.id))
            continue
        for window in windows:
            try:
                item, size = _motion_item(window, config.wire)
            except ValueError as exc:
                summary.skipped.append(RemoteProblem(record.source, str(exc), window.id))
                continue
            summary.windows += 1
            summary.sent_bytes += size
            end = window.end if window.end is not None else window.start + window.duration
            yield item, _Sent(record.source, window.id, float(window.start), float(end))
    summary.files = len(walk.files)
    _skip_errors(walk, summary, reported)


def _skip_errors(walk: RecordWalk, summary: RemoteIngestSummary, reported: int) -> int:
    for error in walk.errors[reported:]:
        summary.skipped.append(RemoteProblem(error.path or "", error.problem))
    return len(walk.errors)


def _placeholder(record: MotionRecord) -> MotionRecord:
    """A joints-only record windowed as if it had features: feature frame t needs joint frames t and t + 1, so a
    zero-width (T - 1, 0) stand-in makes the windower cut the same spans (and keep one more joint frame per window)
    as for a record read with features."""
    if record.features is None and record.joints is not None and len(record.joints) >= 2:
        return dataclasses.replace(record, features=np.zeros((len(record.joints) - 1, 0), np.float32))
    return record


def _unplaceholder(window: MotionRecord) -> MotionRecord:
    if window.features is not None and window.features.ndim == 2 and window.features.shape[1] == 0:
        return dataclasses.replace(window, features=None)
    return window


def _motion_item(window: MotionRecord, wire: str) -> tuple[dict[str, Any], int]:
    """The window as the fields of a MotionItem (``client.motion_item`` encodes them) with only the smaller (or the
    asked) encoding set, and the bytes of its tensor."""
    features, joints = window.features, window.joints
    if wire == "features" and features is None:
        raise ValueError("no 263-d features in this file (joints only); use the wire format auto or joints")
    if features is None and joints is None:
        raise ValueError("neither features nor joints")
    features_bytes = None if features is None else int(features.size) * 4
    joints_bytes = None if joints is None else int(joints.size) * 4
    use_joints = joints is not None and (
        wire == "joints" or features is None or (wire == "auto" and joints_bytes < features_bytes))
    item = {
        "id": window.id, "dataset": window.dataset, "captions": window.captions, "source": window.source,
        "tags": window.tags, "split": window.split, "start": window.start,
        "features": None if use_joints else np.asarray(features, np.float32),
        "joints": np.asarray(joints, np.float32) if use_joints else None, "skeleton": "smpl22", "fps": window.fps,
    }
    return item, joints_bytes if use_joints else features_bytes


def _default_reader(config: RemoteIngestConfig, options: dict[str, Any]):
    from motion_retrieval.data.load import load_path

    if config.wire != "features":  # features from joints are computed by the service: not twice
        options = {"compute_features": False, **options}
    return functools.partial(load_path, **options)


def _collection_name(client) -> str:
    """The service's motion collection (for the report); a service without --milvus is refused here, once."""
    try:
        return str(client.collection_stats().get("motion_collection", ""))
    except grpc.RpcError as exc:
        if hasattr(exc, "code") and exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
            raise ConfigError(f"the service at {client.target} has no collections (it runs without --milvus): "
                              "start it with --milvus URI to ingest through it") from None
        raise
