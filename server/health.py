"""grpc.health.v1 for the service: SERVING only while the encoder backend is ready.

A watcher polls the backend (for Triton: server and both models ready) and flips the status of the whole server
("") and of each of our services, so Kubernetes stops routing to a replica whose Triton went away and routes to it
again when Triton returns, without restarting it.
"""

from __future__ import annotations

import asyncio
import logging

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from server.backends.base import EmbeddingBackend

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthReporter:
    """Owns the health servicer and the watcher task."""

    def __init__(self, services: list[str], poll_s: float = 1.0, metrics=None):
        self.servicer = health_aio.HealthServicer()
        self._services = ["", *services]
        self._poll_s = poll_s
        self._metrics = metrics
        self._serving: bool | None = None
        self._task: asyncio.Task | None = None

    @property
    def serving(self) -> bool:
        return bool(self._serving)

    async def set_serving(self, serving: bool, reason: str = "") -> None:
        if serving == self._serving:
            return
        status = SERVING if serving else NOT_SERVING
        for service in self._services:
            await self.servicer.set(service, status)
        level = logging.WARNING if self._serving and not serving else logging.INFO  # losing the backend is news
        log.log(level, "health: %s%s", "SERVING" if serving else "NOT_SERVING", f" ({reason})" if reason else "")
        self._serving = serving
        if self._metrics is not None:
            self._metrics.backend_ready.set(1 if serving else 0)

    def watch(self, backend: EmbeddingBackend) -> None:
        """Start polling ``backend.is_ready()`` in the background."""
        self._task = asyncio.get_running_loop().create_task(self._watch(backend), name="health-watcher")

    async def _watch(self, backend: EmbeddingBackend) -> None:
        while True:
            try:
                ready = await asyncio.wait_for(backend.is_ready(), timeout=max(self._poll_s, 1.0) * 2)
            except Exception as exc:  # the watcher must never die: an error only means "not ready"
                log.debug("readiness check failed: %s", exc)
                ready = False
            await self.set_serving(ready, reason=f"{backend.name} backend {'ready' if ready else 'not ready'}")
            await asyncio.sleep(self._poll_s)

    async def shutdown(self) -> None:
        """NOT_SERVING for everything (new probes fail while in-flight calls drain), and stop the watcher."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.servicer.enter_graceful_shutdown()
        self._serving = False
