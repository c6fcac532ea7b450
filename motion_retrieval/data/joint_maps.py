"""Explicit maps from other skeletons (KIT-ML MMM, CMU and Mixamo BVH rigs, SMPL variants, Human3.6M) onto SMPL-22.

Every SMPL-22 joint (HumanML3D order, ``skeleton.SMPL22.joint_names``) is a weighted sum of source joints: most are
one source joint; the few SMPL joints a rig lacks are interpolated between two it has:

- ``spine2`` (SMPL's mid-back joint) is the midpoint of the rig's lower and upper spine joints when the rig has
  only two spine joints (KIT ``BP``/``BT``, CMU ``Chest``/``Chest2``), so the spine bends where the rig bends.
- ``left_collar``/``right_collar`` (the clavicle joints) are the midpoint of the neck base and the shoulder when
  the rig's collar joint sits on the spine (KIT has no collar; CMU's ``LeftCollar`` has a zero offset). In SMPL's
  rest pose the collar sits about halfway between the two, in height and across.

Map selection is by joint names (namespace prefixes such as ``mixamorig:`` are dropped, case is ignored); a rig that
no map fits is mapped automatically by data/rig/ (``find_rig_map`` alone raises MotionDataError listing the names
the nearest map still needs). Users' own maps come as JSON in the same form (``load_joint_map``, ``--rig-map``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import KIT21, SMPL22

Source = tuple[tuple[str, float], ...]  # weighted source joints of one SMPL joint; weights sum to 1
SMPL22_NAMES = SMPL22.joint_names
KIT21_NAMES = KIT21.joint_names


def _one(name: str) -> Source:
    return ((name, 1.0),)


def _mid(a: str, b: str) -> Source:
    return ((a, 0.5), (b, 0.5))


@dataclass(frozen=True)
class JointMap:
    """How to build the 22 SMPL joints from a source rig's joints."""

    name: str
    sources: tuple[Source, ...]  # one entry per SMPL-22 joint, in HumanML3D order

    def __post_init__(self) -> None:
        if len(self.sources) != len(SMPL22_NAMES):
            raise ValueError(f"joint map {self.name}: {len(self.sources)} entries for {len(SMPL22_NAMES)} joints")

    @classmethod
    def from_dict(cls, name: str, mapping: Mapping[str, str | Source]) -> JointMap:
        """``{smpl_joint_name: source_name | ((source_name, weight), ...)}`` for all 22 SMPL joints."""
        missing = [n for n in SMPL22_NAMES if n not in mapping]
        if missing:
            raise ValueError(f"joint map {name}: no source for SMPL joints {', '.join(missing)}")
        sources = tuple(_one(m) if isinstance(m, str) else tuple(m) for m in (mapping[n] for n in SMPL22_NAMES))
        return cls(name, sources)

    def required_names(self) -> list[str]:
        return list(dict.fromkeys(src for source in self.sources for src, _ in source))

    def missing(self, names: Sequence[str]) -> list[str]:
        available = {normalise_name(n) for n in names}
        return [n for n in self.required_names() if normalise_name(n) not in available]

    def weights(self, names: Sequence[str], path: str | os.PathLike | None = None) -> np.ndarray:
        """(22, J) matrix W with ``smpl = W @ source`` for a rig whose joints are ``names``."""
        index: dict[str, int] = {}
        for i, n in enumerate(names):
            index.setdefault(normalise_name(n), i)
        missing = self.missing(names)
        if missing:
            raise MotionDataError(
                path, f"joint map {self.name!r} needs joints missing from the rig: {', '.join(missing)}"
            )
        weights = np.zeros((len(SMPL22_NAMES), len(names)), dtype=np.float64)
        for j, source in enumerate(self.sources):
            for src, w in source:
                weights[j, index[normalise_name(src)]] += w
        return weights

    def apply(self, positions: np.ndarray, names: Sequence[str], path: str | os.PathLike | None = None) -> np.ndarray:
        """(T, J, 3) source positions -> (T, 22, 3) SMPL-22 positions."""
        weights = self.weights(names, path)
        return np.einsum("sj,tjc->tsc", weights, np.asarray(positions, dtype=np.float64))  # (T, 22, 3)


def normalise_name(name: str) -> str:
    """``"mixamorig:LeftUpLeg"`` -> ``"leftupleg"``: drop namespace prefixes (``:``, ``|``), ignore case."""
    for separator in (":", "|"):
        name = name.rsplit(separator, 1)[-1]
    return name.strip().lower()


