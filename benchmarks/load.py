"""Goodput under offered load: closed-loop callers (each call with a deadline) against a real `motion-retrieval
serve` process, in two profiles, each run --runs times: the **ramp** (concurrency raised level by level, 4 -> 256,
the callers of one level staying on into the next) and the **step** (4 callers, then 128 at once). Per level:
goodput (OK calls per second that met their deadline), shed calls (RESOURCE_EXHAUSTED, UNAVAILABLE), errors by
status code, p50/p99 latency of OK calls and the service's resident memory; then the ratio of goodput at each level
to goodput at light load (c=4) in the same run, and over the runs its median and spread (min..max).

Target (issues 11 and 19): median ratio at concurrency 128-256 >= 0.8 in the ramp and the step. Without admission
control the service computed calls whose callers had given up, and goodput fell to 17 % at 256.

The service runs on the first core and the callers on the others (process affinity): when they shared the 2 cores,
the callers' CPU came out of the service's and the same step gave 0.45, 0.88 and 0.94 on three runs.

Callers behave like well-configured gRPC clients: each sends its next call as soon as the last one ends; after a
RESOURCE_EXHAUSTED or UNAVAILABLE it waits as a gRPC retry policy does: the server's pushback
(``grpc-retry-pushback-ms``) when the refusal carries one, else an exponential backoff (--backoff seconds at first,
doubling per consecutive refusal up to --max-backoff); jittered 0.5-1.5x, reset by an answer. The callers are
coroutines on --channels connections of their own (think client pods) in this process.

    python -m benchmarks.load                     # ramp 4..256 and step 4 -> 128, 20 s per level, 3 runs (~8 min)
    python -m benchmarks.load --profiles step --runs 5
    python -m benchmarks.load --long              # ramp 1..256 x deadlines 1 and 2 s, and the step
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

SHORT_LEVELS = [4, 16, 64, 128, 256]
LONG_LEVELS = [1, 2, 4, 8, 16, 32, 64, 128, 192, 256]
STEP_LEVELS = [4, 128]
LIGHT_LOAD = 4  # the baseline level of the ratios
TARGET_RATIO = 0.8
SHED_CODES = ("RESOURCE_EXHAUSTED", "UNAVAILABLE")
WORDS = ["a person", "someone", "a man", "walks", "runs", "jumps", "waves", "slowly", "forward", "in a circle",
         "then stops", "and turns around", "with both arms raised above the head"]


@dataclass
class Level:
    profile: str  # "ramp" or "step"
    run: int  # 0-based run of the profile
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
    ratio: float | None = None  # goodput / goodput at light load (same profile, run and deadline)


@dataclass
class Spread:
    profile: str
    deadline_s: float
    concurrency: int
    runs: int
    median_ratio: float | None
    min_ratio: float | None
    max_ratio: float | None
    median_goodput: float


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
    from motion_retrieval_server.messages import features_message

    rng = np.random.default_rng(seed)
    if method == "texts":
        texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 12)))) for _ in range(batch)]
        return "EmbedTexts", embedding_pb2.EmbedTextsRequest(texts=texts)
    motions = [features_message(rng.normal(0, 1, (200, 263)).astype(np.float32)) for _ in range(batch)]
    return "EmbedMotions", embedding_pb2.EmbedMotionsRequest(motions=motions)


@dataclass
class Phase:
    """What the callers saw while ``concurrency`` of them ran."""
    concurrency: int
    latencies: list[float] = field(default_factory=list)  # OK calls that ended in the phase
    codes: Counter = field(default_factory=Counter)  # outcomes of calls that ended in the phase
    examples: dict[str, str] = field(default_factory=dict)
    server_shed: dict[str, int] = field(default_factory=dict)


async def run_profile(target: str, method: str, request, levels: list[int], seconds: float, deadline_s: float,
                      channels: int, backoff_s: float, max_backoff_s: float = 1.0, shed_counts=None,
                      seed: int = 0) -> list[Phase]:
    """Closed-loop callers, ``levels[i]`` of them during phase i (each ``seconds`` long): callers that started in
    one phase go on in the next, new ones join at once when a phase begins. A call counts in the phase it ends in.
    ``shed_counts()`` (blocking, optional) is read at every phase boundary for the service's own shed counters."""
    import grpc

    from motion_retrieval_server.api import embedding_pb2_grpc

    phases = [Phase(c) for c in levels]
    # A subchannel pool per channel: one TCP connection each, as separate client processes would have (channels with
    # the same target and arguments otherwise share one connection).
    pool = [grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(max(1, min(channels, max(levels))))]
    stubs = [getattr(embedding_pb2_grpc.EmbeddingServiceStub(c), method) for c in pool]
    loop = asyncio.get_running_loop()
    start = loop.time()
    ends = [start + seconds * (i + 1) for i in range(len(levels))]
    end = ends[-1]
    rng = random.Random(seed)

    def phase_at(t: float) -> Phase | None:
        for phase, phase_end in zip(phases, ends):
            if t <= phase_end:
                return phase
        return None

    async def caller(call) -> None:
        backoff = backoff_s
        while loop.time() < end:
            sent = loop.time()
            pushback, details = None, ""
            try:
                await call(request, timeout=deadline_s)
                code = "OK"
            except grpc.aio.AioRpcError as exc:
                code, details = exc.code().name, exc.details() or ""
                pushback = _pushback_s(exc.trailing_metadata())
            done = loop.time()
            phase = phase_at(done)
            if phase is not None:
                phase.codes[code] += 1
                if code == "OK":
                    phase.latencies.append(done - sent)
                else:
                    phase.examples.setdefault(code, details[:200])
            if code in SHED_CODES:
                await asyncio.sleep((pushback if pushback is not None else backoff) * rng.uniform(0.5, 1.5))
                backoff = min(backoff * 2, max_backoff_s)
            else:
                backoff = backoff_s

    tasks: list[asyncio.Task] = []
    before = await loop.run_in_executor(None, shed_counts) if shed_counts else {}
    for index, phase in enumerate(phases):
        for i in range(len(tasks), phase.concurrency):
            tasks.append(asyncio.ensure_future(caller(stubs[i % len(stubs)])))
        await asyncio.sleep(max(0.0, ends[index] - loop.time()))
        if shed_counts:
            after = await loop.run_in_executor(None, shed_counts)
            phase.server_shed = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(after)
                                 if after.get(k, 0) - before.get(k, 0)}
            before = after
    await asyncio.gather(*tasks)
    for channel in pool:
        await channel.close()
    return phases


