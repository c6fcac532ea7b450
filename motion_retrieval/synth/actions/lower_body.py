"""Lower-body actions: squats, lunges, crouching, sitting down and standing up, kicks, balancing, knee raises,
kneeling, calf raises."""

from __future__ import annotations

import numpy as np

from motion_retrieval.synth.actions.core import SIDES, choice, count_starts, family, other, params, s_, sign
from motion_retrieval.synth.program import Program, bumps, plateau, ramp


def _squat_arms(p: Program, form: str, level: np.ndarray, hold: np.ndarray) -> None:
    for s in "lr":
        if form == "arms_forward":  # arms come forward for balance as the body goes down
            p.add(f"{s}_sh_flex", 1.4 * level)
        elif form == "hands_on_hips":
            p.add(f"{s}_sh_abd", 0.62 * hold)
            p.add(f"{s}_elbow", 1.25 * hold)
            p.add(f"{s}_sh_twist", -1.4 * hold)
            p.add(f"{s}_sh_flex", -0.2 * hold)
        else:  # hands behind the head, elbows out
            p.add(f"{s}_sh_abd", 2.1 * hold)
            p.add(f"{s}_elbow", 2.5 * hold)
            p.add(f"{s}_sh_twist", 1.4 * hold)
            p.add(f"{s}_sh_hadd", 0.3 * hold)


@family("squat", "lower", weight=1.5, forms=("arms_forward", "hands_on_hips", "hands_behind_head"))
@params(lambda r: {"count": int(r.integers(1, 6))})
def _squat(ctx, q):
    period = ctx.period(1.5)
    starts = count_starts(0.6, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.7)
    depth = np.minimum(bumps(p.t, starts, period * 0.95), 1.0) * ctx.jitter(ctx.amp, 0.1)
    hold = plateau(p.t, 0.1, starts[-1] + period + 0.4, 0.45)
    for s in "lr":
        p[f"{s}_hip_flex"] = 1.5 * depth
        p[f"{s}_knee"] = 1.9 * depth
        p[f"{s}_ankle"] = -0.5 * depth
    _squat_arms(p, q["form"], depth, hold)
    p["spine_pitch"] = 0.35 * depth
    p["neck_pitch"] = -0.2 * depth
    return p


@family("lunge", "lower")
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(1, 4))})
def _lunge(ctx, q):
    """Forward lunges with the ``side`` leg stepping out; the back foot stays planted."""
    front, back = s_(q["side"]), s_(other(q["side"]))
    period = ctx.period(1.8)
    starts = count_starts(0.3, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.4)
    depth = np.minimum(bumps(p.t, starts, period * 0.95), 1.0)
    lower = np.minimum(bumps(p.t, starts + 0.25 * period, period * 0.5), 1.0)
    p[f"{front}_hip_flex"] = 0.7 * depth + 0.5 * lower
    p[f"{front}_knee"] = 0.3 * depth + 1.1 * lower
    p[f"{back}_hip_flex"] = -0.35 * depth
    p[f"{back}_knee"] = 1.3 * lower
    p[f"{back}_ankle"] = 0.6 * lower
    p["anchor_mix"] = 0.0 if back == "l" else 1.0
    arms = ctx.rng.uniform(0.1, 0.3)
    p["l_sh_abd"] = p["r_sh_abd"] = arms * depth
    return p


@family("crouch", "lower", forms=("deep", "on_toes", "hand_down"))
@params(lambda r: {})
def _crouch(ctx, q):
    """Crouches down low (heels down, up on the toes, or one hand touching the floor), stays down a moment, and
    stands up again."""
    down = ctx.period(0.9)
    hold = ctx.jitter(1.5, 0.4)
    p = Program.still(ctx.fps, 0.3 + 2 * down + hold + 0.5)
    level = plateau(p.t, 0.3, 0.3 + 2 * down + hold, down)
    toes = q["form"] != "deep"
    for s in "lr":
        p[f"{s}_hip_flex"] = 1.7 * level
        p[f"{s}_knee"] = (2.2 if toes else 2.0) * level
        p[f"{s}_ankle"] = (0.5 if toes else -0.55) * level
        p[f"{s}_hip_abd"] = 0.15 * level
        p[f"{s}_sh_flex"] = 0.7 * level
        p[f"{s}_elbow"] = 0.8 * level
    p["spine_pitch"] = 0.45 * level
    p["neck_pitch"] = -0.35 * level
    if q["form"] == "hand_down":
        hand = choice(ctx.rng, "lr")
        p.add(f"{hand}_sh_flex", 0.3 * level)
        p.add(f"{hand}_elbow", -0.7 * level)
        p.add("spine_pitch", 0.2 * level)
    return p


