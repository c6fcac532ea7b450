"""Communicative gestures: waving, beckoning, calling out, pointing, showing the way, raising a hand, nodding,
shaking the head, shrugging, cheering, crossing the arms, hands on the hips, looking around, saluting, bowing.

Head-only gestures (nod, head shake) and the shrug need a neck and collar joints, which the KIT-ML skeleton does not
have, so they exist in the HumanML3D dialect only.
"""

from __future__ import annotations

import numpy as np

from motion_retrieval.synth.actions.core import (
    SIDES,
    arm_sides,
    choice,
    count_starts,
    family,
    params,
    s_,
    sign,
)
from motion_retrieval.synth.actions.turns_jumps import jumps
from motion_retrieval.synth.program import Program, bumps, plateau

_HML = ("humanml3d",)


def _cycles(p: Program, start: float, period: float, count: int) -> np.ndarray:
    """sin of ``count`` full cycles starting at ``start`` (0 outside)."""
    return np.sin(2 * np.pi * np.clip((p.t - start) / period, 0, count))


def _wave_arm(p: Program, ctx, s: str, env: np.ndarray, count: int, start: float, period: float, form: str) -> None:
    """One arm waving ``count`` times in ``form``:

    - bent: upper arm out to the side, elbow bent, hand at head height; the forearm swings side to side;
    - overhead: the whole straight arm held high, swinging from the shoulder (waving from afar);
    - forearm: upper arm low and forward, forearm up in front of the chest, a small wave of the hand;
    - low: a small wave at hip height, elbow bent, the hand turning side to side.
    """
    swing = _cycles(p, start, period, count)
    r = ctx.rng
    if form == "bent":
        p[f"{s}_sh_abd"] = r.uniform(1.1, 1.5) * env
        p[f"{s}_sh_flex"] = r.uniform(0.0, 0.5) * env
        p[f"{s}_sh_twist"] = 1.5 * env
        p[f"{s}_elbow"] = env * (r.uniform(1.1, 1.5) + 0.4 * swing)
    elif form == "overhead":
        p[f"{s}_sh_abd"] = env * (r.uniform(2.3, 2.7) + 0.35 * swing)
        p[f"{s}_sh_flex"] = r.uniform(0.0, 0.4) * env
        p[f"{s}_elbow"] = r.uniform(0.05, 0.35) * env
    elif form == "forearm":
        p[f"{s}_sh_flex"] = r.uniform(0.4, 0.7) * env
        p[f"{s}_sh_abd"] = r.uniform(0.2, 0.5) * env
        p[f"{s}_elbow"] = r.uniform(1.7, 2.1) * env
        p[f"{s}_sh_twist"] = env * 0.5 * swing
    else:
        p[f"{s}_sh_abd"] = r.uniform(0.25, 0.45) * env
        p[f"{s}_elbow"] = r.uniform(0.7, 1.0) * env
        p[f"{s}_sh_twist"] = env * (0.1 + 0.45 * swing)
    p[f"{s}_collar_elev"] = 0.06 * env * swing


@family("wave", "gesture", weight=2.0, forms=("bent", "overhead", "forearm", "low"))
@params(lambda r: {"side": choice(r, ("left", "right", "left", "right", "both")), "count": int(r.integers(2, 6))})
def _wave(ctx, q):
    period = ctx.period(0.5, 0.2)
    start = 0.9
    p = Program.still(ctx.fps, start + q["count"] * period + 1.0)
    env = plateau(p.t, 0.3, start + q["count"] * period + 0.6, 0.55)
    for s in arm_sides(q["side"]):
        _wave_arm(p, ctx, s, env, q["count"], start, period, q["form"])
    if q["side"] != "both":
        p.add("neck_yaw", sign(q["side"]) * 0.15 * env)
        p.add("spine_roll", -sign(q["side"]) * 0.04 * env)
    return p


@family("beckon", "gesture")
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(2, 5))})
def _beckon(ctx, q):
    """Beckons someone over ("come here"): the ``side`` arm forward, palm up, the forearm curling in and out."""
    arm = s_(q["side"])
    period = ctx.period(0.6)
    start = 0.8
    p = Program.still(ctx.fps, start + q["count"] * period + 0.8)
    env = plateau(p.t, 0.3, start + q["count"] * period + 0.4, 0.45)
    curl = 0.5 - 0.5 * np.cos(2 * np.pi * np.clip((p.t - start) / period, 0, q["count"]))
    p[f"{arm}_sh_flex"] = ctx.rng.uniform(0.6, 1.0) * env
    p[f"{arm}_sh_abd"] = ctx.rng.uniform(0.1, 0.3) * env
    p[f"{arm}_sh_twist"] = 0.3 * env
    p[f"{arm}_elbow"] = env * (0.4 + 1.2 * curl)
    p["neck_pitch"] = -0.1 * env
    return p


