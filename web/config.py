"""Settings of the web app: one typed dataclass, filled from the command line (cli.py) or by tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from motion_retrieval.errors import ConfigError


@dataclass(frozen=True)
class WebConfig:
    server: str  # "host:port" of the gRPC service
    host: str = "127.0.0.1"  # where the page listens; 0.0.0.0 in a container
    port: int = 8080
    token_file: Path | None = None  # the service's bearer token (the search-only one), read from a file
    tls_ca: Path | None = None  # a PEM file to trust: turns TLS on towards the service
    server_name: str | None = None  # TLS name override when the certificate names another host
    deadline_s: float = 10.0  # deadline of every gRPC call made for a request
    max_upload_bytes: int = 32 * 1024 * 1024  # a motion file sent to search by motion
    default_top_k: int = 12  # hits per page when a request does not say
    max_top_k: int = 50  # hits one request may ask for
    max_results: int = 200  # offset + top_k: how deep paging goes (the service has its own bound, Limits.max_top_k)

    def __post_init__(self) -> None:
        if not self.server or ":" not in self.server:
            raise ConfigError(f"--server {self.server!r}: give the service as HOST:PORT")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port {self.port}: not a TCP port")
        if not self.deadline_s > 0:
            raise ConfigError(f"deadline {self.deadline_s}: must be a positive number of seconds")
        if self.max_upload_bytes < 1024:
            raise ConfigError(f"max upload {self.max_upload_bytes} bytes: must be at least 1024")
        if not 1 <= self.default_top_k <= self.max_top_k:
            raise ConfigError(f"default top_k {self.default_top_k} must lie in 1..{self.max_top_k}")
        if self.max_results < self.max_top_k:
            raise ConfigError(f"max_results {self.max_results} is below max_top_k {self.max_top_k}")
