"""grpc.health.v1 for the service: liveness apart from readiness, readiness following the backend and Milvus.

Service names and what SERVING means (the Helm chart's probes rely on them):

    ""                                   readiness: the encoder backend is ready, and Milvus too when configured
    "liveness"                           the process is up and not shutting down (never follows Triton or Milvus)
    motion_retrieval.v1.EmbeddingService the encoder backend is ready
    motion_retrieval.v1.SearchService    the backend is ready and Milvus answers with the collections loaded

A watcher polls the checks and flips the statuses, so Kubernetes stops routing to a replica whose Triton or Milvus
went away and routes to it again when they return, without restarting it (liveness stays SERVING).

The watcher stops through a flag as well as by cancellation, and nothing waits for it without a bound:
``asyncio.wait_for`` on Python 3.11 returns the inner result and swallows a cancellation that lands while the inner
awaitable has just finished (under load, most of the time), which once made shutdown wait forever for the watcher.
Checks are therefore timed with ``asyncio.wait``, which never swallows a cancellation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
READINESS = ""
LIVENESS = "liveness"
# How long shutdown waits for the watcher to end (it ends at its next await; this only bounds a stuck check).
_WATCHER_STOP_S = 1.0

Check = Callable[[], Awaitable[bool]]


class _Probe:
    """One readiness check, timed out without wait_for; a check still running from the last poll is not started
    again (a hung Milvus must not pile up threads), it just reports not ready."""

    def __init__(self, name: str, check: Check, timeout: float):
        self.name = name
        self._check = check
        self._timeout = timeout
        self._pending: asyncio.Task | None = None

    async def __call__(self) -> bool:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self._check())
        task = self._pending
        try:
            done, _ = await asyncio.wait({task}, timeout=self._timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            log.debug("%s readiness check took longer than %.1f s", self.name, self._timeout)
            return False
        self._pending = None
        if task.cancelled():
            return False
        exc = task.exception()
        if exc is not None:  # an error only means "not ready"
            log.debug("%s readiness check failed: %s", self.name, exc)
            return False
        return bool(task.result())

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()


class HealthReporter:
    """Owns the health servicer and the watcher task."""

    def __init__(self, services: list[str], embedding_service: str = "", search_service: str = "",
                 poll_s: float = 1.0, metrics=None):
        self.servicer = health_aio.HealthServicer()
        self._services = [READINESS, *services]
        self._embedding_service = embedding_service
        self._search_service = search_service
        self._poll_s = poll_s
        self._metrics = metrics
        self._status: dict[str, bool] = {}
        self._stopping = False
        self._stopped = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._probes: list[_Probe] = []

    @property
    def serving(self) -> bool:
        """Readiness (the overall "" status)."""
        return self._status.get(READINESS, False)

    def status(self, service: str) -> bool:
        return self._status.get(service, False)

    async def start(self) -> None:
        """Alive, not ready: what a freshly listening server reports while its backend loads."""
        await self._set(LIVENESS, True, "process up")
        await self.set_serving(False, reason="starting")

    async def set_serving(self, serving: bool, reason: str = "") -> None:
        """Readiness of every service at once (start-up, tests); liveness is not readiness and is left alone."""
        for service in self._services:
            if service != LIVENESS:
                await self._set(service, serving, reason)

    async def _set(self, service: str, serving: bool, reason: str = "") -> None:
        if self._stopping or self._status.get(service) == serving:
            return
        await self.servicer.set(service, SERVING if serving else NOT_SERVING)
        was = self._status.get(service)
        self._status[service] = serving
        if service in (READINESS, LIVENESS):
            level = logging.WARNING if was and not serving else logging.INFO  # losing readiness is news
            label = "health" if service == READINESS else f"health[{service}]"
            log.log(level, "%s: %s%s", label, "SERVING" if serving else "NOT_SERVING", f" ({reason})" if reason else "")
        elif was is not None:
            log.info("health[%s]: %s%s", service, "SERVING" if serving else "NOT_SERVING",
                     f" ({reason})" if reason else "")

    def watch(self, backend_name: str, backend_ready: Check, milvus_ready: Check | None = None) -> None:
        """Poll ``backend_ready()`` (and ``milvus_ready()`` when search is on) in the background."""
        timeout = max(self._poll_s, 1.0) * 2
        backend = _Probe(f"{backend_name} backend", backend_ready, timeout)
        milvus = _Probe("Milvus", milvus_ready, timeout) if milvus_ready is not None else None
        self._probes = [p for p in (backend, milvus) if p is not None]
        self._task = asyncio.get_running_loop().create_task(self._watch(backend_name, backend, milvus),
                                                            name="health-watcher")

    async def _watch(self, backend_name: str, backend: _Probe, milvus: _Probe | None) -> None:
        while not self._stopping:
            backend_ok = await backend()
            milvus_ok = await milvus() if milvus is not None else True
            if self._stopping:
                return
            backend_reason = f"{backend_name} backend {'ready' if backend_ok else 'not ready'}"
            milvus_reason = f"Milvus {'ready' if milvus_ok else 'not ready'}"
            if self._metrics is not None:
                self._metrics.backend_ready.set(1 if backend_ok else 0)
                if milvus is not None:
                    self._metrics.milvus_ready.set(1 if milvus_ok else 0)
            reason = backend_reason if not backend_ok or milvus is None else milvus_reason
            await self._set(READINESS, backend_ok and milvus_ok, reason)
            for service in self._services:
                if service == self._embedding_service:
                    await self._set(service, backend_ok, backend_reason)
                elif service == self._search_service:
                    await self._set(service, backend_ok and milvus_ok, reason)
            try:  # sleep, but wake at once on shutdown
                await asyncio.wait_for(self._stopped.wait(), timeout=self._poll_s)
            except asyncio.TimeoutError:
                pass

    async def shutdown(self) -> None:
        """NOT_SERVING for everything, liveness included (new probes fail while in-flight calls drain), and stop the
        watcher. Bounded: returns within about a second whatever the watcher is doing."""
        self._stopping = True
        self._stopped.set()
        await self.servicer.enter_graceful_shutdown()
        for service in self._status:
            self._status[service] = False
        if self._metrics is not None:
            self._metrics.backend_ready.set(0)
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=_WATCHER_STOP_S)
            if not done:
                log.warning("health watcher did not stop within %.1f s; leaving it", _WATCHER_STOP_S)
        for probe in self._probes:
            probe.cancel()
