"""Milvus plugin: ingest motion collections into Milvus (Lite file or server) and search text <-> motion both ways.

Imports ``motion_retrieval`` only. The public API::

    from motion_retrieval_milvus import MilvusConfig, MotionStore, MotionSearch, SearchFilter, ingest_paths
    store = MotionStore.open(MilvusConfig("./motion_retrieval.db"), embedder.model_id, embedder.dim)
    ingest_paths(["data/HumanML3D"], store, embedder)
    MotionSearch(store, embedder).text_to_motions("a person walks in a circle", top_k=10)
"""

from motion_retrieval_milvus.connection import MilvusConfig, connect
from motion_retrieval_milvus.embedding_function import MotionEmbeddingFunction
from motion_retrieval_milvus.errors import (
    CollectionMismatchError,
    FilterError,
    MilvusStoreError,
    MilvusUnavailableError,
)
from motion_retrieval_milvus.filters import CompiledFilter, SearchFilter
from motion_retrieval_milvus.ingest import IngestSummary, SkippedItem, ingest_paths
from motion_retrieval_milvus.schema import CollectionNames, IndexConfig, collection_names
from motion_retrieval_milvus.search import CaptionHit, MotionHit, MotionNotFoundError, MotionSearch
from motion_retrieval_milvus.store import CaptionRow, MotionRow, MotionStore, StoreStats

__all__ = [
    "CaptionHit",
    "CaptionRow",
    "CollectionMismatchError",
    "CollectionNames",
    "CompiledFilter",
    "FilterError",
    "IndexConfig",
    "IngestSummary",
    "MilvusConfig",
    "MilvusStoreError",
    "MilvusUnavailableError",
    "MotionEmbeddingFunction",
    "MotionHit",
    "MotionNotFoundError",
    "MotionRow",
    "MotionSearch",
    "MotionStore",
    "SearchFilter",
    "SkippedItem",
    "StoreStats",
    "collection_names",
    "connect",
    "ingest_paths",
]
