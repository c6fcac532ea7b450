"""Search at scale on a real Milvus 2.3.5 standalone: N windows (default 1,000,000) of 256-d vectors in our plugin's
motions collection, text -> top-10 through a real ``motion-retrieval serve`` over gRPC.

Measured, in one run:
- insert: the plugin's ``upsert_motions`` in batches, then flush (the collection released and without its index,
  so that insert and index build are separate figures; ingest does both at once);
- index build: HNSW with the plugin's parameters (``IndexConfig``: M, efConstruction), from ``create_index`` until
  Milvus reports every row indexed, and until no index task is pending (segments merged by compaction meanwhile are
  indexed again); then load (``load_collection``) time;
- segments: how many sealed segments Milvus cut the rows into (each gets its own HNSW graph; a search visits all);
- memory: RSS of the Milvus process(es) empty, after insert, after the index build (released), after load and
  after the searches; the index files' bytes in the server's storage;
- latency: p50/p99 of ``MotionRetrievalClient.search_motions(caption, top_k=10)`` against a ``serve`` process
  (real caption texts, sequential), and of the raw pymilvus top-10 search from this process for comparison;
- recall@10 of the service's hits against exact top-10 (numpy, brute force over the same vectors) of the same query
  vectors (the service's own text embeddings, fetched through ``EmbedTexts``).

The vectors are a two-level mixture on the unit sphere drawn around real embeddings: anchors are the shipped model's
embeddings of procedural clips (motion_retrieval.synth, the training corpus' generator), sub-centres (N/100) are
drawn around the anchors, and each window around a sub-centre (von Mises-Fisher-like: Gaussian noise, renormalised),
so neighbourhoods are dense and uneven as in a real archive (uniform noise would make every distance alike and
recall meaningless). The queries are those clips' own captions. Each row is its own take (its own ``source``), so
the service's one-hit-per-take grouping returns the plain top-10.

Only one standalone can run on a machine: wrap the run in ``flock /tmp/milvus-standalone.lock``. Not in
``make bench`` (a 1M run takes far longer than the suite's other members); tests run it at 2,000 vectors.

    flock /tmp/milvus-standalone.lock python -m benchmarks.milvus_scale --json              # 1M
    flock /tmp/milvus-standalone.lock python -m benchmarks.milvus_scale --vectors 100000 --queries 200
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SUB_CENTRE_COSINE = 0.80  # expected cosine of a sub-centre to its anchor
WINDOW_COSINE = 0.90  # expected cosine of a window to its sub-centre
INDEX_TIMEOUT_S = 3600.0


# ---------------------------------------------------------------------------------------------------------------
# The vectors and queries
def procedural_clips(count: int, seed: int, max_frames: int) -> tuple[list[np.ndarray], list[list[str]]]:
    """``count`` procedural clips as (T, 263) features (at most ``max_frames``) and their captions."""
    from motion_retrieval.features import joints_to_features
    from motion_retrieval.synth.corpus import CorpusConfig, generate_clip

    config = CorpusConfig()
    features, captions = [], []
    for i in range(count):
        clip = generate_clip(np.random.default_rng([seed, i]), config)
        features.append(joints_to_features(clip.joints, clip.fps, clip.skeleton)[:max_frames])  # (T-1, 263)
        captions.append(clip.captions)
    return features, captions


def _noise_scale(cosine: float, dim: int) -> float:
    """Per-dimension sigma for which a unit vector plus N(0, sigma^2 I) noise, renormalised, keeps ``cosine`` with
    the original on average (|noise|^2 ~ dim sigma^2, so cos ~ 1 / sqrt(1 + dim sigma^2))."""
    return math.sqrt((1.0 / cosine**2 - 1.0) / dim)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered_vectors(anchors: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, D) float32 unit vectors: windows around sub-centres around ``anchors`` (K, D)."""
    rng = np.random.default_rng(seed)
    k, dim = anchors.shape
    subs = anchors[rng.integers(0, k, max(1, n // 100))]  # (S, D)
    subs = _unit(subs + rng.normal(0, _noise_scale(SUB_CENTRE_COSINE, dim), subs.shape)).astype(np.float32)
    vectors = np.empty((n, dim), dtype=np.float32)
    sigma = _noise_scale(WINDOW_COSINE, dim)
    for first in range(0, n, 100_000):  # in chunks: float64 noise for all rows at once would double the memory
        last = min(n, first + 100_000)
        chunk = subs[rng.integers(0, len(subs), last - first)] + rng.normal(0, sigma, (last - first, dim))
        vectors[first:last] = _unit(chunk)
    return vectors


def row_id(i: int) -> str:
    return f"w{i:011d}"


def rows(vectors: np.ndarray, first: int, last: int) -> list:
    from motion_retrieval_milvus.store import MotionRow

    return [MotionRow(id=row_id(i), embedding=vectors[i], name=f"take{i}@w0", dataset="scale",
                      source=f"/archive/take{i:07d}.bvh", start_s=0.0, end_s=10.0, duration_s=10.0, fps=20.0,
                      num_frames=200, captions=[], tags=["scale"], content_hash=f"{i:032x}")
            for i in range(first, last)]


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, top_k: int) -> list[set[str]]:
    """The exact top-k row ids of each query (Q, D) over ``vectors`` (N, D) by inner product (unit vectors)."""
    found = []
    for first in range(0, len(queries), 16):  # (16, N) scores at a time
        scores = queries[first:first + 16] @ vectors.T
        best = np.argpartition(-scores, top_k, axis=1)[:, :top_k]
        found.extend({row_id(int(i)) for i in row} for row in best)
    return found


# ---------------------------------------------------------------------------------------------------------------
# Milvus process memory and index files
def process_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def index_file_bytes(base_dir: Path, segment_ids: set[str]) -> int:
    """Bytes of the index files of ``segment_ids`` in the standalone's local storage (Milvus 2.3 reports no index
    size). Files lie under ``index_files/<build>/<version>/<partition>/<segment>/``; those of segments that compaction
    replaced stay until garbage collection, hence the filter."""
    return sum(p.stat().st_size for p in base_dir.rglob("*")
               if p.is_file() and "index_files" in p.parts and p.parent.name in segment_ids)


class MemoryProbe:
    """RSS of the standalone in MiB at named moments; nothing when the server is not ours (``--server``)."""

    def __init__(self, milvus):
        proc = getattr(getattr(milvus, "_server", None), "server_proc", None)
        self.pid = proc.pid if proc is not None else None
        self.base_dir = Path(milvus.base_dir) if milvus is not None else None
        self.readings: dict[str, float | None] = {}

    def read(self, moment: str) -> None:
        self.readings[moment] = round(process_rss(self.pid) / 2**20, 1) if self.pid else None

    def index_mib(self, segment_ids: set[str]) -> float | None:
        return round(index_file_bytes(self.base_dir, segment_ids) / 2**20, 1) if self.base_dir else None


# ---------------------------------------------------------------------------------------------------------------
# The steps
def insert(store, vectors: np.ndarray, batch: int, log) -> float:
    started = time.perf_counter()
    for first in range(0, len(vectors), batch):
        store.upsert_motions(rows(vectors, first, min(len(vectors), first + batch)))
        if (first // batch) % 50 == 0:
            log(f"inserted {first + batch} / {len(vectors)} ({time.perf_counter() - started:.0f} s)")
    store.flush()
    return time.perf_counter() - started


def build_index(store, n: int, log) -> tuple[float, float]:
    """Create the plugin's index on the released collection; seconds until Milvus reports all ``n`` rows indexed,
    and until no index task is pending (compaction merges the small sealed segments after a bulk insert, and each
    merged segment is indexed again)."""
    from motion_retrieval_milvus.schema import VECTOR_FIELD

    client, name = store.client, store.names.motions
    started = time.perf_counter()
    client.create_index(name, store.index.index_params(client, lite=False))
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    all_indexed, next_log = None, 30.0
    while True:
        info = client.describe_index(name, index_name=VECTOR_FIELD)
        elapsed = time.perf_counter() - started
        if all_indexed is None and int(info.get("indexed_rows", 0)) >= n:
            all_indexed = elapsed
            log(f"all {n} rows indexed after {elapsed:.0f} s")
        if all_indexed is not None and not int(info.get("pending_index_rows", 0)):
            return all_indexed, elapsed
        if time.monotonic() > deadline:
            raise SystemExit(f"index build not done after {INDEX_TIMEOUT_S:.0f} s: {info}")
        if elapsed >= next_log:
            next_log += 30.0
            log(f"indexing: {info.get('indexed_rows')} / {n} rows indexed, {info.get('pending_index_rows')} "
                f"pending ({elapsed:.0f} s)")
        time.sleep(1.0)


def start_serve(uri: str, prefix: str, repository: Path, torch_threads: int):
    from motion_retrieval.export.triton_local import free_port
    from motion_retrieval_server.client import MotionRetrievalClient

    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "motion_retrieval", "serve", "--model-repository", str(repository), "--milvus", uri,
         "--collection-prefix", prefix, "--host", "127.0.0.1", "--port", str(port), "--metrics-port", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": str(torch_threads)})
    client = MotionRetrievalClient(f"127.0.0.1:{port}", timeout=120)
    deadline = time.monotonic() + 300
    while True:  # ready once it answers stats (backend loaded, Milvus connected, collections open)
        try:
            client.collection_stats()
            return serve, client
        except Exception:  # noqa: BLE001 (not up yet)
            if time.monotonic() > deadline or serve.poll() is not None:
                serve.terminate()
                raise SystemExit(f"serve did not come up (exit status {serve.poll()})") from None
            time.sleep(0.5)


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000.0
    return round(float(np.percentile(ms, 50)), 2), round(float(np.percentile(ms, 99)), 2)


def search_through_service(client, store, texts: list[str], vectors: np.ndarray, top_k: int) -> dict:
    service, raw, recall_hits = [], [], 0
    query_vectors = client.embed_texts(texts)  # (Q, D): the very vectors the service searches with
    client.search_motions(texts[0], top_k)  # warm-up
    answers = []
    for text in texts:
        started = time.perf_counter()
        answers.append(client.search_motions(text, top_k))
        service.append(time.perf_counter() - started)
    for vector in query_vectors:
        started = time.perf_counter()
        store.search_motions(vector[None], top_k)
        raw.append(time.perf_counter() - started)
    for hits, exact in zip(answers, exact_top_k(vectors, query_vectors, top_k)):
        recall_hits += len(exact & {hit["id"] for hit in hits})
    service_p50, service_p99 = percentiles(service)
    raw_p50, raw_p99 = percentiles(raw)
    return {"service_p50_ms": service_p50, "service_p99_ms": service_p99, "raw_search_p50_ms": raw_p50,
            "raw_search_p99_ms": raw_p99, f"recall@{top_k}": round(recall_hits / (top_k * len(texts)), 4),
            "short_answers": sum(len(hits) < top_k for hits in answers)}


def run(args: argparse.Namespace, milvus, log) -> dict:
    import torch

    from motion_retrieval.inference.embedder import TorchScriptEmbedder
    from motion_retrieval_milvus import IndexConfig, MilvusConfig, MotionStore
    from motion_retrieval_milvus.schema import VECTOR_FIELD

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    embedder = TorchScriptEmbedder(args.model_repository)
    clips = max(args.anchors, math.ceil(args.queries / 3))
    features, captions = procedural_clips(clips, args.seed, embedder.max_frames)
    anchors = embedder.embed_motions(features[:args.anchors])  # (K, D)
    texts = [c for per_clip in captions for c in per_clip][:args.queries]
    started = time.perf_counter()
    vectors = clustered_vectors(anchors, args.vectors, args.seed)  # (N, D)
    log(f"{args.vectors} vectors drawn in {time.perf_counter() - started:.0f} s")
    nearest_anchor = float(np.mean(np.max(vectors[:10_000] @ anchors.T, axis=1)))

    uri = milvus.uri if milvus is not None else args.server
    memory = MemoryProbe(milvus)
    memory.read("empty")
    prefix = f"scale{uuid.uuid4().hex[:6]}"
    index = IndexConfig(kind="HNSW")
    store = MotionStore.open(MilvusConfig(uri, timeout=600), embedder.model_id, embedder.dim, prefix=prefix,
                             index=index)
    try:
        name = store.names.motions
        store.client.release_collection(name)
        store.client.drop_index(name, index_name=VECTOR_FIELD)
        insert_s = insert(store, vectors, args.batch, log)
        log(f"inserted in {insert_s:.0f} s")
        memory.read("after_insert")
        index_s, settled_s = build_index(store, args.vectors, log)
        log(f"indexed in {index_s:.0f} s, settled after {settled_s:.0f} s")
        memory.read("after_index_build")
        segments = store.client.list_persistent_segments(name)
        index_mib = memory.index_mib({str(segment.segment_id) for segment in segments})
        segment_rows = [int(segment.num_rows) for segment in segments]
        started = time.perf_counter()
        store.client.load_collection(name, timeout=INDEX_TIMEOUT_S)
        load_s = time.perf_counter() - started
        memory.read("after_load")
        serve, client = start_serve(uri, prefix, args.model_repository, args.serve_threads)
        try:
            searched = search_through_service(client, store, texts, vectors, args.top_k)
        finally:
            client.close()
            serve.terminate()
            serve.wait(60)
        memory.read("after_searches")
        stored = store.count(name)
    finally:
        if not args.keep:
            store.drop()
        store.close()
    return {
        "vectors": args.vectors, "dim": embedder.dim, "model": embedder.model_id, "stored_rows": stored,
        "queries": len(texts), "top_k": args.top_k, "cpus": os.cpu_count(), "serve_torch_threads": args.serve_threads,
        "milvus": "local Milvus 2.3.5 standalone" if milvus is not None else args.server,
        "index": {"type": "HNSW", "metric": index.metric, "M": index.hnsw_m,
                  "efConstruction": index.hnsw_ef_construction, "ef": max(index.search_ef, args.top_k)},
        "vector_model": {"anchors": args.anchors, "sub_centres": max(1, args.vectors // 100),
                         "sub_centre_cosine": SUB_CENTRE_COSINE, "window_cosine": WINDOW_COSINE,
                         "mean_cosine_to_nearest_anchor": round(nearest_anchor, 3)},
        "insert_s": round(insert_s, 1), "insert_rows_per_s": round(args.vectors / insert_s, 1),
        "index_build_s": round(index_s, 1), "index_rows_per_s": round(args.vectors / index_s, 1),
        "index_settled_s": round(settled_s, 1),
        "load_s": round(load_s, 1),
        "segments": {"count": len(segment_rows), "min_rows": min(segment_rows), "max_rows": max(segment_rows)},
        "rss_mib": memory.readings, "index_files_mib": index_mib,
        "raw_vectors_mib": round(vectors.nbytes / 2**20, 1), **searched,
    }


def main(argv: list[str] | None = None, milvus=None) -> int:
    """``milvus``: a running LocalMilvusServer to use (tests); by default one is started for the run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=1_000_000, help="windows in the collection")
    parser.add_argument("--queries", type=int, default=200, help="caption texts searched through the service")
    parser.add_argument("--anchors", type=int, default=128, help="procedural clips whose embeddings anchor the mixture")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5000, help="rows per upsert")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--serve-threads", type=int, default=1,
                        help="torch threads of the serve process (OMP_NUM_THREADS): one query is one short text, and "
                             "two threads on cores shared with other jobs spend most of a call waiting on each other")
    parser.add_argument("--server", default=None,
                        help="a running Milvus server URI instead of a local standalone (no memory figures then)")
    parser.add_argument("--keep", action="store_true", help="keep the collections after the run")
    parser.add_argument("--model-repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (args.model_repository / "motion_retrieval.json").is_file():
        raise SystemExit(f"{args.model_repository}: no exported model repository (make export)")
    if args.vectors < args.top_k or args.queries < 1:
        parser.error("--vectors must be at least --top-k, and --queries at least 1")

    def log(message: str) -> None:
        print(f"[milvus_scale] {message}", file=sys.stderr, flush=True)

    if milvus is None and args.server is None:
        from motion_retrieval_milvus.server_fixture import LocalMilvusServer

        with LocalMilvusServer() as local:
            result = run(args, local, log)
    else:
        result = run(args, milvus, log)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        rss = result["rss_mib"]
        print(f"{result['vectors']} x {result['dim']}-d on {result['milvus']}, HNSW M={result['index']['M']} "
              f"efConstruction={result['index']['efConstruction']} ef={result['index']['ef']}")
        print(f"insert      {result['insert_s']:>8.1f} s ({result['insert_rows_per_s']:.0f} rows/s)")
        print(f"index build {result['index_build_s']:>8.1f} s ({result['index_rows_per_s']:.0f} rows/s), settled after "
              f"{result['index_settled_s']:.1f} s; "
              f"load {result['load_s']:.1f} s; index files {result['index_files_mib']} MiB; "
              f"{result['segments']['count']} segments of {result['segments']['min_rows']}-"
              f"{result['segments']['max_rows']} rows")
        print(f"service     p50 {result['service_p50_ms']} ms, p99 {result['service_p99_ms']} ms over "
              f"{result['queries']} captions (raw Milvus p50 {result['raw_search_p50_ms']} ms)")
        recall_key = f"recall@{result['top_k']}"
        print(f"{recall_key}   {result[recall_key]:.4f} (HNSW vs exact)")
        print("Milvus RSS  " + ", ".join(f"{k} {v} MiB" for k, v in rss.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
