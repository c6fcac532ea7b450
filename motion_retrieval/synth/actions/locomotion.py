"""Locomotion: walking at three speeds and in every direction, jogging, running, sprinting, paths (circles,
curves, zigzags, turns while walking), stairs, special gaits (tiptoe, march, skip, limp, crawl), carrying."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from motion_retrieval.synth.actions.core import (
    SIDES,
    SPEEDS,
    GaitShape,
    choice,
    family,
    gait_phase,
    gait_program,
    locomotion,
    other,
    params,
    rate,
    s_,
    set_yaw,
    sign,
    steps_in_place,
    travelled,
)
from motion_retrieval.synth.program import Program, plateau, ramp

_BUSY_ARMS = GaitShape(arms_free=False)


def _arms_form(p: Program, form: str, rng: np.random.Generator) -> None:
    """Arms held in a walk's form for the whole take (brought into place at the start, let go at the end)."""
    hold = plateau(p.t, 0.0, p.duration, 0.45)
    if form == "pockets":  # hands in the front trouser pockets
        for s in "lr":
            p.add(f"{s}_sh_flex", hold * rng.uniform(0.0, 0.1))
            p.add(f"{s}_sh_abd", hold * rng.uniform(0.03, 0.12))
            p.add(f"{s}_elbow", hold * rng.uniform(0.2, 0.35))
            p.add(f"{s}_sh_twist", -hold * 1.2)
    elif form == "behind_back":  # hands clasped behind the back
        for s in "lr":
            p.add(f"{s}_sh_flex", -hold * rng.uniform(0.3, 0.45))
            p.add(f"{s}_elbow", hold * rng.uniform(0.7, 0.9))
            p.add(f"{s}_sh_twist", -hold * 1.65)
            p.add(f"{s}_sh_hadd", -hold * 0.1)
            p.add(f"{s}_sh_abd", hold * 0.25)


@family("walk", "locomotion", weight=3.0, forms=("swing", "pockets", "behind_back"))
@params(lambda r: {"speed": choice(r, ("slow", "normal", "normal", "fast")), "steps": int(r.integers(3, 11))})
def _walk(ctx, q):
    shape = SPEEDS[q["speed"]][2]
    if q["form"] != "swing":
        shape = replace(shape, arms_free=False)
    p, _ = gait_program(ctx, q["speed"], q["steps"], shape)
    _arms_form(p, q["form"], ctx.rng)
    return p


@family("walk_backward", "locomotion", weight=1.5)
@params(lambda r: {"speed": choice(r, ("slow", "normal")), "steps": int(r.integers(2, 7))})
def _walk_backward(ctx, q):
    rel_len, cadence, shape = SPEEDS[q["speed"]]
    shape = replace(shape, lean=-0.02)
    p, _ = locomotion(ctx, q["steps"], ctx.jitter(0.7 * rel_len * ctx.leg), ctx.jitter(0.85 * cadence), shape,
                      heading_deg=180.0, direction=-1.0)
    return p


@family("jog", "locomotion", weight=1.5)
@params(lambda r: {"steps": int(r.integers(4, 13))})
def _jog(ctx, q):
    return gait_program(ctx, "jog", q["steps"])[0]


@family("run", "locomotion", weight=1.5)
@params(lambda r: {"steps": int(r.integers(4, 15))})
def _run(ctx, q):
    return gait_program(ctx, "run", q["steps"])[0]


@family("sprint", "locomotion")
@params(lambda r: {"steps": int(r.integers(6, 17))})
def _sprint(ctx, q):
    """Runs as fast as possible: long strides, strong forward lean, arms pumping with bent elbows."""
    return gait_program(ctx, "sprint", q["steps"])[0]


