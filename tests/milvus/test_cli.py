"""``motion-retrieval ingest`` / ``search`` end to end: real exported towers, real data files, a Milvus Lite file."""

from __future__ import annotations

import json
import shutil

import pytest

from motion_retrieval.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def real_data(tmp_path, humanml3d_sample, cmu_bvh_dir):
    """The real HumanML3D motion (8.5 s) and one real CMU take (10.35 s at 20 fps: two 10 s windows)."""
    shutil.copy(cmu_bvh_dir / "131_02.bvh", tmp_path / "131_02.bvh")
    return humanml3d_sample, tmp_path / "131_02.bvh"


def test_ingest_and_search_locally(capsys, tmp_path, model_repository, real_data):
    hml, bvh = real_data
    db = tmp_path / "m.db"
    base = ["--milvus", db, "--model-repository", model_repository]
    code, out, _ = run(capsys, "ingest", hml, bvh, *base, "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["records"], summary["windows"], summary["ingested"]) == (2, 3, 3)
    assert summary["stats"]["motions"] == 3 and summary["stats"]["model_id"].startswith("mr-")
    assert summary["stats"]["motions_collection"] == f"motions_{summary['model_id'].replace('-', '_')}"

    code, out, _ = run(capsys, "ingest", hml, bvh, *base, "--json")  # idempotent
    assert code == 0 and (json.loads(out)["ingested"], json.loads(out)["unchanged"]) == (0, 3)

    code, out, _ = run(capsys, "search", "--text", "a person walks", *base, "--top-k", "5", "--every-window", "--json")
    result = json.loads(out)
    assert code == 0 and len(result["hits"]) == 3 and result["query"]["text"] == "a person walks"
    scores = [h["score"] for h in result["hits"]]
    assert scores == sorted(scores, reverse=True)
    windows = sorted((h["start_s"], h["end_s"]) for h in result["hits"] if h["dataset"] == "bvh")
    assert windows == [(0.0, 10.0), (0.35, 10.35)]

    code, out, _ = run(capsys, "search", "--text", "x", *base, "--dataset", "humanml3d", "--json")
    assert [h["name"] for h in json.loads(out)["hits"]] == ["012314"]
    code, out, _ = run(capsys, "search", "--text", "x", *base, "--tag", "window", "--min-duration", "9", "--json")
    assert {h["dataset"] for h in json.loads(out)["hits"]} == {"bvh"}

    motion = hml / "new_joint_vecs" / "012314.npy"
    code, out, _ = run(capsys, "search", "--motion", motion, "--target", "motions", *base, "--top-k", "1", "--json")
    top = json.loads(out)["hits"][0]
    assert top["name"] == "012314" and top["score"] == pytest.approx(1.0, abs=1e-4)
    code, out, _ = run(capsys, "search", "--motion-id", top["id"], *base, "--json")
    assert top["id"] not in [h["id"] for h in json.loads(out)["hits"]]

    # Captions by default for --motion (these real files carry none: the hits are tested in test_store_lite).
    code, out, _ = run(capsys, "search", "--motion", motion, *base, "--json")
    assert code == 0 and json.loads(out)["query"] == {"target": "captions", "top_k": 10, "filters": {},
                                                      "keep_duplicates": False, "motion": str(motion)}
    code, out, _ = run(capsys, "search", "--motion", motion, *base, "--keep-duplicates", "--json")
    assert code == 0 and json.loads(out)["query"]["keep_duplicates"] is True

    preview = tmp_path / "preview.png"
    code, out, _ = run(capsys, "search", "--text", "a person walks", *base, "--top-k", "2", "--preview", preview)
    assert code == 0 and preview.stat().st_size > 1000 and "preview:" in out and "  1.0" not in out
    assert out.splitlines()[1].strip().startswith("1  ")  # a human-readable table, rank first


def test_cli_errors_are_clear(capsys, tmp_path, model_repository, humanml3d_sample):
    code, _, err = run(capsys, "ingest", humanml3d_sample, "--milvus", "http://127.0.0.1:1", "--timeout", "2",
                       "--model-repository", model_repository)
    assert code == 1 and "Milvus at 'http://127.0.0.1:1' is unavailable" in err and "running" in err
    code, _, err = run(capsys, "search", "--text", "x", "--milvus", tmp_path / "empty.db", "--model-repository",
                       model_repository)
    assert code == 1 and "no collection 'motions_mr_" in err and "ingest" in err
    code, _, err = run(capsys, "search", "--text", "x", "--model-repository", tmp_path / "nothing",
                       "--milvus", tmp_path / "m.db")
    assert code == 1 and "not an exported model repository" in err
    code, _, err = run(capsys, "search", "--text", "x", "--milvus", tmp_path / "m.db", "--model-repository",
                       model_repository, "--dataset", 'x" or 1==1 or "')
    assert code == 1 and "filter dataset value" in err and "not allowed" in err


def test_search_groups_takes_pages_and_saves_clips(capsys, tmp_path, model_repository, real_data):
    from motion_retrieval.data.bvh import parse_bvh

    hml, bvh = real_data
    db = tmp_path / "m.db"
    base = ["--milvus", db, "--model-repository", model_repository]
    assert run(capsys, "ingest", hml, bvh, *base, "--json")[0] == 0
    assert (tmp_path / "m.db.previews").is_dir()  # a Lite file keeps its previews beside it
    code, out, _ = run(capsys, "search", "--text", "a person walks", *base, "--json")
    hits = json.loads(out)["hits"]
    assert code == 0 and sorted(h["dataset"] for h in hits) == ["bvh", "humanml3d"]  # one hit per take
    second = json.loads(run(capsys, "search", "--text", "a person walks", *base, "--top-k", "1", "--offset", "1",
                            "--json")[1])
    assert [h["id"] for h in second["hits"]] == [hits[1]["id"]] and second["query"]["offset"] == 1

    clips = tmp_path / "clips"
    code, out, _ = run(capsys, "search", "--text", "a person walks", *base, "--save-clips", clips, "--json")
    saved = json.loads(out)["clips"]
    assert code == 0
    formats = sorted(c["format"] for c in saved["saved"])
    assert formats == ["joints_npy", "joints_npy", "smpl22_bvh", "smpl22_bvh", "source_bvh"]
    assert [c["id"] for c in saved["skipped"]] == [h["id"] for h in hits if h["dataset"] == "humanml3d"]
    source = next(c["path"] for c in saved["saved"] if c["format"] == "source_bvh")
    assert parse_bvh(source).fps == 120.0 and parse_bvh(source).names == parse_bvh(bvh).names
    for clip in saved["saved"]:
        if clip["format"] == "smpl22_bvh":
            assert parse_bvh(clip["path"]).fps == 20.0
    code, out, _ = run(capsys, "search", "--text", "a person walks", *base, "--save-clips", clips)
    assert code == 0 and f"clips: 5 files in {clips}" in out
