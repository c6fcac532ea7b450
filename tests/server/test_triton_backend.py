"""The service over the real bundled tritonserver: same embeddings as in process, and Triton going away and coming
back (UNAVAILABLE after bounded retries, health NOT_SERVING, then SERVING again; no crash, no hang)."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from motion_retrieval_server.client import MotionRetrievalClient

pytestmark = pytest.mark.triton

CAPTIONS = ["a person walks forward and turns around", "someone jumps twice", "waving"]


@pytest.fixture(scope="module")
def triton(tiny_repo):
    pytest.importorskip("pytriton", reason="needs the tritonserver bundled in nvidia-pytriton")
    from motion_retrieval.export.triton_local import LocalTriton

    server = LocalTriton(tiny_repo, num_threads=1)
    with server:
        yield server
    server.stop()


def _health(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status


def _wait_health(target: str, status: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _health(target) == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"health did not become {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}")


def test_triton_backend_matches_in_process(start_server, triton, embedder, features):
    server = start_server(backend="triton", triton_url=triton.urls.grpc)
    _wait_health(server.target, health_pb2.HealthCheckResponse.SERVING)
    motions = [features(40, 1), features(200, 2), features(260, 3)]
    with MotionRetrievalClient(server.target) as client:
        info = client.model_info()
        assert (info["backend"], info["model_id"]) == ("triton", embedder.model_id)
        np.testing.assert_allclose(client.embed_texts(CAPTIONS), embedder.embed_texts(CAPTIONS), atol=1e-5)
        np.testing.assert_allclose(client.embed_motions(motions), embedder.embed_motions(motions), atol=1e-5)


def test_triton_restart_unavailable_then_serving_again(start_server, triton, features):
    from motion_retrieval.export.triton_local import LocalTriton

    server = start_server(backend="triton", triton_url=triton.urls.grpc, triton_retries=3)
    _wait_health(server.target, health_pb2.HealthCheckResponse.SERVING)
    ports = dict(grpc_port=triton.grpc_port, http_port=triton.http_port, metrics_port=triton.metrics_port)
    with MotionRetrievalClient(server.target, timeout=20) as client:
        assert client.embed_texts(["walk"]).shape == (1, 256)

        triton.stop()  # SIGTERM to the real tritonserver
        _wait_health(server.target, health_pb2.HealthCheckResponse.NOT_SERVING)
        with pytest.raises(grpc.RpcError) as caught:
            client.embed_texts(["walk"])
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "after 3 attempts" in caught.value.details()
        with MotionRetrievalClient(server.target, timeout=0.15) as hurried, pytest.raises(grpc.RpcError) as caught:
            hurried.embed_texts(["walk"])  # the retries' backoff would outlast this deadline: it is honoured
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        restarted = LocalTriton(triton.repo, num_threads=1, **ports)
        try:
            restarted.start()
            restarted.wait_ready()
            _wait_health(server.target, health_pb2.HealthCheckResponse.SERVING)
            assert client.embed_texts(["walk"]).shape == (1, 256)
            assert client.embed_motions([features(50)]).shape == (1, 256)
        finally:
            restarted.stop()


def _running(triton):
    """The module's Triton, started again if a test before stopped it."""
    if not triton.running:
        triton.start()
        triton.wait_ready()
    return triton


def _ingest_items(features, count: int = 3):
    return [{"id": f"m{i}", "dataset": "test", "features": features(40 + i, i), "captions": [f"a person moves {i}"]}
            for i in range(count)]


def test_a_triton_serving_another_model_is_never_ready_and_nothing_is_written(start_server, triton, other_repo,
                                                                              tmp_path, features):
    """Contract 3: the service's repository and Triton disagree on the model id -> readiness NOT_SERVING, embeddings
    refused (UNAVAILABLE naming both ids), and an ingest writes nothing."""
    _running(triton)
    server = start_server(backend="triton", triton_url=triton.urls.grpc, model_repository=other_repo,
                          milvus_uri=str(tmp_path / "m.db"))
    time.sleep(1.0)  # several health polls
    assert _health(server.target) == health_pb2.HealthCheckResponse.NOT_SERVING
    with MotionRetrievalClient(server.target, timeout=20) as client:
        service_id = client.model_id
        with pytest.raises(grpc.RpcError) as caught:
            client.embed_texts(["walk"])
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert f"serves another model than this service ({service_id})" in caught.value.details()
        assert triton.info.model_id in caught.value.details()
        with pytest.raises(grpc.RpcError) as caught:
            client.ingest(_ingest_items(features))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert client.collection_stats()["motion_rows"] == 0


def test_ingest_asks_triton_for_the_model_before_every_write(start_server, triton, other_repo, tmp_path, features):
    """A rolling upgrade: the service was ready against Triton serving its model; Triton is replaced by one serving
    another model on the same address. With no health poll in between (poll interval of an hour), the ingest still
    asks Triton before writing: refused, and the collection keeps exactly the rows written before."""
    from motion_retrieval.export.triton_local import LocalTriton

    _running(triton)
    server = start_server(backend="triton", triton_url=triton.urls.grpc, milvus_uri=str(tmp_path / "m.db"),
                          health_poll_s=3600.0)
    _wait_health(server.target, health_pb2.HealthCheckResponse.SERVING)
    ports = dict(grpc_port=triton.grpc_port, http_port=triton.http_port, metrics_port=triton.metrics_port)
    with MotionRetrievalClient(server.target, timeout=60) as client:
        assert client.ingest(_ingest_items(features, 2))["written"] == 2
        triton.stop()
        upgraded = LocalTriton(other_repo, num_threads=1, **ports)
        try:
            upgraded.start()
            upgraded.wait_ready()
            with pytest.raises(grpc.RpcError) as caught:
                client.ingest(_ingest_items(features, 3)[2:])  # a new item: it would be written
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert upgraded.info.model_id in caught.value.details()
            assert client.collection_stats()["motion_rows"] == 2
        finally:
            upgraded.stop()