@family("sidestep", "locomotion", weight=1.5)
@params(lambda r: {"side": choice(r, SIDES), "steps": int(r.integers(2, 7))})
def _sidestep(ctx, q):
    """Step sideways: the leading leg abducts out, the other closes in; the body travels to ``side``."""
    sgn, lead = sign(q["side"]), s_(q["side"])
    trail = s_(other(q["side"]))
    cadence = ctx.jitter(1.1) * ctx.tempo  # side steps (open + close) per second
    t0, dur = 0.3, q["steps"] / cadence + 0.3
    p = Program.still(ctx.fps, dur + 0.6)
    phase = gait_phase(p, t0, t0 + dur, 2 * q["steps"], rise=0.25)  # one open and one close per side step
    env = plateau(p.t, t0, t0 + dur, 0.25)
    spread = 0.5 - 0.5 * np.cos(phase)  # (T,) 0 feet together, 1 feet apart
    amp = ctx.jitter(0.3) * ctx.amp
    p.add(f"{lead}_hip_abd", env * amp * spread)
    p.add(f"{trail}_hip_abd", env * 0.25 * amp * spread)
    opening = np.maximum(0.0, np.sin(phase))  # lead foot in the air while the feet open
    closing = np.maximum(0.0, -np.sin(phase))
    p.add(f"{lead}_knee", env * 0.4 * opening)
    p.add(f"{trail}_knee", env * 0.4 * closing)
    p.add("root_roll", -sgn * env * 0.04 * opening)
    arms = ctx.rng.uniform(0.05, 0.2)
    p.add("l_sh_abd", env * arms)
    p.add("r_sh_abd", env * arms)
    step = 1.25 * amp * ctx.leg * 0.8  # metres per side step
    p["v_side"] = sgn * step / (2 * np.pi) * rate(p, phase)
    p["anchor"] = 1.0 - env
    return p


@family("walk_diagonal", "locomotion")
@params(lambda r: {"side": choice(r, SIDES), "steps": int(r.integers(3, 9))})
def _walk_diagonal(ctx, q):
    """Turns about 45 degrees to ``side`` while setting off, then walks that way."""
    p, _ = gait_program(ctx, "normal", q["steps"])
    turn = sign(q["side"]) * np.deg2rad(ctx.jitter(45.0, 0.15))
    set_yaw(p, turn * ramp(p.t, 0.2, 1.0))
    return p


@family("walk_toward", "locomotion", weight=1.5)
@params(lambda r: {"side": choice(r, SIDES), "steps": int(r.integers(3, 9))})
def _walk_toward(ctx, q):
    """Walks towards ``side`` at an angle of 30 to 60 degrees while still facing forward: the legs swing
    diagonally, the pelvis turns a little towards the travel direction and the chest stays facing ahead."""
    angle = sign(q["side"]) * ctx.jitter(45.0, 0.33)
    rel_len, cadence, shape = SPEEDS["normal"]
    lateral = 0.7 * shape.hip * np.sin(np.deg2rad(abs(angle))) * sign(q["side"])
    p, _ = locomotion(ctx, q["steps"], ctx.jitter(0.8 * rel_len * ctx.leg, 0.08), ctx.jitter(cadence, 0.06),
                      shape, heading_deg=angle, band="normal", lateral=lateral)
    env = 1.0 - p["anchor"]
    p.add("root_yaw", 0.25 * np.deg2rad(angle) * env)
    p.add("spine_yaw", -0.25 * np.deg2rad(angle) * env)
    return p


@family("walk_circle", "locomotion", weight=1.5)
@params(lambda r: {"side": choice(r, SIDES), "gait": choice(r, ("walk", "walk", "jog"))})
def _walk_circle(ctx, q):
    """A full circle; ``side`` left = counter-clockwise seen from above."""
    speed = "normal" if q["gait"] == "walk" else "jog"
    rel_len, _, _ = SPEEDS[speed]
    radius = ctx.jitter(1.2 if speed == "normal" else 1.6, 0.2)
    steps = int(np.ceil(2 * np.pi * radius / (rel_len * ctx.leg * ctx.style.stride)))
    p, phase = gait_program(ctx, speed, steps)
    # Heading follows the distance travelled so that one lap turns exactly 360 degrees.
    dist = travelled(p)
    set_yaw(p, sign(q["side"]) * 2 * np.pi * dist / max(dist[-1], 1e-9))
    p.add("spine_roll", sign(q["side"]) * 0.06 * (1 - p["anchor"]))
    return p


