"""Per-shard ingest progress: log lines while the summary fills, and Prometheus gauges read at scrape time."""

from __future__ import annotations

import logging
import time
import urllib.request

from motion_retrieval.data.shards import Shard
from motion_retrieval_server.ingest_progress import IngestProgress, ProgressConfig
from motion_retrieval_server.remote_ingest import RemoteIngestSummary, RemoteProblem


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line.startswith("motion_retrieval_ingest_")}


def test_progress_is_logged_and_scraped_per_shard(caplog):
    summary = RemoteIngestSummary(model_id="mr-x", collection="motions_mr_x", service="s:1")
    caplog.set_level(logging.INFO, logger="motion_retrieval_server.ingest_progress")
    config = ProgressConfig(interval_s=0.05, metrics_port=0, metrics_host="127.0.0.1")
    with IngestProgress(summary, Shard(2, 5), config) as progress:
        labels = '{shard="2",shards="5"}'
        assert _scrape(progress.metrics_port)[f"motion_retrieval_ingest_written{labels}"] == 0.0
        summary.files, summary.records, summary.windows, summary.ingested = 4, 3, 7, 6
        summary.failed.append(RemoteProblem("a.bvh", "refused"))
        metrics = _scrape(progress.metrics_port)  # the live summary, read when scraped
        assert metrics[f"motion_retrieval_ingest_files{labels}"] == 4.0
        assert metrics[f"motion_retrieval_ingest_windows{labels}"] == 7.0
        assert metrics[f"motion_retrieval_ingest_written{labels}"] == 6.0
        assert metrics[f"motion_retrieval_ingest_failed{labels}"] == 1.0
        assert metrics[f"motion_retrieval_ingest_done{labels}"] == 0.0
        deadline = time.monotonic() + 5
        while "shard 2/5: 4 files" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "shard 2/5: 4 files, 3 motions, 7 windows (6 written, 0 unchanged), 0 skipped, 1 failed" in caplog.text
    assert caplog.records[-1].getMessage().endswith("(done)")
