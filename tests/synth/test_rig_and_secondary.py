"""The rig (collar and pelvis DOFs, per-person rest poses) and the motion on top of the actions: styles and secondary
motion (breathing, sway, weight shifts, collars following the arms, gait pelvis rotation)."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.mirror import mirror_joints
from motion_retrieval.skeleton import KIT21, SMPL22, bone_lengths
from motion_retrieval.synth.body import (
    DOF_INDEX,
    DOF_NAMES,
    BodyProportions,
    BodyRig,
    RestShape,
    sample_proportions,
    sample_rest_shape,
)
from motion_retrieval.synth.program import Program
from motion_retrieval.synth.secondary import add_secondary_motion
from motion_retrieval.synth.styles import NEUTRAL, STYLES, style_named, styles_for


def _pose(rig: BodyRig, **dofs) -> np.ndarray:
    d = np.zeros((1, len(DOF_NAMES)))
    for name, value in dofs.items():
        d[0, DOF_INDEX[name]] = value
    return rig.pose_local(d)[0]


def test_collar_elevation_lifts_the_shoulder_and_keeps_the_arm_pointing_the_same_way():
    rig = BodyRig(SMPL22)
    rest = _pose(rig)
    up = _pose(rig, l_collar_elev=0.4, l_collar_prot=0.2)
    j = SMPL22.joint_index
    lift = up[j("left_shoulder")] - rest[j("left_shoulder")]
    assert lift[1] > 0.04 and lift[2] > 0.01  # up and forward
    for a, b in (("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist")):
        np.testing.assert_allclose(up[j(b)] - up[j(a)], rest[j(b)] - rest[j(a)], atol=1e-9)  # arm orientation kept
    np.testing.assert_allclose(up[j("right_shoulder")], rest[j("right_shoulder")], atol=1e-12)
    # KIT-ML's MMM skeleton has no collar joints: the collar DOFs do nothing there.
    kit = BodyRig(KIT21)
    np.testing.assert_allclose(_pose(kit, l_collar_elev=0.4, r_collar_prot=0.3), _pose(kit), atol=1e-12)


def test_pelvis_yaw_turns_the_hips_and_mirror_dofs_give_mirror_poses():
    rig = BodyRig(KIT21)  # KIT-21's reference bones are left/right symmetric
    j = _pose(rig, root_yaw=0.3)
    across = j[KIT21.joint_index("RH")] - j[KIT21.joint_index("LH")]  # body left minus body right
    assert np.arctan2(-across[2], across[0]) == pytest.approx(0.3, abs=1e-6)  # turned to the left
    left = _pose(rig, l_collar_elev=0.3, l_sh_abd=0.8, l_elbow=1.0, root_yaw=0.2, spine_roll=0.1)
    right = _pose(rig, r_collar_elev=0.3, r_sh_abd=0.8, r_elbow=1.0, root_yaw=-0.2, spine_roll=-0.1)
    np.testing.assert_allclose(mirror_joints(left, KIT21), right, atol=1e-9)


@pytest.mark.parametrize("skeleton", (SMPL22, KIT21))
def test_rest_poses_differ_between_people_within_plausible_bounds(skeleton):
    rng = np.random.default_rng(0)
    reference = BodyRig(skeleton).pose_local(np.zeros((1, len(DOF_NAMES))))[0]
    poses = [BodyRig(skeleton, BodyProportions(), sample_rest_shape(rng)).pose_local(np.zeros((2, len(DOF_NAMES))))
             for _ in range(20)]
    spread = np.std([p[0] for p in poses], axis=0)  # (J, 3) per joint across people
    assert spread.max() > 0.01  # rest geometry really varies (hip width, spine curve, feet, ...)
    for p in poses:
        assert np.abs(p[0] - reference).max() < 0.12  # but stays a human-looking rest pose
        np.testing.assert_allclose(bone_lengths(p, skeleton)[0], bone_lengths(p, skeleton)[1])


def test_symmetric_rest_shapes_are_mirror_symmetric_and_asymmetry_breaks_it_a_little():
    shape = RestShape(hip_spread=0.1, toe_out=0.25, collar_lift=0.1, shoulder_forward=0.08, foot_pitch=0.1)
    rig = BodyRig(KIT21, BodyProportions(), shape)
    rest = rig.pose_local(np.zeros((1, len(DOF_NAMES))))
    np.testing.assert_allclose(mirror_joints(rest, KIT21), rest, atol=1e-9)
    lopsided = BodyRig(KIT21, BodyProportions(), RestShape(asymmetry=0.03, asymmetry_seed=3))
    rest = lopsided.pose_local(np.zeros((1, len(DOF_NAMES))))
    assert 0.001 < np.abs(mirror_joints(rest, KIT21) - rest).max() < 0.08


def test_transfer_bodies_lie_outside_the_training_ranges():
    rng = np.random.default_rng(1)
    train = [sample_proportions(rng, "train") for _ in range(200)]
    transfer = [sample_proportions(rng, "transfer") for _ in range(200)]
    heights = np.array([p.height for p in train])
    assert heights.min() >= 0.9 and heights.max() <= 1.1
    outside = np.array([p.height for p in transfer])
    assert ((outside < 0.9) | (outside > 1.1)).all() and outside.min() > 0.84 and outside.max() < 1.16
    legs = np.array([p.legs for p in transfer])
    assert ((legs < 0.94) | (legs > 1.06)).all()
    shapes = [sample_rest_shape(rng, "transfer") for _ in range(50)]
    assert all(abs(s.hip_spread) > 0.12 and not 0.88 <= s.foot_length <= 1.12 for s in shapes)


def _swing(synth, clip, side: str) -> float:
    b = synth.body_frame(clip)
    wrist = b[:, synth.body_joint(clip, "wrist", side), 2]
    mid = slice(len(wrist) // 4, 3 * len(wrist) // 4)
    return float(np.ptp(wrist[mid]))


@pytest.mark.parametrize("dialect", ("humanml3d", "kitml"))
def test_styles_change_the_walk_the_way_their_names_say(synth, dialect):
    def walk(style: str, seed: int):
        return synth.make_clip([("walk", {"speed": "normal", "steps": 8, "form": "swing"})], dialect, seed,
                               style=style)

    for seed in range(3):
        tired, energetic = walk("tired", seed), walk("energetic", seed)
        assert _swing(synth, tired, "left") < _swing(synth, energetic, "left")  # arms hang, arms swing
        assert tired.joints.shape[0] > energetic.joints.shape[0]  # the same steps take longer
        sad, proud = synth.body_frame(walk("sad", seed)), synth.body_frame(walk("proud", seed))
        head = synth.body_joint(tired, "head")
        assert sad[:, head, 2].mean() > proud[:, head, 2].mean() + 0.03  # head hangs forward, chest out
        sneaky = synth.metres(walk("sneaky", seed))
        neutral = synth.metres(walk("neutral", seed))
        assert sneaky[:, 0, 1].mean() < neutral[:, 0, 1].mean() - 0.015  # bent knees: a lower pelvis


def test_style_partition_and_compatibility():
    train, transfer = styles_for("train"), styles_for("transfer")
    assert not {s.name for s in train} & {s.name for s in transfer}
    assert {"energetic", "tired", "elderly", "childish", "proud", "sad", "angry", "happy", "relaxed", "heavy",
            "sneaky"} <= {s.name for s in train}
    assert len(transfer) >= 3 and NEUTRAL not in STYLES
    assert "fast" not in style_named("tired").speeds and "slow" not in style_named("energetic").speeds
    for style in STYLES:
        assert style.adjectives and style.adverbs and style.manners, style.name


def test_secondary_motion_breathes_sways_and_shifts_weight_while_standing_still(synth):
    clean = synth.make_clip([("stand", {})], seed=4, noise=0.0, style="neutral")
    alive = synth.make_clip([("stand", {})], seed=4, noise=1.0, style="neutral")
    assert np.ptp(synth.body_frame(clean), axis=0).max() < 1e-6  # the template alone is a statue
    b = synth.body_frame(alive)
    moved = np.ptp(b, axis=0)  # (J, 3) how far each joint wanders relative to the pelvis
    assert 0.01 < moved.max() < 0.2
    feet = [synth.body_joint(alive, "ankle", s) for s in ("left", "right")]
    world = synth.metres(alive)
    assert np.ptp(world[:, feet, 0], axis=0).max() < 0.03  # the feet stay planted ...
    assert np.ptp(world[:, 0, 0]) > 0.005  # ... while the pelvis shifts over them


def test_collars_follow_raised_arms_and_the_pelvis_turns_in_gait(synth):
    clip = synth.make_clip([("raise_arm", {"side": "both", "how": "up"})], seed=2, style="neutral")
    b = synth.body_frame(clip)
    shoulder, chest = b[:, synth.body_joint(clip, "shoulder", "left")], b[:, synth.body_joint(clip, "chest")]
    lift = shoulder[:, 1] - chest[:, 1]
    assert lift.max() - lift[0] > 0.02  # the shoulder girdle rises with an arm overhead
    walk = synth.make_clip([("walk", {"speed": "normal", "steps": 8, "form": "swing"})], seed=2, style="neutral")
    j = synth.metres(walk)
    hips = j[:, synth.body_joint(walk, "hip", "left")] - j[:, synth.body_joint(walk, "hip", "right")]
    shoulders = j[:, synth.body_joint(walk, "shoulder", "left")] - j[:, synth.body_joint(walk, "shoulder", "right")]
    hip_yaw = np.unwrap(np.arctan2(-hips[:, 2], hips[:, 0]))
    shoulder_yaw = np.unwrap(np.arctan2(-shoulders[:, 2], shoulders[:, 0]))
    mid = slice(len(j) // 4, 3 * len(j) // 4)
    assert np.ptp(hip_yaw[mid]) > np.deg2rad(4)  # the pelvis rotates with each step
    twist = (hip_yaw - shoulder_yaw)[mid]
    assert np.corrcoef(hip_yaw[mid] - hip_yaw[mid].mean(), twist - twist.mean())[0, 1] > 0.5  # chest counters


def test_secondary_motion_is_a_no_op_at_scale_zero_and_changes_every_dof_group_otherwise():
    p = Program.still(20.0, 3.0)
    add_secondary_motion(p, np.random.default_rng(0), NEUTRAL, 0.0)
    assert not p.dofs.any()
    add_secondary_motion(p, np.random.default_rng(0), style_named("nervous"), 1.0)
    moved = np.ptp(p.dofs, axis=0)
    for name in ("spine_pitch", "neck_yaw", "l_collar_elev", "l_elbow", "l_knee"):
        assert moved[DOF_INDEX[name]] > 0.005, name
    for name in ("root_pitch", "root_roll", "root_yaw"):
        assert moved[DOF_INDEX[name]] == 0.0, name  # never the root: the feet stay where the action put them


@pytest.mark.parametrize("dialect", ("humanml3d", "kitml"))
def test_the_stance_foot_barely_slides_in_walking(synth, dialect):
    """Travel follows the planted foot: its horizontal speed is a small fraction of the body's (real mocap: ~0)."""
    for family, params, limit in (("walk", {"speed": "normal", "steps": 8, "form": "swing"}, 0.25),
                                  ("walk_backward", {"speed": "normal", "steps": 5}, 0.8)):
        ratios = []
        for seed in range(3):
            clip = synth.make_clip([(family, params)], dialect, seed, style="neutral")
            j = synth.metres(clip)
            pelvis = np.linalg.norm(np.diff(j[:, 0, [0, 2]], axis=0), axis=-1)
            feet = [synth.body_joint(clip, part, side) for part in ("ankle", "toe") for side in ("left", "right")]
            foot = np.linalg.norm(np.diff(j[:, feet][:, :, [0, 2]], axis=0), axis=-1).min(axis=1)
            moving = pelvis > 0.5 * pelvis.max()
            ratios.append(foot[moving].mean() / pelvis[moving].mean())
        assert np.mean(ratios) < limit, (family, ratios)