def _pushback_s(metadata) -> float | None:
    for key, value in metadata or ():
        if key == "grpc-retry-pushback-ms":
            try:
                return max(0.0, int(value) / 1000)
            except ValueError:
                return None
    return None


def measure(service: Service, args, profile: str, run: int, deadline_s: float, levels: list[int]) -> list[Level]:
    name, request = make_request(args.method, args.batch)
    phases = asyncio.run(run_profile(service.target, name, request, levels, args.seconds, deadline_s, args.channels,
                                     args.backoff, args.max_backoff, service.shed_counts, seed=run))
    rss = service.process.memory_mib().get("VmRSS")
    out = []
    for phase in phases:
        codes = phase.codes
        level = Level(profile=profile, run=run, deadline_s=deadline_s, concurrency=phase.concurrency,
                      seconds=args.seconds, ok=codes.get("OK", 0), codes=dict(sorted(codes.items())),
                      server_shed=phase.server_shed, examples=phase.examples, rss_mib=rss)
        level.goodput = round(level.ok / args.seconds, 2)
        level.shed = sum(codes.get(c, 0) for c in SHED_CODES)
        if phase.latencies:
            lat = np.asarray(phase.latencies) * 1e3
            level.p50_ms = round(float(np.percentile(lat, 50)), 1)
            level.p99_ms = round(float(np.percentile(lat, 99)), 1)
        out.append(level)
    base = next((lv for lv in out if lv.concurrency == LIGHT_LOAD), None) or min(out, key=lambda lv: lv.concurrency)
    for lv in out:
        lv.ratio = round(lv.goodput / base.goodput, 3) if base.goodput else None
    return out


def spreads(levels: list[Level]) -> list[Spread]:
    """Median and range over the runs of each (profile, deadline, concurrency)."""
    keys = sorted({(lv.profile, lv.deadline_s, lv.concurrency) for lv in levels})
    out = []
    for profile, deadline, concurrency in keys:
        same = [lv for lv in levels if (lv.profile, lv.deadline_s, lv.concurrency) == (profile, deadline, concurrency)]
        ratios = [lv.ratio for lv in same if lv.ratio is not None]
        out.append(Spread(profile, deadline, concurrency, len(same),
                          round(float(np.median(ratios)), 3) if ratios else None,
                          min(ratios) if ratios else None, max(ratios) if ratios else None,
                          round(float(np.median([lv.goodput for lv in same])), 2)))
    return out


def summary(rows: list[Spread]) -> dict[str, str | None]:
    out = {}
    for row in rows:
        if row.concurrency >= 128:
            key = (f"{row.profile}: median goodput ratio c={row.concurrency} vs c={LIGHT_LOAD}, deadline "
                   f"{row.deadline_s:g} s, {row.runs} runs (target >= {TARGET_RATIO})")
            out[key] = (f"{row.median_ratio} (spread {row.min_ratio}..{row.max_ratio})"
                        if row.median_ratio is not None else None)
    return out


