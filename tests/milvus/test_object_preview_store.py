"""Previews in an S3-compatible object store (``--preview-store s3://bucket/prefix``), against a real S3-compatible
server over HTTP on loopback (moto_server, as tests/milvus/test_object_store.py): written at ingest, served, missing
ones found, deleted with their rows, a missing bucket or a bad endpoint refused clearly."""

from __future__ import annotations

import time

import numpy as np
import pytest
from milvus_testkit import KeywordEmbedder, motion_features

from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.errors import ConfigError
from motion_retrieval_milvus import MilvusConfig, MotionSearch, MotionStore
from motion_retrieval_milvus.clips import motion_clip, stored_preview
from motion_retrieval_milvus.ingest import ingest_records
from motion_retrieval_milvus.preview_store import ObjectPreviewStore, PreviewStoreError, open_preview_store


@pytest.fixture()
def bucket(s3_endpoint, monkeypatch):
    from minio import Minio

    monkeypatch.setenv("MOTION_RETRIEVAL_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    name = f"previews{time.monotonic_ns() % 10**9}"
    Minio(s3_endpoint.removeprefix("http://"), access_key="test-key", secret_key="test-secret", secure=False,
          region="us-east-1").make_bucket(name)
    return name


def test_ingest_writes_previews_to_the_object_store_and_delete_removes_them(tmp_path, bucket):
    previews = open_preview_store(f"s3://{bucket}/motion-previews")
    assert isinstance(previews, ObjectPreviewStore)
    embedder = KeywordEmbedder()
    records = [MotionRecord(id=f"take{i}", dataset="mocap", fps=20.0, features=motion_features(0, 300, seed=i),
                            joints=None, captions=[Caption("a person walks")], source=f"/data/take{i}.npy")
               for i in range(3)]
    with MotionStore.open(MilvusConfig(uri=str(tmp_path / "m.db")), embedder.model_id, embedder.dim,
                          previews=previews) as store:
        ingest_records(records, store, embedder)
        hits = MotionSearch(store, embedder).text_to_motions("walk", 10, every_window=True)
        ids = [h.id for h in hits]
        assert len(ids) == 6 and previews.missing(ids) == set()
        preview = stored_preview(store, ids[0])
        assert preview.joints.shape == (hits[0].num_frames, 22, 3) and preview.name == hits[0].name
        assert motion_clip(store, ids[0], "smpl22_bvh").data.startswith(b"HIERARCHY")
        assert store.delete_motions(ids[:2]) == 2
        assert previews.missing(ids) == set(ids[:2]) and previews.get(ids[0]) is None
    again = ObjectPreviewStore(f"s3://{bucket}/motion-previews")  # another process: the objects are still there
    np.testing.assert_array_equal(again.get(ids[2]).joints, stored_preview(store, ids[2]).joints)


def test_a_missing_bucket_and_an_unreachable_store_are_clear(bucket, monkeypatch):
    with pytest.raises(ConfigError, match="no bucket 'no-such-bucket'"):
        ObjectPreviewStore("s3://no-such-bucket/p")
    with pytest.raises(ConfigError, match="expected s3://bucket/prefix"):
        open_preview_store("s3:///nobucket")
    monkeypatch.setenv("MOTION_RETRIEVAL_S3_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(PreviewStoreError, match="bucket_exists"):
        ObjectPreviewStore(f"s3://{bucket}/p")