def _symmetric(name: str, common: Mapping[str, str | Source], side: Mapping[str, str | Source]) -> JointMap:
    """A map from the centre joints plus a left-side template whose ``{S}`` is filled with the side's prefix."""
    mapping: dict[str, str | Source] = dict(common)
    for smpl_side, prefixes in (("left", side["_left"]), ("right", side["_right"])):
        long_prefix, short_prefix = prefixes  # e.g. ("Left", "L")
        for smpl_joint, template in side.items():
            if smpl_joint.startswith("_"):
                continue

            def fill(s: str, lp: str = long_prefix, sp: str = short_prefix) -> str:
                return s.replace("{Side}", lp).replace("{S}", sp)

            mapping[f"{smpl_side}_{smpl_joint}"] = (
                fill(template) if isinstance(template, str) else tuple((fill(s), w) for s, w in template)
            )
    return JointMap.from_dict(name, mapping)


# KIT-ML (Guo's 21-joint MMM order; names as skeleton.KIT21 / TEMOS give them). Units and up axis are the reader's job.
KIT21_TO_SMPL22 = _symmetric(
    "kit21",
    {
        "pelvis": "root",
        "spine1": "BP",
        "spine2": _mid("BP", "BT"),
        "spine3": "BT",
        "neck": "BLN",
        "head": "BUN",
    },
    {
        "_left": ("L", "L"),
        "_right": ("R", "R"),
        "hip": "{S}H",
        "knee": "{S}K",
        "ankle": "{S}A",
        "foot": "{S}Mrot",  # KIT's LMrot sits forward of the ankle on the sole, like SMPL's foot (ball) joint
        "collar": _mid("BLN", "{S}S"),
        "shoulder": "{S}S",
        "elbow": "{S}E",
        "wrist": "{S}W",
    },
)
# The same with left and right exchanged: for KIT arrays whose "L" joints sit on the body's right (see kitml.py).
KIT21_TO_SMPL22_SWAPPED = _symmetric(
    "kit21-swapped",
    dict(zip(SMPL22_NAMES, KIT21_TO_SMPL22.sources)),
    {
        "_left": ("R", "R"),
        "_right": ("L", "L"),
        "hip": "{S}H",
        "knee": "{S}K",
        "ankle": "{S}A",
        "foot": "{S}Mrot",
        "collar": _mid("BLN", "{S}S"),
        "shoulder": "{S}S",
        "elbow": "{S}E",
        "wrist": "{S}W",
    },
)

# CMU BVH as converted from the ASF/AMC files with the ASF bone names (../shared/fixtures/bvh-cmu): LeftHip is the hip
# socket, LeftToe the ball of the foot, Chest/Chest2 the two spine joints, Neck the neck base, LeftCollar a
# zero-length joint on Chest2, LeftShoulder the shoulder (glenohumeral) joint.
CMU_ASF_TO_SMPL22 = _symmetric(
    "cmu-asf",
    {
        "pelvis": "Hips",
        "spine1": "Chest",
        "spine2": _mid("Chest", "Chest2"),
        "spine3": "Chest2",
        "neck": "Neck",
        "head": "Head",
    },
    {
        "_left": ("Left", "L"),
        "_right": ("Right", "R"),
        "hip": "{Side}Hip",
        "knee": "{Side}Knee",
        "ankle": "{Side}Ankle",
        "foot": "{Side}Toe",
        "collar": _mid("Neck", "{Side}Shoulder"),
        "shoulder": "{Side}Shoulder",
        "elbow": "{Side}Elbow",
        "wrist": "{Side}Wrist",
    },
)

# CMU BVH in the widespread "cgspeed" conversion: the same rig as above renamed (LowerBack, Spine, Spine1, Neck, Neck1,
# Head; LeftShoulder is the clavicle on Spine1 with a zero offset and LeftArm the shoulder joint; LeftUpLeg, LeftLeg,
# LeftFoot, LeftToeBase).
CMU_CGSPEED_TO_SMPL22 = _symmetric(
    "cmu-cgspeed",
    {
        "pelvis": "Hips",
        "spine1": "Spine",
        "spine2": _mid("Spine", "Spine1"),
        "spine3": "Spine1",
        "neck": "Neck1",
        "head": "Head",
    },
    {
        "_left": ("Left", "L"),
        "_right": ("Right", "R"),
        "hip": "{Side}UpLeg",
        "knee": "{Side}Leg",
        "ankle": "{Side}Foot",
        "foot": "{Side}ToeBase",
        "collar": _mid("Neck1", "{Side}Arm"),
        "shoulder": "{Side}Arm",
        "elbow": "{Side}ForeArm",
        "wrist": "{Side}Hand",
    },
)