@family("walk_curve", "locomotion")
@params(lambda r: {"side": choice(r, SIDES), "steps": int(r.integers(4, 10))})
def _walk_curve(ctx, q):
    """Walks forward along an arc that bends about 90 degrees to ``side``."""
    p, _ = gait_program(ctx, "normal", q["steps"])
    dist = travelled(p)
    set_yaw(p, sign(q["side"]) * np.deg2rad(ctx.jitter(90.0, 0.1)) * dist / max(dist[-1], 1e-9))
    return p


@family("walk_turn", "locomotion", weight=1.5)
@params(lambda r: {"side": choice(r, SIDES), "angle": int(choice(r, (90, 90, 180))), "steps": int(r.integers(5, 11))})
def _walk_turn(ctx, q):
    """Walks forward, turns ``angle`` degrees to ``side`` within a step or two, and walks on (for 180: back)."""
    p, _ = gait_program(ctx, "normal", q["steps"])
    dist = travelled(p)
    mid = dist[-1] * ctx.rng.uniform(0.4, 0.6)
    width = ctx.leg * (0.6 if q["angle"] == 90 else 1.0)
    turn = ramp(dist, mid - width / 2, mid + width / 2)
    set_yaw(p, sign(q["side"]) * np.deg2rad(q["angle"]) * turn)
    lean = np.clip(rate(p, turn) * 0.5, 0.0, 1.0)
    p.add("spine_roll", sign(q["side"]) * 0.1 * lean)
    p.add("neck_yaw", sign(q["side"]) * 0.3 * plateau(dist, mid - width, mid + width * 0.3, width * 0.4))
    return p


@family("zigzag", "locomotion")
@params(lambda r: {"steps": int(r.integers(6, 12))})
def _zigzag(ctx, q):
    p, phase = gait_program(ctx, "normal", q["steps"])
    dist = travelled(p)
    leg_len = ctx.jitter(1.6, 0.15)  # metres per zig
    first = float(ctx.rng.choice([-1.0, 1.0]))
    set_yaw(p, first * np.deg2rad(40.0) * np.sign(np.sin(np.pi * dist / leg_len + 1e-6)) * (1 - p["anchor"]))
    heading = np.concatenate([[0.0], np.cumsum(p["yaw_rate"][:-1])]) / p.fps
    smooth = np.convolve(np.pad(heading, 4, mode="edge"), np.ones(9) / 9, mode="valid")
    set_yaw(p, smooth)
    return p


@family("tiptoe", "locomotion")
@params(lambda r: {"steps": int(r.integers(3, 9))})
def _tiptoe(ctx, q):
    shape = GaitShape(hip=0.25, knee=0.7, arm=0.1, elbow=0.6, lean=0.12, ankle=0.0)
    p, _ = locomotion(ctx, q["steps"], ctx.jitter(0.4 * ctx.leg), ctx.jitter(1.4), shape)
    env = 1.0 - p["anchor"]
    p.add("l_ankle", 0.7 * env)
    p.add("r_ankle", 0.7 * env)
    arms = ctx.rng.uniform(0.15, 0.4)
    p.add("l_sh_abd", arms * env)
    p.add("r_sh_abd", arms * env)
    return p


