"""Our client under overload, at its defaults: threads calling ``MotionRetrievalClient.embed_texts`` in a loop, each
call with a 1 s deadline, against a real `motion-retrieval serve`; goodput (calls answered OK per second) with
--heavy threads over goodput with --light threads, in one run.

Target (issue 19): goodput at 128 threads >= 0.8 x goodput at 4. The callers do nothing but call again: whatever
keeps goodput up is the client's retry policy (it waits the service's pushback after a refusal) and the service's
admission gate. The service runs on the first core, the callers on the others (affinity), so that the callers' CPU
does not come out of the service's.

    python -m benchmarks.client_overload                    # 4 vs 128 threads, 20 s each (about a minute)
    python -m benchmarks.client_overload --no-retry         # the same with retry=None, for comparison
    python -m benchmarks.client_overload --light 4 --heavy 128 256 --seconds 30 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

TARGET_RATIO = 0.8


@dataclass
class Run:
    threads: int
    seconds: float
    ok: int = 0
    goodput: float = 0.0  # OK calls per second
    codes: dict[str, int] = field(default_factory=dict)  # every outcome seen by the callers, by status code
    attempts: int = 0  # embedding calls the service saw (retries included), from grpc_server_handled_total
    server_codes: dict[str, int] = field(default_factory=dict)  # those by status code
    p50_ms: float | None = None
    p99_ms: float | None = None
    ratio: float | None = None  # goodput / goodput at --light


def server_calls(metrics_port: int) -> Counter:
    """grpc_server_handled_total of EmbedTexts by code, from the service's /metrics."""
    import re
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    counts: Counter = Counter()
    pattern = r'^grpc_server_handled_total\{([^}]*)\} ([0-9.e+]+)$'
    for match in re.finditer(pattern, text, re.MULTILINE):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if labels.get("grpc_method") == "EmbedTexts":
            counts[labels["grpc_code"]] += int(float(match.group(2)))
    return counts


def run_threads(target: str, threads: int, seconds: float, deadline_s: float, texts: list[str], retry: bool,
                shared: bool) -> tuple[list[float], Counter]:
    """(latencies of OK calls, outcome codes) of calls that ended inside the window."""
    import grpc

    from motion_retrieval_server.client import MotionRetrievalClient
    from motion_retrieval_server.retry import RetryPolicy

    policy = RetryPolicy() if retry else None

    def client() -> MotionRetrievalClient:
        made = MotionRetrievalClient(target, timeout=deadline_s, retry=policy)
        made._model_info()  # model info once, outside the window (the client caches it)
        return made

    clients = [client()] if shared else [client() for _ in range(threads)]
    latencies: list[float] = []
    codes: Counter = Counter()
    lock = threading.Lock()
    start = threading.Event()
    end_at = [0.0]

    def caller(c: MotionRetrievalClient) -> None:
        start.wait()
        mine: list[float] = []
        mine_codes: Counter = Counter()
        while time.monotonic() < end_at[0]:
            sent = time.monotonic()
            try:
                c.embed_texts(texts)
                code = "OK"
            except grpc.RpcError as exc:
                code = exc.code().name
            done = time.monotonic()
            if done <= end_at[0]:
                mine_codes[code] += 1
                if code == "OK":
                    mine.append(done - sent)
        with lock:
            latencies.extend(mine)
            codes.update(mine_codes)

    workers = [threading.Thread(target=caller, args=(clients[i % len(clients)],), daemon=True)
               for i in range(threads)]
    for worker in workers:
        worker.start()
    end_at[0] = time.monotonic() + seconds
    start.set()
    for worker in workers:
        worker.join(seconds + deadline_s + 30)
    for c in clients:
        c.close()
    return latencies, codes


