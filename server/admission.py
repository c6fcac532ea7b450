"""Admission control: bound the encoder work in flight, and shed what cannot be served in time before computing it.

Under overload a service that queues without bound spends its capacity on requests whose callers have already given
up (congestion collapse: goodput falls to a fraction of capacity). The gate in front of the backend keeps goodput
near capacity instead:

- a fixed number of **slots** (encoder calls running at once, shared by both towers: the in-process backend has
  one thread pool) and a bounded FIFO **queue per tower**;
- a call that finds its tower's queue full is refused at once with ``RESOURCE_EXHAUSTED`` (reason ``queue_full``),
  and so is one that the work ahead of it would make miss its deadline (reason ``overloaded``): the caller can
  back off or go to another replica while it still has time. The refusal carries gRPC's retry pushback
  (``grpc-retry-pushback-ms``), which clients with a retry policy obey: the time the work ahead needs, stretched by
  how many calls are being refused per call admitted lately, so that refused callers come back about as fast as
  the service can take them instead of in a storm (every refusal costs CPU the encoders need);
- queued work whose deadline has passed, or can no longer be met once it would start, is dropped before it is
  computed (``DEADLINE_EXCEEDED``, reason ``expired``);
- a call that finds a free slot and nobody waiting is always started, whatever the estimate says: an idle replica
  loses nothing by trying, and the estimate only learns from computed calls (shedding on a stale, too high estimate
  would otherwise shed everything forever);
- on shutdown the queued calls are answered at once with ``UNAVAILABLE`` (reason ``shutdown``): their callers retry
  on another replica instead of waiting out the grace period; the running ones finish;
- the service time of a call is estimated from the recent calls of the same tower (least squares of seconds over
  items, so a batch of 64 and a batch of 1 get different estimates).

    gate = AdmissionGate(AdmissionConfig(slots=2, max_queue=32), metrics, backend="torchscript")
    vectors = await gate.run("text_encoder", len(texts), timeout, lambda t: backend.embed_texts(texts, timeout=t))

:class:`AdmittedBackend` wraps an :class:`EmbeddingBackend` so that every embedding call goes through the gate
(servicers and the ingest path alike).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
import numpy as np

log = logging.getLogger(__name__)
T = TypeVar("T")

TEXT = "text_encoder"
MOTION = "motion_encoder"
ENCODERS = (TEXT, MOTION)
# Shed reasons (label values of motion_retrieval_shed_total).
QUEUE_FULL, OVERLOADED, EXPIRED, SHUTDOWN = "queue_full", "overloaded", "expired", "shutdown"
# Queued work is started only if it should end this much inside its deadline: computing a call whose answer comes too
# late wastes a whole service time, dropping one that would just have made it costs only that call.
SAFETY = 1.2
MIN_PUSHBACK_S = 0.05
MAX_PUSHBACK_S = 10.0
RATE_TIME_CONSTANT_S = 5.0  # refusal and admission rates are averaged over about this long
RETRY_PUSHBACK_KEY = "grpc-retry-pushback-ms"  # trailing metadata of gRPC's retry design (A6)


@dataclass(frozen=True)
class AdmissionConfig:
    slots: int = 2  # encoder calls running at once (both towers together)
    max_queue: int = 32  # calls waiting per tower; the next one is refused with RESOURCE_EXHAUSTED
    min_samples: int = 3  # calls observed before service-time estimates are trusted for shedding
    window: int = 64  # recent calls per tower the estimate is fitted on

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError(f"admission slots must be at least 1, got {self.slots}")
        if self.max_queue < 0:
            raise ValueError(f"admission queue must be 0 or more, got {self.max_queue}")


class ShedError(Exception):
    """Work refused or dropped by the gate; ``code`` is the gRPC status to answer, ``reason`` the metric label and
    ``retry_after_s`` (when set) how long the caller should wait before trying again."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, reason: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.retry_after_s = retry_after_s


