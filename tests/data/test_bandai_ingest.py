"""A real mocap library through the CLI as a new user would run it: export the shipped model, ingest all 174
Bandai-Namco takes into a Milvus Lite file with no joint map, then search by text.

Precision@10 against the ``bow`` label is printed (``pytest -s``), not asserted: it measures the model, which is
not this test's subject; the mapping's part is that every take is ingested, upright and labelled by its rig."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from motion_retrieval.cli import main

pytestmark = pytest.mark.slow


def run(capsys, *argv) -> tuple[int, dict]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, json.loads(out)


@pytest.fixture(scope="module")
def shipped_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("repository") / "model_repository"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", "--out", str(out), "--json"]) == 0
    return out


def test_ingest_the_whole_bandai_folder_and_search_it(capsys, tmp_path, bandai_dir, shipped_model):
    capsys.readouterr()
    base = ["--milvus", tmp_path / "bandai.db", "--model-repository", shipped_model]
    _, summary = run(capsys, "ingest", bandai_dir, *base, "--json", "--no-progress")
    assert summary["skipped"] == [] and summary["failed"] == []
    assert summary["records"] == 174 and summary["windows"] >= 174 and summary["ingested"] == summary["windows"]
    assert summary["stats"]["motions"] == summary["windows"]

    _, result = run(capsys, "search", "--text", "a person bows", *base, "--top-k", "10", "--json")
    hits = result["hits"]
    assert len(hits) == 10
    assert all(h["tags"][:2] == ["rig:auto", "rig-method:auto"] and "rig-up:y" in h["tags"] for h in hits)
    bows = sum("_bow_" in h["name"] for h in hits)
    with capsys.disabled():
        print(f"\nbandai-namco-1, 'a person bows', model {result['model_id']}: precision@10 = {bows / 10:.1f} "
              f"({[h['name'] for h in hits]})")


def test_hostile_files_are_skipped_one_by_one_and_the_rest_ingested(capsys, tmp_path, cmu_bvh_dir, sample_joints,
                                                                   shipped_model):
    from test_hostile_files import hostile_files

    folder = tmp_path / "mixed"
    folder.mkdir()
    problems = hostile_files(folder, sample_joints)
    (folder / "good.bvh").write_bytes((cmu_bvh_dir / "131_03.bvh").read_bytes())
    capsys.readouterr()
    _, summary = run(capsys, "ingest", folder, "--milvus", tmp_path / "m.db", "--model-repository", shipped_model,
                     "--json", "--no-progress")
    assert summary["records"] == 1 and summary["ingested"] == summary["windows"] >= 1 and summary["failed"] == []
    skipped = {(item.get("source") or item.get("path")).rsplit("/", 1)[-1].split(":")[0]: item["reason"]
               for item in summary["skipped"]}
    assert sorted(skipped) == sorted(problems)
