"""The chart's preview store: a volume every service pod and the ingest Job mount, the path the service and the
CLI read from the ConfigMap, the source-clip mount, and the refusals for storage the pods cannot share."""

from __future__ import annotations

import pytest

pytest.importorskip("helm_python.chart", reason="helm-python-sdk is a dev dependency (make setup)")

from tests.deploy.test_helm_chart import EXTERNAL, by_kind, one, render  # noqa: E402

SERVER = "mr-motion-retrieval-server"
INGEST = {"enabled": True, "volume": {"persistentVolumeClaim": {"claimName": "mocap"}}}


def _server_pod(docs):
    return one(docs, "Deployment", SERVER)["spec"]["template"]["spec"]


def _mounts(pod):
    return {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}


def test_the_preview_store_is_a_kept_volume_the_service_and_the_ingest_job_mount():
    docs = render({**EXTERNAL, "ingestJob": INGEST})
    claim = one(docs, "PersistentVolumeClaim", "mr-motion-retrieval-previews")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    path = "/var/lib/motion-retrieval/previews"
    for pod in (_server_pod(docs), by_kind(docs, "Job")[0]["spec"]["template"]["spec"]):
        assert _mounts(pod)["previews"]["mountPath"] == path and not _mounts(pod)["previews"].get("readOnly")
        volume = next(v for v in pod["volumes"] if v["name"] == "previews")
        assert volume["persistentVolumeClaim"]["claimName"] == "mr-motion-retrieval-previews"
    env = one(docs, "ConfigMap", SERVER)["data"]
    assert env["MOTION_RETRIEVAL_PREVIEW_STORE"] == path and "MOTION_RETRIEVAL_CLIP_SOURCE_ROOT" not in env
    assert "source-takes" not in _mounts(_server_pod(docs))


def test_the_service_and_the_cli_read_the_store_from_the_config_map():
    from motion_retrieval_milvus.preview_store import PREVIEW_STORE_ENV
    from motion_retrieval_server.config import resolve_config

    env = one(render(EXTERNAL), "ConfigMap", SERVER)["data"]
    assert resolve_config(None, env).preview_store == env[PREVIEW_STORE_ENV]


def test_an_existing_claim_is_used_and_none_is_created():
    docs = render({**EXTERNAL, "previews": {"existingClaim": "shared-previews"}})
    assert not by_kind(docs, "PersistentVolumeClaim")
    volume = next(v for v in _server_pod(docs)["volumes"] if v["name"] == "previews")
    assert volume["persistentVolumeClaim"]["claimName"] == "shared-previews"


def test_previews_off_means_no_volume_and_no_setting():
    docs = render({**EXTERNAL, "previews": {"enabled": False}})
    assert not by_kind(docs, "PersistentVolumeClaim")
    assert "previews" not in _mounts(_server_pod(docs))
    assert "MOTION_RETRIEVAL_PREVIEW_STORE" not in one(docs, "ConfigMap", SERVER)["data"]


def test_source_clips_mount_the_ingest_data_read_only_and_name_it_the_clip_source_root():
    docs = render({**EXTERNAL, "ingestJob": INGEST, "previews": {"sourceClips": True}})
    pod = _server_pod(docs)
    assert _mounts(pod)["source-takes"] == {"name": "source-takes", "mountPath": "/data", "readOnly": True}
    assert next(v for v in pod["volumes"] if v["name"] == "source-takes")["persistentVolumeClaim"] == {
        "claimName": "mocap"}
    assert one(docs, "ConfigMap", SERVER)["data"]["MOTION_RETRIEVAL_CLIP_SOURCE_ROOT"] == "/data"


@pytest.mark.parametrize("values, message", [
    ({"previews": {"sourceClips": True}}, "previews.sourceClips mounts ingestJob.volume"),
    ({"previews": {"accessModes": ["ReadWriteOnce"]}}, "cannot be mounted by 10 service pods"),
    ({"previews": {"size": "lots"}}, "size"),
    ({"previews": {"mountPath": "relative"}}, "mountPath"),
], ids=["source-clips-no-volume", "rwo-many-replicas", "size", "relative-path"])
def test_storage_the_pods_cannot_share_is_refused(values, message):
    with pytest.raises(Exception) as excinfo:
        render({**EXTERNAL, **values})
    assert message in str(excinfo.value)


def test_one_replica_may_use_read_write_once():
    docs = render({**EXTERNAL, "previews": {"accessModes": ["ReadWriteOnce"]},
                   "server": {"replicaCount": 1, "autoscaling": {"enabled": False}, "pdb": {"enabled": False}}})
    assert one(docs, "PersistentVolumeClaim", "mr-motion-retrieval-previews")["spec"]["accessModes"] == [
        "ReadWriteOnce"]
