"""Scoped tokens: a search-only token (--search-token-file) searches, previews and reads stats, and gets
PERMISSION_DENIED on IngestMotions and DeleteMotions, which leave the collection untouched; the full-access token
opens everything; the scope is checked before the request message is read."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from motion_retrieval.errors import ConfigError
from motion_retrieval_server.auth import SEARCH_SCOPE_METHODS
from motion_retrieval_server.client import MotionRetrievalClient
from motion_retrieval_server.config import ServeConfig

FULL, SEARCH = "full-access-token", "search-only-token"


@pytest.fixture(scope="module")
def scoped_server(tiny_repo, tmp_path_factory):
    from tests.server.conftest import ServerThread, make_config

    folder = tmp_path_factory.mktemp("scoped")
    with ServerThread(make_config(tiny_repo, auth_token=FULL, search_token=SEARCH,
                                  milvus_uri=str(folder / "m.db"))) as server:
        yield server


def _records():
    rng = np.random.default_rng(5)
    return [{"id": f"take{i}", "dataset": "mocap", "features": rng.standard_normal((60, 263)).astype(np.float32),
             "captions": [f"a person does thing {i}"], "source": f"/data/take{i}.npy"} for i in range(3)]


def test_search_token_searches_but_cannot_ingest_or_delete(scoped_server):
    with MotionRetrievalClient(scoped_server.target, token=FULL, timeout=120) as admin:
        assert admin.ingest(_records())["written"] == 3
    with MotionRetrievalClient(scoped_server.target, token=SEARCH, timeout=60) as reader:
        hits = reader.search_motions("a person does thing", top_k=3)
        assert len(hits) == 3
        assert reader.collection_stats()["motion_rows"] == 3
        assert reader.embed_texts(["a person walks"]).shape == (1, 256)
        for call in (lambda: reader.ingest(_records()[:1]), lambda: reader.delete(ids=[hits[0]["id"]]),
                     lambda: reader.delete(names=["take0"])):
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "search-only" in caught.value.details()
    with MotionRetrievalClient(scoped_server.target, token=FULL, timeout=60) as admin:
        assert admin.collection_stats()["motion_rows"] == 3  # nothing was deleted
        assert admin.delete(ids=[hits[0]["id"]]) == 1


def test_other_tokens_stay_unauthenticated(scoped_server):
    for token in (None, "wrong", SEARCH + "x"):
        with MotionRetrievalClient(scoped_server.target, token=token) as client, \
                pytest.raises(grpc.RpcError) as caught:
            client.search_motions("a person walks")
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_scope_lists_only_methods_that_exist_and_no_writes():
    from motion_retrieval_server.api import embedding_pb2, search_pb2

    existing = {f"/{service.full_name}/{method.name}" for module in (embedding_pb2, search_pb2)
                for service in module.DESCRIPTOR.services_by_name.values() for method in service.methods}
    assert SEARCH_SCOPE_METHODS <= existing
    assert existing - SEARCH_SCOPE_METHODS == {"/motion_retrieval.v1.SearchService/IngestMotions",
                                               "/motion_retrieval.v1.SearchService/DeleteMotions"}


def test_config_refuses_a_search_token_alone_or_equal_to_the_full_one():
    with pytest.raises(ConfigError, match="needs a full-access token"):
        ServeConfig(search_token=SEARCH)
    with pytest.raises(ConfigError, match="are the same"):
        ServeConfig(auth_token=FULL, search_token=FULL)


def test_config_reads_the_search_token_file_from_flag_and_environment(tmp_path):
    from motion_retrieval_server.config import resolve_config

    full, search = tmp_path / "full", tmp_path / "search"
    full.write_text(FULL + "\n")
    search.write_text(SEARCH + "\n")
    config = resolve_config(None, {"MOTION_RETRIEVAL_AUTH_TOKEN_FILE": str(full),
                                   "MOTION_RETRIEVAL_SEARCH_TOKEN_FILE": str(search)})
    assert (config.auth_token, config.search_token) == (FULL, SEARCH)