class Overloaded(ShedError):
    """The service is full: retry later (with backoff) or on another replica."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class DeadlineShed(ShedError, TimeoutError):
    """The call's deadline has passed or cannot be met; its work was not computed."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Draining(ShedError):
    """The replica is shutting down: retry on another one."""

    code = grpc.StatusCode.UNAVAILABLE


class ServiceTimeEstimator:
    """Seconds one call of ``n`` items takes, fitted on the last ``window`` calls: seconds ~ a + b * n, by least
    squares weighted towards recent calls (half-life ``half_life`` calls). Service time moves with load (two batches
    at once on two cores each take longer than one alone), and an estimate that lags behind it admits work that ends
    after its deadline."""

    def __init__(self, window: int = 64, half_life: float = 8.0):
        self._samples: deque[tuple[int, float]] = deque(maxlen=window)
        self._decay = 0.5 ** (1.0 / half_life)

    def __len__(self) -> int:
        return len(self._samples)

    def observe(self, items: int, seconds: float) -> None:
        self._samples.append((max(1, items), max(0.0, seconds)))

    def typical_items(self) -> int:
        """Items per call lately (recency-weighted mean), for deciding before a call's message is read."""
        if not self._samples:
            return 1
        n = np.array([s[0] for s in self._samples], dtype=np.float64)  # (S,)
        w = self._decay ** np.arange(len(n))[::-1]  # (S,)
        return max(1, int(round(float(w @ n / w.sum()))))

    def estimate(self, items: int) -> float:
        """0.0 with no samples (nothing is shed on a guess)."""
        if not self._samples:
            return 0.0
        n = np.array([s[0] for s in self._samples], dtype=np.float64)  # (S,)
        s = np.array([s[1] for s in self._samples], dtype=np.float64)  # (S,)
        w = self._decay ** np.arange(len(n))[::-1]  # (S,) newest sample weighs 1
        w /= w.sum()
        n_mean, s_mean = float(w @ n), float(w @ s)
        n_var = float(w @ (n - n_mean) ** 2)
        if n_var < 1e-9:  # one batch size seen: scale with the items
            return s_mean * items / n_mean
        slope = float(w @ ((n - n_mean) * (s - s_mean))) / n_var
        intercept = s_mean - slope * n_mean
        if slope < 0:  # noise: bigger batches cannot be cheaper
            slope, intercept = 0.0, s_mean
        elif intercept < 0:
            slope, intercept = s_mean / n_mean, 0.0
        return intercept + slope * items


class _Rate:
    """Events per second, exponentially averaged over ``tau`` seconds."""

    def __init__(self, tau: float = RATE_TIME_CONSTANT_S):
        self._tau = tau
        self._value = 0.0
        self._at = 0.0

    def _decay(self, now: float) -> None:
        if now > self._at:
            self._value *= float(np.exp(-(now - self._at) / self._tau))
            self._at = now

    def add(self, now: float) -> None:
        self._decay(now)
        self._value += 1.0 / self._tau

    def per_second(self, now: float) -> float:
        self._decay(now)
        return self._value


@dataclass(eq=False)
class _Waiter:
    encoder: str
    items: int
    deadline: float  # loop time
    seq: int
    future: asyncio.Future
    timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class _Running:
    encoder: str
    items: int
    started: float
    estimate: float


@dataclass
class GateStats:
    running: int = 0
    queued: dict[str, int] = field(default_factory=dict)
    shed: dict[str, int] = field(default_factory=dict)


