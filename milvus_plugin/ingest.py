"""Ingest motion collections: read -> window -> embed in batches -> upsert captions, then motions -> flush.

``ingest_paths`` reads files and folders and hands the records to ``ingest_records``; the gRPC service walks the same
steps itself (server/servicers/search.py: it awaits the embeddings on its event loop and sends only the Milvus calls
to a thread). The steps: :class:`IngestBatches` checks each record once and cuts it into windows and batches;
:func:`unchanged_filter` drops what is already stored (one Milvus read); :func:`embed_batch` embeds; and
:func:`write_batch` writes. Anything refused is a :class:`SkippedItem` with structured fields (source, record id,
stream index, window, reason), never a string to parse.

Idempotent and resumable without a side file: each motion (or window of a take) has a stable primary key
(``motion_key``: a hash of its source path, record id and window) and a content hash of everything that goes into
its row. Before embedding a batch, ingest asks the store which keys are already there with the same content hash
and skips them, so re-ingesting an unchanged file embeds and writes nothing, and an ingest that was killed picks up
at the first batch whose motion rows did not land. Within a batch everything is embedded before anything is
written, and the captions are upserted before the motion rows: the motion row is the commit marker, so a batch cut
short between the two writes is redone whole (upserts by stable key, so nothing appears twice). No non-finite vector
is ever written: an item the model turns into NaN/inf is reported and left out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from motion_retrieval.data.record import MotionRecord
from motion_retrieval.data.shards import RecordWalk, Shard
from motion_retrieval.errors import ConfigError, MotionDataError
from motion_retrieval.serving.inputs import InputError
from motion_retrieval.serving.motions import validate_motion
from motion_retrieval_milvus.schema import (
    CAPTION_MAX_LENGTH,
    CAPTIONS_MAX_LENGTH,
    DATASET_MAX_LENGTH,
    MAX_TAGS,
    NAME_MAX_LENGTH,
    SOURCE_MAX_LENGTH,
    TAG_MAX_LENGTH,
)
from motion_retrieval_milvus.store import CaptionRow, MotionRow, MotionStore

log = logging.getLogger(__name__)

Reader = Callable[..., Iterable[MotionRecord]]
# Content hashes of rows that ingest_paths read from files itself start with this mark: the only rows whose source
# a preview may open (motion_retrieval_milvus.previews). Rows from ingest_records / the service never carry it.
FILE_ORIGIN = "file:"
Windower = Callable[..., list[MotionRecord]]


@dataclass
class SkippedItem:
    """Something ingest refused, and why. ``index``: position of the record in the ingested stream (the gRPC
    stream's item index) when known; ``start_s``/``end_s``: the window of a long take, when only a window failed."""

    source: str  # the file (ingest_paths) or the record's source as given
    reason: str
    index: int | None = None
    record_id: str | None = None
    start_s: float | None = None
    end_s: float | None = None


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
    skipped: list[SkippedItem] = field(default_factory=list)  # refused before embedding (unreadable, invalid)
    failed: list[SkippedItem] = field(default_factory=list)  # refused by the model (embedding failed, non-finite)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Pending:
    """One motion row to be: a window of a checked record, its key and content hash."""

    key: str
    content_hash: str
    record: MotionRecord
    features: np.ndarray  # (T, 263) raw @ 20 fps, checked
    captions: list[str]
    source: str
    index: int | None  # of the record in the stream
    replaces: bool = False  # a stored row with this key has other content (its old captions must go)

    def skipped(self, reason: str) -> SkippedItem:
        return SkippedItem(self.source, reason, self.index, self.record.id, float(self.record.start),
                           float(_end(self.record)))


def motion_key(source: str, record_id: str, start: float, end: float) -> str:
    """The stable primary key of a motion window: the same file and window always give the same key."""
    text = f"{source}\x00{record_id}\x00{start:.3f}\x00{end:.3f}"
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def caption_key(motion_id: str, text: str) -> str:
    return hashlib.blake2b(f"{motion_id}\x00{text}".encode(), digest_size=16).hexdigest()


def content_hash(record: MotionRecord, features: np.ndarray, captions: Sequence[str], source: str,
                 from_file: bool = False) -> str:
    """Hash of everything stored for a motion: re-ingesting changes nothing unless one of these changed.
    ``from_file``: the plugin read it from ``source`` itself (marked with FILE_ORIGIN)."""
    digest = hashlib.blake2b(digest_size=16)
    array = np.ascontiguousarray(features, dtype=np.float32)
    digest.update(repr(array.shape).encode())
    digest.update(array.tobytes())
    meta = [record.id, record.dataset, source, f"{record.fps:.4f}", f"{record.start:.4f}", f"{_end(record):.4f}",
            *captions, "\x01", *record.tags]
    digest.update("\x00".join(meta).encode("utf-8"))
    return (FILE_ORIGIN if from_file else "") + digest.hexdigest()


def _check_pair(store: MotionStore, embedder, batch_size: int) -> None:
    if embedder.model_id != store.model_id or int(embedder.dim) != store.dim:
        raise ConfigError(
            f"the embedder is model {embedder.model_id!r} ({embedder.dim}-d) but the store is for "
            f"{store.model_id!r} ({store.dim}-d)"
        )
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")


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
    shard: Shard | None = None,
    summary: IngestSummary | None = None,
) -> IngestSummary:
    """Ingest every motion the data layer reads from ``paths`` (files or folders) into ``store``: read, then
    :func:`ingest_records`.

    ``reader`` defaults to ``motion_retrieval.data.load.load_path`` and ``windower`` to
    ``motion_retrieval.data.windows.split_into_windows``. ``shard``: only the files of that shard
    (``motion_retrieval.data.shards``: a hash of each file's path relative to its PATH argument). A file that
    cannot be read or used is reported in ``summary.skipped`` (one bad file never fails more than itself) and the
    rest goes on; ``summary.files`` counts the files looked at, not the arguments. Milvus becoming unreachable
    raises ``MilvusUnavailableError``. ``summary``: an empty one to fill (to watch progress while it runs).
    """
    _check_pair(store, embedder, batch_size)
    summary = summary or IngestSummary(model_id=store.model_id, collection=store.names.motions)
    records = _read_paths(paths, reader or _default_reader(), summary, shard)
    return ingest_records(records, store, embedder, batch_size=batch_size, window_seconds=window_seconds,
                          stride_seconds=stride_seconds, windower=windower, progress=progress, summary=summary,
                          _from_files=True)


