"""Everyday and household actions: picking things up, drinking, phone calls, pushing and pulling, idling and
fidgeting, playing instruments, wiping and stirring, standing still."""

from __future__ import annotations

import numpy as np

from motion_retrieval.synth.actions.core import (
    SIDES,
    GaitShape,
    choice,
    family,
    gait_program,
    other,
    params,
    s_,
    sign,
)
from motion_retrieval.synth.program import Program, plateau, ramp


@family("pick_up", "upper", weight=1.5, forms=("bend", "squat", "reach_side"))
@params(lambda r: {"side": choice(r, SIDES)})
def _pick_up(ctx, q):
    """Picks something up from the floor with the ``side`` hand and stands up holding it: bending over with
    straight-ish legs (``bend``), squatting down (``squat``), or reaching down beside the foot (``reach_side``)."""
    arm = s_(q["side"])
    down = ctx.period(1.0)
    p = Program.still(ctx.fps, 0.3 + 2 * down + 0.5 + 0.8)
    t = p.t
    bend = plateau(t, 0.3, 0.3 + 2 * down + 0.5, down)
    lift = ramp(t, 0.3 + down + 0.3, 0.3 + 2 * down + 0.5)
    if q["form"] == "squat":
        p["spine_pitch"] = 0.5 * bend
        p["l_hip_flex"] = p["r_hip_flex"] = 1.4 * bend
        p["l_knee"] = p["r_knee"] = 1.9 * bend
        p["l_ankle"] = p["r_ankle"] = -0.4 * bend
    else:
        p["spine_pitch"] = 1.0 * bend
        p["l_hip_flex"] = p["r_hip_flex"] = 0.6 * bend
        p["l_knee"] = p["r_knee"] = 0.9 * bend
    p[f"{arm}_sh_flex"] = 1.0 * bend + 0.6 * lift
    p[f"{arm}_elbow"] = 1.2 * lift
    if q["form"] == "reach_side":
        p[f"{arm}_sh_abd"] = 0.4 * bend
        p["spine_roll"] = sign(q["side"]) * 0.25 * bend
    p["neck_pitch"] = 0.3 * bend
    return p


@family("drink", "upper", forms=("cup", "bottle"))
@params(lambda r: {"side": choice(r, SIDES)})
def _drink(ctx, q):
    """Lifts a cup (or a bottle, tipped up higher) to the mouth with the ``side`` hand, drinks, lowers it."""
    arm = s_(q["side"])
    lift = ctx.period(0.8)
    hold = ctx.jitter(1.2, 0.3)
    p = Program.still(ctx.fps, 0.3 + 2 * lift + hold + 0.4)
    up = plateau(p.t, 0.3, 0.3 + 2 * lift + hold, lift)
    sip = plateau(p.t, 0.3 + lift, 0.3 + lift + hold, 0.3)
    bottle = q["form"] == "bottle"
    p[f"{arm}_sh_flex"] = 1.1 * up + (0.4 if bottle else 0.1) * sip
    p[f"{arm}_sh_abd"] = 0.4 * up
    p[f"{arm}_elbow"] = 2.0 * up - (0.3 if bottle else 0.0) * sip
    p[f"{arm}_sh_twist"] = -0.15 * up
    p[f"{arm}_sh_hadd"] = 0.4 * up
    p["neck_pitch"] = -(0.6 if bottle else 0.35) * sip
    return p


@family("phone_call", "upper", forms=("plain", "head_tilt", "gesturing"))
@params(lambda r: {"side": choice(r, SIDES)})
def _phone_call(ctx, q):
    """Takes a phone call: the ``side`` hand holds the phone to the ear for a few seconds (head tilted towards it
    in ``head_tilt``, the free hand gesturing while talking in ``gesturing``), then lowers it."""
    arm, free, sgn = s_(q["side"]), s_(other(q["side"])), sign(q["side"])
    lift = ctx.period(0.7)
    talk = ctx.jitter(3.0, 0.35)
    p = Program.still(ctx.fps, 0.3 + 2 * lift + talk + 0.5)
    up = plateau(p.t, 0.3, 0.3 + 2 * lift + talk, lift)
    p[f"{arm}_sh_flex"] = ctx.rng.uniform(0.85, 1.0) * up  # the hand at the ear, elbow forward and out
    p[f"{arm}_sh_abd"] = ctx.rng.uniform(0.75, 0.9) * up
    p[f"{arm}_elbow"] = ctx.rng.uniform(2.3, 2.45) * up
    p[f"{arm}_sh_twist"] = 0.5 * up
    p[f"{arm}_sh_hadd"] = 0.6 * up
    if q["form"] == "head_tilt":
        p["neck_pitch"] = 0.15 * up
        p["spine_roll"] = sgn * 0.1 * up
    if q["form"] == "gesturing":
        talking = plateau(p.t, 0.3 + lift + 0.3, 0.3 + lift + talk, 0.4)
        wave = np.sin(2 * np.pi * ctx.rng.uniform(0.4, 0.8) * p.t + ctx.rng.uniform(0, 6))
        p[f"{free}_sh_flex"] = talking * (0.5 + 0.2 * wave)
        p[f"{free}_elbow"] = talking * (1.3 + 0.3 * wave)
        p[f"{free}_sh_twist"] = -0.5 * talking
    p["neck_yaw"] = 0.15 * np.sin(2 * np.pi * 0.3 * p.t) * up  # looking about while listening
    return p


