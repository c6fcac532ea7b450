"""Joint positions <-> the HumanML3D feature vector: a faithful numpy port of HumanML3D's processing.

The reference is ``motion_representation.ipynb`` / ``common/skeleton.py`` of EricGuo5513/HumanML3D ([H] in
PAPER.md). For a skeleton of J joints a frame has ``12 J - 1`` values (263 for SMPL-22, 251 for KIT-21):

    root rot-vel (1) | root lin-vel xz (2) | root y (1) | RIC (J-1)*3 | 6D rotations (J-1)*6 | local vel J*3 | feet (4)

Frame t of the features is built from positions t and t+1, so T positions give T-1 feature frames.

Details kept on purpose, because the published features depend on them:
- the facing direction of every frame (root rotation) is Gaussian-smoothed over time (sigma 20 frames);
- inside inverse kinematics HumanML3D unpacks the face joints as ``l_hip, r_hip, sdr_r, sdr_l`` although they are
  stored as ``(r_hip, l_hip, r_shoulder, l_shoulder)``, so the per-frame "across" vector there is
  ``(l_hip - r_hip) + (r_shoulder - l_shoulder)``; the initial facing (``process_file``) uses the right order;
- every kinematic chain starts from the root rotation, also the arm chains that hang off spine3;
- the first frame's root rotation is the identity (it already faces +Z), not its smoothed facing;
- the root rotation velocity is ``arcsin`` of the y component of the frame-to-frame root quaternion (a half angle).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from motion_retrieval.errors import MotionDataError
from motion_retrieval.rotations import (
    gaussian_filter1d,
    qbetween,
    qinv,
    qmul,
    qrot,
    quaternion_to_cont6d,
)
from motion_retrieval.serving.tensors import FEATURE_DIM as SERVED_FEATURE_DIM
from motion_retrieval.skeleton import SMPL22, SkeletonSpec, get_skeleton

logger = logging.getLogger(__name__)

__all__ = [
    "FEATURE_DIM",
    "FOOT_CONTACT",
    "FPS",
    "FeatureLayout",
    "LOCAL_VEL",
    "RIC",
    "ROOT_LIN_VEL",
    "ROOT_ROT_VEL",
    "ROOT_Y",
    "ROT6D",
    "canonicalize_joints",
    "feature_dim",
    "feature_layout",
    "features_to_joints",
    "forward_kinematics",
    "inverse_kinematics",
    "joints_to_features",
    "recover_root_rot_pos",
    "resample",
    "retarget",
    "uniform_skeleton",
]

PathLike = str | os.PathLike | None

FACING_SMOOTH_SIGMA = 20.0  # frames; HumanML3D's gaussian_filter1d(forward, 20) in inverse_kinematics_np
_UP = np.array([0.0, 1.0, 0.0])
_FORWARD = np.array([0.0, 0.0, 1.0])


# ----------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class FeatureLayout:
    """Where each feature group lives in the vector of a J-joint skeleton."""

    num_joints: int
    root_rot_vel: slice  # 1: rotation velocity about Y (half-angle radians per frame)
    root_lin_vel: slice  # 2: root velocity on XZ in the root's facing frame
    root_y: slice  # 1: root height
    ric: slice  # (J-1)*3: rotation-invariant joint positions relative to the root (root-facing frame)
    rot6d: slice  # (J-1)*6: local joint rotations, continuous 6D
    local_vel: slice  # J*3: joint velocities in the root's facing frame
    foot_contact: slice  # 4: left foot (2 joints), right foot (2 joints), 0/1

    @property
    def dim(self) -> int:
        return self.foot_contact.stop

    def groups(self) -> dict[str, slice]:
        return {name: getattr(self, name) for name in
                ("root_rot_vel", "root_lin_vel", "root_y", "ric", "rot6d", "local_vel", "foot_contact")}


def feature_layout(num_joints: int) -> FeatureLayout:
    """The HumanML3D layout for ``num_joints`` joints (22 -> 263-d, 21 -> KIT-ML's 251-d)."""
    if num_joints < 2:
        raise ValueError(f"a skeleton needs at least 2 joints, got {num_joints}")
    j = num_joints
    ric_end = 4 + (j - 1) * 3
    rot_end = ric_end + (j - 1) * 6
    vel_end = rot_end + j * 3
    return FeatureLayout(j, slice(0, 1), slice(1, 3), slice(3, 4), slice(4, ric_end), slice(ric_end, rot_end),
                         slice(rot_end, vel_end), slice(vel_end, vel_end + 4))


def feature_dim(num_joints: int) -> int:
    """Feature size for ``num_joints`` joints: ``12 J - 1``."""
    return feature_layout(num_joints).dim


_LAYOUT22 = feature_layout(22)
FEATURE_DIM = SERVED_FEATURE_DIM  # 263, defined once by the serving contract; the SMPL-22 layout must agree
if _LAYOUT22.dim != FEATURE_DIM:  # pragma: no cover - a layout change would break every exported model
    raise ImportError(f"the SMPL-22 feature layout has {_LAYOUT22.dim} values, the serving contract {FEATURE_DIM}")
FPS = 20.0
ROOT_ROT_VEL = _LAYOUT22.root_rot_vel  # 0:1
ROOT_LIN_VEL = _LAYOUT22.root_lin_vel  # 1:3
ROOT_Y = _LAYOUT22.root_y  # 3:4
RIC = _LAYOUT22.ric  # 4:67
ROT6D = _LAYOUT22.rot6d  # 67:193
LOCAL_VEL = _LAYOUT22.local_vel  # 193:259
FOOT_CONTACT = _LAYOUT22.foot_contact  # 259:263


# ----------------------------------------------------------------------------------- validation
def _check_joints(joints: np.ndarray, spec: SkeletonSpec, path: PathLike, min_frames: int = 2) -> np.ndarray:
    try:
        arr = np.asarray(joints, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MotionDataError(path, f"joint positions are not numeric: {exc}") from None
    if arr.ndim != 3 or arr.shape[1:] != (spec.num_joints, 3):
        raise MotionDataError(path, f"joint positions must have shape (T, {spec.num_joints}, 3) for skeleton "
                                    f"{spec.name}, got {tuple(arr.shape)}")
    if arr.shape[0] < min_frames:
        raise MotionDataError(path, f"a motion needs at least {min_frames} frames, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise MotionDataError(path, f"joint positions contain NaN or inf (first at frame {bad[0]}, joint {bad[1]})")
    return arr


def _check_features(features: np.ndarray, spec: SkeletonSpec, path: PathLike) -> np.ndarray:
    try:
        arr = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MotionDataError(path, f"features are not numeric: {exc}") from None
    if arr.ndim < 2 or arr.shape[-1] != spec.feature_dim:
        raise MotionDataError(path, f"features must have shape (..., T, {spec.feature_dim}) for skeleton "
                                    f"{spec.name}, got {tuple(arr.shape)}")
    if arr.shape[-2] < 1:
        raise MotionDataError(path, "features have no frames")
    if not np.all(np.isfinite(arr)):
        raise MotionDataError(path, "features contain NaN or inf")
    return arr


# ----------------------------------------------------------------------------------- time
def resample(joints: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Resample a motion in time by linear interpolation between neighbouring frames.

    ``joints``: (T, ...) sampled at ``src_fps``. Output frame k is the motion at time ``k / dst_fps`` for every
    such time inside the source clip, i.e. ``floor((T - 1) * dst_fps / src_fps) + 1`` frames. Where the ratio is
    an integer (AMASS 60/120 fps -> 20 fps) this picks exactly every n-th frame, as HumanML3D's downsampling does.
    """
    if not (np.isfinite(src_fps) and np.isfinite(dst_fps)) or src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive, got src_fps={src_fps}, dst_fps={dst_fps}")
    joints = np.asarray(joints)
    if src_fps == dst_fps:
        return joints.copy()
    n_src = joints.shape[0]
    ratio = src_fps / dst_fps  # source frames per output frame
    n_dst = int(np.floor((n_src - 1) / ratio + 1e-9)) + 1
    t = np.arange(n_dst) * ratio  # (T',) source-frame coordinates
    i0 = np.minimum(np.floor(t + 1e-9).astype(np.int64), n_src - 1)  # (T',)
    i1 = np.minimum(i0 + 1, n_src - 1)
    w = np.clip(t - i0, 0.0, 1.0).reshape((-1,) + (1,) * (joints.ndim - 1))  # (T', 1, ...)
    return (1.0 - w) * joints[i0] + w * joints[i1]  # (T', ...)


# ----------------------------------------------------------------------------------- kinematics
def _chain_parents(spec: SkeletonSpec) -> np.ndarray:
    """(J,) the joint whose global rotation each joint's local rotation is measured against in HumanML3D's IK/FK:
    the previous joint of its chain, except that the first bone of every chain is measured against the root."""
    ik_parent = np.zeros(spec.num_joints, dtype=np.int64)
    for chain in spec.kinematic_chains:
        for k in range(2, len(chain)):
            ik_parent[chain[k]] = chain[k - 1]
    return ik_parent


def _facing_across(joints: np.ndarray, spec: SkeletonSpec, ik_order: bool) -> np.ndarray:
    """(..., J, 3) -> (..., 3) the unit "across the body" vector from hips and shoulders.

    ``ik_order=True`` reproduces HumanML3D's ``inverse_kinematics_np``, which unpacks the face joints in another
    order than they are stored (see the module docstring); ``False`` is ``process_file``'s initial facing.
    """
    r_hip, l_hip, r_sdr, l_sdr = spec.face_joints
    if ik_order:
        across = (joints[..., l_hip, :] - joints[..., r_hip, :]) + (joints[..., r_sdr, :] - joints[..., l_sdr, :])
    else:
        across = (joints[..., r_hip, :] - joints[..., l_hip, :]) + (joints[..., r_sdr, :] - joints[..., l_sdr, :])
    return across / np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-12)


def _forward_from_across(across: np.ndarray, path: PathLike, what: str, normalize: bool = True) -> np.ndarray:
    """Unit across vector(s) (..., 3) -> horizontal forward direction(s) ``up x across`` (..., 3).

    With ``normalize=False`` the length (the horizontal share of the across vector) is kept: HumanML3D smooths
    these un-normalised vectors, so frames with a tilted torso weigh less in the smoothed facing.
    """
    forward = np.cross(_UP, across)  # (..., 3), horizontal
    norm = np.linalg.norm(forward, axis=-1, keepdims=True)
    if np.any(norm < 1e-8):
        raise MotionDataError(path, f"cannot tell which way the body faces ({what}): hips and shoulders are "
                                    "degenerate or vertical")
    return forward / norm if normalize else forward


def inverse_kinematics(joints: np.ndarray, spec: SkeletonSpec = SMPL22, smooth_forward: bool = False,
                       identity_first_frame: bool = False, path: PathLike = None) -> np.ndarray:
    """HumanML3D's ``inverse_kinematics_np``: local joint quaternions that rotate the raw offsets onto the bones.

    ``joints``: (T, J, 3). Returns (T, J, 4): joint 0 is the root (facing) rotation that turns the body's forward
    direction onto +Z; joint j is its rotation relative to its chain parent (see ``_chain_parents``).
    ``identity_first_frame`` sets the first frame's root rotation to the identity, as the code that produced the
    published HumanML3D features did (see ``joints_to_features``).
    """
    joints = np.asarray(joints, dtype=np.float64)
    forward = _forward_from_across(_facing_across(joints, spec, ik_order=True), path, "per frame",
                                   normalize=False)  # (T, 3)
    if smooth_forward:
        forward = gaussian_filter1d(forward, FACING_SMOOTH_SIGMA, axis=0)
    forward = forward / np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-12)
    root_quat = qbetween(forward, np.broadcast_to(_FORWARD, forward.shape))  # (T, 4)
    if identity_first_frame:
        root_quat[0] = (1.0, 0.0, 0.0, 0.0)

    parents = np.asarray(spec.parents)
    bones = joints - joints[:, np.maximum(parents, 0)]  # (T, J, 3); row 0 is zero
    lengths = np.linalg.norm(bones[:, 1:], axis=-1)  # (T, J-1)
    if np.any(lengths < 1e-8):
        t, j = np.argwhere(lengths < 1e-8)[0]
        raise MotionDataError(path, f"bone {spec.joint_names[parents[j + 1]]} -> {spec.joint_names[j + 1]} has "
                                    f"zero length at frame {t}; joint rotations are undefined")
    global_rot = np.empty(joints.shape[:2] + (4,))  # (T, J, 4): rotation of raw offset j onto bone j
    global_rot[:, 0] = root_quat
    global_rot[:, 1:] = qbetween(spec.raw_offsets_array()[1:], bones[:, 1:] / lengths[..., None])
    local = qmul(qinv(global_rot[:, _chain_parents(spec)]), global_rot)  # (T, J, 4)
    local[:, 0] = root_quat
    return local


def forward_kinematics(local_quats: np.ndarray, root_positions: np.ndarray, spec: SkeletonSpec = SMPL22,
                       offsets: np.ndarray | None = None) -> np.ndarray:
    """HumanML3D's ``forward_kinematics_np``, the inverse of :func:`inverse_kinematics`.

    ``local_quats``: (T, J, 4); ``root_positions``: (T, 3); ``offsets``: (J, 3) rest-pose bone vectors, default
    the spec's reference offsets. Returns (T, J, 3).
    """
    local_quats = np.asarray(local_quats, dtype=np.float64)
    offsets = spec.reference_offsets() if offsets is None else np.asarray(offsets, dtype=np.float64)
    ik_parent = _chain_parents(spec)
    global_rot = np.empty_like(local_quats)  # (T, J, 4)
    joints = np.empty(local_quats.shape[:2] + (3,))  # (T, J, 3)
    global_rot[:, 0] = local_quats[:, 0]
    joints[:, 0] = root_positions
    for j in range(1, spec.num_joints):  # parents (and chain starts) precede their children
        global_rot[:, j] = qmul(global_rot[:, ik_parent[j]], local_quats[:, j])
        joints[:, j] = joints[:, spec.parents[j]] + qrot(global_rot[:, j], offsets[j])
    return joints


def retarget(joints: np.ndarray, spec: SkeletonSpec = SMPL22, path: PathLike = None) -> np.ndarray:
    """HumanML3D's ``uniform_skeleton``: move a motion onto the reference skeleton's bone lengths.

    The root trajectory is scaled by the ratio of leg lengths (reference / first frame of the motion) and every
    bone keeps its direction with the reference length. HumanML3D does this as IK then FK with the reference
    offsets; FK of those IK rotations puts each bone back along its measured direction, so this direct form is the
    same result without the rotation round trip (tested against it). (T, J, 3) -> (T, J, 3).
    """
    joints = _check_joints(joints, spec, path, min_frames=1)
    parents = np.asarray(spec.parents)
    bones = joints - joints[:, np.maximum(parents, 0)]  # (T, J, 3)
    lengths = np.linalg.norm(bones, axis=-1)  # (T, J)
    if np.any(lengths[:, 1:] < 1e-8):
        t, j = np.argwhere(lengths[:, 1:] < 1e-8)[0]
        raise MotionDataError(path, f"bone {spec.joint_names[parents[j + 1]]} -> {spec.joint_names[j + 1]} has "
                                    f"zero length at frame {t}; cannot retarget")
    l1, l2 = spec.leg_bones
    reference = np.asarray(spec.reference_bone_lengths, dtype=np.float64)
    scale = (reference[l1] + reference[l2]) / (lengths[0, l1] + lengths[0, l2])
    out = np.empty_like(joints)
    out[:, 0] = joints[:, 0] * scale
    for j in range(1, spec.num_joints):
        out[:, j] = out[:, parents[j]] + bones[:, j] * (reference[j] / lengths[:, j])[:, None]
    return out


uniform_skeleton = retarget  # HumanML3D's name


# ----------------------------------------------------------------------------------- joints -> features
def canonicalize_joints(joints: np.ndarray, spec: SkeletonSpec = SMPL22, retarget_skeleton: bool = True,
                        path: PathLike = None) -> np.ndarray:
    """Retarget, put on the floor, move the first root to the XZ origin and turn the first frame to face +Z.

    (T, J, 3) -> (T, J, 3): the "global positions" HumanML3D computes the features from.
    """
    positions = _check_joints(joints, spec, path, min_frames=1)
    if retarget_skeleton:
        positions = retarget(positions, spec, path)
    positions = positions.copy()
    positions[..., 1] -= positions[..., 1].min()  # floor: lowest joint over the whole clip at y = 0
    root_xz = positions[0, 0] * np.array([1.0, 0.0, 1.0])
    positions -= root_xz  # (T, J, 3)
    forward = _forward_from_across(_facing_across(positions[0], spec, ik_order=False), path, "first frame")
    face_quat = qbetween(forward, _FORWARD)  # (4,)
    return qrot(np.broadcast_to(face_quat, positions.shape[:-1] + (4,)), positions)  # (T, J, 3)


def _foot_contacts(positions: np.ndarray, spec: SkeletonSpec, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, J, 3) -> left (T-1, 2), right (T-1, 2): 1 where the squared per-frame displacement is below threshold."""
    disp2 = ((positions[1:] - positions[:-1]) ** 2).sum(-1)  # (T-1, J)
    left = (disp2[:, list(spec.foot_left)] < threshold).astype(np.float64)
    right = (disp2[:, list(spec.foot_right)] < threshold).astype(np.float64)
    return left, right


def joints_to_features(joints: np.ndarray, fps: float | None = None, skeleton: SkeletonSpec | str = SMPL22,
                       feet_threshold: float | None = None, retarget: bool = True, path: PathLike = None,
                       dtype: np.dtype = np.float32) -> np.ndarray:
    """Joint positions to HumanML3D features (HumanML3D's ``process_file``).

    ``joints``: (T, J, 3) in the skeleton's joint order and units, Y up, at ``fps`` frames per second (default:
    already at the skeleton's rate, 20 for SMPL-22, 12.5 for KIT-21; other rates are resampled to it).
    ``feet_threshold`` defaults to the skeleton's (0.002 m^2 for SMPL-22). ``retarget=False`` skips the move onto
    the reference skeleton (for joints that are already on it). ``path`` only names the source in errors.
    Returns (T'-1, 12 J - 1) where T' is the frame count after resampling.
    """
    spec = get_skeleton(skeleton)
    positions = _check_joints(joints, spec, path)
    if fps is not None and fps != spec.fps:
        if not np.isfinite(fps) or fps <= 0:
            raise MotionDataError(path, f"frame rate must be positive, got {fps}")
        positions = resample(positions, fps, spec.fps)  # (T', J, 3)
        if positions.shape[0] < 2:
            raise MotionDataError(path, f"motion is too short: {joints.shape[0]} frames at {fps} fps leave "
                                        f"{positions.shape[0]} at {spec.fps} fps, need at least 2")
    threshold = spec.feet_threshold if feet_threshold is None else float(feet_threshold)

    global_positions = canonicalize_joints(positions, spec, retarget_skeleton=retarget, path=path)  # (T, J, 3)
    feet_l, feet_r = _foot_contacts(global_positions, spec, threshold)  # (T-1, 2) each

    # The first frame's root rotation is the identity: the published features were made by a version of
    # HumanML3D's inverse_kinematics_np with its line `root_quat[0] = [1, 0, 0, 0]` active (it is commented out in
    # the public code). The real file 012314 proves it: its rot-vel[0] is 0.106 where the smoothed facing
    # alone gives 0.006, and with the identity every group of frame 0 matches to 1e-6. Frame 0 already faces +Z
    # (canonicalize_joints), so the identity is "facing +Z" measured with the hips-and-shoulders rule.
    quats = inverse_kinematics(global_positions, spec, smooth_forward=True, identity_first_frame=True,
                               path=path)  # (T, J, 4)
    cont6d = quaternion_to_cont6d(quats)  # (T, J, 6)
    r_rot = quats[:, 0]  # (T, 4): world -> facing +Z, per frame

    root_delta = global_positions[1:, 0] - global_positions[:-1, 0]  # (T-1, 3)
    root_velocity = qrot(r_rot[1:], root_delta)  # (T-1, 3) in the facing frame of the later frame
    r_velocity = qmul(r_rot[1:], qinv(r_rot[:-1]))  # (T-1, 4) frame-to-frame rotation about Y
    rot_vel = np.arcsin(np.clip(r_velocity[:, 2:3], -1.0, 1.0))  # (T-1, 1) half angle, as HumanML3D

    # Rotation-invariant coordinates: positions relative to the root on XZ, turned to face +Z.
    local = global_positions.copy()
    local[..., 0] -= local[:, 0:1, 0]
    local[..., 2] -= local[:, 0:1, 2]
    local = qrot(r_rot[:, None], local)  # (T, J, 3)

    num_frames, num_joints = global_positions.shape[:2]
    root_data = np.concatenate([rot_vel, root_velocity[:, [0, 2]], local[:-1, 0, 1:2]], axis=-1)  # (T-1, 4)
    ric = local[:-1, 1:].reshape(num_frames - 1, -1)  # (T-1, (J-1)*3)
    rot = cont6d[:-1, 1:].reshape(num_frames - 1, -1)  # (T-1, (J-1)*6)
    local_vel = qrot(r_rot[:-1, None], global_positions[1:] - global_positions[:-1])  # (T-1, J, 3)
    local_vel = local_vel.reshape(num_frames - 1, num_joints * 3)  # (T-1, J*3)
    features = np.concatenate([root_data, ric, rot, local_vel, feet_l, feet_r], axis=-1)  # (T-1, 12J-1)
    return features.astype(dtype, copy=False)


# ----------------------------------------------------------------------------------- features -> joints
def recover_root_rot_pos(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HumanML3D's ``recover_root_rot_pos``: integrate the root's rotation and XZ velocity.

    ``features``: (..., T, D). Returns the root quaternions (..., T, 4) (world -> facing frame) and the root
    positions (..., T, 3), with the first frame at the XZ origin facing +Z.
    """
    rot_vel = features[..., 0]  # (..., T)
    angle = np.zeros_like(rot_vel)
    angle[..., 1:] = np.cumsum(rot_vel[..., :-1], axis=-1)  # (..., T)
    r_rot_quat = np.zeros(rot_vel.shape + (4,))  # (..., T, 4)
    r_rot_quat[..., 0] = np.cos(angle)
    r_rot_quat[..., 2] = np.sin(angle)

    r_pos = np.zeros(rot_vel.shape + (3,))  # (..., T, 3)
    r_pos[..., 1:, 0] = features[..., :-1, 1]
    r_pos[..., 1:, 2] = features[..., :-1, 2]
    r_pos = np.cumsum(qrot(qinv(r_rot_quat), r_pos), axis=-2)  # velocities back to world, integrated
    r_pos[..., 1] = features[..., 3]
    return r_rot_quat, r_pos


def features_to_joints(features: np.ndarray, skeleton: SkeletonSpec | str = SMPL22, path: PathLike = None,
                       dtype: np.dtype = np.float32) -> np.ndarray:
    """HumanML3D's ``recover_from_ric``: joint positions from the root trajectory and the RIC positions.

    ``features``: (..., T, 12 J - 1) raw (un-normalised). Returns (..., T, J, 3).
    """
    spec = get_skeleton(skeleton)
    data = _check_features(features, spec, path)
    layout = feature_layout(spec.num_joints)
    r_rot_quat, r_pos = recover_root_rot_pos(data)  # (..., T, 4), (..., T, 3)
    ric = data[..., layout.ric].reshape(data.shape[:-1] + (spec.num_joints - 1, 3))  # (..., T, J-1, 3)
    positions = qrot(qinv(r_rot_quat)[..., None, :], ric)  # (..., T, J-1, 3) back to world orientation
    positions[..., 0] += r_pos[..., None, 0]
    positions[..., 2] += r_pos[..., None, 2]
    joints = np.concatenate([r_pos[..., None, :], positions], axis=-2)  # (..., T, J, 3)
    return joints.astype(dtype, copy=False)
