"""benchmarks/milvus_scale.py end to end at a tiny N on the session's real Milvus standalone: every figure of the
report is there and sane, the recall is computed against the right rows, and the run leaves no collection behind."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pymilvus import MilvusClient

from benchmarks import milvus_scale

TOP_LEVEL_KEYS = {
    "vectors", "dim", "model", "stored_rows", "queries", "top_k", "cpus", "serve_torch_threads", "milvus", "index",
    "vector_model", "insert_s", "insert_rows_per_s", "index_build_s", "index_rows_per_s",
    "index_settled_s", "load_s", "segments",
    "rss_mib", "index_files_mib", "raw_vectors_mib", "service_p50_ms", "service_p99_ms", "raw_search_p50_ms",
    "raw_search_p99_ms", "recall@10", "short_answers",
}
MEMORY_MOMENTS = {"empty", "after_insert", "after_index_build", "after_load", "after_searches"}


@pytest.mark.milvus_server
def test_the_scale_benchmark_reports_every_figure_at_2000_vectors(milvus_server, model_repository, capsys):
    before = set(MilvusClient(uri=milvus_server.uri).list_collections())
    code = milvus_scale.main(["--vectors", "2000", "--queries", "12", "--anchors", "8", "--json",
                              "--model-repository", str(model_repository)], milvus=milvus_server)
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert set(report) == TOP_LEVEL_KEYS
    assert report["vectors"] == report["stored_rows"] == 2000
    assert report["queries"] == 12 and report["top_k"] == 10
    assert report["index"] == {"type": "HNSW", "metric": "COSINE", "M": 16, "efConstruction": 200, "ef": 64}
    assert report["segments"]["count"] >= 1 and report["segments"]["max_rows"] <= 2000
    assert set(report["rss_mib"]) == MEMORY_MOMENTS
    assert all(mib > 50 for mib in report["rss_mib"].values())  # the standalone's own RSS, read from /proc
    assert report["index_files_mib"] > 0  # the HNSW files the build wrote to the server's storage
    for key in ("insert_s", "index_build_s", "load_s", "service_p50_ms", "raw_search_p50_ms"):
        assert report[key] > 0, key
    assert report["index_settled_s"] >= report["index_build_s"]
    assert report["service_p99_ms"] >= report["service_p50_ms"]
    assert report["short_answers"] == 0  # every query got its ten hits through the service
    # At 2,000 vectors HNSW finds (nearly) the exact neighbours: a recall far below 1 means the service's hits and
    # the numpy top-10 are not over the same rows or query vectors.
    assert report["recall@10"] >= 0.9
    assert 0 < report["vector_model"]["mean_cosine_to_nearest_anchor"] < 1
    assert set(MilvusClient(uri=milvus_server.uri).list_collections()) == before  # its collections are dropped


def test_the_clustered_vectors_are_unit_and_sit_around_their_anchors():
    rng = np.random.default_rng(3)
    anchors = rng.normal(size=(4, 64)).astype(np.float32)
    anchors /= np.linalg.norm(anchors, axis=1, keepdims=True)
    vectors = milvus_scale.clustered_vectors(anchors, 5000, seed=1)  # (5000, 64)
    assert vectors.shape == (5000, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    nearest = np.max(vectors @ anchors.T, axis=1)
    expected = milvus_scale.SUB_CENTRE_COSINE * milvus_scale.WINDOW_COSINE
    assert abs(float(nearest.mean()) - expected) < 0.05  # the two noise levels compose as designed
    # and the ids the exact search names are the rows' ids
    found = milvus_scale.exact_top_k(vectors, vectors[:3], 1)
    assert found == [{milvus_scale.row_id(i)} for i in range(3)]


def test_index_bytes_count_only_the_live_segments_files(tmp_path):
    for segment, size in (("11", 100), ("12", 30), ("99", 1000)):  # 99: a segment compaction replaced
        folder = tmp_path / "data" / "index_files" / "7" / "1" / "3" / segment
        folder.mkdir(parents=True)
        (folder / "HNSW_0").write_bytes(b"x" * size)
    (tmp_path / "data" / "insert_log" / "11").mkdir(parents=True)
    (tmp_path / "data" / "insert_log" / "11" / "0").write_bytes(b"x" * 500)  # binlogs are not the index
    assert milvus_scale.index_file_bytes(tmp_path, {"11", "12"}) == 130


@pytest.mark.parametrize("n", [2000, 200_000, 100_000_000])
def test_index_type_parameters_stay_within_the_documented_ranges(n):
    from benchmarks import milvus_index_types

    types = milvus_index_types.index_types(n, top_k=10)
    assert set(types) == {"HNSW", "IVF_PQ"}
    ivf_pq, search = types["IVF_PQ"]
    assert 1 <= ivf_pq["params"]["nlist"] <= 65536 and 1 <= search["nprobe"] <= ivf_pq["params"]["nlist"]
    assert 256 % ivf_pq["params"]["m"] == 0 and 1 <= ivf_pq["params"]["nbits"] <= 16
    hnsw, hnsw_search = types["HNSW"]
    assert hnsw["params"] == {"M": 16, "efConstruction": 200} and hnsw_search["ef"] >= 10
