"""``motion-retrieval serve``: run the gRPC service. Also joins helper commands of collection_commands
(``ingest``, ``search``) to the CLI when that module is present."""

from __future__ import annotations

import argparse
import asyncio
import logging

from motion_retrieval_server.config import add_serve_arguments, resolve_config

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the gRPC embedding + search service",
        description="Serve EmbeddingService (and SearchService with --milvus) over gRPC, with grpc.health.v1, "
                    "reflection and Prometheus metrics. Flags override the MOTION_RETRIEVAL_* environment variables.",
    )
    add_serve_arguments(parser)
    parser.set_defaults(func=run_serve)
    try:
        from motion_retrieval_server import collection_commands
    except ImportError as exc:
        if exc.name != "motion_retrieval_server.collection_commands":
            raise
        return
    collection_commands.register(subparsers)


def run_serve(args: argparse.Namespace) -> int:
    from motion_retrieval_server.app import serve
    from motion_retrieval_server.logs import configure_logging

    config = resolve_config(args)
    verbose = getattr(args, "verbose", 0)
    configure_logging(config.log_format, logging.DEBUG if verbose >= 2 else logging.INFO)
    asyncio.run(serve(config, exit_deadline=True))  # on SIGTERM: out within the grace period + 1 s
    return 0
