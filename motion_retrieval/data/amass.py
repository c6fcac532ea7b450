"""AMASS / SMPL-family pose parameters (``.npz``) into SMPL-22 records.

AMASS (Mahmood et al., ICCV 2019) stores each take as body-model parameters, not joints:
- ``poses`` (T, 72 | 156 | 165): axis-angle per joint, root first (SMPL 24 joints, SMPL-H 52, SMPL-X 55), or the
  split form of its SMPL-X release, ``root_orient`` (T, 3) + ``pose_body`` (T, 63) (+ ``pose_hand``, jaw, eyes);
- ``trans`` (T, 3) root translation in metres; ``betas`` (10, 16 or more) the subject's shape;
- ``mocap_framerate`` (SMPL-H release) or ``mocap_frame_rate`` (SMPL-X release); ``gender``;
  ``surface_model_type`` ("smplh" / "smplx") in the SMPL-X release.
The first 22 joints of every layout are SMPL-22 in HumanML3D's order, so only the root and the 21 body rotations are
used (hands, jaw and eyes move no body joint). Joints come from SMPL's forward kinematics (``smpl_body``): with the
mean-shape rest joints of the file's gender by default, or, with ``body_model=DIR`` (``--body-model``), the exact
rest joints of the subject's ``betas`` from the user's own model files. AMASS's world is Z up; the joints are turned
Y up by a proper rotation (no mirroring) and go through the same record pipeline as any joint file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from motion_retrieval.data.arrays import NUMERIC, TEXT, NpzArchive
from motion_retrieval.data.limits import DEFAULT_LIMITS, TakeLimits, check_fps, check_take
from motion_retrieval.data.mocap import check_long_enough, joints_to_record, map_to_smpl22
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.data.smpl_body import (
    GENDERS,
    NUM_JOINTS,
    find_body_model,
    forward_kinematics,
    load_body_model,
    mean_rest_joints,
)
from motion_retrieval.errors import MotionDataError

log = logging.getLogger(__name__)

POSE_KEYS = ("poses", "root_orient", "pose_body")
FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")
# Width of ``poses`` -> the body model it was fitted with (joints x 3).
POSE_WIDTHS = {72: "smpl", 156: "smplh", 165: "smplx"}


def is_amass_npz(path: str | os.PathLike, limits: TakeLimits = DEFAULT_LIMITS) -> bool:
    """Whether an .npz holds SMPL-family pose parameters (``poses``, or ``root_orient`` + ``pose_body``)."""
    with NpzArchive(path, limits) as archive:
        return "poses" in archive or ("root_orient" in archive and "pose_body" in archive)


def read_amass_with_mapping(
    path: str | os.PathLike,
    *,
    body_model: str | os.PathLike | None = None,
    fps: float | None = None,
    compute_features: bool = True,
    dataset: str = "amass",
    limits: TakeLimits = DEFAULT_LIMITS,
):
    """An AMASS-style .npz as one SMPL-22 record at 20 fps, and the RigMapping it used (``skeleton:<model type>``).

    ``fps`` overrides the file's frame rate; ``body_model`` is a folder of SMPL/SMPL-H/SMPL-X ``.npz`` model files
    (or one file) for exact per-subject joints. Every malformed part is a MotionDataError naming the key.
    """
    path = Path(path)
    params = read_pose_parameters(path, fps=fps, limits=limits)
    if body_model is not None:
        model_path = find_body_model(body_model, params.model_type, params.gender)
        rest = load_body_model(model_path).rest_joints(params.betas)
        shape_tag = "body-shape:subject"
        log.debug("%s: rest joints from %s and %d betas", path, model_path, len(params.betas))
    else:
        rest = mean_rest_joints(params.gender)
        shape_tag = "body-shape:mean"
    joints = forward_kinematics(rest, params.pose, params.trans)  # (T, 22, 3) metres, Z up
    if not np.isfinite(joints).all():
        raise MotionDataError(path, "forward kinematics gave non-finite joints (check 'poses' and 'trans')")
    smpl, mapping = map_to_smpl22(joints, skeleton="smpl22", joint_names=None, path=path, up="z", units="m")
    tags = mapping.tags()
    tags[0] = f"skeleton:{params.model_type}"
    tags += [shape_tag, f"gender:{params.gender}"]
    record = joints_to_record(smpl, fps=params.fps, path=path, dataset=dataset, units="m", up="y",
                              compute_features=compute_features, tags=tags, limits=limits)
    return record, mapping


def read_amass(path: str | os.PathLike, **options) -> MotionRecord:
    return read_amass_with_mapping(path, **options)[0]


class PoseParameters:
    """The checked contents of an AMASS file that the body's joints depend on."""

    def __init__(self, pose: np.ndarray, trans: np.ndarray, betas: np.ndarray, fps: float, gender: str,
                 model_type: str):
        self.pose = pose  # (T, 22, 3) axis-angle, root first
        self.trans = trans  # (T, 3) metres
        self.betas = betas  # (B,)
        self.fps = fps
        self.gender = gender
        self.model_type = model_type


