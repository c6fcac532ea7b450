"""The family registry, the context an action is built in, and the building blocks families share (gait, steps
in place, counted repetitions).

Each family samples its parameters (side, count, speed, direction, form...) and writes a ``Program`` for them. The
parameters are exactly what the captions put into words (``captions.py``), so a caption never claims something the
motion does not do. Angles are radians in the conventions of ``body.py``: ``side="left"`` means the person's left
(+X), a left turn is counter-clockwise seen from above.

A family may have ``forms``: ways of doing the action that look different (a wave with a bent elbow at head
height, a straight arm overhead, a low wave from the forearm). Forms follow the corpus partition
(``variants.partition``): forms at held-out positions appear only in the ``transfer`` corpus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from motion_retrieval.synth.program import Program, plateau
from motion_retrieval.synth.styles import NEUTRAL, Style
from motion_retrieval.synth.variants import check_variant, partition

__all__ = ["ActionContext", "FAMILIES", "Family", "build_action", "families_for"]

Params = dict  # JSON-able parameter values (str / int)
SIDES = ("left", "right")
DIALECTS = ("humanml3d", "kitml")


@dataclass
class ActionContext:
    """What a family may vary besides its parameters: the person, their style and the take."""

    fps: float
    rng: np.random.Generator
    leg: float = 0.83  # hip-to-ankle length in metres (stride and jump sizes scale with it)
    tempo: float = 1.0  # > 1 performs faster
    amp: float = 1.0  # > 1 performs with larger amplitudes
    style: Style = field(default=NEUTRAL)

    def jitter(self, value: float, spread: float = 0.1) -> float:
        """``value`` times a random factor in [1 - spread, 1 + spread] (per-repetition variation)."""
        return float(value * self.rng.uniform(1.0 - spread, 1.0 + spread))

    def period(self, seconds: float, spread: float = 0.1) -> float:
        """A repetition period: ``seconds`` jittered and divided by the tempo."""
        return self.jitter(seconds, spread) / self.tempo


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # locomotion | turn | jump | lower | upper | gesture | idle
    sample: Callable[[np.random.Generator], Params]
    build: Callable[[ActionContext, Params], Program]
    dialects: tuple[str, ...] = DIALECTS
    weight: float = 1.0  # relative sampling weight
    start: str = "standing"  # posture at the start; a sequence only joins an action to one that ends in it
    end: str = "standing"  # posture at the end: standing | seated | kneeling | floor
    forms: tuple[str, ...] = ()  # ways of doing it; held-out positions only in the transfer corpus

    def forms_for(self, variant: str) -> list[str]:
        return partition(self.forms, variant)

    def sample_params(self, rng: np.random.Generator, variant: str = "train") -> Params:
        """Parameters for one performance; the form is drawn from the ``variant``'s forms (transfer prefers its
        held-out forms and falls back to the training ones where a family holds none out)."""
        params = self.sample(rng)
        if self.forms:
            forms = self.forms_for(check_variant(variant))
            if variant == "transfer" and (not forms or rng.random() < 0.3):
                forms = self.forms_for("train")
            params["form"] = forms[int(rng.integers(len(forms)))]
        return params


FAMILIES: dict[str, Family] = {}


def family(name: str, kind: str, dialects: tuple[str, ...] = DIALECTS, weight: float = 1.0,
           start: str = "standing", end: str = "standing", forms: tuple[str, ...] = ()):
    """Register a build function (with its sampler attached by ``params``) as the family ``name``."""

    def wrap(build):
        if name in FAMILIES:
            raise ValueError(f"action family {name!r} is registered twice")
        FAMILIES[name] = Family(name, kind, build.sample, build, dialects, weight, start, end, forms)
        return build

    return wrap


def params(sample: Callable[[np.random.Generator], Params]):
    """Attach a parameter sampler to a build function."""

    def wrap(build):
        build.sample = sample
        return build

    return wrap


def families_for(dialect: str) -> list[Family]:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")
    return [f for f in FAMILIES.values() if dialect in f.dialects]


def build_action(ctx: ActionContext, name: str, q: Params) -> Program:
    try:
        fam = FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown action family {name!r}; known: {', '.join(sorted(FAMILIES))}") from None
    if fam.forms and "form" not in q:
        q = dict(q, form=fam.forms[0])
    elif fam.forms and q["form"] not in fam.forms:
        raise ValueError(f"family {name!r} has no form {q['form']!r}; known: {', '.join(fam.forms)}")
    return fam.build(ctx, q)


# ---------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------
def choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def sign(side: str) -> float:
    """+1 for the left (+X, counter-clockwise), -1 for the right."""
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return 1.0 if side == "left" else -1.0


def other(side: str) -> str:
    return "right" if side == "left" else "left"


def s_(side: str) -> str:
    """'l' / 'r' prefix of a side's DOFs."""
    return side[0]


def arm_sides(side: str) -> tuple[str, ...]:
    return ("l", "r") if side == "both" else (s_(side),)


