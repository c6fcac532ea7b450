"""The web page's API against the gRPC client it wraps, on a 10k-window collection.

A real ``motion-retrieval serve`` (the shipped model, Milvus Lite) holds ``--rows`` synthetic motion rows (clustered
unit vectors, as benchmarks.milvus_search makes them, written straight into the service's collection) plus a few
real procedural takes ingested through the service, so that their previews are stored. ``motion-retrieval web`` runs
in front of it. Then, query by query and alternating the two paths so that drift hits both alike:

- text -> top-k motions through the gRPC client (``search_motions``), the baseline;
- the same text -> JSON hits through ``GET /api/search`` on a kept-alive HTTP connection, as the page sends it.

Target (issue 21): API p50 <= 1.3x the gRPC p50 in the same run. Also reported: the preview payload per hit (target
<= 50 KB; takes of 10 s and more are the largest, one window each) and its fetch p50. Exits 1 when a target is
missed.

    python -m benchmarks.web                        # 10k rows, 200 queries per path
    python -m benchmarks.web --rows 10000 --queries 300 --json
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from benchmarks.load import model_repository
from benchmarks.milvus_search import percentile, queries, synthetic_rows
from benchmarks.serving import ServiceProcess

TARGET_RATIO = 1.3
PREVIEW_TARGET_BYTES = 50_000


def fill_collection(db: Path, repository: Path, rows: int) -> str:
    """``rows`` synthetic motion rows in the collection the service will open for this model; its model id."""
    from motion_retrieval.serving.repository import read_repository_info
    from motion_retrieval_milvus import MilvusConfig, MotionStore

    info = read_repository_info(repository)
    vectors, records = synthetic_rows(rows, info.dim, seed=rows)
    with MotionStore.open(MilvusConfig(str(db)), info.model_id, info.dim) as store:
        for start in range(0, len(records), 2000):
            store.upsert_motions(records[start:start + 2000])
        store.flush()
    return info.model_id


def real_takes(count: int, seed: int = 21) -> list[dict]:
    """Procedural takes of 8-20 s as the service ingests them (joints); the long ones are windowed by the service."""
    from motion_retrieval.synth.corpus import generate_clip

    rng = np.random.default_rng(seed)
    takes = []
    for i in range(count):
        parts = [generate_clip(rng).joints for _ in range(1 + i % 3)]
        for k in range(1, len(parts)):  # continue where the previous clip ended
            shift = parts[k - 1][-1, 0] - parts[k][0, 0]
            parts[k][:, :, [0, 2]] += shift[[0, 2]]
        takes.append({"id": f"take{i:02d}", "dataset": "benchtakes", "joints": np.concatenate(parts),
                      "skeleton": "smpl22", "fps": 20.0, "captions": ["a person moves"], "source": f"/b/take{i}.npy"})
    return takes


class WebProcess:
    """``motion-retrieval web`` in its own process on a free loopback port."""

    def __init__(self, target: str):
        from motion_retrieval.export.triton_local import free_port

        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="web-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "motion_retrieval", "web", "--server", target, "--port", str(self.port),
             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"web did not start: {Path(self.log.name).read_text()[-2000:]}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


class Http:
    """One kept-alive connection, as a browser holds it; reopened when the server has closed it while idle."""

    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> bytes:
        for attempt in range(2):
            try:
                self.connection.request("GET", path)
                response = self.connection.getresponse()
                body = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        return body

    def close(self) -> None:
        self.connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="motion rows in the collection")
    parser.add_argument("--queries", type=int, default=200, help="queries per path")
    parser.add_argument("--top-k", type=int, default=12, help="hits per query (the page's default)")
    parser.add_argument("--takes", type=int, default=12, help="real takes ingested for the preview figures")
    parser.add_argument("--model-repository", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    from motion_retrieval_server.client import MotionRetrievalClient

    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        repository, described = model_repository(args.model_repository, Path(tmp))
        db = Path(tmp) / "web.db"
        # In a process of its own: Milvus Lite keeps the file locked for as long as the process that opened it lives.
        filler = multiprocessing.get_context("spawn").Process(target=fill_collection, args=(db, repository, args.rows))
        filler.start()
        filler.join()
        if filler.exitcode != 0:
            raise SystemExit(f"filling the collection failed (exit code {filler.exitcode})")
        service = ServiceProcess(repository, "--milvus", str(db))
        web = None
        try:
            service.wait_serving()
            with MotionRetrievalClient(service.target, timeout=600) as client:
                summary = client.ingest(real_takes(args.takes))
                if summary["failed"]:
                    raise SystemExit(f"ingest failed: {summary['errors'][:3]}")
                web = WebProcess(service.target)
                connection = Http(web.port)
                texts = queries(args.queries, seed=7)
                for text in texts[:10]:  # warm both paths (first calls open channels, fill caches)
                    client.search_motions(text, top_k=args.top_k)
                    connection.get("/api/search?" + urlencode({"text": text, "top_k": args.top_k}))
                grpc_s, api_s = [], []
                for i, text in enumerate(texts):
                    order = ("grpc", "api") if i % 2 == 0 else ("api", "grpc")
                    for path in order:
                        started = time.perf_counter()
                        if path == "grpc":
                            hits = client.search_motions(text, top_k=args.top_k)
                            grpc_s.append(time.perf_counter() - started)
                        else:
                            body = json.loads(connection.get("/api/search?" + urlencode(
                                {"text": text, "top_k": args.top_k})))
                            api_s.append(time.perf_counter() - started)
                            assert len(body["hits"]) == len(hits)
                page = json.loads(connection.get("/api/search?" + urlencode(
                    {"text": "a person moves", "top_k": args.takes, "dataset": "benchtakes"})))
                sizes, fetch_s = [], []
                for hit in page["hits"]:
                    started = time.perf_counter()
                    sizes.append(len(connection.get(hit["preview_url"])))
                    fetch_s.append(time.perf_counter() - started)
                connection.close()
        finally:
            if web is not None:
                web.stop()
            service.process.terminate()
            service.process.wait(30)

    grpc_p50, api_p50 = percentile(grpc_s, 50), percentile(api_s, 50)
    ratio = round(api_p50 / grpc_p50, 3)
    report = {
        "model": described, "rows": args.rows, "queries": args.queries, "top_k": args.top_k,
        "grpc_p50_ms": grpc_p50, "grpc_p90_ms": percentile(grpc_s, 90),
        "api_p50_ms": api_p50, "api_p90_ms": percentile(api_s, 90),
        "api_over_grpc_p50": ratio, "target_ratio": TARGET_RATIO, "ratio_met": ratio <= TARGET_RATIO,
        "preview_hits": len(sizes), "preview_bytes_max": max(sizes), "preview_bytes_mean": round(float(np.mean(sizes))),
        "preview_target_bytes": PREVIEW_TARGET_BYTES, "preview_met": max(sizes) <= PREVIEW_TARGET_BYTES,
        "preview_fetch_p50_ms": percentile(fetch_s, 50),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.rows} rows, {args.queries} queries per path, top_k {args.top_k} ({described})")
        print(f"  gRPC client  p50 {grpc_p50:7.2f} ms  p90 {report['grpc_p90_ms']:7.2f} ms")
        print(f"  web API      p50 {api_p50:7.2f} ms  p90 {report['api_p90_ms']:7.2f} ms  "
              f"ratio {ratio:.3f} (target <= {TARGET_RATIO})")
        print(f"  previews: {len(sizes)} hits, max {max(sizes):,} bytes, mean {report['preview_bytes_mean']:,} "
              f"(target <= {PREVIEW_TARGET_BYTES:,}); fetch p50 {report['preview_fetch_p50_ms']} ms")
    return 0 if report["ratio_met"] and report["preview_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
