"""GetMotionPreview, GetMotionClip, one hit per take and paging through the real gRPC service on Milvus Lite.

Motions are ingested through the service with source paths that do not exist on this machine: previews and the
SMPL-22 clips are served from the preview store alone. The store survives a service restart; delete removes previews;
source clips are cut only from BVH files under --clip-source-root."""

from __future__ import annotations

import io
from dataclasses import replace

import grpc
import numpy as np
import pytest

from motion_retrieval.data.bvh import parse_bvh, read_bvh
from motion_retrieval_server.api import search_pb2
from motion_retrieval_server.client import MotionRetrievalClient
from motion_retrieval_server.config import ServiceLimits


def _take(name: str, frames: int, seed: int) -> dict:
    features = np.random.default_rng(seed).standard_normal((frames, 263)).astype(np.float32) * 0.3
    return {"id": name, "dataset": "mocap", "features": features, "captions": [f"a person moves ({name})"],
            "source": f"/nowhere/{name}.npy", "tags": ["test"]}


@pytest.fixture(scope="module")
def setup(tiny_repo, tmp_path_factory, cmu_bvh_dir):
    from tests.server.conftest import ServerThread, make_config

    folder = tmp_path_factory.mktemp("previews-service")
    data = folder / "data"
    data.mkdir()
    take = data / "131_03.bvh"
    take.write_bytes((cmu_bvh_dir / "131_03.bvh").read_bytes())
    config = make_config(tiny_repo, milvus_uri=str(folder / "m.db"), preview_store=str(folder / "previews"),
                         clip_source_root=str(data),
                         limits=ServiceLimits(max_batch_size=8, max_frames=1500, max_text_chars=200, max_top_k=50,
                                              max_message_bytes=4 * 1024 * 1024))
    bvh = read_bvh(take)
    records = [_take("long60", 1200, 0), *(_take(f"short{i}", 60 + 10 * i, i + 1) for i in range(10)),
               {"id": "cmu131_03", "dataset": "bvh", "features": bvh.features, "captions": ["a person walks"],
                "source": str(take)}]
    server = ServerThread(config).start()
    with MotionRetrievalClient(server.target, timeout=120) as client:
        summary = client.ingest(records)
    assert summary["failed"] == 0 and summary["windows"] == 11 + 10 + 1
    state = {"server": server, "config": config, "take": take}
    yield state
    state["server"].stop()  # the one running now (a test restarts it)


def _client(setup, **kw):
    return MotionRetrievalClient(setup["server"].target, timeout=60, **kw)


def test_a_60_second_take_is_one_hit_unless_every_window(setup):
    with _client(setup) as client:
        hits = client.search_motions("a person moves", top_k=50)
        windows = client.search_motions("a person moves", top_k=50, every_window=True)
    assert len(windows) == 22 and len(hits) == 12
    assert [h["name"].split("@")[0] for h in hits].count("long60") == 1
    assert len({h["source"] for h in hits}) == 12


def test_pages_through_the_service_are_disjoint_and_join_into_the_top_list(setup):
    with _client(setup) as client:
        for every_window in (False, True):
            pages = [client.search_motions("a person moves", top_k=4, offset=4 * p, every_window=every_window)
                     for p in range(3)]
            joined = [h["id"] for page in pages for h in page]
            assert len(set(joined)) == 12
            top = client.search_motions("a person moves", top_k=12, every_window=every_window)
            assert joined == [h["id"] for h in top]
        similar = client.similar_motions(motion_id=top[0]["id"], top_k=3, offset=1)
        assert len(similar) == 3 and top[0]["id"] not in [h["id"] for h in similar]
        with pytest.raises(grpc.RpcError) as caught:
            client.search_motions("a person moves", top_k=10, offset=45)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "offset" in caught.value.details()


