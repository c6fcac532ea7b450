"""Motions in, served tensors out: checks, limits at 20 fps, padding/resampling, and joints -> features.

The encoder sees at most 200 frames (10 s at 20 fps). Shorter clips are zero-padded and masked; longer clips are
resampled to 200 frames by nearest-neighbour interpolation (PAPER.md section 2, "Time axis"), which is how the
MoT++ code handles KIT test motions of up to 89 s. Ingest windows long takes before they get here, so that a search
hit points into the take; this resampling only keeps the embedder total.

Every motion is checked once where it enters (:func:`validate_motion`, :func:`check_joints`); :func:`pad_motions`
then only copies. Frame limits apply to the motion as it will be at 20 fps, before any resampling work is done, so
that a few frames at a tiny frame rate cannot ask for millions of frames. Turning checked joint positions into
features needs the core's joint maps and feature pipeline: that step is ``motion_retrieval.data.joint_input``, so
this package imports nothing of the core but its errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from motion_retrieval.serving.inputs import InputError, first_non_finite
from motion_retrieval.serving.tensors import FEATURE_DIM, FPS, MAX_FRAMES, MIN_FRAMES

# Features and joint coordinates of real motions are metres, radians and unit vectors: a few units. Values beyond
# this are a unit or scaling mistake, and overflow the model long before infinity.
MAX_ABS_VALUE = 1e6


@dataclass(frozen=True)
class Skeleton:
    name: str
    num_joints: int
    units: str  # of the joint positions a client sends
    scale_to_metres: float


# The skeletons joint positions may arrive in (JointsMotion.skeleton); all are mapped onto SMPL-22 by the core.
SKELETONS = {
    "smpl22": Skeleton("smpl22", 22, "metres", 1.0),
    "kit21": Skeleton("kit21", 21, "millimetres", 1e-3),  # as in the KIT-ML release
    "h36m17": Skeleton("h36m17", 17, "metres", 1.0),  # Human3.6M's 17 joints, as 3D pose estimators write them
}


class FrameLimits(Protocol):
    """What one motion may hold (motion_retrieval_server.config.ServiceLimits satisfies it)."""

    max_frames: int  # frames at 20 fps
    min_frames: int  # feature frames (joints need one more)


class MotionInputError(InputError):
    """One motion of a batch cannot be embedded. ``str()`` is ``"motions[INDEX]: problem"``."""

    def __init__(self, index: int, problem: str):
        super().__init__(f"motions[{index}]", problem, index=index)


def nearest_neighbour_indices(num_frames: int, target_frames: int) -> np.ndarray:
    """Frame indices that resample ``num_frames`` to ``target_frames`` by nearest neighbour.

    Evenly spaced sample times from the first to the last frame, rounded to the nearest frame, so that both ends of
    the clip are kept.
    """
    return np.rint(np.linspace(0.0, num_frames - 1, target_frames)).astype(np.int64)


def fit_to_max_frames(features, max_frames: int = MAX_FRAMES):
    """A clip longer than ``max_frames`` resampled to ``max_frames`` frames by nearest neighbour (PAPER.md section 2,
    "Time axis"), as :func:`pad_motions` gives it to the encoder; a clip that fits is returned unchanged. Training and
    evaluation use it too, so the model is trained on what it is served. ``features`` is (T, ...): a numpy array or a
    torch tensor (only indexed here, so this package never imports torch)."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    features = features if hasattr(features, "shape") else np.asarray(features)
    if features.shape[0] <= max_frames:
        return features
    return features[nearest_neighbour_indices(features.shape[0], max_frames)]  # (max_frames, ...)


def frames_at_fps(num_frames: int, fps: float, target_fps: float = FPS) -> int:
    """Frames a ``num_frames`` motion at ``fps`` has after resampling to ``target_fps`` (features.resample's
    ``floor((T - 1) * target / fps) + 1``), computed without allocating anything; may be astronomically large."""
    ratio = float(fps) / float(target_fps)
    return int(math.floor((num_frames - 1) / ratio + 1e-9)) + 1


def _bad_magnitude(array: np.ndarray) -> tuple[int, ...] | None:
    if array.size == 0:
        return None
    flat = int(np.argmax(np.abs(array)))
    if abs(float(array.flat[flat])) <= MAX_ABS_VALUE:
        return None
    return tuple(int(i) for i in np.unravel_index(flat, array.shape))