@family("push", "locomotion", forms=("both_hands", "shoulder"))
@params(lambda r: {"steps": int(r.integers(2, 6))})
def _push(ctx, q):
    """Pushes something heavy forward, leaning into it with both arms out in front (or a shoulder against it)
    while taking slow steps."""
    p, _ = gait_program(ctx, "slow", q["steps"], GaitShape(hip=0.35, knee=0.8, lean=0.3, arms_free=False))
    hold = plateau(p.t, 0.0, p.duration, 0.5)
    for s in "lr":
        if q["form"] == "both_hands":
            p.add(f"{s}_sh_flex", 1.35 * hold)
            p.add(f"{s}_elbow", ctx.rng.uniform(0.3, 0.7) * hold)
            p.add(f"{s}_sh_abd", 0.15 * hold)
        else:
            p.add(f"{s}_sh_flex", 0.5 * hold)
            p.add(f"{s}_elbow", 1.6 * hold)
    p.add("spine_pitch", 0.15 * hold)
    p.add("root_pitch", 0.15 * hold)
    p.add("l_hip_flex", 0.15 * hold)
    p.add("r_hip_flex", 0.15 * hold)
    return p


@family("pull", "locomotion", forms=("both_hands", "rope"))
@params(lambda r: {"steps": int(r.integers(2, 5))})
def _pull(ctx, q):
    """Pulls something heavy, walking backwards and leaning back with both hands gripping in front (hand over
    hand on a rope in ``rope``)."""
    rel = GaitShape(hip=0.3, knee=0.7, lean=-0.15, arms_free=False)
    p, phase = gait_program(ctx, "slow", q["steps"], rel, heading_deg=180.0, direction=-1.0)
    hold = plateau(p.t, 0.0, p.duration, 0.5)
    for i, s in enumerate("lr"):
        p.add(f"{s}_sh_flex", 1.0 * hold)
        p.add(f"{s}_elbow", 1.0 * hold)
        p.add(f"{s}_sh_hadd", 0.35 * hold)
        if q["form"] == "rope":
            p.add(f"{s}_elbow", 0.6 * hold * np.sin(phase + i * np.pi))
    p.add("spine_pitch", -0.1 * hold)
    p.add("root_pitch", -0.1 * hold)
    p.add("l_hip_flex", -0.1 * hold)
    p.add("r_hip_flex", -0.1 * hold)
    return p


@family("idle", "upper", weight=1.0, forms=("shift_weight", "look_watch", "touch_face", "scratch_head"))
@params(lambda r: {"side": choice(r, SIDES)})
def _idle(ctx, q):
    """Stands around: shifting the weight from foot to foot, looking at a watch on the ``side`` wrist, touching
    the face, or scratching the head with the ``side`` hand."""
    dur = ctx.jitter(3.5, 0.3)
    p = Program.still(ctx.fps, dur)
    t = p.t
    arm, sgn = s_(q["side"]), sign(q["side"])
    if q["form"] == "shift_weight":
        shifts = int(ctx.rng.integers(2, 4))
        side = np.sin(np.pi * shifts * ramp(t, 0.3, dur - 0.3) + ctx.rng.uniform(-0.3, 0.3))
        p["l_hip_abd"] = 0.07 * side
        p["r_hip_abd"] = -0.07 * side
        p["l_knee"] = 0.12 * np.maximum(0.0, -side)
        p["r_knee"] = 0.12 * np.maximum(0.0, side)
        p["spine_roll"] = -0.04 * side
        return p
    env = plateau(t, 0.4, dur - 0.3, 0.6)
    if q["form"] == "look_watch":  # forearm across in front of the chest, head down to it
        p[f"{arm}_sh_flex"] = 0.2 * env
        p[f"{arm}_sh_abd"] = 0.5 * env
        p[f"{arm}_elbow"] = 1.55 * env
        p[f"{arm}_sh_twist"] = 0.15 * env
        p[f"{arm}_sh_hadd"] = 1.0 * env
        p["neck_pitch"] = 0.45 * env
        p["neck_yaw"] = sgn * 0.2 * env
    elif q["form"] == "touch_face":
        p[f"{arm}_sh_flex"] = 1.05 * env
        p[f"{arm}_sh_abd"] = 0.5 * env
        p[f"{arm}_elbow"] = 2.1 * env
        p[f"{arm}_sh_hadd"] = 0.6 * env
    else:
        scratch = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)
        p[f"{arm}_sh_abd"] = 1.9 * env
        p[f"{arm}_sh_flex"] = 0.8 * env
        p[f"{arm}_elbow"] = env * (1.95 + 0.12 * scratch)
        p[f"{arm}_sh_twist"] = 1.3 * env
        p[f"{arm}_sh_hadd"] = 0.6 * env
        p["neck_pitch"] = 0.15 * env
    return p


