"""Fixtures of the data-core tests: the real HumanML3D motion 012314 as arrays, and a generated motion."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.features import LOCAL_VEL, recover_root_rot_pos
from motion_retrieval.rotations import qinv, qrot


@pytest.fixture(scope="session")
def hml_joints(humanml3d_sample) -> np.ndarray:
    """(170, 22, 3) float32: HumanML3D new_joints/012314.npy."""
    return np.load(humanml3d_sample / "new_joints" / "012314.npy")


@pytest.fixture(scope="session")
def hml_features(humanml3d_sample) -> np.ndarray:
    """(170, 263) float32: HumanML3D new_joint_vecs/012314.npy."""
    return np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")


@pytest.fixture(scope="session")
def hml_joints_171(hml_joints, hml_features) -> np.ndarray:
    """(171, 22, 3) float64: the motion HumanML3D computed the 170 feature frames from.

    new_joints holds 170 positions, but feature frame t uses positions t and t+1, so the source had 171. The
    171st is the 170th plus the last feature frame's joint velocities turned back to world orientation.
    """
    joints = hml_joints.astype(np.float64)
    features = hml_features.astype(np.float64)
    root_quat, _ = recover_root_rot_pos(features)  # (170, 4)
    last_vel = features[-1, LOCAL_VEL].reshape(22, 3)
    last = joints[-1] + qrot(qinv(root_quat[-1]), last_vel)  # (22, 3)
    return np.concatenate([joints, last[None]], axis=0)
