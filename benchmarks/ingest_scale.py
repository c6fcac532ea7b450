"""Ingest at scale, as ratios measured in one run on one real Milvus standalone:

(a) shards: two ``--shard I/2`` processes at once against one process over the same folder (target >= 1.6x on two
    cores). Every process runs the same ingest (one torch thread each, as a one-CPU Job pod), waits at a start line
    after its imports and Milvus connection, and reports when it started and ended: the rate is windows over the span
    from the first start to the last end, so interpreter start-up is not counted. Each worker also reports the CPU
    time it spent: CPU per window equal for one and two processes means the shards add no work of their own, and
    ``worker_cores_busy`` says how much of the machine they got (other work on a shared machine takes the rest).
(b) through the service: ``ingest --server`` (files read here, streamed to a ``serve`` process that embeds and
    writes) against a local ingest in this process into the same Milvus (target >= 0.8x).

The corpus is real BVH takes (the shared fixtures: Bandai-Namco and CMU), copied under distinct names until it holds
``--files`` files; reading them is the real rig mapping, IK and feature pipeline. Embedding uses ./model_repository (or
``--model-repository``). Milvus is a local 2.3.5 standalone started for the run (Milvus Lite opens a file in one
process only, so concurrent shards need a server); wrap the run in ``flock /tmp/milvus-standalone.lock``.

    flock /tmp/milvus-standalone.lock python -m benchmarks.ingest_scale --files 120 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("MOTION_RETRIEVAL_FIXTURES", ROOT.parent / "shared" / "fixtures"))


def write_corpus(out: Path, files: int) -> Path:
    """``files`` real BVH takes in two sub-folders (the fixtures repeated under distinct names)."""
    takes = sorted((FIXTURES / "bandai-namco-1").glob("*.bvh")) + sorted((FIXTURES / "bvh-cmu").glob("*.bvh"))
    if not takes:
        raise SystemExit(f"no BVH fixtures under {FIXTURES} (set MOTION_RETRIEVAL_FIXTURES)")
    for i in range(files):
        take = takes[i % len(takes)]
        folder = out / f"part{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(take, folder / f"{i:05d}_{take.name}")
    return out


_WORKER = textwrap.dedent("""
    import json, sys, time
    import torch
    torch.set_num_threads(1)
    from motion_retrieval.data.shards import Shard
    from motion_retrieval.inference.embedder import TorchScriptEmbedder
    from motion_retrieval_milvus import MilvusConfig, MotionStore, ingest_paths

    uri, prefix, corpus, repository, shard = sys.argv[1:6]
    embedder = TorchScriptEmbedder(repository)
    embedder.embed_texts(["warm up"])
    with MotionStore.open(MilvusConfig(uri), embedder.model_id, embedder.dim, prefix=prefix) as store:
        print("ready", flush=True)
        sys.stdin.readline()  # the start line: every worker begins together
        started, cpu = time.time(), time.process_time()
        summary = ingest_paths([corpus], store, embedder, batch_size=64, progress=False, shard=Shard.parse(shard))
        print(json.dumps({"started": started, "ended": time.time(), "cpu": time.process_time() - cpu,
                          "windows": summary.windows, "written": summary.ingested, "files": summary.files}),
              flush=True)
""")


def milvus_cpu_seconds() -> float:
    """CPU seconds (user + system) of the local Milvus standalone so far, from /proc (0 where there is none)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"milvus\x00run\x00standalone" in stat.read_bytes():
                fields = (stat.parent / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
        except OSError:  # a process that ended while we looked
            continue
    return total


def run_workers(uri: str, corpus: Path, repository: Path, shards: list[str]) -> dict:
    """Ingest ``corpus`` with one worker process per shard spec, all started together; windows per second."""
    prefix = f"scale{uuid.uuid4().hex[:6]}"
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, uri, prefix, str(corpus), str(repository), shard],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for shard in shards]
    try:
        for worker in workers:
            if worker.stdout.readline().strip() != "ready":
                raise SystemExit(f"an ingest worker failed to start (exit {worker.wait()})")
        milvus_before = milvus_cpu_seconds()
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = [json.loads(worker.stdout.readline()) for worker in workers]
        milvus_cpu = milvus_cpu_seconds() - milvus_before
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.stdin.close()
                worker.wait(60)
    span = max(r["ended"] for r in results) - min(r["started"] for r in results)
    windows = sum(r["windows"] for r in results)
    cpu = sum(r["cpu"] for r in results)  # process CPU seconds spent ingesting (all threads)
    return {"processes": len(shards), "windows": windows, "written": sum(r["written"] for r in results),
            "files": sum(r["files"] for r in results), "seconds": round(span, 3),
            "windows_per_s": round(windows / span, 2), "worker_cpu_seconds": round(cpu, 2),
            "worker_cpu_ms_per_window": round(1000 * cpu / windows, 2),
            "worker_cores_busy": round(cpu / span, 2), "milvus_cores_busy": round(milvus_cpu / span, 2)}


