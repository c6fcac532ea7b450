"""SearchService over the Milvus plugin (milvus_plugin): text -> motions, motion -> captions, motion -> motions,
streaming ingest, delete, stats. Without --milvus, server.servicers.disabled answers instead.

Milvus calls are blocking (pymilvus), so they run on a small thread pool; the embeddings they need come from the
service's own backend through :class:`BackendEmbedder`, so search and ingest use exactly the served model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

import grpc
import numpy as np

from milvus_plugin.connection import MilvusConfig
from milvus_plugin.errors import FilterError, MilvusStoreError, MilvusUnavailableError
from milvus_plugin.filters import SearchFilter
from milvus_plugin.ingest import ingest_records
from milvus_plugin.search import CaptionHit, MotionSearch, SearchHit
from milvus_plugin.store import MotionStore
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.features import FPS
from server.api import search_pb2, search_pb2_grpc
from server.backends.base import BackendUnavailable, EmbeddingBackend
from server.config import ServeConfig, ServiceLimits
from server.metrics import ServiceMetrics
from server.servicers.calls import DEFAULT_TIMEOUT_S, check_budget, status_on_error, time_budget
from server.validation import RequestError, check_text, check_top_k, decode_motion, to_features

log = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 100
_QUEUE_DEPTH = 256  # ingest items decoded ahead of the Milvus writer
_END = object()


class BackendEmbedder:
    """The Embedder protocol (model_id, dim, embed_texts, embed_motions) over the async backend, for milvus_plugin
    code running on worker threads: each call is scheduled on the service's event loop and waited for."""

    def __init__(self, backend: EmbeddingBackend, loop: asyncio.AbstractEventLoop, batch_size: int,
                 timeout: float = DEFAULT_TIMEOUT_S):
        self._backend = backend
        self._loop = loop
        self._batch_size = batch_size
        self._timeout = timeout

    @property
    def model_id(self) -> str:
        return self._backend.info.model_id

    @property
    def dim(self) -> int:
        return self._backend.info.dim

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(self._backend.embed_texts, list(texts))

    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        return self._embed(self._backend.embed_motions, list(motions))

    def _embed(self, method, items: list) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(items), self._batch_size):
            chunk = items[start:start + self._batch_size]
            future = asyncio.run_coroutine_threadsafe(method(chunk, timeout=self._timeout), self._loop)
            parts.append(future.result())
        return np.concatenate(parts)  # (N, dim)


def search_filter(message: search_pb2.MotionFilter) -> SearchFilter:
    """The typed request filter as the plugin's SearchFilter (values are bound, never formatted into text)."""
    try:
        return SearchFilter(
            dataset=message.dataset or None,
            min_duration=message.min_duration if message.HasField("min_duration") else None,
            max_duration=message.max_duration if message.HasField("max_duration") else None,
            fps=message.fps if message.HasField("fps") else None,
            tags_all=tuple(message.tags),
            tags_any=tuple(message.tags_any),
            source_prefix=message.source_prefix or None,
        )
    except FilterError as exc:
        raise RequestError("filter", str(exc)) from None


def motion_hit(hit: SearchHit) -> search_pb2.MotionHit:
    return search_pb2.MotionHit(
        id=hit.id, score=hit.score, dataset=hit.dataset, source=hit.source, start=hit.start_s, end=hit.end_s,
        fps=hit.fps, tags=hit.tags, captions=hit.captions, name=hit.name, duration=hit.duration_s,
        num_frames=hit.num_frames,
    )


def caption_hit(hit: CaptionHit) -> search_pb2.CaptionHit:
    return search_pb2.CaptionHit(text=hit.text, score=hit.score, motion_id=hit.motion_id, dataset=hit.dataset)


