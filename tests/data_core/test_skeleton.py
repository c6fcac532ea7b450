"""Skeleton definitions: structure, coordinate convention (checked on the real data), body parts."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.skeleton import (
    BODY_PART_NAMES,
    BODY_PARTS,
    H36M17,
    INPUT_LAYOUTS,
    KIT21,
    NUM_JOINT_TOKENS,
    SMPL22,
    SkeletonSpec,
    bone_lengths,
    forward_kinematics_offsets,
    get_skeleton,
)


def test_smpl22_is_humanml3d_order():
    assert SMPL22.num_joints == 22 and SMPL22.feature_dim == 263 and SMPL22.fps == 20.0
    assert SMPL22.joint_names[:3] == ("pelvis", "left_hip", "right_hip")
    assert SMPL22.joint_names[-2:] == ("left_wrist", "right_wrist")
    assert SMPL22.parents == (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
    names = SMPL22.joint_names
    assert [names[i] for i in SMPL22.face_joints] == ["right_hip", "left_hip", "right_shoulder", "left_shoulder"]
    assert [names[i] for i in SMPL22.foot_right + SMPL22.foot_left] == [
        "right_ankle", "right_foot", "left_ankle", "left_foot"]
    for left, right in SMPL22.mirror_pairs:
        assert names[left].replace("left_", "") == names[right].replace("right_", "")
    perm = SMPL22.mirror_permutation()
    np.testing.assert_array_equal(perm[perm], np.arange(22))


def test_reference_bone_lengths_are_those_of_the_real_data(hml_joints):
    lengths = bone_lengths(hml_joints)  # (170, 22)
    np.testing.assert_allclose(lengths, np.broadcast_to(SMPL22.reference_bone_lengths, lengths.shape), atol=3e-6)


def test_convention_y_up_facing_z_left_is_plus_x(hml_joints):
    """First frame of the real motion faces +Z: every left joint has a larger X than its right twin."""
    first = hml_joints[0]
    for left, right in SMPL22.mirror_pairs:
        assert first[left, 0] > first[right, 0], SMPL22.joint_names[left]
    assert first[15, 1] > first[0, 1] > first[10, 1]  # head above pelvis above the feet: Y is up
    # The raw offsets agree: left hip +X, feet point forward (+Z), legs down (-Y).
    raw = SMPL22.raw_offsets_array()
    assert tuple(raw[1]) == (1, 0, 0) and tuple(raw[10]) == (0, 0, 1) and tuple(raw[4]) == (0, -1, 0)


def test_kit21_is_guos_mmm_skeleton():
    assert KIT21.num_joints == 21 and KIT21.feature_dim == 251 and KIT21.fps == 12.5 and KIT21.units == "mm"
    assert KIT21.kinematic_chains[0] == (0, 11, 12, 13, 14, 15)
    assert (KIT21.face_joints, KIT21.foot_right, KIT21.foot_left, KIT21.leg_bones) == (
        (11, 16, 5, 8), (14, 15), (19, 20), (17, 18))
    perm = KIT21.mirror_permutation()
    np.testing.assert_array_equal(perm[perm], np.arange(21))
    raw = KIT21.raw_offsets_array()
    np.testing.assert_array_equal(raw[perm] * [-1, 1, 1], raw)  # mirror-symmetric definition


def test_get_skeleton_and_joint_index():
    assert get_skeleton("humanml3d") is SMPL22 and get_skeleton("KIT") is KIT21 and get_skeleton(KIT21) is KIT21
    assert SMPL22.joint_index("head") == 15
    with pytest.raises(KeyError, match="unknown skeleton"):
        get_skeleton("bvh")
    with pytest.raises(KeyError, match="no joint 'tail'"):
        SMPL22.joint_index("tail")


def test_inconsistent_specs_are_refused():
    fields = {f: getattr(SMPL22, f) for f in SMPL22.__dataclass_fields__}
    with pytest.raises(ValueError, match="parents"):
        SkeletonSpec(**{**fields, "parents": (-1,) + (0,) * 21})
    with pytest.raises(ValueError, match="raw_offsets"):
        SkeletonSpec(**{**fields, "raw_offsets": fields["raw_offsets"][:-1]})


def test_body_parts_cover_the_23_tokens_once():
    assert BODY_PART_NAMES == ("root", "feet", "right_arm", "left_arm", "torso", "right_leg", "left_leg")
    tokens = sorted(t for part in BODY_PARTS.values() for t in part)
    assert tokens == list(range(NUM_JOINT_TOKENS))
    names = SMPL22.joint_names
    assert all(names[t].startswith("right_") for t in BODY_PARTS["right_arm"] + BODY_PARTS["right_leg"])
    assert all(names[t].startswith("left_") for t in BODY_PARTS["left_arm"] + BODY_PARTS["left_leg"])


def test_forward_kinematics_offsets_rebuilds_the_reference_skeleton(hml_joints):
    parents = np.maximum(np.asarray(SMPL22.parents), 0)
    directions = hml_joints - hml_joints[:, parents]
    rebuilt = forward_kinematics_offsets(directions, hml_joints[:, 0])
    np.testing.assert_allclose(rebuilt, hml_joints, atol=1e-5)


def test_h36m17_is_an_input_layout_not_a_feature_skeleton():
    assert INPUT_LAYOUTS["h36m17"] is H36M17 and H36M17.num_joints == 17
    assert H36M17.joint_names[:4] == ("Hip", "RHip", "RKnee", "RFoot") and H36M17.joint_names[-1] == "RWrist"
    assert H36M17.parents[0] == -1 and all(0 <= p < j for j, p in enumerate(H36M17.parents) if j)
    with pytest.raises(KeyError, match="unknown skeleton 'h36m17'"):
        get_skeleton("h36m17")  # no 17-joint features exist: it is mapped onto SMPL-22 on arrival
