"""Which way is up, forward and left in a take, read from the body's motion rather than from the rest pose.

All functions take SMPL-22 joints (T, 22, 3) in the file's axes and units (HumanML3D joint order, see
``skeleton.SMPL22``), so they serve every rig once it is mapped.

- **Up**: the head relative to the feet, averaged over the take (unit vectors, so a few frames lying down or upside
  down in a cartwheel do not decide it); the nearest signed file axis is the up axis. Rest poses are not used: many
  rigs (Bandai-Namco's, Maya exports) keep every bone along one local axis, so a rest pose says nothing about up.
- **Forward**: per frame, where the feet point (ankle -> ball of the foot) plus where the knees point (knee minus
  the hip-ankle midpoint: a knee only bends forward), both legs, across the horizontal plane. Feet tell while they
  are flat, knees while they are bent (in a run's swing phase the toes point down and back). Rigs without toe
  joints use the knees alone.
- **Left**: the right-hand rule, ``left = up x forward`` (Y up, Z forward -> X left, as in SMPL/HumanML3D). Which
  limb of a mirrored pair is the left one is the side it lies on, voted over the frames.

Conversion to Y-up is a proper rotation (no mirroring), so a body's left stays its left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motion_retrieval.errors import MotionDataError

AXES: dict[str, tuple[int, int, int]] = {
    "x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1), "-x": (-1, 0, 0), "-y": (0, -1, 0), "-z": (0, 0, -1),
}
# Proper rotations taking each signed axis to +Y: rows are the new (x, y, z) in terms of the old coordinates.
_TO_Y_UP: dict[str, tuple[tuple[int, int, int], ...]] = {
    "y": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "z": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),  # -90 degrees about X: (x, y, z) -> (x, z, -y)
    "x": ((0, -1, 0), (1, 0, 0), (0, 0, 1)),  # +90 degrees about Z: (x, y, z) -> (-y, x, z)
    "-y": ((-1, 0, 0), (0, -1, 0), (0, 0, 1)),  # 180 degrees about Z
    "-z": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),  # +90 degrees about X: (x, y, z) -> (x, -z, y)
    "-x": ((0, 1, 0), (-1, 0, 0), (0, 0, 1)),  # -90 degrees about Z: (x, y, z) -> (y, -x, z)
}
_HIPS, _KNEES, _ANKLES, _FEET = (1, 2), (4, 5), (7, 8), (10, 11)
HEAD, PELVIS, SPINE3 = 15, 0, 9


@dataclass(frozen=True)
class Orientation:
    """Axes of the file, as signed axis names ("y", "-z", ...), and how sure the motion made us."""

    up: str
    forward: str  # the way the body faces at the start of the take
    left: str
    up_confidence: float  # |mean unit head-over-feet vector| along the up axis, in [0, 1]
    forward_source: str  # "toes+knees" or "knees" (rigs without toes); "" when nothing in the motion told


def parse_axis(axis: str, path=None) -> str:
    key = str(axis).strip().lower().lstrip("+")
    if key not in AXES:
        raise MotionDataError(path, f"unknown up axis {axis!r}; use one of {', '.join(AXES)} or 'auto'")
    return key


def nearest_axis(vector: np.ndarray) -> str:
    v = np.asarray(vector, dtype=np.float64)
    i = int(np.argmax(np.abs(v)))
    return ("-" if v[i] < 0 else "") + "xyz"[i]


def axis_vector(axis: str) -> np.ndarray:
    return np.asarray(AXES[axis], dtype=np.float64)


def to_y_up(positions: np.ndarray, up: str, path=None) -> np.ndarray:
    """(..., 3) positions whose vertical is the signed axis ``up`` -> Y-up, by a proper rotation."""
    rotation = np.asarray(_TO_Y_UP[parse_axis(up, path)], dtype=np.float64)  # (3, 3)
    return np.asarray(positions, dtype=np.float64) @ rotation.T


def up_vector(smpl: np.ndarray) -> tuple[np.ndarray, int]:
    """Mean unit vector from the feet to the head over the take (3,), and the number of frames used."""
    j = np.asarray(smpl, dtype=np.float64)
    feet = j[:, list(_ANKLES + _FEET)].mean(axis=1)  # (T, 3)
    v = j[:, HEAD] - feet  # (T, 3)
    norm = np.linalg.norm(v, axis=-1)
    ok = norm > 0
    if not ok.any():
        return np.zeros(3), 0
    return (v[ok] / norm[ok, None]).mean(axis=0), int(ok.sum())


def detect_up(smpl: np.ndarray, path=None) -> tuple[str, float]:
    """The signed file axis nearest to "head above feet" over the take, and its confidence in [0, 1]."""
    mean, used = up_vector(smpl)
    if not used or np.linalg.norm(mean) < 1e-6:
        raise MotionDataError(path, "cannot tell the up axis: the head and the feet coincide in every frame; pass up=")
    axis = nearest_axis(mean)
    return axis, float(abs(mean["xyz".index(axis[-1])]))


def horizontal(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(..., 3) vectors with their component along the unit vector ``up`` removed."""
    return v - np.sum(v * up, axis=-1, keepdims=True) * up


