"""Bearer-token auth (health and reflection stay open; refused calls cost no memory), TLS with a self-signed
certificate, reflection switch, metrics on loopback."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from motion_retrieval_server.api import embedding_pb2
from motion_retrieval_server.client import MotionRetrievalClient

TOKEN = "s3cret-token"


def test_calls_without_the_token_are_unauthenticated(start_server):
    server = start_server(auth_token=TOKEN)
    for token in (None, "wrong-token"):
        with MotionRetrievalClient(server.target, token=token) as client, pytest.raises(grpc.RpcError) as caught:
            client.embed_texts(["a person walks"])
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "authorization: Bearer <token>" in caught.value.details()
    with MotionRetrievalClient(server.target, token=TOKEN) as client:
        assert client.embed_texts(["a person walks"]).shape == (1, 256)
        with pytest.raises(grpc.RpcError) as caught:  # search is behind the token too (and then disabled)
            client.collection_stats()
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_health_and_reflection_need_no_token(start_server):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    server = start_server(auth_token=TOKEN)
    with grpc.insecure_channel(server.target) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"motion_retrieval.v1.EmbeddingService", "motion_retrieval.v1.SearchService",
            "grpc.health.v1.Health"} <= services


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A self-signed certificate for localhost / 127.0.0.1 (the `cryptography` package is not installed here;
    the openssl command line is)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not found")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


def test_tls_with_token(start_server, self_signed):
    cert, key = self_signed
    server = start_server(tls_cert=cert, tls_key=key, auth_token=TOKEN)
    target = f"localhost:{server.server.port}"
    with MotionRetrievalClient(target, tls_ca=cert, token=TOKEN) as client:
        assert client.embed_texts(["a person walks"]).shape == (1, 256)
    # A plaintext client cannot talk to the TLS port.
    with MotionRetrievalClient(target, token=TOKEN, timeout=3) as client, pytest.raises(grpc.RpcError) as caught:
        client.embed_texts(["a person walks"])
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_client_refuses_an_untrusted_server(start_server, self_signed, tmp_path):
    cert, key = self_signed
    other = tmp_path / "other.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k"),
                    "-out", str(other), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    server = start_server(tls_cert=cert, tls_key=key)
    with MotionRetrievalClient(f"localhost:{server.server.port}", tls_ca=other, timeout=3) as client:
        with pytest.raises(grpc.RpcError) as caught:
            client.embed_texts(["a person walks"])
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_reflection_can_be_switched_off(start_server):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    server = start_server(reflection=False)
    with grpc.insecure_channel(server.target) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            list(ProtoReflectionDescriptorDatabase(channel).get_services())
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING


def test_metrics_listen_on_loopback_by_default(start_server):
    from motion_retrieval.export.triton_local import free_port
    from motion_retrieval_server.config import ServeConfig

    assert ServeConfig().metrics_host == "127.0.0.1"
    server = start_server(host="0.0.0.0", metrics_port=free_port())  # gRPC on every interface, metrics still not
    assert server.server.metrics._http.server_address[0] == "127.0.0.1"


def test_refused_calls_are_answered_without_reading_their_message(start_server, features):
    """The refusal handler is request-streaming and never reads: an unauthenticated caller's bytes are not
    received into the service (a unary handler would get the whole message deserialised first)."""
    from motion_retrieval_server.auth import BearerTokenInterceptor
    from motion_retrieval_server.client import features_message

    async def intercept():
        interceptor = BearerTokenInterceptor(TOKEN)
        handler = grpc.unary_unary_rpc_method_handler(lambda request, context: None,
                                                      request_deserializer=lambda data: 1 / 0)

        async def continuation(details):
            return handler

        class Details(grpc.HandlerCallDetails):
            method = "/motion_retrieval.v1.EmbeddingService/EmbedMotions"
            invocation_metadata = ()

        return await interceptor.intercept_service(continuation, Details())

    refusal = asyncio.run(intercept())
    assert refusal.request_streaming and refusal.request_deserializer is None
    server = start_server(auth_token=TOKEN)
    big = [features(600, i) for i in range(6)]  # ~3.8 MB, under the message limit
    with MotionRetrievalClient(server.target) as client, pytest.raises(grpc.RpcError) as caught:
        client._embedding.EmbedMotions(embedding_pb2.EmbedMotionsRequest(motions=[features_message(m) for m in big]),
                                       timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.slow  # a fresh `serve` process (imports torch), so that its memory can be measured alone
def test_unauthenticated_large_requests_do_not_cost_memory(tiny_repo, tmp_path):
    """Eight concurrent unauthenticated 15 MB requests (under the 16 MiB limit): the service's RSS barely moves
    (before the fix every message was received and deserialised before the refusal: +248 MiB here; now +16)."""
    from motion_retrieval.export.triton_local import free_port

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "motion_retrieval", "serve", "--model-repository", str(tiny_repo), "--host",
         "127.0.0.1", "--port", str(port), "--metrics-port", "0", "--auth-token-file", str(token_file)],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    log.close()

    def rss_mib() -> float:
        for line in open(f"/proc/{process.pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    import numpy as np

    from motion_retrieval_server.client import features_message

    # A valid EmbedMotionsRequest of 15 MB (14,000 frames): were it read, it would also be deserialised.
    motion = features_message(np.zeros((14_000, 263), np.float32))
    payload = embedding_pb2.EmbedMotionsRequest(motions=[motion]).SerializeToString()
    assert 14 * 2**20 < len(payload) < 16 * 2**20
    try:
        target = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        with grpc.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                try:
                    if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                        break
                except grpc.RpcError:
                    time.sleep(0.2)
        time.sleep(1.0)
        before = rss_mib()
        codes = []

        def send():
            options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
            with grpc.insecure_channel(target, options) as channel:
                try:
                    channel.unary_unary("/motion_retrieval.v1.EmbeddingService/EmbedMotions")(payload, timeout=30)
                except grpc.RpcError as exc:
                    codes.append(exc.code())

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        grown = rss_mib() - before
    finally:
        process.terminate()
        process.wait(30)
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 8
    assert grown < 40, f"RSS grew by {grown:.0f} MiB for 8 refused 15 MB requests"
