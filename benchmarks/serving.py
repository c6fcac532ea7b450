"""Serving overhead: EmbedTexts / EmbedMotions throughput and p50/p99 latency at batch 1 and 64 and concurrency
1/8/32, for four ways of running the same exported model, all in one run:

  inprocess      TorchScriptEmbedder in this process (the baseline)
  service-ts     `motion-retrieval serve --backend torchscript` (a separate process) through MotionRetrievalClient
  triton         direct tritonclient.grpc calls to the bundled tritonserver (tokenising/padding in the client)
  service-triton `motion-retrieval serve --backend triton` against the same tritonserver

Ratios: service-ts against inprocess, service-triton against triton (same method, batch, concurrency). Targets: the
service adds <= 15% at batch 64 and <= 3 ms p50 at batch 1 (torchscript backend); the triton-backed service reaches
>= 85% of direct-Triton throughput. Also the service's resident memory (VmRSS / VmHWM of its process).

The local tritonserver is the nvidia-pytriton build, which serves model.pt through Python-backend mirrors (no libtorch
backend here): Triton figures are for that set-up, not for production libtorch on GPU. On a shared CPU machine every
figure moves with whatever else runs; compare ratios within one run.

    python -m benchmarks.serving                                  # ./model_repository or an untrained "cpu" model
    python -m benchmarks.serving --model-repository REPO --requests 16 --concurrency 1 8 --json
    python -m benchmarks.serving --skip-triton                    # in-process vs service only
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.ingest import resolve_embedder

WORDS = ["a person", "someone", "a man", "walks", "runs", "jumps", "waves", "slowly", "forward", "in a circle",
         "then stops", "and turns around", "with both arms raised above the head"]


@dataclass
class Result:
    system: str
    method: str  # "texts" | "motions"
    batch: int
    concurrency: int
    requests: int  # calls that succeeded
    seconds: float
    items_per_s: float  # of the calls that succeeded
    p50_ms: float | None  # of the calls that succeeded; None when none did
    p99_ms: float | None
    ratio: float | None = None  # items/s against the reference system of the same method/batch/concurrency
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # failed calls by gRPC code (or exception type)


def make_inputs(batch: int, seed: int = 0) -> tuple[list[str], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 12)))) for _ in range(batch)]
    motions = [rng.normal(0, 1, (int(rng.integers(60, 200)), 263)).astype(np.float32) for _ in range(batch)]
    return texts, motions


def _error_name(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    if callable(code):
        try:
            return code().name
        except Exception:  # noqa: BLE001 - not a grpc error after all
            pass
    return type(exc).__name__


def measure(call, concurrency: int, requests: int, min_seconds: float) -> tuple[float, list[float], Counter]:
    """``call()`` from ``concurrency`` threads until ``requests`` calls and ``min_seconds`` have passed; returns the
    seconds, the latencies of the calls that succeeded and the failed calls by code (a failure is counted, it does
    not end the measurement)."""
    latencies: list[float] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    count = [0]
    start = time.perf_counter()

    def worker():
        while True:
            with lock:
                if count[0] >= requests and time.perf_counter() - start >= min_seconds:
                    return
                count[0] += 1
            t0 = time.perf_counter()
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - deadline exceeded, unavailable, ...: count it and go on
                with lock:
                    errors[_error_name(exc)] += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, errors


def run_system(name: str, calls: dict, args, results: list[Result]) -> None:
    for method in ("texts", "motions"):
        for batch in args.batches:
            call = calls[method](batch)
            call()  # warm-up (first call pays lazy initialisation)
            for concurrency in args.concurrency:
                requests = max(args.requests, concurrency)
                seconds, latencies, errors = measure(call, concurrency, requests, args.min_seconds)
                done = len(latencies)
                lat = np.asarray(latencies) * 1e3
                p50 = round(float(np.percentile(lat, 50)), 3) if done else None
                p99 = round(float(np.percentile(lat, 99)), 3) if done else None
                results.append(Result(name, method, batch, concurrency, done, round(seconds, 3),
                                      round(done * batch / seconds, 2), p50, p99, failed=sum(errors.values()),
                                      errors=dict(errors)))
                last = results[-1]
                print(f"  {name:15s} {method:8s} b={batch:<3d} c={concurrency:<3d} {last.items_per_s:9.1f} items/s"
                      f"  p50 {_ms(last.p50_ms)} ms  p99 {_ms(last.p99_ms)} ms"
                      + (f"  failed {last.failed} {last.errors}" if last.failed else ""), file=sys.stderr)


def _ms(value: float | None) -> str:
    return f"{value:8.2f}" if value is not None else "       -"


# -- systems ----------------------------------------------------------------------------------------------------------
def inprocess_calls(embedder) -> dict:
    def texts(batch):
        t, _ = make_inputs(batch)
        return lambda: embedder.embed_texts(t)

    def motions(batch):
        _, m = make_inputs(batch)
        return lambda: embedder.embed_motions(m)

    return {"texts": texts, "motions": motions}


def client_calls(client) -> dict:
    def texts(batch):
        t, _ = make_inputs(batch)
        return lambda: client.embed_texts(t)

    def motions(batch):
        _, m = make_inputs(batch)
        return lambda: client.embed_motions(m)

    return {"texts": texts, "motions": motions}


def triton_calls(url: str, info) -> dict:
    """Direct tritonclient calls, one client per thread, with the tokenising and padding a caller must do."""
    import tritonclient.grpc as grpcclient

    from motion_retrieval.serving.motions import pad_motions
    from motion_retrieval.serving.tokenizer import TextTokenizer

    tokenizer = TextTokenizer(info.tokenizer, info.max_text_tokens)
    local = threading.local()

    def client():
        if not hasattr(local, "client"):
            local.client = grpcclient.InferenceServerClient(url)
        return local.client

    def infer(model, arrays):
        inputs = []
        for name, array, dtype in arrays:
            tensor = grpcclient.InferInput(name, list(array.shape), dtype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        result = client().infer(model, inputs, outputs=[grpcclient.InferRequestedOutput("EMBEDDING__0")])
        return result.as_numpy("EMBEDDING__0")

    def texts(batch):
        t, _ = make_inputs(batch)

        def call():
            ids, mask = tokenizer.encode(t)
            return infer("text_encoder", [("INPUT_IDS__0", ids, "INT64"), ("ATTENTION_MASK__1", mask, "INT64")])

        return call

    def motions(batch):
        _, m = make_inputs(batch)

        def call():
            motion, mask = pad_motions(m, info.max_frames)
            return infer("motion_encoder", [("MOTION__0", motion, "FP32"), ("MASK__1", mask, "BOOL")])

        return call

    return {"texts": texts, "motions": motions}


def split_cores() -> tuple[set[int] | None, set[int] | None]:
    """(the service's cores, the load generator's cores): the first core of this process's set for the service, the
    others for the callers, so that the callers' CPU does not come out of the service's; (None, None) on one core."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return {cores[0]}, set(cores[1:])