def measure(service, args, threads: int, texts: list[str]) -> Run:
    before = server_calls(service.metrics_port)
    latencies, codes = run_threads(service.target, threads, args.seconds, args.deadline, texts, not args.no_retry,
                                   not args.client_per_thread)
    after = server_calls(service.metrics_port)
    run = Run(threads=threads, seconds=args.seconds, ok=codes.get("OK", 0), codes=dict(sorted(codes.items())))
    run.goodput = round(run.ok / args.seconds, 2)
    run.server_codes = {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] - before.get(k, 0)}
    run.attempts = sum(run.server_codes.values())
    if latencies:
        lat = np.asarray(latencies) * 1e3
        run.p50_ms = round(float(np.percentile(lat, 50)), 1)
        run.p99_ms = round(float(np.percentile(lat, 99)), 1)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=None,
                        help="exported repository (default: ./model_repository, else the shipped model exported now)")
    parser.add_argument("--light", type=int, default=4, help="threads of the baseline [4]")
    parser.add_argument("--heavy", type=int, nargs="+", default=[128], help="overloaded thread counts [128]")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per level [20]")
    parser.add_argument("--deadline", type=float, default=1.0, help="deadline of each call, seconds [1]")
    parser.add_argument("--batch", type=int, default=8, help="texts per call [8]")
    parser.add_argument("--no-retry", action="store_true", help="the client with retry=None (for comparison)")
    parser.add_argument("--client-per-thread", action="store_true",
                        help="one client (channel, connection) per thread instead of one shared by all")
    parser.add_argument("--no-affinity", action="store_true", help="let the service and the callers share cores")
    parser.add_argument("--serve-arg", action="append", default=[], metavar="ARG", help="extra `serve` argument")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)

    from benchmarks.load import Service, make_request, model_repository
    from benchmarks.serving import split_cores

    service_cpus, load_cpus = (None, None) if args.no_affinity else split_cores()
    texts = list(make_request("texts", args.batch)[1].texts)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        repository, described = model_repository(args.model_repository, Path(tmp))
        service = Service(repository, args.serve_arg, cpus=service_cpus)
        if load_cpus:
            os.sched_setaffinity(0, load_cpus)  # this process's threads (callers, gRPC's) from here on
        try:
            service.process.wait_serving()
            run_threads(service.target, 2, 3.0, 10.0, texts, True, True)  # warm-up: estimates, caches
            for threads in (args.light, *args.heavy):
                run = measure(service, args, threads, texts)
                runs.append(run)
                print(f"  {threads:4d} threads: goodput {run.goodput:7.1f}/s  codes {run.codes}  "
                      f"service saw {run.attempts} calls {run.server_codes}", file=sys.stderr)
        finally:
            service.process.stop()
    base = runs[0].goodput
    for run in runs:
        run.ratio = round(run.goodput / base, 3) if base else None
    targets = {f"goodput ratio {run.threads} vs {args.light} threads (target >= {TARGET_RATIO})": run.ratio
               for run in runs[1:]}
    report = {"model": described, "texts_per_call": args.batch, "deadline_s": args.deadline,
              "retry": "none" if args.no_retry else "RetryPolicy() (the client's default)",
              "clients": "one per thread" if args.client_per_thread else "one shared by all threads",
              "service_cpus": sorted(service_cpus) if service_cpus else "any",
              "load_cpus": sorted(load_cpus) if load_cpus else "any", "cpus": os.cpu_count(),
              "runs": [asdict(r) for r in runs], "targets": targets,
              "target_met": all(r is not None and r >= TARGET_RATIO for r in targets.values())}
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(f"{'threads':>7s} {'goodput/s':>9s} {'ratio':>6s} {'p50 ms':>7s} {'p99 ms':>7s}  "
              "caller codes / calls the service saw")
        for run in runs:
            print(f"{run.threads:7d} {run.goodput:9.1f} {run.ratio or 0:6.2f} {run.p50_ms or 0:7.1f} "
                  f"{run.p99_ms or 0:7.1f}  {run.codes} / {run.server_codes}")
        for key, value in targets.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