@family("march", "locomotion")
@params(lambda r: {"steps": int(r.integers(4, 11))})
def _march(ctx, q):
    """Marching on the spot: knees up high, arms swinging."""
    cadence = ctx.jitter(1.8) * ctx.tempo
    t0, dur = 0.3, q["steps"] / cadence
    p = Program.still(ctx.fps, dur + 0.7)
    phase = steps_in_place(p, t0, t0 + dur, q["steps"], lift=1.5 * ctx.amp)
    env = plateau(p.t, t0, t0 + dur, 0.2)
    swing = ctx.rng.uniform(0.4, 0.8)
    p.add("l_sh_flex", -swing * env * np.sin(phase))
    p.add("r_sh_flex", swing * env * np.sin(phase))
    p.add("l_elbow", 0.9 * env)
    p.add("r_elbow", 0.9 * env)
    p["anchor_mix"] = 0.5 + 0.5 * np.sign(np.sin(phase)) * env
    return p


@family("skip", "locomotion", dialects=("humanml3d",))
@params(lambda r: {"steps": int(r.integers(4, 10))})
def _skip(ctx, q):
    p, phase = gait_program(ctx, "fast", q["steps"])
    env = 1.0 - p["anchor"]
    p["flight"] = env * 0.12 * np.maximum(0.0, np.sin(2 * phase)) ** 2
    for side, shift in (("l", 0.0), ("r", np.pi)):
        high = np.maximum(0.0, np.cos(phase + shift)) ** 2
        p.add(f"{side}_hip_flex", 0.5 * env * high)
        p.add(f"{side}_knee", 0.4 * env * high)
        p.add(f"{side}_sh_flex", 0.4 * env * np.maximum(0.0, -np.cos(phase + shift)))
    return p


@family("crawl", "locomotion", dialects=("humanml3d",), end="floor")
@params(lambda r: {"steps": int(r.integers(4, 9))})
def _crawl(ctx, q):
    """Gets down on hands and knees, crawls forward, stays down."""
    down, cadence = 1.2, ctx.jitter(1.4) * ctx.tempo
    dur = q["steps"] / cadence
    p = Program.still(ctx.fps, down + dur + 0.4)
    env = ramp(p.t, 0.1, down)
    pitch = np.deg2rad(ctx.jitter(75.0, 0.05))
    p["root_pitch"] = pitch * env
    p["l_hip_flex"] = p["r_hip_flex"] = pitch * env
    p["l_knee"] = p["r_knee"] = 1.5 * env
    p["l_sh_flex"] = p["r_sh_flex"] = pitch * env
    p["neck_pitch"] = -0.6 * env
    p["l_ankle"] = p["r_ankle"] = 0.6 * env
    phase = gait_phase(p, down, down + dur, q["steps"], rise=0.2)
    move = plateau(p.t, down, down + dur, 0.2)
    for side, shift in (("l", 0.0), ("r", np.pi)):
        p.add(f"{side}_hip_flex", 0.25 * move * np.sin(phase + shift))
        p.add(f"{side}_sh_flex", -0.25 * move * np.sin(phase + shift))  # opposite arm and leg move together
        p.add(f"{side}_elbow", 0.2 * move * np.maximum(0.0, np.cos(phase + shift)))
    p.add("root_roll", 0.05 * move * np.sin(phase))
    p["v_fwd"] = 0.25 * ctx.leg / np.pi * rate(p, phase)
    p["anchor"] = 1.0 - np.maximum(move, env)
    return p


def _stairs(ctx, q, up: bool):
    rise = ctx.jitter(0.16, 0.1)
    shape = GaitShape(hip=0.4, knee=1.2, arm=0.2, elbow=0.3, lean=0.12 if up else 0.02)
    p, phase = locomotion(ctx, q["steps"], ctx.jitter(0.3), ctx.jitter(1.3), shape)
    env = 1.0 - p["anchor"]
    for side, shift in (("l", 0.0), ("r", np.pi)):
        swing = np.maximum(0.0, np.cos(phase + shift)) ** 1.5
        p.add(f"{side}_hip_flex", 0.45 * env * swing)
    if not up:
        p.add("neck_pitch", 0.25 * env)  # looking down at the steps
    # The floor rises (or drops) one step height per step, in the middle of each swing.
    p["floor"] = (1.0 if up else -1.0) * rise * phase / np.pi
    return p


