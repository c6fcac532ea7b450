"""Ingest motion collections: read -> window -> embed in batches -> upsert captions, then motions -> flush.

Idempotent and resumable without a side file: each motion (or window of a take) has a stable primary key
(``motion_key``: a hash of its source path, record id and window) and a content hash of everything that goes into
its row. Before embedding a batch, ingest asks the store which keys are already there with the same content hash
and skips them, so re-ingesting an unchanged file embeds and writes nothing, and an ingest that was killed picks up
at the first batch whose motion rows did not land. Within a batch everything is embedded before anything is
written, and the captions are upserted before the motion rows: the motion row is the commit marker, so a batch cut
short between the two writes is redone whole (upserts by stable key, so nothing appears twice).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from milvus_plugin.schema import (
    CAPTION_MAX_LENGTH,
    CAPTIONS_MAX_LENGTH,
    DATASET_MAX_LENGTH,
    MAX_TAGS,
    NAME_MAX_LENGTH,
    SOURCE_MAX_LENGTH,
    TAG_MAX_LENGTH,
)
from milvus_plugin.search import validate_features
from milvus_plugin.store import CaptionRow, MotionRow, MotionStore
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.errors import ConfigError, MotionDataError

log = logging.getLogger(__name__)

Reader = Callable[..., Iterable[MotionRecord]]
Windower = Callable[..., list[MotionRecord]]


@dataclass
class SkippedItem:
    path: str
    reason: str


@dataclass
class IngestSummary:
    """What an ingest did. ``ingested``: motion rows written; ``unchanged``: already stored with the same content."""

    model_id: str
    collection: str
    files: int = 0
    records: int = 0
    windows: int = 0
    ingested: int = 0
    unchanged: int = 0
    captions: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)
    failed: list[SkippedItem] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Pending:
    key: str
    content_hash: str
    record: MotionRecord
    features: np.ndarray  # (T, 263) raw @ 20 fps
    captions: list[str]
    source: str


def motion_key(source: str, record_id: str, start: float, end: float) -> str:
    """The stable primary key of a motion window: the same file and window always give the same key."""
    text = f"{source}\x00{record_id}\x00{start:.3f}\x00{end:.3f}"
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def caption_key(motion_id: str, text: str) -> str:
    return hashlib.blake2b(f"{motion_id}\x00{text}".encode(), digest_size=16).hexdigest()


def content_hash(record: MotionRecord, features: np.ndarray, captions: Sequence[str], source: str) -> str:
    """Hash of everything stored for a motion: re-ingesting changes nothing unless one of these changed."""
    digest = hashlib.blake2b(digest_size=16)
    array = np.ascontiguousarray(features, dtype=np.float32)
    digest.update(repr(array.shape).encode())
    digest.update(array.tobytes())
    meta = [record.id, record.dataset, source, f"{record.fps:.4f}", f"{record.start:.4f}", f"{_end(record):.4f}",
            *captions, "\x01", *record.tags]
    digest.update("\x00".join(meta).encode("utf-8"))
    return digest.hexdigest()


def ingest_paths(
    paths: Sequence[str | os.PathLike],
    store: MotionStore,
    embedder,
    *,
    batch_size: int = 64,
    window_seconds: float = 10.0,
    stride_seconds: float = 5.0,
    progress: bool = True,
    reader: Reader | None = None,
    windower: Windower | None = None,
) -> IngestSummary:
    """Ingest every motion the data layer reads from ``paths`` (files or folders) into ``store``.

    ``reader`` defaults to ``motion_retrieval.data.load.load_path`` and ``windower`` to
    ``motion_retrieval.data.windows.split_into_windows``. Unreadable or invalid files are reported in
    ``summary.skipped`` and the rest goes on; Milvus becoming unreachable raises ``MilvusUnavailableError``.
    """
    if embedder.model_id != store.model_id or int(embedder.dim) != store.dim:
        raise ConfigError(
            f"the embedder is model {embedder.model_id!r} ({embedder.dim}-d) but the store is for "
            f"{store.model_id!r} ({store.dim}-d)"
        )
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    reader = reader or _default_reader()
    windower = windower or _default_windower()
    summary = IngestSummary(model_id=store.model_id, collection=store.names.motions)
    started = time.perf_counter()
    seen: set[str] = set()
    batch: list[_Pending] = []
    bar = tqdm(desc="ingest", unit="motion", disable=not progress, leave=False)
    try:
        for pending in _pending_motions(paths, reader, windower, window_seconds, stride_seconds, summary):
            if pending.key in seen:  # the same file reached twice (a folder and a file in it): once is enough
                continue
            seen.add(pending.key)
            batch.append(pending)
            if len(batch) >= batch_size:
                _write_batch(batch, store, embedder, summary)
                bar.update(len(batch))
                batch = []
        if batch:
            _write_batch(batch, store, embedder, summary)
            bar.update(len(batch))
        if summary.ingested:  # a flush seals segments (seconds on a server): only when something was written
            store.flush()
    finally:
        bar.close()
        summary.seconds = round(time.perf_counter() - started, 3)
    log.info("ingest: %d written, %d unchanged, %d captions, %d skipped, %d failed in %.1f s", summary.ingested,
             summary.unchanged, summary.captions, len(summary.skipped), len(summary.failed), summary.seconds)
    return summary


def ingest_records(
    records: Iterable[MotionRecord],
    store: MotionStore,
    embedder,
    *,
    batch_size: int = 64,
    window_seconds: float = 10.0,
    stride_seconds: float = 5.0,
    windower: Windower | None = None,
) -> IngestSummary:
    """Ingest records already in memory (the gRPC service's IngestMotions stream) like :func:`ingest_paths`: the
    same windows, stable keys, content hashes and idempotent upserts. A record's ``source`` is kept as given (it
    is what delete-by-source and filters see); an empty one becomes ``"<dataset>/<id>"``. Records are consumed
    lazily, so a stream is never held in memory whole. (Added for server/servicers/search.py.)
    """
    if embedder.model_id != store.model_id or int(embedder.dim) != store.dim:
        raise ConfigError(
            f"the embedder is model {embedder.model_id!r} ({embedder.dim}-d) but the store is for "
            f"{store.model_id!r} ({store.dim}-d)"
        )
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    windower = windower or _default_windower()
    summary = IngestSummary(model_id=store.model_id, collection=store.names.motions)
    started = time.perf_counter()
    batch: list[_Pending] = []
    try:
        for record in records:
            summary.records += 1
            source = record.source or f"{record.dataset}/{record.id}"
            try:
                windows = windower(record, max_seconds=window_seconds, stride_seconds=stride_seconds)
            except MotionDataError as exc:
                summary.skipped.append(SkippedItem(f"{source}#{record.id}", exc.problem))
                continue
            for window in windows:
                pending = _prepare(window, source, summary)
                if pending is None:
                    continue
                summary.windows += 1
                batch.append(pending)
                if len(batch) >= batch_size:
                    _write_batch(batch, store, embedder, summary)
                    batch = []
        if batch:
            _write_batch(batch, store, embedder, summary)
        if summary.ingested:
            store.flush()
    finally:
        summary.seconds = round(time.perf_counter() - started, 3)
    return summary


# ----------------------------------------------------------------------------------------------- reading
def _pending_motions(
    paths: Sequence[str | os.PathLike],
    reader: Reader,
    windower: Windower,
    window_seconds: float,
    stride_seconds: float,
    summary: IngestSummary,
) -> Iterator[_Pending]:
    for raw_path in paths:
        path = Path(raw_path).expanduser()
        if not path.exists():
            summary.skipped.append(SkippedItem(os.fspath(path), "no such file or folder"))
            continue
        summary.files += 1
        for record in _read(path, reader, summary):
            summary.records += 1
            source = os.path.abspath(record.source or path)
            try:
                windows = windower(record, max_seconds=window_seconds, stride_seconds=stride_seconds)
            except MotionDataError as exc:
                summary.skipped.append(SkippedItem(source, exc.problem))
                continue
            for window in windows:
                pending = _prepare(window, source, summary)
                if pending is not None:
                    summary.windows += 1
                    yield pending


def _read(path: Path, reader: Reader, summary: IngestSummary) -> Iterator[MotionRecord]:
    """Records of one path; files the reader cannot use are reported in ``summary.skipped``."""
    errors: list[MotionDataError] = []
    accepts_errors = "errors" in inspect.signature(reader).parameters
    try:
        yield from (reader(path, errors=errors) if accepts_errors else reader(path))
    except MotionDataError as exc:
        summary.skipped.append(SkippedItem(exc.path or os.fspath(path), exc.problem))
    for error in errors:
        summary.skipped.append(SkippedItem(error.path or os.fspath(path), error.problem))


def _prepare(record: MotionRecord, source: str, summary: IngestSummary) -> _Pending | None:
    where = f"{source}#{record.id}"
    if record.features is None:
        summary.skipped.append(SkippedItem(where, "no 263-d features (the reader gave joints only)"))
        return None
    try:
        features = validate_features(record.features, where)
    except MotionDataError as exc:
        summary.skipped.append(SkippedItem(where, exc.problem))
        return None
    if len(source) > SOURCE_MAX_LENGTH:
        summary.skipped.append(SkippedItem(where, f"source path longer than {SOURCE_MAX_LENGTH} characters"))
        return None
    captions = _caption_texts(record)
    key = motion_key(source, record.id, record.start, _end(record))
    return _Pending(key, content_hash(record, features, captions, source), record, features, captions, source)


def _caption_texts(record: MotionRecord) -> list[str]:
    texts: list[str] = []
    total = 0
    for caption in record.captions:
        text = " ".join(caption.text.split())[:CAPTION_MAX_LENGTH]  # one line: captions are stored newline-joined
        if not text or text in texts:
            continue
        if total + len(text) + 1 > CAPTIONS_MAX_LENGTH:
            log.warning("%s: keeping the first %d captions (the captions column holds %d characters)",
                        record.source, len(texts), CAPTIONS_MAX_LENGTH)
            break
        texts.append(text)
        total += len(text) + 1
    return texts


def _end(record: MotionRecord) -> float:
    return record.end if record.end is not None else record.start + record.duration


# ----------------------------------------------------------------------------------------------- writing
def _write_batch(batch: list[_Pending], store: MotionStore, embedder, summary: IngestSummary) -> None:
    stored = store.existing_hashes([p.key for p in batch])
    todo = [p for p in batch if stored.get(p.key) != p.content_hash]
    summary.unchanged += len(batch) - len(todo)
    if not todo:
        return
    try:
        motion_vectors = np.asarray(embedder.embed_motions([p.features for p in todo]), dtype=np.float32)  # (B, D)
        caption_texts = [text for p in todo for text in p.captions]
        caption_vectors = (
            np.asarray(embedder.embed_texts(caption_texts), dtype=np.float32)  # (C, D)
            if caption_texts else np.zeros((0, store.dim), np.float32)
        )
    except MotionDataError as exc:
        for p in todo:
            summary.failed.append(SkippedItem(f"{p.source}#{p.record.id}", f"embedding failed: {exc}"))
        return
    # Rows whose content changed: their old captions may differ, so drop them before writing the new ones.
    changed = [p.key for p in todo if p.key in stored]
    store.delete_captions_of(changed)
    caption_rows: list[CaptionRow] = []
    offset = 0
    for p in todo:
        for text in p.captions:
            caption_rows.append(CaptionRow(caption_key(p.key, text), caption_vectors[offset], text, p.key,
                                           p.record.dataset[:DATASET_MAX_LENGTH]))
            offset += 1
    store.upsert_captions(caption_rows)
    store.upsert_motions([_motion_row(p, vector) for p, vector in zip(todo, motion_vectors)])
    summary.ingested += len(todo)
    summary.captions += len(caption_rows)


def _motion_row(p: _Pending, vector: np.ndarray) -> MotionRow:
    record = p.record
    num_frames = int(p.features.shape[0])
    tags = list(dict.fromkeys(t[:TAG_MAX_LENGTH] for t in record.tags if t))[:MAX_TAGS]
    return MotionRow(
        id=p.key,
        embedding=vector,
        name=record.id[:NAME_MAX_LENGTH],
        dataset=record.dataset[:DATASET_MAX_LENGTH],
        source=p.source,
        start_s=float(record.start),
        end_s=float(_end(record)),
        duration_s=float(num_frames / record.fps) if record.fps else 0.0,
        fps=float(record.fps),
        num_frames=num_frames,
        captions=p.captions,
        tags=tags,
        content_hash=p.content_hash,
    )


def _default_reader() -> Reader:
    try:
        from motion_retrieval.data.load import load_path
    except ImportError as exc:  # the data layer is part of this project: say so rather than fail obscurely
        raise ConfigError(f"motion_retrieval.data.load.load_path is not available: {exc}") from exc
    return load_path


def _default_windower() -> Windower:
    from motion_retrieval.data.windows import split_into_windows

    return split_into_windows
