"""The four searches: text -> motions, text -> captions, motion -> captions, motion -> motions.

Scores are cosine similarities of unit-norm embeddings (higher is closer). Caption searches return each distinct
text once, at its best score, unless asked for every row: a collection stores a caption per motion that has it, and
the same sentence (a motion and its mirror, a shared description) would otherwise fill the top-k with copies.
A ``MotionSearch`` refuses an embedder of another model than the store's: the vectors would not be comparable.
Without an embedder (a service that embeds queries itself) the searches by vector and by stored id work; the text
and motion queries need one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motion_retrieval.errors import ConfigError
from motion_retrieval.serving.hits import CaptionHit, MotionHit, seconds
from motion_retrieval.serving.inputs import check_text
from motion_retrieval.serving.motions import validate_motion
from motion_retrieval_milvus.errors import MilvusStoreError
from motion_retrieval_milvus.filters import SearchFilter
from motion_retrieval_milvus.schema import VECTOR_FIELD
from motion_retrieval_milvus.store import MotionStore

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2048
MAX_SEARCH_LIMIT = 16384  # Milvus's cap on the rows one search returns
# The column naming a row's take: every window of a take has its source (a file path, or "<dataset>/<id>" for
# records ingested without one), and no two takes share one.
TAKE_FIELD = "source"
_DISTINCT_GROWTH = 4  # caption rows fetched per distinct text still wanted, and the growth per refetch


class MotionNotFoundError(MilvusStoreError):
    """No stored motion has the row id a search or delete named."""

    def __init__(self, motion_id: str, collection: str):
        self.motion_id = motion_id
        self.collection = collection
        super().__init__(f"no motion with id {motion_id!r} in collection {collection!r}")


class MotionSearch:
    """Search a ``MotionStore`` with an ``Embedder`` of the same model."""

    def __init__(self, store: MotionStore, embedder=None):
        if embedder is not None and (embedder.model_id != store.model_id or int(embedder.dim) != store.dim):
            raise ConfigError(
                f"the embedder is model {embedder.model_id!r} ({embedder.dim}-d) but collection "
                f"{store.names.motions!r} holds model {store.model_id!r} ({store.dim}-d): use the same model"
            )
        self.store = store
        self.embedder = embedder

    # ----------------------------------------------------------------------------------------------- queries
    def text_to_motions(self, text: str, top_k: int = 10, filters: SearchFilter | None = None, *, offset: int = 0,
                        every_window: bool = False) -> list[MotionHit]:
        """Motions closest to ``text``: one hit per source take unless ``every_window``; ``offset`` hits skipped."""
        vector = self.embed_text(text)
        return self.motions_by_vector(vector, top_k, filters, offset=offset, every_window=every_window)

    def text_to_captions(self, text: str, top_k: int = 10, distinct: bool = True) -> list[CaptionHit]:
        return self.captions_by_vector(self.embed_text(text), top_k, distinct)

    def motion_to_captions(self, features: np.ndarray, top_k: int = 10, distinct: bool = True) -> list[CaptionHit]:
        return self.captions_by_vector(self.embed_motion(features), top_k, distinct)

    def motion_to_motions(
        self,
        query: np.ndarray | str,
        top_k: int = 10,
        filters: SearchFilter | None = None,
        exclude_self: bool = True,
        *,
        offset: int = 0,
        every_window: bool = False,
    ) -> list[MotionHit]:
        """Motions like ``query``: (T, 263) raw features, or the id of a stored motion, which is left out of the hits
        (with one hit per take, so is its take: the best window of a take is the query itself)."""
        if isinstance(query, str):
            vector = self.motion_vector(query)
            return self.motions_by_vector(vector, top_k, filters, offset=offset, every_window=every_window,
                                          exclude=query if exclude_self else None)
        return self.motions_by_vector(self.embed_motion(query), top_k, filters, offset=offset,
                                      every_window=every_window)

    def motion_vector(self, motion_id: str) -> np.ndarray:
        """The stored vector of row ``motion_id``; MotionNotFoundError when there is no such row."""
        rows = self.store.get_motions([motion_id], include_vectors=True)
        if not rows:
            raise MotionNotFoundError(motion_id, self.store.names.motions)
        return np.asarray(rows[0][VECTOR_FIELD], dtype=np.float32)  # (dim,)

    # ----------------------------------------------------------------------------------------------- by vector
    def motions_by_vector(
        self, vector: np.ndarray, top_k: int = 10, filters: SearchFilter | None = None, *, offset: int = 0,
        every_window: bool = False, exclude: str | None = None,
    ) -> list[MotionHit]:
        """Hits ``offset`` .. ``offset + top_k`` in score order. By default one hit per source take (its best
        window; a long take is indexed as 10 s windows every 5 s and would fill the list with neighbours), by
        Milvus's grouping search where the server has it (``store.supports_grouping``), else by fetching 4x, 16x,
        ... rows and keeping each source's first (best) row (also when a grouping search answers with fewer takes
        than asked, which Milvus does when a few takes hold most of the nearest rows). ``every_window``: every row
        is a hit. ``exclude``: a row id left out (with its take, when grouping). Pages are disjoint and, joined, the
        same list as one search of their total length."""
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise MilvusStoreError(f"offset must be an integer >= 0, got {offset!r}")
        want = offset + top_k + (1 if exclude is not None else 0)
        if want > MAX_SEARCH_LIMIT:
            raise MilvusStoreError(f"offset + top_k must be at most {MAX_SEARCH_LIMIT - 1} (Milvus's limit on the "
                                   f"rows of one search), got {offset} + {top_k}")
        vectors = np.asarray(vector, dtype=np.float32)[None]  # (1, dim)
        if every_window:
            rows = self.store.search_motions(vectors, want, filters)[0]
        elif self.store.supports_grouping:
            rows = self.store.search_motions(vectors, want, filters, group_by=TAKE_FIELD)[0]
            if len(rows) < want:
                # Grouping search looks at a bounded number of rows per request: when a few long takes hold most
                # of the nearest rows, it can return fewer groups than asked although more takes exist. A short
                # answer is confirmed (or completed) by grouping here.
                rows = self._best_row_per_take(vectors, want, filters)
        else:
            rows = self._best_row_per_take(vectors, want, filters)
        hits = [_motion_hit(row) for row in rows]
        if exclude is not None:
            hits = [h for h in hits if h.id != exclude]
        return hits[offset:offset + top_k]

    def _best_row_per_take(self, vectors: np.ndarray, want: int, filters: SearchFilter | None) -> list[dict]:
        """Grouping for servers without grouping search: the first ``want`` takes' best rows, from growing fetches."""
        fetch = want
        while True:
            fetch = min(fetch * _DISTINCT_GROWTH, MAX_SEARCH_LIMIT)
            rows = self.store.search_motions(vectors, fetch, filters)[0]
            best = best_per_take(rows)
            if len(best) >= want or len(rows) < fetch or fetch == MAX_SEARCH_LIMIT:
                return best[:want]

    def captions_by_vector(self, vector: np.ndarray, top_k: int = 10, distinct: bool = True) -> list[CaptionHit]:
        """The ``top_k`` closest captions. ``distinct``: each text once (compared ignoring case, spacing and final
        punctuation), the row with the best score standing for it; rows are fetched 4x, 16x, ... ``top_k`` until
        ``top_k`` distinct texts are found or the collection has no more."""
        vector = np.asarray(vector, dtype=np.float32)[None]  # (1, dim)
        if not distinct:
            return [_caption_hit(hit) for hit in self.store.search_captions(vector, top_k)[0]]
        fetch = top_k
        while True:
            fetch = min(fetch * _DISTINCT_GROWTH, MAX_SEARCH_LIMIT)
            rows = self.store.search_captions(vector, fetch)[0]
            hits = distinct_captions(_caption_hit(hit) for hit in rows)
            if len(hits) >= top_k or len(rows) < fetch or fetch == MAX_SEARCH_LIMIT:
                return hits[:top_k]

    # ----------------------------------------------------------------------------------------------- embedding
    def embed_text(self, text: str) -> np.ndarray:
        text = check_text(text, "text", MAX_TEXT_CHARS)
        return np.asarray(self._embedder().embed_texts([text.strip()]), dtype=np.float32)[0]  # (dim,)

    def embed_motion(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self._embedder().embed_motions([validate_motion(features, "motion")]), dtype=np.float32)[0]

    def _embedder(self):
        if self.embedder is None:
            raise ConfigError("this MotionSearch has no embedder: text and motion queries need one "
                              "(search by vector or by stored id works without)")
        return self.embedder

    # ----------------------------------------------------------------------------------------------- previews
    def render_previews(self, hits: Sequence[MotionHit], out_path: str | Path, max_hits: int = 5) -> Path:
        """One PNG with a stick-figure strip per hit (top first). Only motions the plugin itself ingested from a
        file that still holds them are rendered (motion_retrieval_milvus.previews)."""
        from motion_retrieval_milvus.previews import render_hits

        return render_hits(hits[:max_hits], Path(out_path), self.store)