def _sitting(p: Program, level: np.ndarray, form: str) -> None:
    """Sitting posture scaled by ``level`` in [0, 1]; the trunk leans forward most mid-transition."""
    for s in "lr":
        p[f"{s}_hip_flex"] = 1.55 * level
        p[f"{s}_knee"] = 1.55 * level
        if form == "hands_on_thighs" or form == "push_off":
            p[f"{s}_sh_flex"] = 0.55 * level
            p[f"{s}_elbow"] = 0.5 * level
        else:
            p[f"{s}_sh_flex"] = 0.3 * level
            p[f"{s}_elbow"] = 0.8 * level
    lean = {"slump": -0.2, "rock": 0.1}.get(form, 0.1)
    p["spine_pitch"] = 0.5 * np.sin(np.pi * level) + lean * level
    if form == "slump":
        p["neck_pitch"] = 0.25 * level


@family("sit_down", "lower", weight=1.5, end="seated", forms=("plain", "hands_on_thighs", "slump"))
@params(lambda r: {})
def _sit_down(ctx, q):
    dur = ctx.period(1.6 if q["form"] != "slump" else 1.1)
    p = Program.still(ctx.fps, 0.3 + dur + ctx.jitter(1.5, 0.3))
    _sitting(p, ramp(p.t, 0.3, 0.3 + dur), q["form"])
    return p


@family("stand_up", "lower", weight=1.0, start="seated", forms=("plain", "push_off", "rock"))
@params(lambda r: {})
def _stand_up(ctx, q):
    dur = ctx.period(1.6)
    hold = ctx.jitter(0.8, 0.3)
    rock = 1.4 if q["form"] == "rock" else 0.0
    p = Program.still(ctx.fps, hold + rock + dur + 0.8)
    _sitting(p, 1.0 - ramp(p.t, hold + rock, hold + rock + dur), q["form"])
    if rock:  # rocks the trunk forward twice to build momentum, then stands
        p.add("spine_pitch", 0.35 * bumps(p.t, [hold, hold + 0.7], 0.7))
    return p


def _kick_curves(p: Program, ctx, q, starts, period) -> None:
    kicker, sgn = s_(q["side"]), sign(q["side"])
    chamber = np.minimum(bumps(p.t, starts, 0.8 * period), 1.0)
    extend = np.minimum(bumps(p.t, starts + 0.2 * period, 0.4 * period), 1.0)
    height = ctx.jitter(ctx.amp, 0.15)
    form = q["form"]
    if form == "front":
        p[f"{kicker}_hip_flex"] = (0.9 * chamber + 0.5 * extend) * height
        p[f"{kicker}_knee"] = 1.5 * chamber - 1.4 * extend
        p.add("spine_pitch", -0.1 * extend)
    elif form == "side":
        p[f"{kicker}_hip_abd"] = (0.5 * chamber + 0.6 * extend) * height
        p[f"{kicker}_hip_flex"] = 0.5 * chamber
        p[f"{kicker}_knee"] = 1.4 * chamber - 1.3 * extend
        p.add("spine_roll", sgn * -0.35 * chamber)
    elif form == "back":  # the foot drives out behind, the trunk tips forward
        p[f"{kicker}_hip_flex"] = (0.4 * chamber - 1.1 * extend) * height
        p[f"{kicker}_knee"] = 1.6 * chamber - 1.3 * extend
        p.add("spine_pitch", 0.45 * chamber)
        p.add("neck_pitch", -0.3 * chamber)
        p.add("neck_yaw", sgn * 0.4 * chamber)
    else:  # roundhouse: the knee comes up and round, the shin whips across, the support foot pivots
        p[f"{kicker}_hip_abd"] = (0.75 * chamber + 0.55 * extend) * height
        p[f"{kicker}_hip_flex"] = (0.9 * chamber + 0.25 * extend) * height
        p[f"{kicker}_knee"] = 1.6 * chamber - 1.4 * extend
        p.add("root_yaw", -sgn * 0.6 * chamber)
        p.add("spine_roll", -sgn * 0.3 * chamber)
    p[f"{kicker}_ankle"] = 0.6 * extend
    guard = plateau(p.t, 0.2, starts[-1] + period, 0.3)
    if form in ("side", "roundhouse"):
        for s in "lr":
            p.add(f"{s}_sh_flex", 0.5 * guard)
            p.add(f"{s}_elbow", 1.8 * guard)
    else:
        p["l_sh_abd"] = p["r_sh_abd"] = 0.3 * chamber


