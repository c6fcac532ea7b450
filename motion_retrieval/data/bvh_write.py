"""SMPL-22 joint positions -> a BVH file (joint rotations solved from the positions), and a BVH take cut to a window.

``smpl22_bvh`` writes the SMPL skeleton with SMPL's own joint names ("Pelvis", "L_Hip", ...; the ``smpl-named`` rig
of joint_maps.py, so our reader maps it back explicitly). The rest pose is HumanML3D's: each bone along its
``SMPL22.raw_offsets`` direction (arms down, feet forward), with the motion's own bone lengths (the median over the
frames), except the children of the branching joints (hips, spine1, neck, collars), which sit where the motion
holds them relative to their parent (raw directions put the hips level with the pelvis; bodies do not). Rotations
come from the positions, joint by joint from the root outwards:

- a joint with several children (pelvis: hips + spine; spine3: neck + collars) gets the rotation that best carries
  its rest child offsets onto the measured ones (Kabsch);
- a joint with one child gets the smallest rotation that turns its bone, as the parent's frame carries it, onto the
  measured direction (no twist is invented; bone positions do not fix twist);
- the end joints (feet, head, wrists) keep their parent's orientation.

So every child lands exactly on its measured direction at the rest length; only a pelvis or spine3 whose children
are not rigid in the data lands off by the non-rigid part. Channels are ``Zrotation Xrotation Yrotation``
(intrinsic, ``R = Rz Rx Ry``), with each frame's angles the Euler solution nearest the previous frame's, so no
interpolating importer spins a joint through 360 degrees. Units are metres, Y up, as the joints.

``cut_bvh`` keeps a source take's HIERARCHY verbatim and the MOTION lines of one window, so the clip has the take's
own rig, channels and frame rate.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from motion_retrieval.data.bvh import parse_bvh
from motion_retrieval.data.limits import DEFAULT_LIMITS, TakeLimits
from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import SMPL22

# SMPL's own names (the SMPL exporters' spelling), in HumanML3D order.
SMPL22_BVH_NAMES = (
    "Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3", "L_Foot",
    "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist",
    "R_Wrist",
)
ROTATION_CHANNELS = "Zrotation Xrotation Yrotation"
_MIN_BONE = 1e-6  # metres: shorter bones have no direction to solve a rotation from
_END_SITE_MIN = 0.05  # metres: an end site (the tail of feet, head, wrists) long enough to show as a bone


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) smallest rotations taking unit vectors ``a`` onto unit vectors ``b`` (both (..., 3))."""
    axis = np.cross(a, b)  # (..., 3), |axis| = sin
    cos = np.sum(a * b, axis=-1)  # (...,)
    sin = np.linalg.norm(axis, axis=-1)
    # Opposite vectors: any axis perpendicular to a turns a onto b by 180 degrees.
    opposite = (sin < 1e-8) & (cos < 0)
    if np.any(opposite):
        helper = np.where(np.abs(a[..., :1]) < 0.9, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
        axis = np.where(opposite[..., None], np.cross(a, helper), axis)
        sin = np.where(opposite, np.linalg.norm(axis, axis=-1), sin)
    k = axis / np.maximum(sin, 1e-12)[..., None]  # (..., 3) unit axis
    kx = np.zeros(k.shape[:-1] + (3, 3))
    kx[..., 0, 1], kx[..., 0, 2] = -k[..., 2], k[..., 1]
    kx[..., 1, 0], kx[..., 1, 2] = k[..., 2], -k[..., 0]
    kx[..., 2, 0], kx[..., 2, 1] = -k[..., 1], k[..., 0]
    angle_sin = np.where(opposite, 0.0, sin)[..., None, None]
    angle_cos = np.where(opposite, -1.0, cos)[..., None, None]
    eye = np.broadcast_to(np.eye(3), kx.shape)
    return eye + angle_sin * kx + (1 - angle_cos) * (kx @ kx)  # Rodrigues


def kabsch(rest: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations R minimising sum_c |R rest_c - measured_tc|^2; rest (C, 3), measured (T, C, 3)."""
    h = np.einsum("ci,tcj->tij", rest, measured)  # (T, 3, 3) cross-covariance
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))  # (T,) no reflections
    fix = np.zeros((len(d), 3, 3))
    fix[:, 0, 0] = fix[:, 1, 1] = 1.0
    fix[:, 2, 2] = d
    return np.swapaxes(vt, -1, -2) @ fix @ np.swapaxes(u, -1, -2)


def matrix_to_zxy_degrees(r: np.ndarray) -> np.ndarray:
    """(T, 3, 3) -> (T, 3) angles (z, x, y) in degrees with R = Rz(z) Rx(x) Ry(y)."""
    x = np.arcsin(np.clip(r[:, 2, 1], -1.0, 1.0))
    z = np.arctan2(-r[:, 0, 1], r[:, 1, 1])
    y = np.arctan2(-r[:, 2, 0], r[:, 2, 2])
    locked = np.abs(r[:, 2, 1]) > 1 - 1e-9  # cos x = 0: z and y turn about the same axis; put it all in z
    if np.any(locked):
        z = np.where(locked, np.arctan2(r[:, 1, 0], r[:, 0, 0]), z)
        y = np.where(locked, 0.0, y)
    return np.degrees(np.stack([z, x, y], axis=-1))


def continuous_angles(angles: np.ndarray) -> np.ndarray:
    """(T, J, 3) ZXY degrees -> the same rotations as angles that move least from frame to frame: each frame takes
    whichever of its two Euler solutions, (z, x, y) or (z + 180, 180 - x, y + 180), shifted by whole turns, lies
    nearest the previous frame's angles."""
    out = np.array(angles, dtype=np.float64)
    flipped = out + np.array([180.0, 0.0, 180.0])
    flipped[..., 1] = 180.0 - out[..., 1]
    for t in range(1, len(out)):
        previous = out[t - 1]  # (J, 3)
        candidates = np.stack([out[t], flipped[t]])  # (2, J, 3)
        candidates = candidates + 360.0 * np.round((previous - candidates) / 360.0)  # nearest whole turn
        distance = np.abs(candidates - previous).sum(axis=-1)  # (2, J)
        out[t] = np.where((distance[1] < distance[0])[:, None], candidates[1], candidates[0])
    return out


def solve_rotations(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 22, 3) positions -> (rest offsets (22, 3), local rotations (T, 22, 3, 3)) of the SMPL-22 BVH rig."""
    parents = np.asarray(SMPL22.parents)
    children: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    bones = joints - joints[:, np.where(parents < 0, 0, parents)]  # (T, 22, 3); root row is zero
    lengths = np.median(np.linalg.norm(bones, axis=-1), axis=0)  # (22,)
    offsets = SMPL22.raw_offsets_array() * lengths[:, None]  # (22, 3) rest pose of this motion
    T = len(joints)
    glob = np.zeros((T, 22, 3, 3))
    local = np.zeros((T, 22, 3, 3))
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    for j in range(22):  # parents come before their children in HumanML3D order
        parent_r = glob[:, parents[j]] if parents[j] >= 0 else eye
        kids = [c for c in children[j] if lengths[c] > _MIN_BONE]
        if len(kids) > 1:
            # HumanML3D's raw directions put the hips level with the pelvis and the collars level with spine3; real
            # bodies do not. Orient the joint against them once, then take the children's mean placement in that
            # frame as the rest pose, so a rigid joint is solved exactly.
            first = kabsch(offsets[kids], bones[:, kids])  # (T, 3, 3)
            placed = np.median(np.einsum("tji,tcj->tci", first, bones[:, kids]), axis=0)  # (C, 3) joint frame
            offsets[kids] = _unit(placed) * lengths[kids, None]
            glob[:, j] = kabsch(offsets[kids], bones[:, kids])
        elif len(kids) == 1:
            carried = np.einsum("tij,j->ti", parent_r, _unit(offsets[kids[0]]))  # (T, 3) rest bone, parent frame
            glob[:, j] = rotation_between(_unit(carried), _unit(bones[:, kids[0]])) @ parent_r
        else:
            glob[:, j] = parent_r
        local[:, j] = np.swapaxes(parent_r, -1, -2) @ glob[:, j]
    return offsets, local


def smpl22_bvh(joints: np.ndarray, fps: float = 20.0) -> str:
    """The BVH text of (T, 22, 3) SMPL-22 joint positions (metres, Y up) at ``fps``."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3) or len(joints) < 1:
        raise ValueError(f"expected (T, 22, 3) SMPL-22 joints, got shape {joints.shape}")
    if not np.all(np.isfinite(joints)):
        raise ValueError("joints contain NaN or inf")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    offsets, local = solve_rotations(joints)
    angles = continuous_angles(np.stack([matrix_to_zxy_degrees(local[:, j]) for j in range(22)], axis=1))
    out = io.StringIO()
    out.write("HIERARCHY\n")
    order: list[int] = []  # joints in the order the hierarchy lists them (depth first): the frame lines' order
    _write_joint(out, 0, offsets, depth=0, order=order)
    out.write(f"MOTION\nFrames: {len(joints)}\nFrame Time: {1.0 / fps:.8f}\n")
    frames = np.concatenate([joints[:, 0], angles[:, order].reshape(len(joints), -1)], axis=1)  # (T, 3 + 66)
    np.savetxt(out, frames, fmt="%.6f")
    return out.getvalue()


def _write_joint(out: io.StringIO, j: int, offsets: np.ndarray, depth: int, order: list[int]) -> None:
    order.append(j)
    pad = "  " * depth
    kind = "ROOT" if j == 0 else "JOINT"
    out.write(f"{pad}{kind} {SMPL22_BVH_NAMES[j]}\n{pad}{{\n")
    x, y, z = (0.0, 0.0, 0.0) if j == 0 else offsets[j]
    out.write(f"{pad}  OFFSET {x:.6f} {y:.6f} {z:.6f}\n")
    channels = f"6 Xposition Yposition Zposition {ROTATION_CHANNELS}" if j == 0 else f"3 {ROTATION_CHANNELS}"
    out.write(f"{pad}  CHANNELS {channels}\n")
    kids = [c for c, p in enumerate(SMPL22.parents) if p == j]
    for c in kids:
        _write_joint(out, c, offsets, depth + 1, order)
    if not kids:  # the tail of an end bone: along its own rest direction
        length = max(float(np.linalg.norm(offsets[j])) * 0.5, _END_SITE_MIN)
        ex, ey, ez = SMPL22.raw_offsets_array()[j] * length
        out.write(f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET {ex:.6f} {ey:.6f} {ez:.6f}\n{pad}  }}\n")
    out.write(f"{pad}}}\n")


def window_frames(num_frames: int, fps: float, start_s: float, end_s: float) -> tuple[int, int]:
    """Frames ``[first, last)`` of the window ``start_s``..``end_s`` seconds (end exclusive, as windows.py cuts
    them) in a take of ``num_frames``; an empty window (end <= start) is the whole take from ``start_s``."""
    first = min(max(0, int(round(start_s * fps))), num_frames - 1)
    last = int(round(end_s * fps)) if end_s > start_s else num_frames
    return first, min(max(last, first + 1), num_frames)


def cut_bvh(path: str | os.PathLike, start_s: float, end_s: float, *, limits: TakeLimits = DEFAULT_LIMITS) -> str:
    """The BVH take at ``path`` cut to ``start_s``..``end_s`` seconds: the same HIERARCHY (rig, channels, offsets)
    and frame time, the frame lines of the window verbatim. MotionDataError when the file is not a readable BVH or
    the window lies outside the take."""
    motion = parse_bvh(path, limits=limits)  # validates the whole file (and its size) first
    if start_s < 0 or start_s >= motion.num_frames / motion.fps + 1e-6:
        raise MotionDataError(path, f"window {start_s:g}-{end_s:g} s starts outside the take "
                                    f"({motion.num_frames / motion.fps:g} s)")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    motion_line = next(i for i, line in enumerate(lines) if line.strip().upper() == "MOTION")
    frame_time_line = next(i for i in range(motion_line, len(lines)) if lines[i].strip().lower().startswith("frame"
                                                                                                          " time"))
    frame_lines = [line for line in lines[frame_time_line + 1:] if line.strip()][:motion.num_frames]
    first, last = window_frames(motion.num_frames, motion.fps, start_s, end_s)
    header = lines[:motion_line + 1]
    return "\n".join([*header, f"Frames: {last - first}", lines[frame_time_line].strip(),
                      *frame_lines[first:last]]) + "\n"
