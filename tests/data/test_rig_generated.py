"""Automatic rig mapping on generated rigs: a real motion (HumanML3D 012314) carried by rigs that no explicit map
knows (joint0..N names, reordered children, fingers, twist bones, Z-up, millimetres, A-pose / arms-down / along-X
rest poses), and non-humanoids that must be refused."""

from __future__ import annotations

import numpy as np
import pytest
from rigs import (
    Y_UP_TO_Z_UP,
    Rig,
    parse_back,
    renamed,
    reordered,
    smpl_rig,
    transformed,
    with_fingers,
    with_leaf_twists,
    with_rest_pose,
    with_series_twist,
    write_rig_bvh,
)

from motion_retrieval.data.bvh import read_bvh, read_bvh_with_mapping
from motion_retrieval.data.joint_maps import facing_agreement
from motion_retrieval.data.rig import RigError
from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import SMPL22


@pytest.fixture(scope="module")
def walk(humanml3d_sample) -> np.ndarray:
    """(170, 22, 3) the real HumanML3D motion 012314 ("walks forward and turns around"), metres, Y-up, 20 fps."""
    return np.load(humanml3d_sample / "new_joints" / "012314.npy").astype(np.float64)


@pytest.fixture(scope="module")
def baseline(walk, tmp_path_factory):
    """The same motion on the Mixamo-named SMPL rig: read with the explicit Mixamo map."""
    path = write_rig_bvh(smpl_rig(walk), tmp_path_factory.mktemp("base") / "mixamo.bvh", fps=20.0)
    record, mapping = read_bvh_with_mapping(path)
    assert mapping.method == "explicit" and mapping.name == "mixamo"
    return record


def _variant(rig: Rig, steps: tuple[str, ...]) -> tuple[Rig, str, str]:
    """Apply the named steps; returns the rig, its up axis and its units."""
    up, units = "y", "m"
    for step in steps:
        if step == "fingers":
            rig = with_fingers(rig, {"Left": "LeftHand", "Right": "RightHand"})
        elif step == "leaf-twists":
            rig = with_leaf_twists(rig, {"LeftUpperArmTwist": "LeftForeArm", "RightUpperArmTwist": "RightForeArm",
                                         "LeftThighTwist": "LeftLeg", "RightThighTwist": "RightLeg"})
        elif step == "series-twist":
            rig = with_series_twist(rig, "LeftForeArm", "LeftArmRoll")
            rig = with_series_twist(rig, "RightForeArm", "RightArmRoll")
            rig = with_series_twist(rig, "LeftLeg", "LeftUpLegRoll")
        elif step.startswith("rest-"):
            rig = with_rest_pose(rig, step[5:])
        elif step == "z-up":
            rig, up = transformed(rig, Y_UP_TO_Z_UP), "z"
        elif step == "mm":
            rig, units = transformed(rig, scale=1000.0), "mm"
        elif step == "reordered":
            rig = reordered(rig, seed=3)
        elif step == "renamed":
            rig = renamed(rig)
        else:
            raise ValueError(step)
    return rig, up, units


