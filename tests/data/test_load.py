"""load_path: detect what a path is, read it, skip and report bad files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from motion_retrieval.data.load import detect_format, load_path
from motion_retrieval.errors import MotionDataError


def test_detects_every_kind(tmp_path, make_humanml3d, make_kitml, cmu_bvh_dir, sample_joints):
    assert detect_format(make_humanml3d()) == "humanml3d"
    assert detect_format(make_kitml()) == "kitml"
    assert detect_format(cmu_bvh_dir) == "files"
    assert detect_format(cmu_bvh_dir / "131_01.bvh") == "bvh"
    np.save(tmp_path / "x.npy", sample_joints)
    assert detect_format(tmp_path / "x.npy") == "mocap"
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "annotations.json").write_text("{}")
    assert detect_format(tmp_path / "ann") == "annotations"
    with pytest.raises(MotionDataError, match="unsupported file type .txt"):
        (tmp_path / "notes.txt").write_text("hi")
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(MotionDataError, match="no such file or folder"):
        detect_format(tmp_path / "nothing")


def test_dataset_folders_and_splits(make_humanml3d, make_kitml):
    assert [r.id for r in load_path(make_humanml3d(), split="train")] == ["000001", "000002"]
    assert {r.dataset for r in load_path(make_kitml())} == {"kitml"}


def test_folder_of_files_skips_bad_ones_and_reports_them(tmp_path, cmu_bvh_dir, sample_joints):
    folder = tmp_path / "takes"
    (folder / "session2").mkdir(parents=True)
    shutil.copy(cmu_bvh_dir / "131_03.bvh", folder / "131_03.bvh")
    np.save(folder / "session2" / "clip.npy", sample_joints)
    np.savez(folder / "session2" / "clip2.npz", joints=sample_joints, fps=20.0)
    (folder / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    np.save(folder / "Mean.npy", np.zeros(263))  # statistics beside motions are not motions
    errors: list[MotionDataError] = []
    records = list(load_path(folder, errors=errors))
    assert [r.id for r in records] == ["131_03", "session2/clip", "session2/clip2"]
    assert [r.dataset for r in records] == ["bvh", "mocap", "mocap"]
    assert len(errors) == 1 and "broken.bvh" in str(errors[0])
    with pytest.raises(MotionDataError, match="broken.bvh"):
        list(load_path(folder))  # without an error list the first bad file raises


def test_windows_for_long_takes(tmp_path, sample_joints):
    long = np.concatenate([sample_joints] * 3)  # 25.5 s, with jumps between repeats (fine for windowing)
    np.save(tmp_path / "long.npy", long)
    records = list(load_path(tmp_path / "long.npy", window_seconds=10.0, stride_seconds=5.0))
    assert [r.id for r in records] == [
        "long@0-10000",
        "long@5000-15000",
        "long@10000-20000",
        "long@15000-25000",
        "long@15450-25450",
    ]
    assert all(r.features.shape == (200, 263) for r in records)


def test_annotations_folder_and_dataset_level_errors(tmp_path, make_humanml3d, sample_features):
    root = tmp_path / "ann"
    (root / "motions").mkdir(parents=True)
    np.save(root / "motions" / "a.npy", sample_features)
    (root / "annotations.json").write_text(
        json.dumps({"k": {"path": "a", "duration": 8.5, "annotations": [{"text": "t", "start": 0, "end": 3}]}})
    )
    assert [r.id for r in load_path(root)] == ["k"]
    errors: list[MotionDataError] = []
    assert list(load_path(make_humanml3d(), split="nsim_test", errors=errors)) == []
    assert "split file for 'nsim_test' not found" in str(errors[0])
    errors.clear()
    assert list(load_path(tmp_path / "empty-does-not-exist", errors=errors)) == []
    assert "no such file or folder" in str(errors[0])
