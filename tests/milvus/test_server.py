"""Against a REAL Milvus 2.3.5 standalone: schema + HNSW, ingest, re-ingest, the four searches, filters (escaped
literals: 2.3.5 has no filter templating), delete, and an ingest killed with SIGKILL mid-way then re-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from milvus_testkit import ACTIONS, motion_features, npy_reader, write_motion

from milvus_plugin import IndexConfig, MilvusConfig, MotionSearch, MotionStore, SearchFilter, ingest_paths
from milvus_plugin.errors import CollectionMismatchError
from milvus_plugin.filters import prefix_filter
from motion_retrieval.inference.embedder import TorchScriptEmbedder

pytestmark = pytest.mark.milvus_server
HERE = Path(__file__).resolve().parent


@pytest.fixture()
def server_store(milvus_server, embedder):
    prefix = f"t{uuid.uuid4().hex[:8]}"  # every test gets its own collections on the shared server
    config = MilvusConfig(uri=milvus_server.uri, timeout=30)
    store = MotionStore.open(config, embedder.model_id, embedder.dim, prefix=prefix,
                             index=IndexConfig(hnsw_m=8, hnsw_ef_construction=64))
    yield store
    store.drop()
    store.close()


def ingest(paths, store, embedder, **kw):
    return ingest_paths([str(p) for p in paths], store, embedder, reader=npy_reader, progress=False, **kw)


def test_schema_ingest_reingest_and_searches(server_store, embedder, corpus_dir):
    store = server_store
    assert store.server_version.startswith("v2.3.5") and not store.templating
    assert store.stats().index["kind"] == "HNSW"
    description = store.client.describe_collection(store.names.motions)
    assert description["properties"]["motion_retrieval.model_id"] == embedder.model_id
    with pytest.raises(CollectionMismatchError, match="holds 16-d vectors"):
        MotionStore.open(store.config, embedder.model_id, 8, prefix=store.prefix)

    summary = ingest([corpus_dir], store, embedder, batch_size=3)
    assert (summary.windows, summary.ingested, summary.captions) == (10, 10, 10)
    again = ingest([corpus_dir], store, embedder, batch_size=3)
    assert (again.ingested, again.unchanged) == (0, 10)
    assert (store.stats().motions, store.stats().captions) == (10, 10)

    search = MotionSearch(store, embedder)
    assert {h.name for h in search.text_to_motions("a person walks", 2)} == {"walk_a", "walk_b"}
    assert search.text_to_captions("a man runs fast", 1)[0].text == "a man runs fast"
    jump = motion_features(ACTIONS.index("jump"), 40, 3)
    assert search.motion_to_captions(jump, 1)[0].text == "a person jumps up"
    assert search.motion_to_motions(jump, 1)[0].name == "jump_a"
    jump_id = search.motion_to_motions(jump, 1)[0].id
    assert jump_id not in {h.id for h in search.motion_to_motions(jump_id, 3)}


def test_filters_and_delete_on_the_server(server_store, embedder, corpus_dir):
    store = server_store
    ingest([corpus_dir], store, embedder)
    search = MotionSearch(store, embedder)
    names = lambda hits: sorted({h.name.split("@")[0] for h in hits})  # noqa: E731
    assert names(search.text_to_motions("x", 20, SearchFilter(dataset="kitml"))) == ["wave_kit"]
    assert names(search.text_to_motions("x", 20, SearchFilter(max_duration=2.5))) == ["jump_a", "wave_kit"]
    assert names(search.text_to_motions("x", 20, SearchFilter(tags_any=["fast", "slow"]))) == ["run_a", "walk_b"]
    assert names(search.text_to_motions("x", 20, SearchFilter(tags_all=["locomotion", "slow"]))) == ["walk_b"]
    assert len(search.text_to_motions("x", 20, SearchFilter(fps=20))) == 10
    prefix = str(corpus_dir / "walk_")
    assert names(search.text_to_motions("x", 20, SearchFilter(source_prefix=prefix))) == ["walk_a", "walk_b"]
    assert search.text_to_motions("x", 20, SearchFilter(source_prefix='" or source != "')) == []
    assert search.text_to_motions("x", 20, SearchFilter(source_prefix=str(corpus_dir) + '\\" || true || "')) == []

    assert store.delete_source(str(corpus_dir / "kick_long.npy")) == 4
    assert (store.stats().motions, store.stats().captions) == (6, 6)
    assert "kick_long" not in names(search.text_to_motions("kick", 10))
    assert ingest([corpus_dir], store, embedder).ingested == 4
    assert store.stats().motions == 10


def test_ingest_killed_midway_then_rerun_has_exactly_the_expected_rows(milvus_server, model_repository, tmp_path):
    corpus = tmp_path / "many"
    corpus.mkdir()
    for i in range(24):
        write_motion(corpus, f"m{i:02d}", i % len(ACTIONS), 30 + i, 100 + i, [f"a person does {ACTIONS[i % 6]} {i}"])
    prefix = f"kill{uuid.uuid4().hex[:6]}"
    # The child embeds with the real exported towers, slowed per batch so that the kill lands between batches
    # deterministically late enough (after >= 2 of its 6 batches).
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(HERE)!r})
        from milvus_testkit import npy_reader
        from milvus_plugin import MilvusConfig, MotionStore, ingest_paths
        from motion_retrieval.inference.embedder import TorchScriptEmbedder

        class Slow(TorchScriptEmbedder):
            def embed_motions(self, motions):
                time.sleep(0.7)
                return super().embed_motions(motions)

        embedder = Slow({str(model_repository)!r})
        store = MotionStore.open(MilvusConfig({milvus_server.uri!r}), embedder.model_id, embedder.dim,
                                 prefix={prefix!r})
        ingest_paths([{str(corpus)!r}], store, embedder, batch_size=4, reader=npy_reader, progress=False)
        print("finished")
    """)
    embedder = TorchScriptEmbedder(model_repository)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.2)
            if store is None:
                try:
                    store = MotionStore.open(MilvusConfig(milvus_server.uri), embedder.model_id, embedder.dim,
                                             prefix=prefix, create=False)
                except Exception:  # the child has not created the collections yet
                    continue
            if store.count(store.names.motions) >= 8:
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()[-2000:]
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        if child.stdout:
            child.stdout.close()
            child.stderr.close()
    before = store.count(store.names.motions)
    assert 8 <= before < 24

    class Counting:
        """The same real embedder, counting what the re-run embeds."""

        model_id, dim = embedder.model_id, embedder.dim
        rows = 0

        def embed_motions(self, motions):
            Counting.rows += len(motions)
            return embedder.embed_motions(motions)

        def embed_texts(self, texts):
            return embedder.embed_texts(texts)

    summary = ingest_paths([corpus], store, Counting(), batch_size=4, reader=npy_reader, progress=False)
    assert summary.unchanged == before and summary.ingested == 24 - before == Counting.rows
    assert (store.count(store.names.motions), store.count(store.names.captions)) == (24, 24)
    ids = store.query_ids(prefix_filter("source", str(corpus)))
    assert len(ids) == len(set(ids)) == 24
    # The rows written before the kill are the very rows a clean run writes (same keys, same vectors).
    row = store.get_motions([ids[0]], include_vectors=True)[0]
    stored = np.asarray(row["embedding"], np.float32)
    fresh = embedder.embed_motions([np.load(row["source"])])[0]
    assert np.allclose(stored, fresh, atol=1e-5)
    store.drop()
    store.close()


def test_unreachable_server_is_a_clear_error(milvus_server):
    from milvus_plugin import MilvusUnavailableError

    with pytest.raises(MilvusUnavailableError, match=r"127\.0\.0\.1:9.*unavailable"):
        MotionStore.open(MilvusConfig(uri="http://127.0.0.1:9", timeout=3), "m", 4)
