"""Ingest throughput (clips/s) against embedding-only throughput of the same clips in the same run.

Target: ingest >= 80% of embedding-only throughput (reading, windowing, hashing, Milvus upserts and the final flush
are the overhead). The corpus is written in HumanML3D layout (features + captions) and read back by the real data
layer; embedding uses the exported TorchScript towers in-process.

    python -m benchmarks.ingest                          # 256 clips, Milvus Lite, ./model_repository
    python -m benchmarks.ingest --clips 2000 --milvus http://127.0.0.1:19530 --json
    python -m benchmarks.ingest --local-server           # a real Milvus 2.3.5 standalone started for the run
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def resolve_embedder(repository: Path | None, workdir: Path, preset: str = "cpu"):
    """TorchScriptEmbedder over ``repository``; without one, ./model_repository; without that, an untrained model of
    the ``preset`` architecture exported into ``workdir`` (the real towers' compute cost, random weights)."""
    from motion_retrieval.inference.embedder import TorchScriptEmbedder

    for candidate in (repository, Path("model_repository")):
        if candidate is not None and (candidate / "motion_retrieval.json").is_file():
            return TorchScriptEmbedder(candidate), str(candidate)
    if repository is not None:
        raise SystemExit(f"{repository}: not an exported model repository (no motion_retrieval.json)")
    import torch

    from motion_retrieval.export.repository import export_model
    from motion_retrieval.features import FEATURE_DIM
    from motion_retrieval.models.factory import create_model

    torch.manual_seed(0)
    model = create_model(preset).eval()
    out = workdir / f"untrained-{preset}"
    export_model(model, np.zeros(FEATURE_DIM, np.float32), np.ones(FEATURE_DIM, np.float32), out,
                 stats_dataset="benchmark", created_from=f"benchmarks: untrained {preset} preset")
    return TorchScriptEmbedder(out), f"untrained {preset} preset (exported for this run)"


def write_corpus(root: Path, clips: int, seed: int = 0) -> Path:
    from motion_retrieval.data.humanml3d import write_motion
    from motion_retrieval.data.record import Caption

    rng = np.random.default_rng(seed)
    words = ["walks", "runs", "jumps", "waves", "sits down", "turns around", "kicks", "crouches"]
    for i in range(clips):
        frames = int(rng.integers(40, 200))
        features = rng.normal(0, 1, (frames, 263)).astype(np.float32)  # (T, 263)
        captions = [Caption(f"a person {words[(i + k) % len(words)]} {k}") for k in range(3)]
        write_motion(root, f"{i:06d}", features=features, captions=captions)
    return root


def run(args: argparse.Namespace) -> dict:
    from motion_retrieval.data.load import load_path
    from motion_retrieval_milvus import MilvusConfig, MotionStore, ingest_paths

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp = Path(tmp)
        embedder, model = resolve_embedder(args.model_repository, tmp, args.preset)
        corpus = write_corpus(tmp / "corpus", args.clips)
        server = None
        if args.local_server:
            from motion_retrieval_milvus.server_fixture import LocalMilvusServer

            server = LocalMilvusServer().start()
        uri = server.uri if server else (args.milvus or str(tmp / "bench.db"))
        try:
            # Embedding only: the same motions and captions, in the same batches, already in memory.
            records = list(load_path(corpus))
            embedder.embed_motions([records[0].features])  # warm-up (first TorchScript call optimises the graph)
            embedder.embed_texts(["warm up"])
            started = time.perf_counter()
            for first in range(0, len(records), args.batch_size):
                batch = records[first : first + args.batch_size]
                embedder.embed_motions([r.features for r in batch])
                embedder.embed_texts([c.text for r in batch for c in r.captions])
            embed_seconds = time.perf_counter() - started

            prefix = f"bench{int(time.time())}"
            store = MotionStore.open(MilvusConfig(uri), embedder.model_id, embedder.dim, prefix=prefix)
            try:
                summary = ingest_paths([corpus], store, embedder, batch_size=args.batch_size, progress=False)
                again = ingest_paths([corpus], store, embedder, batch_size=args.batch_size, progress=False)
            finally:
                store.drop()
                store.close()
        finally:
            if server:
                server.stop()
    ingest_rate = summary.ingested / summary.seconds
    embed_rate = len(records) / embed_seconds
    return {
        "model": model, "milvus": "local Milvus 2.3.5 standalone" if args.local_server else uri if args.milvus else
        "Milvus Lite file", "clips": args.clips, "batch_size": args.batch_size, "ingested": summary.ingested,
        "captions": summary.captions, "ingest_seconds": summary.seconds, "embed_only_seconds": round(embed_seconds, 3),
        "ingest_clips_per_s": round(ingest_rate, 1), "embed_only_clips_per_s": round(embed_rate, 1),
        "ratio": round(ingest_rate / embed_rate, 3), "target_ratio": 0.8,
        "reingest_seconds": again.seconds, "reingest_unchanged": again.unchanged,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model-repository", type=Path, default=None)
    parser.add_argument("--preset", default="cpu", help="architecture of the untrained fallback model")
    parser.add_argument("--milvus", default=None, help="server URI (default: a Lite file in a temp folder)")
    parser.add_argument("--local-server", action="store_true", help="start a real Milvus 2.3.5 for the run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    result = run(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"model: {result['model']}; Milvus: {result['milvus']}")
        print(f"ingest     {result['ingest_clips_per_s']:>8.1f} clips/s  ({result['ingested']} clips, "
              f"{result['captions']} captions, {result['ingest_seconds']:.2f} s incl. reading + flush)")
        print(f"embed only {result['embed_only_clips_per_s']:>8.1f} clips/s  ({result['embed_only_seconds']:.2f} s)")
        print(f"ratio      {result['ratio']:.3f}  (target >= {result['target_ratio']})")
        print(f"re-ingest (all unchanged): {result['reingest_seconds']:.2f} s")
    return 0 if result["ratio"] >= result["target_ratio"] else 1


if __name__ == "__main__":
    sys.exit(main())