@family("call_out", "gesture", forms=("cupped", "one_hand", "cupped_lean"))
@params(lambda r: {"toward": choice(r, ("forward", "forward", "left", "right"))})
def _call_out(ctx, q):
    """Calls out to someone: the hands cupped around the mouth (one hand in ``one_hand``), the chin up, the body
    leaning into the shout; ``toward`` left / right turns head and chest that way."""
    hold = ctx.jitter(1.6, 0.3)
    p = Program.still(ctx.fps, 0.3 + 0.6 + hold + 0.9)
    env = plateau(p.t, 0.3, 0.3 + 1.2 + hold, 0.55)
    shout = plateau(p.t, 0.8, 0.8 + hold, 0.25)
    hand = choice(ctx.rng, "lr")
    for s in ("lr" if q["form"] != "one_hand" else hand):  # hands at the sides of the mouth
        p[f"{s}_sh_flex"] = ctx.rng.uniform(0.95, 1.1) * env
        p[f"{s}_sh_abd"] = ctx.rng.uniform(0.5, 0.6) * env
        p[f"{s}_elbow"] = ctx.rng.uniform(2.05, 2.2) * env
        p[f"{s}_sh_twist"] = 0.3 * env
        p[f"{s}_sh_hadd"] = 0.8 * env
    p["neck_pitch"] = -0.15 * shout
    p["spine_pitch"] = (0.25 if q["form"] == "cupped_lean" else 0.08) * shout
    if q["toward"] != "forward":
        turn = sign(q["toward"]) * plateau(p.t, 0.2, 0.3 + 1.2 + hold + 0.2, 0.5)
        p.add("neck_yaw", 0.5 * turn)
        p.add("spine_yaw", 0.35 * turn)
    return p


@family("point", "gesture", weight=1.5)
@params(lambda r: {"side": choice(r, SIDES), "target": choice(r, ("forward", "forward", "outward", "up"))})
def _point(ctx, q):
    """Points with the straight ``side`` arm: forward, out to that side, or up at the sky; the head looks along."""
    arm, sgn = s_(q["side"]), sign(q["side"])
    hold = ctx.jitter(1.3, 0.4)
    p = Program.still(ctx.fps, 0.3 + 1.2 + hold + 0.4)
    env = plateau(p.t, 0.3, 0.3 + 1.2 + hold, 0.5)
    jab = bumps(p.t, [0.8], 0.3) * ctx.rng.uniform(0.0, 0.2)  # a little emphasis as the arm arrives
    if q["target"] == "forward":
        p[f"{arm}_sh_flex"] = env * ctx.rng.uniform(1.3, 1.6) + jab
        p[f"{arm}_sh_hadd"] = env * ctx.rng.uniform(-0.1, 0.3)
    elif q["target"] == "outward":
        p[f"{arm}_sh_abd"] = env * ctx.rng.uniform(1.35, 1.6) + jab
        p[f"{arm}_sh_flex"] = env * ctx.rng.uniform(0.0, 0.3)
        p["neck_yaw"] = sgn * 0.8 * env
        p["spine_yaw"] = sgn * 0.2 * env
    else:
        p[f"{arm}_sh_flex"] = env * ctx.rng.uniform(2.3, 2.7) + jab
        p[f"{arm}_sh_abd"] = -env * ctx.rng.uniform(0.0, 0.25)
        p["neck_pitch"] = -0.45 * env
    p[f"{arm}_elbow"] = env * ctx.rng.uniform(0.0, 0.25)
    return p


@family("present", "gesture")
@params(lambda r: {"side": choice(r, SIDES)})
def _present(ctx, q):
    """Shows the way / presents something: the ``side`` hand sweeps open, palm up, from the front out to that
    side at waist height; chest and head turn a little with it."""
    arm, sgn = s_(q["side"]), sign(q["side"])
    sweep = ctx.period(0.9)
    hold = ctx.jitter(1.0, 0.4)
    p = Program.still(ctx.fps, 0.3 + sweep + hold + 1.0)
    env = plateau(p.t, 0.3, 0.3 + sweep + hold + 0.6, 0.4)
    out = plateau(p.t, 0.5, 0.3 + sweep + hold + 0.6, sweep)
    p[f"{arm}_sh_flex"] = env * (0.7 - 0.3 * out)
    p[f"{arm}_sh_abd"] = env * (0.2 + ctx.rng.uniform(0.6, 1.0) * out)
    p[f"{arm}_elbow"] = env * (1.0 - 0.6 * out)
    p[f"{arm}_sh_twist"] = -0.8 * env
    p["spine_yaw"] = sgn * 0.2 * out
    p["neck_yaw"] = sgn * 0.4 * out
    return p


