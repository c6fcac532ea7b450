"""Raw joint arrays (``.npy`` / ``.npz``, e.g. from pose estimators or mocap exports) into SMPL-22 records.

Shared with bvh.py: ``joints_to_record`` turns SMPL-22 positions in any units, Y- or Z-up, at any frame rate into the
canonical record (metres, Y-up, floored, 20 fps, with 263-d features); ``detect_units`` guesses the units.

Units "auto" compares the mean leg length (hip -> knee -> ankle) with the HumanML3D reference skeleton's (0.82 m)
under each candidate unit and picks the closest on a log scale. Leg length rather than standing height because bone
lengths do not change with the pose (a crouching or lying take has no standing height). The candidates are at least
a factor 2.2 apart (m, cm, mm, inch, and CMU's ASF unit of 1/0.45 inch), so any adult leg (0.55-1.2 m) is decided
unambiguously.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motion_retrieval.data.humanml3d import HUMANML3D_FPS, check_finite, load_array
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import SMPL22

log = logging.getLogger(__name__)

UNIT_SCALES = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "cmu": 0.0254 / 0.45}
_REFERENCE_LEG = SMPL22.reference_bone_lengths[4] + SMPL22.reference_bone_lengths[7]  # left thigh + shin, metres
_FPS_KEYS = ("fps", "mocap_framerate", "mocap_frame_rate", "frame_rate", "framerate")
_JOINT_KEYS = ("joints", "positions", "joint_positions", "keypoints_3d")
# Skeletons whose first 22 joints are SMPL-22 in HumanML3D order (SMPL 24, SMPL-H 52, SMPL-X 55 joint outputs).
_SMPL_PREFIX_SKELETONS = {
    "smpl22": 22,
    "smpl": 24,
    "smpl24": 24,
    "smplh": 52,
    "smplh52": 52,
    "smplx": 55,
    "smplx55": 55,
}
_KIT_SKELETONS = ("kit21", "kit", "kitml", "mmm")
MIN_SECONDS = 0.1  # two frames at 20 fps: the least a 263-d feature vector needs


def leg_length(smpl_joints: np.ndarray) -> float:
    """Mean hip -> knee -> ankle length of both legs over the take, in the array's units."""
    j = np.asarray(smpl_joints, dtype=np.float64)
    lengths = [
        np.linalg.norm(j[:, knee] - j[:, hip], axis=-1) + np.linalg.norm(j[:, ankle] - j[:, knee], axis=-1)
        for hip, knee, ankle in ((1, 4, 7), (2, 5, 8))
    ]
    return float(np.mean(lengths))


def detect_units(smpl_joints: np.ndarray, path: str | os.PathLike | None = None) -> str:
    """The unit (a key of UNIT_SCALES) under which the legs are closest to the reference length."""
    leg = leg_length(smpl_joints)
    if not leg > 0 or not math.isfinite(leg):
        raise MotionDataError(path, "cannot detect units: the legs have zero length")
    unit = min(UNIT_SCALES, key=lambda u: abs(math.log(leg * UNIT_SCALES[u] / _REFERENCE_LEG)))
    log.debug("%s: leg length %.4g -> units %s", path, leg, unit)
    return unit


def unit_scale(units: str, smpl_joints: np.ndarray, path: str | os.PathLike | None = None) -> float:
    units = detect_units(smpl_joints, path) if units == "auto" else units
    if units not in UNIT_SCALES:
        raise MotionDataError(path, f"unknown units {units!r}; use one of {', '.join(UNIT_SCALES)} or 'auto'")
    return UNIT_SCALES[units]


def to_y_up(positions: np.ndarray, up: str, path: str | os.PathLike | None = None) -> np.ndarray:
    """(..., 3) positions with ``up`` ("y" or "z") as the vertical, turned to Y-up by a proper rotation.

    Z-up -> Y-up is the rotation by -90 degrees about X: ``(x, y, z) -> (x, z, -y)`` (no mirroring, so left stays
    left).
    """
    up = up.lower()
    if up == "y":
        return positions
    if up == "z":
        return np.stack([positions[..., 0], positions[..., 2], -positions[..., 1]], axis=-1)
    raise MotionDataError(path, f"unknown up axis {up!r}; use 'y' or 'z'")


