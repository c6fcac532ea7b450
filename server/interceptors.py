"""Server interceptors: request id, one structured log line per call, Prometheus metrics by method and code (ours and
the standard ``grpc_server_*``), and the call's trace span when tracing is on.

The request id comes from the caller's ``x-request-id`` metadata (or is made up), is sent back in the trailing
metadata (and the initial metadata of a response), and is visible to every log record of the call through
:data:`request_id_var`.

Calls refused for overload (RESOURCE_EXHAUSTED) are logged at most once a second, with the count of those left out:
under overload they come by the thousand per second, and writing a line for each would spend the CPU the encoders
need (the metrics count every one).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import time
import uuid

import grpc

from motion_retrieval_server.metrics import ServiceMetrics
from motion_retrieval_server.tracing import call_tracing

log = logging.getLogger(__name__)

# Codes whose access-log lines are sampled (admission sheds them by the thousand under overload).
_SAMPLED_CODES = frozenset({grpc.StatusCode.RESOURCE_EXHAUSTED})
_SAMPLE_INTERVAL_S = 1.0


class _LogSampler:
    """At most one line per code per interval; says how many were left out since the last one."""

    def __init__(self, interval: float = _SAMPLE_INTERVAL_S):
        self._interval = interval
        self._last: dict[grpc.StatusCode, float] = {}
        self._skipped: dict[grpc.StatusCode, int] = {}

    def admit(self, code: grpc.StatusCode, now: float) -> int | None:
        """None: leave this line out; else the number of lines left out before it."""
        if now - self._last.get(code, -self._interval) < self._interval:
            self._skipped[code] = self._skipped.get(code, 0) + 1
            return None
        self._last[code] = now
        return self._skipped.pop(code, 0)

REQUEST_ID_KEY = "x-request-id"
MAX_REQUEST_ID_CHARS = 128
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_CODES_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}


def replace_behaviour(handler: grpc.RpcMethodHandler, behaviour) -> grpc.RpcMethodHandler:
    """A handler of the same kind (unary/stream in and out) and serializers as ``handler``, running ``behaviour``."""
    if handler.unary_unary:
        make = grpc.unary_unary_rpc_method_handler
    elif handler.unary_stream:
        make = grpc.unary_stream_rpc_method_handler
    elif handler.stream_unary:
        make = grpc.stream_unary_rpc_method_handler
    else:
        make = grpc.stream_stream_rpc_method_handler
    return make(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def status_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The code the call ended with, as a grpc.StatusCode (OK when the handler set none)."""
    code = context.code()
    if code is None:
        return grpc.StatusCode.OK
    if isinstance(code, grpc.StatusCode):
        return code
    return _CODES_BY_VALUE.get(int(code), grpc.StatusCode.UNKNOWN)


def _request_id(metadata) -> str:
    for key, value in metadata or ():
        if key.lower() == REQUEST_ID_KEY and value:
            return str(value)[:MAX_REQUEST_ID_CHARS]
    return uuid.uuid4().hex


def grpc_types(*services) -> dict[str, str]:
    """Full method name -> go-grpc-prometheus ``grpc_type`` for every method of the given ServiceDescriptors (the
    handlers seen by interceptors may differ in kind: admission serves unary calls as request-streaming ones)."""
    kinds = {(False, False): "unary", (True, False): "client_stream", (False, True): "server_stream",
             (True, True): "bidi_stream"}
    return {f"/{service.full_name}/{method.name}": kinds[(method.client_streaming, method.server_streaming)]
            for service in services for method in service.methods}


def _handler_type(handler: grpc.RpcMethodHandler) -> str:
    return {(False, False): "unary", (True, False): "client_stream", (False, True): "server_stream",
            (True, True): "bidi_stream"}[(bool(handler.request_streaming), bool(handler.response_streaming))]


