"""Raw motion features -> the fixed-size padded batch the motion tower takes.

The encoder sees at most 200 frames (10 s at 20 fps). Shorter clips are zero-padded and masked; longer clips are
resampled to 200 frames by nearest-neighbour interpolation (PAPER.md section 2, "Time axis"), which is how the
MoT++ code handles KIT test motions of up to 89 s. Ingest windows long takes before they get here, so that a search
hit points into the take; this resampling only keeps the embedder total.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from motion_retrieval.errors import MotionDataError

FEATURE_DIM = 263  # HumanML3D features per frame (motion_retrieval.features.FEATURE_DIM)
MAX_FRAMES = 200  # 10 s at 20 fps
MIN_FRAMES = 2


class MotionInputError(MotionDataError):
    """One motion of a batch cannot be embedded. ``str()`` is ``"motions[INDEX]: problem"``."""

    def __init__(self, index: int, problem: str):
        self.index = index
        super().__init__(f"motions[{index}]", problem)


def nearest_neighbour_indices(num_frames: int, target_frames: int) -> np.ndarray:
    """Frame indices that resample ``num_frames`` to ``target_frames`` by nearest neighbour.

    Evenly spaced sample times from the first to the last frame, rounded to the nearest frame, so that both ends of
    the clip are kept.
    """
    return np.rint(np.linspace(0.0, num_frames - 1, target_frames)).astype(np.int64)


def validate_motion(motion, index: int, feature_dim: int = FEATURE_DIM) -> np.ndarray:
    """``motion`` as a float32 (T, feature_dim) array, or a MotionInputError that names ``index`` and the problem."""
    try:
        array = np.asarray(motion)
    except (TypeError, ValueError) as exc:
        raise MotionInputError(index, f"not an array of numbers ({exc})") from exc
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise MotionInputError(index, f"expected numbers, got dtype {array.dtype}")
    if array.ndim != 2:
        raise MotionInputError(index, f"expected shape (T, {feature_dim}), got {array.shape}")
    if array.shape[1] != feature_dim:
        raise MotionInputError(index, f"expected {feature_dim} features per frame, got {array.shape[1]}")
    if array.shape[0] < MIN_FRAMES:
        raise MotionInputError(index, f"needs at least {MIN_FRAMES} frames, got {array.shape[0]}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        bad_frames = np.unique(np.nonzero(~np.isfinite(array))[0])
        raise MotionInputError(index, f"contains NaN or inf (frames {bad_frames[:5].tolist()})")
    return array


def pad_motions(
    motions: Sequence[np.ndarray], max_frames: int = MAX_FRAMES, feature_dim: int = FEATURE_DIM
) -> tuple[np.ndarray, np.ndarray]:
    """Raw (T_i, 263) motions -> (motion f32[B, max_frames, 263], mask bool[B, max_frames]).

    Clips up to ``max_frames`` are copied and zero-padded (mask True on real frames); longer clips are resampled to
    ``max_frames`` by nearest neighbour. Features stay raw: the motion tower normalises them.
    """
    if len(motions) == 0:
        raise MotionDataError("motions", "no motions given")
    batch = np.zeros((len(motions), max_frames, feature_dim), dtype=np.float32)  # (B, F, 263)
    mask = np.zeros((len(motions), max_frames), dtype=bool)  # (B, F)
    for i, motion in enumerate(motions):
        array = validate_motion(motion, i, feature_dim)
        if array.shape[0] > max_frames:
            array = array[nearest_neighbour_indices(array.shape[0], max_frames)]  # (F, 263)
        batch[i, : array.shape[0]] = array
        mask[i, : array.shape[0]] = True
    return batch, mask