@family("raise_hand", "gesture", forms=("straight", "bent", "eager"))
@params(lambda r: {"side": choice(r, SIDES)})
def _raise_hand(ctx, q):
    """Puts the ``side`` hand up as if to answer a question: straight up, with a bent elbow beside the head, or
    stretching up eagerly onto the toes with the hand swaying."""
    arm = s_(q["side"])
    hold = ctx.jitter(1.5, 0.4)
    rise = ctx.period(0.5)
    p = Program.still(ctx.fps, 0.3 + 2 * rise + hold + 0.4)
    up = plateau(p.t, 0.3, 0.3 + 2 * rise + hold, rise)
    if q["form"] == "bent":
        p[f"{arm}_sh_flex"] = ctx.rng.uniform(2.0, 2.4) * up
        p[f"{arm}_elbow"] = ctx.rng.uniform(0.8, 1.2) * up
        p[f"{arm}_sh_abd"] = 0.4 * up
    else:
        p[f"{arm}_sh_flex"] = ctx.rng.uniform(2.7, 3.0) * up
        p[f"{arm}_elbow"] = ctx.rng.uniform(0.0, 0.3) * up
        p[f"{arm}_sh_abd"] = -0.1 * up
    if q["form"] == "eager":
        p.add(f"{arm}_sh_abd", 0.15 * up * np.sin(2 * np.pi * 1.5 * p.t))  # the raised hand sways
        p.add("l_ankle", 0.4 * up)
        p.add("r_ankle", 0.4 * up)
        p.add("spine_roll", -sign(q["side"]) * 0.08 * up)
    return p


@family("nod", "gesture", dialects=_HML)
@params(lambda r: {"count": int(r.integers(1, 5))})
def _nod(ctx, q):
    period = ctx.period(0.6)
    starts = count_starts(0.5, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.6)
    p["neck_pitch"] = ctx.rng.uniform(0.25, 0.45) * np.minimum(bumps(p.t, starts, 0.9 * period), 1.0)
    p.add("spine_pitch", 0.04 * np.minimum(bumps(p.t, starts, 0.9 * period), 1.0))
    return p


@family("shake_head", "gesture", dialects=_HML)
@params(lambda r: {"count": int(r.integers(2, 5))})
def _shake_head(ctx, q):
    period = ctx.period(0.5)
    p = Program.still(ctx.fps, 0.5 + q["count"] * period + 0.6)
    env = plateau(p.t, 0.4, 0.5 + q["count"] * period + 0.2, 0.15)
    p["neck_yaw"] = ctx.rng.uniform(0.3, 0.55) * env * _cycles(p, 0.5, period, q["count"])
    return p


@family("shrug", "gesture", dialects=_HML)
@params(lambda r: {"count": int(choice(r, (1, 1, 2)))})
def _shrug(ctx, q):
    """Shrugs: shoulders up, elbows bent with the forearms turned out and palms up, head tilted, then relax."""
    period = ctx.period(1.1)
    starts = count_starts(0.4, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.5)
    up = np.minimum(bumps(p.t, starts, period), 1.0)
    height = ctx.rng.uniform(0.4, 0.6)
    for s in "lr":  # forearms turned out (external rotation), palms up
        p[f"{s}_collar_elev"] = height * up
        p[f"{s}_elbow"] = ctx.rng.uniform(1.2, 1.6) * up
        p[f"{s}_sh_twist"] = ctx.rng.uniform(0.6, 1.0) * up
        p[f"{s}_sh_abd"] = 0.2 * up
    p["neck_pitch"] = -0.1 * up
    p["spine_roll"] = ctx.rng.uniform(-0.1, 0.1) * up
    return p


