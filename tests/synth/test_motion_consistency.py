"""The motions do what their captions say: sides, directions, turning sense, counts.

Conventions checked here (HumanML3D / SMPL): Y is up, the person starts facing +Z, their LEFT is +X. A left turn
turns the facing direction from +Z towards +X, which is counter-clockwise seen from above (looking down -Y), i.e.
a positive rotation about +Y. Every check runs on both dialects (KIT-ML: millimetres, MMM joints, where the MMM
"R*" joints are the body's left as in the real release) and with the corpus's normal noise and random bodies.
"""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.skeleton import bone_lengths
from motion_retrieval.synth.actions import FAMILIES, ActionContext, build_action, families_for
from motion_retrieval.synth.body import BodyRig, sample_proportions
from motion_retrieval.synth.program import render

DIALECTS = ("humanml3d", "kitml")
SEEDS = (0, 1, 2)


def _root_travel(synth, clip) -> np.ndarray:
    j = synth.metres(clip)
    pelvis = synth.body_joint(clip, "pelvis")
    return j[-1, pelvis] - j[0, pelvis]


def test_at_least_forty_families_and_each_dialect_has_its_own_mix():
    assert len(FAMILIES) >= 40
    hml = {f.name for f in families_for("humanml3d")}
    kit = {f.name for f in families_for("kitml")}
    assert len(hml) >= 40 and len(kit) >= 30
    assert hml - kit and kit - hml  # the dialects differ (e.g. golf only in humanml3d, violin only in kitml)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_family_renders_with_constant_bone_lengths_and_feet_on_the_floor(dialect):
    rng = np.random.default_rng(7)
    from motion_retrieval.synth.corpus import DIALECTS as SPECS

    skeleton = SPECS[dialect].skeleton
    for fam in families_for(dialect):
        rig = BodyRig(skeleton, sample_proportions(rng))
        program = build_action(ActionContext(skeleton.fps, rng, rig.leg_length), fam.name, fam.sample(rng))
        joints = render(program, rig)  # (T, J, 3) metres
        assert np.isfinite(joints).all(), fam.name
        lengths = bone_lengths(joints, skeleton)[:, 1:]  # (T, J-1)
        assert np.ptp(lengths, axis=0).max() < 1e-9, f"{fam.name}: bone lengths change"
        assert 0.5 < program.duration < 9.9, f"{fam.name}: {program.duration:.1f} s"
        if fam.name not in ("stairs_up", "stairs_down"):
            lowest = joints[..., 1].min(axis=1)  # (T,)
            assert lowest.min() > -1e-6, fam.name  # nothing goes through the floor
            grounded = lowest < 0.05
            assert grounded.mean() > 0.5, f"{fam.name}: mostly in the air"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_raising_the_left_arm_puts_the_plus_x_wrist_above_the_head(synth, dialect, seed):
    clip = synth.make_clip([("raise_arm", {"side": "left", "how": "up"})], dialect, seed)
    j = synth.metres(clip)
    left, right = synth.body_joint(clip, "wrist", "left"), synth.body_joint(clip, "wrist", "right")
    head = synth.body_joint(clip, "head")
    assert j[0, left, 0] > 0 > j[0, right, 0]  # the person's left is +X
    peak = int(np.argmax(j[:, left, 1]))
    assert j[peak, left, 1] > j[peak, head, 1] + 0.1
    assert j[:, right, 1].max() < j[0, head, 1] - 0.3  # the other arm stays down


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_walking_forward_moves_plus_z_and_backwards_minus_z(synth, dialect, seed):
    forward = _root_travel(synth, synth.make_clip([("walk", {"speed": "normal", "steps": 6})], dialect, seed))
    backward = _root_travel(synth, synth.make_clip([("walk_backward", {"speed": "normal", "steps": 4})], dialect,
                                                   seed))
    assert forward[2] > 2.5 and abs(forward[0]) < 0.3 * forward[2]
    assert backward[2] < -1.0 and abs(backward[0]) < 0.3 * abs(backward[2])


