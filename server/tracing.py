"""W3C trace context through the service, with OpenTelemetry when ``--otel-endpoint`` is set.

Off (the default) nothing of OpenTelemetry is imported and every hook below is a context-variable read. On
(:func:`create_tracing` with an endpoint), :mod:`motion_retrieval_server.otel` makes a server span per call that
continues the caller's ``traceparent``, and the code that leaves the process marks its part with :func:`span`
(the Triton call, the Milvus calls) and forwards :func:`trace_headers` where the next hop reads them (Triton's gRPC
metadata). The call's tracer travels in a context variable, set by the observability interceptor, so backends and
servicers need no tracer argument and asyncio tasks made inside a call inherit it.

    with span("triton.infer", model="text_encoder"):
        await client.infer(..., headers=trace_headers())
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from motion_retrieval.errors import ConfigError


class Tracing(Protocol):
    """What the service asks of a tracer (OpenTelemetry's: :class:`motion_retrieval_server.otel.OtelTracing`)."""

    def server_span(self, method: str, metadata: Sequence[tuple[str, Any]] | None) -> contextlib.AbstractContextManager:
        """The span of one incoming call ``method`` ("/package.Service/Method"), the caller's trace continued from
        its ``traceparent`` metadata; the managed value has ``set_code(name)``."""

    def span(self, name: str, attributes: dict[str, Any]) -> contextlib.AbstractContextManager:
        """A child span of the current one for an outgoing call."""

    def headers(self) -> dict[str, str]:
        """``traceparent`` (and ``tracestate``) of the current span, for the next hop."""

    def shutdown(self) -> None:
        """Export what is buffered and stop."""


_current: contextvars.ContextVar[Tracing | None] = contextvars.ContextVar("motion_retrieval_tracing", default=None)


def create_tracing(endpoint: str | None, service_name: str = "motion-retrieval") -> Tracing | None:
    """None when ``endpoint`` is empty: tracing off, OpenTelemetry not imported."""
    if not endpoint:
        return None
    try:  # deferred: opentelemetry is the optional [otel] extra, imported only when tracing is on
        from motion_retrieval_server.otel import OtelTracing
    except ImportError as exc:
        raise ConfigError(f"--otel-endpoint {endpoint}: tracing needs OpenTelemetry ({exc}); install it with "
                          "pip install 'motion-retrieval[otel]'") from exc

    return OtelTracing.to_endpoint(endpoint, service_name)


@contextlib.contextmanager
def call_tracing(tracing: Tracing | None) -> Iterator[None]:
    """Make ``tracing`` the tracer of the code run inside (one incoming call)."""
    token = _current.set(tracing)
    try:
        yield
    finally:
        _current.reset(token)


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager:
    """A child span of the current call's span, or nothing when the call is not traced."""
    tracing = _current.get()
    if tracing is None:
        return contextlib.nullcontext()
    return tracing.span(name, attributes)


def trace_headers() -> dict[str, str]:
    """W3C trace context headers of the current span ({} when the call is not traced)."""
    tracing = _current.get()
    return tracing.headers() if tracing is not None else {}
