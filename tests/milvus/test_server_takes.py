"""Against a REAL Milvus 2.3.5 standalone, which has no grouping search: one hit per take by the plugin's own
grouping (refetch and keep each take's best row), paging without duplicates, and previews kept and deleted beside
the server's rows."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from milvus_testkit import motion_features

from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval_milvus import IndexConfig, MilvusConfig, MotionSearch, MotionStore
from motion_retrieval_milvus.errors import MilvusStoreError
from motion_retrieval_milvus.ingest import ingest_records
from motion_retrieval_milvus.preview_store import FilesystemPreviewStore

pytestmark = pytest.mark.milvus_server


@pytest.fixture()
def server_store(milvus_server, embedder, tmp_path):
    config = MilvusConfig(uri=milvus_server.uri, timeout=30)
    store = MotionStore.open(config, embedder.model_id, embedder.dim, prefix=f"t{uuid.uuid4().hex[:8]}",
                             index=IndexConfig(hnsw_m=8, hnsw_ef_construction=64),
                             previews=FilesystemPreviewStore(tmp_path / "previews"))
    yield store
    store.drop()
    store.close()


def test_takes_paging_and_previews_without_grouping_search(server_store, embedder):
    store = server_store
    assert store.server_version.startswith("v2.3.5") and not store.supports_grouping
    with pytest.raises(MilvusStoreError, match="no grouping search"):
        store.search_motions(np.ones((1, embedder.dim), np.float32), 5, group_by="source")
    records = [MotionRecord(id=f"take{i}", dataset="mocap", fps=20.0,
                            features=motion_features(0, 1200 if i < 2 else 100, seed=i), joints=None,
                            captions=[Caption("a person walks")], source=f"/data/take{i}.npy") for i in range(9)]
    summary = ingest_records(records, store, embedder)
    assert summary.ingested == 2 * 11 + 7
    search = MotionSearch(store, embedder)
    windows = search.text_to_motions("walk", 100, every_window=True)
    assert len(windows) == 29
    hits = search.text_to_motions("walk", 9)
    reference = [w.id for i, w in enumerate(windows) if w.source not in {x.source for x in windows[:i]}]
    assert [h.id for h in hits] == reference and len({h.source for h in hits}) == 9
    pages = [search.text_to_motions("walk", 3, offset=3 * p) for p in range(3)]
    assert [h.id for page in pages for h in page] == reference
    ids = [w.id for w in windows if w.name.startswith("take0")]
    assert store.previews.missing([w.id for w in windows]) == set()
    assert store.delete_motions(ids) == 11 and store.previews.missing(ids) == set(ids)