def print_table(levels: list[Level], rows: list[Spread]) -> None:
    print(f"{'profile':>7s} {'run':>3s} {'deadline':>8s} {'conc':>5s} {'goodput/s':>9s} {'ratio':>6s} {'OK':>6s} "
          f"{'shed':>6s} {'p50 ms':>7s} {'p99 ms':>7s} {'RSS MiB':>8s}  other codes / server-side shed reasons")
    for lv in levels:
        other = {k: v for k, v in lv.codes.items() if k not in ("OK", *SHED_CODES)}
        p50 = f"{lv.p50_ms:7.1f}" if lv.p50_ms is not None else "      -"
        p99 = f"{lv.p99_ms:7.1f}" if lv.p99_ms is not None else "      -"
        ratio = f"{lv.ratio:6.2f}" if lv.ratio is not None else "     -"
        print(f"{lv.profile:>7s} {lv.run:3d} {lv.deadline_s:8g} {lv.concurrency:5d} {lv.goodput:9.1f} {ratio} "
              f"{lv.ok:6d} {lv.shed:6d} {p50} {p99} {lv.rss_mib or 0:8.1f}  {other or ''} {lv.server_shed or ''}")
    print(f"\n{'profile':>7s} {'deadline':>8s} {'conc':>5s} {'runs':>4s} {'median ratio':>12s} {'spread':>13s} "
          f"{'median goodput/s':>16s}")
    for row in rows:
        spread = f"{row.min_ratio}..{row.max_ratio}" if row.median_ratio is not None else "-"
        print(f"{row.profile:>7s} {row.deadline_s:8g} {row.concurrency:5d} {row.runs:4d} {row.median_ratio!s:>12s} "
              f"{spread:>13s} {row.median_goodput:16.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=None,
                        help="exported repository (default: ./model_repository, else the shipped model exported now)")
    parser.add_argument("--method", choices=("texts", "motions"), default="texts")
    parser.add_argument("--batch", type=int, default=8, help="items per call")
    parser.add_argument("--profiles", nargs="+", choices=("ramp", "step"), default=["ramp", "step"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=None, help=f"ramp levels [{SHORT_LEVELS}]")
    parser.add_argument("--step", type=int, nargs=2, default=STEP_LEVELS, metavar=("FROM", "TO"),
                        help=f"step profile: callers before and after the step [{STEP_LEVELS}]")
    parser.add_argument("--runs", type=int, default=3, help="runs of each profile (median and spread) [3]")
    parser.add_argument("--deadlines", type=float, nargs="+", default=None, help="call deadlines, seconds [1]")
    parser.add_argument("--seconds", type=float, default=None, help="measured window per level [20]")
    parser.add_argument("--long", action="store_true",
                        help=f"the full sweep: ramp levels {LONG_LEVELS}, 20 s each, deadlines 1 and 2 s")
    parser.add_argument("--channels", type=int, default=8, help="client channels the callers share")
    parser.add_argument("--backoff", type=float, default=0.05, help="first backoff after being shed, seconds")
    parser.add_argument("--max-backoff", type=float, default=1.0, help="backoff cap, seconds")
    parser.add_argument("--no-affinity", action="store_true", help="let the service and the callers share cores")
    parser.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                        help="extra `serve` argument (repeat), e.g. --serve-arg=--max-queue --serve-arg=64")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.concurrency = sorted(args.concurrency or (LONG_LEVELS if args.long else SHORT_LEVELS))
    args.deadlines = args.deadlines or ([1.0, 2.0] if args.long else [1.0])
    # 20 s windows: with 7 s, four runs on the 2-core VM gave ratios from 0.55 to 1.37 at the same level.
    args.seconds = args.seconds or 20.0
    profiles = {"ramp": args.concurrency, "step": list(args.step)}

    from benchmarks.serving import split_cores

    service_cpus, load_cpus = (None, None) if args.no_affinity else split_cores()
    levels: list[Level] = []
    with tempfile.TemporaryDirectory() as tmp:
        repository, described = model_repository(args.model_repository, Path(tmp))
        service = Service(repository, args.serve_arg, cpus=service_cpus)
        if load_cpus:
            os.sched_setaffinity(0, load_cpus)  # the callers (this process) off the service's core from here on
        try:
            service.process.wait_serving()
            name, request = make_request(args.method, args.batch)
            asyncio.run(run_profile(service.target, name, request, [2], 3.0, 10.0, 1, args.backoff))  # warm-up
            print(f"model: {described}; {args.method} x {args.batch} per call; {os.cpu_count()} CPUs; service on "
                  f"{sorted(service_cpus) if service_cpus else 'any'}, callers on "
                  f"{sorted(load_cpus) if load_cpus else 'any'}", file=sys.stderr)
            for run in range(args.runs):
                for deadline in args.deadlines:
                    for profile in args.profiles:
                        for level in measure(service, args, profile, run, deadline, profiles[profile]):
                            levels.append(level)
                            print(f"  {profile} run {run} deadline {deadline:g} s  c={level.concurrency:<4d} goodput "
                                  f"{level.goodput:7.1f}/s  ratio {level.ratio}  shed {level.shed:6d}  codes "
                                  f"{level.codes}", file=sys.stderr)
            memory = service.process.memory_mib()
        finally:
            service.process.stop()
    rows = spreads(levels)
    report = {"model": described, "method": args.method, "batch": args.batch,
              "backoff_s": [args.backoff, args.max_backoff], "runs": args.runs, "profiles": profiles,
              "service_cpus": sorted(service_cpus) if service_cpus else "any",
              "load_cpus": sorted(load_cpus) if load_cpus else "any",
              "levels": [asdict(lv) for lv in levels], "spread": [asdict(r) for r in rows],
              "service_memory_mib": memory, "targets": summary(rows), "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print_table(levels, rows)
        print("service memory (MiB):", json.dumps(memory))
        for key, value in report["targets"].items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
