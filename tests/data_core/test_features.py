"""Behaviour of the feature pipeline beyond the golden file: round trips, invariances, resampling, errors, KIT."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.errors import MotionDataError
from motion_retrieval.features import (
    FEATURE_DIM,
    FOOT_CONTACT,
    FPS,
    LOCAL_VEL,
    RIC,
    ROOT_LIN_VEL,
    ROOT_ROT_VEL,
    ROOT_Y,
    ROT6D,
    canonicalize_joints,
    feature_dim,
    feature_layout,
    features_to_joints,
    forward_kinematics,
    inverse_kinematics,
    joints_to_features,
    resample,
    retarget,
)
from motion_retrieval.rotations import qrot, y_rotation_quaternion
from motion_retrieval.skeleton import KIT21, SMPL22, bone_lengths


def _moved(joints: np.ndarray, yaw: float, shift: tuple[float, float, float], scale: float = 1.0) -> np.ndarray:
    """The same motion turned about Y, scaled and translated: (T, J, 3) -> (T, J, 3)."""
    q = np.broadcast_to(y_rotation_quaternion(yaw), joints.shape[:-1] + (4,))
    return qrot(q, joints.astype(np.float64) * scale) + np.asarray(shift)


def test_layout_constants():
    assert (FEATURE_DIM, FPS) == (263, 20.0)
    assert [(s.start, s.stop) for s in (ROOT_ROT_VEL, ROOT_LIN_VEL, ROOT_Y, RIC, ROT6D, LOCAL_VEL, FOOT_CONTACT)] == [
        (0, 1), (1, 3), (3, 4), (4, 67), (67, 193), (193, 259), (259, 263)]
    kit = feature_layout(21)
    assert kit.dim == feature_dim(21) == 251 == KIT21.feature_dim
    assert (kit.ric, kit.rot6d, kit.local_vel, kit.foot_contact) == (
        slice(4, 64), slice(64, 184), slice(184, 247), slice(247, 251))
    assert sum(s.stop - s.start for s in kit.groups().values()) == 251


def test_round_trip_joints_features_joints(hml_joints):
    """features_to_joints inverts joints_to_features on the canonical (retargeted, floored, +Z) motion."""
    moved = _moved(hml_joints, yaw=2.1, shift=(3.0, 0.4, -1.5), scale=1.08)
    features = joints_to_features(moved)
    assert features.shape == (169, FEATURE_DIM) and features.dtype == np.float32
    recovered = features_to_joints(features)
    canonical = canonicalize_joints(moved)
    np.testing.assert_allclose(recovered, canonical[:-1], rtol=0, atol=2e-5)
    # Retargeting restored the reference skeleton and the first frame starts at the origin, on the floor.
    np.testing.assert_allclose(bone_lengths(recovered)[:, 1:], np.broadcast_to(
        SMPL22.reference_bone_lengths[1:], (169, 21)), atol=2e-5)
    np.testing.assert_allclose(recovered[0, 0, [0, 2]], 0.0, atol=1e-6)
    assert abs(canonical[..., 1].min()) < 1e-9


def test_features_do_not_depend_on_placement_heading_or_size(hml_joints):
    reference = joints_to_features(hml_joints, dtype=np.float64)
    moved = joints_to_features(_moved(hml_joints, yaw=-2.7, shift=(-5.0, 1.0, 7.0), scale=0.9), dtype=np.float64)
    np.testing.assert_allclose(moved, reference, rtol=0, atol=1e-5)


def test_higher_frame_rates_are_resampled_to_20_fps(hml_joints):
    reference = joints_to_features(hml_joints, dtype=np.float64)
    # 60 fps made by interpolating the 20 fps motion: going back to 20 fps picks the original frames exactly.
    at_60 = resample(hml_joints.astype(np.float64), 20.0, 60.0)
    assert at_60.shape[0] == 3 * 169 + 1
    np.testing.assert_allclose(joints_to_features(at_60, fps=60.0, dtype=np.float64), reference, rtol=0, atol=1e-6)
    # 30 fps: the round trip 20 -> 30 -> 20 blurs a little, so only the smooth groups are compared.
    at_30 = resample(hml_joints.astype(np.float64), 20.0, 30.0)
    features_30 = joints_to_features(_moved(at_30, 1.0, (1.0, 0.0, 2.0)), fps=30.0, dtype=np.float64)
    assert features_30.shape == (168, FEATURE_DIM)  # 254 frames at 30 fps end 1/60 s before the source does
    np.testing.assert_allclose(features_30[:, RIC], reference[:168, RIC], atol=0.05)
    np.testing.assert_allclose(features_30[:, ROOT_Y], reference[:168, ROOT_Y], atol=0.01)


def test_resample_is_linear_interpolation_in_time():
    x = np.arange(7, dtype=np.float64)[:, None] * np.array([1.0, -2.0])  # (7, 2), linear in time
    y = resample(x, 30.0, 20.0)  # times 0, 1/20, ..., 6/30 -> 5 frames
    assert y.shape == (5, 2)
    np.testing.assert_allclose(y[:, 0], np.arange(5) * 1.5)
    np.testing.assert_allclose(resample(x, 20.0, 20.0), x)
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0.0, 20.0)


def test_retarget_equals_humanml3d_ik_then_fk(hml_joints):
    """HumanML3D retargets by IK, then FK with the reference offsets; our direct form gives the same joints."""
    source = _moved(hml_joints[:40], yaw=0.5, shift=(0.2, 0.1, 0.3), scale=1.15)
    source[:, 16:] *= np.array([1.0, 1.02, 1.0])  # uneven arms: lengths differ from frame to frame
    direct = retarget(source)
    quats = inverse_kinematics(source)  # (T, J, 4)
    legs = bone_lengths(source[0])[list(SMPL22.leg_bones)].sum()
    scale = np.asarray(SMPL22.reference_bone_lengths)[list(SMPL22.leg_bones)].sum() / legs
    via_rotations = forward_kinematics(quats, source[:, 0] * scale)
    np.testing.assert_allclose(direct, via_rotations, rtol=0, atol=1e-9)


def test_six_d_rotations_rebuild_the_pose(hml_joints_171):
    """The 6D block is a full pose: FK of the decoded local rotations (with the root facing) gives the RIC."""
    from motion_retrieval.rotations import cont6d_to_matrix, matrix_to_quaternion

    features = joints_to_features(hml_joints_171, dtype=np.float64)
    quats = inverse_kinematics(canonicalize_joints(hml_joints_171), smooth_forward=True, identity_first_frame=True)
    local = matrix_to_quaternion(cont6d_to_matrix(features[:, ROT6D].reshape(-1, 21, 6)))  # (T, 21, 4)
    local = np.concatenate([quats[:-1, :1], local], axis=1)  # (T, 22, 4)
    joints = forward_kinematics(local, np.zeros((len(local), 3)))  # root-relative, world heading
    joints = qrot(quats[:-1, :1], joints)  # turned to face +Z, as the RIC block is
    ric = features[:, RIC].reshape(-1, 21, 3)
    np.testing.assert_allclose(joints[:, 1:, [0, 2]], ric[..., [0, 2]], atol=2e-5)
    np.testing.assert_allclose(joints[:, 1:, 1] + features[:, ROOT_Y], ric[..., 1], atol=2e-5)


def test_kit21_gives_251_dims_and_round_trips():
    rng = np.random.default_rng(0)
    frames = 30
    angles = np.cumsum(rng.normal(0, 0.03, (frames, 21, 3)), axis=0)  # smooth random joint rotations
    from motion_retrieval.rotations import axis_angle_to_quaternion

    local = axis_angle_to_quaternion(angles)  # (T, 21, 4)
    root = np.stack([np.linspace(0, 800, frames), np.full(frames, 950.0), np.linspace(0, 300, frames)], -1)
    joints = forward_kinematics(local, root, KIT21) * 1.05  # (T, 21, 3) mm, a slightly bigger actor
    features = joints_to_features(joints, skeleton="kit21")
    assert features.shape == (frames - 1, 251)
    recovered = features_to_joints(features, skeleton=KIT21)
    np.testing.assert_allclose(recovered, canonicalize_joints(joints, KIT21)[:-1], rtol=0, atol=5e-3)  # mm
    np.testing.assert_allclose(bone_lengths(recovered, KIT21)[:, 1:],
                               np.broadcast_to(KIT21.reference_bone_lengths[1:], (frames - 1, 20)), atol=5e-3)
    # KIT-ML runs at 12.5 fps: 25 fps input halves the frame count.
    assert joints_to_features(joints, fps=25.0, skeleton=KIT21).shape == (14, 251)


def test_foot_contacts_follow_foot_speed(hml_joints):
    features = joints_to_features(hml_joints, feet_threshold=0.002)
    assert set(np.unique(features[:, FOOT_CONTACT])) <= {0.0, 1.0}
    assert np.all(joints_to_features(hml_joints, feet_threshold=10.0)[:, FOOT_CONTACT] == 1.0)
    assert np.all(joints_to_features(hml_joints, feet_threshold=0.0)[:, FOOT_CONTACT] == 0.0)


@pytest.mark.parametrize(
    ("joints", "message"),
    [
        (np.zeros((10, 21, 3)), r"shape \(T, 22, 3\)"),
        (np.zeros((10, 22)), r"shape \(T, 22, 3\)"),
        (np.zeros((1, 22, 3)), "at least 2 frames"),
        ("not numbers", "not numeric|shape"),
    ],
)
def test_bad_joint_arrays_raise_motion_data_error(joints, message):
    with pytest.raises(MotionDataError, match=message) as info:
        joints_to_features(joints, path="clip.npy")
    assert str(info.value).startswith("clip.npy: ")


def test_nan_inf_and_degenerate_motions_are_refused(hml_joints):
    broken = hml_joints.copy()
    broken[5, 3, 1] = np.nan
    with pytest.raises(MotionDataError, match="NaN or inf .*frame 5, joint 3"):
        joints_to_features(broken)
    collapsed = hml_joints.copy()
    collapsed[:, 4] = collapsed[:, 1]  # left knee on the left hip
    with pytest.raises(MotionDataError, match="left_hip -> left_knee has zero length"):
        joints_to_features(collapsed)
    with pytest.raises(MotionDataError, match="too short"):
        joints_to_features(hml_joints[:2], fps=60.0)
    with pytest.raises(MotionDataError, match="frame rate"):
        joints_to_features(hml_joints, fps=-1.0)


def test_bad_feature_arrays_raise_motion_data_error(hml_features):
    with pytest.raises(MotionDataError, match="263"):
        features_to_joints(hml_features[:, :251])
    with pytest.raises(MotionDataError, match="NaN"):
        features_to_joints(np.full((3, 263), np.inf))
