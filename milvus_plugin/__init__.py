"""Milvus plugin: ingest motion collections into Milvus (Lite file or server) and search text <-> motion both ways.

Imports ``motion_retrieval`` only. The public API::

    from milvus_plugin import MilvusConfig, MotionStore, MotionSearch, SearchFilter, ingest_paths
    store = MotionStore.open(MilvusConfig("./motion_retrieval.db"), embedder.model_id, embedder.dim)
    ingest_paths(["data/HumanML3D"], store, embedder)
    MotionSearch(store, embedder).text_to_motions("a person walks in a circle", top_k=10)
"""

from milvus_plugin.connection import MilvusConfig, connect
from milvus_plugin.embedding_function import MotionEmbeddingFunction
from milvus_plugin.errors import CollectionMismatchError, FilterError, MilvusStoreError, MilvusUnavailableError
from milvus_plugin.filters import CompiledFilter, SearchFilter
from milvus_plugin.ingest import IngestSummary, SkippedItem, ingest_paths
from milvus_plugin.schema import CollectionNames, IndexConfig, collection_names
from milvus_plugin.search import CaptionHit, MotionNotFoundError, MotionSearch, SearchHit, SearchResults
from milvus_plugin.store import CaptionRow, MotionRow, MotionStore, StoreStats

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
    "MotionNotFoundError",
    "MotionRow",
    "MotionSearch",
    "MotionStore",
    "SearchFilter",
    "SearchHit",
    "SearchResults",
    "SkippedItem",
    "StoreStats",
    "collection_names",
    "connect",
    "ingest_paths",
]
