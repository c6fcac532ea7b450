"""Raw joint arrays (``.npy`` / ``.npz``, e.g. from pose estimators or mocap exports) into SMPL-22 records.

Shared with bvh.py: ``joints_to_record`` turns SMPL-22 positions in any units (units.py guesses them), Y- or Z-up,
at any frame rate into the canonical record (metres, Y-up, floored, 20 fps, with 263-d features).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motion_retrieval.data import joint_maps
from motion_retrieval.data.arrays import NUMERIC, TEXT, NpzArchive, npy_header, read_npy
from motion_retrieval.data.humanml3d import HUMANML3D_FPS, check_finite, parse_text_line
from motion_retrieval.data.joint_maps import JointMap
from motion_retrieval.data.limits import DEFAULT_LIMITS, TakeLimits, check_fps, check_joints, check_take
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.data.rig import orientation
from motion_retrieval.data.rig.mapping import RigMapping, finish_mapping, map_rig
from motion_retrieval.data.units import unit_scale
from motion_retrieval.errors import MotionDataError
from motion_retrieval.features import joints_to_features, resample
from motion_retrieval.skeleton import H36M17, KIT21

log = logging.getLogger(__name__)

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


def check_long_enough(num_frames: int, fps: float, path) -> None:
    """Two frames and ``MIN_SECONDS`` at least: what a 263-d feature vector needs (checked before any mapping)."""
    if num_frames < 2 or (num_frames - 1) / fps < MIN_SECONDS:
        raise MotionDataError(path, f"too short: {num_frames} frame(s) at {fps:g} fps")


def to_y_up(positions: np.ndarray, up: str, path: str | os.PathLike | None = None) -> np.ndarray:
    """(..., 3) positions whose vertical is the signed axis ``up`` ("y", "z", "x", "-y", ...) turned Y-up by a
    proper rotation (no mirroring, so left stays left; rig/orientation.py). Z-up -> Y-up is ``(x, y, z) -> (x, z,
    -y)``."""
    return orientation.to_y_up(positions, up, path)


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
    limits: TakeLimits = DEFAULT_LIMITS,
) -> MotionRecord:
    """SMPL-22 positions (T, 22, 3) in any units/up axis/fps -> the canonical record at 20 fps.

    The joints are converted to metres and Y-up, resampled to 20 fps and floored like HumanML3D (the lowest joint over
    the take at y = 0); the features are ``features.joints_to_features`` of those joints.
    """
    joints = np.asarray(smpl_joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3):
        raise MotionDataError(path, f"expected SMPL-22 joints (T, 22, 3), got {joints.shape}")
    check_finite(joints, path)
    fps = check_take(joints.shape[0], fps, path, limits)  # before resampling: the duration at 20 fps is bounded
    check_long_enough(joints.shape[0], fps, path)
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
    text_path = Path(path).with_suffix(".txt")
    if not text_path.is_file():
        return []
    captions = []
    for n, line in enumerate(text_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        captions.append(parse_text_line(line, text_path, n) if "#" in line else Caption(text=line.strip()))
    return captions


_TEXT_KEYS = {"skeleton": ("skeleton",), "units": ("units",), "up": ("up", "up_axis")}


def _member_key(archive, keys: Sequence[str]) -> str | None:
    return next((k for k in keys if k in archive), None)


def _read_metadata(archive, path, limits: TakeLimits) -> dict:
    """fps, skeleton, units, up, joint_names and parents of an .npz, each checked (never a pickle, never huge)."""
    meta: dict = {}
    key = _member_key(archive, _FPS_KEYS)
    if key is not None:
        value = archive.read(key, kinds=NUMERIC + TEXT)
        if value.size != 1:
            raise MotionDataError(path, f"{key!r} must be one number, got an array of shape {value.shape}")
        meta["fps"] = check_fps(value.reshape(-1)[0].item(), path, limits, what=key)
    for name, keys in _TEXT_KEYS.items():
        key = _member_key(archive, keys)
        if key is not None:
            value = archive.read(key, kinds=TEXT)
            if value.size != 1:
                raise MotionDataError(path, f"{key!r} must be one string, got an array of shape {value.shape}")
            meta[name] = str(value.reshape(-1)[0])
    if "joint_names" in archive:
        shape, _ = archive.header("joint_names")
        if len(shape) != 1 or shape[0] > limits.max_joints:
            raise MotionDataError(path, f"'joint_names' must be a list of at most {limits.max_joints} names, got "
                                        f"shape {shape}")
        meta["joint_names"] = [str(n) for n in archive.read("joint_names", kinds=TEXT)]
    key = _member_key(archive, ("parents", "joint_parents"))
    if key is not None:
        shape, _ = archive.header(key)
        if len(shape) != 1 or shape[0] > limits.max_joints:
            raise MotionDataError(path, f"{key!r} must be a list of at most {limits.max_joints} parent indices, got "
                                        f"shape {shape}")
        parents = archive.read(key, kinds="iu")
        meta["parents"] = [int(p) for p in parents.astype(np.int64)]
    return meta


def load_joint_array(
    path: str | os.PathLike, *, fps: float | None = None, limits: TakeLimits = DEFAULT_LIMITS
) -> tuple[np.ndarray, dict]:
    """(T, J, 3) positions and whatever metadata the file carries (fps, skeleton, joint_names, parents, units, up).

    Headers come first: the shape (T, J, 3), the joint count and the take's length at the declared (or given) fps
    are checked against ``limits`` before the positions are read (data/arrays.py, data/limits.py).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        shape, _ = npy_header(path, limits)
        _check_joint_shape(shape, fps or HUMANML3D_FPS, path, limits)
        return read_npy(path, limits), {}
    if suffix != ".npz":
        raise MotionDataError(path, "expected a .npy or .npz joint file")
    with NpzArchive(path, limits) as archive:
        key = _member_key(archive, _JOINT_KEYS)
        if key is None:
            if "poses" in archive or "pose_body" in archive:
                raise MotionDataError(
                    path,
                    "holds SMPL pose parameters (AMASS), not joint positions; run the SMPL body model to get joints "
                    "and save them under 'joints'",
                )
            raise MotionDataError(
                path, f"no joint array: expected one of {', '.join(_JOINT_KEYS)}, found {archive.files}"
            )
        meta = _read_metadata(archive, path, limits)
        shape, _ = archive.header(key)
        _check_joint_shape(shape, fps or meta.get("fps") or HUMANML3D_FPS, path, limits)
        joints = archive.read(key)
    return joints, meta


