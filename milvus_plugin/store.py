"""The motion store: the two collections of one model (motions, captions) and every Milvus call made on them.

All pymilvus calls go through ``MotionStore._call`` so that failures surface as ``MilvusUnavailableError`` (server
gone, restarting or recovering: retry later; names the URI and what to check) or ``MilvusStoreError`` (the request was
refused: names the collection). Failures are told apart by pymilvus/Milvus error codes, never by message text. A
collection found unloaded (Milvus restarted) is loaded again in the background while calls answer "unavailable".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import grpc
import numpy as np
from pymilvus import MilvusClient
from pymilvus.client.types import LoadState
from pymilvus.exceptions import MilvusException

from motion_retrieval_milvus.connection import (
    NOT_LOADED,
    REFUSED,
    MilvusConfig,
    connect,
    error_kind,
    server_version,
    supports_filter_templates,
    supports_grouping_search,
)
from motion_retrieval_milvus.errors import MilvusStoreError, MilvusUnavailableError
from motion_retrieval_milvus.filters import CompiledFilter, SearchFilter, equals_filter, ids_filter, prefix_filter
from motion_retrieval_milvus.preview_store import PreviewStore
from motion_retrieval_milvus.schema import (
    CAPTION_OUTPUT_FIELDS,
    MOTION_OUTPUT_FIELDS,
    VECTOR_FIELD,
    CollectionNames,
    IndexConfig,
    check_collection,
    collection_names,
    create_collection,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_QUERY_PAGE = 1000  # rows per query page when listing ids (servers cap offset+limit at 16384)
_EXACT = {"consistency_level": "Strong"}  # reads whose answer must include every client's writes
_RELOAD_EVERY_S = 5.0  # at most one load request per collection this often while it comes back
_PROBE_TIMEOUT_S = 2.0


@dataclass
class MotionRow:
    """One motion (or window of a take) as stored in the motions collection."""

    id: str
    embedding: np.ndarray  # (dim,) float32, unit norm
    name: str
    dataset: str
    source: str
    start_s: float
    end_s: float
    duration_s: float
    fps: float
    num_frames: int
    captions: list[str]
    tags: list[str]
    content_hash: str

    def to_entity(self) -> dict[str, Any]:
        entity = asdict(self)
        entity[VECTOR_FIELD] = np.asarray(self.embedding, dtype=np.float32).tolist()
        entity["captions"] = "\n".join(self.captions)
        return entity


@dataclass
class CaptionRow:
    id: str
    embedding: np.ndarray  # (dim,) float32, unit norm
    text: str
    motion_id: str
    dataset: str

    def to_entity(self) -> dict[str, Any]:
        entity = asdict(self)
        entity[VECTOR_FIELD] = np.asarray(self.embedding, dtype=np.float32).tolist()
        return entity


@dataclass
class StoreStats:
    uri: str
    server_version: str
    model_id: str
    dim: int
    motions_collection: str
    captions_collection: str
    motions: int
    captions: int
    index: dict[str, Any] = field(default_factory=dict)


class MotionStore:
    """The collections of one model id in one Milvus (Lite file or server)."""

    def __init__(
        self,
        client: MilvusClient,
        config: MilvusConfig,
        model_id: str,
        dim: int,
        *,
        prefix: str = "",
        index: IndexConfig | None = None,
        create: bool = True,
        previews: PreviewStore | None = None,
    ):
        self.client = client
        self.previews = previews  # where ingest keeps each row's preview (preview_store.py); deletes remove them
        self.config = config
        self.model_id = model_id
        self.dim = int(dim)
        self.prefix = prefix
        self.index = index or IndexConfig()
        self.names: CollectionNames = collection_names(model_id, prefix)
        self.lite = config.is_lite
        self.server_version = server_version(client)
        self.templating = supports_filter_templates(self.server_version)
        self.supports_grouping = supports_grouping_search(self.server_version)
        self._reload_lock = threading.Lock()
        self._reloads: dict[str, float] = {}  # collection -> monotonic time of the last load request
        self._ensure_collections(create)

    @classmethod
    def open(
        cls,
        config: MilvusConfig,
        model_id: str,
        dim: int,
        *,
        prefix: str = "",
        index: IndexConfig | None = None,
        create: bool = True,
        previews: PreviewStore | None = None,
    ) -> MotionStore:
        """Connect and open (creating when ``create``) the collections of ``model_id``; ``previews``: the store that
        ingest writes each row's preview to (none: no previews are kept)."""
        return cls(connect(config), config, model_id, dim, prefix=prefix, index=index, create=create,
                   previews=previews)

    # ----------------------------------------------------------------------------------------------- set-up
    def _ensure_collections(self, create: bool) -> None:
        for kind, name in (("motions", self.names.motions), ("captions", self.names.captions)):
            if self._call("has_collection", name, self.client.has_collection, name):
                description = self._call("describe_collection", name, self.client.describe_collection, name)
                check_collection(description, name, kind, self.model_id, self.dim)
                self._call("load_collection", name, self.client.load_collection, name)
            elif create:
                log.info("creating collection %s (model %s, %d-d, %s index)", name, self.model_id, self.dim,
                         self.index.resolved_kind(self.lite))
                self._call("create_collection", name, create_collection, self.client, name, kind, self.model_id,
                           self.dim, self.index, self.lite)
            else:
                raise MilvusStoreError(
                    f"no collection {name!r} for model {self.model_id!r} in Milvus {self.config.describe()}: "
                    "ingest motions with this model first (motion-retrieval ingest)"
                )

    # ----------------------------------------------------------------------------------------------- writes
    def upsert_motions(self, rows: Sequence[MotionRow]) -> int:
        if not rows:
            return 0
        self._check_vectors([r.embedding for r in rows])
        entities = [r.to_entity() for r in rows]
        result = self._call("upsert", self.names.motions, self.client.upsert, self.names.motions, entities)
        return int(result.get("upsert_count", len(rows)))

    def upsert_captions(self, rows: Sequence[CaptionRow]) -> int:
        if not rows:
            return 0
        self._check_vectors([r.embedding for r in rows])
        entities = [r.to_entity() for r in rows]
        result = self._call("upsert", self.names.captions, self.client.upsert, self.names.captions, entities)
        return int(result.get("upsert_count", len(rows)))

    def delete_motions(self, ids: Sequence[str]) -> int:
        """Delete motions and their captions; returns how many of ``ids`` were stored."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        present = len(self.existing_hashes(ids))
        self.delete_captions_of(ids)
        self._call("delete", self.names.motions, self.client.delete, self.names.motions, ids=ids)
        if self.previews is not None:  # after the rows: a searchable row never lacks its preview
            self.previews.delete(ids)
        return present

    def delete_captions_of(self, motion_ids: Sequence[str]) -> None:
        if motion_ids:
            expr, params = ids_filter(list(motion_ids), field="motion_id").for_backend(self.templating)
            self._call("delete", self.names.captions, self.client.delete, self.names.captions, filter=expr,
                       filter_params=params)

    def delete_source(self, source: str) -> int:
        """Delete every motion (window) that came from ``source`` (as stored: an absolute path)."""
        ids = self.query_ids(equals_filter("source", source))
        return self.delete_motions(ids)

    def flush(self) -> None:
        # Lite searches unflushed rows from the memtable an order of magnitude slower than flushed ones
        # (docs/BENCHMARKS.md), and a server seals segments on flush: always flush after an ingest.
        # The two flushes mostly wait on the server (segments sealed and persisted): run them side by side.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(self._call, "flush", name, self.client.flush, name)
                       for name in (self.names.motions, self.names.captions)]
            for future in futures:
                future.result()

    def drop(self) -> None:
        for name in (self.names.motions, self.names.captions):
            self._call("drop_collection", name, self.client.drop_collection, name)

    # ----------------------------------------------------------------------------------------------- reads
    def existing_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """``{id: content_hash}`` for those of ``ids`` that are stored."""
        if not ids:
            return {}
        rows = self._call("get", self.names.motions, self.client.get, self.names.motions, ids=list(ids),
                          output_fields=["content_hash"], **_EXACT)
        return {row["id"]: row["content_hash"] for row in rows}

    def get_motions(self, ids: Sequence[str], include_vectors: bool = False) -> list[dict[str, Any]]:
        if not ids:
            return []
        output = MOTION_OUTPUT_FIELDS + ([VECTOR_FIELD] if include_vectors else [])
        rows = self._call("get", self.names.motions, self.client.get, self.names.motions, ids=list(ids),
                          output_fields=output, **_EXACT)
        by_id = {row["id"]: dict(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def motion_vector(self, motion_id: str) -> np.ndarray:
        rows = self.get_motions([motion_id], include_vectors=True)
        if not rows:
            raise MilvusStoreError(f"no motion with id {motion_id!r} in collection {self.names.motions!r}")
        return np.asarray(rows[0][VECTOR_FIELD], dtype=np.float32)

    def query_ids(self, expression: CompiledFilter, collection: str | None = None) -> list[str]:
        name = collection or self.names.motions
        expr, params = expression.for_backend(self.templating)
        ids: list[str] = []
        offset = 0
        while True:
            page = self._call("query", name, self.client.query, name, filter=expr, filter_params=params,
                              output_fields=["id"], limit=_QUERY_PAGE, offset=offset, **_EXACT)
            ids.extend(row["id"] for row in page)
            if len(page) < _QUERY_PAGE:
                return ids
            offset += _QUERY_PAGE

    def query_ids_of_name(self, name: str) -> list[str]:
        """Ids of the motions (windows) whose record id is ``name`` or a window of it (``name@start-end``)."""
        return self.query_ids(equals_filter("name", name)) + self.query_ids(prefix_filter("name", f"{name}@"))

    def count(self, collection: str) -> int:
        # count(*) is exact; get_collection_stats counts deleted and overwritten rows until compaction.
        rows = self._call("query", collection, self.client.query, collection, filter="", output_fields=["count(*)"],
                          **_EXACT)
        return int(rows[0]["count(*)"]) if rows else 0

    def stats(self) -> StoreStats:
        return StoreStats(
            uri=self.config.describe(),
            server_version=self.server_version,
            model_id=self.model_id,
            dim=self.dim,
            motions_collection=self.names.motions,
            captions_collection=self.names.captions,
            motions=self.count(self.names.motions),
            captions=self.count(self.names.captions),
            index={
                "kind": self.index.resolved_kind(self.lite),
                "metric": self.index.metric.upper(),
                **({"M": self.index.hnsw_m, "efConstruction": self.index.hnsw_ef_construction,
                    "ef": self.index.search_ef} if self.index.resolved_kind(self.lite) == "HNSW" else {}),
            },
        )

    # ----------------------------------------------------------------------------------------------- search
    def search_motions(
        self, vectors: np.ndarray, top_k: int, filters: SearchFilter | None = None, group_by: str | None = None
    ) -> list[list[dict[str, Any]]]:
        """Top-k motions per query vector: lists of ``{"id", "distance", "entity": {...}}``. ``group_by``: a scalar
        column; then the best row of each of the top-k values of that column (Milvus grouping search: only where
        ``supports_grouping``)."""
        compiled = (filters or SearchFilter()).compile()
        extra = {}
        if group_by is not None:
            if not self.supports_grouping:
                raise MilvusStoreError(f"Milvus {self.server_version} has no grouping search (2.4 or newer, or Milvus "
                                       "Lite, has it)")
            extra["group_by_field"] = group_by
        return self._search(self.names.motions, vectors, top_k, compiled, MOTION_OUTPUT_FIELDS, **extra)

    def search_captions(self, vectors: np.ndarray, top_k: int) -> list[list[dict[str, Any]]]:
        return self._search(self.names.captions, vectors, top_k, CompiledFilter("", {}), CAPTION_OUTPUT_FIELDS)

    def _search(self, name: str, vectors: np.ndarray, top_k: int, compiled: CompiledFilter,
                output_fields: list[str], **extra: Any) -> list[list[dict[str, Any]]]:
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 16384:
            raise MilvusStoreError(f"top_k must be an integer in 1..16384, got {top_k!r}")
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))  # (N, dim)
        self._check_vectors(vectors)
        expr, params = compiled.for_backend(self.templating)
        return self._call(
            "search", name, self.client.search, name, data=vectors.tolist(), filter=expr, filter_params=params,
            limit=top_k, output_fields=output_fields, search_params=self.index.search_params(self.lite, top_k),
            anns_field=VECTOR_FIELD, **extra,
        )

    # ----------------------------------------------------------------------------------------------- helpers
    def _check_vectors(self, vectors) -> None:
        for vector in vectors:
            array = np.asarray(vector)
            if array.shape != (self.dim,) or not np.all(np.isfinite(array)):
                raise MilvusStoreError(
                    f"vector of shape {array.shape} (finite: {bool(np.all(np.isfinite(array)))}) does not fit "
                    f"collection {self.names.motions!r}: {self.dim}-d finite vectors expected"
                )

    # ----------------------------------------------------------------------------------------------- readiness
    def ensure_loaded(self) -> bool:
        """True when Milvus answers and both collections are loaded. A collection found not loaded (Milvus restarted
        and has not restored it yet) is asked to load, without waiting; False until it is. Health polls this."""
        if self.lite:  # Milvus Lite serves from the file: loaded whenever it opens
            self._call("has_collection", self.names.motions, self.client.has_collection, self.names.motions)
            return True
        ready = True
        for name in (self.names.motions, self.names.captions):
            state = self._call("get_load_state", name, self.client.get_load_state, name,
                               timeout=_PROBE_TIMEOUT_S).get("state")
            if state == LoadState.NotLoad:
                self._reload(name)
            ready = ready and state == LoadState.Loaded
        return ready

    def _reload(self, collection: str) -> None:
        """Ask Milvus to load ``collection`` (asynchronously), at most once per _RELOAD_EVERY_S."""
        with self._reload_lock:
            now = time.monotonic()
            if now - self._reloads.get(collection, -_RELOAD_EVERY_S) < _RELOAD_EVERY_S:
                return
            self._reloads[collection] = now
        log.warning("Milvus collection %s is not loaded (server restarted?): loading it again", collection)
        try:
            self.client.load_collection(collection, timeout=_PROBE_TIMEOUT_S, _async=True)
        except (MilvusException, grpc.RpcError) as exc:  # the next call or health poll tries again
            log.warning("loading %s failed: %s", collection, getattr(exc, "message", "") or exc)

    def _call(self, operation: str, collection: str, fn: Callable[..., T], *args, **kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except (MilvusException, grpc.RpcError) as exc:
            message = getattr(exc, "message", "") or str(exc)
            kind = error_kind(exc)
            if kind == REFUSED:
                raise MilvusStoreError(f"Milvus {operation} on {collection!r} failed: {message}") from exc
            if kind == NOT_LOADED:
                self._reload(collection)
                raise MilvusUnavailableError(
                    self.config.describe(), f"collection {collection!r} is not loaded (Milvus restarted?); it is "
                    "being loaded again", "retry in a few seconds",
                ) from exc
            raise MilvusUnavailableError(
                self.config.describe(), f"{operation} on {collection!r} failed: {message}",
                "check that the server is running, then retry: ingest resumes and upserts are idempotent",
            ) from exc

    def close(self) -> None:
        try:
            self.client.close()
        except MilvusException:  # closing a connection to a server that already went away is not an error
            pass

    def __enter__(self) -> MotionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