def test_previews_of_hits_are_served_with_no_source_file(setup):
    with _client(setup) as client:
        hits = client.search_motions("a person moves", top_k=50, every_window=True)
        for hit in hits:
            preview = client.motion_preview(hit["id"])
            assert preview["id"] == hit["id"] and preview["name"] == hit["name"]
            assert preview["fps"] == 10.0
            assert (preview["start"], preview["end"]) == pytest.approx((hit["start_s"], hit["end_s"]), abs=1e-3)
            assert preview["joints"].shape == ((hit["num_frames"] + 1) // 2, 22, 3)
            assert np.isfinite(preview["joints"]).all()
        request = search_pb2.GetMotionPreviewRequest(id=hits[0]["id"])
        payload = client._call(client._search.GetMotionPreview, request).ByteSize()
    assert payload <= 50_000  # a 10 s window at 10 fps


def test_unknown_and_malformed_ids(setup):
    with _client(setup) as client:
        for call in (lambda: client.motion_preview("0" * 32), lambda: client.motion_clip("0" * 32)):
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as caught:
            client.motion_preview("../../etc/passwd")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_clips_in_every_format(setup, tmp_path):
    with _client(setup) as client:
        hits = client.search_motions("a person moves", top_k=50)
        short = next(h for h in hits if h["name"] == "short3")
        bvh = client.motion_clip(short["id"])
        assert bvh["media_type"] == "application/x-bvh" and bvh["filename"].startswith("short3_")
        (tmp_path / "a.bvh").write_bytes(bvh["data"])
        motion = parse_bvh(tmp_path / "a.bvh")
        assert motion.fps == 20.0 and motion.num_frames == short["num_frames"]
        joints = np.load(io.BytesIO(client.motion_clip(short["id"], "joints_npy")["data"]))
        assert joints.shape == (short["num_frames"], 22, 3) and joints.dtype == np.float32
        with pytest.raises(grpc.RpcError) as caught:
            client.motion_clip(short["id"], "source_bvh")
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "not a BVH" in caught.value.details()
        cmu = next(h for h in hits if h["name"] == "cmu131_03")
        source = client.motion_clip(cmu["id"], "source_bvh")
    (tmp_path / "s.bvh").write_bytes(source["data"])
    cut, original = parse_bvh(tmp_path / "s.bvh"), parse_bvh(setup["take"])
    assert cut.names == original.names and cut.fps == original.fps == 120.0
    # A take under 10 s is one window: all of it, as far as the row's end (its 20 fps features end there).
    assert cut.num_frames == round(cmu["end_s"] * 120.0) and abs(cut.num_frames - original.num_frames) <= 120 / 20
    np.testing.assert_array_equal(cut.values, original.values[:cut.num_frames])


def test_the_preview_store_survives_a_restart_and_delete_removes_previews(setup):
    from tests.server.conftest import ServerThread

    with _client(setup) as client:
        hit = next(h for h in client.search_motions("a person moves", top_k=50) if h["name"] == "short9")
        before = client.motion_preview(hit["id"])
    setup["server"].stop()
    setup["server"] = ServerThread(replace(setup["config"])).start()
    with _client(setup) as client:
        after = client.motion_preview(hit["id"])
        np.testing.assert_array_equal(after["joints"], before["joints"])
        assert client.delete(ids=[hit["id"]]) == 1
        with pytest.raises(grpc.RpcError) as caught:
            client.motion_preview(hit["id"])
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_search_cli_saves_clips_through_the_service(setup, tmp_path, capsys):
    import json

    from motion_retrieval.cli import main

    clips = tmp_path / "clips"
    code = main(["search", "--text", "a person walks", "--server", setup["server"].target, "--top-k", "12",
                 "--save-clips", str(clips), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and len(result["hits"]) == 11 + 1 - 1  # one hit per take (one short take was deleted)
    saved = result["clips"]["saved"]
    by_format = {fmt: [c for c in saved if c["format"] == fmt] for fmt in ("smpl22_bvh", "joints_npy", "source_bvh")}
    assert len(by_format["smpl22_bvh"]) == len(by_format["joints_npy"]) == len(result["hits"])
    assert len(by_format["source_bvh"]) == 1, result["clips"]["skipped"]
    assert parse_bvh(by_format["source_bvh"][0]["path"]).fps == 120.0
    assert all(s["format"] == "source_bvh" for s in result["clips"]["skipped"])
    assert sorted(p.name for p in clips.iterdir()) == sorted(c["path"].rsplit("/", 1)[-1] for c in saved)
