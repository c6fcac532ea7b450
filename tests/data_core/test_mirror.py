"""Mirroring: joints, features (checked against recomputing from mirrored joints) and captions."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.features import FOOT_CONTACT, joints_to_features
from motion_retrieval.mirror import mirror_caption, mirror_features, mirror_joints
from motion_retrieval.skeleton import KIT21, SMPL22


def test_mirror_joints_is_an_involution_that_swaps_sides(hml_joints):
    mirrored = mirror_joints(hml_joints)
    np.testing.assert_array_equal(mirror_joints(mirrored), hml_joints)
    np.testing.assert_array_equal(mirrored[:, 1, 0], -hml_joints[:, 2, 0])  # new left hip = old right hip, x < 0
    np.testing.assert_array_equal(mirrored[:, 0, 1:], hml_joints[:, 0, 1:])
    # Still a valid body in our convention: left joints at larger X in the first frame.
    assert all(mirrored[0, left, 0] > mirrored[0, right, 0] for left, right in SMPL22.mirror_pairs)


def test_mirror_features_equals_features_of_mirrored_joints(hml_joints):
    features = joints_to_features(hml_joints, retarget=False, dtype=np.float64)
    expected = joints_to_features(mirror_joints(hml_joints), retarget=False, dtype=np.float64)
    np.testing.assert_allclose(mirror_features(features), expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(mirror_features(mirror_features(features)), features)
    assert not np.allclose(mirror_features(features), features)


def test_mirror_features_with_retargeting_is_close(hml_joints):
    """The reference skeleton is a little asymmetric, so with retargeting only nearly equal (see docstring)."""
    features = joints_to_features(hml_joints)
    expected = joints_to_features(mirror_joints(hml_joints))
    cont = slice(0, FOOT_CONTACT.start)
    assert np.abs(mirror_features(features)[:, cont] - expected[:, cont]).max() < 0.15
    assert np.abs(mirror_features(features)[:, cont] - expected[:, cont]).mean() < 5e-3  # measured 3.1e-3


def test_mirror_features_kit21_and_batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 251)).astype(np.float32)
    np.testing.assert_array_equal(mirror_features(mirror_features(x, KIT21), KIT21), x)
    assert mirror_features(x, KIT21).dtype == np.float32
    with pytest.raises(ValueError, match="263"):
        mirror_features(x)
    with pytest.raises(ValueError, match=r"\(\.\.\., 22, 3\)"):
        mirror_joints(np.zeros((4, 21, 3)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a person waves with the left hand", "a person waves with the right hand"),
        ("Left foot forward, then RIGHT", "Right foot forward, then LEFT"),
        ("turns clockwise then counterclockwise", "turns counterclockwise then clockwise"),
        ("spins anticlockwise", "spins clockwise"),
        ("spins counter-clockwise twice", "spins clockwise twice"),
        ("Counterclockwise circle", "Clockwise circle"),
        ("a left-handed throw to the right-hand side", "a right-handed throw to the left-hand side"),
        ("moves leftward, then rightwards", "moves rightward, then leftwards"),
        ("the leftmost arm", "the rightmost arm"),
        ("a bright, righteous lefty", "a bright, righteous lefty"),
        ("he stops right away, all right", "he stops right away, all right"),
        ("steps left; left again.", "steps right; right again."),
    ],
)
def test_mirror_caption(text, expected):
    assert mirror_caption(text) == expected


def test_mirror_caption_twice_is_identity_for_unambiguous_words():
    text = "walks left, turns clockwise, raises the right arm leftwards"
    assert mirror_caption(mirror_caption(text)) == text
