"""Progress of one ingest process (one shard of an archive): a log line every few seconds and, with
``--metrics-port``, Prometheus metrics read from the live summary at scrape time.

Both drivers fill their summary as they go (``motion_retrieval_milvus.ingest.IngestSummary`` locally,
``remote_ingest.RemoteIngestSummary`` through the service); this module only reads it, from a daemon thread (the log)
and from the scrape handler (the metrics), so the ingest loop itself does nothing for it. Each series carries the
shard (``shard="3"``, ``shards="8"``), so the pods of an Indexed Job can be summed or watched one by one.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from motion_retrieval.data.shards import Shard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressConfig:
    interval_s: float = 10.0  # seconds between log lines; 0 turns them off
    metrics_port: int | None = None  # serve /metrics on this port while ingesting (0 = any free port)
    metrics_host: str = "0.0.0.0"  # a Job's pod is scraped from outside: all interfaces by default


def counts(summary: Any) -> dict[str, int]:
    """The numbers of either summary kind (local or remote) under one set of names."""
    return {
        "files": int(summary.files),
        "motions": int(summary.records),
        "windows": int(summary.windows),
        "written": int(summary.ingested),
        "unchanged": int(summary.unchanged),
        "captions": int(summary.captions),
        "skipped": len(summary.skipped),
        "failed": len(summary.failed),
    }


class IngestProgress:
    """``with IngestProgress(summary, shard, config): ingest(...)`` - logs and exports ``summary`` while it fills."""

    def __init__(self, summary: Any, shard: Shard, config: ProgressConfig | None = None):
        self.summary = summary
        self.shard = shard
        self.config = config or ProgressConfig()
        self.done = False
        self.metrics_port: int | None = None  # the bound port, once serving
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server = None
        self._started = time.monotonic()

    def line(self) -> str:
        c = counts(self.summary)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return (f"shard {self.shard}: {c['files']} files, {c['motions']} motions, {c['windows']} windows "
                f"({c['written']} written, {c['unchanged']} unchanged), {c['skipped']} skipped, {c['failed']} "
                f"failed, {c['windows'] / elapsed:.1f} windows/s")

    def __enter__(self) -> IngestProgress:
        self._started = time.monotonic()
        if self.config.metrics_port is not None:
            self._serve_metrics()
        if self.config.interval_s > 0:
            self._thread = threading.Thread(target=self._log_loop, name="ingest-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        log.info("%s (done)", self.line())
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _log_loop(self) -> None:
        while not self._stop.wait(self.config.interval_s):
            log.info("%s", self.line())

    def _serve_metrics(self) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        self._server, _ = start_http_server(self.config.metrics_port, addr=self.config.metrics_host,
                                            registry=registry)
        self.metrics_port = self._server.server_port
        log.info("ingest metrics on http://%s:%d/metrics", self.config.metrics_host, self.metrics_port)


class _Collector:
    """Reads the summary when Prometheus scrapes (no counters to keep in step with the ingest loop)."""

    def __init__(self, progress: IngestProgress):
        self._progress = progress

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        labels = ["shard", "shards"]
        values = [str(self._progress.shard.index), str(self._progress.shard.count)]
        c = counts(self._progress.summary)
        for name, help_text in (
            ("files", "files looked at by this shard (read or failed)"),
            ("motions", "motions read"),
            ("windows", "motion windows handed to the embedder or the service"),
            ("written", "motion rows written (new or changed)"),
            ("unchanged", "motion rows already stored with the same content"),
            ("captions", "caption rows written"),
            ("skipped", "files or windows refused before embedding"),
            ("failed", "windows refused by the model or the service"),
        ):
            family = GaugeMetricFamily(f"motion_retrieval_ingest_{name}", help_text, labels=labels)
            family.add_metric(values, c[name])
            yield family
        done = GaugeMetricFamily("motion_retrieval_ingest_done", "1 once this shard's ingest has finished",
                                 labels=labels)
        done.add_metric(values, 1.0 if self._progress.done else 0.0)
        yield done
