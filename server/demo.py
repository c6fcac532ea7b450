"""``motion-retrieval demo``: the main job, end to end, on embedded defaults.

1. a procedural corpus in the HumanML3D format (plus the real CMU takes of ../shared/fixtures when present);
2. the shipped model exported to the Triton model repository (skipped when the export is up to date);
3. the gRPC service started on loopback: Milvus Lite, the in-process TorchScript backend (``--triton``: the real
   local tritonserver and the Triton backend);
4. the corpus ingested through the service (idempotent: a re-run changes nothing);
5. text -> motion and motion -> text queries, printed as ranked tables, and a picture of the top hits;
6. with ``--web``: the search page (``motion-retrieval web``) in front of the service, both kept running until Ctrl-C.

Everything lands in ``--out`` (default ``demo_output/``); re-running reuses the corpus, the export and the rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from motion_retrieval.errors import MotionRetrievalError
from motion_retrieval.serving.repository import default_model_repository

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_BVH = REPO_ROOT.parent / "shared" / "fixtures" / "bvh-cmu"
DEFAULT_QUERIES = (
    "a person walks forward and then turns around",
    "someone waves with the left hand",
    "a person jumps in place three times",
    "a person kicks with the right leg",
    "a man sits down on a chair",
)


class DemoError(MotionRetrievalError):
    """A step of the demo could not be done; the message says which and why."""


@dataclass
class DemoConfig:
    out_dir: Path = Path("demo_output")
    clips: int = 200  # originals; the corpus holds twice as many motions with the mirrors
    seed: int = 2026  # not a seed the default model was trained on
    # Exported here from the run when missing or stale; unset: serving.repository.default_model_repository.
    model_repository: Path = field(default_factory=default_model_repository)
    run_dir: Path | None = None  # None = the shipped default model
    triton: bool = False  # serve through the real local tritonserver
    top_k: int = 5
    queries: Sequence[str] = DEFAULT_QUERIES
    include_real_bvh: bool = True
    web: bool = False  # keep the service up with the search page in front of it until Ctrl-C
    web_port: int = 8080


@dataclass
class DemoReport:
    corpus: str
    model_id: str
    backend: str
    ingest: dict
    text_to_motion: list[dict] = field(default_factory=list)
    motion_to_text: list[dict] = field(default_factory=list)
    picture: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)


# -- steps ------------------------------------------------------------------------------------------------------------
def ensure_corpus(config: DemoConfig) -> Path:
    from motion_retrieval.synth.corpus import generate_corpus

    corpus = config.out_dir / "corpus"
    done = corpus / "demo-corpus.json"
    expected = {"clips": config.clips, "seed": config.seed, "dialect": "humanml3d"}
    if done.is_file() and json.loads(done.read_text()) == expected:
        log.info("corpus %s is up to date", corpus)
        return corpus
    if corpus.exists():  # interrupted or made with other settings: start it over
        import shutil

        shutil.rmtree(corpus)
    generate_corpus(corpus, dialect="humanml3d", n=config.clips, seed=config.seed, progress=True)
    done.write_text(json.dumps(expected))
    return corpus


def _run_fingerprint(run_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and p.suffix in {".json", ".pt", ".npz"}
                       and p.name not in {"checkpoint.pt", "metrics.jsonl"}):
        digest.update(path.relative_to(run_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_export(config: DemoConfig) -> str:
    """Export the run into the model repository unless the repository already holds this very run."""
    from motion_retrieval.export.repository import export_run, read_repository_info
    from motion_retrieval.run_dir import default_run_dir

    run_dir = Path(config.run_dir or default_run_dir())
    if not (run_dir / "config.json").is_file():
        raise DemoError(f"{run_dir}: no trained run here; train one (`make default-model`) or pass --run")
    stamp = config.model_repository / ".exported-from"
    fingerprint = _run_fingerprint(run_dir)
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        try:
            info = read_repository_info(config.model_repository)
            log.info("model repository %s is up to date (%s)", config.model_repository, info.model_id)
            return info.model_id
        except MotionRetrievalError:
            pass
    result = export_run(run_dir, config.model_repository)
    stamp.write_text(fingerprint + "\n")
    return read_repository_info(config.model_repository).model_id if result else ""


class _Process:
    """A child process we own: started with its log in a file, stopped by pid (SIGTERM, then SIGKILL)."""

    def __init__(self, argv: list[str], log_path: Path, env: dict | None = None):
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def start_service(config: DemoConfig, triton_url: str | None) -> tuple[_Process, str]:
    from motion_retrieval.export.triton_local import free_port
    from motion_retrieval_server.healthcheck import check

    port = free_port()
    argv = [sys.executable, "-m", "motion_retrieval", "serve", "--model-repository", str(config.model_repository),
            "--milvus", str((config.out_dir / "milvus.db").resolve()), "--host", "127.0.0.1", "--port", str(port),
            "--metrics-port", "0", "--log-format", "text"]
    if triton_url:
        argv += ["--backend", "triton", "--triton-url", triton_url]
    if config.include_real_bvh and SHARED_BVH.is_dir():  # their own frames can be downloaded (source BVH clips)
        argv += ["--clip-source-root", str(SHARED_BVH.resolve())]
    service = _Process(argv, config.out_dir / "service.log")
    target = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise DemoError(f"the service exited with {service.proc.returncode}:\n{service.log_tail()}")
        try:
            if check(target, timeout=1.0) == "SERVING":
                return service, target
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.5)
    service.stop()
    raise DemoError(f"the service did not become SERVING within 180 s:\n{service.log_tail()}")


def demo_records(corpus: Path, include_real_bvh: bool) -> tuple[list, list[str]]:
    from motion_retrieval.data.load import load_path

    errors: list = []
    records = list(load_path(corpus, errors=errors))
    if include_real_bvh and SHARED_BVH.is_dir():
        records += list(load_path(SHARED_BVH, errors=errors))
    return records, [str(e) for e in errors]


def _hit_strips(hits: list[dict], records) -> list:
    """(joints, fps, title) of each hit, from the records the demo itself sent (the service keeps only vectors; it
    never opens a source path a client named)."""
    from motion_retrieval.features import FPS, features_to_joints
    from motion_retrieval.serving.hits import MotionHit
    from motion_retrieval_milvus.previews import hit_title

    by_source = {(r.source, r.id): r for r in records}
    strips = []
    for rank, h in enumerate(hits, start=1):
        hit = MotionHit.from_json(h)
        record = by_source.get((hit.source, hit.name.split("@")[0]))
        if record is None or record.features is None:
            continue
        first = max(0, int(round((hit.start_s - record.start) * FPS)))
        last = int(round((hit.end_s - record.start) * FPS)) + 1
        joints = features_to_joints(record.features[first:max(last, first + 2)])  # (T, 22, 3)
        strips.append((joints, FPS, hit_title(rank, hit)))
    return strips


def start_web(config: DemoConfig, target: str) -> tuple[_Process, str]:
    """``motion-retrieval web`` in front of the service at ``target``, on loopback; returns it once /healthz answers."""
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{config.web_port}/"
    argv = [sys.executable, "-m", "motion_retrieval", "web", "--server", target, "--host", "127.0.0.1", "--port",
            str(config.web_port), "--log-level", "warning"]
    web = _Process(argv, config.out_dir / "web.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.proc.poll() is not None:
            raise DemoError(f"the web page exited with {web.proc.returncode} (is port {config.web_port} taken? "
                            f"pass --web-port):\n{web.log_tail()}")
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1.0):
                return web, url
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    web.stop()
    raise DemoError(f"the web page did not answer on {url} within 60 s:\n{web.log_tail()}")


def serve_until_interrupted(config: DemoConfig, target: str) -> None:
    """The search page in front of the running service until Ctrl-C (or SIGTERM); then the page stops."""
    web, url = start_web(config, target)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM ends the wait like Ctrl-C
    try:
        print(f"\nsearch page: {url}  (service {target}; Ctrl-C stops both)", flush=True)
        while web.proc.poll() is None:
            time.sleep(0.5)
        raise DemoError(f"the web page exited with {web.proc.returncode}:\n{web.log_tail()}")
    except KeyboardInterrupt:
        print("stopping the page and the service", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        web.stop()


def run_demo(config: DemoConfig, on_ready=None) -> DemoReport:
    """The demo's steps; ``on_ready(report, target)``, when given, runs once the queries are done, while the service
    is still up (``--web`` serves the page from there until Ctrl-C)."""
    from motion_retrieval.export.triton_local import LocalTriton
    from motion_retrieval_milvus.previews import render_strips
    from motion_retrieval_server.client import MotionRetrievalClient

    config.out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round(now - started, 2)
        started = now

    corpus = ensure_corpus(config)
    lap("corpus")
    model_id = ensure_export(config)
    lap("export")
    triton = None
    if config.triton:
        triton = LocalTriton(config.model_repository).start()
        triton.wait_ready()
        lap("triton_start")
    service, target = start_service(config, triton.urls.grpc if triton else None)
    lap("service_start")
    try:
        records, bad = demo_records(corpus, config.include_real_bvh)
        for problem in bad:
            log.warning("skipped: %s", problem)
        with MotionRetrievalClient(target, timeout=600) as client:
            ingest = client.ingest(records)
            lap("ingest")
            report = DemoReport(corpus=str(corpus), model_id=model_id or client.model_id,
                                backend="triton" if triton else "torchscript", ingest=ingest)
            for text in config.queries:
                hits = client.search_motions(text, top_k=config.top_k)
                report.text_to_motion.append({"query": text, "hits": hits})
            picks = [r for r in records if r.split == "test" and not r.id.startswith("M")][:2]
            picks += [r for r in records if r.dataset == "bvh"][-1:]
            for record in picks:
                hits = client.search_captions(record.features, top_k=config.top_k)
                truth = record.captions[0].text if record.captions else ""
                report.motion_to_text.append({"motion": record.id, "source": record.source, "truth": truth,
                                              "hits": hits})
            lap("queries")
        first = report.text_to_motion[0]["hits"][:3] if report.text_to_motion else []
        strips = _hit_strips(first, records) if first else []
        if strips:
            picture = config.out_dir / "top_hits.png"
            render_strips(strips, picture)
            report.picture = str(picture)
            lap("picture")
        report.timings_s = dict(timings)
        if on_ready is not None:
            on_ready(report, target)
    finally:
        service.stop()
        if triton is not None:
            triton.stop()
    report.timings_s = timings
    return report


# -- printing ---------------------------------------------------------------------------------------------------------
def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_report(report: DemoReport, web_hint: bool = True) -> None:
    ingest = report.ingest
    print(f"model {report.model_id} on the {report.backend} backend; corpus {report.corpus}")
    print("ingest: " + ", ".join(f"{k} {v}" for k, v in ingest.items() if k != "errors" and not isinstance(v, list)))
    for query in report.text_to_motion:
        print(f"\ntext -> motion: {query['query']!r}")
        print(f"  {'#':>2}  {'score':>6}  {'motion':<18} {'window':>11}  caption")
        for rank, hit in enumerate(query["hits"], start=1):
            window = f"{hit['start_s']:.1f}-{hit['end_s']:.1f}s"
            caption = hit["captions"][0] if hit["captions"] else ""
            print(f"  {rank:>2}  {hit['score']:6.3f}  {_short(hit['name'] or hit['id'], 18):<18} {window:>11}  "
                  f"{_short(caption, 70)}")
    for query in report.motion_to_text:
        print(f"\nmotion -> text: {query['motion']} (its own caption: {query['truth']!r})")
        for rank, hit in enumerate(query["hits"], start=1):
            print(f"  {rank:>2}  {hit['score']:6.3f}  {_short(hit['text'], 90)}")
    if report.picture:
        print(f"\npicture of the top hits: {report.picture}")
    print("timings (s): " + ", ".join(f"{k} {v}" for k, v in report.timings_s.items()))
    if web_hint:
        print("browse the hits as animated skeletons in a web page: motion-retrieval demo --web (then open "
              f"http://127.0.0.1:{DemoConfig.web_port}/; service and page run until Ctrl-C)")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="the main job end to end: corpus, export, service, ingest, search, picture",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=DemoConfig.out_dir, help="working folder (default demo_output/)")
    parser.add_argument("--clips", type=int, default=DemoConfig.clips, help="procedural clips to generate")
    parser.add_argument("--seed", type=int, default=DemoConfig.seed, help="corpus seed")
    parser.add_argument("--run", type=Path, default=None, help="trained run to export (default: the shipped model)")
    parser.add_argument("--model-repository", type=Path, default=None, metavar="DIR",
                        help="model repository to export to and serve (default: $MOTION_RETRIEVAL_MODEL_REPOSITORY, "
                             "else ./model_repository, else the source checkout's)")
    parser.add_argument("--triton", action="store_true", help="serve through the bundled tritonserver")
    parser.add_argument("--top-k", type=int, default=DemoConfig.top_k)
    parser.add_argument("--no-real-bvh", action="store_true", help="do not ingest ../shared/fixtures/bvh-cmu")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--web", action="store_true",
                        help="then keep the service running with the search page in front of it until Ctrl-C")
    parser.add_argument("--web-port", type=int, default=DemoConfig.web_port, help="port of the page (--web)")
    parser.set_defaults(func=_handle)


def _handle(args) -> int:
    from motion_retrieval.cli import print_json

    if args.clips < 10:
        raise DemoError(f"--clips {args.clips}: need at least 10 clips for a meaningful demo")
    config = DemoConfig(out_dir=args.out, clips=args.clips, seed=args.seed, run_dir=args.run,
                        model_repository=args.model_repository or default_model_repository(), triton=args.triton,
                        top_k=args.top_k, include_real_bvh=not args.no_real_bvh, web=args.web,
                        web_port=args.web_port)
    if not args.json:
        print(f"motion-retrieval demo -> {config.out_dir}/ (first run: corpus + export take a minute or two)",
              flush=True)
    if config.web and args.json:
        raise DemoError("--web keeps running until Ctrl-C; it does not combine with --json")

    def show_and_serve(report: DemoReport, target: str) -> None:
        print_report(report, web_hint=False)
        serve_until_interrupted(config, target)

    report = run_demo(config, on_ready=show_and_serve if config.web else None)
    if args.json:
        print_json(asdict(report))
    elif not config.web:
        print_report(report)
    return 0