@family("violin", "upper", dialects=("kitml",))
@params(lambda r: {})
def _violin(ctx, q):
    """Plays the violin: left hand up at the neck of the instrument, right arm bowing back and forth."""
    strokes = int(ctx.rng.integers(3, 7))
    period = ctx.period(0.9)
    p = Program.still(ctx.fps, 0.8 + strokes * period + 0.8)
    env = plateau(p.t, 0.2, 0.8 + strokes * period + 0.5, 0.5)
    p["l_sh_flex"] = 1.3 * env
    p["l_sh_abd"] = 0.4 * env
    p["l_elbow"] = 1.4 * env
    p["l_sh_hadd"] = -0.3 * env
    bow = np.sin(np.pi * np.clip((p.t - 0.8) / period, 0, strokes))
    p["r_sh_flex"] = 0.9 * env
    p["r_sh_hadd"] = env * (0.2 + 0.5 * bow)
    p["r_elbow"] = env * (1.3 - 0.7 * bow)
    p["neck_yaw"] = 0.3 * env
    return p


@family("guitar", "upper", dialects=("kitml",))
@params(lambda r: {})
def _guitar(ctx, q):
    """Plays an air guitar: left hand out on the fretboard, right hand strumming at the hip."""
    strums = int(ctx.rng.integers(4, 10))
    period = ctx.period(0.45)
    p = Program.still(ctx.fps, 0.7 + strums * period + 0.7)
    env = plateau(p.t, 0.2, 0.7 + strums * period + 0.4, 0.45)
    p["l_sh_flex"] = 0.8 * env
    p["l_sh_hadd"] = -0.2 * env
    p["l_elbow"] = 0.6 * env
    strum = np.sin(2 * np.pi * np.clip((p.t - 0.7) / period, 0, strums))
    p["r_sh_flex"] = env * (0.4 + 0.25 * strum)
    p["r_elbow"] = 1.5 * env
    p["r_sh_hadd"] = 0.6 * env
    p["neck_pitch"] = 0.3 * env
    return p


@family("wipe", "upper", dialects=("kitml",))
@params(lambda r: {"side": choice(r, SIDES)})
def _wipe(ctx, q):
    """Wipes a table in front with circles of the ``side`` hand."""
    arm = s_(q["side"])
    circles = int(ctx.rng.integers(2, 6))
    period = ctx.period(0.9)
    p = Program.still(ctx.fps, 0.8 + circles * period + 0.8)
    env = plateau(p.t, 0.2, 0.8 + circles * period + 0.5, 0.5)
    angle = 2 * np.pi * np.clip((p.t - 0.8) / period, 0, circles)
    p["spine_pitch"] = 0.45 * env
    p[f"{arm}_sh_flex"] = env * (1.0 + 0.25 * np.sin(angle))
    p[f"{arm}_sh_hadd"] = env * 0.4 * np.cos(angle)
    p[f"{arm}_elbow"] = env * (0.5 - 0.2 * np.sin(angle))
    return p


@family("stir", "upper", dialects=("kitml",))
@params(lambda r: {"side": choice(r, SIDES)})
def _stir(ctx, q):
    """Stirs in a bowl held at the belly: small circles of the ``side`` hand, the other hand holds the bowl."""
    arm, hold = s_(q["side"]), s_(other(q["side"]))
    circles = int(ctx.rng.integers(3, 8))
    period = ctx.period(0.6)
    p = Program.still(ctx.fps, 0.8 + circles * period + 0.8)
    env = plateau(p.t, 0.2, 0.8 + circles * period + 0.5, 0.5)
    angle = 2 * np.pi * np.clip((p.t - 0.8) / period, 0, circles)
    p[f"{hold}_sh_flex"] = 0.5 * env
    p[f"{hold}_elbow"] = 1.6 * env
    p[f"{hold}_sh_hadd"] = 0.4 * env
    p[f"{arm}_sh_flex"] = env * (0.6 + 0.12 * np.sin(angle))
    p[f"{arm}_elbow"] = env * 1.4
    p[f"{arm}_sh_hadd"] = env * (0.4 + 0.15 * np.cos(angle))
    p["neck_pitch"] = 0.4 * env
    return p


@family("stand", "idle", weight=0.0)
@params(lambda r: {})
def _stand(ctx, q):
    """Stands still (used between other actions: "then stops")."""
    return Program.still(ctx.fps, ctx.jitter(1.2, 0.3))


