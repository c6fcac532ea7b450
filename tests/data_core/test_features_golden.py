"""Golden tests of the feature pipeline against the real HumanML3D motion 012314 (both directions)."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.features import (
    FEATURE_DIM,
    FOOT_CONTACT,
    LOCAL_VEL,
    RIC,
    ROOT_LIN_VEL,
    ROOT_ROT_VEL,
    ROOT_Y,
    ROT6D,
    features_to_joints,
    joints_to_features,
)

# Per-group tolerances reached against the published file (float32 there, float64 here). HumanML3D computed its
# quaternions in float32 torch; the 6D rotations of near-straight limbs are the most sensitive (measured 7.8e-6),
# RIC positions carry the 7-decimal rounding of our reference bone lengths when retargeting (measured 1.2e-6).
GOLDEN_TOLERANCE = {
    "root_rot_vel": (ROOT_ROT_VEL, 1e-6),
    "root_lin_vel": (ROOT_LIN_VEL, 1e-6),
    "root_y": (ROOT_Y, 1e-6),
    "ric": (RIC, 5e-6),
    "rot6d": (ROT6D, 3e-5),
    "local_vel": (LOCAL_VEL, 5e-6),
    "foot_contact": (FOOT_CONTACT, 0.0),
}


def test_features_to_joints_reproduces_new_joints(hml_joints, hml_features):
    joints = features_to_joints(hml_features)
    assert joints.shape == (170, 22, 3) and joints.dtype == np.float32
    np.testing.assert_allclose(joints, hml_joints, rtol=0, atol=1e-6)


def test_features_to_joints_accepts_a_batch(hml_features):
    batch = np.stack([hml_features, hml_features[::-1].copy()])  # (2, 170, 263)
    joints = features_to_joints(batch)
    assert joints.shape == (2, 170, 22, 3)
    np.testing.assert_array_equal(joints[0], features_to_joints(hml_features))


@pytest.mark.parametrize("retarget", [True, False])
def test_joints_to_features_reproduces_all_170_frames(hml_joints_171, hml_features, retarget):
    """From the 171 source positions (new_joints + the position the last velocity points to) every frame
    of the published features comes back."""
    features = joints_to_features(hml_joints_171, retarget=retarget, dtype=np.float64)
    assert features.shape == (170, FEATURE_DIM)
    for name, (group, tol) in GOLDEN_TOLERANCE.items():
        err = np.abs(features[:, group] - hml_features[:, group]).max()
        assert err <= tol, f"{name}: max error {err:.3g} > {tol:g}"


def test_joints_to_features_on_the_169_shared_frames(hml_joints, hml_features):
    """Straight from new_joints (170 positions -> 169 frames). The facing direction is smoothed with a Gaussian
    of sigma 20 frames (radius 80), so the one source frame new_joints lacks shifts the last ~80 frames slightly;
    the first 89 frames are outside its reach and match to float precision."""
    features = joints_to_features(hml_joints, dtype=np.float64)
    assert features.shape == (169, FEATURE_DIM)
    reach = 169 - 80
    for name, (group, tol) in GOLDEN_TOLERANCE.items():
        err = np.abs(features[:reach, group] - hml_features[:reach, group]).max()
        assert err <= tol, f"{name}: max error {err:.3g} > {tol:g} before the smoothing boundary"
    # Beyond it the difference is the missing frame's pull on the smoothed facing: small, and contacts identical.
    np.testing.assert_allclose(features, hml_features[:169], rtol=0, atol=2e-2)
    np.testing.assert_array_equal(features[:, FOOT_CONTACT], hml_features[:169, FOOT_CONTACT])


def test_first_frame_root_rotation_is_identity(hml_joints_171, hml_features):
    """The published features set the first frame's root rotation to the identity (see joints_to_features);
    rot-vel[0] is then the jump from +Z to the smoothed facing of frame 1, 0.106 rad in this file."""
    features = joints_to_features(hml_joints_171, dtype=np.float64)
    assert hml_features[0, 0] == pytest.approx(0.10637, abs=1e-5)
    assert features[0, 0] == pytest.approx(hml_features[0, 0], abs=1e-6)
