"""Skeleton definitions: SMPL-22 in HumanML3D order, Guo's KIT-ML 21-joint MMM skeleton, MoT++ body parts, and
input-only joint layouts (Human3.6M's 17 joints) that are mapped onto SMPL-22 on arrival.

Coordinate convention (HumanML3D / SMPL): Y is up, a canonicalised body faces +Z, and the person's LEFT side is +X.
``raw_offsets`` are the unit rest-pose bone directions of HumanML3D's ``paramUtil`` (``t2m_raw_offsets`` /
``kit_raw_offsets``); inverse kinematics measures every joint rotation against them, so they fix the meaning of
the 6D rotation features and must not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = [
    "BODY_PARTS",
    "BODY_PART_NAMES",
    "H36M17",
    "INPUT_LAYOUTS",
    "JointLayout",
    "KIT21",
    "NUM_JOINT_TOKENS",
    "SKELETONS",
    "SMPL22",
    "SkeletonSpec",
    "bone_lengths",
    "forward_kinematics_offsets",
    "get_skeleton",
]


@dataclass(frozen=True)
class SkeletonSpec:
    """A skeleton as the HumanML3D pipeline needs it. Index lists are tuples so that the spec is hashable."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]  # parent index per joint, -1 for the root (joint 0)
    kinematic_chains: tuple[tuple[int, ...], ...]  # root-to-leaf chains; IK/FK walk them in this order
    raw_offsets: tuple[tuple[float, float, float], ...]  # unit rest-pose direction of the bone parent -> joint
    reference_bone_lengths: tuple[float, ...]  # length of the bone parent -> joint (0 for the root), in `units`
    face_joints: tuple[int, int, int, int]  # (r_hip, l_hip, r_shoulder, l_shoulder): facing direction
    foot_right: tuple[int, ...]  # joints whose speed gives the right foot contacts (fid_r)
    foot_left: tuple[int, ...]  # fid_l
    leg_bones: tuple[int, int]  # (l_idx1, l_idx2): bones whose lengths give the retarget scale (leg length)
    mirror_pairs: tuple[tuple[int, int], ...]  # (left, right) joint index pairs swapped by mirroring
    fps: float  # the dataset's frame rate: features are computed at this rate
    units: str  # "m" or "mm"
    feet_threshold: float  # squared per-frame foot displacement (units^2) below which a foot is in contact

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        for field_name in ("parents", "raw_offsets", "reference_bone_lengths"):
            if len(getattr(self, field_name)) != n:
                raise ValueError(f"skeleton {self.name}: {field_name} has {len(getattr(self, field_name))} "
                                 f"entries for {n} joints")
        if self.parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(self.parents) if j > 0):
            raise ValueError(f"skeleton {self.name}: parents must be -1 for joint 0 and precede each joint")
        for chain in self.kinematic_chains:
            for parent, child in zip(chain[:-1], chain[1:]):
                if self.parents[child] != parent:
                    raise ValueError(f"skeleton {self.name}: chain {chain} disagrees with parents at joint {child}")
        covered = {j for chain in self.kinematic_chains for j in chain}
        if covered != set(range(n)):
            raise ValueError(f"skeleton {self.name}: kinematic chains miss joints {sorted(set(range(n)) - covered)}")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def feature_dim(self) -> int:
        """Size of the HumanML3D feature vector for this skeleton (263 for 22 joints, 251 for 21)."""
        return 12 * self.num_joints - 1

    def raw_offsets_array(self) -> np.ndarray:
        """(J, 3) float64 unit bone directions (row 0 is zero)."""
        return np.asarray(self.raw_offsets, dtype=np.float64)

    def reference_offsets(self) -> np.ndarray:
        """(J, 3) float64 rest-pose offsets of the reference skeleton: direction times reference length."""
        return self.raw_offsets_array() * np.asarray(self.reference_bone_lengths, dtype=np.float64)[:, None]

    def mirror_permutation(self) -> np.ndarray:
        """(J,) int index array that swaps every left joint with its right twin (an involution)."""
        perm = np.arange(self.num_joints)
        for left, right in self.mirror_pairs:
            perm[left], perm[right] = right, left
        return perm

    def joint_index(self, name: str) -> int:
        try:
            return self.joint_names.index(name)
        except ValueError:
            known = ", ".join(self.joint_names)
            raise KeyError(f"skeleton {self.name} has no joint {name!r}; joints: {known}") from None


