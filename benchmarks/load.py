"""Goodput under offered load: a sweep of closed-loop callers (concurrency 1 -> 256, each call with a deadline)
against a real `motion-retrieval serve` process, reporting per level goodput (OK calls per second that met their
deadline), shed calls (RESOURCE_EXHAUSTED, UNAVAILABLE), errors by status code, p50/p99 latency of OK calls and the
service's resident memory; then the ratio of goodput at each level to goodput at light load, in the same run.

Target (issue 11): goodput at concurrency 128-256 >= 80 % of goodput at light load (concurrency 4). Without
admission control the service computed calls whose callers had given up, and goodput collapsed (docs/BENCHMARKS.md).

Callers behave like well-configured gRPC clients: each sends its next call as soon as the last one ends; after a
RESOURCE_EXHAUSTED or UNAVAILABLE it waits as a gRPC retry policy does: the server's pushback
(``grpc-retry-pushback-ms``) when the refusal carries one, else an exponential backoff (--backoff seconds at first,
doubling per consecutive refusal up to --max-backoff); jittered 0.5-1.5x, reset by an answer. The callers are
coroutines on --channels connections of their own (think client pods) in this process; the service runs in its own
process. On a shared 2-core machine the client takes CPU from the service too: compare ratios within one run.

    python -m benchmarks.load                          # short: 6 levels x 20 s (about 2.5 minutes), deadline 1 s
    python -m benchmarks.load --long                   # the full sweep: 10 levels x 20 s, deadlines 1 s and 2 s
    python -m benchmarks.load --concurrency 4 128 256 --seconds 10 --deadlines 1 2 --method motions --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

SHORT_LEVELS = [1, 4, 16, 64, 128, 256]
LONG_LEVELS = [1, 2, 4, 8, 16, 32, 64, 128, 192, 256]
LIGHT_LOAD = 4  # the baseline level of the ratios
SHED_CODES = ("RESOURCE_EXHAUSTED", "UNAVAILABLE")
WORDS = ["a person", "someone", "a man", "walks", "runs", "jumps", "waves", "slowly", "forward", "in a circle",
         "then stops", "and turns around", "with both arms raised above the head"]


@dataclass
class Level:
    deadline_s: float
    concurrency: int
    seconds: float
    ok: int = 0
    goodput: float = 0.0  # OK calls per second within the window
    shed: int = 0  # RESOURCE_EXHAUSTED + UNAVAILABLE answers
    codes: dict[str, int] = field(default_factory=dict)  # every outcome by status code
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_shed: dict[str, int] = field(default_factory=dict)  # motion_retrieval_shed_total by reason, this level
    examples: dict[str, str] = field(default_factory=dict)  # one status message per non-OK code
    rss_mib: float | None = None
    ratio: float | None = None  # goodput / goodput at light load (same deadline)


# -- the service ------------------------------------------------------------------------------------------------------
def model_repository(requested: Path | None, workdir: Path) -> tuple[Path, str]:
    """``requested``; else ./model_repository when its model files are there; else the shipped default run exported
    into ``workdir`` (what `make export` writes)."""
    for candidate in (requested, Path("model_repository")):
        if candidate is not None and all((candidate / m / "1" / "model.pt").is_file()
                                         for m in ("motion_encoder", "text_encoder")):
            return candidate, str(candidate)
    if requested is not None:
        raise SystemExit(f"{requested}: not an exported model repository (model.pt files missing)")
    out = workdir / "model_repository"
    print(f"exporting the shipped default model to {out} ...", file=sys.stderr)
    done = subprocess.run([sys.executable, "-m", "motion_retrieval", "export", "--out", str(out)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"export failed:\n{done.stderr[-2000:]}")
    return out, "shipped default model (exported for this run)"


class Service:
    """`motion-retrieval serve` on free loopback ports, with its /metrics endpoint."""

    def __init__(self, repository: Path, extra: list[str], cpus: set[int] | None = None):
        from benchmarks.serving import ServiceProcess
        from motion_retrieval.export.triton_local import free_port

        self.metrics_port = free_port()
        self.process = ServiceProcess(repository, "--metrics-port", str(self.metrics_port), *extra, cpus=cpus)

    @property
    def target(self) -> str:
        return self.process.target

    def shed_counts(self) -> dict[str, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            text = response.read().decode()
        counts: Counter = Counter()
        for match in re.finditer(r'^motion_retrieval_shed_total\{[^}]*reason="(\w+)"[^}]*\} ([0-9.e+]+)$', text,
                                 re.MULTILINE):
            counts[match.group(1)] += int(float(match.group(2)))
        return dict(counts)


# -- the callers ------------------------------------------------------------------------------------------------------
def make_request(method: str, batch: int, seed: int = 0):
    from motion_retrieval_server.api import embedding_pb2
    from motion_retrieval_server.client import features_message

    rng = np.random.default_rng(seed)
    if method == "texts":
        texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 12)))) for _ in range(batch)]
        return "EmbedTexts", embedding_pb2.EmbedTextsRequest(texts=texts)
    motions = [features_message(rng.normal(0, 1, (200, 263)).astype(np.float32)) for _ in range(batch)]
    return "EmbedMotions", embedding_pb2.EmbedMotionsRequest(motions=motions)


async def run_level(target: str, method: str, request, concurrency: int, seconds: float, deadline_s: float,
                    channels: int, backoff_s: float, max_backoff_s: float = 1.0
                    ) -> tuple[list[float], Counter, dict[str, str]]:
    """(latencies of OK calls that ended in the window, outcome codes of calls that ended in the window, a status
    message per non-OK code)."""
    import grpc

    from motion_retrieval_server.api import embedding_pb2_grpc

    latencies: list[float] = []
    codes: Counter = Counter()
    examples: dict[str, str] = {}
    # A subchannel pool per channel: one TCP connection each, as separate client processes would have (channels with
    # the same target and arguments otherwise share one connection).
    pool = [grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(max(1, min(channels, concurrency)))]
    stubs = [getattr(embedding_pb2_grpc.EmbeddingServiceStub(c), method) for c in pool]
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + seconds
    rng = random.Random(0)

    async def caller(call) -> None:
        backoff = backoff_s
        while loop.time() < end:
            sent = loop.time()
            pushback = None
            try:
                await call(request, timeout=deadline_s)
                code = "OK"
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                examples.setdefault(code, (exc.details() or "")[:200])
                pushback = _pushback_s(exc.trailing_metadata())
            done = loop.time()
            if done <= end:
                codes[code] += 1
                if code == "OK":
                    latencies.append(done - sent)
            if code in SHED_CODES:
                await asyncio.sleep((pushback if pushback is not None else backoff) * rng.uniform(0.5, 1.5))
                backoff = min(backoff * 2, max_backoff_s)
            else:
                backoff = backoff_s

    await asyncio.gather(*(caller(stubs[i % len(stubs)]) for i in range(concurrency)))
    for channel in pool:
        await channel.close()
    return latencies, codes, examples


def _pushback_s(metadata) -> float | None:
    for key, value in metadata or ():
        if key == "grpc-retry-pushback-ms":
            try:
                return max(0.0, int(value) / 1000)
            except ValueError:
                return None
    return None


def measure(service: Service, args, deadline_s: float, concurrency: int) -> Level:
    name, request = make_request(args.method, args.batch)
    before = service.shed_counts()
    latencies, codes, examples = asyncio.run(run_level(service.target, name, request, concurrency, args.seconds,
                                                       deadline_s, args.channels, args.backoff, args.max_backoff))
    after = service.shed_counts()
    level = Level(deadline_s=deadline_s, concurrency=concurrency, seconds=args.seconds, ok=codes.get("OK", 0),
                  codes=dict(sorted(codes.items())), examples=examples)
    level.goodput = round(level.ok / args.seconds, 2)
    level.shed = sum(codes.get(c, 0) for c in SHED_CODES)
    if latencies:
        lat = np.asarray(latencies) * 1e3
        level.p50_ms = round(float(np.percentile(lat, 50)), 1)
        level.p99_ms = round(float(np.percentile(lat, 99)), 1)
    level.server_shed = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(after) if after.get(k, 0)
                         - before.get(k, 0)}
    level.rss_mib = service.process.memory_mib().get("VmRSS")
    return level


def add_ratios(levels: list[Level]) -> None:
    for deadline in {lv.deadline_s for lv in levels}:
        same = [lv for lv in levels if lv.deadline_s == deadline]
        base = next((lv for lv in same if lv.concurrency == LIGHT_LOAD), None) or min(same, key=lambda lv:
                                                                                       lv.concurrency)
        for lv in same:
            lv.ratio = round(lv.goodput / base.goodput, 3) if base.goodput else None


def summary(levels: list[Level]) -> dict[str, float | None]:
    out = {}
    for lv in levels:
        if lv.concurrency >= 128:
            out[f"goodput ratio c={lv.concurrency} vs c={LIGHT_LOAD}, deadline {lv.deadline_s:g} s (target >= 0.8)"] \
                = lv.ratio
    return out


def print_table(levels: list[Level]) -> None:
    print(f"{'deadline':>8s} {'conc':>5s} {'goodput/s':>9s} {'ratio':>6s} {'OK':>6s} {'shed':>6s} {'p50 ms':>7s} "
          f"{'p99 ms':>7s} {'RSS MiB':>8s}  other codes / server-side shed reasons")
    for lv in levels:
        other = {k: v for k, v in lv.codes.items() if k not in ("OK", *SHED_CODES)}
        p50 = f"{lv.p50_ms:7.1f}" if lv.p50_ms is not None else "      -"
        p99 = f"{lv.p99_ms:7.1f}" if lv.p99_ms is not None else "      -"
        ratio = f"{lv.ratio:6.2f}" if lv.ratio is not None else "     -"
        print(f"{lv.deadline_s:8g} {lv.concurrency:5d} {lv.goodput:9.1f} {ratio} {lv.ok:6d} {lv.shed:6d} {p50} {p99} "
              f"{lv.rss_mib or 0:8.1f}  {other or ''} {lv.server_shed or ''}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=None,
                        help="exported repository (default: ./model_repository, else the shipped model exported now)")
    parser.add_argument("--method", choices=("texts", "motions"), default="texts")
    parser.add_argument("--batch", type=int, default=8, help="items per call")
    parser.add_argument("--concurrency", type=int, nargs="+", default=None, help=f"levels [{SHORT_LEVELS}]")
    parser.add_argument("--deadlines", type=float, nargs="+", default=None, help="call deadlines, seconds [1]")
    parser.add_argument("--seconds", type=float, default=None, help="measured window per level [20]")
    parser.add_argument("--long", action="store_true",
                        help=f"the full sweep: levels {LONG_LEVELS}, 20 s each, deadlines 1 and 2 s")
    parser.add_argument("--channels", type=int, default=8, help="client channels the callers share")
    parser.add_argument("--backoff", type=float, default=0.05, help="first backoff after being shed, seconds")
    parser.add_argument("--max-backoff", type=float, default=1.0, help="backoff cap, seconds")
    parser.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                        help="extra `serve` argument (repeat), e.g. --serve-arg=--max-queue --serve-arg=64")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)
    args.concurrency = args.concurrency or (LONG_LEVELS if args.long else SHORT_LEVELS)
    args.deadlines = args.deadlines or ([1.0, 2.0] if args.long else [1.0])
    # 20 s windows: with 7 s, runs of the same code on the 2-core VM disagreed by more than the effect measured
    # (light-load goodput alone varied between windows); docs/BENCHMARKS.md has the figures.
    args.seconds = args.seconds or 20.0

    levels: list[Level] = []
    with tempfile.TemporaryDirectory() as tmp:
        repository, described = model_repository(args.model_repository, Path(tmp))
        service = Service(repository, args.serve_arg)
        try:
            service.process.wait_serving()
            name, request = make_request(args.method, args.batch)
            asyncio.run(run_level(service.target, name, request, 2, 3.0, 10.0, 1, args.backoff))  # warm-up
            print(f"model: {described}; {args.method} x {args.batch} per call; {os.cpu_count()} CPUs",
                  file=sys.stderr)
            for deadline in args.deadlines:
                for concurrency in args.concurrency:
                    level = measure(service, args, deadline, concurrency)
                    levels.append(level)
                    print(f"  deadline {deadline:g} s  c={concurrency:<4d} goodput {level.goodput:7.1f}/s  "
                          f"shed {level.shed:6d}  codes {level.codes}", file=sys.stderr)
            memory = service.process.memory_mib()
        finally:
            service.process.stop()
    add_ratios(levels)
    report = {"model": described, "method": args.method, "batch": args.batch,
              "backoff_s": [args.backoff, args.max_backoff],
              "levels": [asdict(lv) for lv in levels], "service_memory_mib": memory, "targets": summary(levels),
              "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print_table(levels)
        print("service memory (MiB):", json.dumps(memory))
        for key, value in report["targets"].items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
