"""Upper-body exercise, sports and fighting: arm raises, claps, punches and boxing, sword strikes, throws,
stretches, bends and twists, golf and tennis swings, arm circles, dancing."""

from __future__ import annotations

import numpy as np

from motion_retrieval.synth.actions.core import (
    SIDES,
    arm_sides,
    choice,
    count_starts,
    family,
    other,
    params,
    s_,
    sign,
    steps_in_place,
)
from motion_retrieval.synth.program import Program, bumps, plateau, ramp


@family("raise_arm", "upper", weight=2.0)
@params(lambda r: {"side": choice(r, ("left", "right", "both")), "how": choice(r, ("forward", "side", "up"))})
def _raise_arm(ctx, q):
    hold = ctx.jitter(1.2, 0.4)
    rise = ctx.period(0.7)
    p = Program.still(ctx.fps, 0.3 + 2 * rise + hold + 0.4)
    up = plateau(p.t, 0.3, 0.3 + 2 * rise + hold, rise)
    bend = ctx.rng.uniform(0.0, 0.25)
    for s in arm_sides(q["side"]):
        if q["how"] == "forward":
            p[f"{s}_sh_flex"] = ctx.jitter(1.5, 0.08) * up
            p[f"{s}_sh_abd"] = ctx.rng.uniform(0.0, 0.2) * up
        elif q["how"] == "side":
            p[f"{s}_sh_abd"] = ctx.jitter(1.5, 0.08) * up
            p[f"{s}_sh_flex"] = ctx.rng.uniform(0.0, 0.25) * up
        else:  # above the horizontal a positive abduction would tip the arm towards the midline, so spread < 0
            p[f"{s}_sh_flex"] = ctx.jitter(2.9, 0.04) * up
            p[f"{s}_sh_abd"] = -ctx.rng.uniform(0.0, 0.3) * up
        p[f"{s}_elbow"] = bend * up
    return p


@family("clap", "upper", weight=1.5, forms=("chest", "low", "overhead"))
@params(lambda r: {"count": int(r.integers(2, 7))})
def _clap(ctx, q):
    period = ctx.period(0.5)
    start = 0.8
    p = Program.still(ctx.fps, start + q["count"] * period + 0.8)
    env = plateau(p.t, 0.3, start + q["count"] * period + 0.4, 0.45)
    starts = count_starts(start, period, q["count"], ctx)
    together = np.minimum(bumps(p.t, starts, period), 1.0)
    for s in "lr":
        if q["form"] == "overhead":  # hands meet above the head: the arms close in from a V
            p[f"{s}_sh_flex"] = 2.6 * env
            p[f"{s}_sh_abd"] = env * (-0.3 + 0.6 * together)
            p[f"{s}_elbow"] = 0.3 * env
        else:
            # Hands meet (horizontal adduction ~ 0.45 rad brings the wrists to the midline) once per period.
            p[f"{s}_sh_flex"] = (1.2 if q["form"] == "chest" else 0.7) * env
            p[f"{s}_elbow"] = (0.7 if q["form"] == "chest" else 1.1) * env
            p[f"{s}_sh_hadd"] = env * (-0.25 + 0.75 * together)
    return p


def _guard(p: Program, env: np.ndarray, height: float = 0.6) -> None:
    for s in "lr":
        p[f"{s}_sh_flex"] = height * env
        p[f"{s}_elbow"] = 2.0 * env
        p[f"{s}_sh_hadd"] = 0.35 * env


def _strike(p: Program, arm: str, sgn: float, strike: np.ndarray, form: str) -> None:
    """One punch of ``form`` with the ``arm`` side, added on top of a guard. ``strike``: 0 -> 1 -> 0 per punch."""
    if form == "jab":
        p.add(f"{arm}_sh_flex", 0.95 * strike)
        p.add(f"{arm}_elbow", -1.95 * strike)
        p.add("spine_yaw", -sgn * 0.2 * strike)
    elif form == "cross":  # the whole body turns into it, the heel of the punching side lifts
        p.add(f"{arm}_sh_flex", 0.95 * strike)
        p.add(f"{arm}_elbow", -1.95 * strike)
        p.add("spine_yaw", -sgn * 0.45 * strike)
        p.add("root_yaw", -sgn * 0.2 * strike)
        p.add(f"{arm}_ankle", 0.4 * strike)
    elif form == "hook":  # elbow up at shoulder height and kept bent, the fist swings across
        p.add(f"{arm}_sh_abd", 1.2 * strike)
        p.add(f"{arm}_sh_flex", -0.3 * strike)
        p.add(f"{arm}_elbow", -0.4 * strike)
        p.add(f"{arm}_sh_hadd", 0.6 * strike)
        p.add("spine_yaw", -sgn * 0.5 * strike)
    else:  # uppercut: dips, then drives the bent arm straight up in front
        p.add(f"{arm}_sh_flex", 1.0 * strike)
        p.add(f"{arm}_elbow", -0.3 * strike)
        p.add(f"{arm}_sh_hadd", -0.2 * strike)
        p.add("spine_yaw", -sgn * 0.25 * strike)
        p.add("spine_pitch", -0.1 * strike)


