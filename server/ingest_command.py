"""``motion-retrieval ingest``: the handler behind the subcommand registered in collection_commands.

Two drivers, one report:
- local (default): embed in this process with a model repository and write to ``--milvus`` (a Lite file or a
  server);
- ``--server HOST:PORT``: read and check the files here and stream them into the service's own collections
  (``remote_ingest``), so that ``search --server`` finds them. ``--milvus`` and ``--collection`` are refused there:
  the service writes into the Milvus and collections it was started with, and a second destination on the command
  line could only be silently ignored or contradict it.
Both take ``--shard I/N`` (one deterministic part of the files, for N workers over one archive) and report
progress per shard in the log and, with ``--metrics-port``, as Prometheus metrics.
"""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path

from motion_retrieval.cli import print_json
from motion_retrieval.cli.data_commands import reader_options
from motion_retrieval.data.object_store import is_object_url
from motion_retrieval.data.shards import Shard
from motion_retrieval.errors import ConfigError
from motion_retrieval_server.ingest_progress import IngestProgress, ProgressConfig

log = logging.getLogger(__name__)


def ingest_path(text: str) -> Path | str:
    """An ingest PATH argument: a local path, or an ``s3://bucket/prefix`` URL kept as text (a Path would fold its
    ``//``)."""
    return text if is_object_url(text) else Path(text)


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of sharded and remote ingest (beside the connection and reader flags of collection_commands)."""
    parser.add_argument("--shard", type=Shard.parse, default=None, metavar="I/N",
                        help="ingest only shard I of N (0 <= I < N): a stable hash of each file's path relative to "
                             "its PATH argument; N workers with 0/N .. N-1/N share an archive")
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve Prometheus metrics of this ingest's progress on PORT while it runs")
    parser.add_argument("--progress-interval", type=float, default=10.0, metavar="S",
                        help="seconds between progress log lines (0: none)")
    parser.add_argument("--wire", choices=["auto", "features", "joints"], default="auto",
                        help="--server: send joints or features, auto = whichever is smaller (joints when the "
                             "file has them)")
    parser.add_argument("--stream-windows", type=int, default=256, metavar="N",
                        help="--server: windows per IngestMotions call (a call cut off is replayed whole)")


def run_ingest(args: argparse.Namespace, *, embedder_factory, milvus_config, client_factory, service_errors) -> int:
    """The ``ingest`` handler; the factories come from collection_commands (shared with ``search``)."""
    shard = args.shard or Shard()
    progress = ProgressConfig(interval_s=args.progress_interval, metrics_port=args.metrics_port)
    if args.server:
        with service_errors(args):
            summary, where = _remote(args, shard, progress, client_factory)
    else:
        summary, where = _local(args, shard, progress, embedder_factory, milvus_config)
    _report(args, summary, where)
    return 0 if not summary.failed else 1


def _local(args, shard: Shard, progress: ProgressConfig, embedder_factory, milvus_config):
    from motion_retrieval.data.load import load_path
    from motion_retrieval_milvus import IndexConfig, MotionStore, ingest_paths
    from motion_retrieval_milvus.ingest import IngestSummary

    options = reader_options(args)
    reader = functools.partial(load_path, **options) if options else None
    embedder = embedder_factory(args)
    index = IndexConfig(kind=args.index, hnsw_m=args.hnsw_m, hnsw_ef_construction=args.hnsw_ef_construction)
    from motion_retrieval_milvus.preview_store import resolve_preview_store

    config = milvus_config(args)
    previews = resolve_preview_store(getattr(args, "preview_store", None), config.uri)
    with MotionStore.open(config, embedder.model_id, embedder.dim, prefix=args.collection, index=index,
                          previews=previews) as store:
        live = IngestSummary(model_id=store.model_id, collection=store.names.motions)
        with IngestProgress(live, shard, progress):
            summary = ingest_paths(
                args.paths, store, embedder, batch_size=args.batch_size, window_seconds=args.window_seconds,
                stride_seconds=args.stride_seconds, progress=not args.no_progress and not args.json, reader=reader,
                shard=shard, summary=live,
            )
        stats = store.stats()
    return summary, {"stats": vars(stats), "line": f"model {summary.model_id} -> {stats.motions_collection} "
                     f"({stats.uri})", "motions": stats.motions, "captions": stats.captions}


def _remote(args, shard: Shard, progress: ProgressConfig, client_factory):
    from motion_retrieval_server.remote_ingest import RemoteIngestConfig, RemoteIngestSummary, ingest_paths

    if args.milvus:
        raise ConfigError("--milvus with --server: the service writes into its own Milvus (the one it was started "
                          "with); drop --milvus, or ingest locally with --model-repository into that Milvus")
    if args.collection:
        raise ConfigError("--collection with --server: the service writes into its own collections (serve "
                          "--collection-prefix); drop --collection")
    config = RemoteIngestConfig(window_seconds=args.window_seconds, stride_seconds=args.stride_seconds,
                                wire=args.wire, stream_windows=args.stream_windows)
    with client_factory(args) as client:
        live = RemoteIngestSummary(model_id="", collection="", service=args.server, shard=str(shard))
        with IngestProgress(live, shard, progress):
            summary = ingest_paths(client, args.paths, reader_options=reader_options(args), shard=shard,
                                   config=config, progress=not args.no_progress and not args.json, summary=live)
        stats = client.collection_stats()
    return summary, {"stats": stats, "line": f"model {summary.model_id} -> {stats['motion_collection']} "
                     f"(service {args.server})", "motions": stats["motion_rows"], "captions": stats["caption_rows"]}


def _report(args, summary, where: dict) -> None:
    if args.json:
        print_json({**summary.to_dict(), "stats": where["stats"]})
        return
    print(where["line"])
    shard = f"shard {args.shard}: " if args.shard is not None else ""
    print(f"{shard}files {summary.files}, motions {summary.records}, windows {summary.windows}: "
          f"{summary.ingested} written, {summary.unchanged} unchanged, {summary.captions} captions, "
          f"{len(summary.skipped)} skipped, {len(summary.failed)} failed in {summary.seconds:.1f} s")
    print(f"collection now holds {where['motions']} motions and {where['captions']} captions")
    for item in summary.skipped + summary.failed:
        what = item.source + (f" [{item.record_id}]" if item.record_id else "")
        if item.start_s is not None and item.end_s is not None and item.end_s > item.start_s:
            what += f" {item.start_s:g}-{item.end_s:g} s"
        print(f"  skipped {what}: {item.reason}")
