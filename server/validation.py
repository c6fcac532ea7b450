"""Request checking and tensor (de)coding. Every refusal is a :class:`RequestError` that names the field, the item
index and the limit, so that a caller can fix the request; servicers turn it into INVALID_ARGUMENT."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import numpy as np

from motion_retrieval.data.joint_maps import KIT21_TO_SMPL22, KIT21_TO_SMPL22_SWAPPED, facing_agreement
from motion_retrieval.errors import MotionDataError
from motion_retrieval.features import FEATURE_DIM, joints_to_features
from motion_retrieval.skeleton import KIT21, SMPL22
from server.api import common_pb2
from server.config import ServiceLimits

# Skeleton names JointsMotion.skeleton accepts (advertised in ModelInfo.skeletons).
SKELETONS = (SMPL22.name, KIT21.name)
_JOINT_COUNTS = {SMPL22.name: SMPL22.num_joints, KIT21.name: KIT21.num_joints}
_FLOAT32_LE = np.dtype("<f4")


class RequestError(Exception):
    """A request the service refuses; ``str()`` is ``"FIELD: problem"``."""

    def __init__(self, field: str, problem: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT):
        self.field = field
        self.problem = problem
        self.code = code
        super().__init__(f"{field}: {problem}")


# ------------------------------------------------------------------------------------------------ tensors
def encode_tensor(array: np.ndarray) -> common_pb2.FloatTensor:
    array = np.ascontiguousarray(array, dtype=_FLOAT32_LE)
    return common_pb2.FloatTensor(shape=list(array.shape), data=array.tobytes())


def decode_tensor(tensor: common_pb2.FloatTensor, field: str, rank: int | None = None) -> np.ndarray:
    """The tensor as a read-only float32 array (no copy); RequestError when shape and bytes disagree."""
    shape = tuple(int(d) for d in tensor.shape)
    if rank is not None and len(shape) != rank:
        raise RequestError(f"{field}.shape", f"expected {rank} dimensions, got {list(shape)}")
    expected = int(np.prod(shape, dtype=np.int64)) * _FLOAT32_LE.itemsize if shape else 0
    if not shape:
        raise RequestError(f"{field}.shape", "is empty; give the extent of every axis")
    if len(tensor.data) != expected:
        raise RequestError(
            f"{field}.data",
            f"holds {len(tensor.data)} bytes, shape {list(shape)} needs {expected} (little-endian float32)",
        )
    return np.frombuffer(tensor.data, dtype=_FLOAT32_LE).reshape(shape)


def _first_non_finite(array: np.ndarray) -> tuple[int, ...] | None:
    finite = np.isfinite(array)
    if finite.all():
        return None
    return tuple(int(i) for i in np.argwhere(~finite)[0])


# ------------------------------------------------------------------------------------------------ texts
def check_batch_size(count: int, field: str, limits: ServiceLimits) -> None:
    if count == 0:
        raise RequestError(field, "is empty; send at least one item")
    if count > limits.max_batch_size:
        raise RequestError(
            field, f"has {count} items, the limit is {limits.max_batch_size} per request (Limits.max_batch_size); "
                   "split the batch"
        )


def check_text(text: str, field: str, limits: ServiceLimits) -> str:
    if not text.strip():
        raise RequestError(field, "is empty")
    if len(text) > limits.max_text_chars:
        raise RequestError(field, f"has {len(text)} characters, the limit is {limits.max_text_chars} "
                                  "(Limits.max_text_chars)")
    return text


def check_texts(texts: Sequence[str], limits: ServiceLimits, field: str = "texts") -> list[str]:
    check_batch_size(len(texts), field, limits)
    return [check_text(text, f"{field}[{i}]", limits) for i, text in enumerate(texts)]


def check_top_k(top_k: int, limits: ServiceLimits, default: int = 10) -> int:
    if top_k == 0:
        return default
    if top_k > limits.max_top_k:
        raise RequestError("top_k", f"is {top_k}, the limit is {limits.max_top_k} (Limits.max_top_k)")
    return top_k


# ------------------------------------------------------------------------------------------------ motions
def check_frames(num_frames: int, field: str, limits: ServiceLimits, min_frames: int) -> None:
    if num_frames < min_frames:
        raise RequestError(field, f"has {num_frames} frames, at least {min_frames} are needed")
    if num_frames > limits.max_frames:
        raise RequestError(
            field, f"has {num_frames} frames, the limit is {limits.max_frames} (Limits.max_frames); window long takes"
        )


def decode_features(motion: common_pb2.FeatureMotion, field: str, limits: ServiceLimits) -> np.ndarray:
    """(T, 263) raw features at 20 fps."""
    field = f"{field}.features"
    features = decode_tensor(motion.features, field, rank=2)
    if features.shape[1] != FEATURE_DIM:
        raise RequestError(f"{field}.shape", f"expected (T, {FEATURE_DIM}), got {list(features.shape)}")
    check_frames(features.shape[0], field, limits, limits.min_frames)
    bad = _first_non_finite(features)
    if bad is not None:
        raise RequestError(field, f"contains NaN or inf (first at frame {bad[0]}, feature {bad[1]})")
    return features


def decode_joints(motion: common_pb2.JointsMotion, field: str, limits: ServiceLimits) -> tuple[np.ndarray, str, float]:
    """(T, J, 3) joints, skeleton name and fps, checked but not yet converted (see :func:`joints_to_model_features`)."""
    skeleton = motion.skeleton.strip().lower()
    if skeleton not in _JOINT_COUNTS:
        raise RequestError(f"{field}.skeleton", f"unknown skeleton {motion.skeleton!r}; known: {', '.join(SKELETONS)}")
    fps = float(motion.fps)
    if not np.isfinite(fps) or fps <= 0:
        raise RequestError(f"{field}.fps", f"must be a positive frame rate, got {motion.fps}")
    joints = decode_tensor(motion.joints, f"{field}.joints", rank=3)
    num_joints = _JOINT_COUNTS[skeleton]
    if joints.shape[1:] != (num_joints, 3):
        raise RequestError(
            f"{field}.joints.shape", f"expected (T, {num_joints}, 3) for skeleton {skeleton}, got {list(joints.shape)}"
        )
    check_frames(joints.shape[0], f"{field}.joints", limits, limits.min_frames + 1)
    bad = _first_non_finite(joints)
    if bad is not None:
        raise RequestError(f"{field}.joints", f"contains NaN or inf (first at frame {bad[0]}, joint {bad[1]})")
    return joints, skeleton, fps


def joints_to_model_features(joints: np.ndarray, skeleton: str, fps: float, field: str) -> np.ndarray:
    """Raw joints of ``skeleton`` -> (T', 263) SMPL-22 features at 20 fps (CPU work: run it off the event loop).

    KIT-21 joints (millimetres, as the KIT-ML release) go through the explicit KIT -> SMPL-22 joint map first; the
    side labels of KIT arrays are not reliable (motion_retrieval.data.joint_maps), so the map whose left/right
    agrees with where the toes point is used.
    """
    try:
        if skeleton == KIT21.name:
            metres = np.asarray(joints, dtype=np.float64) / 1000.0  # (T, 21, 3)
            smpl = KIT21_TO_SMPL22.apply(metres, KIT21.joint_names, path=field)  # (T, 22, 3)
            if facing_agreement(smpl) < 0:
                smpl = KIT21_TO_SMPL22_SWAPPED.apply(metres, KIT21.joint_names, path=field)
            joints, skeleton = smpl, SMPL22.name
        return joints_to_features(joints, fps=fps, skeleton=skeleton, path=field)  # (T'-1, 263)
    except MotionDataError as exc:
        raise RequestError(field, exc.problem) from None


def decode_motion(motion: common_pb2.Motion, field: str, limits: ServiceLimits):
    """A checked motion: a (T, 263) features array, or a ``(joints, skeleton, fps)`` tuple still to convert."""
    kind = motion.WhichOneof("kind")
    if kind == "features":
        return decode_features(motion.features, field, limits)
    if kind == "joints":
        return decode_joints(motion.joints, f"{field}.joints", limits)
    raise RequestError(field, "is empty; set either features or joints")


def needs_conversion(decoded) -> bool:
    return isinstance(decoded, tuple)


def decode_motions(motions: Sequence[common_pb2.Motion], limits: ServiceLimits, field: str = "motions") -> list:
    check_batch_size(len(motions), field, limits)
    return [decode_motion(m, f"{field}[{i}]", limits) for i, m in enumerate(motions)]


def to_features(decoded, field: str) -> np.ndarray:
    """Finish :func:`decode_motion`: convert joints (CPU heavy) or pass features through."""
    if needs_conversion(decoded):
        joints, skeleton, fps = decoded
        return joints_to_model_features(joints, skeleton, fps, f"{field}.joints")
    return decoded