def joints_to_record(
    smpl_joints: np.ndarray,
    *,
    fps: float,
    path: str | os.PathLike,
    dataset: str,
    units: str = "auto",
    up: str = "y",
    compute_features: bool = True,
    motion_id: str | None = None,
    captions: list[Caption] | None = None,
    tags: list[str] | None = None,
) -> MotionRecord:
    """SMPL-22 positions (T, 22, 3) in any units/up axis/fps -> the canonical record at 20 fps.

    The joints are converted to metres and Y-up, resampled to 20 fps and floored like HumanML3D (the lowest joint over
    the take at y = 0); the features are ``features.joints_to_features`` of those joints.
    """
    from motion_retrieval.features import joints_to_features, resample

    joints = np.asarray(smpl_joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3):
        raise MotionDataError(path, f"expected SMPL-22 joints (T, 22, 3), got {joints.shape}")
    check_finite(joints, path)
    if not (math.isfinite(fps) and fps > 0):
        raise MotionDataError(path, f"frame rate must be positive, got {fps}")
    if joints.shape[0] < 2 or (joints.shape[0] - 1) / fps < MIN_SECONDS:
        raise MotionDataError(path, f"too short: {joints.shape[0]} frame(s) at {fps:g} fps")
    joints = to_y_up(joints, up, path) * unit_scale(units, joints, path)
    joints = resample(joints, fps, HUMANML3D_FPS)  # (T', 22, 3)
    joints[..., 1] -= joints[..., 1].min()
    joints = joints.astype(np.float32)
    features = None
    if compute_features:
        try:
            features = joints_to_features(joints, fps=HUMANML3D_FPS, path=path)  # (T'-1, 263)
        except MotionDataError:
            raise
        except (ValueError, FloatingPointError) as exc:
            raise MotionDataError(path, f"cannot compute features: {exc}") from None
    path = Path(path)
    return MotionRecord(
        id=motion_id or path.stem,
        dataset=dataset,
        fps=HUMANML3D_FPS,
        features=features,
        joints=joints,
        captions=captions if captions is not None else sidecar_captions(path),
        source=str(path),
        tags=list(tags or []),
    )


