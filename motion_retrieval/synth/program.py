"""Motion programs: per-frame DOF angles plus root channels, composed in time and rendered to joint positions.

An action family writes a ``Program``: the body's DOF angles (``body.DOF_NAMES``) and a few root channels in the
body's own heading frame. ``Program.then`` joins programs with a cross-fade (sequences of actions), and ``render``
integrates the root channels and runs forward kinematics:

- ``v_fwd``, ``v_side``: root velocity in m/s along the heading and to the body's left;
- ``yaw_rate``: heading change in rad/s, positive = turning LEFT (counter-clockwise seen from above, +Y);
- ``flight``: metres the lowest joint is lifted above the floor (jumps, hops);
- ``floor``: the floor height under the body in metres (stairs);
- ``anchor`` in [0, 1]: how strongly the feet stay put horizontally (1 for actions done in place, so a squat or a
  kick does not slide the supporting foot); ``anchor_mix``: which foot is planted (0 left, 1 right, 0.5 both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motion_retrieval.synth.body import DOF_INDEX, DOF_NAMES, BodyRig

__all__ = ["CHANNELS", "Program", "bumps", "plateau", "ramp", "render", "smoothstep"]

CHANNELS: tuple[str, ...] = ("v_fwd", "v_side", "yaw_rate", "flight", "floor", "anchor", "anchor_mix")
_CHANNEL_INDEX = {name: i for i, name in enumerate(CHANNELS)}
_DEFAULT_CHANNELS = {"anchor": 1.0, "anchor_mix": 0.5}


# ---------------------------------------------------------------------------------------------------------------
# Time curves (all vectorised over a time array t in seconds)
# ---------------------------------------------------------------------------------------------------------------
def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def ramp(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before t0, 1 after t1, a smooth S in between."""
    return smoothstep((t - t0) / max(t1 - t0, 1e-6))


def plateau(t: np.ndarray, t0: float, t1: float, rise: float) -> np.ndarray:
    """0 -> 1 over [t0, t0 + rise], held, 1 -> 0 over [t1 - rise, t1]."""
    rise = min(rise, 0.5 * max(t1 - t0, 1e-6))
    return ramp(t, t0, t0 + rise) * (1.0 - ramp(t, t1 - rise, t1))


def bumps(t: np.ndarray, starts: np.ndarray | list[float], width: float) -> np.ndarray:
    """A raised-cosine bump 0 -> 1 -> 0 of ``width`` seconds at each start time (one per repetition)."""
    starts = np.asarray(starts, dtype=np.float64)
    x = (t[:, None] - starts[None, :]) / width  # (T, K)
    inside = (x >= 0.0) & (x <= 1.0)
    return np.where(inside, 0.5 - 0.5 * np.cos(2.0 * np.pi * x), 0.0).sum(axis=1)  # (T,)


