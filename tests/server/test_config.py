"""serve configuration: flags over MOTION_RETRIEVAL_* variables over defaults, and clear errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from motion_retrieval.errors import ConfigError
from motion_retrieval.serving.repository import default_model_repository
from motion_retrieval_server.config import add_serve_arguments, resolve_config


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults():
    config = resolve_config(parse(), environ={})
    assert config.model_repository == default_model_repository({})
    assert (config.backend, config.host, config.port, config.metrics_port) == ("torchscript", "0.0.0.0", 50051, 9090)
    assert config.milvus_uri is None and not config.search_enabled
    assert config.auth_token is None and not config.tls_enabled
    assert config.log_format == "text"
    assert config.limits.max_batch_size == 64
    assert config.metrics_host == "127.0.0.1"  # metrics stay on loopback unless widened (the chart sets 0.0.0.0)
    assert config.reflection is True
    # A full batch of encoder-length motions (64 x 200 x 263 float32 = 13.47 MB) fits with headroom, not 4x more.
    assert 64 * 200 * 263 * 4 < config.limits.max_message_bytes == 16 * 1024 * 1024
    assert (config.max_concurrent_rpcs, config.max_concurrent_streams, config.max_queue) == (512, 128, 32)
    assert config.admission_slots == config.workers == 2
    assert config.shutdown_grace_s == 10.0


def test_environment_names_are_the_chart_contract(tmp_path):
    environ = {
        "MOTION_RETRIEVAL_MODEL_REPOSITORY": str(tmp_path),
        "MOTION_RETRIEVAL_BACKEND": "triton",
        "MOTION_RETRIEVAL_TRITON_URL": "triton:8001",
        "MOTION_RETRIEVAL_MILVUS_URI": "http://milvus:19530",
        "MOTION_RETRIEVAL_MILVUS_TOKEN": "root:Milvus",
        "MOTION_RETRIEVAL_COLLECTION_PREFIX": "prod",
        "MOTION_RETRIEVAL_HOST": "127.0.0.1",
        "MOTION_RETRIEVAL_PORT": "6000",
        "MOTION_RETRIEVAL_METRICS_PORT": "0",
        "MOTION_RETRIEVAL_AUTH_TOKEN": "tok",
        "MOTION_RETRIEVAL_TLS_CERT": "/tls/tls.crt",
        "MOTION_RETRIEVAL_TLS_KEY": "/tls/tls.key",
        "MOTION_RETRIEVAL_LOG_FORMAT": "json",
        "MOTION_RETRIEVAL_METRICS_HOST": "0.0.0.0",
        "MOTION_RETRIEVAL_REFLECTION": "false",
        "MOTION_RETRIEVAL_SHUTDOWN_GRACE": "25",
        "MOTION_RETRIEVAL_ENCODER_SLOTS": "6",
        "MOTION_RETRIEVAL_MAX_QUEUE": "12",
        "MOTION_RETRIEVAL_MAX_CONCURRENT_RPCS": "300",
        "MOTION_RETRIEVAL_MAX_CONCURRENT_STREAMS": "50",
        "MOTION_RETRIEVAL_MAX_MESSAGE_BYTES": "8388608",
    }
    config = resolve_config(parse(), environ=environ)
    assert config.model_repository == tmp_path
    assert (config.backend, config.triton_url) == ("triton", "triton:8001")
    assert (config.milvus_uri, config.milvus_token, config.collection_prefix) == ("http://milvus:19530",
                                                                                 "root:Milvus", "prod")
    assert (config.host, config.port, config.metrics_port) == ("127.0.0.1", 6000, 0)
    assert config.auth_token == "tok"
    assert (config.tls_cert, config.tls_key) == (Path("/tls/tls.crt"), Path("/tls/tls.key"))
    assert config.log_format == "json"
    assert (config.metrics_host, config.reflection, config.shutdown_grace_s) == ("0.0.0.0", False, 25.0)
    assert (config.admission_slots, config.max_queue) == (6, 12)
    assert (config.max_concurrent_rpcs, config.max_concurrent_streams) == (300, 50)
    assert config.limits.max_message_bytes == 8 * 1024 * 1024


def test_triton_backend_gets_more_encoder_slots():
    assert resolve_config(parse("--backend", "triton"), environ={}).admission_slots == 8


def test_milvus_token_comes_from_a_file_or_the_environment(tmp_path):
    token_file = tmp_path / "milvus-token"
    token_file.write_text("root:Milvus\n")
    assert resolve_config(parse("--milvus-token-file", str(token_file)), environ={}).milvus_token == "root:Milvus"
    from_env_file = resolve_config(parse(), environ={"MOTION_RETRIEVAL_MILVUS_TOKEN_FILE": str(token_file)})
    assert from_env_file.milvus_token == "root:Milvus"
    both = {"MOTION_RETRIEVAL_MILVUS_TOKEN": "from-env", "MOTION_RETRIEVAL_MILVUS_TOKEN_FILE": str(token_file)}
    assert resolve_config(parse(), environ=both).milvus_token == "from-env"
    assert resolve_config(parse("--milvus-token-file", str(token_file)), environ=both).milvus_token == "root:Milvus"


def test_milvus_token_on_the_command_line_is_refused():
    """It would be readable by every user of the machine in `ps`; the message says where to put it instead."""
    with pytest.raises(ConfigError, match=r"--milvus-token on the command line is visible .*\(ps\).*"
                                          r"--milvus-token-file FILE.*MOTION_RETRIEVAL_MILVUS_TOKEN"):
        resolve_config(parse("--milvus-token", "root:Milvus"), environ={})


def test_reflection_and_metrics_host_flags():
    config = resolve_config(parse("--no-reflection", "--metrics-host", "0.0.0.0"),
                            environ={"MOTION_RETRIEVAL_REFLECTION": "true"})
    assert (config.reflection, config.metrics_host) == (False, "0.0.0.0")
    assert resolve_config(parse("--reflection"), environ={"MOTION_RETRIEVAL_REFLECTION": "0"}).reflection is True


def test_flags_override_environment(tmp_path):
    environ = {"MOTION_RETRIEVAL_PORT": "6000", "MOTION_RETRIEVAL_BACKEND": "triton",
               "MOTION_RETRIEVAL_AUTH_TOKEN": "from-env"}
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    config = resolve_config(parse("--port", "7000", "--backend", "torchscript", "--auth-token-file", str(token_file),
                                  "--max-batch", "16", "--workers", "3", "--milvus", "m.db"), environ=environ)
    assert (config.port, config.backend, config.auth_token) == (7000, "torchscript", "from-file")
    assert (config.limits.max_batch_size, config.workers, config.milvus_uri) == (16, 3, "m.db")


def test_torch_threads_from_flag_or_environment():
    assert resolve_config(parse(), environ={}).torch_threads is None  # torch's own default
    assert resolve_config(parse(), environ={"MOTION_RETRIEVAL_TORCH_THREADS": "1"}).torch_threads == 1
    assert resolve_config(parse("--torch-threads", "3"),
                          environ={"MOTION_RETRIEVAL_TORCH_THREADS": "1"}).torch_threads == 3


def test_token_file_from_environment(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("secret\n")
    config = resolve_config(parse(), environ={"MOTION_RETRIEVAL_AUTH_TOKEN_FILE": str(token_file)})
    assert config.auth_token == "secret"


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ((), {"MOTION_RETRIEVAL_PORT": "fifty"}, r"MOTION_RETRIEVAL_PORT='fifty' is not a valid int"),
        ((), {"MOTION_RETRIEVAL_BACKEND": "onnx"}, r"backend must be one of torchscript, triton, got 'onnx'"),
        (("--port", "70000"), {}, r"port must be a port number in 0\.\.65535, got 70000"),
        (("--tls-cert", "c.pem"), {}, r"TLS needs both --tls-cert and --tls-key"),
        (("--auth-token-file", "/nonexistent/token"), {}, r"/nonexistent/token: cannot read the auth token file"),
        (("--max-batch", "0"), {}, r"max batch must be at least 1, got 0"),
        ((), {"MOTION_RETRIEVAL_REFLECTION": "maybe"}, r"MOTION_RETRIEVAL_REFLECTION='maybe' is not a valid boolean"),
        (("--max-queue", "-1"), {}, r"max queue must be 0 or more, got -1"),
        (("--encoder-slots", "0"), {}, r"encoder slots must be at least 1, got 0"),
        (("--torch-threads", "0"), {}, r"torch threads must be at least 1, got 0"),
        ((), {"MOTION_RETRIEVAL_TORCH_THREADS": "two"}, r"MOTION_RETRIEVAL_TORCH_THREADS='two' is not a valid int"),
        (("--max-concurrent-rpcs", "0"), {}, r"max-concurrent-rpcs must be at least 1, got 0"),
        (("--max-message-bytes", "100"), {}, r"max message bytes must be at least 65536, got 100"),
        (("--shutdown-grace", "-1"), {}, r"shutdown grace must be 0 or more seconds, got -1"),
        (("--milvus-token-file", "/nonexistent/t"), {}, r"/nonexistent/t: cannot read the Milvus token file"),
    ],
)
def test_bad_settings_are_config_errors(argv, environ, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(parse(*argv), environ=environ)