def _parents_from_chains(num_joints: int, chains: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    parents = [-1] * num_joints
    for chain in chains:
        for parent, child in zip(chain[:-1], chain[1:]):
            parents[child] = parent
    return tuple(parents)


# ----------------------------------------------------------------------------------- SMPL-22 (HumanML3D)
_SMPL22_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
# HumanML3D paramUtil.t2m_kinematic_chain: right leg, left leg, spine+head, right arm, left arm.
_SMPL22_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))
# HumanML3D paramUtil.t2m_raw_offsets (left = +X, up = +Y, toes and face forward = +Z).
_SMPL22_RAW_OFFSETS = (
    (0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0), (0, 1, 0), (0, -1, 0),
    (0, -1, 0), (0, 1, 0), (0, 0, 1), (0, 0, 1), (0, 1, 0), (1, 0, 0), (-1, 0, 0), (0, 0, 1),
    (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0),
)
# The reference skeleton every HumanML3D motion is retargeted to (metres). Read once off the real dataset file
# HumanML3D new_joints/012314.npy (../shared/fixtures/humanml3d-sample): the per-bone median over its 170 frames
# (bone lengths there are constant to 2e-6 because HumanML3D retargets every motion onto the offsets of its
# motion 000021, frame 0). Entry j is the length of the bone parents[j] -> j.
_SMPL22_BONE_LENGTHS = (
    0.0, 0.1030740, 0.1098834, 0.1315682, 0.3936232, 0.3901882, 0.1431902, 0.4324330, 0.4256434, 0.0573647,
    0.1433818, 0.1494191, 0.2193600, 0.1374868, 0.1433828, 0.1030392, 0.1316140, 0.1229844, 0.2568399, 0.2630919,
    0.2660118, 0.2698763,
)

SMPL22 = SkeletonSpec(
    name="smpl22",
    joint_names=_SMPL22_NAMES,
    parents=_parents_from_chains(22, _SMPL22_CHAINS),
    kinematic_chains=_SMPL22_CHAINS,
    raw_offsets=tuple(tuple(float(c) for c in o) for o in _SMPL22_RAW_OFFSETS),
    reference_bone_lengths=_SMPL22_BONE_LENGTHS,
    face_joints=(2, 1, 17, 16),
    foot_right=(8, 11),
    foot_left=(7, 10),
    leg_bones=(5, 8),  # right knee and right ankle bones: thigh + shin
    mirror_pairs=((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21)),
    fps=20.0,
    units="m",
    feet_threshold=0.002,
)

