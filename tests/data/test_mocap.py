"""Raw joint arrays (.npy / .npz) with declared skeleton, fps, units and up axis."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.data.mocap import read_mocap
from motion_retrieval.data.units import detect_units
from motion_retrieval.errors import MotionDataError
from motion_retrieval.features import resample


def _floored(joints: np.ndarray) -> np.ndarray:
    return joints - [0.0, joints[..., 1].min(), 0.0]


def test_npy_smpl22_at_20fps_in_metres_is_kept(tmp_path, sample_joints):
    np.save(tmp_path / "clip.npy", sample_joints)
    record = read_mocap(tmp_path / "clip.npy")
    assert record.id == "clip" and record.dataset == "mocap" and record.fps == 20.0
    np.testing.assert_allclose(record.joints, _floored(sample_joints), atol=1e-6)
    assert record.features.shape == (169, 263) and record.tags[0] == "skeleton:smpl22"


def test_npy_in_cm_z_up_at_60fps_is_converted(tmp_path, sample_joints):
    at_60 = resample(sample_joints, 20.0, 60.0)
    z_up = np.stack([at_60[..., 0], -at_60[..., 2], at_60[..., 1]], axis=-1) * 100.0  # Y-up -> Z-up, in cm
    np.save(tmp_path / "take.npy", z_up)
    record = read_mocap(tmp_path / "take.npy", fps=60.0, up="z")
    assert len(record.joints) == 170
    np.testing.assert_allclose(record.joints, _floored(sample_joints), atol=1e-4)


def test_npz_with_metadata_and_smplh_joints(tmp_path, sample_joints):
    extra = np.repeat(sample_joints[:, 20:22], 15, axis=1)  # 30 hand joints after the 22 body joints
    smplh = np.concatenate([sample_joints, extra], axis=1) * 1000.0  # (T, 52, 3) in mm
    np.savez(
        tmp_path / "amass_joints.npz", positions=smplh, mocap_framerate=np.array(20.0), skeleton="smplh", units="mm"
    )
    record = read_mocap(tmp_path / "amass_joints.npz")
    np.testing.assert_allclose(record.joints, _floored(sample_joints), atol=1e-5)
    assert record.tags[0] == "skeleton:smpl22"


def test_sidecar_captions(tmp_path, sample_joints):
    np.save(tmp_path / "clip.npy", sample_joints)
    (tmp_path / "clip.txt").write_text("a person walks.\nthen sits#then/ADV sit/VERB#2.0#4.0\n")
    captions = read_mocap(tmp_path / "clip.npy").captions
    assert [c.text for c in captions] == ["a person walks.", "then sits"] and captions[1].start == 2.0


@pytest.mark.parametrize(
    ("scale", "unit"), [(1.0, "m"), (100.0, "cm"), (1000.0, "mm"), (1 / 0.0254, "in"), (0.45 / 0.0254, "cmu")]
)
def test_detect_units_by_leg_length(sample_joints, scale, unit):
    assert detect_units(sample_joints * scale) == unit


def test_bad_mocap_files(tmp_path, sample_joints):
    np.save(tmp_path / "coco.npy", np.zeros((50, 17, 3)))
    with pytest.raises(MotionDataError, match="unknown skeleton for 17 joints"):
        read_mocap(tmp_path / "coco.npy")
    np.savez(tmp_path / "amass.npz", poses=np.zeros((50, 156)), trans=np.zeros((50, 3)))
    with pytest.raises(MotionDataError, match="SMPL pose parameters"):
        read_mocap(tmp_path / "amass.npz")
    np.save(tmp_path / "one.npy", sample_joints[:1])
    with pytest.raises(MotionDataError, match="too short"):
        read_mocap(tmp_path / "one.npy")
    bad = sample_joints.copy()
    bad[3, 4] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    with pytest.raises(MotionDataError, match=r"inf.npy: 1 frame\(s\) with NaN/inf"):
        read_mocap(tmp_path / "inf.npy")
    np.save(tmp_path / "flat.npy", np.zeros((30, 22 * 3)))
    with pytest.raises(MotionDataError, match=r"shape \(T, J, 3\)"):
        read_mocap(tmp_path / "flat.npy")
    with pytest.raises(MotionDataError, match="unknown up axis 'w'"):
        np.save(tmp_path / "ok.npy", sample_joints)
        read_mocap(tmp_path / "ok.npy", up="w")
