"""One hit schema: ``search --json`` prints the same hits, with the same keys, whether it searches Milvus itself
(local mode) or asks the service (``--server``): the same records ingested into a Milvus Lite file by the plugin and
into the service's own Milvus Lite file through the client, the same model, the same queries."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest

from motion_retrieval.cli import main
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.inference.embedder import TorchScriptEmbedder
from motion_retrieval.serving.hits import CaptionHit, MotionHit
from motion_retrieval_milvus import MilvusConfig, MotionStore
from motion_retrieval_milvus.ingest import ingest_records
from motion_retrieval_server.client import MotionRetrievalClient
from tests.server.conftest import ServerThread, make_config

MOTION_KEYS = {"id", "name", "score", "start_s", "end_s", "duration_s", "dataset", "tags", "source", "fps",
               "captions", "num_frames"}
CAPTION_KEYS = {"id", "text", "score", "motion_id", "dataset"}


def _records() -> list[MotionRecord]:
    rng = np.random.default_rng(7)

    def record(id, frames, dataset, captions, tags):
        return MotionRecord(id=id, dataset=dataset, fps=20.0, features=rng.standard_normal((frames, 263)).astype("f4"),
                            joints=None, captions=[Caption(c) for c in captions], source=f"/data/{dataset}/{id}.npy",
                            tags=list(tags))

    return [
        record("walk1", 60, "humanml3d", ["a person walks forward", "someone strolls"], ["locomotion"]),
        record("jump1", 120, "humanml3d", ["a person jumps twice"], ["jump"]),
        record("kick1", 80, "kitml", ["a man kicks"], ["kick", "martial"]),
        record("long1", 300, "bvh", ["a long dance"], ["dance"]),  # 15 s: two windows
    ]


@pytest.fixture(scope="module")
def both(tiny_repo, tmp_path_factory):
    """(local argv, remote argv, a motion file): the same records behind ``--milvus local.db`` and ``--server``."""
    folder = tmp_path_factory.mktemp("hit-schema")
    records = _records()
    embedder = TorchScriptEmbedder(tiny_repo)
    with MotionStore.open(MilvusConfig(str(folder / "local.db")), embedder.model_id, embedder.dim) as store:
        summary = ingest_records(records, store, embedder)
    assert summary.ingested == 5 and not summary.failed
    motion = folder / "kick1.npy"
    np.save(motion, records[2].features)
    with ServerThread(make_config(tiny_repo, milvus_uri=str(folder / "remote.db"))) as server:
        with MotionRetrievalClient(server.target, timeout=120) as client:
            remote_summary = client.ingest(records)
        assert remote_summary["written"] == 5
        yield (["--milvus", folder / "local.db", "--model-repository", tiny_repo], ["--server", server.target],
               motion)


def _search(capsys, *argv) -> list[dict]:
    code = main(["search", *[str(a) for a in argv], "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)["hits"]


def _same_hits(local: list[dict], remote: list[dict]) -> None:
    assert local and len(local) == len(remote)
    for here, there in zip(local, remote):
        assert set(here) == set(there)
        assert here["score"] == pytest.approx(there["score"], abs=1e-5)
        assert {k: v for k, v in here.items() if k != "score"} == {k: v for k, v in there.items() if k != "score"}


@pytest.mark.parametrize("query", [
    ["--text", "a person walks"],
    ["--motion", "MOTION", "--target", "motions"],
    ["--text", "kick", "--tag", "martial"],
    ["--text", "x", "--any-tag", "jump", "--any-tag", "dance"],
])
def test_motion_hits_are_the_same_locally_and_through_the_service(both, capsys, query):
    local_args, remote_args, motion = both
    query = [motion if a == "MOTION" else a for a in query]
    local = _search(capsys, *query, *local_args)
    remote = _search(capsys, *query, *remote_args)
    _same_hits(local, remote)
    assert set(local[0]) == MOTION_KEYS == {f.name for f in fields(MotionHit)}
    assert all(MotionHit.from_json(h).to_json() == h for h in remote)


def test_caption_hits_are_the_same_locally_and_through_the_service(both, capsys):
    local_args, remote_args, motion = both
    local = _search(capsys, "--motion", motion, *local_args)
    remote = _search(capsys, "--motion", motion, *remote_args)
    _same_hits(local, remote)
    assert set(remote[0]) == CAPTION_KEYS == {f.name for f in fields(CaptionHit)}
    assert all(len(h["id"]) == 32 for h in remote)  # the caption row id crosses the wire too


def test_search_by_stored_id_is_the_same(both, capsys):
    local_args, remote_args, _ = both
    first = _search(capsys, "--text", "walk", "--top-k", "1", *local_args)[0]
    local = _search(capsys, "--motion-id", first["id"], *local_args)
    remote = _search(capsys, "--motion-id", first["id"], *remote_args)
    _same_hits(local, remote)


def test_any_tag_filters_through_the_service(both, capsys):
    _, remote_args, _ = both
    hits = _search(capsys, "--text", "x", "--any-tag", "jump", "--any-tag", "kick", *remote_args)
    assert sorted(h["name"] for h in hits) == ["jump1", "kick1"]
    both_tags = _search(capsys, "--text", "x", "--any-tag", "kick", "--tag", "martial", *remote_args)
    assert [h["name"] for h in both_tags] == ["kick1"]
    assert _search(capsys, "--text", "x", "--any-tag", "nothing-has-this", *remote_args) == []
