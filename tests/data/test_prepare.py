"""prepare: validate a dataset folder, compute what is missing, report every bad file and process the rest."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from motion_retrieval.cli import data_commands
from motion_retrieval.data.humanml3d import read_humanml3d, write_motion, write_split
from motion_retrieval.data.prepare import prepare_folder
from motion_retrieval.data.record import Caption


@pytest.fixture
def messy_folder(tmp_path, sample_joints):
    """A HumanML3D folder with joints only: three good clips and one of every bad input."""
    root = tmp_path / "messy"
    good = ["000001", "000002", "000003"]
    for n, motion_id in enumerate(good):
        write_motion(root, motion_id, joints=sample_joints[n:], captions=[Caption("a person walks.")])
    write_motion(
        root, "nan", joints=np.where(np.arange(170)[:, None, None] == 9, np.nan, sample_joints), captions=[Caption("x")]
    )
    write_motion(root, "joints21", joints=sample_joints[:, :21], captions=[Caption("x")])
    write_motion(root, "short", joints=sample_joints[:20], captions=[Caption("x")])  # 1 s < Guo's 2 s
    write_motion(root, "nocaption", joints=sample_joints)
    write_motion(root, "badline", joints=sample_joints, captions=[Caption("x")])
    (root / "texts" / "badline.txt").write_text("a caption without fields\n")
    write_motion(root, "truncated", joints=sample_joints, captions=[Caption("x")])
    data = (root / "new_joints" / "truncated.npy").read_bytes()
    (root / "new_joints" / "truncated.npy").write_bytes(data[:1000])
    np.save(root / "new_joints" / "text.npy", np.array(["not", "numbers"]))
    write_split(root, "train", [*good[:2], "nan", "joints21", "short", "nocaption", "badline", "truncated", "text"])
    write_split(root, "test", [good[2], "ghost"])  # "ghost" has no motion file; val.txt is missing
    return root


EXPECTED_PROBLEMS = {
    "val.txt": "missing split file",
    "nan.npy": "NaN/inf",
    "joints21.npy": "joints must have shape (T, 22, 3)",
    "short.npy": "too short",
    "nocaption.txt": "caption file missing",
    "badline.txt": "caption line has no '#'",
    "truncated.npy": "cannot read .npy",
    "text.npy": "non-numeric array",
    "ghost.npy": "no motion file for id 'ghost'",
}


def test_every_bad_file_is_reported_and_the_rest_prepared(messy_folder, sample_joints):
    report = prepare_folder(messy_folder)
    assert report.dialect == "humanml3d" and report.motions == 11 and report.ok == 3 and report.written == 3
    problems = {bad.path.rsplit("/", 1)[-1].split(":")[0]: bad.problem for bad in report.bad}
    assert set(problems) == set(EXPECTED_PROBLEMS)
    for name, problem in EXPECTED_PROBLEMS.items():
        assert problem in problems[name], name
    assert report.splits == {"train": 9, "test": 2}
    # Features written for the good clips, statistics from the good train clips only (000001, 000002).
    assert sorted(p.name for p in (messy_folder / "new_joint_vecs").iterdir()) == [
        "000001.npy",
        "000002.npy",
        "000003.npy",
    ]
    assert report.stats_written
    mean = np.load(messy_folder / "Mean.npy")
    train = np.concatenate([np.load(messy_folder / "new_joint_vecs" / f"00000{i}.npy") for i in (1, 2)])
    np.testing.assert_allclose(mean, train.mean(axis=0), atol=1e-5)
    assert np.load(messy_folder / "Std.npy").shape == (263,)
    # The folder now reads with its features.
    assert [r.features.shape for r in read_humanml3d(messy_folder, "test", errors=[])] == [(167, 263)]  # 000003


def test_second_run_writes_nothing_and_dry_run_writes_nothing(messy_folder):
    assert prepare_folder(messy_folder, write=False).written == 0
    assert not (messy_folder / "new_joint_vecs").exists() and not (messy_folder / "Mean.npy").exists()
    first = prepare_folder(messy_folder)
    again = prepare_folder(messy_folder)
    assert (first.written, again.written) == (3, 0) and not again.stats_written and again.ok == 3


def test_kitml_folder_gets_smpl22_cache_and_stats(make_kitml):
    root = make_kitml()
    report = prepare_folder(root)
    assert report.dialect == "kitml" and report.ok == 3 and report.written == 3
    assert np.load(root / "smpl22" / "new_joint_vecs" / "00001.npy").shape[1] == 263
    assert np.load(root / "smpl22" / "Mean.npy").shape == (263,)
    assert not (root / "Mean.npy").exists()  # Guo's 251-d statistics are not ours to write


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    data_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_prepare_json(messy_folder, capsys):
    assert _cli("prepare", str(messy_folder), "--json") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one JSON object
    report = json.loads(out)
    assert report["ok"] == 3 and report["num_bad"] == len(EXPECTED_PROBLEMS) and report["written"] == 3
    assert {"path", "problem"} == set(report["bad"][0])
    assert _cli("prepare", str(messy_folder), "--json", "--strict") == 1


def test_cli_prepare_text(messy_folder, capsys):
    assert _cli("prepare", str(messy_folder), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "3/11 motions ok" in out and "9 bad:" in out and "badline.txt:1: caption line has no '#'" in out
