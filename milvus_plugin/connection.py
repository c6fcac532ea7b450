"""Where the vectors live: a Milvus Lite file (the default, no server) or a Milvus server URI.

``connect`` turns every way a connection can fail into one ``MilvusUnavailableError`` that names the URI and what
to check, so the CLI and the gRPC service can report it as it is instead of a bare pymilvus traceback.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import grpc
from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from motion_retrieval_milvus.errors import MilvusUnavailableError

log = logging.getLogger(__name__)

DEFAULT_URI = "./motion_retrieval.db"
URI_ENV = "MOTION_RETRIEVAL_MILVUS_URI"
TOKEN_ENV = "MOTION_RETRIEVAL_MILVUS_TOKEN"
TOKEN_FILE_ENV = "MOTION_RETRIEVAL_MILVUS_TOKEN_FILE"
_REMOTE_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "unix:")


@dataclass(frozen=True)
class MilvusConfig:
    """How to reach Milvus. ``uri`` is a Lite file path ending in ``.db`` or a server URL (``http://host:19530``)."""

    uri: str = DEFAULT_URI
    token: str = ""
    user: str = ""
    password: str = ""
    db_name: str = ""
    timeout: float | None = 30.0  # seconds per call; None waits forever

    @property
    def is_lite(self) -> bool:
        return not self.uri.startswith(_REMOTE_SCHEMES)

    @classmethod
    def from_env(cls, uri: str | None = None, **overrides) -> MilvusConfig:
        """``uri``, else ``$MOTION_RETRIEVAL_MILVUS_URI``, else the Lite default; the token from
        ``$MOTION_RETRIEVAL_MILVUS_TOKEN``, else from the file named by ``$MOTION_RETRIEVAL_MILVUS_TOKEN_FILE`` (the
        Helm chart mounts its Secret as a file). Tokens are never taken from the command line (visible in ``ps``)."""
        return cls(
            uri=uri or os.environ.get(URI_ENV) or DEFAULT_URI,
            token=overrides.pop("token", None) or token_from_env(),
            **overrides,
        )

    def describe(self) -> str:
        """The URI without credentials, for messages and logs."""
        return re.sub(r"//[^/@]*@", "//***@", self.uri)


def connect(config: MilvusConfig) -> MilvusClient:
    """Open a client; ``MilvusUnavailableError`` (naming the URI and what to check) when Milvus is unreachable."""
    uri = config.uri
    if config.is_lite:
        if not uri.endswith(".db"):
            raise MilvusUnavailableError(
                uri, "a local Milvus Lite path must end in '.db'", "or pass a server URL such as http://host:19530"
            )
        parent = Path(uri).expanduser().resolve().parent
        if not parent.is_dir():
            raise MilvusUnavailableError(uri, f"the folder {parent} does not exist", "create it first")
        uri = os.fspath(Path(uri).expanduser().resolve())
    quiet_pymilvus_logs()
    try:
        client = MilvusClient(
            uri=uri,
            token=config.token,
            user=config.user,
            password=config.password,
            db_name=config.db_name,
            timeout=config.timeout,
        )
    except MilvusException as exc:
        raise MilvusUnavailableError(config.describe(), _describe(exc), _hint(config)) from exc
    except Exception as exc:  # grpc and lite raise their own types (lock held by another process, bad address...)
        raise MilvusUnavailableError(config.describe(), f"{type(exc).__name__}: {exc}", _hint(config)) from exc
    log.info("connected to Milvus %s (%s)", config.describe(), server_version(client))
    return client


def server_version(client: MilvusClient) -> str:
    try:
        return str(client.get_server_version())
    except MilvusException:
        return "unknown"


def supports_filter_templates(version: str) -> bool:
    """Filter templating (``filter_params``) arrived in Milvus 2.5; Milvus Lite 3.2.2 and Milvus 2.3.5 lack it.

    ``version`` is what ``get_server_version`` answers: ``"v2.5.4"``, ``"v2.3.5-lite"``, ``"milvus_lite-3.2.2"``.
    """
    if version.startswith("milvus_lite"):
        return False  # the pure-Python Lite tokenizer rejects '{' (checked on 3.2.2)
    match = re.match(r"v?(\d+)\.(\d+)", version)
    if not match:
        return False
    return (int(match.group(1)), int(match.group(2))) >= (2, 5)


def supports_grouping_search(version: str) -> bool:
    """Grouping search (``group_by_field``: the best row per value of a scalar column) arrived in Milvus 2.4;
    Milvus Lite 3.2.2 has it (checked, with offset and filters); the 2.3.5 standalone of the ``milvus`` package has
    not. ``version`` as :func:`supports_filter_templates` takes it."""
    if version.startswith("milvus_lite"):
        return True
    match = re.match(r"v?(\d+)\.(\d+)", version)
    if not match:
        return False
    return (int(match.group(1)), int(match.group(2))) >= (2, 4)


def token_from_env(environ=None) -> str:
    """``$MOTION_RETRIEVAL_MILVUS_TOKEN``, else the contents of ``$MOTION_RETRIEVAL_MILVUS_TOKEN_FILE``, else ""."""
    environ = os.environ if environ is None else environ
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV]
    path = environ.get(TOKEN_FILE_ENV)
    if not path:
        return ""
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise MilvusUnavailableError("-", f"cannot read the token file {path} ({exc.strerror})",
                                     f"fix {TOKEN_FILE_ENV}") from None
    if not token:
        raise MilvusUnavailableError("-", f"the token file {path} is empty", f"fix {TOKEN_FILE_ENV}")
    return token


