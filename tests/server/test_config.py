"""serve configuration: flags over MOTION_RETRIEVAL_* variables over defaults, and clear errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from motion_retrieval.errors import ConfigError
from server.config import DEFAULT_MODEL_REPOSITORY, add_serve_arguments, resolve_config


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults():
    config = resolve_config(parse(), environ={})
    assert config.model_repository == DEFAULT_MODEL_REPOSITORY
    assert (config.backend, config.host, config.port, config.metrics_port) == ("torchscript", "0.0.0.0", 50051, 9090)
    assert config.milvus_uri is None and not config.search_enabled
    assert config.auth_token is None and not config.tls_enabled
    assert config.log_format == "text"
    assert config.limits.max_batch_size == 64


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


def test_flags_override_environment(tmp_path):
    environ = {"MOTION_RETRIEVAL_PORT": "6000", "MOTION_RETRIEVAL_BACKEND": "triton",
               "MOTION_RETRIEVAL_AUTH_TOKEN": "from-env"}
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    config = resolve_config(parse("--port", "7000", "--backend", "torchscript", "--auth-token-file", str(token_file),
                                  "--max-batch", "16", "--workers", "3", "--milvus", "m.db"), environ=environ)
    assert (config.port, config.backend, config.auth_token) == (7000, "torchscript", "from-file")
    assert (config.limits.max_batch_size, config.workers, config.milvus_uri) == (16, 3, "m.db")


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
    ],
)
def test_bad_settings_are_config_errors(argv, environ, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(parse(*argv), environ=environ)