# ---------------------------------------------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Program:
    """A motion to render: DOF angles (T, D) and root channels (T, C) at ``fps``."""

    fps: float
    dofs: np.ndarray  # (T, D) radians
    channels: np.ndarray  # (T, C)

    @classmethod
    def still(cls, fps: float, duration: float) -> Program:
        """Standing in the rest pose for ``duration`` seconds (at least two frames)."""
        T = max(int(round(duration * fps)), 2)
        channels = np.zeros((T, len(CHANNELS)))
        for name, value in _DEFAULT_CHANNELS.items():
            channels[:, _CHANNEL_INDEX[name]] = value
        return cls(fps, np.zeros((T, len(DOF_NAMES))), channels)

    @property
    def num_frames(self) -> int:
        return self.dofs.shape[0]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def t(self) -> np.ndarray:
        """(T,) frame times in seconds."""
        return np.arange(self.num_frames) / self.fps

    def _column(self, name: str) -> np.ndarray:
        if name in DOF_INDEX:
            return self.dofs[:, DOF_INDEX[name]]
        if name in _CHANNEL_INDEX:
            return self.channels[:, _CHANNEL_INDEX[name]]
        raise KeyError(f"unknown DOF or channel {name!r}")

    def __getitem__(self, name: str) -> np.ndarray:
        return self._column(name)

    def __setitem__(self, name: str, values) -> None:
        self._column(name)[:] = values

    def add(self, name: str, values) -> None:
        self._column(name)[:] += values

    def copy(self) -> Program:
        return Program(self.fps, self.dofs.copy(), self.channels.copy())

    def pad(self, before: float, after: float) -> Program:
        """Hold the first pose for ``before`` and the last pose for ``after`` seconds, standing still."""
        n0, n1 = int(round(before * self.fps)), int(round(after * self.fps))
        still = np.zeros(len(CHANNELS), dtype=bool)
        still[[_CHANNEL_INDEX[c] for c in ("v_fwd", "v_side", "yaw_rate", "flight")]] = True

        def hold(row: np.ndarray, n: int) -> np.ndarray:
            return np.repeat(row[None], n, axis=0)

        first, last = self.channels[0].copy(), self.channels[-1].copy()
        first[still], last[still] = 0.0, 0.0
        return Program(
            self.fps,
            np.concatenate([hold(self.dofs[0], n0), self.dofs, hold(self.dofs[-1], n1)]),
            np.concatenate([hold(first, n0), self.channels, hold(last, n1)]),
        )

    def then(self, other: Program, blend: float = 0.3) -> Program:
        """This program followed by ``other``, cross-faded over ``blend`` seconds (the floor carries on)."""
        if other.fps != self.fps:
            raise ValueError(f"cannot join programs at {self.fps} and {other.fps} fps")
        k = int(round(blend * self.fps))
        k = max(0, min(k, self.num_frames // 2, other.num_frames // 2))
        b_channels = other.channels.copy()
        b_channels[:, _CHANNEL_INDEX["floor"]] += self.channels[-1, _CHANNEL_INDEX["floor"]]
        if k == 0:
            return Program(self.fps, np.concatenate([self.dofs, other.dofs]), np.concatenate([self.channels,
                                                                                              b_channels]))
        w = smoothstep(np.linspace(0.0, 1.0, k + 2)[1:-1])[:, None]  # (k, 1)
        dofs = np.concatenate([self.dofs[:-k], (1 - w) * self.dofs[-k:] + w * other.dofs[:k], other.dofs[k:]])
        channels = np.concatenate(
            [self.channels[:-k], (1 - w) * self.channels[-k:] + w * b_channels[:k], b_channels[k:]]
        )
        return Program(self.fps, dofs, channels)


def _lock_stance_foot(program: Program, rig: BodyRig, body: np.ndarray, cos: np.ndarray, sin: np.ndarray,
                      velocity: np.ndarray) -> np.ndarray:
    """Travel velocity (T, 2) re-timed so the stance foot does not slide while the body travels.

    In locomotion (``anchor`` < 1, on the ground) the speed along the programmed direction follows the lower foot:
    the body moves by as much as that foot moves back relative to it. Each stretch of locomotion is rescaled to
    cover exactly the programmed distance, so speeds, step counts and directions stay what the program (and its
    caption) says; only the within-step timing changes. Flight phases and standing keep the programmed velocity.
    """
    T = body.shape[0]
    weight = np.clip(1.0 - program["anchor"], 0.0, 1.0) * (program["flight"] <= 1e-6)  # (T,)
    speed = np.linalg.norm(velocity, axis=-1)  # (T,)
    if T < 3 or not (weight[:-1] * (speed[:-1] > 1e-6)).any():
        return velocity
    feet = {s: body[:, rig.foot_joints[s]] for s in "lr"}  # (T, F, 3) each
    low = {s: feet[s][..., 1].min(axis=1) for s in "lr"}
    stance = np.where(low["l"] <= low["r"], 0, 1)  # (T,) 0 left foot down, 1 right
    foot = np.where(stance[:, None] == 0, feet["l"].mean(1)[:, [0, 2]], feet["r"].mean(1)[:, [0, 2]])  # (T, 2)
    nxt = np.where(stance[:-1, None] == 0, feet["l"][1:].mean(1)[:, [0, 2]], feet["r"][1:].mean(1)[:, [0, 2]])

    def world(xz: np.ndarray, c: np.ndarray, s: np.ndarray) -> np.ndarray:
        return np.stack([c * xz[:, 0] + s * xz[:, 1], -s * xz[:, 0] + c * xz[:, 1]], -1)

    # Keep the stance foot fixed: root(t+1) = root(t) + R(t) foot(t) - R(t+1) foot(t+1), same foot at both frames.
    lock = (world(foot[:-1], cos[:-1], sin[:-1]) - world(nxt, cos[1:], sin[1:])) * program.fps  # (T-1, 2)
    direction = velocity[:-1] / np.maximum(speed[:-1, None], 1e-9)
    along = np.maximum(0.0, (lock * direction).sum(-1))  # (T-1,) foot-locked speed along the programmed path
    w = weight[:-1] * (speed[:-1] > 1e-6)
    out = velocity.copy()
    moving = np.concatenate([[False], w > 0, [False]])
    starts = np.flatnonzero(~moving[:-1] & moving[1:])
    ends = np.flatnonzero(moving[:-1] & ~moving[1:])
    for a, b in zip(starts, ends):  # each stretch of locomotion: frames a..b-1
        seg = slice(a, b)
        wanted, locked = (w[seg] * speed[seg]).sum(), (w[seg] * along[seg]).sum()
        if locked < 1e-6:
            continue
        # Follow the foot, but softly within about +-30 % of the programmed speed and smoothed: people do not stop
        # dead mid-stride, and a gait whose legs and travel disagree (side steps) must not jerk.
        ratio = along[seg] * (wanted / locked) / np.maximum(speed[seg], 1e-9)
        ratio = np.exp(0.45 * np.tanh(np.log(np.maximum(ratio, 0.2)) / 0.45))  # softly within [0.64, 1.57]
        k = max(1, int(round(0.1 * program.fps)) | 1)
        ratio = np.convolve(np.pad(ratio, k // 2, mode="edge"), np.ones(k) / k, mode="valid")
        new_speed = speed[seg] * (1.0 + w[seg] * (ratio - 1.0))
        new_speed *= speed[seg].sum() / max(new_speed.sum(), 1e-9)  # the stretch covers the programmed distance
        out[seg] = direction[seg] * new_speed[:, None]
    return out


def render(program: Program, rig: BodyRig, yaw0: float = 0.0) -> np.ndarray:
    """World joint positions in metres, (T, J, 3): Y up, starting at the origin facing +Z rotated by ``yaw0``.

    The floor contact is solved per frame: the body is lowered until its lowest joint (minus that joint's
    clearance: ankles and toes sit a few centimetres above the ground) touches ``floor``, then ``flight`` lifts it.
    In locomotion the travel speed follows the stance foot so that it does not slide (``_lock_stance_foot``).
    """
    fps = program.fps
    local = rig.pose_local(program.dofs)  # (T, J, 3), pelvis at the origin
    rest = rig.pose_local(np.zeros((1, len(DOF_NAMES))))[0]  # (J, 3)

    # Feet-anchoring correction (in the body frame): shift the pelvis so the planted foot does not slide.
    mix = program["anchor_mix"][:, None]  # (T, 1)
    feet_l, feet_r = rig.foot_joints["l"], rig.foot_joints["r"]
    planted = (1 - mix) * local[:, feet_l, :].mean(1) + mix * local[:, feet_r, :].mean(1)  # (T, 3)
    planted_rest = (1 - mix) * rest[feet_l].mean(0) + mix * rest[feet_r].mean(0)  # (T, 3)
    correction = -program["anchor"][:, None] * (planted - planted_rest)  # (T, 3)
    correction[:, 1] = 0.0

    yaw = yaw0 + np.concatenate([[0.0], np.cumsum(program["yaw_rate"][:-1])]) / fps  # (T,)
    cos, sin = np.cos(yaw), np.sin(yaw)
    v_side, v_fwd = program["v_side"], program["v_fwd"]
    velocity = np.stack([cos * v_side + sin * v_fwd, -sin * v_side + cos * v_fwd], -1)  # (T, 2) world x, z
    body = local + correction[:, None, :]  # (T, J, 3)
    velocity = _lock_stance_foot(program, rig, body, cos, sin, velocity)
    root_xz = np.concatenate([np.zeros((1, 2)), np.cumsum(velocity[:-1], axis=0) / fps])  # (T, 2)

    world = np.empty_like(body)
    world[..., 0] = cos[:, None] * body[..., 0] + sin[:, None] * body[..., 2] + root_xz[:, None, 0]
    world[..., 2] = -sin[:, None] * body[..., 0] + cos[:, None] * body[..., 2] + root_xz[:, None, 1]
    lowest = (body[..., 1] - rig.clearance[None, :]).min(axis=1)  # (T,)
    world[..., 1] = body[..., 1] - lowest[:, None] + program["floor"][:, None] + program["flight"][:, None]
    return world