# -- what a pymilvus error means, by its code (never by its message) -------------------------------------------------
# Milvus server error codes (merr, Milvus >= 2.3): the service is starting, gone or throttling. pymilvus's own
# CONNECT_FAILED is 2 too. Code 1 is left out: it is also pymilvus's catch-all UNEXPECTED_ERROR.
_UNAVAILABLE_CODES = frozenset({
    2,  # ServiceUnavailable / pymilvus CONNECT_FAILED
    4,  # ServiceRequestLimitExceeded (too many concurrent requests)
    8,  # ServiceRateLimit
    12,  # ServiceResourceInsufficient
})
COLLECTION_NOT_LOADED = 101  # after a restart, until the query coordinator has loaded it again
# A collection on its way back after a restart: parts of it not served yet.
_RECOVERING_CODES = frozenset({
    103, 106,  # CollectionNotFullyLoaded, CollectionOnRecovering
    201, 202,  # PartitionNotLoaded, PartitionNotFullyLoaded
    400, 401,  # ReplicaNotFound, ReplicaNotAvailable
    500, 501, 503,  # ChannelNotFound, ChannelLack, ChannelNotAvailable
    600, 601, 602,  # SegmentNotFound, SegmentNotLoaded, SegmentLack
    901, 902, 903, 905,  # NodeNotFound, NodeOffline, NodeLack, NodeNotAvailable
})
# gRPC statuses of the connection to Milvus (raised by grpc, or carried in MilvusException.code by pymilvus's retry
# decorator when it gives up) that mean "not reachable now".
_UNAVAILABLE_GRPC = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                               grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED})

UNAVAILABLE, NOT_LOADED, REFUSED = "unavailable", "not_loaded", "refused"


def error_kind(exc: BaseException) -> str:
    """``UNAVAILABLE`` (server gone, starting, throttling or recovering: retry later), ``NOT_LOADED`` (the
    collection must be loaded again, typically after a restart) or ``REFUSED`` (the request itself was refused)."""
    if isinstance(exc, grpc.RpcError):
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        return UNAVAILABLE if code in _UNAVAILABLE_GRPC else REFUSED
    if not isinstance(exc, MilvusException):
        return REFUSED
    code = exc.code
    if isinstance(code, grpc.StatusCode):
        return UNAVAILABLE if code in _UNAVAILABLE_GRPC else REFUSED
    if code == COLLECTION_NOT_LOADED:
        return NOT_LOADED
    if code in _UNAVAILABLE_CODES or code in _RECOVERING_CODES:
        return UNAVAILABLE
    if exc.retriable and not exc.is_input_error:  # newer servers classify their errors themselves
        return UNAVAILABLE
    return REFUSED


class _OneLine(logging.Filter):
    """pymilvus logs full tracebacks for every failed call and reconnection attempt (~150 lines per call while a
    server restarts); the store reports each failure itself, so keep only the first line of pymilvus's records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        message = record.getMessage()
        if "\n" in message:
            record.msg, record.args = message.split("\n", 1)[0], None
        return True


def quiet_pymilvus_logs() -> None:
    """One line per pymilvus log record, without tracebacks (idempotent). Filters sit on the loggers that create
    the records: a filter on a parent logger does not see its children's records."""
    for name in ("pymilvus.client.connection_manager", "pymilvus.decorators", "pymilvus.client.grpc_handler"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _OneLine) for f in logger.filters):
            logger.addFilter(_OneLine())


def _describe(exc: MilvusException) -> str:
    message = getattr(exc, "message", "") or str(exc)
    return message.strip() or f"{type(exc).__name__} (the server did not answer)"


def _hint(config: MilvusConfig) -> str:
    if config.is_lite:
        return "check that the .db path is writable and not opened by another process"
    return "check that the server is running and the address, port, TLS and credentials are right"
