"""The gRPC service: EmbeddingService (+ SearchService with --milvus), health, reflection, interceptors, metrics,
TLS and bearer-token auth, admission control, graceful shutdown.

    server = MotionRetrievalServer(config)
    await server.start()          # listening; liveness SERVING, readiness NOT_SERVING until the backend is ready
    await server.wait_ready()     # backend loaded (or Triton reachable)
    ...
    await server.stop()           # NOT_SERVING at once, refuse new calls, drain within the grace, release

Every embedding call passes admission's gate (bounded slots and queues, deadline-aware shedding), whatever
servicer makes it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from motion_retrieval_server.admission import (
    MOTION,
    TEXT,
    AdmissionConfig,
    AdmissionGate,
    AdmissionInterceptor,
    AdmittedBackend,
)
from motion_retrieval_server.api import embedding_pb2, search_pb2
from motion_retrieval_server.auth import BearerTokenInterceptor
from motion_retrieval_server.backends import create_backend
from motion_retrieval_server.config import ServeConfig
from motion_retrieval_server.health import LIVENESS, HealthReporter
from motion_retrieval_server.interceptors import ObservabilityInterceptor, grpc_types
from motion_retrieval_server.metrics import ServiceMetrics
from motion_retrieval_server.servicers.disabled import DisabledSearchServicer
from motion_retrieval_server.servicers.embedding import EmbeddingServicer
from motion_retrieval_server.servicers.registration import add_servicers
from motion_retrieval_server.shutdown import ExitDeadline, force_exit_on_second_signal
from motion_retrieval_server.tracing import Tracing, create_tracing

log = logging.getLogger(__name__)

EMBEDDING_SERVICE = embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"].full_name
SEARCH_SERVICE = search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name
# Every service the server answers, for the standard metrics' grpc_type label.
SERVICES = (embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"],
            search_pb2.DESCRIPTOR.services_by_name["SearchService"], health_pb2.DESCRIPTOR.services_by_name["Health"],
            reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"])
# After the grace period: closing the backend and Milvus, and the process's own exit, get this much more.
EXIT_MARGIN_S = 0.5
_CLOSE_TIMEOUT_S = 0.3


class MotionRetrievalServer:
    def __init__(self, config: ServeConfig, tracing: Tracing | None = None):
        """``tracing``: a tracer to use instead of the one ``config.otel_endpoint`` asks for (tests)."""
        self.config = config
        self.metrics = ServiceMetrics()
        self.tracing = tracing if tracing is not None else create_tracing(config.otel_endpoint)
        backend = create_backend(config, metrics=self.metrics)
        self.gate = AdmissionGate(AdmissionConfig(slots=config.admission_slots, max_queue=config.max_queue),
                                  self.metrics, backend=backend.name)
        self.backend = AdmittedBackend(backend, self.gate)
        self.health = HealthReporter([EMBEDDING_SERVICE, SEARCH_SERVICE, LIVENESS], embedding_service=EMBEDDING_SERVICE,
                                     search_service=SEARCH_SERVICE, poll_s=config.health_poll_s, metrics=self.metrics)
        # Joint -> feature conversion (numpy) runs here, apart from the encoder threads.
        self._convert_executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="convert")
        self._server: grpc.aio.Server | None = None
        self._search = None
        self._startup: asyncio.Task | None = None
        self._stopping: asyncio.Task | None = None
        self.port: int | None = None
        self.metrics_port: int | None = None

    def _build_server(self) -> grpc.aio.Server:
        interceptors = [ObservabilityInterceptor(self.metrics, grpc_types(*SERVICES), self.tracing)]
        if self.config.auth_token:
            interceptors.append(BearerTokenInterceptor(self.config.auth_token,
                                                       search_token=self.config.search_token))
        # After auth: overload refusals before the message is read (the gate decides again once it is).
        interceptors.append(AdmissionInterceptor(self.gate, {
            f"/{EMBEDDING_SERVICE}/EmbedTexts": TEXT, f"/{EMBEDDING_SERVICE}/EmbedMotions": MOTION,
            f"/{SEARCH_SERVICE}/SearchMotions": TEXT, f"/{SEARCH_SERVICE}/SearchCaptions": MOTION,
        }))
        limit = self.config.limits.max_message_bytes
        server = grpc.aio.server(
            interceptors=interceptors,
            # Beyond this many RPCs the server answers RESOURCE_EXHAUSTED before reading the message.
            maximum_concurrent_rpcs=self.config.max_concurrent_rpcs,
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.max_concurrent_streams", self.config.max_concurrent_streams),
                ("grpc.so_reuseport", 0),
            ],
        )
        embedding = EmbeddingServicer(self.backend, self.config.limits, self.metrics, self._convert_executor)
        if self.config.search_enabled:
            from motion_retrieval_server.servicers.search import SearchServicer

            self._search = SearchServicer.from_config(self.config, self.backend, self.metrics,
                                                      self._convert_executor)
        # Undecodable request bytes answer INVALID_ARGUMENT, not UNKNOWN (registration).
        add_servicers(server, embedding, self._search if self._search is not None else DisabledSearchServicer())
        health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, server)
        if self.config.reflection:
            reflection.enable_server_reflection(
                [EMBEDDING_SERVICE, SEARCH_SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME],
                server,
            )
        return server

    def _bind(self, server: grpc.aio.Server) -> int:
        address = f"{self.config.host}:{self.config.port}"
        if self.config.tls_enabled:
            credentials = grpc.ssl_server_credentials(
                [(self.config.tls_key.read_bytes(), self.config.tls_cert.read_bytes())]
            )
            port = server.add_secure_port(address, credentials)
        else:
            port = server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        return port

    async def start(self) -> int:
        """Listen (alive, not ready), then load the backend in the background; return the bound port."""
        await self.health.start()
        self._server = self._build_server()
        self.port = self._bind(self._server)
        if self.config.metrics_port:
            self.metrics_port = self.metrics.start_http(self.config.metrics_host, self.config.metrics_port)
        await self._server.start()
        log.info("listening on %s:%d (%s, backend %s, search %s)", self.config.host, self.port,
                 "TLS" if self.config.tls_enabled else "plaintext", self.config.backend,
                 "on" if self.config.search_enabled else "off")
        self._startup = asyncio.get_running_loop().create_task(self._start_backend(), name="backend-startup")
        return self.port

    async def _start_backend(self) -> None:
        await self.backend.start()
        if self._search is not None:
            await self._search.start()
        self.health.watch(self.backend.name, self.backend.is_ready,
                          self._search.is_ready if self._search is not None else None)

    async def wait_ready(self) -> None:
        """Until the backend has loaded; re-raises its start-up error (e.g. ConfigError for a missing model)."""
        await self._startup

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING at once, refuse new calls, let in-flight ones finish within ``grace`` seconds (then cancel
        them), release everything. Returns within about ``grace`` + 1 s at any load; a second call waits for the
        first."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop(self.config.shutdown_grace_s if grace is None else grace))
        await asyncio.shield(self._stopping)

    async def _stop(self, grace: float) -> None:
        log.info("shutting down (grace %.1f s, %d calls in flight, %d queued)", grace, self.gate.stats().running,
                 sum(self.gate.stats().queued.values()))
        await self.health.shutdown()  # probes fail from now on; bounded, whatever the watcher is doing
        dropped = self.gate.close()  # queued calls: UNAVAILABLE now, so their callers retry elsewhere at once
        if dropped:
            log.info("answered %d queued calls UNAVAILABLE (shutting down)", dropped)
        if self._startup is not None and not self._startup.done():
            self._startup.cancel()
        if self._server is not None:
            await self._server.stop(grace)  # new calls refused at once; the rest cancelled at the grace
        if self._search is not None:
            await _bounded(self._search.close(), "Milvus connection")
        await _bounded(self.backend.close(), f"{self.backend.name} backend")
        # Queued conversions are dropped; one already running ends on its own (numpy cannot be interrupted).
        self._convert_executor.shutdown(wait=False, cancel_futures=True)
        self.metrics.stop_http()
        if self.tracing is not None:  # export the spans still buffered, without holding up the exit
            await _bounded(asyncio.to_thread(self.tracing.shutdown), "trace exporter")
        log.info("stopped")


async def _bounded(closing, what: str, timeout: float = _CLOSE_TIMEOUT_S) -> None:
    """Await a close without letting it hold up the exit (a Milvus or Triton that is gone may not answer)."""
    task = asyncio.ensure_future(closing)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        log.warning("closing the %s took longer than %.1f s; leaving it", what, timeout)
    elif task.exception() is not None:
        log.warning("closing the %s failed: %s", what, task.exception())


async def serve(config: ServeConfig, exit_deadline: bool = False) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully. Raises the backend's start-up error, if any.

    ``exit_deadline`` (the ``serve`` command): from the signal on, the process ends within the grace period plus
    EXIT_MARGIN_S whatever is still running, and a second signal ends it at once."""
    server = MotionRetrievalServer(config)
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    deadline: ExitDeadline | None = None

    def on_signal(signum: int) -> None:
        nonlocal deadline
        if stop.is_set():
            if exit_deadline:
                force_exit_on_second_signal(signum)
            return
        log.info("signal %d: draining", signum)
        stop.set()
        if exit_deadline:
            deadline = ExitDeadline(config.shutdown_grace_s + EXIT_MARGIN_S).arm()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, partial(on_signal, sig))
    startup = asyncio.ensure_future(server.wait_ready())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({startup, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if startup in done:
            startup.result()  # a backend that cannot start ends the process: let the orchestrator see it
            log.info("ready: serving %s", server.backend.info.model_id)
            await stopping
    finally:
        startup.cancel()
        stopping.cancel()
        await server.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if deadline is not None:
            deadline.exit_now()  # drained and released: end here, not after the interpreter's unbounded teardown