# Mixamo (names "mixamorig:Hips" ...): three spine joints and real clavicles, one-to-one with SMPL.
MIXAMO_TO_SMPL22 = _symmetric(
    "mixamo",
    {
        "pelvis": "Hips",
        "spine1": "Spine",
        "spine2": "Spine1",
        "spine3": "Spine2",
        "neck": "Neck",
        "head": "Head",
    },
    {
        "_left": ("Left", "L"),
        "_right": ("Right", "R"),
        "hip": "{Side}UpLeg",
        "knee": "{Side}Leg",
        "ankle": "{Side}Foot",
        "foot": "{Side}ToeBase",
        "collar": "{Side}Shoulder",
        "shoulder": "{Side}Arm",
        "elbow": "{Side}ForeArm",
        "wrist": "{Side}Hand",
    },
)

# Rigs exported with SMPL's own joint names ("Pelvis", "L_Hip", ... as the SMPL FBX/BVH exporters write them).
SMPL_NAMED_TO_SMPL22 = _symmetric(
    "smpl-named",
    {"pelvis": "Pelvis", "spine1": "Spine1", "spine2": "Spine2", "spine3": "Spine3", "neck": "Neck", "head": "Head"},
    {
        "_left": ("L", "L"),
        "_right": ("R", "R"),
        "hip": "{S}_Hip",
        "knee": "{S}_Knee",
        "ankle": "{S}_Ankle",
        "foot": "{S}_Foot",
        "collar": "{S}_Collar",
        "shoulder": "{S}_Shoulder",
        "elbow": "{S}_Elbow",
        "wrist": "{S}_Wrist",
    },
)

# Tried in this order; each requires names the others lack (Spine2 / Neck1 / Chest2 / L_Hip), so at most one fits.
RIG_MAPS: dict[str, JointMap] = {
    m.name: m for m in (MIXAMO_TO_SMPL22, CMU_CGSPEED_TO_SMPL22, CMU_ASF_TO_SMPL22, SMPL_NAMED_TO_SMPL22)
}


def find_rig_map(names: Sequence[str], path: str | os.PathLike | None = None) -> JointMap:
    """The rig map whose joints ``names`` has; MotionDataError naming the nearest map's missing joints if none fits."""
    best: tuple[int, JointMap, list[str]] | None = None
    for joint_map in RIG_MAPS.values():
        missing = joint_map.missing(names)
        if not missing:
            return joint_map
        if best is None or len(missing) < best[0]:
            best = (len(missing), joint_map, missing)
    assert best is not None
    _, nearest, missing = best
    raise MotionDataError(
        path,
        f"cannot map this rig onto SMPL-22: the nearest known rig ({nearest.name}) needs joints "
        f"{', '.join(missing)}, which are missing (rig joints: {', '.join(names)}; known rigs: {', '.join(RIG_MAPS)})",
    )


def get_rig_map(name: str) -> JointMap:
    key = name.lower()
    maps = {**RIG_MAPS, KIT21_TO_SMPL22.name: KIT21_TO_SMPL22, KIT21_TO_SMPL22_SWAPPED.name: KIT21_TO_SMPL22_SWAPPED}
    if key not in maps:
        raise MotionDataError(None, f"unknown rig map {name!r}; known: {', '.join(maps)}")
    return maps[key]