def ingest_records(
    records: Iterable[MotionRecord],
    store: MotionStore,
    embedder,
    *,
    batch_size: int = 64,
    window_seconds: float = 10.0,
    stride_seconds: float = 5.0,
    windower: Windower | None = None,
    progress: bool = False,
    summary: IngestSummary | None = None,
    _from_files: bool = False,
) -> IngestSummary:
    """Ingest records (already in memory, or read lazily): each is checked, cut into windows of at most
    ``window_seconds``, embedded in batches of ``batch_size`` and upserted by stable key. A record's ``source`` is
    kept as given (it is what delete-by-source and filters see); an empty one becomes ``"<dataset>/<id>"``. Records
    are consumed lazily, so a stream is never held in memory whole.
    """
    _check_pair(store, embedder, batch_size)
    summary = summary or IngestSummary(model_id=store.model_id, collection=store.names.motions)
    batches = IngestBatches(summary, batch_size, window_seconds, stride_seconds, windower, from_files=_from_files)
    started = time.perf_counter()
    bar = tqdm(desc="ingest", unit="motion", disable=not progress, leave=False)
    try:
        for index, record in enumerate(records):
            for batch in batches.add(record, index=index):
                _ingest_batch(batch, store, embedder, summary)
                bar.update(len(batch))
        rest = batches.rest()
        if rest:
            _ingest_batch(rest, store, embedder, summary)
            bar.update(len(rest))
        if summary.ingested:  # a flush seals segments (seconds on a server): only when something was written
            store.flush()
    finally:
        bar.close()
        summary.seconds = round(time.perf_counter() - started, 3)
    log.info("ingest: %d written, %d unchanged, %d captions, %d skipped, %d failed in %.1f s", summary.ingested,
             summary.unchanged, summary.captions, len(summary.skipped), len(summary.failed), summary.seconds)
    return summary


def _ingest_batch(batch: list[Pending], store: MotionStore, embedder, summary: IngestSummary) -> None:
    todo = unchanged_filter(batch, store, summary)
    if todo:
        todo, motion_vectors, caption_vectors = embed_batch(todo, embedder, summary)
        write_batch(todo, motion_vectors, caption_vectors, store, summary)


