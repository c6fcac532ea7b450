"""Ingest from an S3-compatible prefix (``s3://bucket/prefix``) through the minio SDK, against a real S3-compatible
server over HTTP on loopback: moto's standalone server (``moto_server``; no MinIO server binary installs from the
registries this project reaches). Objects of the shard only are downloaded; ids, shard keys and captions are those of
the same files on disk; a corrupt object fails only itself; an unreachable store or a missing bucket is one clear
error."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import pytest

from motion_retrieval.cli import main
from motion_retrieval.data.load import load_path
from motion_retrieval.data.shards import RecordWalk, Shard

TAKES = ["131_01", "131_02", "131_03"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def archive(s3_endpoint, monkeypatch, tmp_path, cmu_bvh_dir):
    """Bucket "mocap": archive/cmu/{subject0,subject1}/131_0x.bvh (+ a caption, a corrupt take, Mean.npy) and
    archive/cmu2/ (outside the prefix). The same tree is written to disk for comparison."""
    from minio import Minio

    monkeypatch.setenv("MOTION_RETRIEVAL_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    local = tmp_path / "cmu"
    for i, take in enumerate(TAKES * 2):
        (local / f"subject{i % 2}").mkdir(parents=True, exist_ok=True)
        shutil.copy(cmu_bvh_dir / f"{take}.bvh", local / f"subject{i % 2}" / f"{take}.bvh")
    (local / "subject0" / "131_01.txt").write_text("a person walks forward\n")
    (local / "subject1" / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    client = Minio(s3_endpoint.removeprefix("http://"), access_key="test-key", secret_key="test-secret",
                   secure=False, region="us-east-1")
    bucket = f"mocap{time.monotonic_ns() % 10**9}"
    client.make_bucket(bucket)
    for file in sorted(local.rglob("*")):
        if file.is_file():
            client.fput_object(bucket, f"archive/cmu/{file.relative_to(local).as_posix()}", str(file))
    client.fput_object(bucket, "archive/cmu/Mean.npy", str(cmu_bvh_dir / "131_01.bvh"))  # statistics: skipped
    client.fput_object(bucket, "archive/cmu2/131_01.bvh", str(cmu_bvh_dir / "131_01.bvh"))  # another prefix
    return f"s3://{bucket}/archive/cmu", local


def test_records_from_a_prefix_match_the_same_files_on_disk(archive):
    url, local = archive
    walk = RecordWalk([url], load_path)
    records = {r.id: r for r in walk}
    on_disk = {r.id: r for r in load_path(local, errors=[])}
    assert sorted(records) == sorted(on_disk) == sorted(f"subject{i % 2}/{t}" for i, t in enumerate(TAKES * 2))
    assert records["subject0/131_01"].source == f"{url}/subject0/131_01.bvh"
    assert [c.text for c in records["subject0/131_01"].captions] == ["a person walks forward"]
    assert (records["subject1/131_02"].features == on_disk["subject1/131_02"].features).all()
    assert len(walk.files) == 7 and [e.path for e in walk.errors] == [f"{url}/subject1/broken.bvh"]


def test_shards_of_a_prefix_split_like_the_folder(archive):
    url, local = archive
    for count in (1, 3):
        remote = [{r.id for r in RecordWalk([url], load_path, Shard(i, count))} for i in range(count)]
        disk = [{r.id for r in RecordWalk([local], load_path, Shard(i, count))} for i in range(count)]
        assert remote == disk and set().union(*remote) == {f"subject{i % 2}/{t}" for i, t in enumerate(TAKES * 2)}


def test_cli_ingests_a_prefix(archive, tmp_path, capsys, model_repository):
    url, _ = archive
    db = tmp_path / "m.db"
    code = main(["ingest", url, "--milvus", str(db), "--model-repository", str(model_repository), "--json",
                 "--progress-interval", "0"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["files"] == 7 and summary["records"] == 6
    assert [s["source"] for s in summary["skipped"]] == [f"{url}/subject1/broken.bvh"]
    assert summary["ingested"] == summary["windows"] == summary["stats"]["motions"]
    code = main(["search", "--text", "a person walks forward", "--milvus", str(db), "--model-repository",
                 str(model_repository), "--json"])
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert code == 0 and hits and all(h["source"].startswith(f"{url}/subject") for h in hits)


def test_store_problems_are_one_clear_line(archive, monkeypatch):
    url, _ = archive
    bucketless = url.replace("s3://mocap", "s3://nosuchbucket")
    walk = RecordWalk([bucketless], load_path)
    assert list(walk) == [] and "cannot list the prefix (NoSuchBucket" in str(walk.errors[0])
    empty = RecordWalk([url + "/nothing-here"], load_path)
    assert list(empty) == [] and "no motion files" in str(empty.errors[0])
    monkeypatch.setenv("MOTION_RETRIEVAL_S3_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    down = RecordWalk([url], load_path)
    assert list(down) == [] and "cannot reach the object store" in str(down.errors[0])
    assert Path(url).as_posix() != url  # why PATH arguments keep s3:// URLs as text (a Path folds the //)


def test_keys_as_files_win_over_the_environment(tmp_path):
    from motion_retrieval.data.object_store import SECRET_DIR_ENV, ObjectStoreConfig
    from motion_retrieval.errors import ConfigError

    (tmp_path / "AWS_ACCESS_KEY_ID").write_text("file-key\n")
    (tmp_path / "AWS_SECRET_ACCESS_KEY").write_text("file-secret\n")
    config = ObjectStoreConfig.from_env({SECRET_DIR_ENV: str(tmp_path), "AWS_ACCESS_KEY_ID": "env-key",
                                         "AWS_ENDPOINT_URL": "http://minio:9000", "AWS_REGION": "eu-west-1"})
    assert (config.access_key, config.secret_key, config.session_token) == ("file-key", "file-secret", None)
    assert (config.endpoint, config.region) == ("http://minio:9000", "eu-west-1")
    with pytest.raises(ConfigError, match="MOTION_RETRIEVAL_S3_SECRET_DIR=.*no such folder"):
        ObjectStoreConfig.from_env({SECRET_DIR_ENV: str(tmp_path / "missing")})