def read_pose_parameters(path: Path, *, fps: float | None = None,
                         limits: TakeLimits = DEFAULT_LIMITS) -> PoseParameters:
    """Read and check the pose arrays of an AMASS .npz: headers first (shapes, the take's length against
    ``limits``), then the values (finite)."""
    with NpzArchive(path, limits) as archive:
        frame_rate = _frame_rate(archive, path, fps, limits)
        if "poses" in archive:
            shape = _shape(archive, "poses", 2, path)
            model_type = POSE_WIDTHS.get(shape[1])
            if model_type is None and shape[1] < NUM_JOINTS * 3:
                raise MotionDataError(path, f"'poses' has {shape[1]} values a frame; SMPL-family poses have "
                                            f"{', '.join(map(str, POSE_WIDTHS))} (3 per joint, root first)")
            frames = _check_length(shape[0], frame_rate, path, limits)
            poses = archive.read("poses")[:, :NUM_JOINTS * 3]  # (T, 66): root + 21 body joints
        else:
            root_shape = _shape(archive, "root_orient", 2, path)
            body_shape = _shape(archive, "pose_body", 2, path)
            if root_shape[1] != 3 or body_shape[1] != (NUM_JOINTS - 1) * 3 or root_shape[0] != body_shape[0]:
                raise MotionDataError(path, f"'root_orient' must be (T, 3) and 'pose_body' (T, 63) with the same T, "
                                            f"got {root_shape} and {body_shape}")
            frames = _check_length(root_shape[0], frame_rate, path, limits)
            poses = np.concatenate([archive.read("root_orient"), archive.read("pose_body")], axis=1)  # (T, 66)
            model_type = None
        if "trans" not in archive:
            raise MotionDataError(path, f"no 'trans' (root translation, (T, 3) metres); found {archive.files}")
        trans_shape = _shape(archive, "trans", 2, path)
        if trans_shape != (frames, 3):
            raise MotionDataError(path, f"'trans' must be ({frames}, 3) like the poses, got {trans_shape}")
        trans = archive.read("trans")
        betas = np.zeros(0)
        if "betas" in archive:
            beta_shape, _ = archive.header("betas")
            if len(beta_shape) not in (1, 2) or int(np.prod(beta_shape)) > 1000:
                raise MotionDataError(path, f"'betas' must be (B,) shape coefficients, got shape {beta_shape}")
            betas = archive.read("betas").reshape(-1)[: beta_shape[-1]]
        gender = _text(archive, "gender", path) or "neutral"
        surface = _text(archive, "surface_model_type", path)
        if model_type is None:
            model_type = surface or ("smplx" if "pose_jaw" in archive or "pose_eye" in archive else "smplh")
    gender = gender.lower()
    if gender not in GENDERS:
        raise MotionDataError(path, f"'gender' is {gender!r}; expected one of {', '.join(GENDERS)}")
    model_type = model_type.lower()
    for name, array in (("poses", poses), ("trans", trans), ("betas", betas)):
        if not np.isfinite(array).all():
            raise MotionDataError(path, f"{name!r} holds non-finite values")
    if np.abs(poses).max(initial=0.0) > 100.0:  # radians: a file of degrees, or garbage
        raise MotionDataError(path, "'poses' holds rotations larger than 100 radians: expected axis-angle radians")
    pose = np.asarray(poses, np.float64).reshape(frames, NUM_JOINTS, 3)
    return PoseParameters(pose, np.asarray(trans, np.float64), np.asarray(betas, np.float64), frame_rate, gender,
                          model_type)


def _shape(archive: NpzArchive, key: str, rank: int, path: Path) -> tuple[int, ...]:
    if key not in archive:
        raise MotionDataError(path, f"no {key!r} array; found {archive.files}")
    shape, dtype = archive.header(key)
    if len(shape) != rank or dtype.kind not in NUMERIC:
        raise MotionDataError(path, f"{key!r} must be a {rank}-d numeric array, got shape {shape} ({dtype})")
    return shape


def _check_length(frames: int, fps: float, path: Path, limits: TakeLimits) -> int:
    check_long_enough(frames, check_take(frames, fps, path, limits), path)
    return frames


def _frame_rate(archive: NpzArchive, path: Path, fps: float | None, limits: TakeLimits) -> float:
    if fps is not None:
        return check_fps(fps, path, limits)
    key = next((k for k in FPS_KEYS if k in archive), None)
    if key is None:
        raise MotionDataError(path, f"no frame rate: expected {' or '.join(FPS_KEYS)} (or pass fps)")
    value = archive.read(key)
    if value.size != 1:
        raise MotionDataError(path, f"{key!r} must be one number, got an array of shape {value.shape}")
    return check_fps(value.reshape(-1)[0].item(), path, limits, what=key)


def _text(archive: NpzArchive, key: str, path: Path) -> str | None:
    if key not in archive:
        return None
    value = archive.read(key, kinds=TEXT)
    if value.size != 1:
        raise MotionDataError(path, f"{key!r} must be one string, got an array of shape {value.shape}")
    text = value.reshape(-1)[0]
    return (text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)).strip()