class ServiceProcess:
    """`motion-retrieval serve` in its own process on a free loopback port."""

    def __init__(self, repository: Path, *extra: str, cpus: set[int] | None = None):
        """``cpus``: the cores the service may run on (every thread of it), None: any."""
        from motion_retrieval.export.triton_local import free_port

        self.port = free_port()
        command = [sys.executable, "-m", "motion_retrieval", "serve", "--model-repository", str(repository),
                   "--host", "127.0.0.1", "--port", str(self.port), "--metrics-port", "0", *extra]
        # Its log goes to a file: a pipe nobody reads fills after a few hundred access-log lines and then blocks
        # the service's event loop on a write (every call stalls: the figures would measure the pipe).
        self.log = tempfile.NamedTemporaryFile(prefix="serve-", suffix=".log", delete=False)  # noqa: SIM115
        # Affinity set in the child before exec: every thread the service makes later inherits it.
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log, preexec_fn=pin)

    def log_tail(self, chars: int = 2000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-chars:]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_serving(self, timeout: float = 300.0) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise SystemExit(f"serve exited: {self.log_tail()}")
                try:
                    if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        raise SystemExit("serve did not become SERVING")

    def memory_mib(self) -> dict[str, float]:
        values = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = round(int(value.split()[0]) / 1024, 1)
        return values

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def serve_and_run(name: str, repository: Path, extra: list[str], args, results: list[Result], memory: dict) -> None:
    from motion_retrieval_server.client import MotionRetrievalClient

    service = ServiceProcess(repository, *extra)
    try:
        service.wait_serving()
        with MotionRetrievalClient(service.target, timeout=300) as client:
            run_system(name, client_calls(client), args, results)
        memory[name] = service.memory_mib()
    finally:
        service.stop()