# ----------------------------------------------------------------------------------- KIT-ML (MMM, Guo)
# MMM joint names in the order of the KIT-ML release (as TEMOS/TMR name them).
_KIT21_NAMES = (
    "root", "BP", "BT", "BLN", "BUN", "LS", "LE", "LW", "RS", "RE", "RW", "LH", "LK", "LA", "LMrot", "LF",
    "RH", "RK", "RA", "RMrot", "RF",
)
# Guo's paramUtil.kit_kinematic_chain and kit_raw_offsets.
_KIT21_CHAINS = ((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7), (3, 8, 9, 10))
_KIT21_RAW_OFFSETS = (
    (0, 0, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (1, 0, 0), (0, -1, 0), (0, -1, 0), (-1, 0, 0),
    (0, -1, 0), (0, -1, 0), (1, 0, 0), (0, -1, 0), (0, -1, 0), (0, 0, 1), (0, 0, 1), (-1, 0, 0), (0, -1, 0),
    (0, -1, 0), (0, 0, 1), (0, 0, 1),
)
# NOMINAL bone lengths in millimetres for an adult of about 1.75 m with MMM proportions. We have no real KIT-ML
# file to read the true reference skeleton from; these only set the scale of KIT21 retargeting and should be
# replaced by lengths read off a real KIT-ML new_joints file when one is available.
_KIT21_BONE_LENGTHS = (
    0.0, 70.0, 180.0, 240.0, 120.0,  # root, BP (pelvis), BT (thorax), BLN (neck), BUN (head)
    190.0, 290.0, 250.0,  # LS (collar -> shoulder), LE (upper arm), LW (forearm)
    190.0, 290.0, 250.0,  # RS, RE, RW
    90.0, 430.0, 420.0, 70.0, 90.0,  # LH (pelvis -> hip), LK (thigh), LA (shin), LMrot (heel -> ball), LF (toe)
    90.0, 430.0, 420.0, 70.0, 90.0,  # RH, RK, RA, RMrot, RF
)

KIT21 = SkeletonSpec(
    name="kit21",
    joint_names=_KIT21_NAMES,
    parents=_parents_from_chains(21, _KIT21_CHAINS),
    kinematic_chains=_KIT21_CHAINS,
    raw_offsets=tuple(tuple(float(c) for c in o) for o in _KIT21_RAW_OFFSETS),
    reference_bone_lengths=_KIT21_BONE_LENGTHS,
    # Guo's face_joint_indx [11, 16, 5, 8] and fid_r [14, 15] / fid_l [19, 20], kept as published so the 251-d
    # features match Guo's KIT-ML release. (Guo labels 11/16/5/8 "r_hip, l_hip, sdr_r, sdr_l" where the MMM names
    # say LH/RH/LS/RS; with the raw offsets above that is self-consistent, it only fixes which way "forward" is.)
    face_joints=(11, 16, 5, 8),
    foot_right=(14, 15),
    foot_left=(19, 20),
    leg_bones=(17, 18),
    mirror_pairs=((5, 8), (6, 9), (7, 10), (11, 16), (12, 17), (13, 18), (14, 19), (15, 20)),
    fps=12.5,
    units="mm",
    # NOMINAL: HumanML3D's 0.002 m^2 converted to mm^2; Guo's KIT-ML threshold is not verified.
    feet_threshold=0.002 * 1000.0**2,
)

SKELETONS: Mapping[str, SkeletonSpec] = MappingProxyType({SMPL22.name: SMPL22, KIT21.name: KIT21})


def get_skeleton(name: str | SkeletonSpec) -> SkeletonSpec:
    """The skeleton called ``name`` ("smpl22", "kit21"; also "humanml3d"/"t2m" and "kit"/"kitml"/"mmm")."""
    if isinstance(name, SkeletonSpec):
        return name
    aliases = {"humanml3d": "smpl22", "t2m": "smpl22", "smpl": "smpl22", "kit": "kit21", "kitml": "kit21",
               "mmm": "kit21"}
    key = aliases.get(name.lower(), name.lower())
    if key not in SKELETONS:
        raise KeyError(f"unknown skeleton {name!r}; known: {', '.join(SKELETONS)}")
    return SKELETONS[key]


# ----------------------------------------------------------------------------------- input-only layouts
@dataclass(frozen=True)
class JointLayout:
    """A joint layout motions may arrive in and that is mapped onto SMPL-22 (no features are computed in it)."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]  # -1 for the root

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)


# Human3.6M's 17 joints in the order 3D pose estimators write them (VideoPose3D, MotionBERT, ...). "Nose" is the
# dataset's "Neck/Nose" joint and "Head" the top of the head; LFoot/RFoot are the ankles. Mapped onto SMPL-22 by
# data.joint_maps.H36M17_TO_SMPL22 (missing joints interpolated, documented there; data.mocap.h36m17_to_smpl22 adds
# the feet).
H36M17 = JointLayout(
    name="h36m17",
    joint_names=("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Nose", "Head",
                 "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
)
INPUT_LAYOUTS: Mapping[str, JointLayout] = MappingProxyType({H36M17.name: H36M17})


# ----------------------------------------------------------------------------------- MoT++ body parts
NUM_JOINT_TOKENS = 23  # token 0 = root, 1..21 = the non-root SMPL joints, 22 = foot contacts (PAPER.md section 2)
# The 7 structured body-part groups over the 23 joint tokens (PAPER.md section 2, MoT++ movit_v2), in this order.
BODY_PARTS: Mapping[str, tuple[int, ...]] = MappingProxyType({
    "root": (0,),
    "feet": (22,),
    "right_arm": (14, 17, 19, 21),
    "left_arm": (13, 16, 18, 20),
    "torso": (3, 6, 9, 12, 15),
    "right_leg": (2, 5, 8, 11),
    "left_leg": (1, 4, 7, 10),
})
BODY_PART_NAMES: tuple[str, ...] = tuple(BODY_PARTS)


# ----------------------------------------------------------------------------------- helpers
def bone_lengths(joints: np.ndarray, spec: SkeletonSpec = SMPL22) -> np.ndarray:
    """Length of every bone parent -> joint, per frame. (..., J, 3) -> (..., J) with 0 for the root."""
    joints = np.asarray(joints, dtype=np.float64)
    parents = np.asarray(spec.parents)
    parents = np.where(parents < 0, 0, parents)
    return np.linalg.norm(joints - joints[..., parents, :], axis=-1)  # (..., J)


def forward_kinematics_offsets(bone_directions: np.ndarray, root_positions: np.ndarray,
                               spec: SkeletonSpec = SMPL22, lengths: np.ndarray | None = None) -> np.ndarray:
    """Rebuild joint positions from per-bone global directions and bone lengths (positional FK).

    ``bone_directions``: (T, J, 3) direction of bone parent -> j (any length; row 0 ignored);
    ``root_positions``: (T, 3); ``lengths``: (J,) or (T, J), default the spec's reference lengths.
    Returns (T, J, 3). This is what HumanML3D's IK-then-FK retargeting amounts to: FK of the IK rotations puts
    every bone back along its measured direction, with the target skeleton's length.
    """
    directions = np.asarray(bone_directions, dtype=np.float64)
    norms = np.linalg.norm(directions, axis=-1, keepdims=True)  # (T, J, 1)
    unit = directions / np.maximum(norms, 1e-12)
    if lengths is None:
        lengths = np.asarray(spec.reference_bone_lengths, dtype=np.float64)
    lengths = np.broadcast_to(np.asarray(lengths, dtype=np.float64), unit.shape[:-1])  # (T, J)
    joints = np.zeros_like(unit)  # (T, J, 3)
    joints[:, 0] = root_positions
    for j in range(1, spec.num_joints):  # parents precede children (checked by SkeletonSpec)
        joints[:, j] = joints[:, spec.parents[j]] + unit[:, j] * lengths[:, j, None]
    return joints
