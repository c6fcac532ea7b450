"""The CPU benchmark suite (``make bench``): every benchmark that runs on this machine kind, one after the other,
each in its own process with its default settings (the figures of docs/BENCHMARKS.md), each report kept as JSON.

Each benchmark measures against its own baseline in the same run (ratios, not absolute timings). The suite fails
when a benchmark fails: a non-zero exit status (which includes a benchmark that checks its own target ratio and
misses it) or no JSON report. GPU benchmarks (``gpu_*``, ``benchmarks/gpu_suite.sh``) and the Triton
dynamic-batching probe are not part of it.

    python -m benchmarks.run_all                                   # everything, reports in build/bench/
    python -m benchmarks.run_all --only caption_cache rig_import   # some
    python -m benchmarks.run_all --list
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# name -> extra arguments (beyond --json); in the order they run: quick, model-only ones first, servers last.
SUITE: dict[str, list[str]] = {
    "real_mocap": [],           # real optical mocap: zero-shot / mAP / left-right of the shipped model
    "gait_speed": [],           # walk/jog/run/sprint captions retrieved for motions of known root speed
    "rig_import": [],           # automatic rig mapping vs an explicit map
    "caption_cache": [],        # caption cache fill: arrival vs length order
    "model_throughput": [],     # training / inference samples per second of the presets
    "milvus_search": [],        # search latency and HNSW recall, Milvus Lite
    "ingest": [],               # ingest vs embedding-only throughput, Milvus Lite
    "previews": [],             # stored preview bytes per row, served bytes, write cost vs embedding
    "serving": [],              # service vs in-process vs Triton
    "load": [],                 # goodput under offered load against a real `motion-retrieval serve`
    "client_overload": [],      # our client at its defaults: goodput at 128 threads vs 4
    "web": [],                  # the web page's API vs the gRPC client on 10k rows; preview bytes per hit
}


def run_one(name: str, args: list[str], out_dir: Path, timeout: float) -> dict:
    """Run ``python -m benchmarks.NAME --json ARGS``; its last stdout line is the report."""
    command = [sys.executable, "-m", f"benchmarks.{name}", "--json", *args]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"name": name, "ok": False, "error": f"timed out after {timeout:.0f} s",
                "seconds": time.perf_counter() - started}
    seconds = time.perf_counter() - started
    (out_dir / f"{name}.log").write_text(done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    report = None
    if lines:
        try:
            report = json.loads(lines[-1])
        except json.JSONDecodeError:
            report = None
    if done.returncode != 0 or report is None:
        why = f"exit status {done.returncode}" if done.returncode != 0 else "no JSON report on stdout"
        tail = done.stderr.strip().splitlines()[-3:]
        return {"name": name, "ok": False, "error": f"{why}: {' | '.join(tail)}", "seconds": seconds}
    (out_dir / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    return {"name": name, "ok": True, "seconds": seconds, "report": str(out_dir / f"{name}.json")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help=f"benchmarks to run (default all: {list(SUITE)})")
    parser.add_argument("--out", default=str(REPO_ROOT / "build" / "bench"), help="folder for the reports")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    parser.add_argument("--list", action="store_true", help="print the suite and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(SUITE))
        return 0
    names = args.only if args.only is not None else list(SUITE)
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {list(SUITE)}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for name in names:
        print(f"{name} ...", end=" ", flush=True)
        result = run_one(name, SUITE[name], out_dir, args.timeout)
        print(f"{'ok' if result['ok'] else 'FAILED'} ({result['seconds']:.0f} s)"
              + ("" if result["ok"] else f": {result['error']}"), flush=True)
        results.append(result)
    (out_dir / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    failed = [r["name"] for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)} of {len(results)} benchmarks ran; reports in {out_dir}"
          + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
