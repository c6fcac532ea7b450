"""Quaternion and continuous-6D rotation math, in one place (numpy only: every reader uses it, and none needs torch).

Conventions (the same as HumanML3D's ``common/quaternion.py``, so our features match the published ones):
- quaternions are ``(w, x, y, z)``, Hamilton product, and rotate column vectors: ``qrot(q, v) = q v q^-1``;
- rotation matrices act on column vectors (``v' = R @ v``);
- the continuous 6D representation (Zhou et al., CVPR 2019) is the first two COLUMNS of the matrix,
  ``concat(R[:, 0], R[:, 1])``, and is turned back into a matrix by Gram-Schmidt.
Every function broadcasts over leading dimensions ``(...)`` and works in the input's float dtype.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12

__all__ = [
    "axis_angle_to_quaternion",
    "cont6d_to_matrix",
    "euler_to_quaternion",
    "gaussian_filter1d",
    "matrix_to_cont6d",
    "matrix_to_quaternion",
    "qbetween",
    "qfix",
    "qinv",
    "qmul",
    "qnormalize",
    "qrot",
    "quaternion_to_axis_angle",
    "quaternion_to_cont6d",
    "quaternion_to_matrix",
    "y_rotation_quaternion",
]


def _check_last(x: np.ndarray, size: int, name: str) -> None:
    if x.shape[-1] != size:
        raise ValueError(f"{name} must have shape (..., {size}), got {tuple(x.shape)}")


# ----------------------------------------------------------------------------------- quaternions (numpy)
def qnormalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternion(s). ``q``: (..., 4)."""
    _check_last(q, 4, "q")
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _EPS)


def qinv(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternion(s), i.e. the conjugate. (..., 4) -> (..., 4)."""
    _check_last(q, 4, "q")
    return q * np.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def qmul(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Hamilton product ``q * r`` (apply ``r`` first, then ``q``). Broadcasts (..., 4) x (..., 4) -> (..., 4)."""
    _check_last(q, 4, "q")
    _check_last(r, 4, "r")
    w1, x1, y1, z1 = np.moveaxis(q, -1, 0)
    w2, x2, y2, z2 = np.moveaxis(r, -1, 0)
    return np.stack(
        (
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ),
        axis=-1,
    )  # (..., 4)


def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) ``v`` (..., 3) by unit quaternion(s) ``q`` (..., 4); broadcasts -> (..., 3)."""
    _check_last(q, 4, "q")
    _check_last(v, 3, "v")
    qvec = q[..., 1:]  # (..., 3)
    uv = np.cross(qvec, v)  # (..., 3)
    uuv = np.cross(qvec, uv)  # (..., 3)
    return v + 2.0 * (q[..., :1] * uv + uuv)


def qbetween(v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """The shortest-arc unit quaternion that rotates direction ``v0`` onto direction ``v1``. (..., 3) -> (..., 4).

    Same formula as HumanML3D (``w = |v0||v1| + v0.v1``, ``xyz = v0 x v1``, normalised). Where the two are
    exactly opposite that formula is 0/0; we then rotate by pi about any axis orthogonal to ``v0``.
    """
    _check_last(v0, 3, "v0")
    _check_last(v1, 3, "v1")
    v0, v1 = np.broadcast_arrays(v0, v1)
    xyz = np.cross(v0, v1)  # (..., 3)
    w = np.sqrt((v0**2).sum(-1, keepdims=True) * (v1**2).sum(-1, keepdims=True)) + (v0 * v1).sum(-1, keepdims=True)
    q = np.concatenate([w, xyz], axis=-1)  # (..., 4)
    norm = np.linalg.norm(q, axis=-1)  # (...)
    scale = np.sqrt((v0**2).sum(-1) * (v1**2).sum(-1))  # (...)
    degenerate = norm <= 1e-9 * np.maximum(scale, _EPS)
    if np.any(degenerate):
        a = v0[degenerate]  # (K, 3)
        helper = np.where(np.abs(a[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
        axis = np.cross(a, helper)  # (K, 3)
        axis /= np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), _EPS)
        q = q.copy()
        q[degenerate] = np.concatenate([np.zeros((len(a), 1)), axis], axis=-1)
    return qnormalize(q)


def qfix(q: np.ndarray) -> np.ndarray:
    """Make a quaternion sequence continuous in time: flip q -> -q where consecutive frames' dot product < 0.

    ``q``: (T, ..., 4) with time first; returns the same shape.
    """
    _check_last(q, 4, "q")
    result = q.copy()
    dots = np.sum(q[1:] * q[:-1], axis=-1)  # (T-1, ...)
    flip = (np.cumsum(dots < 0, axis=0) % 2).astype(bool)  # (T-1, ...)
    result[1:][flip] *= -1
    return result


def y_rotation_quaternion(angle: np.ndarray | float) -> np.ndarray:
    """Quaternion of a rotation by ``angle`` radians about +Y. (...) -> (..., 4)."""
    angle = np.asarray(angle, dtype=np.float64)
    half = 0.5 * angle
    zeros = np.zeros_like(half)
    return np.stack([np.cos(half), zeros, np.sin(half), zeros], axis=-1)  # (..., 4)


def axis_angle_to_quaternion(axis_angle: np.ndarray) -> np.ndarray:
    """Axis-angle (rotation vector, radians) to unit quaternion. (..., 3) -> (..., 4)."""
    _check_last(axis_angle, 3, "axis_angle")
    angle = np.linalg.norm(axis_angle, axis=-1, keepdims=True)  # (..., 1)
    # sin(a/2)/a written with sinc, which is exact and finite at a = 0.
    xyz = 0.5 * np.sinc(angle / (2.0 * np.pi)) * axis_angle  # (..., 3)
    return np.concatenate([np.cos(0.5 * angle), xyz], axis=-1)  # (..., 4)


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Unit quaternion to axis-angle (rotation vector) with angle in [0, pi]. (..., 4) -> (..., 3)."""
    _check_last(q, 4, "q")
    q = np.where(q[..., :1] < 0, -q, q)  # the w >= 0 cover gives angles <= pi
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)  # (..., 1)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])  # (..., 1)
    small = sin_half < 1e-8
    factor = np.where(small, 2.0, angle / np.where(small, 1.0, sin_half))  # (..., 1)
    return q[..., 1:] * factor


