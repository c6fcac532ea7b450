"""The chart's ingest Job: an Indexed Job whose pod I ingests shard I of N (completions, parallelism, per-index
retries), from a volume or an S3-compatible prefix, with its progress on /metrics (PodMonitor); NOTES show the
working ingest path (through the service, not into a local file)."""

from __future__ import annotations

import pytest

pytest.importorskip("helm_python.chart", reason="helm-python-sdk is a dev dependency (make setup)")

from helm_python import chart as helm_chart  # noqa: E402

from tests.deploy.test_helm_chart import CHART, EXTERNAL, by_kind, load_values, one, render  # noqa: E402

VOLUME = {"persistentVolumeClaim": {"claimName": "mocap"}}


def _job(docs: list[dict]) -> tuple[dict, dict]:
    (job,) = by_kind(docs, "Job")
    return job, job["spec"]["template"]["spec"]["containers"][0]


def _parse(args: list[str]):
    from motion_retrieval.cli import build_parser

    return build_parser().parse_args(args)


def test_the_ingest_job_is_indexed_one_shard_per_pod():
    docs = render({**EXTERNAL, "ingestJob": {"enabled": True, "volume": VOLUME, "shards": 7, "parallelism": 3}})
    job, container = _job(docs)
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 7, 3)
    assert spec["backoffLimitPerIndex"] == 2 and "backoffLimit" not in spec  # a failed shard retries alone
    # Kubernetes sets JOB_COMPLETION_INDEX in each pod of an Indexed Job and expands $(VAR) in args: what pod 5
    # runs is a command line `ingest` accepts, for shard 5 of 7.
    assert "--shard=$(JOB_COMPLETION_INDEX)/7" in container["args"]
    args = _parse([a.replace("$(JOB_COMPLETION_INDEX)", "5") for a in container["args"]])
    assert (args.command, str(args.shard), args.metrics_port) == ("ingest", "5/7", 9108)
    assert {"name": "metrics", "containerPort": 9108} in container["ports"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "data")
    assert mount["readOnly"] and args.paths[0].as_posix().startswith(mount["mountPath"])


def test_parallelism_is_capped_and_one_job_wide_backoff_is_available():
    docs = render({**EXTERNAL, "ingestJob": {"enabled": True, "volume": VOLUME, "shards": 2, "parallelism": 5,
                                             "backoffLimitPerIndex": None, "backoffLimit": 4}})
    spec = _job(docs)[0]["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (2, 2, 4)
    assert "backoffLimitPerIndex" not in spec
    default = _job(render({**EXTERNAL, "ingestJob": {"enabled": True, "volume": VOLUME}}))
    assert (default[0]["spec"]["completions"], default[0]["spec"]["parallelism"]) == (1, 1)
    assert "--shard=$(JOB_COMPLETION_INDEX)/1" in default[1]["args"]


def test_an_object_store_prefix_needs_no_data_volume():
    docs = render(load_values(CHART / "ci" / "sharded-ingest-s3-values.yaml"))
    job, container = _job(docs)
    args = _parse([a.replace("$(JOB_COMPLETION_INDEX)", "0") for a in container["args"]])
    assert args.paths == ["s3://mocap-archive/takes"] and str(args.shard) == "0/8"
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (8, 3)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MOTION_RETRIEVAL_S3_ENDPOINT"] == "http://minio.storage.svc:9000" and env["AWS_REGION"] == "us-east-1"
    # The keys are files from the Secret (as every secret of this chart), read by ObjectStoreConfig.from_env.
    assert not any(k.startswith("AWS_SECRET") or k.startswith("AWS_ACCESS") for k in env)
    pod = job["spec"]["template"]["spec"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "object-store")
    volume = next(v for v in pod["volumes"] if v["name"] == "object-store")
    assert volume["secret"]["secretName"] == "mocap-archive-s3" and mount["readOnly"]
    assert env["MOTION_RETRIEVAL_S3_SECRET_DIR"] == mount["mountPath"]
    assert "data" not in {v["name"] for v in pod["volumes"]} | {m["name"] for m in container["volumeMounts"]}
    monitor = one(docs, "PodMonitor", "mr-motion-retrieval-ingest")
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "ingest"
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"


@pytest.mark.parametrize("bad", [{"shards": 0}, {"parallelism": 0}, {"objectStore": {"endpoint": "minio:9000"}},
                                 {"objectStore": {"bucket": "x"}}])
def test_bad_ingest_values_are_refused(bad):
    values = {**EXTERNAL, "ingestJob": {"enabled": True, "volume": VOLUME, **bad}}
    with pytest.raises(Exception, match="ingestJob"):
        render(values)


def test_notes_show_ingest_through_the_service():
    out = helm_chart.Chart.load(str(CHART)).render(
        {**EXTERNAL, "ingestJob": {"enabled": True, "volume": VOLUME, "shards": 4, "parallelism": 2}},
        name="mr", namespace="search")
    notes = next(text for template, text in out.items() if template.endswith("NOTES.txt"))
    assert "motion-retrieval ingest takes/ --server localhost:" in notes
    assert "--milvus" not in notes  # the service writes into its own Milvus
    assert "4 shard(s), 2 at a time" in notes
