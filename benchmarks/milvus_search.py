"""Search latency and HNSW recall.

For each collection size (synthetic unit vectors; the size is what matters) and backend (Milvus Lite after flush,
and with --server or --local-server a real Milvus): text -> top-10 motions through ``MotionSearch`` end to end,
against the sum of the embed latency and the raw pymilvus search latency measured in the same loop, query by query
(target: end-to-end p50 <= 1.3x that sum). HNSW recall@10 against exact (numpy) top-10 on the same vectors
(target >= 0.98).

    python -m benchmarks.milvus_search                              # 10k, Lite (FLAT and HNSW)
    python -m benchmarks.milvus_search --local-server               # + a real Milvus 2.3.5 standalone (HNSW)
    python -m benchmarks.milvus_search --sizes 10000 100000 --local-server --queries 200 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.ingest import resolve_embedder

WORDS = ["a person", "someone", "a man", "a woman", "walks", "runs", "jumps", "waves", "slowly", "quickly",
         "forward", "backwards", "in a circle", "then stops", "and turns", "with both arms"]


def synthetic_rows(n: int, dim: int, seed: int):
    from motion_retrieval_milvus.store import MotionRow

    # Clustered like real embeddings (motions of one action sit together), not uniform on the sphere: uniform
    # high-dimensional vectors have nearly equal distances to everything, so no ANN index (or user) could tell
    # their top-10 apart and recall would measure noise.
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 100), dim)).astype(np.float32)  # (C, D)
    vectors = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 0.6, (n, dim)).astype(np.float32)  # (N, D)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    datasets = ["humanml3d", "kitml", "bvh"]
    rows = [
        MotionRow(id=f"{i:012x}", embedding=vectors[i], name=f"m{i}", dataset=datasets[i % 3], source=f"/data/{i}.npy",
                  start_s=0.0, end_s=5.0, duration_s=5.0, fps=20.0, num_frames=100, captions=[f"caption {i}"],
                  tags=["synthetic"], content_hash="0" * 32)
        for i in range(n)
    ]
    return vectors, rows


def queries(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=5)) for _ in range(count)]


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000.0, q)), 2)  # milliseconds


def measure(store, embedder, vectors: np.ndarray, texts: list[str], top_k: int = 10) -> dict:
    from motion_retrieval_milvus import MotionSearch

    search = MotionSearch(store, embedder)
    end_to_end, embed, raw = [], [], []
    search.text_to_motions(texts[0], top_k)  # warm-up
    for text in texts:
        started = time.perf_counter()
        hits = search.text_to_motions(text, top_k)
        end_to_end.append(time.perf_counter() - started)

        started = time.perf_counter()
        query = embedder.embed_texts([text])  # (1, D)
        embed.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.client.search(store.names.motions, data=query.tolist(), limit=top_k, anns_field="embedding",
                            search_params=store.index.search_params(store.lite, top_k))
        raw.append(time.perf_counter() - started)
        assert len(hits) == top_k
    # Recall: queries near stored motions (a stored vector + noise), index answer vs exact numpy top-k.
    rng = np.random.default_rng(7)
    picks = vectors[rng.integers(0, len(vectors), len(texts))] + rng.normal(0, 0.05, (len(texts), vectors.shape[1]))
    picks = (picks / np.linalg.norm(picks, axis=1, keepdims=True)).astype(np.float32)  # (Q, D)
    recall_hits = 0
    for query, found in zip(picks, store.search_motions(picks, top_k)):
        exact = np.argsort(-(vectors @ query))[:top_k]
        recall_hits += len({f"{i:012x}" for i in exact} & {hit["id"] for hit in found})
    p50_sum = percentile(embed, 50) + percentile(raw, 50)
    return {
        "end_to_end_p50_ms": percentile(end_to_end, 50), "end_to_end_p99_ms": percentile(end_to_end, 99),
        "embed_p50_ms": percentile(embed, 50), "raw_search_p50_ms": percentile(raw, 50),
        "raw_search_p99_ms": percentile(raw, 99), "baseline_p50_ms": round(p50_sum, 2),
        "ratio_p50": round(percentile(end_to_end, 50) / p50_sum, 3),
        f"recall@{top_k}": recall_hits / (top_k * len(texts)),
    }


def load(store, rows, batch: int = 2000) -> float:
    started = time.perf_counter()
    for first in range(0, len(rows), batch):
        store.upsert_motions(rows[first : first + batch])
    store.flush()
    # A server builds the index of flushed segments asynchronously: measure once every row is indexed.
    deadline = time.monotonic() + 600
    while not store.lite and time.monotonic() < deadline:
        info = store.client.describe_index(store.names.motions, index_name="embedding")
        if int(info.get("indexed_rows", 0)) >= len(rows) and not int(info.get("pending_index_rows", 0)):
            break
        time.sleep(0.5)
    return round(time.perf_counter() - started, 2)


def run(args: argparse.Namespace) -> dict:
    from motion_retrieval_milvus import IndexConfig, MilvusConfig, MotionStore

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        tmp = Path(tmp)
        embedder, model = resolve_embedder(args.model_repository, tmp, args.preset)
        texts = queries(args.queries, seed=1)
        server = None
        if args.local_server:
            from motion_retrieval_milvus.server_fixture import LocalMilvusServer

            server = LocalMilvusServer().start()
        server_uri = server.uri if server else args.server
        try:
            for size in args.sizes:
                vectors, rows = synthetic_rows(size, embedder.dim, seed=size)
                backends = [("lite", str(tmp / f"lite-{size}-flat.db"), IndexConfig(kind="FLAT"))]
                if args.lite_hnsw:
                    backends.append(("lite", str(tmp / f"lite-{size}-hnsw.db"), IndexConfig(kind="HNSW")))
                if server_uri:
                    backends.append(("server", server_uri, IndexConfig(kind="HNSW", search_ef=args.ef)))
                for backend, uri, index in backends:
                    store = MotionStore.open(MilvusConfig(uri, timeout=120), embedder.model_id, embedder.dim,
                                             prefix=f"b{size}", index=index)
                    try:
                        load_seconds = load(store, rows)
                        figures = measure(store, embedder, vectors, texts)
                    finally:
                        store.drop()
                        store.close()
                    results.append({"size": size, "backend": backend, "index": index.resolved_kind(store.lite),
                                    "load_s": load_seconds, **figures})
                    print(json.dumps(results[-1]), file=sys.stderr)
        finally:
            if server:
                server.stop()
    return {"model": model, "queries": args.queries, "targets": {"ratio_p50": 1.3, "hnsw_recall@10": 0.98},
            "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--ef", type=int, default=64, help="HNSW ef at search time")
    parser.add_argument("--lite-hnsw", action="store_true", help="also measure HNSW on Milvus Lite")
    parser.add_argument("--server", default=None, help="a running Milvus server URI")
    parser.add_argument("--local-server", action="store_true", help="start a real Milvus 2.3.5 for the run")
    parser.add_argument("--model-repository", type=Path, default=None)
    parser.add_argument("--preset", default="cpu", help="architecture of the untrained fallback model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    result = run(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"model: {result['model']}; {result['queries']} text queries, top-10")
        print(f"{'size':>7} {'backend':>7} {'index':>5} {'e2e p50':>8} {'e2e p99':>8} {'embed p50':>9} "
              f"{'raw p50':>8} {'raw p99':>8} {'ratio':>6} {'recall@10':>9}")
        for r in result["results"]:
            print(f"{r['size']:>7} {r['backend']:>7} {r['index']:>5} {r['end_to_end_p50_ms']:>8} "
                  f"{r['end_to_end_p99_ms']:>8} {r['embed_p50_ms']:>9} {r['raw_search_p50_ms']:>8} "
                  f"{r['raw_search_p99_ms']:>8} {r['ratio_p50']:>6} {r['recall@10']:>9.3f}")
    ok = all(r["ratio_p50"] <= 1.3 for r in result["results"]) and all(
        r["recall@10"] >= 0.98 for r in result["results"] if r["index"] == "HNSW")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