@family("cheer", "gesture", forms=("arms_up", "fist_pump", "jump"))
@params(lambda r: {"side": choice(r, SIDES), "count": int(r.integers(2, 5))})
def _cheer(ctx, q):
    """Celebrates: both arms thrown up in a V and shaken (``arms_up``), the ``side`` fist pumped up ``count``
    times (``fist_pump``), or jumping with both arms up (``jump``)."""
    if q["form"] == "jump":
        p = jumps(ctx, q["count"], 0.2, 0.6, arms="up")
        hold = plateau(p.t, 0.3, p.duration - 0.4, 0.3)
        for s in "lr":
            p.add(f"{s}_sh_abd", -0.4 * hold)  # a V overhead
        return p
    period = ctx.period(0.55)
    start = 0.7
    p = Program.still(ctx.fps, start + q["count"] * period + 0.9)
    env = plateau(p.t, 0.3, start + q["count"] * period + 0.4, 0.4)
    if q["form"] == "arms_up":  # a V: raised sideways past the horizontal, a little forward
        shake = _cycles(p, start, period, q["count"])
        for s in "lr":
            p[f"{s}_sh_abd"] = env * (ctx.rng.uniform(2.3, 2.7) + 0.12 * shake)
            p[f"{s}_sh_flex"] = ctx.rng.uniform(0.1, 0.5) * env
            p[f"{s}_elbow"] = env * (0.3 + 0.2 * shake)
        p["neck_pitch"] = -0.3 * env
        p["spine_pitch"] = -0.1 * env
    else:
        arm = s_(q["side"])
        pump = 0.5 - 0.5 * np.cos(2 * np.pi * np.clip((p.t - start) / period, 0, q["count"]))
        p[f"{arm}_sh_flex"] = env * (1.6 + 0.9 * pump)
        p[f"{arm}_sh_abd"] = 0.3 * env
        p[f"{arm}_elbow"] = env * (1.8 - 1.2 * pump)
        p.add("l_knee", 0.15 * env)
        p.add("r_knee", 0.15 * env)
    return p


@family("cross_arms", "gesture")
@params(lambda r: {})
def _cross_arms(ctx, q):
    """Folds the arms across the chest, stands like that a while, and lets them down."""
    hold = ctx.jitter(2.0, 0.4)
    p = Program.still(ctx.fps, 0.3 + 1.2 + hold + 0.5)
    env = plateau(p.t, 0.3, 0.3 + 1.2 + hold, 0.6)
    top = choice(ctx.rng, "lr")
    for s in "lr":  # each hand reaches past the midline to the other arm, one forearm above the other
        p[f"{s}_sh_flex"] = (0.42 if s == top else 0.33) * env
        p[f"{s}_elbow"] = ctx.rng.uniform(1.6, 1.8) * env
        p[f"{s}_sh_hadd"] = ctx.rng.uniform(0.75, 0.9) * env
        p[f"{s}_sh_abd"] = 0.3 * env
        p[f"{s}_sh_twist"] = -0.45 * env
    p["spine_pitch"] = -0.05 * env
    return p


@family("hands_on_hips", "gesture")
@params(lambda r: {})
def _hands_on_hips(ctx, q):
    hold = ctx.jitter(2.0, 0.4)
    p = Program.still(ctx.fps, 0.3 + 1.2 + hold + 0.5)
    env = plateau(p.t, 0.3, 0.3 + 1.2 + hold, 0.6)
    for s in "lr":  # elbows out, forearms turned in so the hands rest on the hips
        p[f"{s}_sh_abd"] = ctx.rng.uniform(0.55, 0.7) * env
        p[f"{s}_elbow"] = ctx.rng.uniform(1.15, 1.35) * env
        p[f"{s}_sh_twist"] = -1.4 * env
        p[f"{s}_sh_flex"] = -0.2 * env
    p["spine_pitch"] = -0.06 * env
    return p


@family("look_around", "gesture", weight=1.2, forms=("head", "torso", "scan"))
@params(lambda r: {"side": choice(r, SIDES)})
def _look_around(ctx, q):
    """Looks to the ``side`` first, then to the other side, then ahead again: with the head, with head and
    chest (``torso``), or scanning up and down as well (``scan``)."""
    sgn = sign(q["side"])
    look = ctx.period(1.1, 0.25)
    p = Program.still(ctx.fps, 0.4 + 3 * look + 0.5)
    t = p.t
    first = plateau(t, 0.4, 0.4 + look * 1.1, 0.35)
    second = plateau(t, 0.4 + look * 1.3, 0.4 + look * 2.6, 0.4)
    direction = sgn * (first - second)
    reach = ctx.rng.uniform(0.6, 0.9)
    p["neck_yaw"] = reach * direction
    if q["form"] != "head":
        p["spine_yaw"] = 0.4 * direction
        p["root_yaw"] = 0.15 * direction
    if q["form"] == "scan":
        p["neck_pitch"] = 0.25 * np.sin(2 * np.pi * t / (1.5 * look)) * plateau(t, 0.4, 0.4 + 2.6 * look, 0.3)
    return p


