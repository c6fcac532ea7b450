"""A real Milvus 2.3.5 standalone on loopback, from the ``milvus`` package (tests, benchmarks, local trials).

Recipe from ENVIRONMENT.md: a fresh base dir every time (restarting on an old one waits for stale sessions to
expire), every component's ip pinned to 127.0.0.1 (otherwise it registers on a non-loopback address), and the port
read back from ``default_server.listen_port`` (it can drift from 19530). Start-up and restart times:
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from motion_retrieval.errors import ConfigError

log = logging.getLogger(__name__)
_COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")


class LocalMilvusServer:
    """``with LocalMilvusServer() as server: MilvusConfig(server.uri)``: started on enter, stopped (and its data
    removed) on exit."""

    def __init__(self, base_dir: str | Path | None = None, keep_data: bool = False):
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="milvus-standalone-"))
        self.keep_data = keep_data
        self._server = None

    @property
    def uri(self) -> str:
        if self._server is None:
            raise ConfigError("the local Milvus server is not running")
        return f"http://127.0.0.1:{self._server.listen_port}"

    def start(self) -> LocalMilvusServer:
        try:
            from milvus import default_server
        except ImportError as exc:
            raise ConfigError("a local Milvus server needs the `milvus` package: pip install .[milvus-server]") from exc
        default_server.set_base_dir(str(self.base_dir))
        for component in _COMPONENTS:
            default_server.config.extra_configs[f"{component}.ip"] = "127.0.0.1"
        default_server.start()
        self._server = default_server
        log.info("Milvus standalone up at %s (data in %s)", self.uri, self.base_dir)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._own_dir and not self.keep_data:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> LocalMilvusServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