# -------------------------------------------------------------------------------------------------------------------
# Handedness: a geometric check that does not trust joint names
# -------------------------------------------------------------------------------------------------------------------
def facing_agreement(joints: np.ndarray) -> float:
    """How well the facing implied by left/right labels agrees with where the toes point, in [-1, 1].

    HumanML3D's facing is ``up x (right - left)`` over hips and shoulders (with Y up this is +Z for a body whose
    left is +X). Feet point forward whatever the labels say, so for SMPL-22 joints (T, 22, 3), Y-up, a positive
    value means the labels agree with the geometry and a negative one that the body is mirrored (left and right
    labels on the wrong sides, or a left-handed coordinate frame).
    """
    joints = np.asarray(joints, dtype=np.float64)
    across = (joints[:, 2] - joints[:, 1]) + (joints[:, 17] - joints[:, 16])  # (T, 3) right - left
    facing = np.stack([across[:, 2], np.zeros(len(across)), -across[:, 0]], axis=-1)  # (T, 3) = up x across
    toes = (joints[:, 10] - joints[:, 7]) + (joints[:, 11] - joints[:, 8])  # (T, 3) ankle -> ball of foot
    toes[:, 1] = 0.0
    num = float(np.sum(facing * toes))
    den = float(np.linalg.norm(facing) * np.linalg.norm(toes))
    return num / den if den > 0 else 0.0


# -------------------------------------------------------------------------------------------------------------------
# Joint maps from files (--rig-map FILE.json)
# -------------------------------------------------------------------------------------------------------------------
def joint_map_from_json(obj, name: str, path: str | os.PathLike | None = None) -> JointMap:
    """A JointMap from ``{smpl_joint: rig_joint | [[rig_joint, weight], ...] | {rig_joint: weight}}`` (all 22 SMPL
    joints; weights of one SMPL joint sum to 1), optionally wrapped as ``{"name": ..., "joints": {...}}``."""
    if isinstance(obj, Mapping) and "joints" in obj and isinstance(obj["joints"], Mapping):
        name = str(obj.get("name") or name)
        obj = obj["joints"]
    if not isinstance(obj, Mapping):
        raise MotionDataError(path, f"a rig map is a JSON object keyed by SMPL joint names, got {type(obj).__name__}")
    unknown = [k for k in obj if k not in SMPL22_NAMES]
    if unknown:
        raise MotionDataError(path, f"rig map: unknown SMPL joints {', '.join(map(str, unknown))}; "
                                    f"the 22 are {', '.join(SMPL22_NAMES)}")
    mapping: dict[str, Source] = {}
    for smpl_joint, value in obj.items():
        if isinstance(value, str):
            pairs = [(value, 1.0)]
        elif isinstance(value, Mapping):
            pairs = list(value.items())
        elif isinstance(value, (list, tuple)):
            pairs = list(value)
        else:
            raise MotionDataError(path, f"rig map: {smpl_joint} must be a joint name or [[name, weight], ...]")
        try:
            source = tuple((str(n), float(w)) for n, w in pairs)
        except (TypeError, ValueError):
            raise MotionDataError(path, f"rig map: {smpl_joint} must be a joint name or [[name, weight], ...]") \
                from None
        total = sum(w for _, w in source)
        if not source or not np.isfinite(total) or abs(total - 1.0) > 1e-6:
            raise MotionDataError(path, f"rig map: the weights of {smpl_joint} sum to {total:g}, not 1")
        mapping[smpl_joint] = source
    try:
        return JointMap.from_dict(name, mapping)
    except ValueError as exc:
        raise MotionDataError(path, f"rig map: {exc}") from None