@contextlib.contextmanager
def milvus_errors() -> Iterator[None]:
    """Milvus failures as statuses: unreachable -> UNAVAILABLE, unknown id -> NOT_FOUND, bad filter ->
    INVALID_ARGUMENT, a collection of another model -> FAILED_PRECONDITION (ConfigError), else INTERNAL."""
    try:
        yield
    except MilvusUnavailableError as exc:
        raise BackendUnavailable(str(exc)) from None
    except FilterError as exc:
        raise RequestError("filter", str(exc)) from None
    except MilvusStoreError as exc:
        code = grpc.StatusCode.NOT_FOUND if "no motion with id" in str(exc) else grpc.StatusCode.INTERNAL
        raise RequestError("milvus", str(exc), code=code) from None


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, milvus: MilvusConfig, prefix: str, backend: EmbeddingBackend, limits: ServiceLimits,
                 metrics: ServiceMetrics, convert_executor: Executor, workers: int = 4):
        self._milvus = milvus
        self._prefix = prefix
        self._backend = backend
        self._limits = limits
        self._metrics = metrics
        self._convert_executor = convert_executor
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="milvus")
        self._embedder: BackendEmbedder | None = None
        self._search: MotionSearch | None = None
        self._open_lock = asyncio.Lock()

    @classmethod
    def from_config(cls, config: ServeConfig, backend: EmbeddingBackend, metrics: ServiceMetrics,
                    convert_executor: Executor) -> SearchServicer:
        milvus = MilvusConfig(uri=config.milvus_uri, token=config.milvus_token or "")
        return cls(milvus, config.collection_prefix, backend, config.limits, metrics, convert_executor)

    # -- lifecycle --------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """After the backend (the collections are named by its model id). Milvus being down is not fatal: calls
        answer UNAVAILABLE and the connection is retried on the next one."""
        batch = min(self._limits.max_batch_size, self._backend.info.serving.max_batch_size)
        self._embedder = BackendEmbedder(self._backend, asyncio.get_running_loop(), batch)
        try:
            with milvus_errors():
                await self._open()
        except BackendUnavailable as exc:
            log.warning("Milvus not reachable yet: %s", exc)

    async def _open(self) -> MotionSearch:
        async with self._open_lock:
            if self._search is None:
                if self._embedder is None:
                    raise BackendUnavailable("the model is still loading; retry when health reports SERVING")
                loop = asyncio.get_running_loop()
                store = await loop.run_in_executor(
                    self._executor, lambda: MotionStore.open(self._milvus, self._embedder.model_id,
                                                             self._embedder.dim, prefix=self._prefix))
                self._search = MotionSearch(store, self._embedder)
                log.info("search over %s: %s", self._milvus.describe(), store.names.motions)
            return self._search

    async def close(self) -> None:
        if self._search is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._search.store.close)
            self._search = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def is_ready(self) -> bool:
        """Milvus answers and the collections are loaded (reloaded after a Milvus restart); polled by health."""
        with milvus_errors():
            search = await self._open()
        return await asyncio.get_running_loop().run_in_executor(self._executor, search.store.ensure_loaded)

    async def _milvus_call(self, fn, *args, budget: float):
        """Run a blocking plugin call on the Milvus threads within the call's time budget."""
        loop = asyncio.get_running_loop()
        with milvus_errors():
            search = await self._open()
            return await asyncio.wait_for(loop.run_in_executor(self._executor, fn, search, *args), budget)

    async def _features(self, motion, field: str, budget: float) -> np.ndarray:
        decoded = decode_motion(motion, field, self._limits)
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(
            loop.run_in_executor(self._convert_executor, to_features, decoded, field), budget)

    # -- searches ---------------------------------------------------------------------------------------------------
    async def SearchMotions(self, request: search_pb2.SearchMotionsRequest, context):
        async with status_on_error(context, "SearchMotions"):
            text = check_text(request.text, "text", self._limits)
            top_k = check_top_k(request.top_k, self._limits)
            filters = search_filter(request.filter)
            budget = time_budget(context)
            check_budget(budget, "SearchMotions")
            vector = (await self._backend.embed_texts([text], timeout=budget))[0]  # (dim,)
            hits = await self._milvus_call(lambda s, v, k, f: s.motions_by_vector(v, k, f), vector, top_k, filters,
                                           budget=time_budget(context))
            return search_pb2.SearchMotionsResponse(hits=[motion_hit(h) for h in hits],
                                                    model_id=self._backend.info.model_id)

    async def SearchCaptions(self, request: search_pb2.SearchCaptionsRequest, context):
        async with status_on_error(context, "SearchCaptions"):
            top_k = check_top_k(request.top_k, self._limits)
            budget = time_budget(context)
            check_budget(budget, "SearchCaptions")
            features = await self._features(request.motion, "motion", budget)
            vector = (await self._backend.embed_motions([features], timeout=time_budget(context)))[0]  # (dim,)
            hits = await self._milvus_call(lambda s, v, k: s.captions_by_vector(v, k), vector, top_k,
                                           budget=time_budget(context))
            return search_pb2.SearchCaptionsResponse(hits=[caption_hit(h) for h in hits],
                                                     model_id=self._backend.info.model_id)

    async def SimilarMotions(self, request: search_pb2.SimilarMotionsRequest, context):
        async with status_on_error(context, "SimilarMotions"):
            top_k = check_top_k(request.top_k, self._limits)
            filters = search_filter(request.filter)
            budget = time_budget(context)
            check_budget(budget, "SimilarMotions")
            query = request.WhichOneof("query")
            if query == "motion_id":
                hits = await self._milvus_call(lambda s, i, k, f: s.motion_to_motions(i, k, f), request.motion_id,
                                               top_k, filters, budget=budget)
            elif query == "motion":
                features = await self._features(request.motion, "motion", budget)
                vector = (await self._backend.embed_motions([features], timeout=time_budget(context)))[0]
                hits = await self._milvus_call(lambda s, v, k, f: s.motions_by_vector(v, k, f), vector, top_k,
                                               filters, budget=time_budget(context))
            else:
                raise RequestError("query", "is empty; set motion or motion_id")
            return search_pb2.SearchMotionsResponse(hits=[motion_hit(h) for h in hits],
                                                    model_id=self._backend.info.model_id)

    # -- writes -----------------------------------------------------------------------------------------------------
    async def IngestMotions(self, request_iterator, context):
        async with status_on_error(context, "IngestMotions"):
            with milvus_errors():
                search = await self._open()
            loop = asyncio.get_running_loop()
            items: queue.Queue = queue.Queue(maxsize=_QUEUE_DEPTH)
            writer = loop.run_in_executor(
                self._executor, lambda: ingest_records(iter(items.get, _END), search.store, self._embedder))
            response = search_pb2.IngestMotionsResponse()
            origin: dict[str, int] = {}  # "source#id" -> stream index, to report the plugin's skips per item
            try:
                async for request in request_iterator:
                    index = response.received
                    response.received += 1
                    try:
                        record = await self._record(request.item, index, budget=time_budget(context))
                    except RequestError as exc:
                        _report(response, index, request.item.id, str(exc))
                        continue
                    origin[f"{record.source or f'{record.dataset}/{record.id}'}#{record.id}"] = index
                    response.accepted += 1
                    if not await _put(items, record, writer):
                        break  # the writer stopped (Milvus failed): its error is raised below
            finally:
                await _put(items, _END, writer)
            with milvus_errors():
                summary = await writer
            self._metrics.batch_size.labels(method="IngestMotions").observe(response.received)
            refused: set[int] = set()
            for item in [*summary.skipped, *summary.failed]:  # windows the plugin refused, mapped to stream items
                key = item.path.split("@", 1)[0]
                index = origin.get(item.path, origin.get(key))
                if index is None or index in refused:
                    continue
                refused.add(index)
                response.accepted -= 1
                _report(response, index, key.rpartition("#")[2], item.reason)
            response.windows, response.written = summary.windows, summary.ingested
            response.unchanged, response.caption_rows = summary.unchanged, summary.captions
            return response

    async def _record(self, item: search_pb2.MotionItem, index: int, budget: float) -> MotionRecord:
        field = f"items[{index}]"
        if not item.id.strip():
            raise RequestError(f"{field}.id", "is empty; every item needs an id (ingest upserts by it)")
        features = await self._features(item.motion, f"{field}.motion", budget)
        captions = [Caption(text=c.text, start=c.start, end=c.end) for c in item.captions if c.text.strip()]
        return MotionRecord(
            id=item.id, dataset=item.dataset or "grpc", fps=FPS, features=features, joints=None, captions=captions,
            source=item.source, split=item.split or None, start=item.start, end=None, tags=list(item.tags),
        )

    async def DeleteMotions(self, request: search_pb2.DeleteMotionsRequest, context):
        async with status_on_error(context, "DeleteMotions"):
            count = len(request.ids) + len(request.names)
            if count == 0:
                raise RequestError("ids", "is empty; give ids or names to delete")
            if count > self._limits.max_delete_ids:
                raise RequestError("ids", f"has {count} ids and names, the limit is {self._limits.max_delete_ids} "
                                          "(Limits.max_delete_ids)")

            def delete(search: MotionSearch, ids: list[str], names: list[str]) -> int:
                for name in names:
                    ids += search.store.query_ids_of_name(name)
                return search.store.delete_motions(ids)

            deleted = await self._milvus_call(delete, list(request.ids), list(request.names),
                                              budget=time_budget(context))
            return search_pb2.DeleteMotionsResponse(deleted=deleted)

    async def GetCollectionStats(self, request, context):
        async with status_on_error(context, "GetCollectionStats"):
            stats = await self._milvus_call(lambda s: s.store.stats(), budget=time_budget(context))
            return search_pb2.CollectionStats(
                motion_collection=stats.motions_collection, caption_collection=stats.captions_collection,
                motion_rows=stats.motions, caption_rows=stats.captions, model_id=stats.model_id, dim=stats.dim,
                milvus=stats.uri, server_version=stats.server_version,
                index="/".join(str(stats.index.get(k, "")) for k in ("kind", "metric")),
            )


def _report(response: search_pb2.IngestMotionsResponse, index: int, item_id: str, message: str) -> None:
    response.failed += 1
    if len(response.errors) < MAX_REPORTED_ERRORS:
        response.errors.add(index=index, id=item_id, message=message)


async def _put(items: queue.Queue, value, writer: asyncio.Future) -> bool:
    """Hand ``value`` to the writer thread without blocking the loop; False if the writer has already stopped."""
    while True:
        if writer.done():
            return False
        try:
            items.put_nowait(value)
            return True
        except queue.Full:
            await asyncio.sleep(0.005)
