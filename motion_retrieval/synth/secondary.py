"""Secondary motion: what a real body does besides the action itself.

Applied to a whole clip after its actions are composed (``corpus.generate_clip``):

- the person's resting posture (arms a little out, elbows a little bent, trunk and head carriage) and their
  style's posture (a slouch, a raised chin, hunched or raised shoulders, bent knees);
- breathing (trunk and shoulders rise and fall), slow head movements and glances, trunk sway;
- weight shifts from foot to foot while the legs are otherwise still;
- the shoulder girdle following the arms (scapulohumeral rhythm: raising an arm overhead also lifts its collar,
  reaching forward pulls it forward);
- slow, smooth per-joint wobble, so that no curve is a perfectly clean template.

None of it changes what the captions state: amplitudes stay well below what would read as another action, and
nothing here moves the root (the feet stay where the action put them).
"""

from __future__ import annotations

import numpy as np

from motion_retrieval.synth.body import DOF_INDEX, DOF_NAMES, ROOT_DOFS
from motion_retrieval.synth.program import Program
from motion_retrieval.synth.styles import NEUTRAL, Style, posture_offsets

__all__ = ["add_secondary_motion"]

# Wobble amplitude per DOF (radians, std of each of the sinusoids): small for the trunk, larger for free limbs.
_WOBBLE = {"spine": 0.012, "neck": 0.03, "sh": 0.025, "elbow": 0.035, "hip": 0.015, "knee": 0.015,
           "ankle": 0.015, "collar": 0.02}


def _wobble_scale(name: str) -> float:
    for key, value in _WOBBLE.items():
        if key in name:
            return value
    return 0.02


_WOBBLE_AMP = np.array([0.0 if n in ROOT_DOFS else _wobble_scale(n) for n in DOF_NAMES])  # (D,)