class _CountingContext:
    """The servicer context with ``write`` counted (streaming responses written through the context: health
    Watch)."""

    def __init__(self, context: grpc.aio.ServicerContext, on_write):
        self._context = context
        self._on_write = on_write

    async def write(self, message) -> None:
        await self._context.write(message)
        self._on_write()

    def __getattr__(self, name: str):
        return getattr(self._context, name)


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):
    """Request id, access log, metrics and the call's trace span.

    Every call counts in the standard ``grpc_server_*`` metrics (streams included: messages in and out). Calls with
    a single response (all of ours; health Check) also get the request id, an access-log line, our own
    ``motion_retrieval_grpc_*`` metrics and, with tracing on, a server span continuing the caller's ``traceparent``.
    Streaming-response methods (health Watch, reflection) are long-lived and their latency says nothing: they get
    only the standard counters.

    The request id goes back in the trailing metadata of every call and, with a response, in its initial metadata.
    Nothing is sent before the handler has answered: gRPC clients retry a refused call (RESOURCE_EXHAUSTED,
    UNAVAILABLE, honouring ``grpc-retry-pushback-ms``) only if no response headers came first, since headers commit
    the call (gRPC retry design A6).
    """

    def __init__(self, metrics: ServiceMetrics, method_types: dict[str, str] | None = None, tracing=None):
        self._metrics = metrics
        self._types = dict(method_types or {})
        self._tracing = tracing  # motion_retrieval_server.tracing.Tracing, or None: off
        self._sampler = _LogSampler()

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        service, _, name = method.lstrip("/").rpartition("/")
        labels = (self._types.get(method) or _handler_type(handler), service, name)
        standard = self._metrics.grpc
        if handler.unary_stream or handler.stream_stream:
            return replace_behaviour(handler, _streaming(handler, labels, standard))
        request_id = _request_id(handler_call_details.invocation_metadata)
        inner = handler.unary_unary or handler.stream_unary
        request_streaming = handler.stream_unary is not None
        metrics = self._metrics
        sampler = self._sampler
        tracing = self._tracing
        metadata = handler_call_details.invocation_metadata

        async def observed(request_or_iterator, context: grpc.aio.ServicerContext):
            token = request_id_var.set(request_id)
            metrics.in_flight.inc()
            standard.started.labels(*labels).inc()
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            traced = server_span = None  # tracing off: nothing to enter or leave
            if tracing is not None:
                traced = contextlib.ExitStack()
                server_span = traced.enter_context(tracing.server_span(method, metadata))
                traced.enter_context(call_tracing(tracing))  # the backends' and servicers' spans are its children
            try:
                context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
                if request_streaming:
                    request_or_iterator = _counted(request_or_iterator, standard.msg_received.labels(*labels))
                else:
                    standard.msg_received.labels(*labels).inc()
                response = await inner(request_or_iterator, context)
                code = status_code(context)
                if code == grpc.StatusCode.OK:
                    await context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))
                    standard.msg_sent.labels(*labels).inc()
                return response
            except asyncio.CancelledError:
                remaining = context.time_remaining()
                code = (
                    grpc.StatusCode.DEADLINE_EXCEEDED
                    if remaining is not None and remaining <= 0
                    else grpc.StatusCode.CANCELLED
                )
                raise
            except Exception as exc:
                code = status_code(context)
                if code == grpc.StatusCode.OK:  # an exception the servicer did not turn into a status
                    code = grpc.StatusCode.UNKNOWN
                    log.exception("unhandled error in %s", method, exc_info=exc)
                raise
            finally:
                elapsed = time.perf_counter() - start
                metrics.in_flight.dec()
                metrics.requests.labels(method=method, code=code.name).inc()
                metrics.latency.labels(method=method).observe(elapsed)
                standard.handled.labels(*labels, code.name).inc()
                standard.handling_seconds.labels(*labels).observe(elapsed)
                if traced is not None:
                    server_span.set_code(code.name)
                    traced.close()
                skipped = sampler.admit(code, time.monotonic()) if code in _SAMPLED_CODES else 0
                if skipped is not None:
                    level = logging.INFO if code in _EXPECTED_CODES else logging.WARNING
                    log.log(
                        level,
                        "%s %s %.1f ms%s",
                        method,
                        code.name,
                        elapsed * 1e3,
                        f" ({skipped} more {code.name} calls since the last line, not logged)" if skipped else "",
                        extra={"request_id": request_id, "grpc_method": method, "grpc_code": code.name,
                               "duration_ms": round(elapsed * 1e3, 3), "peer": context.peer(),
                               **({"not_logged": skipped} if skipped else {})},
                    )
                request_id_var.reset(token)

        return replace_behaviour(handler, observed)


async def _counted(messages, counter):
    async for message in messages:
        counter.inc()
        yield message


def _streaming(handler: grpc.RpcMethodHandler, labels: tuple[str, str, str], standard):
    """The behaviour of a streaming-response handler with the standard metrics around it. Async-generator behaviours
    are iterated here; coroutine behaviours (writing through ``context.write``) get a context that counts writes."""
    inner = handler.unary_stream or handler.stream_stream
    request_streaming = handler.stream_stream is not None
    sent = standard.msg_sent.labels(*labels)

    def begin(request_or_iterator):
        standard.started.labels(*labels).inc()
        if request_streaming:
            return _counted(request_or_iterator, standard.msg_received.labels(*labels))
        standard.msg_received.labels(*labels).inc()
        return request_or_iterator

    def end(context, start: float, error: BaseException | None) -> None:
        """Count the call's outcome: CANCELLED when cancelled, else the status it set (UNKNOWN for an exception
        that left it OK)."""
        if isinstance(error, asyncio.CancelledError):
            code = grpc.StatusCode.CANCELLED
        else:
            code = status_code(context)
            code = grpc.StatusCode.UNKNOWN if error is not None and code == grpc.StatusCode.OK else code
        standard.handled.labels(*labels, code.name).inc()
        standard.handling_seconds.labels(*labels).observe(time.perf_counter() - start)

    if inspect.isasyncgenfunction(inner):
        async def observed_generator(request_or_iterator, context):
            request_or_iterator = begin(request_or_iterator)
            start, error = time.perf_counter(), None
            try:
                async for response in inner(request_or_iterator, context):
                    sent.inc()
                    yield response
            except (asyncio.CancelledError, Exception) as exc:
                error = exc
                raise
            finally:
                end(context, start, error)

        return observed_generator

    async def observed(request_or_iterator, context):
        request_or_iterator = begin(request_or_iterator)
        start, error = time.perf_counter(), None
        try:
            return await inner(request_or_iterator, _CountingContext(context, sent.inc))
        except (asyncio.CancelledError, Exception) as exc:
            error = exc
            raise
        finally:
            end(context, start, error)

    return observed


# Outcomes that are the caller's business, not the service's: logged at INFO.
_EXPECTED_CODES = frozenset({
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
})
