"""Server interceptors: request id, one structured log line per call, and Prometheus metrics by method and code.

The request id comes from the caller's ``x-request-id`` metadata (or is made up), is sent back in the initial
metadata, and is visible to every log record of the call through :data:`request_id_var`.

Calls refused for overload (RESOURCE_EXHAUSTED) are logged at most once a second, with the count of those left out:
under overload they come by the thousand per second, and writing a line for each would spend the CPU the encoders
need (the metrics count every one).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid

import grpc

from motion_retrieval_server.metrics import ServiceMetrics

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


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):
    """Request id, access log and metrics for every call with a single response (all of ours; health Check).

    Streaming-response methods (health Watch, reflection) pass through untouched: they are long-lived and their
    latency says nothing.
    """

    def __init__(self, metrics: ServiceMetrics):
        self._metrics = metrics
        self._sampler = _LogSampler()

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_stream or handler.stream_stream:
            return handler
        method = handler_call_details.method
        request_id = _request_id(handler_call_details.invocation_metadata)
        inner = handler.unary_unary or handler.stream_unary
        metrics = self._metrics
        sampler = self._sampler

        async def observed(request_or_iterator, context: grpc.aio.ServicerContext):
            token = request_id_var.set(request_id)
            metrics.in_flight.inc()
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                await context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))
                response = await inner(request_or_iterator, context)
                code = status_code(context)
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