def set_yaw(p: Program, heading: np.ndarray) -> None:
    """Heading curve (radians, left positive) -> yaw_rate channel whose integral reproduces it exactly."""
    rate = np.zeros_like(heading)
    rate[:-1] = np.diff(heading) * p.fps
    p["yaw_rate"] = rate


def rate(p: Program, x: np.ndarray) -> np.ndarray:
    """Time derivative per second, forward differences (consistent with how ``render`` integrates)."""
    out = np.zeros_like(x)
    out[:-1] = np.diff(x) * p.fps
    return out


def travelled(p: Program) -> np.ndarray:
    """(T,) distance walked along the heading so far, metres."""
    return np.concatenate([[0.0], np.cumsum(p["v_fwd"][:-1])]) / p.fps


def count_starts(t0: float, period: float, count: int, ctx: ActionContext | None = None) -> np.ndarray:
    """Start times of ``count`` repetitions; with a context, each gap varies a little (people are not metronomes)."""
    if ctx is None or count < 2:
        return t0 + period * np.arange(count)
    spread = 0.06 + 0.1 * ctx.style.jitter
    gaps = period * ctx.rng.uniform(1.0 - spread, 1.0 + spread, size=count - 1)
    return t0 + np.concatenate([[0.0], np.cumsum(gaps)])


def gait_phase(p: Program, t0: float, t1: float, half_cycles: float, rise: float = 0.4) -> np.ndarray:
    """Gait phase 0 -> half_cycles * pi over [t0, t1], easing in and out (the person starts and stops)."""
    speed = plateau(p.t, t0, t1, rise)  # (T,)
    phase = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    return phase / max(phase[-1], 1e-9) * half_cycles * np.pi


# ---------------------------------------------------------------------------------------------------------------
# Gait
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GaitShape:
    """Joint amplitudes of one gait (radians): leg swing, knee lift, arm swing, elbow bend, forward lean."""

    hip: float = 0.42
    knee: float = 0.95
    arm: float = 0.35
    elbow: float = 0.3
    lean: float = 0.05
    ankle: float = 0.2
    arms_free: bool = True  # False: the arms are busy (carrying, holding) and do not swing


def gait(p: Program, phase: np.ndarray, env: np.ndarray, ctx: ActionContext, shape: GaitShape, *,
         direction: float = 1.0, lateral: float = 0.0) -> None:
    """Alternating leg swing with matching knee lift, counter-swinging arms, pelvis rotation and tilt, trunk
    counter-rotation and sway, on a phase (one step per pi).

    The left leg swings forward while sin(phase) rises; ``direction`` -1 swings the legs backwards (walking
    backwards). ``lateral`` (radians of hip abduction swing) makes the legs also swing sideways, for travel at an
    angle to the facing (positive: towards the left). The person's style scales arm swing, bounce and sway, and
    each take gets its own arm-swing asymmetry and phase lag (arms are never two perfect mirror images).
    """
    st, rng = ctx.style, ctx.rng
    arm = shape.arm * st.arm_swing * ctx.amp
    lag = rng.uniform(0.0, 0.35)  # arm swing trails the legs a little
    asym = rng.uniform(-0.2, 0.2)
    pelvis_rot = rng.uniform(0.04, 0.1) * st.stride
    pelvis_tilt = rng.uniform(0.03, 0.07)
    chest = rng.uniform(0.02, 0.08)
    bounce = st.bounce
    for side, shift in (("l", 0.0), ("r", np.pi)):
        ph = phase + shift
        # The swing leg travels the way the body goes (forward, or backward when walking backwards): it is in the
        # air while its hip angle moves in the direction of travel, i.e. while cos(ph) > 0 in both cases.
        swing = np.maximum(0.0, np.cos(ph)) ** 1.5  # (T,) 1 mid-swing, 0 in stance
        stance = np.maximum(0.0, -np.cos(ph)) ** 2  # (T,) 1 mid-stance
        p.add(f"{side}_hip_flex", env * (direction * shape.hip * np.sin(ph) + 0.25 * shape.hip * swing))
        p.add(f"{side}_knee", env * (shape.knee * swing + 0.08 + 0.12 * bounce * stance))
        p.add(f"{side}_ankle", env * shape.ankle * (np.sin(ph - 0.6 * direction) * 0.5 * bounce - 0.3 * swing))
        if lateral:
            toward = 1.0 if side == "l" else -1.0
            p.add(f"{side}_hip_abd", env * lateral * toward * (np.sin(ph) + 0.3))
        if shape.arms_free:
            a = arm * (1.0 + (asym if side == "l" else -asym))
            p.add(f"{side}_sh_flex", -env * direction * a * np.sin(ph - lag) + env * 0.3 * a)
            p.add(f"{side}_elbow", env * shape.elbow * (1.0 + 0.3 * np.sin(ph - lag)))
    # Pelvis turns with the forward leg and drops on the swing side; the chest turns the other way, the trunk leans
    # over the stance leg, and the head keeps looking ahead.
    yaw_pelvis = -direction * pelvis_rot * np.sin(phase)
    p.add("root_yaw", env * yaw_pelvis)
    p.add("spine_yaw", env * direction * (pelvis_rot + chest) * np.sin(phase))
    p.add("neck_yaw", -0.7 * env * direction * chest * np.sin(phase))
    tilt = env * pelvis_tilt * np.cos(phase) * direction
    p.add("root_roll", tilt)
    p.add("spine_roll", -tilt - env * (st.sway + 0.015) * np.cos(phase) * direction)
    p.add("spine_pitch", env * shape.lean)