# ----------------------------------------------------------------------------------------------- steps
class IngestBatches:
    """Records -> checked windows -> batches of ``batch_size`` pending rows (no I/O)."""

    def __init__(self, summary: IngestSummary, batch_size: int = 64, window_seconds: float = 10.0,
                 stride_seconds: float = 5.0, windower: Windower | None = None, from_files: bool = False):
        self.summary = summary
        self.from_files = from_files
        self.batch_size = batch_size
        self.window_seconds = window_seconds
        self.stride_seconds = stride_seconds
        self.windower = windower or _default_windower()
        self._batch: list[Pending] = []
        self._seen: set[str] = set()  # a file reached twice (a folder and a file in it) is ingested once

    def add(self, record: MotionRecord, index: int | None = None, checked: bool = False) -> list[list[Pending]]:
        """Cut ``record`` into windows; returns the batches that became full. ``checked``: its features were
        already checked by ``motion_retrieval.serving.motions.validate_motion`` (the service checks every item
        once as it decodes it), so they are not scanned again."""
        self.summary.records += 1
        source = record.source or f"{record.dataset}/{record.id}"
        item = SkippedItem(source, "", index, record.id)
        if record.features is None:
            self.summary.skipped.append(dataclasses.replace(item, reason="no 263-d features (joints only)"))
            return []
        if len(source) > SOURCE_MAX_LENGTH:
            self.summary.skipped.append(dataclasses.replace(
                item, reason=f"source longer than {SOURCE_MAX_LENGTH} characters"))
            return []
        if not checked:
            try:
                record = dataclasses.replace(record, features=validate_motion(record.features, "features"))
            except InputError as exc:
                self.summary.skipped.append(dataclasses.replace(item, reason=f"features {exc.problem}"))
                return []
        try:
            windows = self.windower(record, max_seconds=self.window_seconds, stride_seconds=self.stride_seconds)
        except MotionDataError as exc:
            self.summary.skipped.append(dataclasses.replace(item, reason=exc.problem))
            return []
        full = []
        for window in windows:
            captions = _caption_texts(window)
            features = np.asarray(window.features, dtype=np.float32)
            key = motion_key(source, window.id, window.start, _end(window))
            if key in self._seen:
                continue
            self._seen.add(key)
            self.summary.windows += 1
            digest = content_hash(window, features, captions, source, from_file=self.from_files)
            self._batch.append(Pending(key, digest, window, features, captions, source, index))
            if len(self._batch) >= self.batch_size:
                full.append(self._batch)
                self._batch = []
        return full

    def rest(self) -> list[Pending]:
        """The last, partial batch (empty when there is none)."""
        rest, self._batch = self._batch, []
        return rest


def unchanged_filter(batch: list[Pending], store: MotionStore, summary: IngestSummary) -> list[Pending]:
    """The rows of ``batch`` that are not stored yet with the same content (one Milvus read)."""
    stored = store.existing_hashes([p.key for p in batch])
    todo = [p for p in batch if stored.get(p.key) != p.content_hash]
    for p in todo:
        p.replaces = p.key in stored
    summary.unchanged += len(batch) - len(todo)
    if store.previews is not None:  # rows stored before the preview store was: give them their previews now
        unchanged = [p for p in batch if stored.get(p.key) == p.content_hash]
        missing = store.previews.missing([p.key for p in unchanged])
        store.previews.put([_preview(p) for p in unchanged if p.key in missing])
    return todo


def embed_batch(todo: list[Pending], embedder, summary: IngestSummary) -> tuple[list[Pending], np.ndarray,
                                                                                   np.ndarray]:
    """Embed the motions and captions of ``todo`` with a synchronous Embedder. An item the embedder refuses by index
    (an InputError naming ``motions[i]`` or ``texts[i]``) is reported and the rest embedded again; any other
    MotionDataError fails the batch's items. Returns (items kept, motion vectors (B, D), caption vectors (C, D))."""
    todo = list(todo)
    while todo:
        texts = [text for p in todo for text in p.captions]
        try:
            motion_vectors = np.asarray(embedder.embed_motions([p.features for p in todo]), dtype=np.float32)
            caption_vectors = (np.asarray(embedder.embed_texts(texts), dtype=np.float32) if texts
                               else np.zeros((0, motion_vectors.shape[1]), np.float32))
        except InputError as exc:
            culprit = _culprit(todo, exc)
            if culprit is None:
                raise
            summary.failed.append(todo.pop(culprit).skipped(f"embedding failed: {exc.problem}"))
            continue
        except MotionDataError as exc:
            summary.failed += [p.skipped(f"embedding failed: {exc}") for p in todo]
            return [], np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
        return todo, motion_vectors, caption_vectors
    return [], np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)


