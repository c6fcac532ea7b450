"""The OpenTelemetry tracer of the service (the ``[otel]`` extra): spans exported over OTLP/gRPC, W3C trace context
(``traceparent``/``tracestate``) read from callers and written for Triton.

Only :func:`motion_retrieval_server.tracing.create_tracing` imports this module, and only with an endpoint: with
tracing off, opentelemetry is never imported. The tracer provider is the service's own, not OpenTelemetry's global
one, so that a host process (tests, an embedding application) keeps its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

INSTRUMENTATION = "motion_retrieval_server"
_TRACE_KEYS = frozenset({"traceparent", "tracestate"})


class _ServerSpan:
    """The span of one incoming call; the interceptor sets the gRPC status it ended with."""

    def __init__(self, span: trace.Span):
        self.span = span

    def set_code(self, code: str) -> None:
        self.span.set_attribute("rpc.grpc.status_code_name", code)
        if code != "OK":
            self.span.set_status(Status(StatusCode.ERROR, code))


class OtelTracing:
    """Spans of the service, handed to ``processor`` (a batching OTLP exporter in production, an in-memory one in
    tests)."""

    def __init__(self, processor: SpanProcessor, service_name: str = "motion-retrieval"):
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer(INSTRUMENTATION)
        self.propagator = TraceContextTextMapPropagator()

    @classmethod
    def to_endpoint(cls, endpoint: str, service_name: str = "motion-retrieval") -> OtelTracing:
        """Export to an OTLP/gRPC collector at ``endpoint`` ("http://collector:4317"; plaintext for http://)."""
        # Deferred: the OTLP exporter loads grpc stubs of the collector protocol; tests export in memory instead.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return cls.with_exporter(OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://")),
                                 service_name)

    @classmethod
    def with_exporter(cls, exporter: SpanExporter, service_name: str = "motion-retrieval") -> OtelTracing:
        # Batching: the exporter's network time never lands on a call.
        return cls(BatchSpanProcessor(exporter), service_name)

    @contextlib.contextmanager
    def server_span(self, method: str, metadata: Sequence[tuple[str, Any]] | None) -> Iterator[_ServerSpan]:
        carrier = {str(k).lower(): v for k, v in metadata or () if str(k).lower() in _TRACE_KEYS and isinstance(v, str)}
        parent = self.propagator.extract(carrier)  # an empty context without a valid traceparent: a new trace
        service, _, name = method.lstrip("/").rpartition("/")
        with self.tracer.start_as_current_span(
                method.lstrip("/"), context=parent, kind=SpanKind.SERVER, record_exception=False,
                attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}) as span:
            yield _ServerSpan(span)

    @contextlib.contextmanager
    def span(self, name: str, attributes: dict[str, Any]) -> Iterator[trace.Span]:
        with self.tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
            yield span

    def headers(self) -> dict[str, str]:
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier)
        return carrier

    def shutdown(self) -> None:
        self.provider.shutdown()
