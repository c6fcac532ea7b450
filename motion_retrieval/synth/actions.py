"""The parametric action families of the synthetic corpus.

Each family samples its parameters (side, count, speed, direction...) and writes a ``Program`` for them. The
parameters are exactly what the captions put into words (``captions.py``), so a caption never claims something the
motion does not do. Angles are radians in the conventions of ``body.py``: ``side="left"`` means the person's left
(+X), a left turn is counter-clockwise seen from above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from motion_retrieval.synth.program import Program, bumps, plateau, ramp

__all__ = ["ActionContext", "FAMILIES", "Family", "build_action", "families_for"]

Params = dict  # JSON-able parameter values (str / int)
SIDES = ("left", "right")
_DIALECTS = ("humanml3d", "kitml")


@dataclass
class ActionContext:
    """What a family may vary besides its parameters: the person and the take."""

    fps: float
    rng: np.random.Generator
    leg: float = 0.83  # hip-to-ankle length in metres (stride and jump sizes scale with it)
    tempo: float = 1.0  # > 1 performs faster
    amp: float = 1.0  # > 1 performs with larger amplitudes

    def jitter(self, value: float, spread: float = 0.1) -> float:
        """``value`` times a random factor in [1 - spread, 1 + spread] (per-repetition variation)."""
        return float(value * self.rng.uniform(1.0 - spread, 1.0 + spread))


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # locomotion | turn | jump | lower | upper | idle
    sample: Callable[[np.random.Generator], Params]
    build: Callable[[ActionContext, Params], Program]
    dialects: tuple[str, ...] = _DIALECTS
    weight: float = 1.0  # relative sampling weight
    start: str = "standing"  # posture at the start; a sequence only joins an action to one that ends in it
    end: str = "standing"  # posture at the end: standing | seated | kneeling | floor


FAMILIES: dict[str, Family] = {}


def _family(name: str, kind: str, dialects: tuple[str, ...] = _DIALECTS, weight: float = 1.0,
            start: str = "standing", end: str = "standing"):
    """Register a build function (with its sampler attached by ``_params``) as the family ``name``."""

    def wrap(build):
        FAMILIES[name] = Family(name, kind, build.sample, build, dialects, weight, start, end)
        return build

    return wrap


def _params(sample: Callable[[np.random.Generator], Params]):
    """Attach a parameter sampler to a build function."""

    def wrap(build):
        build.sample = sample
        return build

    return wrap


def families_for(dialect: str) -> list[Family]:
    if dialect not in _DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; choose one of {', '.join(_DIALECTS)}")
    return [f for f in FAMILIES.values() if dialect in f.dialects]


def build_action(ctx: ActionContext, family: str, params: Params) -> Program:
    try:
        fam = FAMILIES[family]
    except KeyError:
        raise KeyError(f"unknown action family {family!r}; known: {', '.join(sorted(FAMILIES))}") from None
    return fam.build(ctx, params)


# ---------------------------------------------------------------------------------------------------------------
# Shared building blocks
# ---------------------------------------------------------------------------------------------------------------
def _choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _sign(side: str) -> float:
    """+1 for the left (+X, counter-clockwise), -1 for the right."""
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return 1.0 if side == "left" else -1.0


def _other(side: str) -> str:
    return "right" if side == "left" else "left"


def _s(side: str) -> str:
    return side[0]


def _set_yaw(p: Program, heading: np.ndarray) -> None:
    """Heading curve (radians, left positive) -> yaw_rate channel whose integral reproduces it exactly."""
    rate = np.zeros_like(heading)
    rate[:-1] = np.diff(heading) * p.fps
    p["yaw_rate"] = rate


def _phase(p: Program, t0: float, t1: float, half_cycles: float, rise: float = 0.4) -> np.ndarray:
    """Gait phase 0 -> half_cycles * pi over [t0, t1], easing in and out (the person starts and stops)."""
    speed = plateau(p.t, t0, t1, rise)  # (T,)
    phase = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    return phase / max(phase[-1], 1e-9) * half_cycles * np.pi


def _rate(p: Program, x: np.ndarray) -> np.ndarray:
    """Time derivative per second, forward differences (consistent with how ``render`` integrates)."""
    rate = np.zeros_like(x)
    rate[:-1] = np.diff(x) * p.fps
    return rate


def _gait(p: Program, phase: np.ndarray, env: np.ndarray, *, direction: float = 1.0, hip: float = 0.42,
          knee: float = 0.95, arm: float = 0.35, elbow: float = 0.3, lean: float = 0.05, ankle: float = 0.2) -> None:
    """Alternating leg swing with matching knee lift and counter-swinging arms, on a phase (one step per pi).

    The left leg swings forward while sin(phase) rises; ``direction`` -1 swings the legs backwards (walking
    backwards). The swinging leg's knee flexes most mid-swing. Arms swing opposite to the same-side leg.
    """
    for side, shift in (("l", 0.0), ("r", np.pi)):
        ph = phase + shift
        swing = np.maximum(0.0, direction * np.cos(ph)) ** 1.5  # (T,) 1 mid-swing, 0 in stance
        p.add(f"{side}_hip_flex", env * (direction * hip * np.sin(ph) + 0.25 * hip * swing))
        p.add(f"{side}_knee", env * (knee * swing + 0.08))
        p.add(f"{side}_ankle", env * ankle * (np.sin(ph - 0.6 * direction) * 0.5 - 0.3 * swing))
        p.add(f"{side}_sh_flex", -env * direction * arm * np.sin(ph))
        p.add(f"{side}_elbow", env * elbow * (1.0 + 0.3 * np.sin(ph)))
    p.add("spine_pitch", env * lean)
    p.add("spine_yaw", -env * 0.08 * np.sin(phase))


def _locomotion(ctx: ActionContext, steps: int, step_len: float, cadence: float, *, heading_deg: float = 0.0,
                direction: float = 1.0, style: dict | None = None, lead: float = 0.3) -> tuple[Program, np.ndarray]:
    """``steps`` steps of ``step_len`` metres at ``cadence`` steps per second, travelling at ``heading_deg`` from
    the facing direction (0 forward, 180 backwards). Returns the program and its gait phase."""
    cadence *= ctx.tempo
    walk_time = steps / cadence + 0.4
    p = Program.still(ctx.fps, walk_time + 2 * lead)
    phase = _phase(p, lead, lead + walk_time, steps)
    env = plateau(p.t, lead, lead + walk_time, 0.35)
    _gait(p, phase, env, direction=direction, **(style or {}))
    speed = step_len / np.pi * _rate(p, phase)  # (T,) m/s: one step of step_len per pi of phase
    heading = np.deg2rad(heading_deg)
    p["v_fwd"] = speed * np.cos(heading)
    p["v_side"] = speed * np.sin(heading)
    p["anchor"] = 1.0 - env
    return p, phase


_SPEEDS = {  # step length (leg lengths), cadence (steps/s), style
    "slow": (0.62, 1.5, {"hip": 0.32, "knee": 0.8, "arm": 0.2, "elbow": 0.25}),
    "normal": (0.85, 1.9, {"hip": 0.42, "knee": 0.95, "arm": 0.35, "elbow": 0.3}),
    "fast": (0.98, 2.3, {"hip": 0.5, "knee": 1.05, "arm": 0.5, "elbow": 0.45, "lean": 0.1}),
    "jog": (1.1, 2.7, {"hip": 0.55, "knee": 1.5, "arm": 0.55, "elbow": 1.4, "lean": 0.12}),
    "run": (1.5, 3.0, {"hip": 0.7, "knee": 1.8, "arm": 0.75, "elbow": 1.5, "lean": 0.2}),
}


def _gait_program(ctx: ActionContext, speed: str, steps: int, **kw) -> tuple[Program, np.ndarray]:
    rel_len, cadence, style = _SPEEDS[speed]
    style = {k: v * ctx.amp if k in ("hip", "arm") else v for k, v in style.items()}
    p, phase = _locomotion(ctx, steps, ctx.jitter(rel_len * ctx.leg, 0.08), ctx.jitter(cadence, 0.06),
                           style=style, **kw)
    if speed in ("jog", "run"):  # running has a flight phase in every step
        env = 1.0 - p["anchor"]
        p["flight"] = env * (0.04 if speed == "jog" else 0.08) * np.maximum(0.0, np.sin(2 * phase)) ** 2
    return p, phase


def _steps_in_place(p: Program, t0: float, t1: float, steps: int, lift: float = 0.5) -> None:
    """Small alternating steps without travelling (turning on the spot, marching)."""
    phase = _phase(p, t0, t1, steps, rise=0.2)
    env = plateau(p.t, t0, t1, 0.2)
    for side, shift in (("l", 0.0), ("r", np.pi)):
        up = np.maximum(0.0, np.sin(phase + shift)) ** 2 * env
        p.add(f"{side}_knee", lift * up)
        p.add(f"{side}_hip_flex", 0.55 * lift * up)


def _count_starts(t0: float, period: float, count: int) -> np.ndarray:
    return t0 + period * np.arange(count)


# ---------------------------------------------------------------------------------------------------------------
# Locomotion
# ---------------------------------------------------------------------------------------------------------------
@_family("walk", "locomotion", weight=3.0)
@_params(lambda r: {"speed": _choice(r, ("slow", "normal", "normal", "fast")), "steps": int(r.integers(3, 11))})
def _walk(ctx, q):
    return _gait_program(ctx, q["speed"], q["steps"])[0]


@_family("walk_backward", "locomotion", weight=1.5)
@_params(lambda r: {"speed": _choice(r, ("slow", "normal")), "steps": int(r.integers(2, 7))})
def _walk_backward(ctx, q):
    rel_len, cadence, style = _SPEEDS[q["speed"]]
    style = dict(style, lean=-0.02)
    p, _ = _locomotion(ctx, q["steps"], ctx.jitter(0.7 * rel_len * ctx.leg), ctx.jitter(0.85 * cadence),
                       heading_deg=180.0, direction=-1.0, style=style)
    return p


@_family("jog", "locomotion", weight=1.5)
@_params(lambda r: {"steps": int(r.integers(4, 13))})
def _jog(ctx, q):
    return _gait_program(ctx, "jog", q["steps"])[0]


@_family("run", "locomotion", weight=1.5)
@_params(lambda r: {"steps": int(r.integers(4, 15))})
def _run(ctx, q):
    return _gait_program(ctx, "run", q["steps"])[0]


@_family("sidestep", "locomotion", weight=1.5)
@_params(lambda r: {"side": _choice(r, SIDES), "steps": int(r.integers(2, 7))})
def _sidestep(ctx, q):
    """Step sideways: the leading leg abducts out, the other closes in; the body travels to ``side``."""
    sign, lead = _sign(q["side"]), _s(q["side"])
    trail = _s(_other(q["side"]))
    cadence = ctx.jitter(1.1) * ctx.tempo  # side steps (open + close) per second
    t0, dur = 0.3, q["steps"] / cadence + 0.3
    p = Program.still(ctx.fps, dur + 0.6)
    phase = _phase(p, t0, t0 + dur, 2 * q["steps"], rise=0.25)  # one open and one close per side step
    env = plateau(p.t, t0, t0 + dur, 0.25)
    spread = 0.5 - 0.5 * np.cos(phase)  # (T,) 0 feet together, 1 feet apart
    amp = ctx.jitter(0.3) * ctx.amp
    p.add(f"{lead}_hip_abd", env * amp * spread)
    p.add(f"{trail}_hip_abd", env * 0.25 * amp * spread)
    opening = np.maximum(0.0, np.sin(phase))  # lead foot in the air while the feet open
    closing = np.maximum(0.0, -np.sin(phase))
    p.add(f"{lead}_knee", env * 0.4 * opening)
    p.add(f"{trail}_knee", env * 0.4 * closing)
    p.add("l_sh_abd", env * 0.12)
    p.add("r_sh_abd", env * 0.12)
    step = 1.25 * amp * ctx.leg * 0.8  # metres per side step
    p["v_side"] = sign * step / (2 * np.pi) * _rate(p, phase)
    p["anchor"] = 1.0 - env
    return p


@_family("walk_diagonal", "locomotion")
@_params(lambda r: {"side": _choice(r, SIDES), "steps": int(r.integers(3, 9))})
def _walk_diagonal(ctx, q):
    p, _ = _gait_program(ctx, "normal", q["steps"])
    turn = _sign(q["side"]) * np.deg2rad(ctx.jitter(45.0, 0.15))
    _set_yaw(p, turn * ramp(p.t, 0.2, 1.0))
    return p


@_family("walk_circle", "locomotion", weight=1.5)
@_params(lambda r: {"side": _choice(r, SIDES), "gait": _choice(r, ("walk", "walk", "jog"))})
def _walk_circle(ctx, q):
    """A full circle; ``side`` left = counter-clockwise seen from above."""
    speed = "normal" if q["gait"] == "walk" else "jog"
    rel_len, cadence, _ = _SPEEDS[speed]
    radius = ctx.jitter(1.2 if speed == "normal" else 1.6, 0.2)
    steps = int(np.ceil(2 * np.pi * radius / (rel_len * ctx.leg)))
    p, phase = _gait_program(ctx, speed, steps)
    # Heading follows the distance travelled so that one lap turns exactly 360 degrees.
    dist = np.concatenate([[0.0], np.cumsum(p["v_fwd"][:-1])]) / p.fps
    _set_yaw(p, _sign(q["side"]) * 2 * np.pi * dist / max(dist[-1], 1e-9))
    p.add("spine_roll", _sign(q["side"]) * 0.06 * (1 - p["anchor"]))
    return p


@_family("walk_curve", "locomotion")
@_params(lambda r: {"side": _choice(r, SIDES), "steps": int(r.integers(4, 10))})
def _walk_curve(ctx, q):
    """Walks forward along an arc that bends about 90 degrees to ``side``."""
    p, _ = _gait_program(ctx, "normal", q["steps"])
    dist = np.concatenate([[0.0], np.cumsum(p["v_fwd"][:-1])]) / p.fps
    _set_yaw(p, _sign(q["side"]) * np.deg2rad(ctx.jitter(90.0, 0.1)) * dist / max(dist[-1], 1e-9))
    return p


@_family("zigzag", "locomotion")
@_params(lambda r: {"steps": int(r.integers(6, 12))})
def _zigzag(ctx, q):
    p, phase = _gait_program(ctx, "normal", q["steps"])
    dist = np.concatenate([[0.0], np.cumsum(p["v_fwd"][:-1])]) / p.fps
    leg_len = ctx.jitter(1.6, 0.15)  # metres per zig
    first = float(ctx.rng.choice([-1.0, 1.0]))
    _set_yaw(p, first * np.deg2rad(40.0) * np.sign(np.sin(np.pi * dist / leg_len + 1e-6)) * (1 - p["anchor"]))
    heading = np.concatenate([[0.0], np.cumsum(p["yaw_rate"][:-1])]) / p.fps
    smooth = np.convolve(np.pad(heading, 4, mode="edge"), np.ones(9) / 9, mode="valid")
    _set_yaw(p, smooth)
    return p


@_family("tiptoe", "locomotion")
@_params(lambda r: {"steps": int(r.integers(3, 9))})
def _tiptoe(ctx, q):
    style = {"hip": 0.25, "knee": 0.7, "arm": 0.1, "elbow": 0.6, "lean": 0.12, "ankle": 0.0}
    p, _ = _locomotion(ctx, q["steps"], ctx.jitter(0.4 * ctx.leg), ctx.jitter(1.4), style=style)
    env = 1.0 - p["anchor"]
    p.add("l_ankle", 0.7 * env)
    p.add("r_ankle", 0.7 * env)
    p.add("l_sh_abd", 0.3 * env)
    p.add("r_sh_abd", 0.3 * env)
    return p


@_family("march", "locomotion")
@_params(lambda r: {"steps": int(r.integers(4, 11))})
def _march(ctx, q):
    """Marching on the spot: knees up high, arms swinging."""
    cadence = ctx.jitter(1.8) * ctx.tempo
    t0, dur = 0.3, q["steps"] / cadence
    p = Program.still(ctx.fps, dur + 0.7)
    _steps_in_place(p, t0, t0 + dur, q["steps"], lift=1.5 * ctx.amp)
    phase = _phase(p, t0, t0 + dur, q["steps"], rise=0.2)
    env = plateau(p.t, t0, t0 + dur, 0.2)
    p.add("l_sh_flex", -0.6 * env * np.sin(phase))
    p.add("r_sh_flex", 0.6 * env * np.sin(phase))
    p.add("l_elbow", 0.9 * env)
    p.add("r_elbow", 0.9 * env)
    p["anchor_mix"] = 0.5 + 0.5 * np.sign(np.sin(phase)) * env
    return p


@_family("skip", "locomotion", dialects=("humanml3d",))
@_params(lambda r: {"steps": int(r.integers(4, 10))})
def _skip(ctx, q):
    p, phase = _gait_program(ctx, "fast", q["steps"])
    env = 1.0 - p["anchor"]
    p["flight"] = env * 0.12 * np.maximum(0.0, np.sin(2 * phase)) ** 2
    for side, shift in (("l", 0.0), ("r", np.pi)):
        high = np.maximum(0.0, np.cos(phase + shift)) ** 2
        p.add(f"{side}_hip_flex", 0.5 * env * high)
        p.add(f"{side}_knee", 0.4 * env * high)
        p.add(f"{side}_sh_flex", 0.4 * env * np.maximum(0.0, -np.cos(phase + shift)))
    return p


@_family("crawl", "locomotion", dialects=("humanml3d",), end="floor")
@_params(lambda r: {"steps": int(r.integers(4, 9))})
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
    phase = _phase(p, down, down + dur, q["steps"], rise=0.2)
    move = plateau(p.t, down, down + dur, 0.2)
    for side, shift in (("l", 0.0), ("r", np.pi)):
        p.add(f"{side}_hip_flex", 0.25 * move * np.sin(phase + shift))
        p.add(f"{side}_sh_flex", -0.25 * move * np.sin(phase + shift))  # opposite arm and leg move together
        p.add(f"{side}_elbow", 0.2 * move * np.maximum(0.0, np.cos(phase + shift)))
    p["v_fwd"] = 0.25 * ctx.leg / np.pi * _rate(p, phase)
    p["anchor"] = 1.0 - np.maximum(move, env)
    return p


def _stairs(ctx, q, up: bool):
    rise = ctx.jitter(0.16, 0.1)
    style = {"hip": 0.4, "knee": 1.2, "arm": 0.2, "elbow": 0.3, "lean": 0.12 if up else 0.02}
    p, phase = _locomotion(ctx, q["steps"], ctx.jitter(0.3), ctx.jitter(1.3), style=style)
    env = 1.0 - p["anchor"]
    for side, shift in (("l", 0.0), ("r", np.pi)):
        swing = np.maximum(0.0, np.cos(phase + shift)) ** 1.5
        p.add(f"{side}_hip_flex", 0.45 * env * swing)
    # The floor rises (or drops) one step height per step, in the middle of each swing.
    p["floor"] = (1.0 if up else -1.0) * rise * phase / np.pi
    return p


@_family("stairs_up", "locomotion")
@_params(lambda r: {"steps": int(r.integers(3, 9))})
def _stairs_up(ctx, q):
    return _stairs(ctx, q, up=True)


@_family("stairs_down", "locomotion")
@_params(lambda r: {"steps": int(r.integers(3, 9))})
def _stairs_down(ctx, q):
    return _stairs(ctx, q, up=False)


@_family("limp", "locomotion", dialects=("humanml3d",))
@_params(lambda r: {"side": _choice(r, SIDES), "steps": int(r.integers(4, 9))})
def _limp(ctx, q):
    """Walks favouring the injured ``side`` leg: that knee stays stiff and the body dips over the good leg."""
    p, phase = _gait_program(ctx, "slow", q["steps"])
    bad, good = _s(q["side"]), _s(_other(q["side"]))
    env = 1.0 - p["anchor"]
    p[f"{bad}_knee"] = 0.1 * env + 0.3 * p[f"{bad}_knee"]
    p.add(f"{good}_knee", 0.3 * env)
    p.add("spine_roll", -_sign(q["side"]) * 0.12 * env)
    return p


@_family("jog_in_place", "locomotion")
@_params(lambda r: {"steps": int(r.integers(6, 15))})
def _jog_in_place(ctx, q):
    cadence = ctx.jitter(2.6) * ctx.tempo
    t0, dur = 0.3, q["steps"] / cadence
    p = Program.still(ctx.fps, dur + 0.7)
    _steps_in_place(p, t0, t0 + dur, q["steps"], lift=1.1)
    phase = _phase(p, t0, t0 + dur, q["steps"], rise=0.2)
    env = plateau(p.t, t0, t0 + dur, 0.2)
    p.add("l_elbow", 1.4 * env)
    p.add("r_elbow", 1.4 * env)
    p.add("l_sh_flex", -0.4 * env * np.sin(phase))
    p.add("r_sh_flex", 0.4 * env * np.sin(phase))
    p["flight"] = 0.03 * env * np.abs(np.sin(phase)) ** 4
    return p


# ---------------------------------------------------------------------------------------------------------------
# Turns
# ---------------------------------------------------------------------------------------------------------------
@_family("turn", "turn", weight=2.0)
@_params(lambda r: {"side": _choice(r, SIDES), "angle": int(_choice(r, (90, 180, 180, 360)))})
def _turn(ctx, q):
    """Turns on the spot by ``angle`` degrees to ``side`` with small stepping feet."""
    dur = ctx.jitter(0.8 + q["angle"] / 150.0) / ctx.tempo
    t0 = 0.2
    p = Program.still(ctx.fps, dur + 0.5)
    _set_yaw(p, _sign(q["side"]) * np.deg2rad(q["angle"]) * ramp(p.t, t0, t0 + dur))
    _steps_in_place(p, t0, t0 + dur, max(2, int(round(q["angle"] / 60))), lift=0.5)
    p.add("spine_yaw", _sign(q["side"]) * 0.1 * plateau(p.t, t0, t0 + dur, 0.3))
    return p


@_family("spin", "turn", dialects=("humanml3d",))
@_params(lambda r: {"side": _choice(r, SIDES), "count": int(_choice(r, (1, 1, 2)))})
def _spin(ctx, q):
    """Fast full turns on the spot, arms pulled in."""
    per_turn = ctx.jitter(0.9) / ctx.tempo
    dur, t0 = q["count"] * per_turn, 0.3
    p = Program.still(ctx.fps, dur + 0.7)
    _set_yaw(p, _sign(q["side"]) * 2 * np.pi * q["count"] * ramp(p.t, t0, t0 + dur))
    env = plateau(p.t, t0 - 0.2, t0 + dur + 0.2, 0.2)
    for s in "lr":
        p.add(f"{s}_elbow", 1.6 * env)
        p.add(f"{s}_sh_abd", 0.5 * env)
        p.add(f"{s}_sh_twist", 1.2 * env)
        p.add(f"{s}_ankle", 0.4 * env)
    p.add(f"{_s(_other(q['side']))}_knee", 0.5 * env)
    p.add(f"{_s(_other(q['side']))}_hip_flex", 0.3 * env)
    p["anchor_mix"] = 0.0 if q["side"] == "left" else 1.0
    return p


# ---------------------------------------------------------------------------------------------------------------
# Jumps and hops
# ---------------------------------------------------------------------------------------------------------------
def _jumps(ctx: ActionContext, count: int, height: float, period: float, *, travel: float = 0.0,
           side_travel: float = 0.0, turn: float = 0.0, arms: bool = True) -> Program:
    """``count`` two-footed jumps: crouch, take off, parabolic flight, land and absorb."""
    g = 9.81
    flight_times = [np.sqrt(8 * ctx.jitter(height * ctx.amp, 0.15) / g) for _ in range(count)]
    gap = period / ctx.tempo
    t0 = 0.6
    starts = np.cumsum([t0] + [gap + flight_times[i] for i in range(count - 1)])
    p = Program.still(ctx.fps, starts[-1] + flight_times[-1] + 0.8)
    t = p.t
    flight = np.zeros_like(t)
    crouch = np.zeros_like(t)
    heading = np.zeros_like(t)
    for start, ft in zip(starts, flight_times):
        u = (t - start) / ft
        air = (u > 0) & (u < 1)
        flight += np.where(air, 4 * u * (1 - u), 0.0) * g * ft * ft / 8  # peak height = g ft^2 / 8
        crouch += bumps(t, [start - 0.35], 0.35) + bumps(t, [start + ft], 0.35)
        travel_curve = np.clip(u, 0.0, 1.0)
        heading += turn * travel_curve
        p.add("v_fwd", np.where(air, travel / ft, 0.0))
        p.add("v_side", np.where(air, side_travel / ft, 0.0))
        if arms:
            swing = bumps(t, [start - 0.35], 0.6)
            for s in "lr":
                p.add(f"{s}_sh_flex", 1.2 * swing - 0.5 * bumps(t, [start - 0.45], 0.3))
    p["flight"] = flight
    depth = np.minimum(crouch, 1.0)
    for s in "lr":
        p.add(f"{s}_hip_flex", 0.8 * depth)
        p.add(f"{s}_knee", 1.3 * depth)
        p.add(f"{s}_ankle", -0.35 * depth + 0.5 * (flight > 0))
    p.add("spine_pitch", 0.35 * depth)
    p["anchor"] = np.where(flight > 0, 0.0, 1.0)
    if turn:
        _set_yaw(p, heading)
    return p


@_family("jump", "jump", weight=1.5)
@_params(lambda r: {"count": int(r.integers(1, 5))})
def _jump(ctx, q):
    return _jumps(ctx, q["count"], 0.25, 0.7)


@_family("jump_forward", "jump", weight=1.5)
@_params(lambda r: {"count": int(r.integers(1, 4))})
def _jump_forward(ctx, q):
    return _jumps(ctx, q["count"], 0.3, 0.8, travel=ctx.jitter(0.9 * ctx.leg, 0.15))


@_family("jump_backward", "jump", dialects=("humanml3d",))
@_params(lambda r: {"count": int(r.integers(1, 3))})
def _jump_backward(ctx, q):
    return _jumps(ctx, q["count"], 0.2, 0.8, travel=-ctx.jitter(0.5 * ctx.leg, 0.15))


@_family("jump_side", "jump")
@_params(lambda r: {"side": _choice(r, SIDES), "count": int(r.integers(1, 4))})
def _jump_side(ctx, q):
    return _jumps(ctx, q["count"], 0.22, 0.8, side_travel=_sign(q["side"]) * ctx.jitter(0.6 * ctx.leg, 0.15))


@_family("jump_turn", "jump", dialects=("humanml3d",))
@_params(lambda r: {"side": _choice(r, SIDES)})
def _jump_turn(ctx, q):
    """One jump that turns 180 degrees in the air."""
    return _jumps(ctx, 1, 0.35, 0.8, turn=_sign(q["side"]) * np.pi)


@_family("hop", "jump", weight=1.5)
@_params(lambda r: {"side": _choice(r, SIDES), "count": int(r.integers(1, 7))})
def _hop(ctx, q):
    """Hops ``count`` times on the ``side`` leg; the other foot is held up behind."""
    stand, free = _s(q["side"]), _s(_other(q["side"]))
    period = ctx.jitter(0.55) / ctx.tempo
    ft = np.sqrt(8 * ctx.jitter(0.09 * ctx.amp, 0.15) / 9.81)
    t0 = 0.7
    starts = _count_starts(t0, period, q["count"])
    p = Program.still(ctx.fps, starts[-1] + ft + 0.9)
    t = p.t
    lifted = plateau(t, 0.15, starts[-1] + ft + 0.6, 0.4)
    p[f"{free}_knee"] = 1.4 * lifted
    p[f"{free}_hip_flex"] = 0.25 * lifted
    p["l_sh_abd"] = p["r_sh_abd"] = 0.35 * lifted
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


@_family("jumping_jacks", "jump", dialects=("humanml3d",))
@_params(lambda r: {"count": int(r.integers(2, 7))})
def _jumping_jacks(ctx, q):
    period = ctx.jitter(0.9) / ctx.tempo
    ft = 0.28
    starts = _count_starts(0.4, period, q["count"])
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


# ---------------------------------------------------------------------------------------------------------------
# Lower body
# ---------------------------------------------------------------------------------------------------------------
@_family("squat", "lower", weight=1.5)
@_params(lambda r: {"count": int(r.integers(1, 6))})
def _squat(ctx, q):
    period = ctx.jitter(1.5) / ctx.tempo
    starts = _count_starts(0.3, period, q["count"])
    p = Program.still(ctx.fps, starts[-1] + period + 0.4)
    depth = np.minimum(bumps(p.t, starts, period * 0.95), 1.0) * ctx.jitter(ctx.amp, 0.1)
    for s in "lr":
        p[f"{s}_hip_flex"] = 1.5 * depth
        p[f"{s}_knee"] = 1.9 * depth
        p[f"{s}_ankle"] = -0.5 * depth
        p[f"{s}_sh_flex"] = 1.4 * depth
    p["spine_pitch"] = 0.35 * depth
    return p


@_family("lunge", "lower")
@_params(lambda r: {"side": _choice(r, SIDES), "count": int(r.integers(1, 4))})
def _lunge(ctx, q):
    """Forward lunges with the ``side`` leg stepping out; the back foot stays planted."""
    front, back = _s(q["side"]), _s(_other(q["side"]))
    period = ctx.jitter(1.8) / ctx.tempo
    starts = _count_starts(0.3, period, q["count"])
    p = Program.still(ctx.fps, starts[-1] + period + 0.4)
    depth = np.minimum(bumps(p.t, starts, period * 0.95), 1.0)
    lower = np.minimum(bumps(p.t, starts + 0.25 * period, period * 0.5), 1.0)
    p[f"{front}_hip_flex"] = 0.7 * depth + 0.5 * lower
    p[f"{front}_knee"] = 0.3 * depth + 1.1 * lower
    p[f"{back}_hip_flex"] = -0.35 * depth
    p[f"{back}_knee"] = 1.3 * lower
    p[f"{back}_ankle"] = 0.6 * lower
    p["anchor_mix"] = 0.0 if back == "l" else 1.0
    p["l_sh_abd"] = p["r_sh_abd"] = 0.2 * depth
    return p


def _sitting(p: Program, level: np.ndarray) -> None:
    """Sitting posture scaled by ``level`` in [0, 1]; the trunk leans forward most mid-transition."""
    for s in "lr":
        p[f"{s}_hip_flex"] = 1.55 * level
        p[f"{s}_knee"] = 1.55 * level
        p[f"{s}_sh_flex"] = 0.3 * level
        p[f"{s}_elbow"] = 0.8 * level
    p["spine_pitch"] = 0.5 * np.sin(np.pi * level) + 0.1 * level


@_family("sit_down", "lower", weight=1.5, end="seated")
@_params(lambda r: {})
def _sit_down(ctx, q):
    dur = ctx.jitter(1.6) / ctx.tempo
    p = Program.still(ctx.fps, dur + ctx.jitter(1.5, 0.3))
    _sitting(p, ramp(p.t, 0.3, 0.3 + dur))
    return p


@_family("stand_up", "lower", weight=1.0, start="seated")
@_params(lambda r: {})
def _stand_up(ctx, q):
    dur = ctx.jitter(1.6) / ctx.tempo
    hold = ctx.jitter(0.8, 0.3)
    p = Program.still(ctx.fps, hold + dur + 0.8)
    _sitting(p, 1.0 - ramp(p.t, hold, hold + dur))
    return p


@_family("kick", "lower", weight=1.5)
@_params(lambda r: {"side": _choice(r, SIDES), "count": int(r.integers(1, 4)),
                    "style": _choice(r, ("front", "front", "side"))})
def _kick(ctx, q):
    kicker, stand = _s(q["side"]), _s(_other(q["side"]))
    period = ctx.jitter(1.1) / ctx.tempo
    starts = _count_starts(0.4, period, q["count"])
    p = Program.still(ctx.fps, starts[-1] + period + 0.5)
    chamber = np.minimum(bumps(p.t, starts, 0.8 * period), 1.0)
    extend = np.minimum(bumps(p.t, starts + 0.2 * period, 0.4 * period), 1.0)
    height = ctx.jitter(ctx.amp, 0.15)
    if q["style"] == "front":
        p[f"{kicker}_hip_flex"] = (0.9 * chamber + 0.5 * extend) * height
        p[f"{kicker}_knee"] = 1.5 * chamber - 1.4 * extend
    else:
        p[f"{kicker}_hip_abd"] = (0.5 * chamber + 0.6 * extend) * height
        p[f"{kicker}_hip_flex"] = 0.5 * chamber
        p[f"{kicker}_knee"] = 1.4 * chamber - 1.3 * extend
        p.add("spine_roll", _sign(q["side"]) * -0.35 * chamber)
    p[f"{kicker}_ankle"] = 0.6 * extend
    p["l_sh_abd"] = p["r_sh_abd"] = 0.3 * chamber
    p.add("spine_pitch", -0.1 * extend)
    p["anchor_mix"] = 0.0 if stand == "l" else 1.0
    return p


@_family("balance", "lower")
@_params(lambda r: {"side": _choice(r, SIDES)})
def _balance(ctx, q):
    """Stands on the ``side`` leg, the other foot lifted, arms out, swaying a little."""
    stand, free = _s(q["side"]), _s(_other(q["side"]))
    hold = ctx.jitter(3.0, 0.3)
    p = Program.still(ctx.fps, hold + 1.4)
    up = plateau(p.t, 0.3, 0.3 + hold + 0.6, 0.5)
    t = p.t
    wobble = 0.08 * np.sin(2 * np.pi * 0.7 * t + ctx.rng.uniform(0, 6)) + 0.05 * np.sin(2 * np.pi * 1.3 * t)
    p[f"{free}_hip_flex"] = 0.8 * up
    p[f"{free}_knee"] = 1.4 * up
    p["l_sh_abd"] = (1.3 + wobble) * up
    p["r_sh_abd"] = (1.3 - wobble) * up
    p["spine_roll"] = 0.5 * wobble * up
    p["anchor_mix"] = 0.0 if stand == "l" else 1.0
    return p


@_family("knee_raise", "lower")
@_params(lambda r: {"side": _choice(r, SIDES), "count": int(r.integers(1, 5))})
def _knee_raise(ctx, q):
    leg, stand = _s(q["side"]), _s(_other(q["side"]))
    period = ctx.jitter(1.0) / ctx.tempo
    starts = _count_starts(0.3, period, q["count"])
    p = Program.still(ctx.fps, starts[-1] + period + 0.4)
    up = np.minimum(bumps(p.t, starts, 0.9 * period), 1.0)
    p[f"{leg}_hip_flex"] = 1.5 * up * ctx.amp
    p[f"{leg}_knee"] = 1.7 * up
    p["l_sh_abd"] = p["r_sh_abd"] = 0.15 * up
    p["anchor_mix"] = 0.0 if stand == "l" else 1.0
    return p


@_family("kneel", "lower", end="kneeling")
@_params(lambda r: {"side": _choice(r, SIDES)})
def _kneel(ctx, q):
    """Goes down onto the ``side`` knee (the other foot stays planted in front) and stays there."""
    down, up = _s(q["side"]), _s(_other(q["side"]))
    dur = ctx.jitter(1.5) / ctx.tempo
    p = Program.still(ctx.fps, 0.3 + dur + ctx.jitter(1.8, 0.3))
    level = ramp(p.t, 0.3, 0.3 + dur)
    p[f"{up}_hip_flex"] = 1.5 * level
    p[f"{up}_knee"] = 1.5 * level
    p[f"{down}_hip_flex"] = -0.1 * level
    p[f"{down}_knee"] = 1.55 * level
    p[f"{down}_ankle"] = 0.9 * level
    p["spine_pitch"] = 0.2 * np.sin(np.pi * level)
    p["anchor_mix"] = 0.5
    return p


@_family("calf_raise", "lower")
@_params(lambda r: {"count": int(r.integers(2, 6))})
def _calf_raise(ctx, q):
    period = ctx.jitter(1.0) / ctx.tempo
    starts = _count_starts(0.3, period, q["count"])
    p = Program.still(ctx.fps, starts[-1] + period + 0.4)
    up = np.minimum(bumps(p.t, starts, 0.9 * period), 1.0)
    p["l_ankle"] = p["r_ankle"] = 0.9 * up
    p["l_sh_abd"] = p["r_sh_abd"] = 0.1 * up
    return p


# ---------------------------------------------------------------------------------------------------------------
# Upper body
# ---------------------------------------------------------------------------------------------------------------
def _arm_sides(side: str) -> tuple[str, ...]:
    return ("l", "r") if side == "both" else (_s(side),)


@_family("raise_arm", "upper", weight=2.0)
@_params(lambda r: {"side": _choice(r, ("left", "right", "both")), "how": _choice(r, ("forward", "side", "up"))})
def _raise_arm(ctx, q):
    hold = ctx.jitter(1.2, 0.4)
    rise = ctx.jitter(0.7) / ctx.tempo
    p = Program.still(ctx.fps, 0.3 + 2 * rise + hold + 0.4)
    up = plateau(p.t, 0.3, 0.3 + 2 * rise + hold, rise)
    for s in _arm_sides(q["side"]):
        if q["how"] == "forward":
            p[f"{s}_sh_flex"] = ctx.jitter(1.55, 0.06) * up
        elif q["how"] == "side":
            p[f"{s}_sh_abd"] = ctx.jitter(1.55, 0.06) * up
        else:
            p[f"{s}_sh_flex"] = ctx.jitter(2.95, 0.03) * up
            p[f"{s}_sh_abd"] = 0.1 * up
    return p


def _wave_arm(p: Program, s: str, env: np.ndarray, count: int, start: float, period: float) -> None:
    """Forearm held up beside the head, swinging side to side ``count`` times."""
    p[f"{s}_sh_abd"] = 1.45 * env
    p[f"{s}_sh_twist"] = 1.5 * env
    swing = np.sin(2 * np.pi * np.clip((p.t - start) / period, 0, count))
    p[f"{s}_elbow"] = env * (1.3 + 0.4 * swing)


@_family("wave", "upper", weight=2.0)
@_params(lambda r: {"side": _choice(r, SIDES), "count": int(r.integers(2, 6))})
def _wave(ctx, q):
    period = ctx.jitter(0.5) / ctx.tempo
    start = 0.9
    p = Program.still(ctx.fps, start + q["count"] * period + 1.0)
    env = plateau(p.t, 0.3, start + q["count"] * period + 0.6, 0.55)
    _wave_arm(p, _s(q["side"]), env, q["count"], start, period)
    return p


@_family("clap", "upper", weight=1.5)
@_params(lambda r: {"count": int(r.integers(2, 7))})
def _clap(ctx, q):
    period = ctx.jitter(0.5) / ctx.tempo
    start = 0.8
    p = Program.still(ctx.fps, start + q["count"] * period + 0.8)
    env = plateau(p.t, 0.3, start + q["count"] * period + 0.4, 0.45)
    # Hands meet (horizontal adduction ~ 0.45 rad brings the wrists to the midline) once per period.
    together = np.minimum(bumps(p.t, start + period * np.arange(q["count"]), period), 1.0)
    for s in "lr":
        p[f"{s}_sh_flex"] = 1.2 * env
        p[f"{s}_elbow"] = 0.7 * env
        p[f"{s}_sh_hadd"] = env * (-0.25 + 0.75 * together)
    return p


@_family("punch", "upper", weight=1.5)
@_params(lambda r: {"side": _choice(r, SIDES), "count": int(r.integers(1, 5))})
def _punch(ctx, q):
    arm = _s(q["side"])
    period = ctx.jitter(0.6) / ctx.tempo
    start = 0.7
    p = Program.still(ctx.fps, start + q["count"] * period + 0.7)
    guard = plateau(p.t, 0.2, start + q["count"] * period + 0.3, 0.45)
    strike = np.minimum(bumps(p.t, start + period * np.arange(q["count"]), 0.8 * period), 1.0)
    for s in "lr":
        p[f"{s}_sh_flex"] = 0.6 * guard
        p[f"{s}_elbow"] = 2.0 * guard
        p[f"{s}_sh_hadd"] = 0.35 * guard
    p[f"{arm}_sh_flex"] = 0.6 * guard + 0.95 * strike
    p[f"{arm}_elbow"] = 2.0 * guard - 1.95 * strike
    p["spine_yaw"] = -_sign(q["side"]) * 0.3 * strike
    p[f"{_s(_other(q['side']))}_hip_flex"] = 0.2 * guard
    return p


@_family("boxing", "upper")
@_params(lambda r: {"count": int(r.integers(3, 9))})
def _boxing(ctx, q):
    """Boxing stance, bouncing, alternating jabs starting with a random hand."""
    period = ctx.jitter(0.5) / ctx.tempo
    start = 0.6
    p = Program.still(ctx.fps, start + q["count"] * period + 0.7)
    guard = plateau(p.t, 0.2, start + q["count"] * period + 0.3, 0.4)
    first = int(ctx.rng.integers(2))
    for s in "lr":
        p[f"{s}_sh_flex"] = 0.6 * guard
        p[f"{s}_elbow"] = 2.0 * guard
        p[f"{s}_sh_hadd"] = 0.35 * guard
        p[f"{s}_knee"] = 0.3 * guard + 0.1 * guard * np.sin(4 * np.pi * p.t / period) ** 2
        p[f"{s}_hip_flex"] = 0.2 * guard
    for i in range(q["count"]):
        s = "lr"[(i + first) % 2]
        strike = bumps(p.t, [start + i * period], 0.8 * period)
        p.add(f"{s}_sh_flex", 0.95 * strike)
        p.add(f"{s}_elbow", -1.95 * strike)
        p.add("spine_yaw", (-0.3 if s == "l" else 0.3) * strike)
    p["spine_pitch"] = 0.15 * guard
    return p


@_family("throw", "upper", weight=1.2)
@_params(lambda r: {"side": _choice(r, SIDES)})
def _throw(ctx, q):
    """Overhand throw with the ``side`` hand: wind up behind, whip forward, step with the other leg."""
    arm, step = _s(q["side"]), _s(_other(q["side"]))
    wind = ctx.jitter(0.8) / ctx.tempo
    p = Program.still(ctx.fps, 0.3 + wind + 1.6)
    t = p.t
    back = plateau(t, 0.3, 0.3 + wind + 0.25, wind * 0.8)
    release = plateau(t, 0.3 + wind, 0.3 + wind + 1.0, 0.25)
    p[f"{arm}_sh_abd"] = 1.4 * back + 0.3 * release
    p[f"{arm}_sh_twist"] = 1.5 * back
    p[f"{arm}_elbow"] = 1.6 * back + 0.2 * release
    p[f"{arm}_sh_flex"] = -0.5 * back + 1.3 * release * (1 - ramp(t, 0.3 + wind + 0.3, 0.3 + wind + 0.9) * 0.6)
    p[f"{arm}_sh_hadd"] = 0.8 * release
    p["spine_yaw"] = _sign(q["side"]) * (-0.5 * back + 0.5 * release)
    p["spine_pitch"] = 0.35 * release
    p[f"{step}_hip_flex"] = 0.5 * release
    p[f"{step}_knee"] = 0.3 * release
    p["anchor_mix"] = 1.0 if step == "l" else 0.0
    return p


@_family("bow", "upper", weight=1.2)
@_params(lambda r: {"count": int(_choice(r, (1, 1, 2)))})
def _bow(ctx, q):
    period = ctx.jitter(2.0) / ctx.tempo
    starts = _count_starts(0.3, period, q["count"])
    p = Program.still(ctx.fps, starts[-1] + period + 0.4)
    depth = np.minimum(bumps(p.t, starts, 0.95 * period), 1.0) * ctx.jitter(ctx.amp, 0.1)
    p["spine_pitch"] = 1.1 * depth
    p["neck_pitch"] = 0.3 * depth
    p["l_sh_flex"] = p["r_sh_flex"] = 0.3 * depth
    return p


@_family("stretch", "upper")
@_params(lambda r: {})
def _stretch(ctx, q):
    """Reaches both arms overhead, rises a little onto the toes, and lowers them."""
    hold = ctx.jitter(1.5, 0.3)
    p = Program.still(ctx.fps, 0.3 + hold + 2.0)
    up = plateau(p.t, 0.3, 0.3 + hold + 1.6, 0.8)
    for s in "lr":
        p[f"{s}_sh_flex"] = 2.95 * up
        p[f"{s}_ankle"] = 0.5 * up
    p["spine_pitch"] = -0.15 * up
    p["neck_pitch"] = -0.3 * up
    return p


@_family("side_bend", "upper")
@_params(lambda r: {"side": _choice(r, SIDES), "count": int(r.integers(1, 3))})
def _side_bend(ctx, q):
    """Bends the trunk to ``side`` then to the other side, ``count`` times each; arms overhead."""
    period = ctx.jitter(1.6) / ctx.tempo
    p = Program.still(ctx.fps, 0.8 + 2 * q["count"] * period + 0.8)
    arms = plateau(p.t, 0.2, 0.8 + 2 * q["count"] * period + 0.5, 0.5)
    bend = np.zeros_like(p.t)
    for i in range(2 * q["count"]):
        direction = _sign(q["side"]) * (1 if i % 2 == 0 else -1)
        bend += direction * bumps(p.t, [0.8 + i * period], period)
    p["spine_roll"] = 0.6 * bend
    for s in "lr":
        p[f"{s}_sh_flex"] = 2.8 * arms
    return p


@_family("pick_up", "upper", weight=1.5)
@_params(lambda r: {"side": _choice(r, SIDES)})
def _pick_up(ctx, q):
    """Bends down, picks something up from the floor with the ``side`` hand, stands up holding it."""
    arm = _s(q["side"])
    down = ctx.jitter(1.0) / ctx.tempo
    p = Program.still(ctx.fps, 0.3 + 2 * down + 0.5 + 0.8)
    t = p.t
    bend = plateau(t, 0.3, 0.3 + 2 * down + 0.5, down)
    p["spine_pitch"] = 1.0 * bend
    p["l_hip_flex"] = p["r_hip_flex"] = 0.6 * bend
    p["l_knee"] = p["r_knee"] = 0.9 * bend
    p[f"{arm}_sh_flex"] = 1.0 * bend + 0.6 * ramp(t, 0.3 + down + 0.3, 0.3 + 2 * down + 0.5)
    p[f"{arm}_elbow"] = 1.2 * ramp(t, 0.3 + down + 0.3, 0.3 + 2 * down + 0.5)
    p["neck_pitch"] = 0.3 * bend
    return p


@_family("golf_swing", "upper", dialects=("humanml3d",))
@_params(lambda r: {})
def _golf_swing(ctx, q):
    """Address, backswing to the right, downswing and follow-through to the left (a right-handed swing)."""
    back = ctx.jitter(1.0) / ctx.tempo
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
    return p


@_family("dance", "upper", weight=1.5)
@_params(lambda r: {"speed": _choice(r, ("slow", "fast"))})
def _dance(ctx, q):
    """Free dancing to a beat: swaying hips, stepping, arm waves with random moves per bar."""
    beat = (0.75 if q["speed"] == "slow" else 0.42) / ctx.tempo
    bars = int(ctx.rng.integers(2, 4))
    dur = bars * 4 * beat
    p = Program.still(ctx.fps, dur + 0.8)
    env = plateau(p.t, 0.2, 0.2 + dur + 0.3, 0.3)
    w = 2 * np.pi / (2 * beat)
    p["spine_roll"] = 0.15 * env * np.sin(w * p.t)
    p["root_roll"] = 0.08 * env * np.sin(w * p.t)
    _steps_in_place(p, 0.2, 0.2 + dur, bars * 4, lift=0.6)
    for bar in range(bars):
        move = plateau(p.t, 0.2 + bar * 4 * beat, 0.2 + (bar + 1) * 4 * beat, 0.3)
        kind = int(ctx.rng.integers(3))
        for s, ph in (("l", 0.0), ("r", np.pi)):
            if kind == 0:  # arms pumping up
                p.add(f"{s}_sh_flex", move * (1.5 + 1.0 * np.sin(w * p.t + ph)))
                p.add(f"{s}_elbow", move * 0.8)
            elif kind == 1:  # arms swaying sideways
                p.add(f"{s}_sh_abd", move * (0.9 + 0.6 * np.sin(w * p.t + ph)))
                p.add(f"{s}_elbow", move * 1.0)
            else:  # disco point
                p.add(f"{s}_sh_flex", move * (1.2 + 1.2 * np.sin(w * p.t / 2 + ph)))
    p["anchor"] = 0.7
    return p


@_family("arm_circles", "upper")
@_params(lambda r: {"side": _choice(r, ("left", "right", "both")), "count": int(r.integers(2, 5))})
def _arm_circles(ctx, q):
    """Big windmill circles of straight arms, forwards."""
    period = ctx.jitter(1.0) / ctx.tempo
    p = Program.still(ctx.fps, 0.4 + q["count"] * period + 0.5)
    angle = 2 * np.pi * q["count"] * ramp(p.t, 0.4, 0.4 + q["count"] * period)
    for s in _arm_sides(q["side"]):
        p[f"{s}_sh_flex"] = angle
        p[f"{s}_sh_abd"] = 0.25 * np.sin(angle / 2) ** 2
    return p


@_family("touch_toes", "upper")
@_params(lambda r: {})
def _touch_toes(ctx, q):
    down = ctx.jitter(1.2) / ctx.tempo
    p = Program.still(ctx.fps, 0.3 + 2 * down + 1.0 + 0.4)
    bend = plateau(p.t, 0.3, 0.3 + 2 * down + 1.0, down)
    p["spine_pitch"] = 1.35 * bend
    p["l_hip_flex"] = p["r_hip_flex"] = 0.35 * bend
    p["l_sh_flex"] = p["r_sh_flex"] = 1.3 * bend
    p["neck_pitch"] = 0.3 * bend
    return p


@_family("drink", "upper")
@_params(lambda r: {"side": _choice(r, SIDES)})
def _drink(ctx, q):
    """Lifts a cup to the mouth with the ``side`` hand, tips the head back, lowers it."""
    arm = _s(q["side"])
    lift = ctx.jitter(0.8) / ctx.tempo
    hold = ctx.jitter(1.2, 0.3)
    p = Program.still(ctx.fps, 0.3 + 2 * lift + hold + 0.4)
    up = plateau(p.t, 0.3, 0.3 + 2 * lift + hold, lift)
    p[f"{arm}_sh_flex"] = 0.8 * up
    p[f"{arm}_elbow"] = 2.2 * up
    p[f"{arm}_sh_hadd"] = 0.5 * up
    p["neck_pitch"] = -0.4 * plateau(p.t, 0.3 + lift, 0.3 + lift + hold, 0.3)
    return p


@_family("tennis_swing", "upper", dialects=("humanml3d",))
@_params(lambda r: {"side": _choice(r, SIDES)})
def _tennis_swing(ctx, q):
    """A forehand with the ``side`` hand: racket back, swing across the body."""
    arm, sign = _s(q["side"]), _sign(q["side"])
    back = ctx.jitter(0.9) / ctx.tempo
    p = Program.still(ctx.fps, 0.3 + back + 1.4)
    t = p.t
    stance = plateau(t, 0.1, 0.3 + back + 1.2, 0.4)
    prep = plateau(t, 0.3, 0.3 + back + 0.15, back * 0.8)
    hit = plateau(t, 0.3 + back, 0.3 + back + 0.9, 0.2)
    p[f"{arm}_sh_abd"] = 1.1 * stance
    p[f"{arm}_sh_hadd"] = -1.0 * prep + 1.6 * hit
    p[f"{arm}_elbow"] = 0.4 * stance
    p["spine_yaw"] = sign * (-0.6 * prep + 0.6 * hit)
    p["l_knee"] = p["r_knee"] = 0.3 * stance
    p["spine_pitch"] = 0.15 * stance
    return p


@_family("torso_twist", "upper")
@_params(lambda r: {"count": int(r.integers(2, 5))})
def _torso_twist(ctx, q):
    period = ctx.jitter(1.3) / ctx.tempo
    p = Program.still(ctx.fps, 0.5 + q["count"] * period + 0.6)
    env = plateau(p.t, 0.2, 0.5 + q["count"] * period + 0.3, 0.3)
    twist = np.sin(2 * np.pi * np.clip((p.t - 0.5) / period, 0, q["count"]))
    p["spine_yaw"] = 0.9 * env * twist * float(ctx.rng.choice([-1.0, 1.0]))
    for s in "lr":
        p[f"{s}_sh_abd"] = 1.45 * env
        p[f"{s}_elbow"] = 0.2 * env
    return p


@_family("violin", "upper", dialects=("kitml",))
@_params(lambda r: {})
def _violin(ctx, q):
    """Plays the violin: left hand up at the neck of the instrument, right arm bowing back and forth."""
    strokes = int(ctx.rng.integers(3, 7))
    period = ctx.jitter(0.9) / ctx.tempo
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


@_family("guitar", "upper", dialects=("kitml",))
@_params(lambda r: {})
def _guitar(ctx, q):
    """Plays an air guitar: left hand out on the fretboard, right hand strumming at the hip."""
    strums = int(ctx.rng.integers(4, 10))
    period = ctx.jitter(0.45) / ctx.tempo
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


@_family("wipe", "upper", dialects=("kitml",))
@_params(lambda r: {"side": _choice(r, SIDES)})
def _wipe(ctx, q):
    """Wipes a table in front with circles of the ``side`` hand."""
    arm = _s(q["side"])
    circles = int(ctx.rng.integers(2, 6))
    period = ctx.jitter(0.9) / ctx.tempo
    p = Program.still(ctx.fps, 0.8 + circles * period + 0.8)
    env = plateau(p.t, 0.2, 0.8 + circles * period + 0.5, 0.5)
    angle = 2 * np.pi * np.clip((p.t - 0.8) / period, 0, circles)
    p["spine_pitch"] = 0.45 * env
    p[f"{arm}_sh_flex"] = env * (1.0 + 0.25 * np.sin(angle))
    p[f"{arm}_sh_hadd"] = env * 0.4 * np.cos(angle)
    p[f"{arm}_elbow"] = env * (0.5 - 0.2 * np.sin(angle))
    return p


@_family("stir", "upper", dialects=("kitml",))
@_params(lambda r: {"side": _choice(r, SIDES)})
def _stir(ctx, q):
    """Stirs in a bowl held at the belly: small circles of the ``side`` hand, the other hand holds the bowl."""
    arm, hold = _s(q["side"]), _s(_other(q["side"]))
    circles = int(ctx.rng.integers(3, 8))
    period = ctx.jitter(0.6) / ctx.tempo
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


@_family("stand", "idle", weight=0.0)
@_params(lambda r: {})
def _stand(ctx, q):
    """Stands still (used between other actions: "then stops")."""
    return Program.still(ctx.fps, ctx.jitter(1.2, 0.3))
