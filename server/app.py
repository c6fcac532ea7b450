"""The gRPC service: EmbeddingService (+ SearchService with --milvus), health, reflection, interceptors, metrics,
TLS and bearer-token auth, graceful shutdown.

    server = MotionRetrievalServer(config)
    await server.start()          # listening; health NOT_SERVING until the backend is ready
    await server.wait_ready()     # backend loaded (or Triton reachable)
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server.api import embedding_pb2, embedding_pb2_grpc, search_pb2, search_pb2_grpc
from server.auth import BearerTokenInterceptor
from server.backends import create_backend
from server.config import ServeConfig
from server.health import HealthReporter
from server.interceptors import ObservabilityInterceptor
from server.metrics import ServiceMetrics
from server.servicers.disabled import DisabledSearchServicer
from server.servicers.embedding import EmbeddingServicer

log = logging.getLogger(__name__)

EMBEDDING_SERVICE = embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"].full_name
SEARCH_SERVICE = search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name


class MotionRetrievalServer:
    def __init__(self, config: ServeConfig):
        self.config = config
        self.metrics = ServiceMetrics()
        self.backend = create_backend(config, metrics=self.metrics)
        self.health = HealthReporter([EMBEDDING_SERVICE, SEARCH_SERVICE], poll_s=config.health_poll_s,
                                     metrics=self.metrics)
        # Joint -> feature conversion (numpy) runs here, apart from the encoder threads.
        self._convert_executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="convert")
        self._server: grpc.aio.Server | None = None
        self._search = None
        self._startup: asyncio.Task | None = None
        self.port: int | None = None
        self.metrics_port: int | None = None

    def _build_server(self) -> grpc.aio.Server:
        interceptors = [ObservabilityInterceptor(self.metrics)]
        if self.config.auth_token:
            interceptors.append(BearerTokenInterceptor(self.config.auth_token))
        limit = self.config.limits.max_message_bytes
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.so_reuseport", 0),
            ],
        )
        embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(
            EmbeddingServicer(self.backend, self.config.limits, self.metrics, self._convert_executor), server
        )
        if self.config.search_enabled:
            from server.servicers.search import SearchServicer

            self._search = SearchServicer.from_config(self.config, self.backend, self.metrics,
                                                      self._convert_executor)
            search_pb2_grpc.add_SearchServiceServicer_to_server(self._search, server)
        else:
            search_pb2_grpc.add_SearchServiceServicer_to_server(DisabledSearchServicer(), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, server)
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
        """Listen (health NOT_SERVING), then load the backend in the background; return the bound port."""
        await self.health.set_serving(False, reason="starting")
        self._server = self._build_server()
        self.port = self._bind(self._server)
        if self.config.metrics_port:
            self.metrics_port = self.metrics.start_http(self.config.host, self.config.metrics_port)
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
        self.health.watch(self.backend)

    async def wait_ready(self) -> None:
        """Until the backend has loaded; re-raises its start-up error (e.g. ConfigError for a missing model)."""
        await self._startup

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, let in-flight ones finish within ``grace`` seconds, then release everything."""
        grace = self.config.shutdown_grace_s if grace is None else grace
        log.info("shutting down (grace %.1f s)", grace)
        await self.health.shutdown()
        if self._startup is not None and not self._startup.done():
            self._startup.cancel()
        if self._server is not None:
            await self._server.stop(grace)
        if self._search is not None:
            await self._search.close()
        await self.backend.close()
        self._convert_executor.shutdown(wait=False, cancel_futures=True)
        self.metrics.stop_http()


async def serve(config: ServeConfig) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully. Raises the backend's start-up error, if any."""
    server = MotionRetrievalServer(config)
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    startup = asyncio.ensure_future(server.wait_ready())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({startup, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if startup in done:
            startup.result()  # a backend that cannot start ends the process: let the orchestrator see it
            log.info("ready: serving %s", server.backend.info.model_id)
            await stopping
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        startup.cancel()
        stopping.cancel()
        await server.stop()
