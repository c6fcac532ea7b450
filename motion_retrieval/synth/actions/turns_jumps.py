"""Turning on the spot, spinning, and jumps: two-footed jumps in every direction, jump turns, hops on one leg,
jumping jacks."""

from __future__ import annotations

import numpy as np

from motion_retrieval.synth.actions.core import (
    SIDES,
    choice,
    count_starts,
    family,
    other,
    params,
    s_,
    set_yaw,
    sign,
    steps_in_place,
)
from motion_retrieval.synth.program import Program, bumps, plateau, ramp


@family("turn", "turn", weight=2.0, forms=("steps", "pivot", "head_first"))
@params(lambda r: {"side": choice(r, SIDES), "angle": int(choice(r, (90, 180, 180, 360)))})
def _turn(ctx, q):
    """Turns on the spot by ``angle`` degrees to ``side``: with small stepping feet (``steps``), pivoting on the
    inside foot (``pivot``), or looking over the shoulder first and letting the body follow (``head_first``)."""
    sgn = sign(q["side"])
    dur = ctx.jitter(0.8 + q["angle"] / 150.0) / ctx.tempo
    t0 = 0.2 if q["form"] != "head_first" else 0.6
    p = Program.still(ctx.fps, t0 + dur + 0.5)
    turn = ramp(p.t, t0, t0 + dur)
    set_yaw(p, sgn * np.deg2rad(q["angle"]) * turn)
    n_steps = max(2, int(round(q["angle"] / 60)))
    if q["form"] == "pivot":
        steps_in_place(p, t0, t0 + dur, max(1, n_steps // 2), lift=0.3)
        p["anchor_mix"] = 0.0 if q["side"] == "left" else 1.0
    else:
        steps_in_place(p, t0, t0 + dur, n_steps, lift=0.5)
    p.add("spine_yaw", sgn * 0.1 * plateau(p.t, t0, t0 + dur, 0.3))
    if q["form"] == "head_first":
        p.add("neck_yaw", sgn * 0.6 * plateau(p.t, 0.1, t0 + 0.6 * dur, 0.35))
    else:
        p.add("neck_yaw", sgn * 0.2 * plateau(p.t, t0 - 0.1, t0 + dur, 0.3))
    return p


@family("spin", "turn", dialects=("humanml3d",))
@params(lambda r: {"side": choice(r, SIDES), "count": int(choice(r, (1, 1, 2)))})
def _spin(ctx, q):
    """Fast full turns on the spot, arms pulled in."""
    per_turn = ctx.jitter(0.9) / ctx.tempo
    dur, t0 = q["count"] * per_turn, 0.3
    p = Program.still(ctx.fps, dur + 0.7)
    set_yaw(p, sign(q["side"]) * 2 * np.pi * q["count"] * ramp(p.t, t0, t0 + dur))
    env = plateau(p.t, t0 - 0.2, t0 + dur + 0.2, 0.2)
    for s in "lr":
        p.add(f"{s}_elbow", 1.6 * env)
        p.add(f"{s}_sh_abd", 0.5 * env)
        p.add(f"{s}_sh_twist", 1.2 * env)
        p.add(f"{s}_ankle", 0.4 * env)
    p.add(f"{s_(other(q['side']))}_knee", 0.5 * env)
    p.add(f"{s_(other(q['side']))}_hip_flex", 0.3 * env)
    p["anchor_mix"] = 0.0 if q["side"] == "left" else 1.0
    return p


def jumps(ctx, count: int, height: float, period: float, *, travel: float = 0.0, side_travel: float = 0.0,
          turn: float = 0.0, arms: str = "swing") -> Program:
    """``count`` two-footed jumps: crouch, take off, parabolic flight, land and absorb. ``arms``: swing (arms
    swing up on take-off), low (a small swing), tuck (knees pulled up in the air), up (arms thrown overhead)."""
    g = 9.81
    flight_times = [np.sqrt(8 * ctx.jitter(height * ctx.amp, 0.15) / g) for _ in range(count)]
    gap = period / ctx.tempo
    t0 = 0.6
    starts = np.cumsum([t0] + [ctx.jitter(gap, 0.08) + flight_times[i] for i in range(count - 1)])
    p = Program.still(ctx.fps, starts[-1] + flight_times[-1] + 0.8)
    t = p.t
    flight = np.zeros_like(t)
    crouch = np.zeros_like(t)
    heading = np.zeros_like(t)
    tuck = np.zeros_like(t)
    swing_amp = {"swing": 1.2, "low": 0.5, "tuck": 1.0, "up": 2.6}[arms]
    for start, ft in zip(starts, flight_times):
        u = (t - start) / ft
        air = (u > 0) & (u < 1)
        flight += np.where(air, 4 * u * (1 - u), 0.0) * g * ft * ft / 8  # peak height = g ft^2 / 8
        crouch += bumps(t, [start - 0.35], 0.35) + bumps(t, [start + ft], 0.35)
        tuck += np.where(air, np.sin(np.pi * np.clip(u, 0, 1)) ** 2, 0.0)
        heading += turn * np.clip(u, 0.0, 1.0)
        p.add("v_fwd", np.where(air, travel / ft, 0.0))
        p.add("v_side", np.where(air, side_travel / ft, 0.0))
        swing = bumps(t, [start - 0.35], 0.6 if arms != "up" else 0.35 + ft + 0.2)
        for s in "lr":
            p.add(f"{s}_sh_flex", swing_amp * swing - 0.5 * bumps(t, [start - 0.45], 0.3))
    p["flight"] = flight
    depth = np.minimum(crouch, 1.0)
    for s in "lr":
        p.add(f"{s}_hip_flex", 0.8 * depth)
        p.add(f"{s}_knee", 1.3 * depth)
        p.add(f"{s}_ankle", -0.35 * depth + 0.5 * (flight > 0))
        if arms == "tuck":
            p.add(f"{s}_hip_flex", 1.1 * tuck)
            p.add(f"{s}_knee", 1.6 * tuck)
    p.add("spine_pitch", 0.35 * depth)
    p["anchor"] = np.where(flight > 0, 0.0, 1.0)
    if turn:
        set_yaw(p, heading)
    return p


@family("jump", "jump", weight=1.5, forms=("swing", "low", "tuck"))
@params(lambda r: {"count": int(r.integers(1, 5))})
def _jump(ctx, q):
    return jumps(ctx, q["count"], 0.25 if q["form"] != "tuck" else 0.35, 0.7, arms=q["form"])


@family("jump_forward", "jump", weight=1.5)
@params(lambda r: {"count": int(r.integers(1, 4))})
def _jump_forward(ctx, q):
    return jumps(ctx, q["count"], 0.3, 0.8, travel=ctx.jitter(0.9 * ctx.leg, 0.15))


@family("jump_backward", "jump", dialects=("humanml3d",))
@params(lambda r: {"count": int(r.integers(1, 3))})
def _jump_backward(ctx, q):
    return jumps(ctx, q["count"], 0.2, 0.8, travel=-ctx.jitter(0.5 * ctx.leg, 0.15))


@family("jump_side", "jump")
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(1, 4))})
def _jump_side(ctx, q):
    return jumps(ctx, q["count"], 0.22, 0.8, side_travel=sign(q["side"]) * ctx.jitter(0.6 * ctx.leg, 0.15))