@family("punch", "upper", weight=1.5, forms=("jab", "hook", "cross", "uppercut"))
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(1, 5))})
def _punch(ctx, q):
    arm, sgn = s_(q["side"]), sign(q["side"])
    period = ctx.period(0.6 if q["form"] == "jab" else 0.8)
    start = 0.7
    starts = count_starts(start, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.7)
    guard = plateau(p.t, 0.2, starts[-1] + period + 0.3, 0.45)
    _guard(p, guard, ctx.rng.uniform(0.5, 0.8))
    strike = np.minimum(bumps(p.t, starts, 0.8 * period), 1.0) * ctx.jitter(1.0, 0.08)
    if q["form"] == "uppercut":
        for s in "lr":
            p.add(f"{s}_knee", 0.25 * np.minimum(bumps(p.t, starts - 0.15, 0.5 * period), 1.0))
    _strike(p, arm, sgn, strike, q["form"])
    p[f"{s_(other(q['side']))}_hip_flex"] = 0.2 * guard
    return p


@family("boxing", "upper")
@params(lambda r: {"count": int(r.integers(3, 9))})
def _boxing(ctx, q):
    """Boxing stance, bouncing, alternating punches (jabs, crosses, hooks) starting with a random hand."""
    period = ctx.period(0.5)
    start = 0.6
    starts = count_starts(start, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.7)
    guard = plateau(p.t, 0.2, starts[-1] + period + 0.3, 0.4)
    first = int(ctx.rng.integers(2))
    _guard(p, guard)
    for s in "lr":
        p[f"{s}_knee"] = 0.3 * guard + 0.1 * guard * np.sin(4 * np.pi * p.t / period) ** 2
        p[f"{s}_hip_flex"] = 0.2 * guard
    for i, t0 in enumerate(starts):
        s = "lr"[(i + first) % 2]
        strike = bumps(p.t, [t0], 0.8 * period)
        _strike(p, s, 1.0 if s == "l" else -1.0, strike, choice(ctx.rng, ("jab", "jab", "cross", "hook")))
    p["spine_pitch"] = 0.15 * guard
    return p


@family("sword", "upper", forms=("slash", "stab", "chop"))
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(1, 4))})
def _sword(ctx, q):
    """Strikes with a sword in the ``side`` hand ``count`` times: diagonal slashes from high outside down across
    the body (``slash``), lunging stabs straight forward (``stab``), or two-handed overhead chops (``chop``)."""
    arm, sgn, front = s_(q["side"]), sign(q["side"]), s_(q["side"])
    period = ctx.period(1.0)
    starts = count_starts(0.8, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.8)
    ready = plateau(p.t, 0.2, starts[-1] + period + 0.4, 0.5)
    t = p.t
    p[f"{arm}_sh_flex"] = 0.7 * ready
    p[f"{arm}_elbow"] = 1.2 * ready
    p.add("l_knee", 0.2 * ready)
    p.add("r_knee", 0.2 * ready)
    for t0 in starts:
        wind = plateau(t, t0 - 0.35, t0 + 0.05, 0.3)
        hit = bumps(t, [t0], 0.6 * period)
        if q["form"] == "slash":
            p.add(f"{arm}_sh_abd", 1.6 * wind)
            p.add(f"{arm}_sh_flex", 0.9 * wind + 0.3 * hit)
            p.add(f"{arm}_elbow", -0.6 * wind - 1.0 * hit)
            p.add(f"{arm}_sh_hadd", 0.9 * hit)
            p.add("spine_yaw", sgn * (0.3 * wind - 0.5 * hit))
        elif q["form"] == "stab":
            p.add(f"{arm}_elbow", 0.6 * wind - 1.15 * hit)
            p.add(f"{arm}_sh_flex", -0.2 * wind + 0.85 * hit)
            p.add(f"{front}_hip_flex", 0.6 * hit)
            p.add(f"{front}_knee", 0.5 * hit)
            p.add("spine_pitch", 0.2 * hit)
            p.add("spine_yaw", -sgn * 0.2 * hit)
        else:
            for s in "lr":
                p.add(f"{s}_sh_flex", 2.0 * wind - 0.6 * hit + (0.7 * ready if s != arm else 0.0))
                p.add(f"{s}_elbow", 0.6 * wind - 0.9 * hit + (1.2 * ready if s != arm else 0.0))
                p.add(f"{s}_sh_hadd", 0.35 * ready)
            p.add("spine_pitch", 0.35 * hit - 0.1 * wind)
    p["anchor_mix"] = 0.0 if front == "r" else 1.0
    return p


