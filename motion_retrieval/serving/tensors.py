"""The tensors of the served models, and how float32 tensors travel on the wire.

The exported models (DESIGN.md "Exported models") take raw features at 20 fps padded to ``MAX_FRAMES`` frames, or
token ids padded to the repository's ``max_text_tokens``; their names follow the libtorch backend's positional
convention ``NAME__<index>``. ``FEATURE_DIM`` is defined here once; the core's feature layout checks it agrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from motion_retrieval.serving.inputs import InputError

FEATURE_DIM = 263  # HumanML3D features per frame (SMPL-22: 1 + 2 + 1 + 21*3 + 21*6 + 22*3 + 4)
FPS = 20.0  # frame rate of features
MAX_FRAMES = 200  # frames the motion encoder sees (10 s at 20 fps); longer motions are resampled to it
MIN_FRAMES = 2  # features need two frames

MOTION_MODEL, TEXT_MODEL = "motion_encoder", "text_encoder"
MOTION_INPUT, MASK_INPUT = "MOTION__0", "MASK__1"  # FP32 [B, MAX_FRAMES, FEATURE_DIM], BOOL [B, MAX_FRAMES]
INPUT_IDS_INPUT, ATTENTION_MASK_INPUT = "INPUT_IDS__0", "ATTENTION_MASK__1"  # INT64 [B, max_text_tokens] twice
EMBEDDING_OUTPUT = "EMBEDDING__0"  # FP32 [B, dim], unit norm

FLOAT32_LE = np.dtype("<f4")


def encode_float32(array: np.ndarray) -> tuple[list[int], bytes]:
    """``array`` as (shape, little-endian float32 row-major bytes)."""
    array = np.ascontiguousarray(array, dtype=FLOAT32_LE)
    return list(array.shape), array.tobytes()


def decode_float32(shape: Sequence[int], data: bytes, field: str, rank: int | None = None,
                   max_elements: int | None = None) -> np.ndarray:
    """The read-only float32 array (no copy) that ``shape`` and ``data`` describe, or an InputError naming
    ``field``: wrong rank, an empty or zero axis, more than ``max_elements`` values, or a byte count that does not
    match the shape. Sizes are computed with Python integers, so no shape can overflow them."""
    dims = [int(d) for d in shape]
    if not dims:
        raise InputError(f"{field}.shape", "is empty; give the extent of every axis")
    if rank is not None and len(dims) != rank:
        raise InputError(f"{field}.shape", f"expected {rank} dimensions, got {_shown(dims)}")
    if any(d <= 0 for d in dims):
        raise InputError(f"{field}.shape", f"every axis needs at least one element, got {_shown(dims)}")
    count = math.prod(dims)
    if max_elements is not None and count > max_elements:
        raise InputError(f"{field}.shape", f"{_shown(dims)} holds {count} values, the limit is {max_elements}")
    expected = count * FLOAT32_LE.itemsize
    if len(data) != expected:
        raise InputError(f"{field}.data", f"holds {len(data)} bytes, shape {_shown(dims)} needs {expected} "
                                          "(little-endian float32)")
    return np.frombuffer(data, dtype=FLOAT32_LE).reshape(dims)


def _shown(dims: list[int]) -> str:
    return str(dims) if len(dims) <= 8 else f"[{', '.join(map(str, dims[:8]))}, ...] ({len(dims)} axes)"
