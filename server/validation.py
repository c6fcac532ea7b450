"""gRPC messages <-> checked inputs. The checks are the serving contract's (motion_retrieval.serving); this module
maps protobuf fields onto them. Input problems raise ``InputError`` (servicers answer INVALID_ARGUMENT with its text:
the field, the item index and the limit); other refusals raise :class:`RequestError` with their status code.

Light on purpose (grpc, numpy, the contract): the client imports the tensor codec from here. Joint positions are
converted to features by the contract, which imports the core's pipeline only when joints arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import numpy as np

from motion_retrieval.data.joint_input import skeleton_joints_to_features
from motion_retrieval.serving.inputs import InputError, check_batch_size
from motion_retrieval.serving.inputs import check_text as _check_text
from motion_retrieval.serving.inputs import check_texts as _check_texts
from motion_retrieval.serving.motions import SKELETONS as _SKELETONS
from motion_retrieval.serving.motions import Skeleton, check_joints, validate_motion
from motion_retrieval.serving.tensors import FEATURE_DIM, decode_float32, encode_float32
from motion_retrieval_server.api import common_pb2

if TYPE_CHECKING:
    from motion_retrieval_server.config import ServiceLimits

__all__ = ["SKELETONS", "DecodedMotion", "InputError", "RequestError", "check_text", "check_texts", "check_top_k",
           "decode_motion", "decode_motions", "decode_tensor", "encode_tensor"]

# Skeleton names JointsMotion.skeleton accepts (advertised in ModelInfo.skeletons).
SKELETONS = tuple(_SKELETONS)


class RequestError(Exception):
    """A request the service refuses for a reason other than a bad input field (e.g. NOT_FOUND);
    ``str()`` is ``"FIELD: problem"``."""

    def __init__(self, field: str, problem: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT):
        self.field = field
        self.problem = problem
        self.code = code
        super().__init__(f"{field}: {problem}")


# ------------------------------------------------------------------------------------------------ tensors
def encode_tensor(array: np.ndarray) -> common_pb2.FloatTensor:
    shape, data = encode_float32(array)
    return common_pb2.FloatTensor(shape=shape, data=data)


def decode_tensor(tensor: common_pb2.FloatTensor, field: str, rank: int | None = None) -> np.ndarray:
    """The tensor as a read-only float32 array (no copy); InputError when shape and bytes disagree."""
    return decode_float32(tensor.shape, tensor.data, field, rank=rank)


# ------------------------------------------------------------------------------------------------ texts
def check_text(text: str, field: str, limits: ServiceLimits) -> str:
    return _check_text(text, field, limits.max_text_chars)


def check_texts(texts: Sequence[str], limits: ServiceLimits, field: str = "texts") -> list[str]:
    return _check_texts(list(texts), limits, field)


def check_top_k(top_k: int, limits: ServiceLimits, default: int = 10) -> int:
    if top_k == 0:
        return default
    if top_k > limits.max_top_k:
        raise InputError("top_k", f"is {top_k}, the limit is {limits.max_top_k} (Limits.max_top_k)")
    return top_k


# ------------------------------------------------------------------------------------------------ motions
@dataclass(frozen=True)
class DecodedMotion:
    """A checked request motion: features ready to embed, or joints still to convert (CPU work, off the loop)."""

    field: str
    features: np.ndarray | None = None  # (T, 263) float32 at 20 fps, checked
    joints: np.ndarray | None = None  # (T, J, 3) checked
    skeleton: Skeleton | None = None
    fps: float = 0.0

    @property
    def needs_conversion(self) -> bool:
        return self.features is None

    def to_features(self) -> np.ndarray:
        """The (T, 263) features; joints go through the core's joint maps and feature pipeline."""
        if self.features is not None:
            return self.features
        return skeleton_joints_to_features(self.joints, self.skeleton, self.fps, f"{self.field}.joints")


def decode_motion(motion: common_pb2.Motion, field: str, limits: ServiceLimits) -> DecodedMotion:
    """Decode and check one motion (shape, frames at 20 fps, finite and bounded values), once."""
    kind = motion.WhichOneof("kind")
    if kind == "features":
        name = f"{field}.features"
        features = decode_tensor(motion.features.features, name, rank=2)
        if features.shape[1] != FEATURE_DIM:
            raise InputError(f"{name}.shape", f"expected (T, {FEATURE_DIM}), got {list(features.shape)}")
        return DecodedMotion(field, features=validate_motion(features, name, FEATURE_DIM, limits))
    if kind == "joints":
        name = f"{field}.joints"
        joints = decode_tensor(motion.joints.joints, f"{name}.joints", rank=3)
        checked, skeleton, fps = check_joints(joints, motion.joints.skeleton, motion.joints.fps, name, limits)
        return DecodedMotion(field, joints=checked, skeleton=skeleton, fps=fps)
    raise InputError(field, "is empty; set either features or joints")


def decode_motions(motions: Sequence[common_pb2.Motion], limits: ServiceLimits,
                   field: str = "motions") -> list[DecodedMotion]:
    check_batch_size(len(motions), field, limits.max_batch_size)
    return [decode_motion(m, f"{field}[{i}]", limits) for i, m in enumerate(motions)]