@family("jump_turn", "jump", dialects=("humanml3d",))
@params(lambda r: {"side": choice(r, SIDES)})
def _jump_turn(ctx, q):
    """One jump that turns 180 degrees in the air."""
    return jumps(ctx, 1, 0.35, 0.8, turn=sign(q["side"]) * np.pi)


@family("hop", "jump", weight=1.5)
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(1, 7))})
def _hop(ctx, q):
    """Hops ``count`` times on the ``side`` leg; the other foot is held up behind."""
    stand, free = s_(q["side"]), s_(other(q["side"]))
    period = ctx.jitter(0.55) / ctx.tempo
    ft = np.sqrt(8 * ctx.jitter(0.09 * ctx.amp, 0.15) / 9.81)
    t0 = 0.7
    starts = count_starts(t0, period, q["count"])
    p = Program.still(ctx.fps, starts[-1] + ft + 0.9)
    t = p.t
    lifted = plateau(t, 0.15, starts[-1] + ft + 0.6, 0.4)
    p[f"{free}_knee"] = 1.4 * lifted
    p[f"{free}_hip_flex"] = 0.25 * lifted
    arms = ctx.rng.uniform(0.2, 0.5)
    p["l_sh_abd"] = p["r_sh_abd"] = arms * lifted
    flight = np.zeros_like(t)
    for start in starts:
        u = (t - start) / ft
        flight += np.where((u > 0) & (u < 1), 4 * u * (1 - u), 0.0) * 9.81 * ft * ft / 8
        p.add(f"{stand}_knee", 0.5 * (bumps(t, [start - 0.2], 0.25) + bumps(t, [start + ft], 0.25)))
    p.add(f"{stand}_ankle", 0.4 * (flight > 0))
    p["flight"] = flight
    p["anchor_mix"] = 0.0 if stand == "l" else 1.0
    p["anchor"] = np.where(flight > 0, 0.0, 1.0)
    return p


@family("jumping_jacks", "jump", dialects=("humanml3d",))
@params(lambda r: {"count": int(r.integers(2, 7))})
def _jumping_jacks(ctx, q):
    period = ctx.jitter(0.9) / ctx.tempo
    ft = 0.28
    starts = count_starts(0.4, period, q["count"])
    p = Program.still(ctx.fps, starts[-1] + period + 0.5)
    t = p.t
    openness = np.zeros_like(t)
    flight = np.zeros_like(t)
    for start in starts:
        openness += bumps(t, [start], period)
        for hop in (start, start + period / 2 - ft / 2):
            u = (t - hop) / ft
            flight += np.where((u > 0) & (u < 1), 4 * u * (1 - u), 0.0) * 0.07
    openness = np.minimum(openness, 1.0)
    for s in "lr":
        p[f"{s}_sh_abd"] = 2.7 * ctx.amp * openness
        p[f"{s}_hip_abd"] = 0.3 * openness
        p[f"{s}_elbow"] = 0.2 * openness
    p["flight"] = flight
    p["anchor"] = 0.0
    return p