@family("throw", "upper", weight=1.2, forms=("overhand", "underhand", "sidearm"))
@params(lambda r: {"side": choice(r, SIDES)})
def _throw(ctx, q):
    """Throws with the ``side`` hand, stepping with the other leg: overhand (wind up behind the head, whip
    forward), underhand (swing back low, release in front), or sidearm (a flat swing at hip height)."""
    arm, step = s_(q["side"]), s_(other(q["side"]))
    wind = ctx.period(0.8)
    p = Program.still(ctx.fps, 0.3 + wind + 1.6)
    t = p.t
    back = plateau(t, 0.3, 0.3 + wind + 0.25, wind * 0.8)
    release = plateau(t, 0.3 + wind, 0.3 + wind + 1.0, 0.25)
    follow = 1 - ramp(t, 0.3 + wind + 0.3, 0.3 + wind + 0.9) * 0.6
    if q["form"] == "overhand":
        p[f"{arm}_sh_abd"] = 1.4 * back + 0.3 * release
        p[f"{arm}_sh_twist"] = 1.5 * back
        p[f"{arm}_elbow"] = 1.6 * back + 0.2 * release
        p[f"{arm}_sh_flex"] = -0.5 * back + 1.3 * release * follow
        p[f"{arm}_sh_hadd"] = 0.8 * release
        p["spine_pitch"] = 0.35 * release
    elif q["form"] == "underhand":
        p[f"{arm}_sh_flex"] = -0.8 * back + 1.5 * release * follow
        p[f"{arm}_elbow"] = 0.2 * back + 0.2 * release
        p["spine_pitch"] = 0.25 * back + 0.1 * release
        p[f"{arm}_knee"] = 0.3 * back
    else:
        p[f"{arm}_sh_abd"] = 1.2 * np.maximum(back, release)
        p[f"{arm}_sh_hadd"] = -0.9 * back + 1.3 * release * follow
        p[f"{arm}_elbow"] = 0.9 * back + 0.2 * release
        p["spine_pitch"] = 0.2 * release
    p["spine_yaw"] = sign(q["side"]) * (-0.5 * back + 0.5 * release)
    p[f"{step}_hip_flex"] = 0.5 * release
    p[f"{step}_knee"] = 0.3 * release
    p["anchor_mix"] = 1.0 if step == "l" else 0.0
    return p


@family("stretch", "upper")
@params(lambda r: {})
def _stretch(ctx, q):
    """Reaches both arms overhead, rises a little onto the toes, and lowers them."""
    hold = ctx.jitter(1.5, 0.3)
    p = Program.still(ctx.fps, 0.3 + hold + 2.0)
    up = plateau(p.t, 0.3, 0.3 + hold + 1.6, 0.8)
    spread = ctx.rng.uniform(0.0, 0.5)
    for s in "lr":
        p[f"{s}_sh_flex"] = 2.95 * up
        p[f"{s}_sh_abd"] = -spread * up  # arms overhead in a V
        p[f"{s}_ankle"] = ctx.rng.uniform(0.0, 0.6) * up
    p["spine_pitch"] = -0.15 * up
    p["neck_pitch"] = -0.3 * up
    return p


@family("side_bend", "upper")
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(1, 3))})
def _side_bend(ctx, q):
    """Bends the trunk to ``side`` then to the other side, ``count`` times each; arms overhead."""
    period = ctx.period(1.6)
    p = Program.still(ctx.fps, 0.8 + 2 * q["count"] * period + 0.8)
    arms = plateau(p.t, 0.2, 0.8 + 2 * q["count"] * period + 0.5, 0.5)
    bend = np.zeros_like(p.t)
    for i in range(2 * q["count"]):
        direction = sign(q["side"]) * (1 if i % 2 == 0 else -1)
        bend += direction * bumps(p.t, [0.8 + i * period], period)
    p["spine_roll"] = 0.6 * bend
    for s in "lr":
        p[f"{s}_sh_flex"] = 2.8 * arms
    return p