@family("stairs_up", "locomotion")
@params(lambda r: {"steps": int(r.integers(3, 9))})
def _stairs_up(ctx, q):
    return _stairs(ctx, q, up=True)


@family("stairs_down", "locomotion")
@params(lambda r: {"steps": int(r.integers(3, 9))})
def _stairs_down(ctx, q):
    return _stairs(ctx, q, up=False)


@family("limp", "locomotion", dialects=("humanml3d",))
@params(lambda r: {"side": choice(r, SIDES), "steps": int(r.integers(4, 9))})
def _limp(ctx, q):
    """Walks favouring the injured ``side`` leg: that knee stays stiff and the body dips over the good leg."""
    p, phase = gait_program(ctx, "slow", q["steps"])
    bad, good = s_(q["side"]), s_(other(q["side"]))
    env = 1.0 - p["anchor"]
    p[f"{bad}_knee"] = 0.1 * env + 0.3 * p[f"{bad}_knee"]
    p.add(f"{good}_knee", 0.3 * env)
    p.add("spine_roll", -sign(q["side"]) * 0.12 * env)
    return p


@family("jog_in_place", "locomotion")
@params(lambda r: {"steps": int(r.integers(6, 15))})
def _jog_in_place(ctx, q):
    cadence = ctx.jitter(2.6) * ctx.tempo
    t0, dur = 0.3, q["steps"] / cadence
    p = Program.still(ctx.fps, dur + 0.7)
    phase = steps_in_place(p, t0, t0 + dur, q["steps"], lift=1.1)
    env = plateau(p.t, t0, t0 + dur, 0.2)
    p.add("l_elbow", 1.4 * env)
    p.add("r_elbow", 1.4 * env)
    p.add("l_sh_flex", -0.4 * env * np.sin(phase))
    p.add("r_sh_flex", 0.4 * env * np.sin(phase))
    p["flight"] = 0.03 * env * np.abs(np.sin(phase)) ** 4
    return p


@family("carry", "locomotion", weight=1.2, forms=("box", "bag", "shoulder"))
@params(lambda r: {"side": choice(r, SIDES), "steps": int(r.integers(3, 10))})
def _carry(ctx, q):
    """Walks carrying something: a box in both hands in front (``box``), a heavy bag in the ``side`` hand
    (``bag``: the trunk leans away from it), or a load on the ``side`` shoulder (``shoulder``)."""
    p, _ = gait_program(ctx, "slow" if q["form"] == "bag" else "normal", q["steps"], _BUSY_ARMS)
    hold = plateau(p.t, 0.0, p.duration, 0.5)
    arm, free, sgn = s_(q["side"]), s_(other(q["side"])), sign(q["side"])
    r = ctx.rng
    if q["form"] == "box":
        for s in "lr":
            p.add(f"{s}_sh_flex", hold * r.uniform(0.25, 0.45))
            p.add(f"{s}_elbow", hold * r.uniform(1.2, 1.4))
            p.add(f"{s}_sh_abd", hold * 0.2)
            p.add(f"{s}_sh_twist", -hold * 0.4)
        p.add("spine_pitch", -0.06 * hold)
    elif q["form"] == "bag":
        p.add(f"{arm}_sh_abd", hold * r.uniform(0.15, 0.3))
        p.add(f"{arm}_elbow", hold * 0.05)
        p.add(f"{arm}_collar_elev", -0.08 * hold)
        p.add("spine_roll", -sgn * hold * r.uniform(0.08, 0.15))
        p.add(f"{free}_sh_abd", hold * r.uniform(0.2, 0.4))
    else:
        p.add(f"{arm}_sh_abd", hold * r.uniform(1.2, 1.5))
        p.add(f"{arm}_sh_flex", hold * 0.3)
        p.add(f"{arm}_elbow", hold * r.uniform(2.1, 2.4))
        p.add(f"{arm}_sh_twist", hold * 1.2)
        p.add("spine_roll", -sgn * 0.06 * hold)
    return p
