"""Rotation math against independent definitions (matrices built by hand, scipy where it is installed)."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval import rotations as R


def _rand_quats(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return R.qnormalize(q)


def _axis_matrix(axis: str, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return {"X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def test_qrot_matches_the_matrix_and_qmul_composes():
    q, r = _rand_quats(50, 1), _rand_quats(50, 2)
    v = np.random.default_rng(3).normal(size=(50, 3))
    np.testing.assert_allclose(R.qrot(q, v), np.einsum("nij,nj->ni", R.quaternion_to_matrix(q), v), atol=1e-12)
    np.testing.assert_allclose(R.qrot(R.qmul(q, r), v), R.qrot(q, R.qrot(r, v)), atol=1e-12)
    np.testing.assert_allclose(R.qrot(R.qinv(q), R.qrot(q, v)), v, atol=1e-12)


def test_matrix_quaternion_round_trip_including_half_turns():
    q = _rand_quats(200, 4)
    q = np.concatenate([q, [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]])  # 180-degree turns
    back = R.matrix_to_quaternion(R.quaternion_to_matrix(q))
    same = np.minimum(np.abs(back - q).max(-1), np.abs(back + q).max(-1))  # q and -q are one rotation
    assert same.max() < 1e-12


def test_cont6d_is_the_first_two_columns_and_round_trips():
    m = R.quaternion_to_matrix(_rand_quats(30, 5))
    c6 = R.quaternion_to_cont6d(R.matrix_to_quaternion(m))
    np.testing.assert_allclose(c6[:, :3], m[:, :, 0], atol=1e-12)
    np.testing.assert_allclose(c6[:, 3:], m[:, :, 1], atol=1e-12)
    noisy = c6 * 1.7 + np.random.default_rng(6).normal(scale=1e-3, size=c6.shape)
    rebuilt = R.cont6d_to_matrix(noisy)
    np.testing.assert_allclose(np.einsum("nji,njk->nik", rebuilt, rebuilt), np.broadcast_to(np.eye(3), (30, 3, 3)),
                               atol=1e-12)
    np.testing.assert_allclose(R.cont6d_to_matrix(c6), m, atol=1e-12)


def test_qbetween_rotates_one_direction_onto_another_even_when_opposite():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    a = np.concatenate([a, [[0, 0, -1.0], [1, 0, 0]]])
    b = np.concatenate([b, [[0, 0, 1.0], [-2, 0, 0]]])  # exactly opposite pairs
    q = R.qbetween(a, b)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(R.qrot(q, unit(a)), unit(b), atol=1e-12)
    # A horizontal half turn is about the vertical axis (the facing rotation of a body facing -Z).
    np.testing.assert_allclose(np.abs(q[-2]), [0, 0, 1, 0], atol=1e-12)


def test_qfix_removes_sign_flips():
    q = _rand_quats(1, 8).repeat(6, axis=0)[:, None]  # (6, 1, 4) the same rotation
    q[[2, 3, 5]] *= -1
    fixed = R.qfix(q)
    np.testing.assert_allclose(fixed, np.broadcast_to(q[0], fixed.shape))


@pytest.mark.parametrize("order", ["ZYX", "XYZ", "YXZ", "zxy", "ZXZ"])
def test_euler_to_quaternion_composes_in_the_order_given(order):
    angles = np.array([[0.3, -1.1, 2.0], [10.0, 45.0, -90.0]])
    degrees = np.array([False, True])
    for row, deg in zip(angles, degrees):
        radians = np.deg2rad(row) if deg else row
        expected = np.eye(3)
        for axis, angle in zip(order.upper(), radians):
            expected = expected @ _axis_matrix(axis, angle)
        got = R.quaternion_to_matrix(R.euler_to_quaternion(row, order, degrees=bool(deg)))
        np.testing.assert_allclose(got, expected, atol=1e-12)
    with pytest.raises(ValueError, match="three of X/Y/Z"):
        R.euler_to_quaternion(angles, "XY")


def test_axis_angle_round_trip_and_zero():
    aa = np.random.default_rng(9).normal(size=(20, 3))
    aa = aa / np.linalg.norm(aa, axis=-1, keepdims=True) * np.linspace(0, 3.1, 20)[:, None]
    np.testing.assert_allclose(R.quaternion_to_axis_angle(R.axis_angle_to_quaternion(aa)), aa, atol=1e-10)
    np.testing.assert_allclose(R.axis_angle_to_quaternion(np.zeros(3)), [1, 0, 0, 0])
    q = R.axis_angle_to_quaternion(np.array([0.0, 0.7, 0.0]))
    np.testing.assert_allclose(q, R.y_rotation_quaternion(0.7), atol=1e-15)


def test_gaussian_filter_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(10).normal(size=(170, 3))
    for sigma in (1.0, 20.0):
        np.testing.assert_allclose(R.gaussian_filter1d(x, sigma), ndimage.gaussian_filter1d(x, sigma, axis=0,
                                   mode="nearest"), atol=1e-12)
