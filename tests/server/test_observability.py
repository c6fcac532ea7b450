"""Prometheus metrics scraped over HTTP, structured logs with the request id, health through the server's life."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from motion_retrieval.errors import ConfigError
from motion_retrieval_server.api import embedding_pb2, embedding_pb2_grpc
from motion_retrieval_server.client import MotionRetrievalClient
from motion_retrieval_server.health import LIVENESS, HealthReporter
from motion_retrieval_server.healthcheck import main as healthcheck_main
from motion_retrieval_server.logs import JsonFormatter, RequestIdFilter

EMBED_TEXTS = "/motion_retrieval.v1.EmbeddingService/EmbedTexts"
EMBED_MOTIONS = "/motion_retrieval.v1.EmbeddingService/EmbedMotions"


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics_endpoint_counts_calls_codes_latency_and_batches(start_server, features):
    from motion_retrieval.export.triton_local import free_port

    server = start_server(metrics_port=free_port())
    port = server.server.metrics_port
    with MotionRetrievalClient(server.target) as client:
        client.embed_texts(["a person walks", "someone runs", "jumping"])
        client.embed_motions([features(50)])
        with pytest.raises(grpc.RpcError):
            client.embed_texts([""])
    samples = _scrape(port)
    assert samples[f'motion_retrieval_grpc_requests_total{{code="OK",method="{EMBED_TEXTS}"}}'] == 1.0
    assert samples[f'motion_retrieval_grpc_requests_total{{code="INVALID_ARGUMENT",method="{EMBED_TEXTS}"}}'] == 1.0
    assert samples[f'motion_retrieval_grpc_requests_total{{code="OK",method="{EMBED_MOTIONS}"}}'] == 1.0
    assert samples[f'motion_retrieval_grpc_request_duration_seconds_count{{method="{EMBED_TEXTS}"}}'] == 2.0
    assert samples['motion_retrieval_batch_size_sum{method="EmbedTexts"}'] == 3.0
    assert samples['motion_retrieval_batch_size_count{method="EmbedMotions"}'] == 1.0
    assert samples['motion_retrieval_backend_duration_seconds_count{backend="torchscript",encoder="text_encoder"}'] \
        == 1.0
    assert samples["motion_retrieval_backend_ready"] == 1.0
    assert samples["motion_retrieval_grpc_in_flight"] == 0.0


def test_access_log_carries_request_id_method_and_code(torchscript_server, caplog):
    with caplog.at_level(logging.INFO, logger="motion_retrieval_server.interceptors"):
        with grpc.insecure_channel(torchscript_server.target) as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            stub.EmbedTexts(embedding_pb2.EmbedTextsRequest(texts=["walk"]), metadata=(("x-request-id", "abc-1"),),
                            timeout=10)
    records = [r for r in caplog.records if getattr(r, "grpc_method", None) == EMBED_TEXTS]
    assert records, "no access log line for EmbedTexts"
    record = records[-1]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc-1"
    assert line["grpc_code"] == "OK" and line["grpc_method"] == EMBED_TEXTS
    assert line["duration_ms"] > 0 and line["level"] == "INFO"


def test_request_id_reaches_log_records_of_the_call(torchscript_server):
    """Every record logged while handling a call carries its request id (context variable set by the interceptor)."""
    seen = []

    class Capture(logging.Handler):
        def emit(self, record):
            seen.append((record.name, getattr(record, "request_id", None)))

    handler = Capture()
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("motion_retrieval_server.interceptors")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with grpc.insecure_channel(torchscript_server.target) as channel:
            embedding_pb2_grpc.EmbeddingServiceStub(channel).GetModelInfo(
                embedding_pb2.GetModelInfoRequest(), metadata=(("x-request-id", "trace-7"),), timeout=10)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert ("motion_retrieval_server.interceptors", "trace-7") in seen


def test_health_serving_after_start_and_not_serving_after_stop(start_server):
    server = start_server()
    with grpc.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "liveness", "motion_retrieval.v1.EmbeddingService", "motion_retrieval.v1.SearchService"):
            status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=20)
        live = health.Watch(health_pb2.HealthCheckRequest(service="liveness"), timeout=20)
        assert next(watch).status == next(live).status == health_pb2.HealthCheckResponse.SERVING
        server.run(server.server.health.shutdown())  # what stop() does first: probes fail while calls drain
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert next(live).status == health_pb2.HealthCheckResponse.NOT_SERVING  # shutting down: not alive either
        watch.cancel()
        live.cancel()


def test_liveness_stays_serving_while_readiness_follows_backend_and_milvus():
    """Triton or Milvus going away makes the replica unready, never "dead": Kubernetes must not restart it."""
    embedding, search = "motion_retrieval.v1.EmbeddingService", "motion_retrieval.v1.SearchService"
    state = {"backend": False, "milvus": False}

    async def scenario():
        reporter = HealthReporter([embedding, search, LIVENESS], embedding_service=embedding,
                                  search_service=search, poll_s=0.02)
        await reporter.start()

        async def backend_ready():
            return state["backend"]

        async def milvus_ready():
            if state["milvus"] is None:
                raise ConnectionError("Milvus is restarting")  # a failing check only means "not ready"
            return state["milvus"]

        reporter.watch("triton", backend_ready, milvus_ready)
        seen = []
        for backend, milvus in ((False, False), (True, False), (True, True), (True, None), (False, True)):
            state.update(backend=backend, milvus=milvus)
            await asyncio.sleep(0.15)
            seen.append(tuple(reporter.status(s) for s in ("", LIVENESS, embedding, search)))
        await reporter.shutdown()
        seen.append(tuple(reporter.status(s) for s in ("", LIVENESS, embedding, search)))
        return seen

    #                     ready  alive  embed  search
    assert asyncio.run(scenario()) == [
        (False, True, False, False),  # loading
        (False, True, True, False),  # backend up, Milvus not: embedding works, search and readiness do not
        (True, True, True, True),
        (False, True, True, False),  # Milvus check raising
        (False, True, False, False),  # Triton gone
        (False, False, False, False),  # shutting down
    ]


def test_healthcheck_command_checks_a_named_service(start_server, tiny_repo, tmp_path, capsys):
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(tiny_repo, repo)
    (repo / "text_encoder" / "1" / "model.pt").unlink()  # the backend never becomes ready
    server = start_server(wait_ready=False, model_repository=repo)
    with pytest.raises(ConfigError):
        server.run(server.server.wait_ready())
    target = server.target
    assert healthcheck_main(["--target", target, "--service", "liveness"]) == 0
    assert healthcheck_main(["--target", target]) == 1  # readiness
    assert capsys.readouterr().out.split() == ["SERVING", "NOT_SERVING"]


# -- the standard gRPC server metrics ---------------------------------------------------------------------------------
def _labels(kind: str, service: str, method: str, code: str | None = None) -> str:
    code_label = f'grpc_code="{code}",' if code else ""
    return f'{{{code_label}grpc_method="{method}",grpc_service="{service}",grpc_type="{kind}"}}'


def test_standard_grpc_server_metrics_count_every_call_by_type_and_code(start_server, features):
    from motion_retrieval.export.triton_local import free_port
    from motion_retrieval_server.api import search_pb2, search_pb2_grpc

    server = start_server(metrics_port=free_port())  # no Milvus: SearchService answers FAILED_PRECONDITION
    embedding, search = "motion_retrieval.v1.EmbeddingService", "motion_retrieval.v1.SearchService"
    with MotionRetrievalClient(server.target) as client:
        client.embed_texts(["a person walks", "someone runs"])
        client.embed_texts(["jumping"])
        with pytest.raises(grpc.RpcError):
            client.embed_texts([""])
        with grpc.insecure_channel(server.target) as channel:
            ingest = search_pb2_grpc.SearchServiceStub(channel).IngestMotions
            items = [search_pb2.IngestMotionsRequest(item=search_pb2.MotionItem(id=str(i))) for i in range(3)]
            with pytest.raises(grpc.RpcError):
                ingest(iter(items), timeout=10)
            health = health_pb2_grpc.HealthStub(channel)
            health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=10)
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            watch.cancel()
    samples = _scrape(server.server.metrics_port)
    texts = ("unary", embedding, "EmbedTexts")
    assert samples["grpc_server_started_total" + _labels(*texts)] == 3.0
    assert samples["grpc_server_handled_total" + _labels(*texts, "OK")] == 2.0
    assert samples["grpc_server_handled_total" + _labels(*texts, "INVALID_ARGUMENT")] == 1.0
    assert samples["grpc_server_msg_received_total" + _labels(*texts)] == 3.0
    assert samples["grpc_server_msg_sent_total" + _labels(*texts)] == 2.0
    assert samples["grpc_server_handling_seconds_count" + _labels(*texts)] == 3.0
    assert samples["grpc_server_handling_seconds_bucket" + _labels(*texts)[:-1] + ',le="+Inf"}'] == 3.0
    assert samples["grpc_server_handled_total" + _labels("unary", embedding, "GetModelInfo", "OK")] == 1.0
    stream = ("client_stream", search, "IngestMotions")
    assert samples["grpc_server_handled_total" + _labels(*stream, "FAILED_PRECONDITION")] == 1.0
    assert samples["grpc_server_started_total" + _labels("unary", "grpc.health.v1.Health", "Check")] == 1.0
    watch_labels = ("server_stream", "grpc.health.v1.Health", "Watch")
    until_sample = samples.get("grpc_server_msg_sent_total" + _labels(*watch_labels), 0.0)
    assert samples["grpc_server_started_total" + _labels(*watch_labels)] == 1.0 and until_sample >= 1.0
    # ours, beside them
    assert samples[f'motion_retrieval_grpc_requests_total{{code="OK",method="{EMBED_TEXTS}"}}'] == 2.0


# -- tracing ----------------------------------------------------------------------------------------------------------
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture()
def span_exporter():
    pytest.importorskip("opentelemetry.sdk", reason="needs the [otel] extra")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from motion_retrieval_server.otel import OtelTracing

    exporter = InMemorySpanExporter()
    return exporter, OtelTracing(SimpleSpanProcessor(exporter))


def test_a_call_with_a_traceparent_continues_its_trace_through_the_service_and_milvus(start_server, tmp_path,
                                                                                     span_exporter):
    from motion_retrieval_server.api import search_pb2, search_pb2_grpc

    exporter, tracing = span_exporter
    server = start_server(milvus_uri=str(tmp_path / "traced.db"), tracing=tracing)
    with grpc.insecure_channel(server.target) as channel:
        metadata = (("traceparent", f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"),)
        search_pb2_grpc.SearchServiceStub(channel).SearchMotions(
            search_pb2.SearchMotionsRequest(text="a person walks", top_k=3), metadata=metadata, timeout=30)
        embedding_pb2_grpc.EmbeddingServiceStub(channel).EmbedTexts(
            embedding_pb2.EmbedTextsRequest(texts=["walk"]), timeout=30)  # no traceparent: a trace of its own
    spans = exporter.get_finished_spans()
    search = [s for s in spans if s.name == "motion_retrieval.v1.SearchService/SearchMotions"]
    assert len(search) == 1
    root = search[0]
    assert format(root.context.trace_id, "032x") == TRACE_ID
    assert format(root.parent.span_id, "016x") == PARENT_SPAN_ID and root.parent.is_remote
    assert root.attributes["rpc.grpc.status_code_name"] == "OK"
    milvus = [s for s in spans if s.name == "milvus" and s.context.trace_id == root.context.trace_id]
    assert milvus and all(s.parent.span_id == root.context.span_id for s in milvus)
    (encoder,) = [s for s in spans if s.name == "torchscript.embed" and s.context.trace_id == root.context.trace_id]
    assert encoder.parent.span_id == root.context.span_id and encoder.attributes["encoder"] == "text_encoder"
    embed = [s for s in spans if s.name == "motion_retrieval.v1.EmbeddingService/EmbedTexts"]
    assert len(embed) == 1 and format(embed[0].context.trace_id, "032x") != TRACE_ID and embed[0].parent is None


def test_the_client_forwards_the_callers_trace_context(start_server, span_exporter):
    """An application that traces with OpenTelemetry: its current span's trace id reaches the service's spans."""
    from opentelemetry.sdk.trace import TracerProvider

    from motion_retrieval_server.aio_client import AsyncMotionRetrievalClient

    exporter, tracing = span_exporter
    application = TracerProvider().get_tracer("the-application")
    server = start_server(tracing=tracing)
    with application.start_as_current_span("request handler") as outer:
        with MotionRetrievalClient(server.target) as client:
            client.embed_texts(["a person walks"])

    async def asynchronous():
        with application.start_as_current_span("async handler") as span:
            async with AsyncMotionRetrievalClient(server.target) as client:
                await client.embed_texts(["someone runs"])
            return span

    inner = asyncio.run(asynchronous())
    served = {s.context.trace_id for s in exporter.get_finished_spans()
              if s.name == "motion_retrieval.v1.EmbeddingService/EmbedTexts"}
    assert served == {outer.get_span_context().trace_id, inner.get_span_context().trace_id}


def test_tracing_off_imports_no_opentelemetry(tiny_repo):
    """The default (no --otel-endpoint): a real server answers a call and opentelemetry is never imported."""
    import subprocess
    import sys

    script = f"""