def _smooth(x: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """Moving-average smoothing over about ``seconds`` (edges held)."""
    k = max(1, int(round(seconds * fps)) | 1)
    if k == 1:
        return x
    return np.convolve(np.pad(x, k // 2, mode="edge"), np.ones(k) / k, mode="valid")


def _slow_noise(rng: np.random.Generator, t: np.ndarray, amp: float, f_lo: float, f_hi: float,
                k: int = 3) -> np.ndarray:
    """A smooth random curve: ``k`` sinusoids with random frequencies in [f_lo, f_hi] Hz and phases."""
    freq = rng.uniform(f_lo, f_hi, size=k)
    phase = rng.uniform(0.0, 2 * np.pi, size=k)
    a = rng.normal(0.0, amp, size=k)
    return (a[None] * np.sin(2 * np.pi * freq[None] * t[:, None] + phase[None])).sum(-1)  # (T,)


def _quiet_legs(program: Program) -> np.ndarray:
    """(T,) in [0, 1]: 1 where the legs are still and the feet planted (standing, gesturing)."""
    busy = np.zeros(program.num_frames)
    for name in ("l_hip_flex", "r_hip_flex", "l_knee", "r_knee", "l_hip_abd", "r_hip_abd", "l_ankle", "r_ankle"):
        busy = np.maximum(busy, np.abs(program[name]))
    moving = np.abs(program["v_fwd"]) + np.abs(program["v_side"]) + np.abs(program["yaw_rate"]) + program["flight"]
    quiet = (busy < 0.12) & (moving < 1e-3) & (program["anchor"] > 0.9)
    return np.clip(_smooth(quiet.astype(np.float64), program.fps, 0.6), 0.0, 1.0)


def _arm_elevation(program: Program, s: str) -> np.ndarray:
    """(T,) angle between the upper arm and hanging straight down (radians), from the shoulder DOFs."""
    flex, abd = program[f"{s}_sh_flex"], program[f"{s}_sh_abd"]
    return np.arccos(np.clip(np.cos(flex) * np.cos(abd), -1.0, 1.0))


def add_secondary_motion(program: Program, rng: np.random.Generator, style: Style = NEUTRAL,
                         scale: float = 1.0) -> None:
    """Add resting and style posture, breathing, sway, head motion, weight shifts, collar rhythm and wobble to
    ``program`` in place. ``scale`` 0 leaves the clean templates (for tests and ablations)."""
    if scale <= 0:
        return
    t = program.t
    fps = program.fps
    # The collars follow the arms first, from the action's own arm DOFs (before any wobble is added).
    for s in "lr":
        elevation = _arm_elevation(program, s)
        program.add(f"{s}_collar_elev", scale * rng.uniform(0.12, 0.22) * np.maximum(0.0, elevation - 0.5))
        reach = np.maximum(0.0, np.sin(np.clip(program[f"{s}_sh_flex"], 0.0, np.pi))) + 0.5 * np.maximum(
            0.0, program[f"{s}_sh_hadd"])
        program.add(f"{s}_collar_prot", scale * rng.uniform(0.05, 0.12) * reach)

    posture = {
        "l_sh_abd": rng.uniform(0.03, 0.2), "r_sh_abd": rng.uniform(0.03, 0.2),
        "l_elbow": rng.uniform(0.05, 0.35), "r_elbow": rng.uniform(0.05, 0.35),
        "l_sh_flex": rng.uniform(-0.05, 0.08), "r_sh_flex": rng.uniform(-0.05, 0.08),
        "spine_pitch": rng.uniform(-0.05, 0.12), "neck_pitch": rng.uniform(-0.1, 0.15),
        "l_hip_abd": rng.uniform(0.0, 0.08), "r_hip_abd": rng.uniform(0.0, 0.08),
        "l_collar_prot": rng.uniform(-0.05, 0.1), "r_collar_prot": rng.uniform(-0.05, 0.1),
    }
    for name, value in posture_offsets(style).items():
        posture[name] = posture.get(name, 0.0) + value
    for name, value in posture.items():
        program.add(name, scale * value)

    # Breathing: about 12-20 breaths a minute, the chest and shoulders rising together.
    breath = np.sin(2 * np.pi * rng.uniform(0.2, 0.35) * t + rng.uniform(0, 2 * np.pi))
    program.add("spine_pitch", -scale * rng.uniform(0.006, 0.015) * breath)
    lift = scale * rng.uniform(0.01, 0.03) * breath
    program.add("l_collar_elev", lift)
    program.add("r_collar_elev", lift)

    # Head: slow drift plus a few glances; trunk: slow sway (larger for swaying styles).
    program.add("neck_yaw", scale * _slow_noise(rng, t, 0.05, 0.05, 0.4))
    program.add("neck_pitch", scale * _slow_noise(rng, t, 0.03, 0.05, 0.4))
    n_glances = int(rng.poisson(program.duration / 4.0))
    for _ in range(n_glances):
        t0, width = rng.uniform(0.0, program.duration), rng.uniform(0.6, 1.5)
        bump = np.clip(1 - np.abs((t - t0) / (width / 2)), 0.0, 1.0) ** 2
        program.add("neck_yaw", scale * rng.uniform(-0.35, 0.35) * _smooth(bump, fps, 0.2))
    sway = 0.01 + style.sway
    program.add("spine_roll", scale * _slow_noise(rng, t, sway, 0.1, 0.5, k=2))
    program.add("spine_yaw", scale * _slow_noise(rng, t, 0.01, 0.1, 0.5, k=2))

    # Weight shifts while the legs are still: one hip out, the other in, the unweighted knee relaxed.
    quiet = _quiet_legs(program)
    if quiet.any():
        shift = np.tanh(2.0 * _slow_noise(rng, t, 1.0, 0.08, 0.3, k=2))  # (T,) -1 right foot ... 1 left foot
        amount = scale * rng.uniform(0.02, 0.06) * quiet
        program.add("l_hip_abd", -amount * shift)
        program.add("r_hip_abd", amount * shift)
        program.add("l_knee", scale * 0.08 * quiet * np.maximum(0.0, -shift))
        program.add("r_knee", scale * 0.08 * quiet * np.maximum(0.0, shift))
        program.add("spine_roll", 0.3 * amount * shift)

    # Slow per-joint wobble (three sinusoids per DOF, 0.1-1.2 Hz); nervous and drunk styles wobble more.
    k = 3
    amp = scale * (1.0 + 1.5 * style.jitter) * rng.normal(0.0, 1.0, size=(len(DOF_NAMES), k)) * _WOBBLE_AMP[:, None]
    freq = rng.uniform(0.1, 1.2, size=(len(DOF_NAMES), k))
    phase = rng.uniform(0.0, 2 * np.pi, size=(len(DOF_NAMES), k))
    noise = (amp[None] * np.sin(2 * np.pi * freq[None] * t[:, None, None] + phase[None])).sum(-1)  # (T, D)
    program.dofs += noise
    # Collars cannot sink far below rest, elbows and knees do not bend backwards.
    for s in "lr":
        for name, floor in (("collar_elev", -0.1), ("elbow", 0.0), ("knee", 0.0)):
            i = DOF_INDEX[f"{s}_{name}"]
            program.dofs[:, i] = np.maximum(program.dofs[:, i], floor)
