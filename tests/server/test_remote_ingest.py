"""``motion-retrieval ingest --server``: files read here, streamed through IngestMotions into the service's own
collections (a real service on loopback over a real Milvus Lite file, real CMU BVH takes, a corrupt file)."""

from __future__ import annotations

import json
import shutil

import pytest

from motion_retrieval.cli import main
from motion_retrieval.data.shards import Shard
from motion_retrieval_server.client import MotionRetrievalClient
from motion_retrieval_server.remote_ingest import RemoteIngestConfig


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture()
def takes(tmp_path, cmu_bvh_dir):
    """Two real CMU takes (131_02 is 10.4 s: two windows), a caption beside one, and a corrupt .bvh."""
    folder = tmp_path / "takes"
    folder.mkdir()
    shutil.copy(cmu_bvh_dir / "131_01.bvh", folder / "131_01.bvh")
    shutil.copy(cmu_bvh_dir / "131_02.bvh", folder / "131_02.bvh")
    (folder / "131_01.txt").write_text("a person walks forward\n")
    (folder / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")  # cut off inside the header
    return folder


def test_ingest_through_the_service_lands_in_its_collection(start_server, takes, tmp_path, capsys, monkeypatch):
    server = start_server(milvus_uri=str(tmp_path / "service.db"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)

    code, out, _ = _run(capsys, "ingest", takes, "--server", server.target, "--json", "--stream-windows", "2")
    summary = json.loads(out)
    assert code == 0, out
    # Files, not arguments: three files in the one folder; the corrupt one is reported by name, the rest ingested.
    assert summary["files"] == 3 and summary["records"] == 2
    assert ["broken.bvh" in s["source"] for s in summary["skipped"]] == [True]
    assert summary["windows"] == 3 and summary["ingested"] == 3 and summary["failed"] == []
    assert summary["streams"] == 2  # 3 windows, 2 per call
    assert summary["stats"]["motion_rows"] == 3 and summary["collection"] == summary["stats"]["motion_collection"]
    assert list(cwd.iterdir()) == []  # no local Milvus Lite file: the rows are the service's

    with MotionRetrievalClient(server.target) as client:
        stats = client.collection_stats()
    assert stats["motion_rows"] == 3 and stats["caption_rows"] == 1

    code, out, _ = _run(capsys, "search", "--text", "a person walks forward", "--server", server.target,
                        "--top-k", "5", "--json")
    hits = json.loads(out)["hits"]
    assert code == 0 and len(hits) == 2  # one hit per take (its best window)
    assert {h["source"] for h in hits} == {str(takes / "131_01.bvh"), str(takes / "131_02.bvh")}
    assert {h["name"].split("@")[0] for h in hits} == {"131_01", "131_02"}
    assert all(h["tags"] and h["fps"] == 20.0 for h in hits)

    # Idempotent through the service: nothing is embedded or written again.
    code, out, _ = _run(capsys, "ingest", takes, "--server", server.target, "--json")
    again = json.loads(out)
    assert (again["ingested"], again["unchanged"], again["stats"]["motion_rows"]) == (0, 3, 3)

    # The table counts files too, and names the bad one.
    code, out, _ = _run(capsys, "ingest", takes, "--server", server.target, "--no-progress")
    assert "files 3, motions 2, windows 3: 0 written, 3 unchanged" in out and "broken.bvh" in out
    assert list(cwd.iterdir()) == []


def test_features_and_joints_on_the_wire_make_the_same_rows(start_server, takes, tmp_path):
    """auto sends joints (smaller); forcing features sends what a local reader computes: same windows either way,
    and the service's features from the joints match the local ones (so the rows are found the same way)."""
    (takes / "broken.bvh").unlink()
    results = {}
    for wire in ("auto", "features"):
        server = start_server(milvus_uri=str(tmp_path / f"{wire}.db"))
        with MotionRetrievalClient(server.target) as client:
            summary = client.ingest_paths([takes], config=RemoteIngestConfig(wire=wire))
            hits = client.search_motions("a person walks forward", top_k=5)
        results[wire] = (summary, {h["name"]: h["score"] for h in hits})
    auto, features = results["auto"], results["features"]
    assert auto[0].windows == features[0].windows == 3 and auto[0].ingested == features[0].ingested == 3
    assert auto[0].sent_bytes * 3 < features[0].sent_bytes  # 66 floats a frame against 263
    assert auto[1].keys() == features[1].keys()
    for name, score in auto[1].items():
        assert score == pytest.approx(features[1][name], abs=0.02), name


def test_a_shard_through_the_service_and_refusals(start_server, takes, tmp_path, capsys):
    server = start_server(milvus_uri=str(tmp_path / "service.db"))
    with MotionRetrievalClient(server.target) as client:
        parts = [client.ingest_paths([takes], shard=Shard(i, 2)) for i in range(2)]
        assert sum(p.files for p in parts) == 3 and sum(p.ingested for p in parts) == 3
        assert client.collection_stats()["motion_rows"] == 3

    code, _, err = _run(capsys, "ingest", takes, "--server", server.target, "--milvus", str(tmp_path / "x.db"))
    assert code == 1 and "--milvus with --server" in err and "own Milvus" in err
    code, _, err = _run(capsys, "ingest", takes, "--server", server.target, "--collection", "mine")
    assert code == 1 and "--collection with --server" in err

    plain = start_server()  # no --milvus: nothing to ingest into
    code, _, err = _run(capsys, "ingest", takes, "--server", plain.target)
    assert code == 1 and "runs without --milvus" in err


def test_a_call_cut_off_is_replayed_from_its_first_window(start_server, takes, tmp_path, monkeypatch):
    """The service goes away in the middle of a call (UNAVAILABLE after two windows were pulled): the call is sent
    again with every window of it, and the rows end up exactly once."""
    import grpc

    from motion_retrieval_server import remote_ingest

    (takes / "broken.bvh").unlink()
    server = start_server(milvus_uri=str(tmp_path / "service.db"))
    monkeypatch.setattr(remote_ingest.time, "sleep", lambda seconds: None)

    class Unavailable(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.UNAVAILABLE

        def details(self):
            return "connection reset"

    with MotionRetrievalClient(server.target) as client:
        real_ingest, calls = client.ingest, []

        def flaky_ingest(records, timeout=None):
            if not calls:
                calls.append([next(records)["id"], next(records)["id"]])  # pulled, then the connection drops
                raise Unavailable()
            sent = list(records)
            calls.append([r["id"] for r in sent])
            return real_ingest(iter(sent), timeout=timeout)

        monkeypatch.setattr(client, "ingest", flaky_ingest)
        summary = client.ingest_paths([takes], config=RemoteIngestConfig(stream_windows=8))
        assert summary.replays == 1 and summary.streams == 1 and len(calls) == 2
        assert calls[1][:2] == calls[0] and len(calls[1]) == 3  # replayed from the first window, then the rest
        assert summary.ingested == 3 and client.collection_stats()["motion_rows"] == 3