def add_ratios(results: list[Result], pairs: dict[str, str]) -> None:
    index = {(r.system, r.method, r.batch, r.concurrency): r for r in results}
    for r in results:
        reference = index.get((pairs.get(r.system, ""), r.method, r.batch, r.concurrency))
        if reference is not None and reference.items_per_s > 0:
            r.ratio = round(r.items_per_s / reference.items_per_s, 3)


def summary(results: list[Result]) -> dict:
    """The figures the targets name."""
    index = {(r.system, r.method, r.batch, r.concurrency): r for r in results}
    out = {}
    for method in ("texts", "motions"):
        base1, svc1 = index.get(("inprocess", method, 1, 1)), index.get(("service-ts", method, 1, 1))
        if base1 and svc1 and base1.p50_ms is not None and svc1.p50_ms is not None:
            out[f"service-ts/{method}/b1/c1 added p50 ms (target <= 3)"] = round(svc1.p50_ms - base1.p50_ms, 2)
        for c in sorted({r.concurrency for r in results}):
            svc = index.get(("service-ts", method, 64, c))
            if svc and svc.ratio is not None:
                out[f"service-ts/{method}/b64/c{c} throughput vs in-process (target >= 0.87)"] = svc.ratio
            tri = index.get(("service-triton", method, 64, c))
            if tri and tri.ratio is not None:
                out[f"service-triton/{method}/b64/c{c} throughput vs direct Triton (target >= 0.85)"] = tri.ratio
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=None)
    parser.add_argument("--preset", default="cpu", help="untrained preset to export when no repository exists")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=8, help="requests per configuration (at least concurrency)")
    # 3 s: with 1 s (a few dozen batch-1 calls) the added p50 swung by more than the target from run to run on 2
    # shared cores; longer windows settle it (docs/BENCHMARKS.md, service vs in-process).
    parser.add_argument("--min-seconds", type=float, default=3.0, help="and at least this long per configuration")
    parser.add_argument("--skip-triton", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)

    import torch

    results: list[Result] = []
    memory: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        embedder, described = resolve_embedder(args.model_repository, Path(tmp), args.preset)
        repository = Path(embedder.info.path)
        print(f"model: {described} ({embedder.model_id}); torch threads {torch.get_num_threads()}; "
              f"{os.cpu_count()} CPUs", file=sys.stderr)
        run_system("inprocess", inprocess_calls(embedder), args, results)
        serve_and_run("service-ts", repository, ["--backend", "torchscript"], args, results, memory)
        if not args.skip_triton:
            from motion_retrieval.export.triton_local import LocalTriton

            with LocalTriton(repository) as triton:
                run_system("triton", triton_calls(triton.urls.grpc, embedder.info), args, results)
                serve_and_run("service-triton", repository, ["--backend", "triton", "--triton-url", triton.urls.grpc],
                              args, results, memory)
    add_ratios(results, {"service-ts": "inprocess", "service-triton": "triton"})
    report = {"model": described, "results": [asdict(r) for r in results], "memory_mib": memory,
              "targets": summary(results), "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(f"{'system':15s} {'method':8s} {'batch':>5s} {'conc':>4s} {'items/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s}"
              f" {'ratio':>6s} {'failed':>6s}")
        for r in results:
            ratio = f"{r.ratio:6.2f}" if r.ratio is not None else "     -"
            print(f"{r.system:15s} {r.method:8s} {r.batch:5d} {r.concurrency:4d} {r.items_per_s:9.1f} "
                  f"{_ms(r.p50_ms)} {_ms(r.p99_ms)} {ratio} {r.failed:6d}" + (f" {r.errors}" if r.errors else ""))
        print("service memory (MiB):", json.dumps(memory))
        for key, value in report["targets"].items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
