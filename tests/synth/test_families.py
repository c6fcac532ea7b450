"""The everyday actions and action forms do what their captions say, measured on the rendered joints in the body's
own frame (pelvis at the origin, hips facing +Z, left = +X), with random bodies, styles and secondary motion."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.synth.actions import FAMILIES, families_for

DIALECTS = ("humanml3d", "kitml")
SEEDS = (0, 1, 2)


def _parts(synth, clip, *names):
    b = synth.body_frame(clip)
    return [b[:, synth.body_joint(clip, *n.split(":"))] for n in names]


def _peak_frame(x: np.ndarray) -> int:
    return int(np.argmax(x))


def test_catalogue_has_the_everyday_actions_of_mocap_libraries():
    wanted = {"wave", "beckon", "call_out", "point", "present", "raise_hand", "nod", "shake_head", "shrug", "cheer",
              "cross_arms", "hands_on_hips", "look_around", "phone_call", "sprint", "walk_turn", "walk_toward",
              "sword", "kick", "punch", "carry", "push", "pull", "sit_down", "stand_up", "crouch", "dance", "idle",
              "salute", "bow"}
    assert wanted <= set(FAMILIES)
    assert len(FAMILIES) >= 75
    for name in ("wave", "bow", "punch", "kick", "dance", "walk", "sit_down", "squat", "turn"):
        assert len(FAMILIES[name].forms_for("train")) >= 2, name  # several ways of doing it in training


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("target", ("forward", "outward", "up"))
def test_point_reaches_where_the_caption_says(synth, dialect, seed, target):
    clip = synth.make_clip([("point", {"side": "left", "target": target})], dialect, seed)
    wrist, other, shoulder, head = _parts(synth, clip, "wrist:left", "wrist:right", "shoulder:left", "head")
    reach = {"forward": wrist[:, 2], "outward": wrist[:, 0], "up": wrist[:, 1]}[target]
    k = _peak_frame(reach)
    if target == "forward":
        assert wrist[k, 2] > shoulder[k, 2] + 0.4 and abs(wrist[k, 1] - shoulder[k, 1]) < 0.3
    elif target == "outward":
        assert wrist[k, 0] > shoulder[k, 0] + 0.4
    else:
        assert wrist[k, 1] > head[k, 1] + 0.1
    assert other[:, 1].max() < shoulder[0, 1] - 0.15  # the right hand stays down


@pytest.mark.parametrize("seed", SEEDS)
def test_hands_on_hips_cross_arms_phone_call_out_and_salute_put_the_hands_where_they_belong(synth, seed):
    def mid(clip, *names):
        return [x[len(x) // 2] for x in _parts(synth, clip, *names)]

    clip = synth.make_clip([("hands_on_hips", {})], seed=seed)
    lw, rw, le, lh, rh = mid(clip, "wrist:left", "wrist:right", "elbow:left", "hip:left", "hip:right")
    for wrist, hip, sgn in ((lw, lh, 1), (rw, rh, -1)):
        assert abs(wrist[1] - hip[1]) < 0.25 and 0.05 < sgn * wrist[0] < 0.3 and abs(wrist[2]) < 0.15
    assert le[0] > lw[0] + 0.08  # elbows out to the sides

    clip = synth.make_clip([("cross_arms", {})], seed=seed)
    lw, rw, ls = mid(clip, "wrist:left", "wrist:right", "shoulder:left")
    assert lw[0] < 0.03 and rw[0] > -0.03  # each hand reaches the midline or past it
    assert lw[2] > 0.08 and rw[2] > 0.08 and ls[1] - 0.35 < lw[1] < ls[1]  # in front of the chest

    for family, hands in (("phone_call", ("left",)), ("call_out", ("left", "right")), ("salute", ("left",)),
                          ("drink", ("left",))):
        params = {"side": "left"} if family != "call_out" else {"toward": "forward", "form": "cupped"}
        clip = synth.make_clip([(family, params)], seed=seed)
        b = synth.body_frame(clip)
        head = b[:, synth.body_joint(clip, "head")]
        for side in hands:
            wrist = b[:, synth.body_joint(clip, "wrist", side)]
            assert np.linalg.norm(wrist - head, axis=-1).min() < 0.2, (family, side)
        if family != "call_out":
            right = b[:, synth.body_joint(clip, "wrist", "right")]
            assert np.linalg.norm(right - head, axis=-1).min() > 0.35, family


@pytest.mark.parametrize("seed", SEEDS)
def test_shrug_lifts_the_shoulders_count_times_and_nod_dips_the_head(synth, seed):
    # Sizes with the full secondary motion on top; counts on the clean template (breathing and sway also move the
    # shoulders and head by a centimetre or two, which a threshold cannot tell from a small shrug or nod).
    for count in (1, 2):
        for noise in (1.0, 0.0):
            clip = synth.make_clip([("shrug", {"count": count})], seed=seed, noise=noise)
            shoulder, neck = _parts(synth, clip, "shoulder:left", "chest")
            lift = shoulder[:, 1] - neck[:, 1]
            assert lift.max() - lift[0] > 0.025
        assert synth.airborne_phases(lift, lift[0] + 0.5 * (lift.max() - lift[0])) == count
    for count in (1, 3):
        for noise in (1.0, 0.0):
            clip = synth.make_clip([("nod", {"count": count})], seed=seed, noise=noise)
            head, neck = _parts(synth, clip, "head", "neck")
            forward = head[:, 2] - neck[:, 2]  # grows as the head tips forward
            assert forward.max() - forward[0] > 0.012
        assert synth.airborne_phases(forward, forward[0] + 0.5 * (forward.max() - forward[0])) == count
    clip = synth.make_clip([("shake_head", {"count": 3})], seed=seed)
    head, neck = _parts(synth, clip, "head", "neck")
    side = head[:, 0] - neck[:, 0]
    assert side.max() - side[0] > 0.01 and side[0] - side.min() > 0.01


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("side, sign", (("left", 1.0), ("right", -1.0)))
def test_look_around_looks_to_the_named_side_first(synth, dialect, side, sign):
    for seed in SEEDS:
        clip = synth.make_clip([("look_around", {"side": side, "form": "torso"})], dialect, seed)
        head, neck = _parts(synth, clip, "head", "neck")
        lateral = sign * (head[:, 0] - neck[:, 0])  # > 0 towards the named side
        assert np.argmax(lateral) < np.argmin(lateral)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_walk_toward_the_left_travels_at_an_angle_while_facing_forward(synth, dialect, seed):
    for side, sign in (("left", 1.0), ("right", -1.0)):
        clip = synth.make_clip([("walk_toward", {"side": side, "steps": 6})], dialect, seed)
        j = synth.metres(clip)
        travel = j[-1, synth.body_joint(clip, "pelvis")] - j[0, synth.body_joint(clip, "pelvis")]
        angle = np.rad2deg(np.arctan2(sign * travel[0], travel[2]))
        assert 15 < angle < 75 and np.hypot(travel[0], travel[2]) > 1.5
        assert np.abs(np.rad2deg(synth.facing_yaw(clip))).max() < 30  # never turns towards it


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("angle", (90, 180))
def test_walk_turn_walks_turns_and_walks_on(synth, dialect, angle):
    clip = synth.make_clip([("walk_turn", {"side": "right", "angle": angle, "steps": 8})], dialect, seed=angle)
    yaw = np.rad2deg(synth.facing_yaw(clip))
    assert yaw[-1] - yaw[0] == pytest.approx(-angle, abs=25)
    j = synth.metres(clip)[:, synth.body_joint(clip, "pelvis")]
    if angle == 90:
        assert j[-1, 2] > 0.8 and j[-1, 0] < -0.8  # forward, then off to the right (-X)
    else:
        assert j[:, 2].max() > j[-1, 2] + 1.0  # walked back towards the start


def _mean_speed(synth, clip) -> float:
    """Metres per second over the frames where the pelvis moves."""
    j = synth.metres(clip)[:, synth.body_joint(clip, "pelvis")]
    step = np.linalg.norm(np.diff(j[:, [0, 2]], axis=0), axis=-1) * clip.fps
    moving = step > 0.3 * step.max()
    return float(step[moving].mean())


@pytest.mark.parametrize("dialect", DIALECTS)
def test_speed_words_stay_true_whatever_the_style_and_tempo(synth, dialect):
    speeds = {label: [] for label in ("slow", "normal", "fast")}
    for seed in range(8):
        for label in speeds:
            clip = synth.make_clip([("walk", {"speed": label, "steps": 6, "form": "swing"})], dialect, seed)
            speeds[label].append(_mean_speed(synth, clip))
    assert max(speeds["slow"]) < min(speeds["normal"]) and max(speeds["normal"]) < min(speeds["fast"])
    gaits = {}
    for family in ("jog", "run", "sprint"):
        gaits[family] = [_mean_speed(synth, synth.make_clip([(family, {"steps": 10})], dialect, s)) for s in range(4)]
    assert max(gaits["jog"]) < min(gaits["run"]) and max(gaits["run"]) < min(gaits["sprint"])


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_kick_forms_send_the_named_foot_where_they_should(synth, dialect, seed):
    for side, sign in (("left", 1.0), ("right", -1.0)):
        reach = {}
        for form in ("front", "side", "back", "roundhouse"):
            clip = synth.make_clip([("kick", {"side": side, "count": 1, "form": form})], dialect, seed)
            ankle, other = _parts(synth, clip, f"ankle:{side}", f"ankle:{'right' if side == 'left' else 'left'}")
            reach[form] = ankle
            assert other[:, 1].max() - other[0, 1] < 0.12, form  # the standing foot stays down
        assert reach["front"][:, 2].max() > 0.35
        assert reach["back"][:, 2].min() < -0.3
        assert (sign * reach["side"][:, 0]).max() > 0.35
        assert reach["roundhouse"][:, 1].max() > reach["roundhouse"][0, 1] + 0.3


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_punch_forms_differ_the_way_their_names_say(synth, dialect, seed):
    paths = {}
    for form in ("jab", "hook", "uppercut", "cross"):
        clip = synth.make_clip([("punch", {"side": "left", "count": 1, "form": form})], dialect, seed)
        paths[form] = _parts(synth, clip, "wrist:left", "elbow:left", "shoulder:left")
    wrist, _, shoulder = paths["jab"]
    assert wrist[:, 2].max() > shoulder[0, 2] + 0.4  # straight out in front
    wrist, elbow, shoulder = paths["hook"]
    k = _peak_frame(elbow[:, 1])
    assert elbow[k, 1] > shoulder[k, 1] - 0.15 and wrist[k, 0] < shoulder[k, 0]  # elbow up, fist swinging across
    wrist, _, shoulder = paths["uppercut"]
    k = _peak_frame(wrist[:, 1])
    assert wrist[k, 1] > shoulder[k, 1] and wrist[:, 2].max() < paths["jab"][0][:, 2].max() - 0.1


@pytest.mark.parametrize("dialect", DIALECTS)
def test_wave_forms_hold_the_hand_at_their_height_and_both_waves_both(synth, dialect):
    for seed in SEEDS:
        heights = {}
        for form in ("bent", "overhead", "low"):
            clip = synth.make_clip([("wave", {"side": "right", "count": 3, "form": form})], dialect, seed)
            wrist, head, shoulder = _parts(synth, clip, "wrist:right", "head", "shoulder:right")
            mid = len(wrist) // 2
            heights[form] = wrist[mid, 1] - shoulder[mid, 1]
            if form == "overhead":
                assert wrist[mid, 1] > head[mid, 1] + 0.1
        assert heights["overhead"] > heights["bent"] > 0.0 > heights["low"]
        clip = synth.make_clip([("wave", {"side": "both", "count": 2, "form": "bent"})], dialect, seed)
        lw, rw, ls = _parts(synth, clip, "wrist:left", "wrist:right", "shoulder:left")
        mid = len(lw) // 2
        assert lw[mid, 1] > ls[mid, 1] and rw[mid, 1] > ls[mid, 1]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_cheer_raise_hand_and_crouch(synth, dialect, seed):
    clip = synth.make_clip([("cheer", {"side": "left", "count": 3, "form": "arms_up"})], dialect, seed)
    lw, rw, head = _parts(synth, clip, "wrist:left", "wrist:right", "head")
    mid = len(lw) // 2
    assert lw[mid, 1] > head[mid, 1] and rw[mid, 1] > head[mid, 1]
    clip = synth.make_clip([("raise_hand", {"side": "right", "form": "straight"})], dialect, seed)
    rw, lw, head = _parts(synth, clip, "wrist:right", "wrist:left", "head")
    assert rw[:, 1].max() > head[0, 1] + 0.15 and lw[:, 1].max() < head[0, 1] - 0.3
    clip = synth.make_clip([("crouch", {"form": "deep"})], dialect, seed)
    pelvis = synth.metres(clip)[:, synth.body_joint(clip, "pelvis"), 1]
    assert pelvis[0] - pelvis.min() > 0.3 and abs(pelvis[-1] - pelvis[0]) < 0.08  # down, and back up


@pytest.mark.parametrize("dialect", DIALECTS)
def test_carry_push_pull_and_sword(synth, dialect):
    clip = synth.make_clip([("carry", {"side": "left", "steps": 6, "form": "box"})], dialect)
    lw, rw = _parts(synth, clip, "wrist:left", "wrist:right")
    mid = slice(len(lw) // 3, 2 * len(lw) // 3)
    assert (lw[mid, 2] > 0.15).all() and (rw[mid, 2] > 0.15).all()  # the box is held in front all the way
    travel = synth.metres(clip)[-1, 0] - synth.metres(clip)[0, 0]
    assert travel[2] > 1.5
    push = synth.make_clip([("push", {"steps": 4, "form": "both_hands"})], dialect)
    pull = synth.make_clip([("pull", {"steps": 3, "form": "both_hands"})], dialect)
    assert synth.metres(push)[-1, 0, 2] - synth.metres(push)[0, 0, 2] > 0.5
    assert synth.metres(pull)[-1, 0, 2] - synth.metres(pull)[0, 0, 2] < -0.4
    lw, = _parts(synth, push, "wrist:left")
    assert lw[len(lw) // 2, 2] > 0.35  # arms out in front, pushing
    clip = synth.make_clip([("sword", {"side": "right", "count": 2, "form": "stab"})], dialect)
    rw, rs = _parts(synth, clip, "wrist:right", "shoulder:right")
    assert rw[:, 2].max() > rs[0, 2] + 0.45


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_form_of_every_family_renders(synth, dialect):
    rng = np.random.default_rng(5)
    for fam in families_for(dialect):
        for form in fam.forms or (None,):
            params = fam.sample_params(rng, "train")
            if form is not None:
                params["form"] = form
            clip = synth.make_clip([(fam.name, params)], dialect, seed=int(rng.integers(100)))
            assert np.isfinite(clip.joints).all(), (fam.name, form)
            assert clip.captions, (fam.name, form)
