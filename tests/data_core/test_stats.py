"""Feature statistics and the normaliser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motion_retrieval.errors import MotionDataError
from motion_retrieval.stats import Normalizer, compute_stats


def test_compute_stats_equals_stats_over_all_frames():
    rng = np.random.default_rng(0)
    motions = [rng.normal(loc=i, scale=1 + i, size=(n, 7)) for i, n in enumerate((3, 50, 1, 20))]
    mean, std = compute_stats(iter(motions))
    frames = np.concatenate(motions)
    np.testing.assert_allclose(mean, frames.mean(0), rtol=1e-6)
    np.testing.assert_allclose(std, frames.std(0), rtol=1e-5)
    assert mean.dtype == std.dtype == np.float32


def test_constant_dims_are_centred_not_scaled(caplog):
    motions = [np.ones((4, 3)), np.ones((2, 3))]
    motions[0][:, 2] = [0.0, 0.002, 0.004, 0.006]  # small but real variation keeps its own std
    motions[1][:, 2] = 0.003
    with caplog.at_level("WARNING"):
        mean, std = compute_stats(motions, min_std=1e-4)
    np.testing.assert_allclose(std[:2], 1.0)
    assert 1e-3 < std[2] < 0.01
    assert "constant" in caplog.text
    # A real motion that moves a dim the training set never moved stays at its natural scale.
    normalizer = Normalizer(mean, std)
    assert np.abs(normalizer.normalize(np.full((1, 3), 1.3, dtype=np.float32))[0, :2]).max() < 1.0


def test_compute_stats_refuses_bad_input():
    with pytest.raises(MotionDataError, match="no motions"):
        compute_stats([])
    with pytest.raises(MotionDataError, match="motion #1: 4 feature dims"):
        compute_stats([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(MotionDataError, match="NaN"):
        compute_stats([np.full((2, 3), np.nan)])


def test_normalizer_numpy_and_torch_round_trip(tmp_path):
    norm = Normalizer(np.arange(4.0), np.array([1.0, 2.0, 0.5, 4.0]))
    x = np.random.default_rng(1).normal(size=(3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(norm.denormalize(norm.normalize(x)), x, atol=1e-6)
    np.testing.assert_allclose(norm.normalize(x), (x - np.arange(4.0)) / [1.0, 2.0, 0.5, 4.0], atol=1e-6)
    t = torch.from_numpy(x)
    out = norm.normalize(t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), norm.normalize(x), atol=1e-6)
    np.testing.assert_allclose(norm.denormalize(out).numpy(), x, atol=1e-6)
    with pytest.raises(MotionDataError, match="5 dims"):
        norm.normalize(np.zeros((2, 5)))

    saved = norm.save(tmp_path / "stats" / "humanml3d.npz")
    assert saved.name == "humanml3d.npz"
    loaded = Normalizer.load(saved)
    np.testing.assert_array_equal(loaded.mean, norm.mean)
    np.testing.assert_array_equal(loaded.std, norm.std)


def test_normalizer_file_errors_name_the_file(tmp_path):
    with pytest.raises(MotionDataError, match="not found"):
        Normalizer.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros(3))
    with pytest.raises(MotionDataError, match=r"bad\.npz: missing arrays \['std'\]"):
        Normalizer.load(bad)
    zero = tmp_path / "zero.npz"
    np.savez(zero, mean=np.zeros(3), std=np.array([1.0, 0.0, 1.0]))
    with pytest.raises(MotionDataError, match=r"zero\.npz: std must be positive"):
        Normalizer.load(zero)
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not numpy")
    with pytest.raises(MotionDataError, match="garbage.npz"):
        Normalizer.load(garbage)
    with pytest.raises(MotionDataError, match="Mean.npy: statistics file not found"):
        Normalizer.from_humanml3d_folder(tmp_path)


def test_humanml3d_published_stats(humanml3d_sample, hml_features):
    norm = Normalizer.from_humanml3d_folder(humanml3d_sample)
    assert norm.dim == 263 and norm.mean.shape == norm.std.shape == (263,)
    assert np.all(norm.std > 0)
    z = norm.normalize(hml_features)
    assert np.abs(z.mean()) < 1.0 and 0.1 < z.std() < 10  # the real motion is typical of its dataset
    # Guo's Std.npy averages the std inside feature groups (PAPER.md section 6): RIC dims share one value.
    assert np.unique(np.round(norm.std[4:67], 6)).size == 1


def test_fit_matches_compute_stats():
    motions = [np.random.default_rng(i).normal(size=(10, 5)) for i in range(3)]
    norm = Normalizer.fit(motions)
    mean, std = compute_stats(motions)
    np.testing.assert_array_equal(norm.mean, mean)
    np.testing.assert_array_equal(norm.std, std)
