"""``motion-retrieval ingest`` and ``motion-retrieval search``: motion collections in Milvus, from the command line.

Local mode (default) embeds in this process with the TorchScript towers of a model repository
(``--model-repository``; default: ``serving.repository.default_model_repository``) and talks to Milvus directly
(``--milvus``: a Lite ``.db`` file or a server URL; default ``$MOTION_RETRIEVAL_MILVUS_URI`` or
``./motion_retrieval.db``). Remote mode (``--server HOST:PORT``) embeds through the gRPC service; ``search
--server`` also searches there (the service owns its Milvus), and ``ingest --server`` streams the files into the
service's own collections (ingest_command).
A secured service takes ``--server-token-file`` (or ``$MOTION_RETRIEVAL_SERVER_TOKEN``; never a token on the command
line, where ``ps`` shows it) and ``--server-ca`` (TLS, with ``--server-name`` when the certificate names another
host); its refusals are reported as one line naming the status and what to pass.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from motion_retrieval.cli import print_json
from motion_retrieval.cli.data_commands import add_reader_arguments
from motion_retrieval.errors import ConfigError, MotionDataError
from motion_retrieval.serving.repository import default_model_repository
from motion_retrieval_server import ingest_command
from motion_retrieval_server.ingest_command import add_ingest_arguments, ingest_path

log = logging.getLogger(__name__)
SERVER_TOKEN_ENV = "MOTION_RETRIEVAL_SERVER_TOKEN"


def register(subparsers) -> None:
    ingest = subparsers.add_parser(
        "ingest",
        help="ingest motion files or dataset folders into Milvus (idempotent, resumable)",
        description="Read HumanML3D / KIT-ML folders, TMR annotations, BVH takes and npy/npz joint arrays; cut long "
                    "takes into windows; embed them and their captions; upsert into the collections of the model. "
                    "Re-running changes nothing for unchanged files and resumes an interrupted ingest.",
    )
    ingest.add_argument("paths", nargs="+", type=ingest_path, metavar="PATH",
                        help="files or folders to ingest, or s3://bucket/prefix (an S3-compatible object store)")
    _connection_arguments(ingest)
    ingest.add_argument("--batch-size", type=int, default=64, help="motions embedded and written per batch")
    ingest.add_argument("--window-seconds", type=float, default=10.0, help="longer takes are cut into windows")
    ingest.add_argument("--stride-seconds", type=float, default=5.0, help="start-to-start distance of windows")
    ingest.add_argument("--index", choices=["auto", "FLAT", "HNSW"], default="auto",
                        help="vector index of new collections: auto = FLAT on Milvus Lite, HNSW on a server")
    ingest.add_argument("--hnsw-m", type=int, default=16, help="HNSW M of new collections")
    ingest.add_argument("--hnsw-ef-construction", type=int, default=200, help="HNSW efConstruction")
    ingest.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    add_reader_arguments(ingest)  # --rig-map, --up, --units, --skeleton, --fps for .bvh/.npy/.npz files
    add_ingest_arguments(ingest)  # --shard, --metrics-port, --progress-interval, --wire, --stream-windows
    ingest.set_defaults(func=run_ingest)

    search = subparsers.add_parser(
        "search",
        help="search motions by text, captions by motion, or similar motions",
        description="--text searches motions (or captions with --target captions); --motion FILE searches captions "
                    "(or motions with --target motions); --motion-id ID finds motions like a stored one.",
    )
    query = search.add_mutually_exclusive_group(required=True)
    query.add_argument("--text", help="a natural-language description")
    query.add_argument("--motion", type=Path, metavar="FILE", help="a motion file (.npy features/joints, .bvh, ...)")
    query.add_argument("--motion-id", help="the id of a stored motion")
    search.add_argument("--target", choices=["motions", "captions"], default=None,
                        help="what to return (default: motions for --text/--motion-id, captions for --motion)")
    search.add_argument("--top-k", type=int, default=10, help="number of hits")
    _connection_arguments(search)
    search.add_argument("--dataset", action="append", default=None, help="only these datasets (repeatable)")
    search.add_argument("--min-duration", type=float, default=None, help="seconds")
    search.add_argument("--max-duration", type=float, default=None, help="seconds")
    search.add_argument("--fps", type=float, default=None, help="frame rate of the stored motion")
    search.add_argument("--tag", action="append", default=None, help="the motion has every one of these tags")
    search.add_argument("--any-tag", action="append", default=None, help="the motion has one of these tags")
    search.add_argument("--source-prefix", default=None, help="the source path starts with this")
    search.add_argument("--keep-duplicates", action="store_true",
                        help="caption searches: every row, the same sentence once per motion that has it "
                             "(default: each distinct text once, at its best score)")
    search.add_argument("--ef", type=int, default=64, help="HNSW ef at search time (raised to --top-k)")
    search.add_argument("--preview", type=Path, metavar="OUT.png", help="render the motion hits into one PNG")
    search.add_argument("--offset", type=int, default=0, metavar="K", help="skip the first K hits (paging)")
    search.add_argument("--every-window", action="store_true",
                        help="every window of a long take is a hit (default: one hit per take, its best window)")
    search.add_argument("--save-clips", type=Path, default=None, metavar="DIR",
                        help="write each motion hit as an SMPL-22 BVH and joints .npy (20 fps), and as the source "
                             "take's own window when it is a readable BVH")
    search.add_argument("--json", action="store_true", help="print one JSON object")
    search.set_defaults(func=run_search)


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--milvus", default=None, metavar="URI",
                        help="Milvus Lite file (.db) or server URL (default: $MOTION_RETRIEVAL_MILVUS_URI or "
                             "./motion_retrieval.db)")
    parser.add_argument("--collection", default="", metavar="NAME",
                        help="collection prefix: collections are NAME_motions_<model id> and NAME_captions_<model id>")
    parser.add_argument("--server", default=None, metavar="HOST:PORT", help="embed (and search) through the service")
    parser.add_argument("--server-token-file", type=Path, default=None, metavar="FILE",
                        help=f"bearer token of a secured service, read from FILE (default: ${SERVER_TOKEN_ENV})")
    parser.add_argument("--server-ca", type=Path, default=None, metavar="PEM",
                        help="CA certificate(s) to trust: talk TLS to the service")
    parser.add_argument("--server-name", default=None, metavar="NAME",
                        help="host name the service's certificate names, when it differs from HOST")
    parser.add_argument("--model-repository", type=Path, default=None, metavar="DIR",
                        help="exported model repository for local embedding (default: $MOTION_RETRIEVAL_MODEL_"
                             "REPOSITORY, else ./model_repository, else the source checkout's)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per Milvus call")
    parser.add_argument("--preview-store", default=None, metavar="DIR|s3://BUCKET/PREFIX",
                        help="where previews are kept per row (local mode) [$MOTION_RETRIEVAL_PREVIEW_STORE; default: "
                             "<file>.previews beside a Milvus Lite file]")


# ---------------------------------------------------------------------------------------------------- ingest
def run_ingest(args: argparse.Namespace) -> int:
    """Local ingest, or through the service with --server (ingest_command)."""
    return ingest_command.run_ingest(args, embedder_factory=_embedder, milvus_config=_milvus_config,
                                     client_factory=_client, service_errors=_service_errors)


# ---------------------------------------------------------------------------------------------------- search
def run_search(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {args.top_k}")
    if args.offset < 0:
        raise ConfigError(f"--offset must be >= 0, got {args.offset}")
    target = args.target or ("captions" if args.motion is not None else "motions")
    with _service_errors(args):
        if args.server and not args.milvus:
            results = _remote_search(args, target)
        else:
            results = _local_search(args, target)
    if args.json:
        print_json(results)
    else:
        _print_table(results)
    return 0


def _filter_values(args: argparse.Namespace) -> dict[str, Any]:
    """The filter flags that were given, keyed as ``SearchFilter`` (plugin) fields. They are checked where they are
    used: by ``SearchFilter`` in local mode, by the service (INVALID_ARGUMENT, one line) with ``--server``, so
    that the client side needs neither the plugin nor pymilvus."""
    values = {"dataset": args.dataset, "min_duration": args.min_duration, "max_duration": args.max_duration,
              "fps": args.fps, "tags_any": args.any_tag, "tags_all": args.tag, "source_prefix": args.source_prefix}
    return {k: v for k, v in values.items() if v is not None and v != []}


def _local_search(args: argparse.Namespace, target: str) -> dict[str, Any]:
    from motion_retrieval_milvus import IndexConfig, MotionSearch, MotionStore, SearchFilter
    from motion_retrieval_server.save_clips import local_fetch, save_clips

    embedder = _embedder(args)
    filters = SearchFilter.from_dict(_filter_values(args))
    config = _milvus_config(args)
    paging = {"offset": args.offset, "every_window": args.every_window}
    with MotionStore.open(config, embedder.model_id, embedder.dim, prefix=args.collection,
                          index=IndexConfig(search_ef=args.ef), create=False,
                          previews=_preview_store(args, config.uri)) as store:
        search = MotionSearch(store, embedder)
        if args.text is not None:
            hits = (search.text_to_motions(args.text, args.top_k, filters, **paging) if target == "motions"
                    else search.text_to_captions(args.text, args.top_k, not args.keep_duplicates))
        elif args.motion is not None:
            features = _read_motion(args.motion)
            hits = (search.motion_to_motions(features, args.top_k, filters, **paging) if target == "motions"
                    else search.motion_to_captions(features, args.top_k, not args.keep_duplicates))
        else:
            if target != "motions":
                raise ConfigError("--motion-id finds motions; --target captions needs --text or --motion")
            hits = search.motion_to_motions(args.motion_id, args.top_k, filters, **paging)
        preview = None
        if args.preview and target == "motions" and hits:
            preview = str(search.render_previews(hits, args.preview))
        clips = None
        if args.save_clips is not None and target == "motions":
            clips = save_clips([h.id for h in hits], local_fetch(store), args.save_clips).to_json()
        collection = store.names.motions if target == "motions" else store.names.captions
    return {"query": _query(args, target, filters.to_dict()), "model_id": embedder.model_id,
            "collection": collection, "hits": [h.to_json() for h in hits], "preview": preview, "clips": clips}


def _remote_search(args: argparse.Namespace, target: str) -> dict[str, Any]:
    filters = _filter_values(args)
    if len(filters.get("dataset", ())) > 1:
        raise ConfigError("the service filters on one --dataset; give one with --server")
    remote = {k: v for k, v in filters.items() if k != "tags_all"}
    if "dataset" in remote:
        remote["dataset"] = remote["dataset"][0]
    if "tags_all" in filters:
        remote["tags"] = filters["tags_all"]
    from motion_retrieval_server.save_clips import remote_fetch, save_clips

    paging = {"offset": args.offset, "every_window": args.every_window}
    with _client(args) as client:
        if args.text is not None:
            if target != "motions":
                raise ConfigError("the service searches captions by motion; --target captions needs --motion there")
            hits = client.search_motions(args.text, args.top_k, remote, **paging)
        elif args.motion is not None:
            features = _read_motion(args.motion)
            hits = (client.similar_motions(features, top_k=args.top_k, filters=remote, **paging)
                    if target == "motions" else client.search_captions(features, args.top_k, args.keep_duplicates))
        else:
            hits = client.similar_motions(motion_id=args.motion_id, top_k=args.top_k, filters=remote, **paging)
        clips = None
        if args.save_clips is not None and target == "motions":
            clips = save_clips([h["id"] for h in hits], remote_fetch(client), args.save_clips).to_json()
        model_id = client.model_id
    if args.preview:
        log.warning("--preview renders local source files; it is not available with --server")
    return {"query": _query(args, target, filters), "model_id": model_id, "collection": f"service {args.server}",
            "hits": hits, "preview": None, "clips": clips}


def _query(args: argparse.Namespace, target: str, filters: dict) -> dict[str, Any]:
    query = {"target": target, "top_k": args.top_k, "filters": filters}
    if target == "motions":
        query.update(offset=args.offset, every_window=args.every_window)
    if target == "captions":
        query["keep_duplicates"] = args.keep_duplicates
    if args.text is not None:
        query["text"] = args.text
    elif args.motion is not None:
        query["motion"] = os.fspath(args.motion)
    else:
        query["motion_id"] = args.motion_id
    return query


def _print_table(results: dict[str, Any]) -> None:
    print(f"{results['collection']} (model {results['model_id']}): {results['query']}")
    hits = results["hits"]
    if not hits:
        print("no hits")
    for rank, hit in enumerate(hits, start=1):
        if "text" in hit:
            print(f"{rank:>3}  {hit['score']:.4f}  {hit['text']}  [motion {hit['motion_id']}]")
        else:
            caption = hit["captions"][0] if hit["captions"] else ""
            name = hit["name"] or hit["id"]
            window = f"{hit['start_s']:.1f}-{hit['end_s']:.1f} s"
            print(f"{rank:>3}  {hit['score']:.4f}  {name}  {hit['dataset']}  {window}  {hit['source']}  {caption}")
    if results.get("preview"):
        print(f"preview: {results['preview']}")
    clips = results.get("clips")
    if clips is not None:
        folders = sorted({os.path.dirname(c["path"]) for c in clips["saved"]})
        print(f"clips: {len(clips['saved'])} files in {', '.join(folders) or '-'}")
        for refused in clips["skipped"]:
            if refused["format"] != "source_bvh":  # source clips exist only for readable BVH takes
                print(f"  no {refused['format']} for {refused['id']}: {refused['reason']}")


# ---------------------------------------------------------------------------------------------------- helpers
def _milvus_config(args: argparse.Namespace):
    from motion_retrieval_milvus import MilvusConfig

    return MilvusConfig.from_env(args.milvus, timeout=args.timeout)


def _preview_store(args: argparse.Namespace, milvus_uri: str):
    """--preview-store, else $MOTION_RETRIEVAL_PREVIEW_STORE, else beside a Milvus Lite file (none for a server)."""
    from motion_retrieval_milvus.preview_store import resolve_preview_store

    return resolve_preview_store(getattr(args, "preview_store", None), milvus_uri)


def _client(args: argparse.Namespace):
    """The gRPC client for ``--server`` with the token (file or env) and TLS options."""
    from motion_retrieval_server.client import MotionRetrievalClient

    token = None
    if args.server_token_file is not None:
        try:
            token = args.server_token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{args.server_token_file}: cannot read the token file ({exc.strerror})") from None
        if not token:
            raise ConfigError(f"{args.server_token_file}: the token file is empty")
    elif os.environ.get(SERVER_TOKEN_ENV, "").strip():
        token = os.environ[SERVER_TOKEN_ENV].strip()
    if args.server_ca is not None and not args.server_ca.is_file():
        raise ConfigError(f"{args.server_ca}: no such CA certificate file (--server-ca)")
    return MotionRetrievalClient(args.server, token=token, tls_ca=args.server_ca, server_name=args.server_name)


@contextlib.contextmanager
def _service_errors(args: argparse.Namespace):
    """A refusal of the service as one actionable line (ConfigError), not a gRPC traceback."""
    import grpc

    try:
        yield
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        hints = {
            grpc.StatusCode.UNAUTHENTICATED: f"pass --server-token-file FILE (or set ${SERVER_TOKEN_ENV})",
            grpc.StatusCode.PERMISSION_DENIED: "the token is not allowed to call this service",
            grpc.StatusCode.UNAVAILABLE: "is the service running there, and does it speak TLS (--server-ca)?",
        }
        hint = hints.get(code, "")
        name = code.name if code is not None else "error"
        raise ConfigError(f"the service at {args.server} refused the call ({name}: {details})"
                          + (f"; {hint}" if hint else "")) from None


def _embedder(args: argparse.Namespace):
    if args.server:
        return _client(args)
    from motion_retrieval.inference.embedder import TorchScriptEmbedder

    repository = args.model_repository or default_model_repository()
    if not (repository / "motion_retrieval.json").is_file():
        raise ConfigError(
            f"{repository}: not an exported model repository (no motion_retrieval.json); run "
            "`motion-retrieval export --out model_repository` or pass --model-repository / --server"
        )
    return TorchScriptEmbedder(repository)


def _read_motion(path: Path):
    """The (T, 263) features of the first motion in ``path`` (any file the data layer reads)."""
    from motion_retrieval.data.load import load_path

    if not path.exists():
        raise MotionDataError(path, "no such file")
    if path.suffix.lower() == ".npy":
        from motion_retrieval.data.humanml3d import load_array

        array = load_array(path)
        if array.ndim == 2 and array.shape[1] == 263:  # HumanML3D features; joint arrays go through load_path
            return array
    for record in load_path(path):
        if record.features is None:
            raise MotionDataError(path, "the file gives no 263-d features")
        if record.duration > 10.0:
            log.warning("%s is %.1f s; the encoder sees it resampled to 10 s", path, record.duration)
        return record.features
    raise MotionDataError(path, "no motion in this file")
