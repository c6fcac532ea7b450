"""SearchService over the Milvus plugin (milvus_plugin): text -> motions, motion -> captions, motion -> motions,
streaming ingest, delete, stats. Without --milvus, motion_retrieval_server.servicers.disabled answers instead.

Queries are embedded by the service's own backend on the event loop, so search and ingest use exactly the served
model; only the blocking Milvus calls (pymilvus) run on a small thread pool. Ingest walks the plugin's steps itself:
decode and check each streamed item once -> windows and batches (ingest.IngestBatches of the plugin) -> drop what
is stored unchanged (Milvus, thread) -> embed (awaited) -> confirm the encoders still serve this model -> write
(Milvus, thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor

import grpc
import numpy as np

from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.serving.hits import CaptionHit, MotionHit
from motion_retrieval.serving.inputs import (
    InputError,
    check_embeddings,
    check_motion_row_id,
    check_record_id,
)
from motion_retrieval.serving.tensors import FPS
from motion_retrieval_milvus.clips import ClipUnavailableError, PreviewNotFoundError, motion_clip, stored_preview
from motion_retrieval_milvus.connection import MilvusConfig
from motion_retrieval_milvus.errors import FilterError, MilvusStoreError, MilvusUnavailableError
from motion_retrieval_milvus.filters import SearchFilter
from motion_retrieval_milvus.ingest import IngestBatches, IngestSummary, Pending, unchanged_filter, write_batch
from motion_retrieval_milvus.preview_store import (
    PreviewConfig,
    PreviewStore,
    default_preview_store,
    open_preview_store,
)
from motion_retrieval_milvus.search import MotionNotFoundError, MotionSearch
from motion_retrieval_milvus.store import MotionStore
from motion_retrieval_server.api import search_pb2, search_pb2_grpc
from motion_retrieval_server.backends.base import BackendUnavailable, EmbeddingBackend
from motion_retrieval_server.config import ServeConfig, ServiceLimits
from motion_retrieval_server.metrics import ServiceMetrics
from motion_retrieval_server.servicers.calls import check_budget, status_on_error, time_budget
from motion_retrieval_server.servicers.embedding import to_features
from motion_retrieval_server.tracing import span
from motion_retrieval_server.validation import RequestError, check_text, check_top_k, decode_motion, encode_tensor

log = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 100
_CLIP_FORMATS = {search_pb2.CLIP_FORMAT_UNSPECIFIED: "smpl22_bvh", search_pb2.CLIP_FORMAT_SMPL22_BVH: "smpl22_bvh",
                 search_pb2.CLIP_FORMAT_JOINTS_NPY: "joints_npy", search_pb2.CLIP_FORMAT_SOURCE_BVH: "source_bvh"}


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
        raise InputError("filter", str(exc)) from None


def motion_hit(hit: MotionHit) -> search_pb2.MotionHit:
    return search_pb2.MotionHit(
        id=hit.id, score=hit.score, dataset=hit.dataset, source=hit.source, start=hit.start_s, end=hit.end_s,
        fps=hit.fps, tags=hit.tags, captions=hit.captions, name=hit.name, duration=hit.duration_s,
        num_frames=hit.num_frames,
    )


def caption_hit(hit: CaptionHit) -> search_pb2.CaptionHit:
    return search_pb2.CaptionHit(id=hit.id, text=hit.text, score=hit.score, motion_id=hit.motion_id,
                                 dataset=hit.dataset)


@contextlib.contextmanager
def milvus_errors() -> Iterator[None]:
    """Milvus failures as statuses: unreachable -> UNAVAILABLE, unknown id -> NOT_FOUND, bad filter ->
    INVALID_ARGUMENT, a collection of another model -> FAILED_PRECONDITION (ConfigError), else INTERNAL."""
    try:
        yield
    except MilvusUnavailableError as exc:
        raise BackendUnavailable(str(exc)) from None
    except FilterError as exc:
        raise InputError("filter", str(exc)) from None
    except MotionNotFoundError as exc:
        raise RequestError("motion_id", str(exc), code=grpc.StatusCode.NOT_FOUND) from None
    except PreviewNotFoundError as exc:
        raise RequestError("id", str(exc), code=grpc.StatusCode.NOT_FOUND) from None
    except ClipUnavailableError as exc:
        raise RequestError("format", str(exc), code=grpc.StatusCode.FAILED_PRECONDITION) from None
    except MilvusStoreError as exc:
        raise RequestError("milvus", str(exc), code=grpc.StatusCode.INTERNAL) from None


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, milvus: MilvusConfig, prefix: str, backend: EmbeddingBackend, limits: ServiceLimits,
                 metrics: ServiceMetrics, convert_executor: Executor, workers: int = 4, ingest_batch: int = 64,
                 previews: PreviewStore | None = None, clip_source_root: str | None = None,
                 preview_config: PreviewConfig | None = None):
        self._milvus = milvus
        self._previews = previews  # each row's preview, written at ingest (GetMotionPreview, GetMotionClip)
        self._clip_source_root = clip_source_root  # source BVH files under it may be cut (GetMotionClip)
        self._preview_config = preview_config or PreviewConfig()
        self._prefix = prefix
        self._backend = backend
        self._limits = limits
        self._metrics = metrics
        self._convert_executor = convert_executor
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="milvus")
        self._ingest_batch_size = ingest_batch
        self._search: MotionSearch | None = None
        self._open_lock = asyncio.Lock()

    @classmethod
    def from_config(cls, config: ServeConfig, backend: EmbeddingBackend, metrics: ServiceMetrics,
                    convert_executor: Executor) -> SearchServicer:
        milvus = MilvusConfig(uri=config.milvus_uri, token=config.milvus_token or "")
        previews = open_preview_store(config.preview_store or default_preview_store(config.milvus_uri))
        if previews is None:
            log.warning("no preview store (--preview-store DIR): GetMotionPreview and the SMPL-22 clips of "
                        "GetMotionClip answer NOT_FOUND")
        return cls(milvus, config.collection_prefix, backend, config.limits, metrics, convert_executor,
                   previews=previews, clip_source_root=config.clip_source_root)

    # -- lifecycle --------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """After the backend (the collections are named by its model id). Milvus being down is not fatal: calls
        answer UNAVAILABLE and the connection is retried on the next one."""
        self._ingest_batch_size = min(self._ingest_batch_size, self._backend.info.serving.max_batch_size)
        try:
            with milvus_errors():
                await self._open()
        except BackendUnavailable as exc:
            log.warning("Milvus not reachable yet: %s", exc)

    async def _open(self) -> MotionSearch:
        async with self._open_lock:
            if self._search is None:
                info = self._backend.info
                store = await self._thread(lambda: MotionStore.open(self._milvus, info.model_id, info.dim,
                                                                    prefix=self._prefix, previews=self._previews))
                self._search = MotionSearch(store)  # queries are embedded here, by the backend
                log.info("search over %s: %s", self._milvus.describe(), store.names.motions)
            return self._search

    async def close(self) -> None:
        if self._search is not None:
            await self._thread(self._search.store.close)
            self._search = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def is_ready(self) -> bool:
        """Milvus answers and the collections are loaded (reloaded after a Milvus restart); polled by health."""
        with milvus_errors():
            search = await self._open()
        return await self._thread(search.store.ensure_loaded)

    async def _thread(self, fn, *args):
        """A blocking Milvus call on the Milvus threads (one span when the call is traced)."""
        with span("milvus", **{"db.system": "milvus", "code.function": getattr(fn, "__qualname__", repr(fn))}):
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _milvus_call(self, fn, *args, budget: float):
        """Run a blocking plugin call on the Milvus threads within the call's time budget."""
        with milvus_errors():
            search = await self._open()
            return await asyncio.wait_for(self._thread(fn, search, *args), budget)

    async def _features(self, motion, field: str, budget: float) -> np.ndarray:
        return (await to_features([decode_motion(motion, field, self._limits)], self._convert_executor, budget))[0]

    async def _embed_motion(self, features: np.ndarray, field: str, budget: float) -> np.ndarray:
        return check_embeddings(await self._backend.embed_motions([features], timeout=budget), field)[0]  # (dim,)

    # -- searches ---------------------------------------------------------------------------------------------------
    async def SearchMotions(self, request: search_pb2.SearchMotionsRequest, context):
        async with status_on_error(context, "SearchMotions"):
            text = check_text(request.text, "text", self._limits)
            top_k = check_top_k(request.top_k, self._limits)
            offset = self._offset(request.offset, top_k)
            filters = search_filter(request.filter)
            budget = time_budget(context)
            check_budget(budget, "SearchMotions")
            vector = check_embeddings(await self._backend.embed_texts([text], timeout=budget), "text")[0]  # (dim,)
            every = request.every_window
            hits = await self._milvus_call(
                lambda s, v, k, f: s.motions_by_vector(v, k, f, offset=offset, every_window=every), vector, top_k,
                filters, budget=time_budget(context))
            return search_pb2.SearchMotionsResponse(hits=[motion_hit(h) for h in hits],
                                                    model_id=self._backend.info.model_id)

    async def SearchCaptions(self, request: search_pb2.SearchCaptionsRequest, context):
        async with status_on_error(context, "SearchCaptions"):
            top_k = check_top_k(request.top_k, self._limits)
            budget = time_budget(context)
            check_budget(budget, "SearchCaptions")
            features = await self._features(request.motion, "motion", budget)
            vector = await self._embed_motion(features, "motion", time_budget(context))
            distinct = not request.keep_duplicates
            hits = await self._milvus_call(lambda s, v, k: s.captions_by_vector(v, k, distinct), vector, top_k,
                                           budget=time_budget(context))
            return search_pb2.SearchCaptionsResponse(hits=[caption_hit(h) for h in hits],
                                                     model_id=self._backend.info.model_id)

    async def SimilarMotions(self, request: search_pb2.SimilarMotionsRequest, context):
        async with status_on_error(context, "SimilarMotions"):
            top_k = check_top_k(request.top_k, self._limits)
            offset = self._offset(request.offset, top_k)
            every = request.every_window
            filters = search_filter(request.filter)
            budget = time_budget(context)
            check_budget(budget, "SimilarMotions")
            query = request.WhichOneof("query")
            if query == "motion_id":
                motion_id = check_motion_row_id(request.motion_id, "motion_id")
                hits = await self._milvus_call(
                    lambda s, i, k, f: s.motion_to_motions(i, k, f, offset=offset, every_window=every), motion_id,
                    top_k, filters, budget=budget)
            elif query == "motion":
                features = await self._features(request.motion, "motion", budget)
                vector = await self._embed_motion(features, "motion", time_budget(context))
                hits = await self._milvus_call(
                    lambda s, v, k, f: s.motions_by_vector(v, k, f, offset=offset, every_window=every), vector,
                    top_k, filters, budget=time_budget(context))
            else:
                raise InputError("query", "is empty; set motion or motion_id")
            return search_pb2.SearchMotionsResponse(hits=[motion_hit(h) for h in hits],
                                                    model_id=self._backend.info.model_id)

    def _offset(self, offset: int, top_k: int) -> int:
        if offset + top_k > self._limits.max_top_k:
            raise InputError("offset", f"offset {offset} + top_k {top_k} is over {self._limits.max_top_k} "
                                       "(Limits.max_top_k): page no deeper than that")
        return offset

    # -- previews and clips -----------------------------------------------------------------------------------------
    async def GetMotionPreview(self, request: search_pb2.GetMotionPreviewRequest, context):
        async with status_on_error(context, "GetMotionPreview"):
            row_id = check_motion_row_id(request.id, "id")
            serve_fps = self._preview_config.serve_fps
            preview = await self._milvus_call(lambda s: stored_preview(s.store, row_id).at_fps(serve_fps),
                                              budget=time_budget(context))
            return search_pb2.MotionPreview(id=preview.id, fps=preview.fps, joints=encode_tensor(preview.joints),
                                            name=preview.name, start=preview.start_s, end=preview.end_s)

    async def GetMotionClip(self, request: search_pb2.GetMotionClipRequest, context):
        async with status_on_error(context, "GetMotionClip"):
            row_id = check_motion_row_id(request.id, "id")
            if request.format not in _CLIP_FORMATS:
                raise InputError("format", f"unknown ClipFormat {request.format}")
            fmt, root = _CLIP_FORMATS[request.format], self._clip_source_root
            clip = await self._milvus_call(lambda s: motion_clip(s.store, row_id, fmt, root),
                                           budget=time_budget(context))
            return search_pb2.MotionClip(filename=clip.filename, media_type=clip.media_type, data=clip.data)

    # -- writes -----------------------------------------------------------------------------------------------------
    async def IngestMotions(self, request_iterator, context):
        async with status_on_error(context, "IngestMotions"):
            with milvus_errors():
                search = await self._open()
            store = search.store
            summary = IngestSummary(model_id=store.model_id, collection=store.names.motions)
            batches = IngestBatches(summary, batch_size=self._ingest_batch_size)
            response = search_pb2.IngestMotionsResponse()
            ids: dict[int, str] = {}  # stream index -> item id, for the plugin's per-item refusals
            async for request in request_iterator:
                index = response.received
                response.received += 1
                ids[index] = request.item.id
                try:
                    record = await self._record(request.item, index, budget=time_budget(context))
                except InputError as exc:
                    _report(response, index, request.item.id, str(exc))
                    continue
                response.accepted += 1
                for batch in batches.add(record, index=index, checked=True):
                    await self._ingest_batch(batch, store, summary, context)
            rest = batches.rest()
            if rest:
                await self._ingest_batch(rest, store, summary, context)
            if summary.ingested:
                with milvus_errors():
                    await self._thread(store.flush)
            self._metrics.batch_size.labels(method="IngestMotions").observe(response.received)
            refused: set[int] = set()
            for item in [*summary.skipped, *summary.failed]:  # windows the plugin refused, per stream item
                if item.index is None or item.index in refused:
                    continue
                refused.add(item.index)
                response.accepted -= 1
                window = f" (window {item.start_s:g}-{item.end_s:g} s)" if item.start_s is not None else ""
                _report(response, item.index, ids.get(item.index, item.record_id or ""),
                        f"items[{item.index}]{window}: {item.reason}")
            response.windows, response.written = summary.windows, summary.ingested
            response.unchanged, response.caption_rows = summary.unchanged, summary.captions
            return response

    async def _ingest_batch(self, batch: list[Pending], store: MotionStore, summary: IngestSummary, context) -> None:
        """One batch: unchanged rows dropped (Milvus), the rest embedded here, the model confirmed, then written."""
        with milvus_errors():
            todo = await self._thread(unchanged_filter, batch, store, summary)
        if not todo:
            return
        budget = time_budget(context)
        check_budget(budget, "IngestMotions")
        texts = [text for p in todo for text in p.captions]
        motion_vectors = await self._backend.embed_motions([p.features for p in todo], timeout=budget)  # (B, D)
        caption_vectors = (await self._backend.embed_texts(texts, timeout=time_budget(context)) if texts
                           else np.zeros((0, motion_vectors.shape[1]), np.float32))  # (C, D)
        # The vectors must be this model's: ask the encoders again right before anything is written.
        await self._backend.verify_model(timeout=max(time_budget(context), 0.05))
        with milvus_errors():
            await self._thread(write_batch, todo, motion_vectors, caption_vectors, store, summary)

    async def _record(self, item: search_pb2.MotionItem, index: int, budget: float) -> MotionRecord:
        field = f"items[{index}]"
        check_record_id(item.id, f"{field}.id")
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
                raise InputError("ids", "is empty; give ids or names to delete")
            if count > self._limits.max_delete_ids:
                raise InputError("ids", f"has {count} ids and names, the limit is {self._limits.max_delete_ids} "
                                        "(Limits.max_delete_ids)")
            ids = [check_motion_row_id(value, f"ids[{i}]") for i, value in enumerate(request.ids)]
            names = [check_record_id(value, f"names[{i}]") for i, value in enumerate(request.names)]

            def delete(search: MotionSearch, ids: list[str], names: list[str]) -> int:
                for name in names:
                    ids += search.store.query_ids_of_name(name)
                return search.store.delete_motions(ids)

            deleted = await self._milvus_call(delete, ids, names, budget=time_budget(context))
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