def sidecar_captions(path: str | os.PathLike) -> list[Caption]:
    """Captions from ``<stem>.txt`` beside a motion file: HumanML3D lines (with ``#``) or one plain caption a line."""
    from motion_retrieval.data.humanml3d import parse_text_line

    text_path = Path(path).with_suffix(".txt")
    if not text_path.is_file():
        return []
    captions = []
    for n, line in enumerate(text_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        captions.append(parse_text_line(line, text_path, n) if "#" in line else Caption(text=line.strip()))
    return captions


def _npz_scalar(archive, keys: Sequence[str]):
    for key in keys:
        if key in archive.files:
            value = archive[key]
            return value.item() if value.ndim == 0 else (value.reshape(-1)[0] if value.size == 1 else value)
    return None


def load_joint_array(path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """(T, J, 3) positions and whatever metadata the file carries (fps, skeleton, joint_names, units, up)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return load_array(path), {}
    if path.suffix.lower() != ".npz":
        raise MotionDataError(path, "expected a .npy or .npz joint file")
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise MotionDataError(path, "file not found") from None
    except (ValueError, OSError, EOFError) as exc:
        raise MotionDataError(path, f"cannot read .npz ({exc})") from None
    with archive:
        key = next((k for k in _JOINT_KEYS if k in archive.files), None)
        if key is None:
            if "poses" in archive.files or "pose_body" in archive.files:
                raise MotionDataError(
                    path,
                    "holds SMPL pose parameters (AMASS), not joint positions; run the SMPL body model to get joints "
                    "and save them under 'joints'",
                )
            raise MotionDataError(
                path, f"no joint array: expected one of {', '.join(_JOINT_KEYS)}, found {archive.files}"
            )
        try:
            joints = archive[key]
        except (ValueError, OSError, EOFError) as exc:
            raise MotionDataError(path, f"cannot read array {key!r} ({exc})") from None
        meta = {
            "fps": _npz_scalar(archive, _FPS_KEYS),
            "skeleton": _npz_scalar(archive, ("skeleton",)),
            "units": _npz_scalar(archive, ("units",)),
            "up": _npz_scalar(archive, ("up", "up_axis")),
            "joint_names": [str(n) for n in archive["joint_names"]] if "joint_names" in archive.files else None,
        }
    if joints.dtype.kind not in "fiu":
        raise MotionDataError(path, f"joint array {key!r} is not numeric (dtype {joints.dtype})")
    return joints, {k: v for k, v in meta.items() if v is not None}


def map_to_smpl22(
    joints: np.ndarray,
    *,
    skeleton: str | None,
    joint_names: Sequence[str] | None,
    path: str | os.PathLike,
) -> tuple[np.ndarray, str]:
    """(T, J, 3) in a named skeleton (or with named joints) -> ((T, 22, 3), name of the map used)."""
    from motion_retrieval.data import joint_maps

    if joints.ndim != 3 or joints.shape[-1] != 3:
        raise MotionDataError(path, f"joint positions must have shape (T, J, 3), got {joints.shape}")
    num_joints = joints.shape[1]
    if joint_names is not None:
        if len(joint_names) != num_joints:
            raise MotionDataError(path, f"{len(joint_names)} joint names for {num_joints} joints")
        joint_map = joint_maps.find_rig_map(joint_names, path)
        return joint_map.apply(joints, joint_names, path), joint_map.name
    key = (skeleton or {22: "smpl22", 24: "smpl24", 52: "smplh", 55: "smplx", 21: "kit21"}.get(num_joints, "")).lower()
    if key in _SMPL_PREFIX_SKELETONS:
        if num_joints < 22:
            raise MotionDataError(path, f"skeleton {key} needs at least 22 joints, got {num_joints}")
        return joints[:, :22], "smpl22"
    if key in _KIT_SKELETONS:
        from motion_retrieval.data.kitml import kit_to_smpl22

        if num_joints != 21:
            raise MotionDataError(path, f"skeleton {key} has 21 joints, got {num_joints}")
        return kit_to_smpl22(joints, path)
    raise MotionDataError(
        path,
        f"unknown skeleton for {num_joints} joints ({skeleton!r}): declare skeleton= one of "
        f"{', '.join([*_SMPL_PREFIX_SKELETONS, *_KIT_SKELETONS])}, or give joint_names",
    )


def read_mocap(
    path: str | os.PathLike,
    *,
    skeleton: str | None = None,
    fps: float | None = None,
    units: str | None = None,
    up: str | None = None,
    joint_names: Sequence[str] | None = None,
    compute_features: bool = True,
    dataset: str = "mocap",
) -> MotionRecord:
    """A ``.npy`` (T, J, 3) or ``.npz`` joint file as one SMPL-22 record at 20 fps.

    Arguments override what an .npz declares (keys ``joints``/``positions``, ``fps``/``mocap_framerate``,
    ``skeleton``, ``joint_names``, ``units``, ``up``). Defaults: skeleton by joint count (22 SMPL-22, 24/52/55 SMPL
    variants, 21 KIT-ML), 20 fps (the canonical rate) when nothing declares one, units "auto", up "y".
    """
    raw, meta = load_joint_array(path)
    skeleton = skeleton or meta.get("skeleton")
    joint_names = joint_names or meta.get("joint_names")
    fps = float(fps or meta.get("fps") or HUMANML3D_FPS)
    smpl, map_name = map_to_smpl22(raw, skeleton=skeleton, joint_names=joint_names, path=path)
    return joints_to_record(
        smpl,
        fps=fps,
        path=path,
        dataset=dataset,
        units=str(units or meta.get("units") or "auto"),
        up=str(up or meta.get("up") or "y"),
        compute_features=compute_features,
        tags=[f"skeleton:{map_name}"],
    )
