"""`motion-retrieval serve` as a process: starts, serves, logs JSON, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from motion_retrieval.export.triton_local import free_port
from motion_retrieval_server.client import MotionRetrievalClient


def _wait_serving(target: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"serve exited with {process.returncode}: {process.stderr.read().decode()}")
            try:
                response = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise AssertionError("serve did not report SERVING")


@pytest.mark.slow  # a fresh interpreter imports torch: 5-20 s on a shared 2-core machine
def test_serve_runs_and_stops_on_sigterm(tiny_repo, tmp_path):
    port = free_port()
    token_file = tmp_path / "token"
    token_file.write_text("tok\n")
    env = dict(os.environ, MOTION_RETRIEVAL_LOG_FORMAT="json", MOTION_RETRIEVAL_METRICS_PORT="0",
               MOTION_RETRIEVAL_PORT="1")  # the flag below must win over this
    process = subprocess.Popen(
        [sys.executable, "-m", "motion_retrieval", "serve", "--model-repository", str(tiny_repo), "--host",
         "127.0.0.1", "--port", str(port), "--auth-token-file", str(token_file), "--workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        _wait_serving(f"127.0.0.1:{port}", process)
        with MotionRetrievalClient(f"127.0.0.1:{port}", token="tok") as client:
            assert client.embed_texts(["a person walks"]).shape == (1, 256)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = [json.loads(line) for line in process.stderr.read().decode().splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("ready: serving mr-") for m in messages), messages
    assert any(m.startswith("shutting down") for m in messages), messages
    access = [line for line in lines if line.get("grpc_method", "").endswith("/EmbedTexts")]
    assert access and access[0]["grpc_code"] == "OK" and len(access[0]["request_id"]) == 32


def test_serve_without_a_model_repository_says_how_to_export(tmp_path, capsys):
    from motion_retrieval.cli import main

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:  # in process (a subprocess would spend most of its time importing torch); serve reconfigures logging
        code = main(["serve", "--model-repository", str(tmp_path / "none"), "--host", "127.0.0.1", "--port", "0",
                     "--metrics-port", "0"])
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    assert code == 1
    err = capsys.readouterr().err
    assert "motion_retrieval.json: not found" in err
    assert f"motion-retrieval export --out {tmp_path / 'none'}" in err


def test_serve_help_lists_every_flag(capsys):
    from motion_retrieval.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["serve", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--model-repository", "--backend", "--triton-url", "--milvus", "--milvus-token-file",
                 "--collection-prefix", "--host", "--port", "--metrics-port", "--metrics-host", "--auth-token-file",
                 "--tls-cert", "--tls-key", "--max-batch", "--workers", "--log-format", "--reflection",
                 "--no-reflection", "--shutdown-grace", "--encoder-slots", "--max-queue", "--max-concurrent-rpcs",
                 "--max-concurrent-streams", "--max-message-bytes"):
        assert flag in out
    assert "MOTION_RETRIEVAL_AUTH_TOKEN" in out and "MOTION_RETRIEVAL_MILVUS_TOKEN_FILE" in out
    assert "--milvus-token " not in out  # refused, so not offered


def test_serve_refuses_a_milvus_token_on_the_command_line(capsys):
    from motion_retrieval.cli import main

    code = main(["serve", "--milvus", "http://milvus:19530", "--milvus-token", "root:Milvus", "--port", "0",
                 "--metrics-port", "0"])
    assert code == 1
    err = capsys.readouterr().err
    assert "visible to every user of the machine (ps)" in err and "--milvus-token-file" in err