# Speed labels of a walk are relative, so the speed a take reaches is clamped into its label's band (in leg
# lengths per second) whatever the person's tempo and style: a "slow" walk is always slower than any "normal" one.
SPEED_BANDS = {
    "slow": (0.7, 1.15), "normal": (1.3, 1.8), "fast": (1.95, 2.6),
    "jog": (2.4, 3.5), "run": (3.8, 5.2), "sprint": (5.8, 7.6),
}
SPEEDS = {  # step length (leg lengths), cadence (steps/s), gait shape
    "slow": (0.62, 1.5, GaitShape(hip=0.32, knee=0.8, arm=0.2, elbow=0.25)),
    "normal": (0.85, 1.9, GaitShape()),
    "fast": (0.98, 2.3, GaitShape(hip=0.5, knee=1.05, arm=0.5, elbow=0.45, lean=0.1)),
    "jog": (1.1, 2.7, GaitShape(hip=0.55, knee=1.5, arm=0.55, elbow=1.4, lean=0.12)),
    "run": (1.5, 3.0, GaitShape(hip=0.7, knee=1.8, arm=0.75, elbow=1.5, lean=0.2)),
    "sprint": (1.9, 3.6, GaitShape(hip=0.85, knee=2.0, arm=1.0, elbow=1.55, lean=0.32)),
}


def locomotion(ctx: ActionContext, steps: int, step_len: float, cadence: float, shape: GaitShape, *,
               heading_deg: float = 0.0, direction: float = 1.0, lead: float = 0.3, band: str | None = None,
               lateral: float = 0.0) -> tuple[Program, np.ndarray]:
    """``steps`` steps of ``step_len`` metres at ``cadence`` steps per second, travelling at ``heading_deg`` from
    the facing direction (0 forward, 180 backwards, 90 to the left). ``band`` clamps the speed into that speed
    label's range. Returns the program and its gait phase."""
    cadence *= ctx.tempo
    step_len *= ctx.style.stride
    if band is not None:
        lo, hi = SPEED_BANDS[band]
        speed = np.clip(step_len * cadence / ctx.leg, lo, hi)
        cadence = speed * ctx.leg / step_len
    walk_time = steps / cadence + 0.4
    p = Program.still(ctx.fps, walk_time + 2 * lead)
    phase = gait_phase(p, lead, lead + walk_time, steps)
    env = plateau(p.t, lead, lead + walk_time, 0.35)
    gait(p, phase, env, ctx, shape, direction=direction, lateral=lateral)
    speed = step_len / np.pi * rate(p, phase)  # (T,) m/s: one step of step_len per pi of phase
    heading = np.deg2rad(heading_deg)
    p["v_fwd"] = speed * np.cos(heading)
    p["v_side"] = speed * np.sin(heading)
    p["anchor"] = 1.0 - env
    return p, phase


def gait_program(ctx: ActionContext, speed: str, steps: int, shape: GaitShape | None = None,
                 **kw) -> tuple[Program, np.ndarray]:
    """A straight gait at a named speed (slow / normal / fast / jog / run / sprint), the speed kept in its band."""
    rel_len, cadence, default = SPEEDS[speed]
    shape = shape or default
    shape = replace(shape, hip=shape.hip * ctx.amp ** 0.5)
    p, phase = locomotion(ctx, steps, ctx.jitter(rel_len * ctx.leg, 0.08), ctx.jitter(cadence, 0.06), shape,
                          band=speed, **kw)
    if speed in ("jog", "run", "sprint"):  # running has a flight phase in every step
        env = 1.0 - p["anchor"]
        lift = {"jog": 0.04, "run": 0.08, "sprint": 0.1}[speed] * ctx.style.bounce ** 0.5
        p["flight"] = env * lift * np.maximum(0.0, np.sin(2 * phase)) ** 2
    return p, phase


def steps_in_place(p: Program, t0: float, t1: float, steps: int, lift: float = 0.5) -> np.ndarray:
    """Small alternating steps without travelling (turning on the spot, marching). Returns the phase."""
    phase = gait_phase(p, t0, t1, steps, rise=0.2)
    env = plateau(p.t, t0, t1, 0.2)
    for side, shift in (("l", 0.0), ("r", np.pi)):
        up = np.maximum(0.0, np.sin(phase + shift)) ** 2 * env
        p.add(f"{side}_knee", lift * up)
        p.add(f"{side}_hip_flex", 0.55 * lift * up)
    return phase

