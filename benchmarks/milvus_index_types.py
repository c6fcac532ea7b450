"""HNSW against IVF_PQ on the same rows of a real Milvus 2.3.5 standalone: build time, index files and Milvus
RSS with the collection loaded, raw search p50/p99 and recall@10 against exact (numpy) top-10.

The rows and queries are those of benchmarks/milvus_scale.py (vectors clustered around the shipped model's
embeddings of procedural clips, the plugin's motions schema; the clips' captions embedded by the same model as
queries). The plugin builds only HNSW (``IndexConfig``), so the other index types are created here with pymilvus, one
after the other on the same collection (released, index dropped, the next one built and loaded), and searched from
this process with each type's own search parameters; the service is not in the loop. DiskANN is not among them: the
``milvus`` package's 2.3.5 binary cannot build it (its index node fails every DISKANN build with
``bad_function_call`` and retries for ever; Milvus 2.3 documents DiskANN as a build option, ``disk_index=ON``):
measure it on a cluster whose image has it.

    flock /tmp/milvus-standalone.lock python -m benchmarks.milvus_index_types --vectors 200000 --json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from benchmarks.milvus_scale import (
    MemoryProbe,
    clustered_vectors,
    exact_top_k,
    insert,
    percentiles,
    procedural_clips,
)

ROOT = Path(__file__).resolve().parents[1]
INDEX_TIMEOUT_S = 3600.0


def index_types(n: int, top_k: int) -> dict[str, tuple[dict, dict]]:
    """name -> (build params, search params), with the documented Milvus parameters."""
    # Milvus builds an index per segment: 4 sqrt(rows) clusters of a segment (at most about 240k rows with our
    # schema on 2.3.5), capped at 1024.
    nlist = int(min(1024, max(16, 4 * math.sqrt(n))))
    return {
        "HNSW": ({"index_type": "HNSW", "params": {"M": 16, "efConstruction": 200}}, {"ef": max(64, top_k)}),
        "IVF_PQ": ({"index_type": "IVF_PQ", "params": {"nlist": nlist, "m": 32, "nbits": 8}},
                   {"nprobe": min(nlist, 64)}),
    }


def build(client, name: str, field: str, metric: str, build_params: dict, n: int) -> float:
    params = client.prepare_index_params()
    params.add_index(field, **{"metric_type": metric, **build_params})
    started = time.perf_counter()
    client.create_index(name, params)  # pymilvus waits for the build; the loop below checks every row is indexed
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    while int(client.describe_index(name, index_name=field).get("indexed_rows", 0)) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{build_params['index_type']} not built after {INDEX_TIMEOUT_S:.0f} s")
        time.sleep(1.0)
    return time.perf_counter() - started


def measure(store, memory: MemoryProbe, kind: str, build_params: dict, search_params: dict, vectors: np.ndarray,
            queries: np.ndarray, exact: list[set[str]], top_k: int, log) -> dict:
    from motion_retrieval_milvus.schema import VECTOR_FIELD

    client, name = store.client, store.names.motions
    metric = build_params.get("metric_type", store.index.metric.upper())
    client.release_collection(name)
    client.drop_index(name, index_name=VECTOR_FIELD)
    memory.read(f"{kind}_released")
    build_s = build(client, name, VECTOR_FIELD, metric, build_params, len(vectors))
    log(f"{kind}: built in {build_s:.0f} s")
    started = time.perf_counter()
    client.load_collection(name, timeout=INDEX_TIMEOUT_S)
    load_s = time.perf_counter() - started
    memory.read(f"{kind}_loaded")
    params = {"metric_type": metric, "params": search_params}
    client.search(name, data=queries[:1].tolist(), limit=top_k, anns_field=VECTOR_FIELD, search_params=params)
    latencies, found = [], 0
    for query, truth in zip(queries, exact):
        started = time.perf_counter()
        hits = client.search(name, data=[query.tolist()], limit=top_k, anns_field=VECTOR_FIELD,
                             search_params=params)[0]
        latencies.append(time.perf_counter() - started)
        found += len(truth & {hit["id"] for hit in hits})
    p50, p99 = percentiles(latencies)
    live = {str(segment.segment_id) for segment in client.list_persistent_segments(name)}
    # RSS after load is absolute: the RSS before it still holds what the insert and earlier loads allocated (the
    # allocator keeps freed memory), so a difference would understate; the index files are the index's own size.
    return {"build": build_params, "search": search_params, "build_s": round(build_s, 1), "load_s": round(load_s, 1),
            "index_files_mib": memory.index_mib(live), "rss_loaded_mib": memory.readings[f"{kind}_loaded"],
            "search_p50_ms": p50, "search_p99_ms": p99, f"recall@{top_k}": round(found / (top_k * len(queries)), 4)}


def run(args: argparse.Namespace, milvus, log) -> dict:
    import torch

    from motion_retrieval.inference.embedder import TorchScriptEmbedder
    from motion_retrieval_milvus import IndexConfig, MilvusConfig, MotionStore
    from motion_retrieval_milvus.schema import VECTOR_FIELD

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    embedder = TorchScriptEmbedder(args.model_repository)
    features, captions = procedural_clips(max(args.anchors, math.ceil(args.queries / 3)), args.seed,
                                          embedder.max_frames)
    anchors = embedder.embed_motions(features[:args.anchors])  # (K, D)
    texts = [c for per_clip in captions for c in per_clip][:args.queries]
    queries = embedder.embed_texts(texts)  # (Q, D)
    vectors = clustered_vectors(anchors, args.vectors, args.seed)  # (N, D)
    exact = exact_top_k(vectors, queries, args.top_k)
    memory = MemoryProbe(milvus)
    memory.read("empty")
    store = MotionStore.open(MilvusConfig(milvus.uri, timeout=600), embedder.model_id, embedder.dim,
                             prefix=f"idx{uuid.uuid4().hex[:6]}", index=IndexConfig(kind="HNSW"))
    results: dict[str, dict] = {}
    try:
        store.client.release_collection(store.names.motions)
        store.client.drop_index(store.names.motions, index_name=VECTOR_FIELD)
        insert_s = insert(store, vectors, args.batch, log)
        for kind, (build_params, search_params) in index_types(args.vectors, args.top_k).items():
            if kind not in args.types:
                continue
            try:
                results[kind] = measure(store, memory, kind, build_params, search_params, vectors, queries, exact,
                                        args.top_k, log)
            except Exception as exc:  # noqa: BLE001 (a type this server cannot build is a result, not a crash)
                results[kind] = {"error": f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"}
            log(f"{kind}: {results[kind]}")
    finally:
        store.drop()
        store.close()
    return {"vectors": args.vectors, "dim": embedder.dim, "queries": len(texts), "top_k": args.top_k,
            "insert_s": round(insert_s, 1), "milvus": "local Milvus 2.3.5 standalone",
            "raw_vectors_mib": round(vectors.nbytes / 2**20, 1), "rss_empty_mib": memory.readings["empty"],
            "index_types": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--anchors", type=int, default=128)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--types", nargs="+", default=["HNSW", "IVF_PQ"], choices=["HNSW", "IVF_PQ"])
    parser.add_argument("--model-repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (args.model_repository / "motion_retrieval.json").is_file():
        raise SystemExit(f"{args.model_repository}: no exported model repository (make export)")

    def log(message: str) -> None:
        print(f"[milvus_index_types] {message}", file=sys.stderr, flush=True)

    from motion_retrieval_milvus.server_fixture import LocalMilvusServer

    with LocalMilvusServer() as milvus:
        result = run(args, milvus, log)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"{result['vectors']} x {result['dim']}-d, {result['queries']} caption queries, top-{result['top_k']}")
        for kind, r in result["index_types"].items():
            if "error" in r:
                print(f"{kind:>8}: {r['error']}")
                continue
            recall_key = f"recall@{result['top_k']}"
            print(f"{kind:>8}: build {r['build_s']} s, load {r['load_s']} s, index files {r['index_files_mib']} MiB, "
                  f"Milvus RSS loaded {r['rss_loaded_mib']} MiB (empty {result['rss_empty_mib']}), "
                  f"p50 {r['search_p50_ms']} ms, p99 {r['search_p99_ms']} ms, {recall_key} {r[recall_key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
