"""Bearer-token auth (health and reflection stay open) and TLS with a self-signed certificate."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.client import MotionRetrievalClient

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