def euler_to_quaternion(angles: np.ndarray, order: str, degrees: bool = False) -> np.ndarray:
    """Euler angles to quaternions, for any 3-axis order such as ``"ZYX"`` (BVH) or ``"xyz"``.

    ``angles[..., i]`` is the angle about axis ``order[i]``. The rotations are intrinsic and composed in the
    order given: ``R = R_order[0] @ R_order[1] @ R_order[2]`` -- the BVH convention, where a joint with channels
    ``Zrotation Yrotation Xrotation`` has ``R = Rz Ry Rx``. (..., 3) -> (..., 4).
    """
    _check_last(angles, 3, "angles")
    axes = order.upper()
    if len(axes) != 3 or any(a not in "XYZ" for a in axes):
        raise ValueError(f"Euler order must be three of X/Y/Z such as 'ZYX', got {order!r}")
    angles = np.deg2rad(angles) if degrees else np.asarray(angles, dtype=np.float64)
    unit = {"X": 1, "Y": 2, "Z": 3}
    result = None
    for i, axis in enumerate(axes):
        half = 0.5 * angles[..., i]  # (...)
        q = np.zeros(half.shape + (4,), dtype=angles.dtype)  # (..., 4)
        q[..., 0] = np.cos(half)
        q[..., unit[axis]] = np.sin(half)
        result = q if result is None else qmul(result, q)
    return result


# ----------------------------------------------------------------------------------- matrices and 6D (numpy)
def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternion(s) (need not be unit) to rotation matrices. (..., 4) -> (..., 3, 3)."""
    _check_last(q, 4, "q")
    w, x, y, z = np.moveaxis(q, -1, 0)
    two_s = 2.0 / np.maximum((q * q).sum(-1), _EPS)  # (...)
    m = np.stack(
        (
            1 - two_s * (y * y + z * z), two_s * (x * y - z * w), two_s * (x * z + y * w),
            two_s * (x * y + z * w), 1 - two_s * (x * x + z * z), two_s * (y * z - x * w),
            two_s * (x * z - y * w), two_s * (y * z + x * w), 1 - two_s * (x * x + y * y),
        ),
        axis=-1,
    )  # (..., 9)
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """Rotation matrices to unit quaternions with w >= 0 (Shepperd's method). (..., 3, 3) -> (..., 4)."""
    if m.shape[-2:] != (3, 3):
        raise ValueError(f"matrices must have shape (..., 3, 3), got {tuple(m.shape)}")
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Four candidate solutions; each is well conditioned where its pivot is largest.
    cands = np.stack(
        (
            np.stack((1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                      m[..., 1, 0] - m[..., 0, 1]), -1),
            np.stack((m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0],
                      m[..., 0, 2] + m[..., 2, 0]), -1),
            np.stack((m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22,
                      m[..., 1, 2] + m[..., 2, 1]), -1),
            np.stack((m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1],
                      1 - m00 - m11 + m22), -1),
        ),
        axis=-2,
    )  # (..., 4 candidates, 4)
    pivots = np.stack((1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22), -1)
    best = np.argmax(pivots, axis=-1)  # (...)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]  # (..., 4)
    q = qnormalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_to_cont6d(q: np.ndarray) -> np.ndarray:
    """Quaternions to continuous 6D: the first two matrix columns. (..., 4) -> (..., 6)."""
    return matrix_to_cont6d(quaternion_to_matrix(q))


def matrix_to_cont6d(m: np.ndarray) -> np.ndarray:
    """Rotation matrices to continuous 6D (first two columns, concatenated). (..., 3, 3) -> (..., 6)."""
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def cont6d_to_matrix(cont6d: np.ndarray) -> np.ndarray:
    """Continuous 6D to rotation matrices by Gram-Schmidt, as HumanML3D's ``cont6d_to_matrix``.

    (..., 6) -> (..., 3, 3).
    """
    _check_last(cont6d, 6, "cont6d")
    x_raw, y_raw = cont6d[..., 0:3], cont6d[..., 3:6]  # (..., 3) each
    x = x_raw / np.maximum(np.linalg.norm(x_raw, axis=-1, keepdims=True), _EPS)
    z = np.cross(x, y_raw)
    z = z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), _EPS)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)  # (..., 3, 3), columns x, y, z


# ----------------------------------------------------------------------------------- signal helper
def gaussian_filter1d(x: np.ndarray, sigma: float, axis: int = 0, truncate: float = 4.0) -> np.ndarray:
    """Gaussian smoothing along one axis with edge ("nearest") padding.

    Numerically the same as ``scipy.ndimage.gaussian_filter1d(x, sigma, axis, mode="nearest")``, which HumanML3D
    uses to smooth the facing direction (sigma 20); written here so the core does not depend on scipy.
    """
    radius = int(truncate * float(sigma) + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)  # (K,)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights /= weights.sum()
    moved = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)  # (N, ...)
    n = moved.shape[0]
    index = np.clip(np.arange(n)[:, None] + np.arange(-radius, radius + 1)[None, :], 0, n - 1)  # (N, K)
    out = np.tensordot(weights, moved[index.T], axes=(0, 0))  # (N, ...)
    return np.moveaxis(out, 0, axis)
