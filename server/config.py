"""Configuration of ``motion-retrieval serve``: command-line flags override environment variables, which override
the defaults below. The variable names are a contract with the Helm chart (deploy/helm)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from motion_retrieval.errors import ConfigError
from motion_retrieval.serving.repository import default_model_repository

ENV_PREFIX = "MOTION_RETRIEVAL_"
BACKENDS = ("torchscript", "triton")
LOG_FORMATS = ("json", "text")


@dataclass(frozen=True)
class ServiceLimits:
    """What one request may carry; advertised by GetModelInfo and enforced by motion_retrieval_server.validation."""

    max_batch_size: int = 64  # texts or motions per Embed* request
    max_frames: int = 4000  # frames per motion as sent (200 s at 20 fps); ingest windows long takes
    min_frames: int = 2  # features; joints need one more (velocities use frames t and t+1)
    max_text_chars: int = 1000  # characters per text (captions are ~12 words; this is a sanity bound)
    # Per request message. The largest real request is a full batch of encoder-length motions: 64 x (200, 263)
    # float32 = 13,465,600 bytes (+ < 2 KB of protobuf framing); 16 MiB leaves ~24 % headroom over it, and also
    # holds one motion at max_frames (4000 x 263 float32 = 4.2 MB). Every byte of a message is held in memory
    # before the handler runs, so this times max_concurrent_rpcs bounds what requests can cost.
    max_message_bytes: int = 16 * 1024 * 1024
    max_delete_ids: int = 10_000
    max_top_k: int = 1000


@dataclass(frozen=True)
class ServeConfig:
    # Exported Triton model repository (tokenizer, model info); unset: serving.repository.default_model_repository.
    model_repository: Path = field(default_factory=default_model_repository)
    backend: str = "torchscript"  # "torchscript" (in process) or "triton"
    triton_url: str = "localhost:8001"  # Triton's gRPC endpoint, for backend "triton"
    milvus_uri: str | None = None  # Milvus server URI or Milvus Lite file; None disables SearchService
    milvus_token: str | None = None  # from --milvus-token-file or the environment, never the command line (ps)
    collection_prefix: str = ""  # Milvus collections are "[<prefix>_]motions_<model id>" (as `motion-retrieval ingest`)
    host: str = "0.0.0.0"
    port: int = 50051  # 0 picks a free port (tests)
    metrics_port: int = 9090  # Prometheus /metrics over HTTP; 0 disables it
    metrics_host: str = "127.0.0.1"  # loopback unless widened (the Helm chart sets 0.0.0.0 for the scraper)
    otel_endpoint: str | None = None  # OTLP/gRPC collector for traces ("http://collector:4317"); None = tracing off
    reflection: bool = True  # gRPC server reflection (grpcurl, tooling); off hides the API description
    auth_token: str | None = None  # bearer token every non-health call must carry; None = no auth
    search_token: str | None = None  # a second, search-only token (no ingest, no delete); needs auth_token
    preview_store: str | None = None  # each row's preview: a folder or s3://bucket/prefix (Lite: <file>.previews)
    clip_source_root: str | None = None  # source BVH takes under this folder may be cut into clips (GetMotionClip)
    tls_cert: Path | None = None  # PEM certificate chain and key; both or neither
    tls_key: Path | None = None
    workers: int = 2  # threads running the in-process encoders (off the event loop)
    # Threads torch uses inside one encoder call (in-process backend, and joints -> features for every backend);
    # None keeps torch's default (one per core). On a pod sharing its cores with other work, or with --workers > 1,
    # calls whose threads wait on each other are slower than single-threaded ones: set it to the cores the pod owns
    # divided by --workers.
    torch_threads: int | None = None
    log_format: str = "text"
    limits: ServiceLimits = field(default_factory=ServiceLimits)
    shutdown_grace_s: float = 10.0  # in-flight calls get this long to finish on SIGTERM; then the process exits
    # Overload protection (admission): encoder calls running at once (None: --workers for the in-process
    # backend, 8 for Triton, whose dynamic batcher merges concurrent calls) and calls queued per tower.
    encoder_slots: int | None = None
    max_queue: int = 32
    # gRPC-level bounds: RPCs in the whole server (beyond: RESOURCE_EXHAUSTED before the message is read) and
    # HTTP/2 streams per client connection (beyond: the client waits). Above the admission queues, so that health
    # probes are still answered while the gate sheds load.
    max_concurrent_rpcs: int = 512
    max_concurrent_streams: int = 128
    triton_retries: int = 3  # attempts per Triton call before answering UNAVAILABLE
    health_poll_s: float = 1.0  # how often the Triton watcher checks readiness

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}")
        for name in ("port", "metrics_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                raise ConfigError(f"{name.replace('_', '-')} must be a port number in 0..65535, got {value}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both --tls-cert and --tls-key (MOTION_RETRIEVAL_TLS_CERT / _TLS_KEY)")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, got {self.workers}")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ConfigError(f"torch threads must be at least 1, got {self.torch_threads}")
        if self.limits.max_batch_size < 1:
            raise ConfigError(f"max batch must be at least 1, got {self.limits.max_batch_size}")
        if self.limits.max_message_bytes < 64 * 1024:
            raise ConfigError(f"max message bytes must be at least 65536, got {self.limits.max_message_bytes}")
        for name in ("max_concurrent_rpcs", "max_concurrent_streams"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.encoder_slots is not None and self.encoder_slots < 1:
            raise ConfigError(f"encoder slots must be at least 1, got {self.encoder_slots}")
        if self.max_queue < 0:
            raise ConfigError(f"max queue must be 0 or more, got {self.max_queue}")
        if not self.shutdown_grace_s >= 0:
            raise ConfigError(f"shutdown grace must be 0 or more seconds, got {self.shutdown_grace_s}")
        if self.auth_token is not None and not self.auth_token.strip():
            raise ConfigError("the auth token is empty")
        if self.search_token is not None:
            if not self.search_token.strip():
                raise ConfigError("the search token is empty")
            if self.auth_token is None:
                raise ConfigError("a search-only token (--search-token-file) needs a full-access token "
                                  "(--auth-token-file) too: without one every caller could ingest and delete")
            if self.search_token == self.auth_token:
                raise ConfigError("the search-only token and the full-access token are the same: use two tokens")

    @property
    def admission_slots(self) -> int:
        if self.encoder_slots is not None:
            return self.encoder_slots
        return self.workers if self.backend == "torchscript" else 8

    @property
    def search_enabled(self) -> bool:
        return self.milvus_uri is not None

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


_boolean.__name__ = "boolean (true/false, 1/0, on/off)"  # what _from_env's error message names

# flag dest -> (environment variable suffix, converter)
_ENV = {
    "model_repository": ("MODEL_REPOSITORY", Path),
    "backend": ("BACKEND", str),
    "triton_url": ("TRITON_URL", str),
    "milvus_uri": ("MILVUS_URI", str),
    "milvus_token": ("MILVUS_TOKEN", str),
    "milvus_token_file": ("MILVUS_TOKEN_FILE", Path),
    "collection_prefix": ("COLLECTION_PREFIX", str),
    "host": ("HOST", str),
    "port": ("PORT", int),
    "metrics_port": ("METRICS_PORT", int),
    "metrics_host": ("METRICS_HOST", str),
    "otel_endpoint": ("OTEL_ENDPOINT", str),
    "reflection": ("REFLECTION", _boolean),
    "auth_token": ("AUTH_TOKEN", str),
    "auth_token_file": ("AUTH_TOKEN_FILE", Path),
    "search_token": ("SEARCH_TOKEN", str),
    "search_token_file": ("SEARCH_TOKEN_FILE", Path),
    "preview_store": ("PREVIEW_STORE", str),
    "clip_source_root": ("CLIP_SOURCE_ROOT", str),
    "tls_cert": ("TLS_CERT", Path),
    "tls_key": ("TLS_KEY", Path),
    "max_batch": ("MAX_BATCH", int),
    "workers": ("WORKERS", int),
    "torch_threads": ("TORCH_THREADS", int),
    "log_format": ("LOG_FORMAT", str),
    "shutdown_grace_s": ("SHUTDOWN_GRACE", float),
    "encoder_slots": ("ENCODER_SLOTS", int),
    "max_queue": ("MAX_QUEUE", int),
    "max_concurrent_rpcs": ("MAX_CONCURRENT_RPCS", int),
    "max_concurrent_streams": ("MAX_CONCURRENT_STREAMS", int),
    "max_message_bytes": ("MAX_MESSAGE_BYTES", int),
}
# Settings that are secrets: never accepted on the command line, where every user of the machine can read them (ps).
_SECRET_FLAGS = {"milvus_token": ("--milvus-token-file", "MOTION_RETRIEVAL_MILVUS_TOKEN")}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` flags. Every default is None so that an unset flag falls back to its environment variable."""
    env = {dest: ENV_PREFIX + suffix for dest, (suffix, _) in _ENV.items()}
    add = parser.add_argument
    add("--model-repository", type=Path, metavar="DIR",
        help=f"exported model repository [{env['model_repository']}; default: ./model_repository when it holds an "
             "export, else the source checkout's]")
    add("--backend", choices=BACKENDS, help=f"where the encoders run [{env['backend']}; default: torchscript]")
    add("--triton-url", metavar="HOST:PORT",
        help=f"Triton gRPC endpoint [{env['triton_url']}; default: localhost:8001]")
    add("--milvus", dest="milvus_uri", metavar="URI",
        help=f"Milvus URI or Milvus Lite file; enables SearchService [{env['milvus_uri']}]")
    add("--milvus-token-file", type=Path, metavar="FILE",
        help=f"file holding the Milvus token (user:password or an API key) [{env['milvus_token_file']}, or the token "
             f"itself in {env['milvus_token']}]")
    # Refused with a message (resolve_config): a token on the command line is visible in `ps` to every user.
    add("--milvus-token", metavar="TOKEN", help=argparse.SUPPRESS)
    add("--collection-prefix", metavar="NAME",
        help=f"Milvus collection name prefix [{env['collection_prefix']}; default: none]")
    add("--host", help=f"address to listen on [{env['host']}; default: 0.0.0.0]")
    add("--port", type=int, metavar="N", help=f"gRPC port, 0 = any free port [{env['port']}; default: 50051]")
    add("--metrics-port", type=int, metavar="N",
        help=f"Prometheus /metrics port, 0 disables [{env['metrics_port']}; default: 9090]")
    add("--metrics-host", metavar="ADDR",
        help=f"address /metrics listens on; 0.0.0.0 for a scraper outside the pod [{env['metrics_host']}; "
             "default: 127.0.0.1]")
    add("--otel-endpoint", metavar="URL",
        help=f"OpenTelemetry OTLP/gRPC collector, e.g. http://otel-collector:4317: trace every call, continuing the "
             f"caller's W3C traceparent, with spans for Triton and Milvus (needs the [otel] extra) "
             f"[{env['otel_endpoint']}; default: off]")
    add("--reflection", action=argparse.BooleanOptionalAction, default=None,
        help=f"gRPC server reflection [{env['reflection']}=true|false; default: on]")
    add("--auth-token-file", type=Path, metavar="FILE",
        help=f"file holding the bearer token clients must send [{env['auth_token_file']}, or the token itself in "
             f"{env['auth_token']}]")
    add("--search-token-file", type=Path, metavar="FILE",
        help=f"file holding a search-only bearer token: embedding, search, previews, clips and stats, but no ingest "
             f"or delete (PERMISSION_DENIED) [{env['search_token_file']}, or the token itself in "
             f"{env['search_token']}]")
    add("--preview-store", metavar="DIR|s3://BUCKET/PREFIX",
        help=f"where ingest keeps a compact preview of every row (served by GetMotionPreview and GetMotionClip with "
             f"no source file): a folder, or an S3-compatible prefix (endpoint and keys: MOTION_RETRIEVAL_S3_ENDPOINT, "
             f"AWS_*) [{env['preview_store']}; default: <file>.previews beside a Milvus Lite file, none for a server]")
    add("--clip-source-root", metavar="DIR",
        help=f"source BVH takes under this folder (the mounted data they were ingested from) may be cut into "
             f"GetMotionClip SOURCE_BVH clips; other client-named paths are never opened [{env['clip_source_root']}; "
             "default: only files this plugin ingested itself]")
    add("--tls-cert", type=Path, metavar="FILE", help=f"PEM certificate chain [{env['tls_cert']}]")
    add("--tls-key", type=Path, metavar="FILE", help=f"PEM private key [{env['tls_key']}]")
    add("--max-batch", type=int, metavar="N", help=f"most items per Embed* request [{env['max_batch']}; default: 64]")
    add("--workers", type=int, metavar="N",
        help=f"threads running the in-process encoders [{env['workers']}; default: 2]")
    add("--torch-threads", type=int, metavar="N",
        help=f"threads torch uses inside one encoder call [{env['torch_threads']}; default: torch's, one per core]")
    add("--log-format", choices=LOG_FORMATS, help=f"log line format [{env['log_format']}; default: text]")
    add("--shutdown-grace", dest="shutdown_grace_s", type=float, metavar="S",
        help=f"seconds in-flight calls get to finish on SIGTERM before the process exits [{env['shutdown_grace_s']}; "
             "default: 10]")
    add("--encoder-slots", type=int, metavar="N",
        help=f"encoder calls running at once; more wait in a bounded queue [{env['encoder_slots']}; default: "
             "--workers for torchscript, 8 for triton]")
    add("--max-queue", type=int, metavar="N",
        help=f"calls waiting per encoder before RESOURCE_EXHAUSTED [{env['max_queue']}; default: 32]")
    add("--max-concurrent-rpcs", type=int, metavar="N",
        help=f"RPCs in the whole server before RESOURCE_EXHAUSTED [{env['max_concurrent_rpcs']}; default: 512]")
    add("--max-concurrent-streams", type=int, metavar="N",
        help=f"HTTP/2 streams per client connection [{env['max_concurrent_streams']}; default: 128]")
    add("--max-message-bytes", type=int, metavar="N",
        help=f"largest request message [{env['max_message_bytes']}; default: 16 MiB, a batch of 64 encoder-length "
             "motions is 13.5 MB]")