def _check_joint_shape(shape: tuple[int, ...], fps: float, path, limits: TakeLimits) -> None:
    if len(shape) != 3 or shape[-1] != 3:
        raise MotionDataError(path, f"joint positions must have shape (T, J, 3), got {shape}")
    check_joints(shape[1], path, limits)
    check_long_enough(shape[0], check_take(shape[0], fps, path, limits), path)


def map_to_smpl22(
    joints: np.ndarray,
    *,
    skeleton: str | None,
    joint_names: Sequence[str] | None,
    path: str | os.PathLike,
    parents: Sequence[int] | None = None,
    rig: str | JointMap | None = None,
    up: str = "auto",
    units: str = "auto",
) -> tuple[np.ndarray, RigMapping]:
    """(T, J, 3) in a declared skeleton or a named rig -> ((T, 22, 3) SMPL-22 in metres, Y-up; how it was mapped).

    Joint names (with parents, or a ``rig`` map) go through rig.map_rig: a known rig's explicit map, else the
    automatic mapping. Otherwise the skeleton is declared (or guessed from the joint count: 22 SMPL-22, 24/52/55 SMPL
    variants, 21 KIT-ML): SMPL variants keep their first 22 joints, KIT-ML and Human3.6M (``h36m17``) go through
    their joint maps.
    """
    if joints.ndim != 3 or joints.shape[-1] != 3:
        raise MotionDataError(path, f"joint positions must have shape (T, J, 3), got {joints.shape}")
    num_joints = joints.shape[1]
    if joint_names is not None or (rig is not None and not skeleton):
        names = list(joint_names) if joint_names is not None else [f"joint{i}" for i in range(num_joints)]
        if len(names) != num_joints:
            raise MotionDataError(path, f"{len(names)} joint names for {num_joints} joints")
        if parents is not None and len(parents) != num_joints:
            raise MotionDataError(path, f"{len(parents)} parents for {num_joints} joints")
        return map_rig(joints, names, parents, rig=rig, up=up, units=units, path=path)
    key = (skeleton or {22: "smpl22", 24: "smpl24", 52: "smplh", 55: "smplx", 21: "kit21"}.get(num_joints, "")).lower()
    if key in _SMPL_PREFIX_SKELETONS:
        if num_joints < 22:
            raise MotionDataError(path, f"skeleton {key} needs at least 22 joints, got {num_joints}")
        names = [f"joint{i}" for i in range(num_joints)]
        weights = np.eye(22, num_joints)
        return finish_mapping(joints, names, weights, "explicit", "smpl22", up=up, units=units, path=path)
    if key in _KIT_SKELETONS:
        if num_joints != 21:
            raise MotionDataError(path, f"skeleton {key} has 21 joints, got {num_joints}")
        names = list(KIT21.joint_names)
        smpl = joint_maps.KIT21_TO_SMPL22.apply(joints, names, path)
        axis = orientation.detect_up(smpl, path)[0] if up == "auto" else orientation.parse_axis(up, path)
        _, map_name = joint_maps.kit_to_smpl22(orientation.to_y_up(joints, axis, path), path)  # left/right decided Y-up
        weights = joint_maps.get_rig_map(map_name).weights(names, path)
        return finish_mapping(joints, names, weights, "explicit", map_name, up=axis, units=units, path=path)
    if key == H36M17.name:
        if num_joints != 17:
            raise MotionDataError(path, f"skeleton h36m17 has 17 joints, got {num_joints}")
        names = list(H36M17.joint_names)
        weights = joint_maps.H36M17_TO_SMPL22.weights(names, path)
        return finish_mapping(joints, names, weights, "explicit", "h36m17", up=up, units=units, path=path,
                              synthesized=("left_foot", "right_foot"))
    raise MotionDataError(
        path,
        f"unknown skeleton for {num_joints} joints ({skeleton!r}): declare skeleton= one of "
        f"{', '.join([*_SMPL_PREFIX_SKELETONS, *_KIT_SKELETONS, H36M17.name])}, or give joint_names (and parents)",
    )