@family("kick", "lower", weight=1.5, forms=("front", "side", "roundhouse", "back"))
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(1, 4))})
def _kick(ctx, q):
    stand = s_(other(q["side"]))
    period = ctx.period(1.1)
    starts = count_starts(0.4, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.5)
    _kick_curves(p, ctx, q, starts, period)
    p["anchor_mix"] = 0.0 if stand == "l" else 1.0
    return p


@family("balance", "lower")
@params(lambda r: {"side": choice(r, SIDES)})
def _balance(ctx, q):
    """Stands on the ``side`` leg, the other foot lifted, arms out, swaying a little."""
    stand, free = s_(q["side"]), s_(other(q["side"]))
    hold = ctx.jitter(3.0, 0.3)
    p = Program.still(ctx.fps, hold + 1.4)
    up = plateau(p.t, 0.3, 0.3 + hold + 0.6, 0.5)
    t = p.t
    wobble = 0.08 * np.sin(2 * np.pi * 0.7 * t + ctx.rng.uniform(0, 6)) + 0.05 * np.sin(2 * np.pi * 1.3 * t)
    knee = ctx.rng.uniform(1.0, 1.6)
    p[f"{free}_hip_flex"] = ctx.rng.uniform(0.3, 0.9) * up
    p[f"{free}_knee"] = knee * up
    arms = ctx.rng.uniform(0.9, 1.4)
    p["l_sh_abd"] = (arms + wobble) * up
    p["r_sh_abd"] = (arms - wobble) * up
    p["spine_roll"] = 0.5 * wobble * up
    p["anchor_mix"] = 0.0 if stand == "l" else 1.0
    return p


@family("knee_raise", "lower")
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(1, 5))})
def _knee_raise(ctx, q):
    leg, stand = s_(q["side"]), s_(other(q["side"]))
    period = ctx.period(1.0)
    starts = count_starts(0.3, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.4)
    up = np.minimum(bumps(p.t, starts, 0.9 * period), 1.0)
    p[f"{leg}_hip_flex"] = 1.5 * up * ctx.amp
    p[f"{leg}_knee"] = 1.7 * up
    p["l_sh_abd"] = p["r_sh_abd"] = 0.15 * up
    p["anchor_mix"] = 0.0 if stand == "l" else 1.0
    return p


@family("kneel", "lower", end="kneeling")
@params(lambda r: {"side": choice(r, SIDES)})
def _kneel(ctx, q):
    """Goes down onto the ``side`` knee (the other foot stays planted in front) and stays there."""
    down, up = s_(q["side"]), s_(other(q["side"]))
    dur = ctx.period(1.5)
    p = Program.still(ctx.fps, 0.3 + dur + ctx.jitter(1.8, 0.3))
    level = ramp(p.t, 0.3, 0.3 + dur)
    p[f"{up}_hip_flex"] = 1.5 * level
    p[f"{up}_knee"] = 1.5 * level
    p[f"{down}_hip_flex"] = -0.1 * level
    p[f"{down}_knee"] = 1.55 * level
    p[f"{down}_ankle"] = 0.9 * level
    p["spine_pitch"] = 0.2 * np.sin(np.pi * level)
    p[f"{up}_sh_flex"] = 0.4 * level
    p[f"{up}_elbow"] = 0.6 * level
    p["anchor_mix"] = 0.5
    return p


@family("calf_raise", "lower")
@params(lambda r: {"count": int(r.integers(2, 6))})
def _calf_raise(ctx, q):
    period = ctx.period(1.0)
    starts = count_starts(0.3, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.4)
    up = np.minimum(bumps(p.t, starts, 0.9 * period), 1.0)
    p["l_ankle"] = p["r_ankle"] = 0.9 * up
    p["l_sh_abd"] = p["r_sh_abd"] = 0.1 * up
    return p
