"""Per-dataset feature statistics and the normaliser that travels with a model.

Each dataset is normalised with its own per-dimension mean and std, computed over every frame of its training
set as TMR does (PAPER.md section 6). These differ from HumanML3D's own ``Std.npy``, which averages the std within
feature groups; ``Normalizer.from_humanml3d_folder`` reads those files when one wants the published statistics.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from motion_retrieval.errors import MotionDataError

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MIN_STD", "Normalizer", "compute_stats"]

# Below this std a dimension counts as constant over the training set -- a foot contact that is always 1 in a tiny
# corpus, or the collar rotations our procedural rig never moves. Such a dimension carries no learned signal; it is
# centred but not scaled (std := 1). Flooring it at a small std instead would let any real motion that does move it
# reach the encoder as values of 1e3..1e5 (and overflow float16), while flooring every dimension at a larger value
# (e.g. 0.01) would shrink small but real signals: on our corpus the root rotation and linear velocities and most
# local velocities have stds of 0.003-0.01, and such a floor halved the default model's R@10 (docs/EXPERIMENTS.md).
DEFAULT_MIN_STD = 1e-4

# A numpy array or a torch tensor: torch is not imported here, so that readers and the serving contract, which
# compute and apply statistics on numpy arrays, never need it.
ArrayT = TypeVar("ArrayT")


def compute_stats(features: Iterable[np.ndarray], min_std: float = DEFAULT_MIN_STD) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std over all frames of all motions: each item (T_i, D) -> mean (D,), std (D,).

    Streams the items (a generator over a dataset is fine) and merges per-motion moments with Chan et al.'s
    pairwise formula, in float64. The std is the population std (ddof 0); dimensions whose std is below ``min_std``
    (constant over the training set) get std 1: centred, not scaled.
    """
    count = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    for index, item in enumerate(features):
        x = np.asarray(item, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise MotionDataError(None, f"motion #{index}: features must have shape (T, D) with T >= 1, "
                                        f"got {tuple(x.shape)}")
        if mean is not None and x.shape[1] != mean.shape[0]:
            raise MotionDataError(None, f"motion #{index}: {x.shape[1]} feature dims, the ones before had "
                                        f"{mean.shape[0]}")
        if not np.all(np.isfinite(x)):
            raise MotionDataError(None, f"motion #{index}: features contain NaN or inf")
        n = x.shape[0]
        item_mean = x.mean(axis=0)  # (D,)
        item_m2 = ((x - item_mean) ** 2).sum(axis=0)  # (D,)
        if mean is None:
            count, mean, m2 = n, item_mean, item_m2
            continue
        total = count + n
        delta = item_mean - mean
        mean = mean + delta * (n / total)
        m2 = m2 + item_m2 + delta**2 * (count * n / total)
        count = total
    if mean is None:
        raise MotionDataError(None, "no motions to compute statistics from")
    std = np.sqrt(m2 / count)
    constant = np.flatnonzero(std < min_std)
    if constant.size:
        logger.warning("%d feature dims are constant over %d frames (e.g. %s): centred, not scaled (std 1)",
                       constant.size, count, constant[:8].tolist())
    std[std < min_std] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


@dataclass(frozen=True, eq=False)
class Normalizer:
    """``(x - mean) / std`` per feature dimension, for numpy arrays and torch tensors alike."""

    mean: np.ndarray  # (D,) float32
    std: np.ndarray  # (D,) float32, > 0

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        if mean.ndim != 1 or mean.shape != std.shape:
            raise MotionDataError(None, f"mean and std must both have shape (D,), got {mean.shape} and {std.shape}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise MotionDataError(None, "mean/std contain NaN or inf")
        if np.any(std <= 0):
            raise MotionDataError(None, f"std must be positive; dims {np.flatnonzero(std <= 0)[:8].tolist()} are not")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def _stats_like(self, x: ArrayT) -> tuple[ArrayT, ArrayT]:
        if x.shape[-1] != self.dim:
            raise MotionDataError(None, f"features have {x.shape[-1]} dims, the normaliser expects {self.dim}")
        if isinstance(x, np.ndarray):
            return self.mean, self.std
        like = x if x.is_floating_point() else x.float()  # a torch tensor: its dtype (float32 for integers), device
        return like.new_tensor(self.mean), like.new_tensor(self.std)

    def normalize(self, x: ArrayT) -> ArrayT:
        """Raw features (..., D) -> normalised (..., D); numpy in, numpy out; torch in, torch out."""
        mean, std = self._stats_like(x)
        return (x - mean) / std

    def denormalize(self, x: ArrayT) -> ArrayT:
        """Normalised features (..., D) -> raw (..., D)."""
        mean, std = self._stats_like(x)
        return x * std + mean

    # ------------------------------------------------------------------------------- files
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``mean`` and ``std`` to an ``.npz`` file (the run directory's ``stats/<dataset>.npz``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:  # a file object keeps numpy from appending a second ".npz"
            np.savez(handle, mean=self.mean, std=self.std)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Normalizer:
        """Read an ``.npz`` written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise MotionDataError(path, "statistics file not found")
        try:
            with np.load(path) as data:
                missing = {"mean", "std"} - set(data.files)
                if missing:
                    raise MotionDataError(path, f"missing arrays {sorted(missing)}; found {sorted(data.files)}")
                mean, std = data["mean"], data["std"]
        except (OSError, ValueError) as exc:
            if isinstance(exc, MotionDataError):
                raise
            raise MotionDataError(path, f"not a readable .npz file: {exc}") from None
        return cls._checked(mean, std, path)

    @classmethod
    def from_humanml3d_folder(cls, folder: str | os.PathLike) -> Normalizer:
        """The published statistics of a HumanML3D/KIT-ML folder: its ``Mean.npy`` and ``Std.npy``."""
        folder = Path(folder)
        arrays = []
        for name in ("Mean.npy", "Std.npy"):
            path = folder / name
            if not path.is_file():
                raise MotionDataError(path, "statistics file not found")
            try:
                arrays.append(np.load(path))
            except (OSError, ValueError) as exc:
                raise MotionDataError(path, f"not a readable .npy file: {exc}") from None
        return cls._checked(arrays[0], arrays[1], folder)

    @classmethod
    def _checked(cls, mean: np.ndarray, std: np.ndarray, source: str | os.PathLike) -> Normalizer:
        try:
            return cls(mean, std)
        except MotionDataError as exc:
            raise MotionDataError(source, exc.problem) from None

    @classmethod
    def fit(cls, features: Iterable[np.ndarray], min_std: float = DEFAULT_MIN_STD) -> Normalizer:
        """The normaliser of a training set (see :func:`compute_stats`)."""
        return cls(*compute_stats(features, min_std=min_std))