@family("golf_swing", "upper", dialects=("humanml3d",))
@params(lambda r: {})
def _golf_swing(ctx, q):
    """Address, backswing to the right, downswing and follow-through to the left (a right-handed swing)."""
    back = ctx.period(1.0)
    p = Program.still(ctx.fps, 0.8 + back + 1.6)
    t = p.t
    stance = plateau(t, 0.1, 0.8 + back + 1.4, 0.5)
    twist = -1.0 * ramp(t, 0.8, 0.8 + back) + 2.2 * ramp(t, 0.8 + back + 0.1, 0.8 + back + 0.45)  # backswing, hit
    p["spine_pitch"] = 0.45 * stance
    p["spine_yaw"] = 0.7 * twist * stance
    for s in "lr":
        p[f"{s}_sh_flex"] = stance * (0.5 + 0.9 * np.abs(twist) * 0.6)
        p[f"{s}_sh_hadd"] = stance * 0.5
        p[f"{s}_knee"] = 0.25 * stance
    p["l_sh_hadd"] += -0.8 * twist * stance
    p["r_sh_hadd"] += 0.8 * twist * stance
    p["r_elbow"] = 0.9 * np.maximum(0.0, -twist) * stance
    p["neck_yaw"] = -0.5 * twist * stance  # eyes stay on the ball
    return p


_DANCE_MOVES = ("pump", "sway", "disco", "bounce", "twist", "wave")


@family("dance", "upper", weight=1.5, forms=("freestyle", "sway", "twist", "bounce", "disco", "arm_wave"))
@params(lambda r: {"speed": choice(r, ("slow", "fast"))})
def _dance(ctx, q):
    """Dancing to a beat: ``freestyle`` changes move every bar; the other forms keep one move (swaying hips and
    arms, twisting on the feet, bouncing with pumping arms, disco pointing, arm waves)."""
    beat = (0.75 if q["speed"] == "slow" else 0.42) / ctx.tempo
    bars = int(ctx.rng.integers(2, 4))
    dur = bars * 4 * beat
    p = Program.still(ctx.fps, dur + 0.8)
    env = plateau(p.t, 0.2, 0.2 + dur + 0.3, 0.3)
    w = 2 * np.pi / (2 * beat)
    t = p.t
    p["spine_roll"] = 0.12 * env * np.sin(w * t)
    p["root_roll"] = 0.06 * env * np.sin(w * t)
    steps_in_place(p, 0.2, 0.2 + dur, bars * 4, lift=0.5)
    for bar in range(bars):
        move = plateau(t, 0.2 + bar * 4 * beat, 0.2 + (bar + 1) * 4 * beat, 0.3)
        kind = choice(ctx.rng, _DANCE_MOVES) if q["form"] == "freestyle" else {
            "sway": "sway", "twist": "twist", "bounce": "bounce", "disco": "disco", "arm_wave": "wave"}[q["form"]]
        for s, ph in (("l", 0.0), ("r", np.pi)):
            if kind == "pump":  # arms pumping up
                p.add(f"{s}_sh_flex", move * (1.5 + 1.0 * np.sin(w * t + ph)))
                p.add(f"{s}_elbow", move * 0.8)
            elif kind == "sway":  # arms swaying sideways
                p.add(f"{s}_sh_abd", move * (0.9 + 0.6 * np.sin(w * t + ph)))
                p.add(f"{s}_elbow", move * 1.0)
            elif kind == "disco":  # one arm points up and across, then the other
                p.add(f"{s}_sh_flex", move * (1.2 + 1.2 * np.sin(w * t / 2 + ph)))
                p.add(f"{s}_sh_hadd", move * 0.4 * np.maximum(0.0, np.sin(w * t / 2 + ph)))
            elif kind == "bounce":  # knees bounce on the beat, fists pumping in front
                p.add(f"{s}_knee", move * 0.35 * np.abs(np.sin(w * t)))
                p.add(f"{s}_hip_flex", move * 0.2 * np.abs(np.sin(w * t)))
                p.add(f"{s}_sh_flex", move * (0.8 + 0.4 * np.sin(2 * w * t)))
                p.add(f"{s}_elbow", move * 1.6)
            elif kind == "twist":  # hips twist against the shoulders, arms bent at the sides
                p.add(f"{s}_sh_abd", move * 0.7)
                p.add(f"{s}_elbow", move * 1.5)
                p.add(f"{s}_knee", move * 0.3)
            else:  # a wave rolling through both arms held out to the sides
                p.add(f"{s}_sh_abd", move * (1.5 + 0.3 * np.sin(w * t + (0 if s == "l" else 1.5))))
                p.add(f"{s}_elbow", move * (0.5 + 0.5 * np.sin(w * t + (1.0 if s == "l" else 2.5))))
                p.add(f"{s}_collar_elev", move * 0.15 * np.sin(w * t + (0.5 if s == "l" else 2.0)))
        if kind == "twist":
            p.add("root_yaw", move * 0.35 * np.sin(w * t))
            p.add("spine_yaw", -move * 0.45 * np.sin(w * t))
    p["anchor"] = 0.7
    return p