def _culprit(todo: list[Pending], exc: InputError) -> int | None:
    """Which pending item an InputError of a batch call names (``motions[i]`` or ``texts[i]``), if any."""
    index = getattr(exc, "index", None)
    if index is None:
        return None
    if exc.field.startswith("motions["):
        return index if 0 <= index < len(todo) else None
    if exc.field.startswith("texts["):
        offset = 0
        for position, p in enumerate(todo):
            offset += len(p.captions)
            if index < offset:
                return position
    return None


def write_batch(todo: list[Pending], motion_vectors: np.ndarray, caption_vectors: np.ndarray, store: MotionStore,
                summary: IngestSummary) -> None:
    """Upsert the captions, then the motion rows, of ``todo`` (vectors in the order of ``todo`` and of its
    captions). Items with any non-finite vector are reported in ``summary.failed`` and not written."""
    if not todo:
        return
    if len(motion_vectors) != len(todo) or len(caption_vectors) != sum(len(p.captions) for p in todo):
        raise ValueError(f"{len(todo)} items with {sum(len(p.captions) for p in todo)} captions got "
                         f"{len(motion_vectors)} motion and {len(caption_vectors)} caption vectors")
    finite_captions = np.isfinite(caption_vectors).all(axis=1) if len(caption_vectors) else np.ones(0, bool)
    kept: list[tuple[Pending, np.ndarray, np.ndarray]] = []
    offset = 0
    for p, vector in zip(todo, motion_vectors):
        captions = caption_vectors[offset:offset + len(p.captions)]  # (c, D)
        ok = bool(np.isfinite(vector).all() and finite_captions[offset:offset + len(p.captions)].all())
        offset += len(p.captions)
        if ok:
            kept.append((p, vector, captions))
        else:
            summary.failed.append(p.skipped("the model gives a non-finite embedding for it (values too large for "
                                            "the model; check the units and scale of the input)"))
    if not kept:
        return
    # Rows whose content changed: their old captions may differ, so drop them before writing the new ones.
    store.delete_captions_of([p.key for p, _, _ in kept if p.replaces])
    caption_rows = [CaptionRow(caption_key(p.key, text), vector, text, p.key, p.record.dataset[:DATASET_MAX_LENGTH])
                    for p, _, vectors in kept for text, vector in zip(p.captions, vectors)]
    store.upsert_captions(caption_rows)
    if store.previews is not None:  # before the row, which commits the batch: a stored row has its preview
        store.previews.put([_preview(p) for p, _, _ in kept])
    store.upsert_motions([_motion_row(p, vector) for p, vector, _ in kept])
    summary.ingested += len(kept)
    summary.captions += len(caption_rows)


# ----------------------------------------------------------------------------------------------- reading
def _read_paths(paths: Sequence[str | os.PathLike], reader: Reader, summary: IngestSummary,
                shard: Shard | None = None) -> Iterator[MotionRecord]:
    """Records of ``paths`` (of one shard); files looked at and per-file failures go into ``summary`` as they come."""
    walk = RecordWalk(paths, reader, shard)
    reported = 0
    for record in walk:
        summary.files = len(walk.files)
        reported = _report_walk_errors(walk, summary, reported)
        yield record
    summary.files = len(walk.files)
    _report_walk_errors(walk, summary, reported)


def _report_walk_errors(walk: RecordWalk, summary: IngestSummary, reported: int) -> int:
    for error in walk.errors[reported:]:
        summary.skipped.append(SkippedItem(error.path or "", error.problem))
    return len(walk.errors)


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


# ----------------------------------------------------------------------------------------------- rows
def _motion_row(p: Pending, vector: np.ndarray) -> MotionRow:
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


def _preview(p: Pending):
    from motion_retrieval_milvus.preview_store import preview_of_features

    return preview_of_features(p.key, p.record.id[:NAME_MAX_LENGTH], p.record.start, _end(p.record), p.features)


def _default_reader() -> Reader:
    try:
        from motion_retrieval.data.load import load_path
    except ImportError as exc:  # the data layer is part of this project: say so rather than fail obscurely
        raise ConfigError(f"motion_retrieval.data.load.load_path is not available: {exc}") from exc
    return load_path


def _default_windower() -> Windower:
    from motion_retrieval.data.windows import split_into_windows

    return split_into_windows
