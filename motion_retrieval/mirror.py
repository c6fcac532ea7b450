"""Left/right mirroring of motions (joints and features) and of their captions.

HumanML3D doubles its data with mirrored copies (``M012314`` is ``012314`` mirrored; PAPER.md section 9): the
joints are reflected through the YZ plane (x -> -x) with left and right joints swapped, and the captions have
left <-> right (and similar words) swapped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from motion_retrieval.features import feature_layout
from motion_retrieval.skeleton import SMPL22, SkeletonSpec, get_skeleton

__all__ = ["mirror_caption", "mirror_features", "mirror_joints", "mirror_partners"]


def mirror_joints(joints: np.ndarray, spec: SkeletonSpec | str = SMPL22) -> np.ndarray:
    """Reflect joint positions through the YZ plane and swap left/right joints. (..., J, 3) -> (..., J, 3)."""
    spec = get_skeleton(spec)
    joints = np.asarray(joints)
    if joints.ndim < 2 or joints.shape[-2:] != (spec.num_joints, 3):
        raise ValueError(f"joints must have shape (..., {spec.num_joints}, 3) for {spec.name}, got {joints.shape}")
    mirrored = joints[..., spec.mirror_permutation(), :].copy()  # (..., J, 3)
    mirrored[..., 0] *= -1
    return mirrored


def _check_mirror_symmetric(spec: SkeletonSpec) -> np.ndarray:
    """The joint permutation, after checking that mirroring maps the skeleton's definitions onto themselves."""
    perm = spec.mirror_permutation()
    raw = spec.raw_offsets_array()
    if not np.allclose(raw[perm] * np.array([-1.0, 1.0, 1.0]), raw):
        raise ValueError(f"skeleton {spec.name}: raw offsets are not mirror-symmetric; cannot mirror features")
    if tuple(perm[list(spec.foot_left)]) != tuple(spec.foot_right):
        raise ValueError(f"skeleton {spec.name}: foot joints are not mirror twins; cannot mirror features")
    return perm


def mirror_features(features: np.ndarray, spec: SkeletonSpec | str = SMPL22) -> np.ndarray:
    """Mirror HumanML3D features directly in feature space. (..., T, D) -> (..., T, D).

    With M = diag(-1, 1, 1), the mirrored motion's facing rotations are M R M (the yaw angle changes sign), so:
    the rotation velocity changes sign; velocities and RIC positions lose the sign of x and left/right joint
    blocks swap; each local rotation R becomes M R M, whose 6D columns are (-M c0, M c1); the left and right
    foot contacts swap. This equals ``joints_to_features(mirror_joints(joints), retarget=False)``. With
    retargeting the two differ slightly, because the reference skeleton itself is not symmetric (its left and
    right bones differ by up to 7 mm) and the retarget scale is read off the right leg.
    """
    spec = get_skeleton(spec)
    perm = _check_mirror_symmetric(spec)
    layout = feature_layout(spec.num_joints)
    x = np.asarray(features)
    if x.ndim < 1 or x.shape[-1] != layout.dim:
        raise ValueError(f"features must have shape (..., {layout.dim}) for {spec.name}, got {x.shape}")
    lead = x.shape[:-1]
    j = spec.num_joints
    out = np.empty_like(x)
    out[..., layout.root_rot_vel] = -x[..., layout.root_rot_vel]
    out[..., layout.root_lin_vel] = x[..., layout.root_lin_vel] * np.array([-1.0, 1.0], dtype=x.dtype)
    out[..., layout.root_y] = x[..., layout.root_y]

    flip_x = np.array([-1.0, 1.0, 1.0], dtype=x.dtype)
    ric = x[..., layout.ric].reshape(lead + (j - 1, 3))  # (..., J-1, 3), joints 1..J-1
    out[..., layout.ric] = (ric[..., perm[1:] - 1, :] * flip_x).reshape(lead + (-1,))
    rot = x[..., layout.rot6d].reshape(lead + (j - 1, 6))  # (..., J-1, 6)
    conj = np.array([1.0, -1.0, -1.0, -1.0, 1.0, 1.0], dtype=x.dtype)  # (-M c0, M c1)
    out[..., layout.rot6d] = (rot[..., perm[1:] - 1, :] * conj).reshape(lead + (-1,))
    vel = x[..., layout.local_vel].reshape(lead + (j, 3))  # (..., J, 3)
    out[..., layout.local_vel] = (vel[..., perm, :] * flip_x).reshape(lead + (-1,))

    feet = x[..., layout.foot_contact]  # (..., 4): left pair, right pair
    out[..., layout.foot_contact] = np.concatenate([feet[..., 2:4], feet[..., 0:2]], axis=-1)
    return out


# ----------------------------------------------------------------------------------- captions
# Every word that names a side or a turning sense, mapped to its mirror image (lower case). Compounds are listed
# whole so that one regex pass decides each word once: "counterclockwise" is never seen as "clockwise".
_WORD_SWAPS = {
    "left": "right", "right": "left",
    "leftward": "rightward", "rightward": "leftward",
    "leftwards": "rightwards", "rightwards": "leftwards",
    "leftmost": "rightmost", "rightmost": "leftmost",
    "lefthand": "righthand", "righthand": "lefthand",
    "lefthanded": "righthanded", "righthanded": "lefthanded",
    "clockwise": "counterclockwise",
    "counterclockwise": "clockwise", "anticlockwise": "clockwise",
    "counter-clockwise": "clockwise", "anti-clockwise": "clockwise",
    "counter clockwise": "clockwise", "anti clockwise": "clockwise",
}
# "right" that is not a side: left as it is.
_IDIOMS = ("all right", "right away", "right now")
_CAPTION_RE = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(_IDIOMS, key=len, reverse=True)) + r")\b"
    r"|\b(" + "|".join(re.escape(w) for w in sorted(_WORD_SWAPS, key=len, reverse=True)) + r")\b",
    flags=re.IGNORECASE,
)


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[0].isupper():
        return word[0].upper() + word[1:]
    return word


def _swap(match: re.Match) -> str:
    if match.group(1):  # an idiom: keep it
        return match.group(0)
    found = match.group(2)
    return _match_case(found, _WORD_SWAPS[found.lower()])


def mirror_caption(text: str) -> str:
    """Swap left <-> right (leftward, leftmost, left-handed, ...) and clockwise <-> counterclockwise.

    One regex pass with word boundaries, so each word is replaced once and words that merely contain "left" or
    "right" ("bright", "lefty", "righteous") stay; case is kept ("Left" -> "Right", "LEFT" -> "RIGHT");
    "anticlockwise" and "counter-clockwise" both become "clockwise"; "all right", "right away" and "right now" stay.
    """
    return _CAPTION_RE.sub(_swap, text)


# ------------------------------------------------------------------------------------ twins by id
def mirror_partners(keys: Sequence[str]) -> list[int | None]:
    """For each motion id the index of its left/right mirror twin in ``keys`` (HumanML3D's ``M`` prefix: ``M012314``
    mirrors ``012314``), or None when the twin is not there."""
    where = {key: i for i, key in enumerate(keys)}
    partners: list[int | None] = []
    for key in keys:
        twin = key[1:] if key.startswith("M") and key[1:] in where else "M" + key
        partners.append(where.get(twin))
    return partners