@family("arm_circles", "upper")
@params(lambda r: {"side": choice(r, ("left", "right", "both")), "count": int(r.integers(2, 5)),
                   "direction": choice(r, ("forward", "forward", "backward"))})
def _arm_circles(ctx, q):
    """Big windmill circles of straight arms, forwards or backwards."""
    period = ctx.period(1.0)
    p = Program.still(ctx.fps, 0.4 + q["count"] * period + 0.5)
    angle = 2 * np.pi * q["count"] * ramp(p.t, 0.4, 0.4 + q["count"] * period)
    if q.get("direction", "forward") == "backward":
        angle = -angle
    for s in arm_sides(q["side"]):
        p[f"{s}_sh_flex"] = angle
        p[f"{s}_sh_abd"] = 0.25 * np.sin(angle / 2) ** 2
    return p


@family("touch_toes", "upper")
@params(lambda r: {})
def _touch_toes(ctx, q):
    down = ctx.period(1.2)
    p = Program.still(ctx.fps, 0.3 + 2 * down + 1.0 + 0.4)
    bend = plateau(p.t, 0.3, 0.3 + 2 * down + 1.0, down)
    p["spine_pitch"] = 1.35 * bend
    p["l_hip_flex"] = p["r_hip_flex"] = 0.35 * bend
    p["l_sh_flex"] = p["r_sh_flex"] = 1.3 * bend
    p["neck_pitch"] = 0.3 * bend
    return p


@family("tennis_swing", "upper", dialects=("humanml3d",))
@params(lambda r: {"side": choice(r, SIDES)})
def _tennis_swing(ctx, q):
    """A forehand with the ``side`` hand: racket back, swing across the body."""
    arm, sgn = s_(q["side"]), sign(q["side"])
    back = ctx.period(0.9)
    p = Program.still(ctx.fps, 0.3 + back + 1.4)
    t = p.t
    stance = plateau(t, 0.1, 0.3 + back + 1.2, 0.4)
    prep = plateau(t, 0.3, 0.3 + back + 0.15, back * 0.8)
    hit = plateau(t, 0.3 + back, 0.3 + back + 0.9, 0.2)
    p[f"{arm}_sh_abd"] = 1.1 * stance
    p[f"{arm}_sh_hadd"] = -1.0 * prep + 1.6 * hit
    p[f"{arm}_elbow"] = 0.4 * stance
    p["spine_yaw"] = sgn * (-0.6 * prep + 0.6 * hit)
    p["l_knee"] = p["r_knee"] = 0.3 * stance
    p["spine_pitch"] = 0.15 * stance
    return p


@family("torso_twist", "upper")
@params(lambda r: {"count": int(r.integers(2, 5))})
def _torso_twist(ctx, q):
    period = ctx.period(1.3)
    p = Program.still(ctx.fps, 0.5 + q["count"] * period + 0.6)
    env = plateau(p.t, 0.2, 0.5 + q["count"] * period + 0.3, 0.3)
    twist = np.sin(2 * np.pi * np.clip((p.t - 0.5) / period, 0, q["count"]))
    p["spine_yaw"] = 0.9 * env * twist * float(ctx.rng.choice([-1.0, 1.0]))
    arms = ctx.rng.uniform(1.2, 1.5)
    for s in "lr":
        p[f"{s}_sh_abd"] = arms * env
        p[f"{s}_elbow"] = ctx.rng.uniform(0.1, 1.2) * env
    return p