@pytest.mark.parametrize("dialect", DIALECTS)
def test_sidestep_left_moves_plus_x(synth, dialect):
    left = _root_travel(synth, synth.make_clip([("sidestep", {"side": "left", "steps": 4})], dialect))
    right = _root_travel(synth, synth.make_clip([("sidestep", {"side": "right", "steps": 4})], dialect))
    assert left[0] > 0.5 and right[0] < -0.5


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("angle", (90, 180, 360))
def test_turning_left_is_counter_clockwise_seen_from_above(synth, dialect, angle):
    for side, sign in (("left", 1.0), ("right", -1.0)):
        clip = synth.make_clip([("turn", {"side": side, "angle": angle})], dialect, seed=angle)
        yaw = synth.facing_yaw(clip)
        assert abs(yaw[0]) < np.deg2rad(15)  # starts facing +Z
        assert np.rad2deg(yaw[-1] - yaw[0]) == pytest.approx(sign * angle, abs=20)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_circle_to_the_left_turns_a_full_counter_clockwise_lap(synth, dialect):
    clip = synth.make_clip([("walk_circle", {"side": "left", "gait": "walk"})], dialect)
    yaw = synth.facing_yaw(clip)
    assert np.rad2deg(yaw[-1] - yaw[0]) == pytest.approx(360, abs=30)
    travel = _root_travel(synth, clip)
    assert np.hypot(travel[0], travel[2]) < 0.8  # back near the start


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("count", (1, 3, 5))
def test_hop_count_matches_airborne_phases_of_the_hopping_foot(synth, dialect, count):
    for side in ("left", "right"):
        clip = synth.make_clip([("hop", {"side": side, "count": count})], dialect, seed=count)
        j = synth.metres(clip)
        stance = j[:, [synth.body_joint(clip, "ankle", side), synth.body_joint(clip, "toe", side)], 1].min(1)
        free = j[:, synth.body_joint(clip, "ankle", "left" if side == "right" else "right"), 1]
        assert synth.airborne_phases(stance, stance[0] + 0.03) == count
        mid = len(j) // 2
        assert free[mid] > j[mid, synth.body_joint(clip, "ankle", side), 1] + 0.15  # the other foot is held up


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("family", ("jump", "jump_forward"))
def test_jump_count_matches_flight_phases(synth, dialect, family):
    for count in (1, 2, 3):
        clip = synth.make_clip([(family, {"count": count})], dialect, seed=count)
        j = synth.metres(clip)
        feet = j[:, [synth.body_joint(clip, "toe", s) for s in ("left", "right")], 1].min(1)
        assert synth.airborne_phases(feet, feet[0] + 0.05) == count


@pytest.mark.parametrize("dialect", DIALECTS)
def test_squat_count_matches_pelvis_dips(synth, dialect):
    for count in (1, 2, 4):
        clip = synth.make_clip([("squat", {"count": count})], dialect, seed=count)
        j = synth.metres(clip)
        pelvis = j[:, synth.body_joint(clip, "pelvis"), 1]
        assert synth.airborne_phases(-pelvis, -(pelvis[0] - 0.2)) == count


@pytest.mark.parametrize("dialect", DIALECTS)
def test_waving_with_the_right_hand_raises_the_minus_x_hand_only(synth, dialect):
    clip = synth.make_clip([("wave", {"side": "right", "count": 3})], dialect)
    j = synth.metres(clip)
    right, left = synth.body_joint(clip, "wrist", "right"), synth.body_joint(clip, "wrist", "left")
    shoulder = synth.body_joint(clip, "shoulder", "right")
    mid = len(j) // 2
    assert j[mid, right, 1] > j[mid, shoulder, 1] and j[mid, right, 0] < 0
    assert j[:, left, 1].max() < j[0, shoulder, 1] - 0.2


@pytest.mark.parametrize("dialect", DIALECTS)
def test_kick_lifts_the_named_foot_while_the_other_stays_down(synth, dialect):
    clip = synth.make_clip([("kick", {"side": "left", "count": 1, "form": "front"})], dialect)
    j = synth.metres(clip)
    kicker, stand = synth.body_joint(clip, "ankle", "left"), synth.body_joint(clip, "ankle", "right")
    assert j[:, kicker, 1].max() > 0.35
    assert j[:, stand, 1].max() < 0.12


def test_claps_bring_the_wrists_together_count_times(synth):
    for count in (2, 5):
        clip = synth.make_clip([("clap", {"count": count})], seed=count)
        j = synth.metres(clip)
        gap = np.linalg.norm(j[:, synth.body_joint(clip, "wrist", "left")]
                             - j[:, synth.body_joint(clip, "wrist", "right")], axis=-1)
        assert synth.airborne_phases(-gap, -0.12) == count


def test_stairs_up_ends_higher_and_down_lower(synth):
    up = synth.make_clip([("stairs_up", {"steps": 5})])
    down = synth.make_clip([("stairs_down", {"steps": 5})])
    assert _root_travel(synth, up)[1] > 0.5 and _root_travel(synth, down)[1] < -0.5


def test_sequence_walk_then_turn_happens_in_order(synth):
    clip = synth.make_clip([("walk", {"speed": "normal", "steps": 5}), ("turn", {"side": "left", "angle": 180})])
    j = synth.metres(clip)
    yaw = synth.facing_yaw(clip)
    half = len(j) // 2
    z = j[:, 0, 2]
    assert z[half] - z[0] > 2.0  # walks first (facing +Z) ...
    assert abs(yaw[half] - yaw[0]) < np.deg2rad(20)
    assert np.rad2deg(yaw[-1] - yaw[0]) == pytest.approx(180, abs=25)  # ... then turns left
    text = clip.captions[0]
    first = min(text.find(w) for w in ("walk", "stroll", "step", "forward", "ahead") if w in text)
    assert first < text.index("turn")