def local_vs_remote(uri: str, corpus: Path, repository: Path) -> dict:
    """A local ingest in this process, then the same files through a ``serve`` process: both into fresh collections
    of the same Milvus, each embedding with the same model on the same two cores."""
    import torch

    from motion_retrieval.export.triton_local import free_port
    from motion_retrieval.inference.embedder import TorchScriptEmbedder
    from motion_retrieval_milvus import MilvusConfig, MotionStore, ingest_paths
    from motion_retrieval_server.client import MotionRetrievalClient

    torch.set_num_threads(2)
    embedder = TorchScriptEmbedder(repository)
    embedder.embed_texts(["warm up"])
    with MotionStore.open(MilvusConfig(uri), embedder.model_id, embedder.dim, prefix=f"local{uuid.uuid4().hex[:6]}") \
            as store:
        local = ingest_paths([corpus], store, embedder, batch_size=64, progress=False)
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "motion_retrieval", "serve", "--model-repository", str(repository), "--milvus", uri,
         "--collection-prefix", f"remote{uuid.uuid4().hex[:6]}", "--host", "127.0.0.1", "--port", str(port),
         "--metrics-port", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with MotionRetrievalClient(f"127.0.0.1:{port}", timeout=600) as client:
            deadline = time.monotonic() + 180
            while True:  # ready once it answers stats (backend loaded, Milvus connected)
                try:
                    client.collection_stats()
                    break
                except Exception:  # noqa: BLE001 (not up yet)
                    if time.monotonic() > deadline or serve.poll() is not None:
                        raise SystemExit("serve did not come up") from None
                    time.sleep(0.5)
            remote = client.ingest_paths([corpus])
    finally:
        serve.terminate()
        serve.wait(60)
    local_rate = local.windows / local.seconds
    remote_rate = remote.windows / remote.seconds
    return {"local_windows": local.windows, "local_seconds": local.seconds, "local_windows_per_s": round(local_rate, 2),
            "remote_windows": remote.windows, "remote_seconds": remote.seconds,
            "remote_windows_per_s": round(remote_rate, 2), "remote_sent_mb": round(remote.sent_bytes / 1e6, 2),
            "remote_written": remote.ingested, "ratio": round(remote_rate / local_rate, 3), "target_ratio": 0.8}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=120, help="BVH files in the corpus")
    parser.add_argument("--model-repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--skip", choices=["shards", "remote"], action="append", default=[])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (args.model_repository / "motion_retrieval.json").is_file():
        raise SystemExit(f"{args.model_repository}: no exported model repository (make export)")
    from motion_retrieval_milvus.server_fixture import LocalMilvusServer

    # Other work on the machine takes cores from the workers: the load before the run says how much.
    result: dict = {"files": args.files, "cpus": os.cpu_count(), "milvus": "local Milvus 2.3.5 standalone",
                    "load_average_1min_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-scale-") as tmp, LocalMilvusServer() as milvus:
        corpus = write_corpus(Path(tmp) / "corpus", args.files)
        if "shards" not in args.skip:
            one = run_workers(milvus.uri, corpus, args.model_repository, ["0/1"])
            two = run_workers(milvus.uri, corpus, args.model_repository, ["0/2", "1/2"])
            result["shards"] = {"one": one, "two": two, "target_ratio": 1.6,
                                "ratio": round(two["windows_per_s"] / one["windows_per_s"], 3)}
        if "remote" not in args.skip:
            result["remote"] = local_vs_remote(milvus.uri, corpus, args.model_repository)
    ok = all(part["ratio"] >= part["target_ratio"] for key, part in result.items() if key in ("shards", "remote"))
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        if "shards" in result:
            s = result["shards"]
            print(f"1 process : {s['one']['windows_per_s']:>7.2f} windows/s ({s['one']['windows']} windows, "
                  f"{s['one']['seconds']:.1f} s)")
            print(f"2 shards  : {s['two']['windows_per_s']:>7.2f} windows/s ({s['two']['seconds']:.1f} s)  ratio "
                  f"{s['ratio']:.2f} (target >= {s['target_ratio']})")
        if "remote" in result:
            r = result["remote"]
            print(f"local     : {r['local_windows_per_s']:>7.2f} windows/s ({r['local_seconds']:.1f} s)")
            print(f"--server  : {r['remote_windows_per_s']:>7.2f} windows/s ({r['remote_seconds']:.1f} s, "
                  f"{r['remote_sent_mb']} MB sent)  ratio {r['ratio']:.2f} (target >= {r['target_ratio']})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
