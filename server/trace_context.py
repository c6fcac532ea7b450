"""The caller's W3C trace context for the clients' calls, at no cost to applications that do not trace.

An application that traces with OpenTelemetry has imported it; then every call carries the current span's
``traceparent`` (and ``tracestate``) through OpenTelemetry's configured propagator, and the service (with
``--otel-endpoint``) continues that trace. An application that does not has not imported it, and the clients never
import it either (the ``[client]`` extra does not include it).
"""

from __future__ import annotations

import sys

_TRACE_KEYS = ("traceparent", "tracestate")


def trace_metadata() -> tuple[tuple[str, str], ...]:
    """``(("traceparent", ...), ...)`` of the current OpenTelemetry context, or () when the process does not trace
    (OpenTelemetry not imported, or no valid span current)."""
    if "opentelemetry.context" not in sys.modules:  # the application does not trace: nothing to forward
        return ()
    from opentelemetry import propagate  # already loaded with the application's OpenTelemetry

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple((key, carrier[key]) for key in _TRACE_KEYS if key in carrier)
