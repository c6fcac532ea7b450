"""Length units of motion files, and their detection when a file does not say (``units="auto"``).

Units "auto" compares the mean leg length (hip -> knee -> ankle) with the HumanML3D reference skeleton's (0.82 m)
under each candidate unit and picks the closest on a log scale. Leg length rather than standing height because bone
lengths do not change with the pose (a crouching or lying take has no standing height). The candidates are at least
a factor 2.2 apart (m, cm, mm, inch, and CMU's ASF unit of 1/0.45 inch), so any adult leg (0.55-1.2 m) is decided
unambiguously. Used by every reader of positions (mocap.py, bvh.py through the rig mapping, rig/mapping.py).
"""

from __future__ import annotations

import logging
import math
import os

import numpy as np

from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import SMPL22

log = logging.getLogger(__name__)

UNIT_SCALES = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "cmu": 0.0254 / 0.45}
_REFERENCE_LEG = SMPL22.reference_bone_lengths[4] + SMPL22.reference_bone_lengths[7]  # left thigh + shin, metres


def leg_length(smpl_joints: np.ndarray) -> float:
    """Mean hip -> knee -> ankle length of both legs over the take, in the array's units."""
    j = np.asarray(smpl_joints, dtype=np.float64)
    lengths = [
        np.linalg.norm(j[:, knee] - j[:, hip], axis=-1) + np.linalg.norm(j[:, ankle] - j[:, knee], axis=-1)
        for hip, knee, ankle in ((1, 4, 7), (2, 5, 8))
    ]
    return float(np.mean(lengths))


def detect_units(smpl_joints: np.ndarray, path: str | os.PathLike | None = None) -> str:
    """The unit (a key of UNIT_SCALES) under which the legs are closest to the reference length."""
    leg = leg_length(smpl_joints)
    if not leg > 0 or not math.isfinite(leg):
        raise MotionDataError(path, "cannot detect units: the legs have zero length")
    unit = min(UNIT_SCALES, key=lambda u: abs(math.log(leg * UNIT_SCALES[u] / _REFERENCE_LEG)))
    log.debug("%s: leg length %.4g -> units %s", path, leg, unit)
    return unit


def unit_scale(units: str, smpl_joints: np.ndarray, path: str | os.PathLike | None = None) -> float:
    units = detect_units(smpl_joints, path) if units == "auto" else units
    if units not in UNIT_SCALES:
        raise MotionDataError(path, f"unknown units {units!r}; use one of {', '.join(UNIT_SCALES)} or 'auto'")
    return UNIT_SCALES[units]
