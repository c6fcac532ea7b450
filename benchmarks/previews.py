"""Stored previews: bytes per row, bytes per served preview, and what keeping them adds to ingest.

Real takes (the bandai-namco-1 and CMU BVH fixtures in ../shared/fixtures) are read and windowed as ingest does;
each window's preview is built (joints from its features), encoded and written to a filesystem store, then read
back. The same windows are embedded by the motion tower in the same run, so the preview cost is reported as a ratio
of the embedding cost (what ingest spends per row anyway).

    python -m benchmarks.previews                 # every fixture take
    python -m benchmarks.previews --takes 20 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FIXTURES = Path(os.environ.get("MOTION_RETRIEVAL_FIXTURES", Path(__file__).resolve().parents[2] / "shared" /
                                "fixtures"))


def windows(takes: int) -> tuple[int, list]:
    from motion_retrieval.data.bvh import read_bvh
    from motion_retrieval.data.windows import split_into_windows

    files = sorted((FIXTURES / "bvh-cmu").glob("*.bvh")) + sorted((FIXTURES / "bandai-namco-1").glob("*.bvh"))
    if not files:
        raise SystemExit(f"no BVH fixtures under {FIXTURES} (set MOTION_RETRIEVAL_FIXTURES)")
    files = files[:takes]
    return len(files), [w for f in files for w in split_into_windows(read_bvh(f))]


def run(args: argparse.Namespace) -> dict:
    from motion_retrieval_milvus.preview_store import FilesystemPreviewStore, encode_preview, preview_of_features
    from motion_retrieval_server.api import search_pb2
    from motion_retrieval_server.validation import encode_tensor

    takes, rows = windows(args.takes)
    ids = [f"{i:032x}" for i in range(len(rows))]
    with tempfile.TemporaryDirectory(prefix="previews-bench-") as tmp:
        store = FilesystemPreviewStore(tmp)
        started = time.perf_counter()
        previews = [preview_of_features(i, w.id, w.start, w.end or 0.0, w.features) for i, w in zip(ids, rows)]
        store.put(previews)
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        for i in ids:
            store.get(i)
        read_s = time.perf_counter() - started
        on_disk = sum(p.stat().st_blocks * 512 for p in Path(tmp).rglob("*.npz"))
    stored = np.array([len(encode_preview(p)) for p in previews])
    frames = np.array([len(p.joints) for p in previews])
    wire = np.array([search_pb2.MotionPreview(id=p.id, fps=10.0, joints=encode_tensor(p.at_fps(10.0).joints),
                                              name=p.name, start=p.start_s, end=p.end_s).ByteSize()
                     for p in previews])
    full = frames == frames.max()
    report = {
        "takes": takes, "windows": len(rows), "full_10s_windows": int(full.sum()),
        "stored_bytes": {"mean": round(float(stored.mean())), "median": round(float(np.median(stored))),
                         "max": int(stored.max()), "full_window_mean": round(float(stored[full].mean()))},
        "disk_bytes_per_row": round(on_disk / len(rows)),
        "served_preview_bytes": {"mean": round(float(wire.mean())), "max": int(wire.max())},
        "write_ms_per_row": round(1000 * write_s / len(rows), 3),
        "read_ms_per_row": round(1000 * read_s / len(rows), 3),
    }
    if not args.no_embed:
        from benchmarks.ingest import resolve_embedder

        with tempfile.TemporaryDirectory(prefix="previews-bench-model-") as tmp:
            embedder, model = resolve_embedder(args.model_repository, Path(tmp))
            embedder.embed_motions([rows[0].features])  # warm-up
            started = time.perf_counter()
            for start in range(0, len(rows), 64):
                embedder.embed_motions([w.features for w in rows[start:start + 64]])
            embed_s = time.perf_counter() - started
        report.update(model=model, embed_ms_per_row=round(1000 * embed_s / len(rows), 3),
                      preview_write_over_embed=round(write_s / embed_s, 3))
    report["cost_of_1m_rows_gb"] = round(report["stored_bytes"]["full_window_mean"] * 1e6 / 1e9, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--takes", type=int, default=1000, help="fixture takes to read (all of them by default)")
    parser.add_argument("--model-repository", type=Path, default=None, help="motion tower to compare against")
    parser.add_argument("--no-embed", action="store_true", help="skip the embedding baseline")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