def h36m17_to_smpl22(
    joints: np.ndarray, *, up: str = "auto", path: str | os.PathLike | None = None
) -> np.ndarray:
    """(T, 17, 3) Human3.6M joints -> (T, 22, 3) SMPL-22 joints, in the same axes and units as the input.

    ``up``: the input's vertical as a signed axis ("y", "-y" for camera coordinates, "z", ...) or "auto" (head above
    the feet over the take). It only orients the synthesized feet; the output keeps the input's axes.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (17, 3):
        raise MotionDataError(path, f"Human3.6M joints must have shape (T, 17, 3), got {joints.shape}")
    smpl = joint_maps.H36M17_TO_SMPL22.apply(joints, H36M17.joint_names, path)  # (T, 22, 3) feet still at the ankles
    axis = orientation.detect_up(smpl, path)[0] if up == "auto" else orientation.parse_axis(up, path)
    y_up = joint_maps.synthesize_feet(orientation.to_y_up(smpl, axis, path))
    return orientation.from_y_up(y_up, axis, path)


def read_mocap_with_mapping(
    path: str | os.PathLike,
    *,
    skeleton: str | None = None,
    fps: float | None = None,
    units: str | None = None,
    up: str | None = None,
    joint_names: Sequence[str] | None = None,
    parents: Sequence[int] | None = None,
    rig: str | JointMap | None = None,
    compute_features: bool = True,
    dataset: str = "mocap",
    limits: TakeLimits = DEFAULT_LIMITS,
) -> tuple[MotionRecord, RigMapping]:
    """``read_mocap`` and the mapping it used (for ``motion-retrieval inspect``)."""
    if fps is not None:
        fps = check_fps(fps, path, limits)
    raw, meta = load_joint_array(path, fps=fps, limits=limits)
    fps = fps or meta.get("fps") or HUMANML3D_FPS
    check_finite(raw, path)
    smpl, mapping = map_to_smpl22(
        raw,
        skeleton=skeleton or meta.get("skeleton"),
        joint_names=joint_names or meta.get("joint_names"),
        parents=parents or meta.get("parents"),
        rig=rig,
        up=str(up or meta.get("up") or "auto"),
        units=str(units or meta.get("units") or "auto"),
        path=path,
    )
    tags = mapping.tags()
    if not (joint_names or meta.get("joint_names") or rig is not None):  # a declared skeleton, not a rig
        tags[0] = f"skeleton:{mapping.name}"
    record = joints_to_record(
        smpl, fps=fps, path=path, dataset=dataset, units="m", up="y", compute_features=compute_features, tags=tags,
        limits=limits,
    )
    return record, mapping


def read_mocap(path: str | os.PathLike, **options) -> MotionRecord:
    """A ``.npy`` (T, J, 3) or ``.npz`` joint file as one SMPL-22 record at 20 fps.

    Options override what an .npz declares (keys ``joints``/``positions``, ``fps``/``mocap_framerate``,
    ``skeleton``, ``joint_names``, ``parents``, ``units``, ``up``): ``skeleton``, ``fps``, ``units`` ("auto" by leg
    length), ``up`` ("auto" from the motion, or a signed axis "y"/"z"/"-y"...), ``joint_names``, ``parents``,
    ``rig`` (a joint_maps rig name, "auto", or a JointMap), ``compute_features``, ``dataset``, ``limits``.
    Defaults: skeleton by joint count (22 SMPL-22, 24/52/55 SMPL variants, 21 KIT-ML), 20 fps (the canonical rate)
    when nothing declares one. The record's tags say how it was mapped (``skeleton:NAME`` or ``rig:NAME``,
    ``rig-method:``, ``rig-up:``, ``rig-units:``).
    """
    return read_mocap_with_mapping(path, **options)[0]