def validate_motion(motion, field: str | int, feature_dim: int = FEATURE_DIM, limits: FrameLimits | None = None,
                    min_frames: int = MIN_FRAMES) -> np.ndarray:
    """``motion`` as a float32 (T, feature_dim) array of raw features at 20 fps, or an InputError naming ``field``
    (an int is read as ``motions[INDEX]``): not numbers, wrong shape, too few or (with ``limits``) too many frames,
    NaN/inf, or values beyond ``MAX_ABS_VALUE``."""
    if isinstance(field, int):
        index = field
        fail = lambda problem: MotionInputError(index, problem)  # noqa: E731
    else:
        fail = lambda problem: InputError(field, problem)  # noqa: E731
    try:
        array = np.asarray(motion)
    except (TypeError, ValueError) as exc:
        raise fail(f"not an array of numbers ({exc})") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise fail(f"expected numbers, got dtype {array.dtype}")
    if array.ndim != 2:
        raise fail(f"expected shape (T, {feature_dim}), got {array.shape}")
    if array.shape[1] != feature_dim:
        raise fail(f"expected {feature_dim} features per frame, got {array.shape[1]}")
    if limits is not None:
        min_frames = limits.min_frames
    if array.shape[0] < min_frames:
        raise fail(f"has {array.shape[0]} frames, at least {min_frames} are needed")
    if limits is not None and array.shape[0] > limits.max_frames:  # features are at 20 fps: no resampling
        raise fail(f"has {array.shape[0]} frames, the limit is {limits.max_frames} (Limits.max_frames); window "
                   "long takes")
    array = np.ascontiguousarray(array, dtype=np.float32)
    bad = first_non_finite(array)
    if bad is not None:
        raise fail(f"contains NaN or inf (first at frame {bad[0]}, feature {bad[1]})")
    bad = _bad_magnitude(array)
    if bad is not None:
        raise fail(f"holds {float(array[bad]):.3g} at frame {bad[0]}, feature {bad[1]}; values beyond "
                   f"{MAX_ABS_VALUE:g} are not motion features (check the units and scale)")
    return array


def check_joints(joints: np.ndarray, skeleton: str, fps: float, field: str, limits: FrameLimits) -> tuple[
        np.ndarray, Skeleton, float]:
    """Checked (T, J, 3) joint positions of ``skeleton`` at ``fps``: the skeleton is known, the shape fits it, the
    frame rate is a finite positive number, the motion at 20 fps has between ``limits.min_frames + 1`` and
    ``limits.max_frames`` frames (checked before any resampling), and every coordinate is finite and bounded."""
    name = str(skeleton).strip().lower()
    if name not in SKELETONS:
        raise InputError(f"{field}.skeleton", f"unknown skeleton {skeleton!r}; known: {', '.join(SKELETONS)}")
    spec = SKELETONS[name]
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        raise InputError(f"{field}.fps", f"must be a finite positive frame rate, got {fps}")
    array = np.asarray(joints)
    if array.ndim != 3 or array.shape[1:] != (spec.num_joints, 3):
        raise InputError(f"{field}.joints.shape", f"expected (T, {spec.num_joints}, 3) for skeleton {name}, got "
                                                  f"{list(array.shape)}")
    needed = limits.min_frames + 1  # features are frame differences: one fewer than joint frames
    if array.shape[0] < needed:
        raise InputError(f"{field}.joints", f"has {array.shape[0]} frames, at least {needed} are needed")
    at_20 = frames_at_fps(array.shape[0], fps)
    if at_20 > limits.max_frames:
        raise InputError(field, f"{array.shape[0]} frames at {fps:g} fps are {at_20} frames at {FPS:g} "
                                            f"fps, the limit is {limits.max_frames} ({limits.max_frames / FPS:g} s, "
                                            "Limits.max_frames); window long takes or check fps")
    if at_20 < needed:
        raise InputError(field, f"motion is too short: {array.shape[0]} frames at {fps:g} fps leave "
                                            f"{at_20} at {FPS:g} fps, at least {needed} are needed")
    bad = first_non_finite(array)
    if bad is not None:
        raise InputError(f"{field}.joints", f"contains NaN or inf (first at frame {bad[0]}, joint {bad[1]})")
    bad = _bad_magnitude(array)
    if bad is not None:
        raise InputError(f"{field}.joints", f"holds {float(array[bad]):.3g} at frame {bad[0]}, joint {bad[1]}; "
                                            f"{name} positions are {spec.units} (check the units)")
    return array, spec, fps


def pad_motions(motions: Sequence[np.ndarray], max_frames: int = MAX_FRAMES,
                feature_dim: int = FEATURE_DIM) -> tuple[np.ndarray, np.ndarray]:
    """Checked (T_i, 263) motions (:func:`validate_motion`) -> (motion f32[B, max_frames, 263], mask bool[B, F]).

    Clips up to ``max_frames`` are copied and zero-padded (mask True on real frames); longer clips are resampled to
    ``max_frames`` by nearest neighbour. Features stay raw: the motion tower normalises them. Only shapes are
    checked here (values were checked where the motions entered).
    """
    if len(motions) == 0:
        raise InputError("motions", "no motions given")
    batch = np.zeros((len(motions), max_frames, feature_dim), dtype=np.float32)  # (B, F, 263)
    mask = np.zeros((len(motions), max_frames), dtype=bool)  # (B, F)
    for i, array in enumerate(motions):
        if array.ndim != 2 or array.shape[1] != feature_dim or array.shape[0] < 1:
            raise MotionInputError(i, f"expected shape (T, {feature_dim}), got {array.shape}")
        if array.shape[0] > max_frames:
            array = array[nearest_neighbour_indices(array.shape[0], max_frames)]  # (F, 263)
        batch[i, : array.shape[0]] = array
        mask[i, : array.shape[0]] = True
    return batch, mask
