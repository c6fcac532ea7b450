"""Joint positions sent to the service (``JointsMotion``: a declared skeleton, metres or millimetres, any frame rate)
-> the SMPL-22 features the encoder takes, through the core's joint maps and HumanML3D feature pipeline.

The checks of such input (shape, frame limits at 20 fps, magnitudes) are the serving contract's
(``serving.motions.check_joints``); this is the step after them that needs the core, so it lives here and the
serving contract stays free of it.
"""

from __future__ import annotations

import numpy as np

from motion_retrieval.data.mocap import map_to_smpl22
from motion_retrieval.errors import MotionDataError
from motion_retrieval.features import joints_to_features
from motion_retrieval.serving.inputs import InputError, first_non_finite
from motion_retrieval.serving.motions import Skeleton


def skeleton_joints_to_features(joints: np.ndarray, skeleton: Skeleton, fps: float, field: str) -> np.ndarray:
    """Checked joints (``serving.motions.check_joints``) -> (T', 263) SMPL-22 features at 20 fps (CPU work,
    milliseconds per second of motion: run it off an event loop). A refusal is an InputError naming ``field``."""
    try:
        metres = np.asarray(joints, dtype=np.float64) * skeleton.scale_to_metres  # (T, J, 3)
        if skeleton.name != "smpl22":  # the core's explicit joint maps (KIT: side labels from the geometry;
            # H36M: spine/collars interpolated, feet synthesized); the contract says Y up, so nothing is guessed
            metres, _ = map_to_smpl22(metres, skeleton=skeleton.name, joint_names=None, path=field, up="y",
                                      units="m")  # (T, 22, 3)
        features = joints_to_features(metres, fps=fps, skeleton="smpl22", path=field)  # (T'-1, 263)
    except MotionDataError as exc:
        raise InputError(field, exc.problem) from None
    bad = first_non_finite(features)
    if bad is not None:  # degenerate poses (every joint in one point) give undefined rotations
        raise InputError(field, f"the joints give non-finite features at frame {bad[0]} (degenerate pose?)")
    return features