VARIANTS = {
    "renamed": ("renamed",),
    "reordered": ("reordered", "renamed"),
    "fingers+twists": ("fingers", "leaf-twists", "series-twist", "renamed"),
    "z-up": ("z-up", "renamed"),
    "millimetres": ("mm", "renamed"),
    "t-pose": ("rest-t", "renamed"),
    "a-pose": ("rest-a", "renamed"),
    "arms-down": ("rest-down", "renamed"),
    "rest-along-x": ("rest-x", "renamed"),
    "everything": ("fingers", "leaf-twists", "series-twist", "rest-x", "z-up", "mm", "reordered", "renamed"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_generated_rig_maps_automatically_onto_the_same_body(walk, baseline, tmp_path, variant):
    rig, up, units = _variant(smpl_rig(walk), VARIANTS[variant])
    path = write_rig_bvh(rig, tmp_path / f"{variant}.bvh", fps=20.0, order="ZXY" if "rest-x" in VARIANTS[variant]
                         else "ZYX", six_channels=variant == "rest-along-x")
    np.testing.assert_allclose(parse_back(path, rig), rig.positions, atol=1e-4 * (1000 if units == "mm" else 1))
    record, mapping = read_bvh_with_mapping(path)
    assert mapping.method == "auto" and record.tags[:2] == ["rig:auto", "rig-method:auto"]
    assert (mapping.orientation.up, mapping.units) == (up, units)
    assert f"rig-up:{up}" in record.tags and f"rig-units:{units}" in record.tags
    for smpl_joint in SMPL22.joint_names:  # every SMPL joint from the very rig joint that carries it
        assert mapping.describe(smpl_joint) == rig.truth[smpl_joint], smpl_joint
    np.testing.assert_allclose(record.joints, baseline.joints, atol=2e-5)
    np.testing.assert_allclose(record.features, baseline.features, atol=2e-3)


def test_mixamo_rig_with_a_rest_pose_along_x_keeps_its_explicit_map_and_finds_up_from_the_motion(walk, baseline,
                                                                                              tmp_path):
    rig = transformed(with_rest_pose(smpl_rig(walk), "x"), Y_UP_TO_Z_UP)
    record, mapping = read_bvh_with_mapping(write_rig_bvh(rig, tmp_path / "x.bvh", fps=20.0, order="ZXY"))
    assert (mapping.method, mapping.name, mapping.orientation.up) == ("explicit", "mixamo", "z")
    np.testing.assert_allclose(record.joints, baseline.joints, atol=2e-5)


def test_sides_come_from_the_motion_not_from_the_joint_order(walk, baseline, tmp_path):
    """Unnamed rig whose right limbs come first in the file: still mapped to the body's own left and right."""
    rig = renamed(reordered(smpl_rig(walk), seed=11))
    record, mapping = read_bvh_with_mapping(write_rig_bvh(rig, tmp_path / "r.bvh", fps=20.0))
    assert mapping.describe("left_wrist") == rig.truth["left_wrist"]
    assert mapping.orientation.left == "x" and mapping.orientation.forward == "z"
    assert facing_agreement(record.joints) > 0.9
    np.testing.assert_allclose(record.joints, baseline.joints, atol=2e-5)


def test_mislabelled_sides_are_overruled_by_the_motion_and_reported(walk, baseline, tmp_path):
    names = [n.replace("Left", "Tmp").replace("Right", "Left").replace("Tmp", "Right") for n in smpl_rig(walk).names]
    rig = smpl_rig(walk, names=[f"{n}_x" for n in names])  # no explicit map fits: automatic
    record, mapping = read_bvh_with_mapping(write_rig_bvh(rig, tmp_path / "swapped.bvh", fps=20.0))
    assert mapping.describe("left_wrist") == "RightHand_x"  # the joint on the body's left, whatever its name says
    assert any("the motion decides" in note for note in mapping.notes)
    np.testing.assert_allclose(record.joints, baseline.joints, atol=2e-5)


def test_toe_less_rig_gets_feet_from_the_facing(walk, tmp_path):
    base = smpl_rig(walk)
    keep = [j for j, name in enumerate(base.names) if "ToeBase" not in name]
    parents = [keep.index(base.parents[j]) if base.parents[j] >= 0 else -1 for j in keep]
    rig = Rig([base.names[j] for j in keep], parents, base.positions[:, keep])
    record, mapping = read_bvh_with_mapping(write_rig_bvh(renamed(rig), tmp_path / "toeless.bvh", fps=20.0))
    assert mapping.synthesized == ("left_foot", "right_foot") and mapping.orientation.forward_source == "knees"
    assert "synthesized" in mapping.describe("left_foot")
    joints = record.joints
    toes = (joints[:, 10] - joints[:, 7]) + (joints[:, 11] - joints[:, 8])  # (T, 3) ankle -> synthesized ball
    across = (joints[:, 1] - joints[:, 2]) + (joints[:, 16] - joints[:, 17])
    facing = np.cross(across, [0.0, 1.0, 0.0])
    assert np.all(np.sum(toes * facing, axis=-1) > 0)  # the feet point where the body faces
    assert facing_agreement(joints) > 0.9


# ------------------------------------------------------------------------------------------------ refusals
def _write_positions(tmp_path, name, names, parents, positions) -> object:
    return write_rig_bvh(Rig(list(names), list(parents), np.asarray(positions, dtype=np.float64)),
                         tmp_path / f"{name}.bvh", fps=30.0, six_channels=True)


def _quadruped(frames: int = 60) -> tuple[list[str], list[int], np.ndarray]:
    """A dog trotting along +Z: horizontal spine, four legs down, a tail and a neck/head forward."""
    t = np.arange(frames) / 30.0
    names = ["pelvis", "hind_l1", "hind_l2", "hind_l3", "hind_l4", "hind_r1", "hind_r2", "hind_r3", "hind_r4",
             "tail1", "tail2", "tail3", "spine1", "spine2", "chest", "front_l1", "front_l2", "front_l3", "front_l4",
             "front_r1", "front_r2", "front_r3", "front_r4", "neck", "head"]
    parents = [-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 0, 12, 13, 14, 15, 16, 17, 14, 19, 20, 21, 14, 23]
    pos = np.zeros((frames, len(names), 3))
    pos[:, 0] = np.stack([np.zeros(frames), np.full(frames, 0.5), 1.0 * t], axis=1)
    for j, off in ((12, (0, 0.02, 0.2)), (13, (0, 0.02, 0.2)), (14, (0, 0.0, 0.2)), (23, (0, 0.15, 0.15)),
                   (24, (0, 0.05, 0.12)), (9, (0, 0.05, -0.12)), (10, (0, 0.0, -0.12)), (11, (0, -0.05, -0.12))):
        pos[:, j] = pos[:, parents[j]] + off
    for first, root, side, phase in ((1, 0, 1, 0.0), (5, 0, -1, np.pi), (15, 14, 1, np.pi), (19, 14, -1, 0.0)):
        swing = 0.4 * np.sin(2 * np.pi * 2 * t + phase)  # (T,) radians about the lateral axis
        pos[:, first] = pos[:, root] + [0.08 * side, -0.02, 0.0]
        for k, length in enumerate((0.18, 0.16, 0.08)):
            bend = swing * (1 if k == 0 else 0.5)
            step = np.stack([np.zeros(frames), -length * np.cos(bend), length * np.sin(bend)], axis=1)
            pos[:, first + k + 1] = pos[:, first + k] + step
    return names, parents, pos


def test_quadruped_is_refused(tmp_path):
    path = _write_positions(tmp_path, "dog", *_quadruped())
    with pytest.raises(RigError, match=r"dog.bvh: not a humanoid: .*quadruped"):
        read_bvh(path)


def test_hand_only_rig_is_refused(tmp_path):
    names, parents, pos = ["wrist"], [-1], [np.zeros((30, 3))]
    curl = 0.01 * np.sin(np.linspace(0, 3, 30))[:, None] * [0.0, 0.0, 1.0]  # (T, 3) the fingers curl a little
    for f in range(5):
        for k in range(3):
            names.append(f"finger{f}_{k}")
            parents.append(0 if k == 0 else len(names) - 2)
            pos.append(pos[parents[-1]] + np.array([0.02 * (f - 2), 0.03, 0.0]) + k * curl)
    path = _write_positions(tmp_path, "hand", names, parents, np.stack(pos, axis=1))
    with pytest.raises(RigError, match=r"hand.bvh: not a humanoid: 16 joints; mirrored limb pairs found: finger"):
        read_bvh(path)


def test_camera_and_single_chain_are_refused(tmp_path):
    camera = _write_positions(tmp_path, "camera", ["camera"], [-1], np.cumsum(np.ones((30, 1, 3)), axis=0))
    with pytest.raises(RigError, match=r"not a humanoid: a single joint \('camera'; a camera or a prop\?\)"):
        read_bvh(camera)
    t = np.linspace(0, 1, 30)[:, None]
    rope = np.stack([np.c_[t, 0.1 * k + 0 * t, 0 * t] for k in range(6)], axis=1)
    chain = _write_positions(tmp_path, "rope", [f"rope{k}" for k in range(6)], [-1, 0, 1, 2, 3, 4], rope)
    with pytest.raises(RigError, match="a single chain of 6 joints without branches"):
        read_bvh(chain)


def test_armless_figure_is_refused_naming_what_is_missing(walk, tmp_path):
    base = smpl_rig(walk)
    keep = [j for j, name in enumerate(base.names) if not any(w in name for w in ("Shoulder", "Arm", "Hand"))]
    rig = Rig([f"j{j}" for j in keep], [keep.index(base.parents[j]) if base.parents[j] >= 0 else -1 for j in keep],
              base.positions[:, keep])
    with pytest.raises(MotionDataError, match="two legs and a spine branch off, and higher on that spine a chest "
                                              "where two arms and a neck/head branch off"):
        read_bvh(write_rig_bvh(rig, tmp_path / "armless.bvh", fps=20.0))


def test_rig_whose_arms_branch_at_the_neck_maps_like_the_explicit_kit_map(walk, tmp_path, kit_from_smpl):
    """KIT's MMM layout (no collar, arms on the neck joint, two spine joints), unnamed: the same joints as kit21."""
    from motion_retrieval.data import joint_maps
    from motion_retrieval.skeleton import KIT21

    kit = kit_from_smpl(walk)  # (T, 21, 3) MMM joints, SMPL left in the MMM "L" joints
    rig = renamed(Rig(list(KIT21.joint_names), list(KIT21.parents), kit))
    record, mapping = read_bvh_with_mapping(write_rig_bvh(rig, tmp_path / "mmm.bvh", fps=20.0))
    expected = joint_maps.KIT21_TO_SMPL22.weights(KIT21.joint_names)
    order = [mapping.joint_names.index(f"joint{i}") for i in range(21)]  # file columns in KIT21 order
    np.testing.assert_allclose(mapping.weights[:, order], expected, atol=1e-12)
    assert facing_agreement(record.joints) > 0.9