import asyncio, sys
from motion_retrieval_server.app import MotionRetrievalServer
from motion_retrieval_server.aio_client import AsyncMotionRetrievalClient
from motion_retrieval_server.config import ServeConfig

async def main():
    server = MotionRetrievalServer(ServeConfig(model_repository={str(tiny_repo)!r}, host="127.0.0.1", port=0,
                                               metrics_port=0))
    port = await server.start()
    await server.wait_ready()
    async with AsyncMotionRetrievalClient(f"127.0.0.1:{{port}}") as client:
        assert (await client.embed_texts(["a person walks"])).shape[0] == 1
    await server.stop(0.5)
    assert server.tracing is None

asyncio.run(main())
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
assert not loaded, loaded
print("no opentelemetry")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "no opentelemetry" in done.stdout, done.stderr[-3000:]


def test_an_otel_endpoint_without_the_extra_is_a_clear_error(monkeypatch):
    import builtins

    from motion_retrieval_server.tracing import create_tracing

    real_import = builtins.__import__

    def without_otel(name, *args, **kwargs):
        if name.startswith("opentelemetry") or name == "motion_retrieval_server.otel":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_otel)
    with pytest.raises(ConfigError, match=r"motion-retrieval\[otel\]"):
        create_tracing("http://collector:4317")
    assert create_tracing(None) is None and create_tracing("") is None