def test_the_channel_retries_unavailable_and_balances_dns_targets():
    import json

    from motion_retrieval_server.backends.triton import channel_args, service_config

    plain = service_config("triton:8001", attempts=3)
    policy = plain["methodConfig"][0]
    assert policy["name"] == [{"service": "inference.GRPCInferenceService"}]
    assert policy["retryPolicy"]["maxAttempts"] == 3 and policy["retryPolicy"]["retryableStatusCodes"] == [
        "UNAVAILABLE"]
    assert "loadBalancingConfig" not in plain  # one address: pick_first
    balanced = service_config("dns:///triton.ns.svc.cluster.local:8001", attempts=3)
    assert balanced["loadBalancingConfig"] == [{"round_robin": {}}]
    assert "methodConfig" not in service_config("triton:8001", attempts=1)
    args = dict(channel_args("dns:///triton:8001", 3))
    assert args["grpc.enable_retries"] == 1 and json.loads(args["grpc.service_config"]) == service_config(
        "dns:///triton:8001", 3)


def test_a_dns_target_with_round_robin_serves(start_server, triton, embedder):
    """Contract 4: --triton-url dns:///HOST:PORT (what the chart passes for its headless Service) resolves HOST and
    balances with round_robin; here HOST is localhost."""
    _running(triton)
    server = start_server(backend="triton", triton_url=f"dns:///localhost:{triton.grpc_port}")
    _wait_health(server.target, health_pb2.HealthCheckResponse.SERVING)
    with MotionRetrievalClient(server.target) as client:
        np.testing.assert_allclose(client.embed_texts(CAPTIONS), embedder.embed_texts(CAPTIONS), atol=1e-5)


class _RecordingProxy(grpc.GenericRpcHandler):
    """A unary gRPC pass-through to ``target`` that records each call's method and metadata (what Triton received)."""

    def __init__(self, target: str):
        self._channel = grpc.insecure_channel(target)
        self.seen: list[tuple[str, dict[str, str]]] = []

    def service(self, handler_call_details):
        method = handler_call_details.method
        forward = self._channel.unary_unary(method)  # bytes in, bytes out

        def handle(request: bytes, context) -> bytes:
            metadata = [(k, v) for k, v in context.invocation_metadata() if not k.startswith(("grpc-", ":"))
                        and k != "user-agent"]
            self.seen.append((method, dict(metadata)))
            try:
                return forward(request, metadata=metadata, timeout=context.time_remaining())
            except grpc.RpcError as exc:
                context.abort(exc.code(), exc.details())

        return grpc.unary_unary_rpc_method_handler(handle)

    def close(self) -> None:
        self._channel.close()


def test_the_triton_call_is_a_span_of_the_callers_trace_and_triton_gets_its_traceparent(start_server, triton):
    pytest.importorskip("opentelemetry.sdk", reason="needs the [otel] extra")
    from concurrent.futures import ThreadPoolExecutor

    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from motion_retrieval_server.api import embedding_pb2, embedding_pb2_grpc
    from motion_retrieval_server.otel import OtelTracing

    _running(triton)
    trace_id, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    proxy = _RecordingProxy(triton.urls.grpc.removeprefix("grpc://"))
    relay = grpc.server(ThreadPoolExecutor(max_workers=4), handlers=[proxy])
    port = relay.add_insecure_port("127.0.0.1:0")
    relay.start()
    exporter = InMemorySpanExporter()
    try:
        server = start_server(backend="triton", triton_url=f"127.0.0.1:{port}",
                              tracing=OtelTracing(SimpleSpanProcessor(exporter)))
        _wait_health(server.target, health_pb2.HealthCheckResponse.SERVING)
        with grpc.insecure_channel(server.target) as channel:
            embedding_pb2_grpc.EmbeddingServiceStub(channel).EmbedTexts(
                embedding_pb2.EmbedTextsRequest(texts=CAPTIONS), timeout=30,
                metadata=(("traceparent", f"00-{trace_id}-{parent}-01"),))
    finally:
        relay.stop(0)
        proxy.close()
    spans = exporter.get_finished_spans()
    (call,) = [s for s in spans if s.name == "motion_retrieval.v1.EmbeddingService/EmbedTexts"]
    (infer,) = [s for s in spans if s.name == "triton.infer"]
    assert format(call.context.trace_id, "032x") == trace_id and format(call.parent.span_id, "016x") == parent
    assert infer.context.trace_id == call.context.trace_id and infer.parent.span_id == call.context.span_id
    assert infer.attributes["triton.model"] == "text_encoder" and infer.attributes["triton.batch_size"] == 3
    infers = [metadata for method, metadata in proxy.seen if method.endswith("/ModelInfer")]
    assert len(infers) == 1
    version, sent_trace, sent_span, _flags = infers[0]["traceparent"].split("-")
    assert (sent_trace, sent_span) == (trace_id, format(infer.context.span_id, "016x"))  # Triton joins the trace