def forward_vectors(smpl: np.ndarray, up: np.ndarray, has_feet: bool = True) -> tuple[np.ndarray, str]:
    """(T, 3) horizontal facing per frame (not normalised; zero where nothing tells) and its source."""
    j = np.asarray(smpl, dtype=np.float64)
    knees = sum(j[:, k] - 0.5 * (j[:, h] + j[:, a]) for h, k, a in zip(_HIPS, _KNEES, _ANKLES))  # (T, 3)
    if not has_feet:
        return horizontal(knees, up), "knees"
    toes = sum(j[:, f] - j[:, a] for a, f in zip(_ANKLES, _FEET))  # (T, 3)
    # Toes tell when the feet are flat; in a run's swing phase they point down and back, while the knees, bent
    # there, point forward. Summed, whichever is clearer in a frame dominates it.
    return horizontal(toes + knees, up), "toes+knees"


def side_vote(a: np.ndarray, b: np.ndarray, up: np.ndarray, forward: np.ndarray) -> float:
    """In [-1, 1]: +1 when point ``a`` (T, 3) lies left of ``b`` in every frame that has a facing, -1 when right.

    Frames are weighted by how clearly they tell (facing strength times the sideways gap), so a frame where the
    feet are crossed or the body is side-on counts little.
    """
    left = np.cross(up, forward)  # (T, 3) up x forward = left, with the facing's strength as length
    gap = np.sum((a - b) * left, axis=-1)  # (T,)
    total = np.sum(np.abs(gap))
    return float(np.sum(gap) / total) if total > 0 else 0.0


def facing_axis(forward: np.ndarray, up: str) -> str:
    """The signed file axis nearest the facing over the first tenth of the take (at least one frame)."""
    f = np.asarray(forward, dtype=np.float64)
    norms = np.linalg.norm(f, axis=-1)
    ok = np.flatnonzero(norms > 0)
    if not len(ok):
        return ""
    head = ok[: max(1, len(ok) // 10)]
    mean = (f[head] / norms[head, None]).mean(axis=0)
    mean[int(np.flatnonzero(axis_vector(up))[0])] = 0.0  # the facing is horizontal
    return nearest_axis(mean) if np.linalg.norm(mean) > 0 else ""


def left_axis(up: str, forward: str) -> str:
    if not forward:
        return ""
    return nearest_axis(np.cross(axis_vector(up), axis_vector(forward)))


def from_y_up(positions: np.ndarray, up: str, path=None) -> np.ndarray:
    """The inverse of ``to_y_up``: Y-up positions back into axes whose vertical is ``up``."""
    rotation = np.asarray(_TO_Y_UP[parse_axis(up, path)], dtype=np.float64)  # (3, 3), orthonormal
    return np.asarray(positions, dtype=np.float64) @ rotation