class AdmissionGate:
    """Slots shared by the towers, a bounded FIFO queue per tower, deadline-aware shedding. Event-loop only."""

    def __init__(self, config: AdmissionConfig, metrics=None, backend: str = ""):
        self.config = config
        self._metrics = metrics
        self._backend = backend
        self._queues: dict[str, deque[_Waiter]] = {e: deque() for e in ENCODERS}
        self._estimators = {e: ServiceTimeEstimator(config.window) for e in ENCODERS}
        self._running: set[_Running] = set()
        self._seq = itertools.count()
        self._shed_counts: dict[str, int] = {}
        self._closed = False
        self._admitted = _Rate()
        self._refused = _Rate()

    # -- what the metrics and tests see -------------------------------------------------------------------------------
    def stats(self) -> GateStats:
        return GateStats(len(self._running), {e: len(q) for e, q in self._queues.items()}, dict(self._shed_counts))

    def estimate(self, encoder: str, items: int) -> float:
        """Estimated seconds of one call; 0.0 until ``min_samples`` calls of that tower were observed."""
        estimator = self._estimators[encoder]
        return estimator.estimate(items) if len(estimator) >= self.config.min_samples else 0.0

    # -- the gate ----------------------------------------------------------------------------------------------------
    async def run(self, encoder: str, items: int, timeout: float, call: Callable[[float], Awaitable[T]]) -> T:
        """``await call(seconds_left)`` once a slot is free and the deadline (``timeout`` s from now) can be met."""
        if encoder not in self._queues:
            self._queues[encoder] = deque()
            self._estimators[encoder] = ServiceTimeEstimator(self.config.window)
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = now + timeout
        estimate = self.estimate(encoder, items)
        if self._closed:
            raise self._shed(encoder, SHUTDOWN, "the service is shutting down; retry on another replica")
        if timeout <= 0:
            raise self._shed(encoder, EXPIRED, f"{encoder}: the deadline had passed before the work was admitted")
        if len(self._running) < self.config.slots and not any(self._queues.values()):
            running = self._start(encoder, items, now, estimate)
        else:
            running = await self._wait(encoder, items, deadline, estimate, loop)
        try:
            result = await call(max(0.0, deadline - loop.time()))
        except BaseException:
            self._finish(running, loop, observe=False)
            raise
        self._finish(running, loop, observe=True)
        return result

    def close(self) -> int:
        """Shutdown: refuse new work and answer every queued call now; returns how many were queued. Running calls
        are not touched (they finish, or the server cancels them at the end of its grace period)."""
        self._closed = True
        dropped = 0
        for encoder, queue in self._queues.items():
            while queue:
                waiter = queue.popleft()
                if waiter.timer is not None:
                    waiter.timer.cancel()
                if not waiter.future.done():
                    waiter.future.set_exception(self._shed(
                        encoder, SHUTDOWN, "the service is shutting down; retry on another replica"))
                    dropped += 1
            self._publish(encoder)
        return dropped

    def early_refusal(self, encoder: str, timeout: float | None) -> ShedError | None:
        """The refusal :meth:`run` would give a call of a typical size, decided from its headers alone (before its
        message is received: under overload, reading and parsing megabytes of motions only to refuse them costs the
        CPU the encoders need). None: read the message and let :meth:`run` decide."""
        if self._closed:
            return self._shed(encoder, SHUTDOWN, "the service is shutting down; retry on another replica")
        if len(self._running) < self.config.slots and not any(self._queues.values()):
            return None  # idle: always try
        queue = self._queues.get(encoder)
        if queue is None:
            return None
        wait = self._expected_wait(asyncio.get_running_loop().time())
        pushback = self._pushback(wait)
        if len(queue) >= self.config.max_queue:
            return self._shed(encoder, QUEUE_FULL,
                              f"{encoder}: the service is at capacity ({self.config.max_queue} calls queued, "
                              f"{self.config.slots} running); retry with backoff or on another replica", pushback)
        estimate = self.estimate(encoder, self._estimators[encoder].typical_items())
        if timeout is not None and estimate > 0 and wait + SAFETY * estimate > timeout:
            return self._shed(encoder, OVERLOADED,
                              f"{encoder}: the service is overloaded (about {wait:.3f} s of work ahead of this call, "
                              f"{timeout:.3f} s left); retry with backoff or on another replica, or allow a longer "
                              "deadline", pushback)
        return None

    async def _wait(self, encoder: str, items: int, deadline: float, estimate: float,
                    loop: asyncio.AbstractEventLoop) -> _Running:
        queue = self._queues[encoder]
        wait = self._expected_wait(loop.time())
        pushback = self._pushback(wait)
        if len(queue) >= self.config.max_queue:
            raise self._shed(encoder, QUEUE_FULL,
                             f"{encoder}: the service is at capacity ({self.config.max_queue} calls queued, "
                             f"{self.config.slots} running); retry with backoff or on another replica", pushback)
        if estimate > 0 and loop.time() + wait + SAFETY * estimate > deadline:
            raise self._shed(encoder, OVERLOADED,
                             f"{encoder}: the service is overloaded (about {wait:.3f} s of work ahead of this call "
                             f"and {estimate:.3f} s for it, {deadline - loop.time():.3f} s left); retry with backoff "
                             "or on another replica, or allow a longer deadline", pushback)
        waiter = _Waiter(encoder, items, deadline, next(self._seq), loop.create_future())
        waiter.timer = loop.call_at(deadline, self._expire, waiter)
        queue.append(waiter)
        self._publish(encoder)
        try:
            return await waiter.future
        except asyncio.CancelledError:
            future = waiter.future
            if future.done() and not future.cancelled() and future.exception() is None:
                self._finish(future.result(), loop, observe=False)  # granted as the caller went away
            else:
                self._remove(waiter)
            raise

    def _expected_wait(self, now: float) -> float:
        """Seconds until a slot frees for a call queued now: the work ahead spread over the slots."""
        ahead = sum(max(0.0, r.estimate - (now - r.started)) for r in self._running)
        ahead += sum(self.estimate(w.encoder, w.items) for q in self._queues.values() for w in q)
        return ahead / self.config.slots

    def _pushback(self, wait: float) -> float:
        """How long a refused caller should stay away: the work ahead, times (1 + refusals per admission lately)."""
        now = asyncio.get_running_loop().time()
        admitted = max(self._admitted.per_second(now), 1.0 / RATE_TIME_CONSTANT_S)
        pressure = 1.0 + self._refused.per_second(now) / admitted
        return min(MAX_PUSHBACK_S, max(MIN_PUSHBACK_S, wait) * pressure)

    def _start(self, encoder: str, items: int, now: float, estimate: float) -> _Running:
        running = _Running(encoder, items, now, estimate)
        self._running.add(running)
        self._admitted.add(now)
        self._publish(encoder)
        return running

    def _finish(self, running: _Running, loop: asyncio.AbstractEventLoop, observe: bool) -> None:
        if running not in self._running:
            return
        self._running.discard(running)
        if observe:
            self._estimators[running.encoder].observe(running.items, loop.time() - running.started)
        self._dispatch(loop)
        self._publish(running.encoder)

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand free slots to the oldest waiters (across towers) whose deadline can still be met."""
        while len(self._running) < self.config.slots:
            heads = [q[0] for q in self._queues.values() if q]
            if not heads:
                return
            waiter = min(heads, key=lambda w: w.seq)
            self._remove(waiter)
            if waiter.future.done():  # cancelled by its caller
                continue
            now = loop.time()
            estimate = self.estimate(waiter.encoder, waiter.items)
            if now + SAFETY * estimate > waiter.deadline:
                waiter.future.set_exception(self._shed(
                    waiter.encoder, EXPIRED,
                    f"{waiter.encoder}: dropped before computing: about {estimate:.3f} s of work, "
                    f"{max(0.0, waiter.deadline - now):.3f} s left before the deadline"))
                continue
            waiter.future.set_result(self._start(waiter.encoder, waiter.items, now, estimate))

    def _expire(self, waiter: _Waiter) -> None:
        if waiter.future.done():
            return
        self._remove(waiter)
        waiter.future.set_exception(self._shed(
            waiter.encoder, EXPIRED, f"{waiter.encoder}: the deadline passed while the call was queued"))

    def _remove(self, waiter: _Waiter) -> None:
        if waiter.timer is not None:
            waiter.timer.cancel()
        try:
            self._queues[waiter.encoder].remove(waiter)
        except ValueError:
            pass
        self._publish(waiter.encoder)

    def _shed(self, encoder: str, reason: str, message: str, retry_after_s: float | None = None) -> ShedError:
        self._shed_counts[reason] = self._shed_counts.get(reason, 0) + 1
        if reason in (QUEUE_FULL, OVERLOADED):
            self._refused.add(asyncio.get_running_loop().time())
        if self._metrics is not None:
            self._metrics.shed.labels(encoder=encoder, reason=reason).inc()
        log.debug("shed (%s): %s", reason, message)
        kinds = {QUEUE_FULL: Overloaded, OVERLOADED: Overloaded, SHUTDOWN: Draining}
        return kinds.get(reason, DeadlineShed)(message, reason, retry_after_s)

    def _publish(self, encoder: str) -> None:
        if self._metrics is not None:
            self._metrics.queue_depth.labels(backend=self._backend, encoder=encoder).set(len(self._queues[encoder]))
            self._metrics.encoder_running.labels(backend=self._backend).set(len(self._running))


def set_retry_pushback(context: grpc.aio.ServicerContext, seconds: float) -> None:
    """Add gRPC's retry pushback to the call's trailing metadata, keeping what is there (the request id). Clients
    with a retry policy wait this long before their next attempt (gRPC retry design A6)."""
    kept = tuple((k, v) for k, v in context.trailing_metadata() or () if k != RETRY_PUSHBACK_KEY)
    context.set_trailing_metadata((*kept, (RETRY_PUSHBACK_KEY, str(int(seconds * 1000)))))


class AdmittedBackend:
    """An EmbeddingBackend whose embedding calls pass the gate; everything else is the wrapped backend's."""

    def __init__(self, backend, gate: AdmissionGate):
        self.backend = backend
        self.gate = gate

    def __getattr__(self, name: str):  # name, info, start, is_ready, close, ... of the wrapped backend
        return getattr(self.backend, name)

    async def embed_texts(self, texts: Sequence[str], timeout: float) -> np.ndarray:
        texts = list(texts)
        return await self.gate.run(TEXT, len(texts), timeout, lambda t: self.backend.embed_texts(texts, timeout=t))

    async def embed_motions(self, motions: Sequence[np.ndarray], timeout: float) -> np.ndarray:
        motions = list(motions)
        return await self.gate.run(MOTION, len(motions), timeout,
                                   lambda t: self.backend.embed_motions(motions, timeout=t))


class AdmissionInterceptor(grpc.aio.ServerInterceptor):
    """Refuses embedding calls the gate would refuse before their message is read (``methods``: full method name ->
    tower). The unary handler is served as a request-streaming one that checks the gate, then reads the one message
    and runs the original behaviour: the same bytes on the wire, the same deserialiser. Place it after the auth check,
    so that unauthenticated calls are refused for that first."""

    def __init__(self, gate: AdmissionGate, methods: dict[str, str]):
        self._gate = gate
        self._methods = methods

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        encoder = self._methods.get(handler_call_details.method)
        if handler is None or encoder is None or not handler.unary_unary:
            return handler
        gate, unary = self._gate, handler.unary_unary

        async def admitted(request_iterator, context):
            refusal = gate.early_refusal(encoder, context.time_remaining())
            if refusal is not None:
                if refusal.retry_after_s is not None:
                    set_retry_pushback(context, refusal.retry_after_s)
                await context.abort(refusal.code, str(refusal))
            async for request in request_iterator:  # exactly one: the caller made a unary call
                return await unary(request, context)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the call carried no request message")

        return grpc.stream_unary_rpc_method_handler(admitted, request_deserializer=handler.request_deserializer,
                                                    response_serializer=handler.response_serializer)
