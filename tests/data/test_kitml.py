"""KIT-ML (Guo's format) onto SMPL-22: joint map, mm -> m, 12.5 -> 20 fps, left/right decided by geometry."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.data import joint_maps
from motion_retrieval.data.joint_maps import kit_to_smpl22
from motion_retrieval.data.kitml import KitMLFolder, is_kitml_folder, read_kitml
from motion_retrieval.data.units import leg_length
from motion_retrieval.errors import MotionDataError


def _aligned(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| after removing a constant offset (the readers floor and may shift)."""
    return np.abs((a - a[:1, :1]) - (b - b[:1, :1]))


@pytest.mark.parametrize("mmm_left_is_smpl_left", [False, True])
def test_kit_folder_reads_as_smpl22_at_20fps_in_metres(make_kitml, sample_joints, mmm_left_is_smpl_left):
    root = make_kitml(mmm_left_is_smpl_left)
    assert is_kitml_folder(root)
    records = read_kitml(root)
    assert [r.id for r in records] == ["00001", "00002", "M00001"]
    record = records[0]
    assert record.dataset == "kitml" and record.fps == 20.0 and record.split == "train"
    assert record.joints.shape[1:] == (22, 3) and record.features.shape == (len(record.joints) - 1, 263)
    assert np.isfinite(record.features).all()
    # 170 frames at 20 fps -> 12.5 fps -> back to 20 fps loses at most a frame or two at the end.
    assert abs(len(record.joints) - len(sample_joints)) <= 2
    assert 0.7 < leg_length(record.joints) < 0.95  # millimetres detected and converted
    assert record.joints[..., 1].min() == pytest.approx(0.0, abs=1e-6)  # floored
    # Left is left whichever way the MMM labels were laid out: the SMPL left wrist follows the real left wrist.
    n = min(len(record.joints), len(sample_joints)) - 2
    for joint, twin in ((20, 21), (21, 20), (7, 8), (8, 7)):  # wrists and ankles
        same = _aligned(record.joints[:n, [joint]], sample_joints[:n, [joint]])
        other = _aligned(record.joints[:n, [joint]], sample_joints[:n, [twin]])
        assert same.mean() < 0.01  # the 12.5 fps round trip smooths the fastest frames (up to 10 cm) only
        assert other.mean() > 0.05  # and the other side is far off
    assert joint_maps.facing_agreement(record.joints) > 0.5
    assert record.tags[0] == ("skeleton:kit21" if mmm_left_is_smpl_left else "skeleton:kit21-swapped")


def test_split_and_bad_file_handling(make_kitml):
    root = make_kitml()
    assert [r.id for r in read_kitml(root, "test")] == ["M00001"]
    np.save(root / "new_joints" / "00002.npy", np.zeros((30, 22, 3), np.float32))
    errors: list[MotionDataError] = []
    records = read_kitml(root, "train", errors=errors)
    assert [r.id for r in records] == ["00001"]
    assert "joints must have shape (T, 21, 3)" in str(errors[0])


def test_feature_cache_is_used_when_it_matches(make_kitml):
    root = make_kitml()
    folder = KitMLFolder(root)
    record = folder.load("00001")
    cache = folder.cache_path("00001")
    cache.parent.mkdir(parents=True)
    marked = record.features.copy()
    marked[0, 0] = 123.0
    np.save(cache, marked)
    assert folder.load("00001").features[0, 0] == 123.0
    np.save(cache, marked[:10])  # stale: recomputed
    assert folder.load("00001").features[0, 0] == pytest.approx(record.features[0, 0])


def test_kit_folder_with_only_251d_features_recovers_joints(make_kitml, tmp_path):
    from motion_retrieval.features import joints_to_features

    root = make_kitml()
    joints21 = np.load(root / "new_joints" / "00001.npy")
    vec_root = tmp_path / "kit-vecs"
    (vec_root / "new_joint_vecs").mkdir(parents=True)
    np.save(vec_root / "new_joint_vecs" / "00001.npy", joints_to_features(joints21, skeleton="kit21"))
    assert is_kitml_folder(vec_root)
    record = KitMLFolder(vec_root).load("00001")
    assert record.features.shape[1] == 263 and np.isfinite(record.features).all()
    assert 0.6 < leg_length(record.joints) < 1.0


def test_kit_to_smpl22_swaps_mirrored_labels(sample_joints, kit_from_smpl):
    for layout in (True, False):
        smpl, name = kit_to_smpl22(kit_from_smpl(sample_joints, layout))
        np.testing.assert_allclose(smpl[:, 20], sample_joints[:, 20], atol=1e-6)  # left wrist
        # The collar is interpolated halfway between the neck base and the shoulder.
        np.testing.assert_allclose(smpl[:, 13], 0.5 * (sample_joints[:, 12] + sample_joints[:, 16]), atol=1e-6)
        assert name == ("kit21" if layout else "kit21-swapped")