def _from_env(dest: str, environ: Mapping[str, str]):
    suffix, convert = _ENV[dest]
    name = ENV_PREFIX + suffix
    raw = environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        return convert(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not a valid {convert.__name__}") from None


def _read_token_file(path: Path, what: str = "auth token") -> str:
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file ({exc.strerror})") from None
    if not token:
        raise ConfigError(f"{path}: the {what} file is empty")
    return token


def _token(values: dict, args, name: str, what: str) -> str | None:
    """A token file given on the command line beats a token in the environment; a token in the environment beats a
    token file named in the environment (the chart mounts a secret either way)."""
    flag_file = getattr(args, f"{name}_file", None) if args is not None else None
    if flag_file is not None:
        return _read_token_file(flag_file, what)
    if values[name] is not None:
        return values[name]
    if values[f"{name}_file"] is not None:
        return _read_token_file(values[f"{name}_file"], what)
    return None


def resolve_config(args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None) -> ServeConfig:
    """Flags (``args``, from :func:`add_serve_arguments`) over environment variables over defaults."""
    environ = os.environ if environ is None else environ
    for dest, (file_flag, variable) in _SECRET_FLAGS.items():
        if args is not None and getattr(args, dest, None) is not None:
            raise ConfigError(
                f"--{dest.replace('_', '-')} on the command line is visible to every user of the machine (ps): put "
                f"the token in a file and pass {file_flag} FILE, or set {variable}"
            )
    values = {}
    for dest in _ENV:
        flag = getattr(args, dest, None) if args is not None else None
        values[dest] = flag if flag is not None else _from_env(dest, environ)
    if values["model_repository"] is None:
        values["model_repository"] = default_model_repository(environ)

    tokens = {"auth_token": _token(values, args, "auth_token", "auth token"),
              "search_token": _token(values, args, "search_token", "search token"),
              "milvus_token": _token(values, args, "milvus_token", "Milvus token")}
    limit_values = {"max_batch_size": values["max_batch"], "max_message_bytes": values["max_message_bytes"]}
    limits = ServiceLimits(**{k: v for k, v in limit_values.items() if v is not None})
    known = {f.name for f in fields(ServeConfig)}
    kwargs = {k: v for k, v in values.items() if k in known and v is not None and k not in tokens}
    return ServeConfig(**kwargs, **tokens, limits=limits)
