"""BVH: parsing, forward kinematics with any rotation order, rig maps, units, Z-up, and the three real CMU takes."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.data import joint_maps
from motion_retrieval.data.bvh import parse_bvh, read_bvh
from motion_retrieval.data.units import leg_length
from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import SMPL22

MIXAMO_NAMES = [
    "Hips",
    "LeftUpLeg",
    "RightUpLeg",
    "Spine",
    "LeftLeg",
    "RightLeg",
    "Spine1",
    "LeftFoot",
    "RightFoot",
    "Spine2",
    "LeftToeBase",
    "RightToeBase",
    "Neck",
    "LeftShoulder",
    "RightShoulder",
    "Head",
    "LeftArm",
    "RightArm",
    "LeftForeArm",
    "RightForeArm",
    "LeftHand",
    "RightHand",
]  # SMPL-22 order, so the Mixamo map is one-to-one


def _rot(axis: str, degrees: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    return {
        "X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


@pytest.mark.parametrize("order", ["ZYX", "XYZ", "YXZ"])
def test_forward_kinematics_composes_rotations_in_channel_order(tmp_path, bvh_writer, order):
    angles = {"X": 30.0, "Y": -50.0, "Z": 70.0}
    rotation_channels = [f"{a}rotation" for a in order]
    path = bvh_writer(
        tmp_path / "chain.bvh",
        names=["root", "mid", "tip"],
        parents=[-1, 0, 1],
        offsets=[(0, 0, 0), (0, 1, 0), (0.5, 0, 0)],
        channels=[["Xposition", "Yposition", "Zposition", *rotation_channels], rotation_channels, rotation_channels],
        frames=[[1.0, 2.0, 3.0, *(angles[a] for a in order), *(angles[a] for a in order), 0.0, 0.0, 0.0]],
    )
    positions = parse_bvh(path).positions()[0]
    r = _rot(order[0], angles[order[0]]) @ _rot(order[1], angles[order[1]]) @ _rot(order[2], angles[order[2]])
    root = np.array([1.0, 2.0, 3.0])
    mid = root + r @ [0, 1, 0]
    tip = mid + r @ r @ [0.5, 0, 0]
    np.testing.assert_allclose(positions, [root, mid, tip], atol=1e-9)


def _smpl_rig(sample_joints, scale=100.0, z_up=False, frames=60, fps=30.0):
    """A Mixamo-named rig with SMPL's parents and the sample's first-frame offsets, walking +Z at 0.5 m/s."""
    parents = list(SMPL22.parents)
    rest = sample_joints[0].astype(np.float64)
    offsets = [rest[0] * 0] + [rest[j] - rest[parents[j]] for j in range(1, 22)]
    root = np.stack(
        [np.full(frames, rest[0, 0]), np.full(frames, rest[0, 1]), rest[0, 2] + 0.5 * np.arange(frames) / fps], axis=1
    )
    convert = (lambda v: np.stack([v[..., 0], -v[..., 2], v[..., 1]], axis=-1)) if z_up else (lambda v: v)
    offsets = [convert(np.asarray(o)) * scale for o in offsets]
    root = convert(root) * scale
    channels = [["Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation"]] + [
        ["Zrotation", "Yrotation", "Xrotation"]
    ] * 21
    values = np.concatenate([root, np.zeros((frames, 3 + 21 * 3))], axis=1)
    names = [f"mixamorig:{n}" for n in MIXAMO_NAMES]
    return names, parents, offsets, channels, values


def test_mixamo_rig_in_cm_maps_to_smpl22_metres_at_20fps(tmp_path, bvh_writer, sample_joints):
    path = bvh_writer(tmp_path / "walk.bvh", *_smpl_rig(sample_joints, scale=100.0), frame_time=1 / 30)
    record = read_bvh(path)
    assert record.id == "walk" and record.dataset == "bvh"
    assert record.tags == ["rig:mixamo", "rig-method:explicit", "rig-up:y", "rig-units:cm"]
    assert record.fps == 20.0 and len(record.joints) == 40  # 60 frames at 30 fps -> 40 at 20 fps
    expected = sample_joints[0] - [0, sample_joints[0, :, 1].min(), 0]  # the rest pose, floored
    np.testing.assert_allclose(record.joints[0], expected, atol=1e-5)
    assert record.joints[-1, 0, 2] - record.joints[0, 0, 2] == pytest.approx(0.5 * 39 / 20, abs=1e-4)
    assert record.features.shape == (39, 263) and np.isfinite(record.features).all()
    assert record.features[:, 2].sum() > 0.5  # root velocity along the facing direction: it walks forward


def test_z_up_rig_reads_like_the_y_up_one(tmp_path, bvh_writer, sample_joints):
    y_up = read_bvh(bvh_writer(tmp_path / "y.bvh", *_smpl_rig(sample_joints, scale=1.0)))
    z_up_path = bvh_writer(tmp_path / "z.bvh", *_smpl_rig(sample_joints, scale=1.0, z_up=True))
    for up in ("auto", "z"):
        z_up = read_bvh(z_up_path, up=up)
        np.testing.assert_allclose(z_up.joints, y_up.joints, atol=1e-5)
    assert joint_maps.facing_agreement(z_up.joints) > 0.9  # a proper rotation: not mirrored


def test_unit_options_and_detection(tmp_path, bvh_writer, sample_joints):
    in_mm = read_bvh(bvh_writer(tmp_path / "mm.bvh", *_smpl_rig(sample_joints, scale=1000.0)))
    in_m = read_bvh(bvh_writer(tmp_path / "m.bvh", *_smpl_rig(sample_joints, scale=1.0)), units="m")
    np.testing.assert_allclose(in_mm.joints, in_m.joints, atol=1e-5)
    forced = read_bvh(tmp_path / "mm.bvh", units="cm")  # a wrong declaration is obeyed: 10x too big
    assert leg_length(forced.joints) == pytest.approx(10 * leg_length(in_m.joints), rel=1e-4)


def test_unknown_names_are_mapped_automatically_like_the_known_rig(tmp_path, bvh_writer, sample_joints):
    names, *rest = _smpl_rig(sample_joints)
    odd = [n.replace("LeftHand", "LeftPalm").replace("Neck", "Throat") for n in names]
    auto = read_bvh(bvh_writer(tmp_path / "odd.bvh", odd, *rest))
    known = read_bvh(bvh_writer(tmp_path / "known.bvh", names, *rest))
    assert auto.tags[:2] == ["rig:auto", "rig-method:auto"] and known.tags[0] == "rig:mixamo"
    np.testing.assert_allclose(auto.joints, known.joints, atol=1e-6)


def test_named_joints_without_parents_list_what_the_nearest_known_rig_misses(tmp_path, sample_joints):
    from motion_retrieval.data.mocap import read_mocap

    names = [n.replace("LeftHand", "LeftPalm").replace("Neck", "Throat") for n in MIXAMO_NAMES]
    np.savez(tmp_path / "named.npz", joints=sample_joints, joint_names=np.array(names))
    with pytest.raises(MotionDataError, match=r"nearest known rig \(mixamo\) needs joints Neck, LeftHand.*no parents"):
        read_mocap(tmp_path / "named.npz")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda t: t.replace("HIERARCHY", "HIERARCHIE"), "does not start with HIERARCHY"),
        (lambda t: t.rsplit("\n", 3)[0] + "\n", "truncated: declares 5 frames but has 3"),
        (lambda t: t.replace("Frame Time: 0.0333333\n0.", "Frame Time: 0.0333333\nabc"), "not a number: 'abc"),
        (
            lambda t: t.replace("CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 3 Zrotation Yrotation", 1),
            "declares 3 channels but names 2",
        ),
        (lambda t: t.replace("MOTION", "}\nMOTION"), "unbalanced"),
        (
            lambda t: t.replace("Wrotation", "x").replace(
                "Zrotation Yrotation Xrotation", "Zrotation Yrotation Wrot", 1
            ),
            "unknown channel 'Wrot'",
        ),
    ],
)
def test_bad_bvh_files_name_the_problem(tmp_path, bvh_writer, sample_joints, damage, problem):
    path = bvh_writer(tmp_path / "bad.bvh", *_smpl_rig(sample_joints, frames=5))
    path.write_text(damage(path.read_text()))
    with pytest.raises(MotionDataError, match=problem) as info:
        read_bvh(path)
    assert "bad.bvh" in str(info.value)


def test_frame_with_wrong_value_count(tmp_path, bvh_writer, sample_joints):
    path = bvh_writer(tmp_path / "short.bvh", *_smpl_rig(sample_joints, frames=5))
    lines = path.read_text().splitlines()
    lines[-2] = " ".join(lines[-2].split()[:-1])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MotionDataError, match=r"short.bvh:\d+: frame 3 has 68 values, the hierarchy declares 69"):
        parse_bvh(path)


# ----------------------------------------------------------------------------------------------- real CMU takes
@pytest.fixture(scope="module")
def cmu_records(cmu_bvh_dir):
    return {name: read_bvh(cmu_bvh_dir / f"{name}.bvh") for name in ("131_01", "131_02", "131_03")}


def test_cmu_takes_parse_with_the_asf_rig(cmu_bvh_dir):
    motion = parse_bvh(cmu_bvh_dir / "131_01.bvh")
    assert motion.fps == 120.0 and motion.num_frames == 994 and len(motion.joints) == 31
    assert motion.joints[motion.names.index("LeftToe")].end_site is not None
    assert joint_maps.find_rig_map(motion.names).name == "cmu-asf"


def test_cmu_takes_are_sane_bodies(cmu_records):
    for name, record in cmu_records.items():
        joints = record.joints
        assert record.fps == 20.0 and record.tags[:2] == ["rig:cmu-asf", "rig-method:explicit"]
        assert record.features.shape == (len(joints) - 1, 263) and np.isfinite(record.features).all()
        # CMU's ASF unit (1/0.45 inch) detected: an adult's legs and a head joint at 1.2-1.45 m (HumanML3D's
        # reference skeleton has its head joint at 1.38 m; stature is about 0.2 m more).
        assert 0.7 < leg_length(joints) < 0.95, name
        assert 1.15 < np.median(joints[:, 15, 1]) < 1.5, name
        # Feet near the floor: the lower foot joint is within 10 cm of it in most frames.
        lowest_foot = joints[:, [7, 8, 10, 11], 1].min(axis=1)
        assert np.median(lowest_foot) < 0.1, name
        assert joint_maps.facing_agreement(joints) > 0.5, name


def test_cmu_walks_move_forward_and_the_hop_leaves_the_ground(cmu_records):
    for name in ("131_01", "131_02"):
        record = cmu_records[name]
        travel = np.linalg.norm(record.joints[-1, 0, [0, 2]] - record.joints[0, 0, [0, 2]])
        assert travel > 1.0, name
        assert record.features[:, 2].sum() > 0.5 * travel, name  # along the facing direction: forward, not back
    lowest_foot = {n: r.joints[:, [7, 8, 10, 11], 1].min(axis=1) for n, r in cmu_records.items()}
    assert (lowest_foot["131_03"] > 0.15).sum() >= 2  # airborne frames in "start hop stop"
    assert lowest_foot["131_01"].max() < 0.1 and lowest_foot["131_02"].max() < 0.15  # walking keeps a foot down
