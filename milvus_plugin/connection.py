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

from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from milvus_plugin.errors import MilvusUnavailableError

log = logging.getLogger(__name__)

DEFAULT_URI = "./motion_retrieval.db"
URI_ENV = "MOTION_RETRIEVAL_MILVUS_URI"
TOKEN_ENV = "MOTION_RETRIEVAL_MILVUS_TOKEN"
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
        ``$MOTION_RETRIEVAL_MILVUS_TOKEN`` (the Helm chart sets both)."""
        return cls(
            uri=uri or os.environ.get(URI_ENV) or DEFAULT_URI,
            token=overrides.pop("token", None) or os.environ.get(TOKEN_ENV, ""),
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


def is_unavailable(exc: BaseException) -> bool:
    """True when a pymilvus error means the server went away (as opposed to a bad request)."""
    text = f"{type(exc).__name__} {exc}".lower()
    markers = ("unavailable", "connect", "deadline", "failed to connect", "not ready", "socket closed", "timeout")
    return any(marker in text for marker in markers)


def _describe(exc: MilvusException) -> str:
    message = getattr(exc, "message", "") or str(exc)
    return message.strip() or f"{type(exc).__name__} (the server did not answer)"


def _hint(config: MilvusConfig) -> str:
    if config.is_lite:
        return "check that the .db path is writable and not opened by another process"
    return "check that the server is running and the address, port, TLS and credentials are right"
