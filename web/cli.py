"""``motion-retrieval web``: serve the search page and its HTTP/JSON API in front of a running gRPC service."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from motion_retrieval.errors import ConfigError

log = logging.getLogger(__name__)
TOKEN_FILE_ENV = "MOTION_RETRIEVAL_WEB_TOKEN_FILE"
SERVER_ENV = "MOTION_RETRIEVAL_WEB_SERVER"


def register(subparsers) -> None:
    from motion_retrieval_web.config import WebConfig

    parser = subparsers.add_parser(
        "web",
        help="serve the search web page and its HTTP/JSON API (talks to a running service)",
        description="Serve the search page (animated skeleton previews, captions, more like this, downloads, search "
                    "by a dropped motion file) and the JSON API under it, /api/... . It talks to the gRPC service at "
                    "--server with the token in --token-file (give it the service's search-only token).",
    )
    parser.add_argument("--server", default=os.environ.get(SERVER_ENV), metavar="HOST:PORT",
                        help=f"the gRPC service [${SERVER_ENV}]")
    parser.add_argument("--host", default=WebConfig.host, help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=WebConfig.port, help="port to listen on (default %(default)s)")
    parser.add_argument("--token-file", type=Path, default=os.environ.get(TOKEN_FILE_ENV) or None, metavar="FILE",
                        help=f"bearer token of the service, read from FILE [${TOKEN_FILE_ENV}]")
    parser.add_argument("--server-ca", type=Path, default=None, metavar="PEM",
                        help="CA certificate to trust: talk TLS to the service")
    parser.add_argument("--server-name", default=None, help="TLS name of the service when its certificate names "
                                                            "another host")
    parser.add_argument("--deadline", type=float, default=WebConfig.deadline_s, metavar="S",
                        help="deadline of each call to the service in seconds (default %(default)s)")
    parser.add_argument("--max-upload-mb", type=float, default=WebConfig.max_upload_bytes / 2**20, metavar="MB",
                        help="largest motion file accepted for search by motion (default %(default)g MiB)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(func=run_web)


def config_from_args(args: argparse.Namespace):
    from motion_retrieval_web.config import WebConfig

    if not args.server:
        raise ConfigError(f"give the service to talk to: --server HOST:PORT (or set ${SERVER_ENV})")
    return WebConfig(server=args.server, host=args.host, port=args.port, token_file=args.token_file,
                     tls_ca=args.server_ca, server_name=args.server_name, deadline_s=args.deadline,
                     max_upload_bytes=int(args.max_upload_mb * 2**20))


def run_web(args: argparse.Namespace) -> int:
    import uvicorn

    from motion_retrieval_web.app import create_app

    config = config_from_args(args)
    app = create_app(config)
    print(f"search page: http://{config.host}:{config.port}/  (service {config.server})", flush=True)
    # One process, one event loop: the gRPC calls run in its worker threads; scale out with replicas.
    # Keep-alive longer than uvicorn's default: a page fetches its previews over a few kept connections.
    uvicorn.run(app, host=config.host, port=config.port, log_level=args.log_level, access_log=False,
                server_header=False, proxy_headers=False, timeout_keep_alive=30, timeout_graceful_shutdown=5)
    return 0
