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
from milvus_testkit import ACTIONS, CORPUS, motion_features, npy_reader, write_motion

from motion_retrieval.inference.embedder import TorchScriptEmbedder
from motion_retrieval_milvus import IndexConfig, MilvusConfig, MotionSearch, MotionStore, SearchFilter, ingest_paths
from motion_retrieval_milvus.errors import CollectionMismatchError
from motion_retrieval_milvus.filters import prefix_filter

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
    assert len(search.text_to_motions("x", 20, SearchFilter(fps=20), every_window=True)) == 10  # every window
    assert len(search.text_to_motions("x", 20, SearchFilter(fps=20))) == len(CORPUS)  # one hit per take (fallback)
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
        from motion_retrieval_milvus import MilvusConfig, MotionStore, ingest_paths
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
    from motion_retrieval_milvus import MilvusUnavailableError

    with pytest.raises(MilvusUnavailableError, match=r"127\.0\.0\.1:9.*unavailable"):
        MotionStore.open(MilvusConfig(uri="http://127.0.0.1:9", timeout=3), "m", 4)


# -- Milvus going away and coming back ---------------------------------------------------------------------------------
def test_a_collection_found_unloaded_is_loaded_again_and_answers_unavailable_meanwhile(server_store, embedder,
                                                                                        corpus_dir):
    """What a restarted Milvus looks like to the plugin until it has restored its collections (code 101, "collection
    not loaded"): the store answers MilvusUnavailableError (UNAVAILABLE, retryable) and loads the collection again;
    it never answers a refusal (INTERNAL)."""
    from motion_retrieval_milvus import MilvusUnavailableError

    store = server_store
    ingest([corpus_dir], store, embedder)
    query = embedder.embed_texts(["a person walks"])
    store.client.release_collection(store.names.motions)
    with pytest.raises(MilvusUnavailableError, match=r"is not loaded \(Milvus restarted\?\); it is being loaded"):
        store.search_motions(query, 3)
    deadline = time.monotonic() + 60
    while not store.ensure_loaded():
        assert time.monotonic() < deadline, "the collection was not loaded again"
        time.sleep(0.5)
    assert len(store.search_motions(query, 3)[0]) == 3


def _restart_on_the_same_port(milvus_server) -> float:
    """Kill the standalone server and start it again on its data and port (clients keep their address)."""
    import socket

    from milvus import default_server

    port = default_server.listen_port

    def bind_reusing(candidate: int):  # Milvus binds with SO_REUSEADDR; the package's pre-check must too
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", candidate))
            sock.listen()
            return sock
        except OSError:
            sock.close()
            return None

    default_server.config.try_bind_port = bind_reusing
    default_server.listen_port = port
    start = time.monotonic()
    default_server.start()
    assert default_server.listen_port == port
    return time.monotonic() - start


@pytest.mark.slow  # a Milvus restart: 10-60 s
def test_service_through_a_milvus_restart(milvus_server, model_repository, caplog):
    """SearchService health follows Milvus (liveness does not), calls answer UNAVAILABLE while Milvus is away or
    recovering (never INTERNAL/UNKNOWN), one log line per failure, and search works again once Milvus is back."""
    import asyncio
    import logging
    import threading

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from milvus import default_server

    from motion_retrieval_server.app import MotionRetrievalServer
    from motion_retrieval_server.client import MotionRetrievalClient
    from motion_retrieval_server.config import ServeConfig

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    run = lambda coro, timeout=120: asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)  # noqa: E731
    service = MotionRetrievalServer(ServeConfig(
        model_repository=model_repository, host="127.0.0.1", port=0, metrics_port=0, workers=1,
        milvus_uri=milvus_server.uri, collection_prefix=f"r{uuid.uuid4().hex[:6]}", health_poll_s=0.2))

    async def start():
        await service.start()
        await service.wait_ready()

    run(start())
    target = f"127.0.0.1:{service.port}"
    names = ("", "liveness", "motion_retrieval.v1.EmbeddingService", "motion_retrieval.v1.SearchService")

    def health() -> tuple[str, ...]:
        with grpc.insecure_channel(target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            return tuple(health_pb2.HealthCheckResponse.ServingStatus.Name(
                stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status) for name in names)

    def wait_for(expected: tuple[str, ...], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (seen := health()) != expected:
            assert time.monotonic() < deadline, f"health {seen}, expected {expected}"
            time.sleep(0.2)

    def search_code(client) -> str:
        try:
            client.search_motions("a person walks", top_k=2)
            return "OK"
        except grpc.RpcError as exc:
            return exc.code().name

    try:
        wait_for(("SERVING",) * 4, 30)
        rng = np.random.default_rng(0)
        with MotionRetrievalClient(target, timeout=20) as client:
            summary = client.ingest([{"id": f"m{i}", "dataset": "restart", "captions": [f"a person walks {i}"],
                                      "features": rng.standard_normal((40, 263)).astype(np.float32)}
                                     for i in range(3)])
            assert summary["written"] == 3, summary
            assert search_code(client) == "OK"

            default_server.stop()  # Milvus goes away
            wait_for(("NOT_SERVING", "SERVING", "SERVING", "NOT_SERVING"), 15)
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                assert search_code(client) == "UNAVAILABLE"
                assert len(client.embed_texts(["a person walks"])) == 1  # embedding is unaffected
                restart_s = _restart_on_the_same_port(milvus_server)
                codes = []
                deadline = time.monotonic() + 120
                while (code := search_code(client)) != "OK":
                    codes.append(code)
                    assert time.monotonic() < deadline, codes
                    time.sleep(0.5)
            assert set(codes) <= {"UNAVAILABLE"}, codes
            wait_for(("SERVING",) * 4, 30)
            assert len(client.search_motions("a person walks", top_k=3)) == 3
        noisy = [r for r in caplog.records if r.name.startswith("pymilvus") and (r.exc_info or "\n" in r.getMessage())]
        assert not noisy, [r.getMessage()[:200] for r in noisy[:3]]
        print(f"Milvus restart {restart_s:.1f} s; {len(codes)} calls answered UNAVAILABLE before the first OK")
    finally:
        run(service.stop(1.0))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
