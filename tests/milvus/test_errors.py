"""What a pymilvus error means, read from its code (never its message); one-line pymilvus logs; the Milvus token from
the environment or a file."""

from __future__ import annotations

import logging

import grpc
import pytest
from pymilvus.exceptions import MilvusException

from motion_retrieval_milvus.connection import (
    NOT_LOADED,
    REFUSED,
    UNAVAILABLE,
    error_kind,
    quiet_pymilvus_logs,
    token_from_env,
)
from motion_retrieval_milvus.errors import MilvusUnavailableError


class RpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode):
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        # pymilvus CONNECT_FAILED / Milvus ServiceUnavailable, whatever the message says
        (MilvusException(2, "Fail connecting to server on 127.0.0.1:19530"), UNAVAILABLE),
        (MilvusException(2, "anything at all"), UNAVAILABLE),
        (MilvusException(8, "rate limit exceeded"), UNAVAILABLE),
        (MilvusException(101, "collection not loaded[collection=449]"), NOT_LOADED),
        (MilvusException(103, "collection not fully loaded"), UNAVAILABLE),
        (MilvusException(503, "channel not available"), UNAVAILABLE),
        (MilvusException(905, "node not available"), UNAVAILABLE),
        # pymilvus's retry decorator gives up with the gRPC status as the code
        (MilvusException(grpc.StatusCode.UNAVAILABLE, "Retry timeout: 30s"), UNAVAILABLE),
        (MilvusException(grpc.StatusCode.DEADLINE_EXCEEDED, "rpc deadline"), UNAVAILABLE),
        (MilvusException(grpc.StatusCode.INVALID_ARGUMENT, "bad"), REFUSED),
        (RpcError(grpc.StatusCode.UNAVAILABLE), UNAVAILABLE),
        (RpcError(grpc.StatusCode.PERMISSION_DENIED), REFUSED),
        # the request's own fault: never retried, whatever the words in it
        (MilvusException(1100, "invalid parameter: unavailable timeout connect"), REFUSED),
        (MilvusException(1, "unexpected error: server unavailable, connect timeout"), REFUSED),
        (MilvusException(100, "collection not found"), REFUSED),
        (MilvusException(65535, "service not ready", retriable=True), UNAVAILABLE),
        (MilvusException(65535, "bad expression", retriable=True, is_input_error=True), REFUSED),
        (ValueError("connection refused"), REFUSED),
    ],
)
def test_error_kind_reads_codes_not_messages(error, kind):
    assert error_kind(error) == kind


def test_pymilvus_records_are_one_line_without_traceback():
    quiet_pymilvus_logs()
    quiet_pymilvus_logs()  # idempotent
    seen = []

    class Capture(logging.Handler):
        def emit(self, record):
            seen.append((self.format(record), record.exc_info))

    logger = logging.getLogger("pymilvus.decorators")
    handler = Capture()
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.error("RPC error: [search], <MilvusException: (code=2)>\nTraceback:\n  File x", exc_info=True)
    finally:
        logger.removeHandler(handler)
    assert seen == [("RPC error: [search], <MilvusException: (code=2)>", None)]
    assert sum(isinstance(f, logging.Filter) for f in logger.filters) == 1


def test_milvus_token_from_environment_or_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("user:secret\n")
    assert token_from_env({}) == ""
    assert token_from_env({"MOTION_RETRIEVAL_MILVUS_TOKEN_FILE": str(token_file)}) == "user:secret"
    assert token_from_env({"MOTION_RETRIEVAL_MILVUS_TOKEN": "direct",
                           "MOTION_RETRIEVAL_MILVUS_TOKEN_FILE": str(token_file)}) == "direct"
    with pytest.raises(MilvusUnavailableError, match=r"cannot read the token file .*/none"):
        token_from_env({"MOTION_RETRIEVAL_MILVUS_TOKEN_FILE": str(tmp_path / "none")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(MilvusUnavailableError, match="is empty"):
        token_from_env({"MOTION_RETRIEVAL_MILVUS_TOKEN_FILE": str(tmp_path / "empty")})