def _motion_hit(hit: dict[str, Any]) -> MotionHit:
    entity = hit.get("entity", {})
    captions = entity.get("captions") or ""
    return MotionHit(
        id=str(hit["id"]),
        score=float(hit["distance"]),
        dataset=entity.get("dataset", ""),
        source=entity.get("source", ""),
        start_s=seconds(entity.get("start_s")),
        end_s=seconds(entity.get("end_s")),
        duration_s=seconds(entity.get("duration_s")),
        captions=[c for c in captions.split("\n") if c],
        tags=list(entity.get("tags") or []),
        name=entity.get("name", ""),
        fps=seconds(entity.get("fps")),
        num_frames=int(entity.get("num_frames", 0)),
    )


def _caption_hit(hit: dict[str, Any]) -> CaptionHit:
    entity = hit.get("entity", {})
    return CaptionHit(
        text=entity.get("text", ""),
        motion_id=entity.get("motion_id", ""),
        score=float(hit["distance"]),
        id=str(hit["id"]),
        dataset=entity.get("dataset", ""),
    )


def best_per_take(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in score order, each take (``TAKE_FIELD``) once: its first (best-scoring) row stands for it."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        take = row.get("entity", {}).get(TAKE_FIELD, "")
        if take not in seen:
            seen.add(take)
            kept.append(row)
    return kept


def caption_identity(text: str) -> str:
    """What makes two captions the same sentence: case, runs of spaces and final punctuation do not count."""
    return " ".join(text.casefold().split()).rstrip(".!?;, ")


def distinct_captions(hits) -> list[CaptionHit]:
    """Hits in score order, each text once: the first (best-scoring) row of a text stands for it."""
    seen: set[str] = set()
    kept = []
    for hit in hits:
        key = caption_identity(hit.text)
        if key not in seen:
            seen.add(key)
            kept.append(hit)
    return kept
