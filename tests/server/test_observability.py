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
