"""Prometheus metrics of the service, in a registry of its own (several servers can live in one test process),
served over HTTP on --metrics-port.

Two families describe the calls: ours (``motion_retrieval_grpc_*``, by full method name) and the standard gRPC server
metrics of go-grpc-prometheus / grpc-ecosystem (``grpc_server_*`` with ``grpc_type``, ``grpc_service``,
``grpc_method``, ``grpc_code``), which stock gRPC dashboards and alerts expect."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

# Seconds: from a 1 ms health check to a 64-motion batch on a busy CPU.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "motion_retrieval_grpc_requests", "Finished gRPC calls by method and status code.", ["method", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "motion_retrieval_grpc_request_duration_seconds", "Wall time of gRPC calls in the service.", ["method"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.in_flight = Gauge("motion_retrieval_grpc_in_flight", "gRPC calls being handled now.", registry=r)
        self.batch_size = Histogram(
            "motion_retrieval_batch_size", "Items (texts or motions) per embedding or ingest request.", ["method"],
            buckets=BATCH_BUCKETS, registry=r,
        )
        self.backend_latency = Histogram(
            "motion_retrieval_backend_duration_seconds", "Wall time of one encoder call on the backend.",
            ["backend", "encoder"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.backend_retries = Counter(
            "motion_retrieval_backend_retries", "Backend calls retried after a transient failure.", ["backend"],
            registry=r,
        )
        self.backend_ready = Gauge(
            "motion_retrieval_backend_ready", "1 while the encoder backend is ready (health SERVING).", registry=r
        )
        self.milvus_ready = Gauge(
            "motion_retrieval_milvus_ready", "1 while Milvus answers and the collections are loaded (search only).",
            registry=r,
        )
        # Admission control (admission). The two names are a contract with the chart's HPA (deploy/helm).
        self.queue_depth = Gauge(
            "motion_retrieval_queue_depth", "Encoder calls waiting for a slot, per backend and tower.",
            ["backend", "encoder"], registry=r,
        )
        self.shed = Counter(
            "motion_retrieval_shed", "Calls refused or dropped before computing, by tower and reason (queue_full, "
            "overloaded, expired, shutdown).", ["encoder", "reason"], registry=r,
        )
        self.encoder_running = Gauge(
            "motion_retrieval_encoder_running", "Encoder calls running now (admission slots in use).", ["backend"],
            registry=r,
        )
        self.grpc = GrpcServerMetrics(r)
        self._http = None

    def start_http(self, host: str, port: int) -> int:
        """Serve /metrics on ``host:port`` (port 0 = a free port); return the bound port."""
        self._http, _thread = start_http_server(port, addr=host, registry=self.registry)
        bound = self._http.server_address[1]
        log.info("metrics on http://%s:%d/metrics", host, bound)
        return bound

    def stop_http(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class GrpcServerMetrics:
    """The standard gRPC server metrics, named and labelled as go-grpc-prometheus exports them (grpc_type is
    ``unary``, ``client_stream``, ``server_stream`` or ``bidi_stream``; grpc_code a status name such as ``OK``)."""

    def __init__(self, registry: CollectorRegistry):
        r = registry
        labels = ["grpc_type", "grpc_service", "grpc_method"]
        self.started = Counter("grpc_server_started", "Total number of RPCs started on the server.", labels,
                               registry=r)
        self.handled = Counter("grpc_server_handled", "Total number of RPCs completed on the server, regardless of "
                               "success or failure.", [*labels, "grpc_code"], registry=r)
        self.msg_received = Counter("grpc_server_msg_received", "Total number of RPC stream messages received on the "
                                    "server.", labels, registry=r)
        self.msg_sent = Counter("grpc_server_msg_sent", "Total number of gRPC stream messages sent by the server.",
                                labels, registry=r)
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds", "Histogram of response latency (seconds) of gRPC that had been "
            "application-level handled by the server.", labels, buckets=LATENCY_BUCKETS, registry=r)