def load_joint_map(path: str | os.PathLike) -> JointMap:
    """``--rig-map FILE.json``: the JointMap form (see joint_map_from_json); the map is named after the file."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MotionDataError(path, "rig map file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MotionDataError(path, f"cannot read the rig map: {exc}") from None
    return joint_map_from_json(obj, path.stem, path)


# -------------------------------------------------------------------------------------------------------------------
# Feet for rigs without toe joints, and the Human3.6M 17-joint layout of 3D pose estimators
# -------------------------------------------------------------------------------------------------------------------
# SMPL's foot joint (the ball of the foot) relative to the ankle, as fractions of the leg (hip -> knee -> ankle):
# median over the real HumanML3D motion 012314 (leg 0.826 m), ball 0.11 m forward of and 0.05 m below the ankle.
FOOT_FORWARD = 0.12 / 0.826
FOOT_DOWN = 0.05 / 0.826


def synthesize_feet(joints: np.ndarray) -> np.ndarray:
    """SMPL-22 joints (T, 22, 3), Y-up, whose feet (10, 11) are missing -> the same with feet built per frame.

    Each foot is placed ``FOOT_FORWARD`` leg lengths ahead of its ankle along the body's horizontal facing (from
    the hips and shoulders, ``left x up`` as in HumanML3D) and ``FOOT_DOWN`` below it. Feet are rigid with the body
    this way (no ankle flexion), which keeps foot contacts and facing right but carries no toe motion.
    """
    j = np.array(joints, dtype=np.float64)  # (T, 22, 3)
    left = (j[:, 1] - j[:, 2]) + (j[:, 16] - j[:, 17])  # (T, 3) hips and shoulders, right -> left
    left[:, 1] = 0.0
    forward = np.cross(left, [0.0, 1.0, 0.0])  # (T, 3) left x up
    norm = np.linalg.norm(forward, axis=-1)
    ok = norm > 1e-9
    if ok.any():
        good = np.flatnonzero(ok)
        after = np.minimum(np.searchsorted(good, np.arange(len(j))), len(good) - 1)  # (T,)
        before = np.maximum(after - 1, 0)
        frames = np.arange(len(j))
        nearest = np.where(np.abs(good[before] - frames) < np.abs(good[after] - frames), good[before], good[after])
        forward = forward[nearest] / norm[nearest, None]  # frames without a facing borrow the nearest one's
    else:
        forward = np.tile([0.0, 0.0, 1.0], (len(j), 1))
    leg = float(np.mean([np.linalg.norm(j[:, k] - j[:, h], axis=-1) + np.linalg.norm(j[:, a] - j[:, k], axis=-1)
                         for h, k, a in ((1, 4, 7), (2, 5, 8))]))
    offset = leg * (FOOT_FORWARD * forward - FOOT_DOWN * np.array([0.0, 1.0, 0.0]))  # (T, 3)
    j[:, 10] = j[:, 7] + offset
    j[:, 11] = j[:, 8] + offset
    return j


# Human3.6M's 17 joints as 3D pose estimators write them (VideoPose3D, MotionBERT, ...): skeleton.H36M17.
#   0 pelvis ("Hip"), 1-3 right hip/knee/ankle, 4-6 left hip/knee/ankle, 7 spine (mid-back), 8 thorax (between the
#   shoulders), 9 neck/nose, 10 head (top), 11-13 left shoulder/elbow/wrist, 14-16 right shoulder/elbow/wrist.
# Onto SMPL-22 (fractions along the pelvis -> thorax line follow SMPL's spine proportions):
#   spine1 = midpoint of pelvis and spine (SMPL's spine1 is about halfway up to the mid-back);
#   spine2 = spine (the mid-back); spine3 = 80 % spine + 20 % thorax (SMPL's spine3 sits a little above mid-back);
#   neck = thorax (the base of the neck between the shoulders);
#   head = midpoint of thorax and nose: SMPL's head joint sits about 10 cm above the neck base, below the face;
#   collars = midpoint of thorax and shoulder (the CMU/KIT convention above);
#   feet (balls of the feet) = synthesized from the ankles and the facing (synthesize_feet): H36M has no toes.
H36M17_TO_SMPL22 = JointMap.from_dict(
    "h36m17",
    {
        "pelvis": "Hip", "left_hip": "LHip", "right_hip": "RHip", "spine1": _mid("Hip", "Spine"),
        "left_knee": "LKnee", "right_knee": "RKnee", "spine2": "Spine", "left_ankle": "LFoot", "right_ankle": "RFoot",
        "spine3": (("Spine", 0.8), ("Thorax", 0.2)), "left_foot": "LFoot", "right_foot": "RFoot", "neck": "Thorax",
        "left_collar": _mid("Thorax", "LShoulder"), "right_collar": _mid("Thorax", "RShoulder"),
        "head": _mid("Thorax", "Nose"), "left_shoulder": "LShoulder", "right_shoulder": "RShoulder",
        "left_elbow": "LElbow", "right_elbow": "RElbow", "left_wrist": "LWrist", "right_wrist": "RWrist",
    },
)


def kit_to_smpl22(joints21: np.ndarray, path: str | os.PathLike | None = None) -> tuple[np.ndarray, str]:
    """(T, 21, 3) KIT-ML joints (any units, Y-up) -> ((T, 22, 3) SMPL-22 joints in the same units, map name)."""
    names = KIT21_NAMES
    smpl = KIT21_TO_SMPL22.apply(joints21, names, path)  # (T, 22, 3)
    if facing_agreement(smpl) < 0:
        return KIT21_TO_SMPL22_SWAPPED.apply(joints21, names, path), KIT21_TO_SMPL22_SWAPPED.name
    return smpl, KIT21_TO_SMPL22.name