@family("salute", "gesture")
@params(lambda r: {"side": choice(r, ("right", "right", "left"))})
def _salute(ctx, q):
    """A military salute with the ``side`` hand: the hand snaps to the brow, held, and comes down."""
    arm = s_(q["side"])
    hold = ctx.jitter(1.3, 0.3)
    p = Program.still(ctx.fps, 0.4 + 0.8 + hold + 0.5)
    env = plateau(p.t, 0.4, 0.4 + 0.8 + hold, 0.3)
    p[f"{arm}_sh_abd"] = ctx.rng.uniform(1.45, 1.6) * env
    p[f"{arm}_sh_flex"] = ctx.rng.uniform(0.65, 0.8) * env
    p[f"{arm}_elbow"] = ctx.rng.uniform(1.9, 2.05) * env
    p[f"{arm}_sh_twist"] = 1.1 * env
    p[f"{arm}_sh_hadd"] = 0.6 * env
    p["spine_pitch"] = -0.06 * env
    p["neck_pitch"] = -0.05 * env
    return p


def _bow_arms(p: Program, ctx, form: str, depth: np.ndarray, hold: np.ndarray) -> None:
    r = ctx.rng
    if form == "arms_sides":  # arms hang, falling forward a little with the trunk
        for s in "lr":
            p[f"{s}_sh_flex"] = r.uniform(0.1, 0.35) * depth
    elif form == "clasped":  # hands together in front of the belly
        for s in "lr":
            p[f"{s}_sh_flex"] = 0.3 * hold + 0.2 * depth
            p[f"{s}_sh_abd"] = 0.2 * hold
            p[f"{s}_elbow"] = 0.75 * hold
            p[f"{s}_sh_twist"] = -0.95 * hold
            p[f"{s}_sh_hadd"] = 0.5 * hold
    elif form == "hand_on_chest":  # one hand on the chest, the other at the side
        s = choice(r, "lr")
        p[f"{s}_sh_flex"] = 0.15 * hold
        p[f"{s}_sh_abd"] = 0.6 * hold
        p[f"{s}_elbow"] = 1.9 * hold
        p[f"{s}_sh_twist"] = -0.15 * hold
        p[f"{s}_sh_hadd"] = 1.0 * hold
    else:  # arm_sweep: a theatrical bow, one arm sweeping across the front, the other out behind
        s, o = ("l", "r") if r.random() < 0.5 else ("r", "l")
        p[f"{s}_sh_flex"] = 0.8 * depth
        p[f"{s}_elbow"] = 1.2 * depth
        p[f"{s}_sh_hadd"] = 0.6 * depth
        p[f"{o}_sh_abd"] = 0.6 * depth
        p[f"{o}_sh_flex"] = -0.4 * depth
        p[f"{o}_hip_flex"] = -0.2 * depth


_BOW_DEPTHS = {"slight": 0.4, "normal": 0.85, "deep": 1.4}


@family("bow", "gesture", weight=1.2, forms=("arms_sides", "clasped", "arm_sweep", "hand_on_chest"))
@params(lambda r: {"count": int(choice(r, (1, 1, 2))), "depth": choice(r, ("slight", "normal", "normal", "deep"))})
def _bow(ctx, q):
    period = ctx.period(2.0 if q.get("depth", "normal") != "slight" else 1.3)
    starts = count_starts(0.5, period, q["count"], ctx)
    p = Program.still(ctx.fps, starts[-1] + period + 0.6)
    depth = np.minimum(bumps(p.t, starts, 0.95 * period), 1.0) * ctx.jitter(1.0, 0.1)
    hold = plateau(p.t, 0.1, starts[-1] + period + 0.3, 0.4)
    level = _BOW_DEPTHS[q.get("depth", "normal")]
    # Bending at the hips: the pelvis tips forward while the thighs stay upright, the back bends the rest.
    p["root_pitch"] = 0.3 * level * depth
    p["l_hip_flex"] = p["r_hip_flex"] = 0.3 * level * depth
    p["spine_pitch"] = 0.7 * level * depth
    p["neck_pitch"] = 0.25 * depth
    _bow_arms(p, ctx, q["form"], depth, hold)
    return p
