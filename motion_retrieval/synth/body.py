"""Synthetic bodies: proportions, a posable rig on SMPL-22 or KIT-21, forward kinematics and grounding.

A motion is authored as per-frame angles of a small set of anatomical degrees of freedom (``DOF_NAMES``), the same
for both skeletons; ``BodyRig`` maps them onto the joints of one skeleton and ``pose_local`` runs forward
kinematics with constant bone lengths. Conventions (HumanML3D / SMPL): Y up, the body faces +Z in its own frame,
its LEFT side is +X. Angles are in radians and mirror-symmetric: the same value on ``l_*`` and ``r_*`` gives
mirror-image poses (rotations about Y and Z are negated on the right side).

- ``*_sh_flex``: arm raised forward (0 = hanging, pi/2 = pointing forward, pi = overhead);
- ``*_sh_abd``: arm raised sideways (pi/2 = pointing sideways at shoulder height);
- ``*_sh_hadd``: horizontal adduction, a raised arm swung towards the midline (negative: swung outwards/back);
- ``*_sh_twist``: rotation about the upper-arm axis (positive: a bent forearm turns outwards/up when abducted);
- ``*_elbow``, ``*_knee``: flexion; ``*_hip_flex`` thigh forward, ``*_hip_abd`` thigh sideways;
- ``*_ankle``: plantar flexion (toes down); ``spine_pitch`` bends forward, ``spine_roll`` bends to the left,
  ``spine_yaw`` twists the chest to the left; ``root_pitch`` tilts the whole body forward about the pelvis,
  ``root_roll`` to the left, ``root_yaw`` turns the pelvis (and all above it) to the left of the heading; pelvis
  roll and yaw leave the legs hanging plumb along the heading (pelvic tilt and rotation in gait);
- ``*_collar_elev`` raises the shoulder girdle (a shrug), ``*_collar_prot`` moves it forward. The arm keeps its
  orientation (the shoulder DOFs are relative to the trunk), only the shoulder joint moves. KIT-ML's MMM skeleton
  has no collar joints: there these two DOFs do nothing.

Rest-pose geometry varies per person (``RestShape``): hip width and height, spine spacing and curvature, collar
and shoulder placement, neck and head offsets, thigh and shin angles, foot length, pitch and toe-out, plus a
little left/right asymmetry, so that learnt features do not depend on one rig's geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motion_retrieval.rotations import euler_to_quaternion, qinv, qmul, quaternion_to_matrix, y_rotation_quaternion
from motion_retrieval.skeleton import KIT21, SMPL22, SkeletonSpec
from motion_retrieval.synth.variants import draw

__all__ = [
    "DOF_NAMES",
    "DOF_INDEX",
    "BodyProportions",
    "BodyRig",
    "RestShape",
    "sample_proportions",
    "sample_rest_shape",
]

_SIDE_DOFS = ("sh_flex", "sh_abd", "sh_hadd", "sh_twist", "elbow", "hip_flex", "hip_abd", "knee", "ankle",
              "collar_elev", "collar_prot")
ROOT_DOFS = ("root_pitch", "root_roll", "root_yaw")  # tilt the whole body: what keeps the feet on the floor
DOF_NAMES: tuple[str, ...] = (
    *ROOT_DOFS, "spine_pitch", "spine_roll", "spine_yaw", "neck_pitch", "neck_yaw",
    *(f"l_{d}" for d in _SIDE_DOFS), *(f"r_{d}" for d in _SIDE_DOFS),
)
DOF_INDEX: dict[str, int] = {name: i for i, name in enumerate(DOF_NAMES)}


@dataclass(frozen=True)
class BodyProportions:
    """Per-person scale factors applied to the reference bone lengths (1.0 = the skeleton's reference body)."""

    height: float = 1.0  # every bone
    legs: float = 1.0  # thigh, shin
    arms: float = 1.0  # upper arm, forearm
    torso: float = 1.0  # spine, neck, head
    shoulders: float = 1.0  # collar bones (shoulder width)
    hips: float = 1.0  # pelvis -> hip (hip width)


def sample_proportions(rng: np.random.Generator, variant: str = "train") -> BodyProportions:
    """A plausible adult: height within about +-10 %, limb ratios within about +-6 % (training ranges). The
    ``transfer`` variant draws every factor just outside those ranges (``variants.draw``)."""
    return BodyProportions(
        height=draw(rng, 0.9, 1.1, variant),
        legs=draw(rng, 0.94, 1.06, variant),
        arms=draw(rng, 0.94, 1.06, variant),
        torso=draw(rng, 0.94, 1.06, variant),
        shoulders=draw(rng, 0.9, 1.1, variant),
        hips=draw(rng, 0.9, 1.1, variant),
    )


@dataclass(frozen=True)
class RestShape:
    """Per-person rest-pose geometry. Angles in radians tilt a bone's rest direction (defined for the LEFT side,
    mirrored on the right); factors scale a bone's length. All zeros / ones = the reference rig."""

    hip_spread: float = 0.0  # pelvis -> hip tilted up (+: higher, more horizontal hip joints)
    hip_depth: float = 0.0  # pelvis -> hip swung about the vertical (hip joints forward or back)
    spine_curve: tuple[float, float, float] = (0.0, 0.0, 0.0)  # forward tilt of each spine segment (lordosis...)
    spine_spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)  # relative length of each spine segment
    collar_lift: float = 0.0  # spine -> collar tilted outwards (+) or inwards
    collar_forward: float = 0.0  # spine -> collar swung forward
    shoulder_drop: float = 0.0  # collar -> shoulder tilted up (+) or down (sloping shoulders)
    shoulder_forward: float = 0.0  # collar -> shoulder swung forward (rounded shoulders)
    neck_forward: float = 0.0  # forward tilt of the neck
    head_forward: float = 0.0  # forward tilt of the neck -> head offset
    knee_out: float = 0.0  # thigh tilted outwards (bow legs) or inwards (knock knees)
    shin_back: float = 0.0  # shin tilted backwards
    arm_out: float = 0.0  # carrying angle of the hanging arm
    foot_length: float = 1.0  # foot (and toe) length factor
    foot_pitch: float = 0.0  # foot tilted down (+) or flatter
    toe_out: float = 0.0  # feet turned outwards (+)
    asymmetry: float = 0.0  # std (radians) of small independent left/right tilts of every bone
    asymmetry_seed: int = 0


def sample_rest_shape(rng: np.random.Generator, variant: str = "train") -> RestShape:
    """Rest-pose geometry within what real mocap rigs and bodies show (training ranges), or just outside them
    (``transfer``)."""
    def d(lo: float, hi: float) -> float:
        return draw(rng, lo, hi, variant)

    spacing = np.array([d(0.85, 1.15) for _ in range(3)])
    return RestShape(
        hip_spread=d(-0.12, 0.12), hip_depth=d(-0.1, 0.1),
        spine_curve=(d(-0.12, 0.12), d(-0.12, 0.12), d(-0.12, 0.12)),
        spine_spacing=tuple(float(x) for x in spacing / spacing.mean()),
        collar_lift=d(-0.15, 0.15), collar_forward=d(-0.12, 0.12),
        shoulder_drop=d(-0.12, 0.12), shoulder_forward=d(-0.1, 0.1),
        neck_forward=d(-0.15, 0.15), head_forward=d(-0.2, 0.2),
        knee_out=d(-0.04, 0.04), shin_back=d(-0.05, 0.05), arm_out=d(-0.05, 0.05),
        foot_length=d(0.88, 1.12), foot_pitch=d(-0.15, 0.15), toe_out=d(-0.05, 0.3),
        asymmetry=d(0.0, 0.03), asymmetry_seed=int(rng.integers(2**31)),
    )


def _shape_tilt(part: str, shape: RestShape) -> tuple[float, float, float, float]:
    """(angle about X, about Y, about Z, length factor) of a LEFT-side or central bone of ``part``."""
    if part.startswith("spine"):
        i = int(part[-1])
        return shape.spine_curve[i], 0.0, 0.0, shape.spine_spacing[i]
    return {
        "hip": (0.0, shape.hip_depth, shape.hip_spread, 1.0),
        "neck": (shape.neck_forward, 0.0, 0.0, 1.0),
        "head": (shape.head_forward, 0.0, 0.0, 1.0),
        "collar": (0.0, -shape.collar_forward, -shape.collar_lift, 1.0),
        "shoulder": (0.0, -shape.shoulder_forward, shape.shoulder_drop, 1.0),
        "upper_arm": (0.0, 0.0, shape.arm_out, 1.0),
        "thigh": (0.0, 0.0, shape.knee_out, 1.0),
        "shin": (shape.shin_back, 0.0, 0.0, 1.0),
        "foot": (shape.foot_pitch, shape.toe_out, 0.0, shape.foot_length),
        "toe": (0.0, shape.toe_out, 0.0, shape.foot_length),
    }.get(part, (0.0, 0.0, 0.0, 1.0))


@dataclass(frozen=True)
class _JointRole:
    """How the rig uses one joint: its rest direction, which proportion scales its bone, and what it actuates."""

    direction: tuple[float, float, float]  # rest-pose direction of the bone parent -> joint (arms hanging down)
    group: str  # BodyProportions field scaling this bone ("" = height only)
    actuator: str = ""  # "spine", "neck", "l_shoulder", "r_elbow", ... ("" = rigid)
    clearance: float = 0.05  # metres this joint keeps above the floor when it is the lowest one
    part: str = ""  # which RestShape parameters reshape this bone ("hip", "spine0", "foot", ...)
    right: bool = False  # on the body's right side (RestShape tilts are mirrored there)


def _side(left: dict[str, _JointRole]) -> dict[str, _JointRole]:
    """The right-side roles: mirror of the left ones (x -> -x, actuator l_ -> r_)."""
    right = {}
    for name, role in left.items():
        x, y, z = role.direction
        actuator = "r_" + role.actuator[2:] if role.actuator.startswith("l_") else role.actuator
        right[name] = _JointRole((-x, y, z), role.group, actuator, role.clearance, role.part, True)
    return right


# Rest pose on SMPL-22 (HumanML3D joint names): standing, arms hanging at the sides, feet forward.
# A joint's actuator is the rotation applied AT that joint, which moves its children (a shoulder moves the elbow).
_SMPL_LEFT = {
    "left_hip": _JointRole((0.8, -0.6, 0.05), "hips", "l_hip", 0.08, "hip"),
    "left_knee": _JointRole((0.02, -1.0, 0.0), "legs", "l_knee", 0.05, "thigh"),
    "left_ankle": _JointRole((0.0, -1.0, -0.04), "legs", "l_ankle", 0.06, "shin"),
    "left_foot": _JointRole((0.0, -0.4, 1.0), "", "", 0.015, "foot"),
    "left_collar": _JointRole((0.35, 1.0, -0.05), "shoulders", "l_collar", 0.05, "collar"),
    "left_shoulder": _JointRole((1.0, -0.05, -0.1), "shoulders", "l_shoulder", 0.05, "shoulder"),
    "left_elbow": _JointRole((0.08, -1.0, 0.0), "arms", "l_elbow", 0.04, "upper_arm"),
    "left_wrist": _JointRole((0.0, -1.0, 0.1), "arms", "", 0.03, "forearm"),
}
_SMPL_ROLES = {
    "pelvis": _JointRole((0.0, 0.0, 0.0), "", "root", 0.1),
    "spine1": _JointRole((0.0, 1.0, -0.15), "torso", "spine", 0.1, "spine0"),
    "spine2": _JointRole((0.0, 1.0, 0.1), "torso", "spine", 0.1, "spine1"),
    "spine3": _JointRole((0.0, 1.0, 0.3), "torso", "spine", 0.1, "spine2"),
    "neck": _JointRole((0.0, 1.0, -0.1), "torso", "neck", 0.1, "neck"),
    "head": _JointRole((0.0, 0.85, 0.5), "torso", "", 0.1, "head"),
    **_SMPL_LEFT,
    **_side({k.replace("left", "right"): v for k, v in _SMPL_LEFT.items()}),
}

# Rest pose on the 21-joint MMM skeleton of KIT-ML. As in the real KIT-ML release (and in Guo's KIT features, whose
# face_joint_indx reads joint 11 "LH" as the right hip), the MMM "R*" joints sit on the body's LEFT (+X) side and
# "L*" on its right, so that Guo's facing rule sees the body face +Z (data.kitml explains the label swap).
# BLN carries both the head and the shoulders, so the KIT rig has no separate neck actuator.
_KIT_BODY_LEFT = {
    "RS": _JointRole((1.0, -0.25, -0.05), "shoulders", "l_shoulder", 0.05, "shoulder"),
    "RE": _JointRole((0.06, -1.0, 0.0), "arms", "l_elbow", 0.04, "upper_arm"),
    "RW": _JointRole((0.0, -1.0, 0.1), "arms", "", 0.03, "forearm"),
    "RH": _JointRole((0.8, -0.6, 0.0), "hips", "l_hip", 0.08, "hip"),
    "RK": _JointRole((0.02, -1.0, 0.0), "legs", "l_knee", 0.05, "thigh"),
    "RA": _JointRole((0.0, -1.0, -0.04), "legs", "l_ankle", 0.06, "shin"),
    "RMrot": _JointRole((0.0, -0.6, 1.0), "", "", 0.03, "foot"),
    "RF": _JointRole((0.0, -0.1, 1.0), "", "", 0.015, "toe"),
}
_KIT_ROLES = {
    "root": _JointRole((0.0, 0.0, 0.0), "", "root", 0.1),
    "BP": _JointRole((0.0, 1.0, -0.05), "torso", "spine", 0.1, "spine0"),
    "BT": _JointRole((0.0, 1.0, 0.05), "torso", "spine", 0.1, "spine1"),
    "BLN": _JointRole((0.0, 1.0, -0.05), "torso", "", 0.1, "spine2"),
    "BUN": _JointRole((0.0, 1.0, 0.2), "torso", "", 0.1, "head"),
    **_KIT_BODY_LEFT,
    **_side({"L" + k[1:]: v for k, v in _KIT_BODY_LEFT.items()}),
}

_ROLES = {SMPL22.name: _SMPL_ROLES, KIT21.name: _KIT_ROLES}
_UNIT_SCALE = {"m": 1.0, "mm": 1000.0}


class BodyRig:
    """One person on one skeleton: rest offsets (metres), what each joint actuates, forward kinematics."""

    def __init__(self, skeleton: SkeletonSpec, proportions: BodyProportions = BodyProportions(),
                 shape: RestShape = RestShape()):
        if skeleton.name not in _ROLES:
            raise ValueError(f"no synthetic rig for skeleton {skeleton.name!r}; known: {', '.join(_ROLES)}")
        self.skeleton = skeleton
        self.proportions = proportions
        self.shape = shape
        roles = _ROLES[skeleton.name]
        missing = set(skeleton.joint_names) - set(roles)
        if missing:
            raise ValueError(f"rig for {skeleton.name} lacks roles for joints {sorted(missing)}")
        self.roles = [roles[name] for name in skeleton.joint_names]
        lengths = np.asarray(skeleton.reference_bone_lengths, dtype=np.float64) / _UNIT_SCALE[skeleton.units]
        scale = np.array(
            [proportions.height * (getattr(proportions, r.group) if r.group else 1.0) for r in self.roles]
        )
        directions = np.array([r.direction for r in self.roles], dtype=np.float64)  # (J, 3)
        norms = np.linalg.norm(directions, axis=1, keepdims=True)
        directions = np.divide(directions, norms, out=np.zeros_like(directions), where=norms > 0)
        directions, factors = self._reshape(skeleton, directions, shape)
        self.offsets = directions * (lengths * scale * factors)[:, None]  # (J, 3) metres, constant over a motion
        self.parents = np.asarray(skeleton.parents)
        self.clearance = np.array([r.clearance for r in self.roles]) * proportions.height  # (J,)
        self.spine_joints = [j for j, r in enumerate(self.roles) if r.actuator == "spine"]
        # A collar's rotation is undone on its child so that the arm DOFs stay relative to the trunk.
        self.collar_children = [(j, c) for j, r in enumerate(self.roles) if r.actuator.endswith("_collar")
                                for c in range(len(self.roles)) if self.parents[c] == j]
        self.hip_joints = [j for j, r in enumerate(self.roles) if r.actuator.endswith("_hip")]
        self.foot_joints = {
            "l": [skeleton.joint_index(n) for n in _FOOT_NAMES[skeleton.name][0]],
            "r": [skeleton.joint_index(n) for n in _FOOT_NAMES[skeleton.name][1]],
        }
        self.wrist = {s: skeleton.joint_index(n) for s, n in zip("lr", _WRIST_NAMES[skeleton.name])}
        self.head = skeleton.joint_index(_HEAD_NAMES[skeleton.name])

    def _reshape(self, skeleton: SkeletonSpec, directions: np.ndarray,
                 shape: RestShape) -> tuple[np.ndarray, np.ndarray]:
        """Tilt the rest directions and scale the bones of one person's rest pose. (J, 3) -> (J, 3), (J,)."""
        J = len(self.roles)
        angles = np.zeros((J, 3))
        factors = np.ones(J)
        for j, role in enumerate(self.roles):
            ax, ay, az, factor = _shape_tilt(role.part, shape)
            angles[j] = (ax, -ay, -az) if role.right else (ax, ay, az)  # mirror: rotations about Y and Z negate
            factors[j] = factor
        if shape.asymmetry > 0:
            angles += np.random.default_rng(shape.asymmetry_seed).normal(0.0, shape.asymmetry, size=(J, 3))
        angles[0] = 0.0
        rot = quaternion_to_matrix(euler_to_quaternion(angles, "XYZ"))  # (J, 3, 3)
        return np.einsum("jab,jb->ja", rot, directions), factors

    @property
    def leg_length(self) -> float:
        """Hip-to-ankle length in metres (sets stride lengths and jump heights)."""
        ankle = self.foot_joints["l"][0]
        knee = self.parents[ankle]
        return float(np.linalg.norm(self.offsets[knee]) + np.linalg.norm(self.offsets[ankle]))

    def local_rotations(self, dofs: np.ndarray) -> np.ndarray:
        """Per-joint local rotations from DOF angles. ``dofs``: (T, D) -> (T, J, 4) quaternions.

        Every actuated joint gets three Euler angles and an axis order; joints are converted in one batch per order.
        """
        T = dofs.shape[0]
        d = {name: dofs[:, i] for name, i in DOF_INDEX.items()}
        zero = np.zeros(T)
        angles = np.zeros((T, len(self.roles), 3))  # (T, J, 3)
        orders = ["XYZ"] * len(self.roles)
        n_spine = max(len(self.spine_joints), 1)
        shoulders: list[tuple[int, np.ndarray]] = []  # (joint, horizontal swing angle about Y)
        for j, role in enumerate(self.roles):
            act = role.actuator
            s = act[:1]
            sign = 1.0 if s == "l" else -1.0
            if not act:
                continue
            if act == "root":  # yaw, pitch, roll about the pelvis; the heading is applied by program.render
                angles[:, j] = np.stack([d["root_yaw"], d["root_pitch"], -d["root_roll"]], -1)
                orders[j] = "YXZ"
            elif act == "spine":  # the trunk bends at every spine joint by an equal share; left bend is about -Z
                angles[:, j] = np.stack([d["spine_yaw"], d["spine_pitch"], -d["spine_roll"]], -1) / n_spine
                orders[j] = "YXZ"
            elif act == "neck":
                angles[:, j], orders[j] = np.stack([d["neck_yaw"], d["neck_pitch"], zero], -1), "YXZ"
            elif act.endswith("_shoulder"):
                # Twist about the bone, flex forward (about -X), abduct sideways (about +-Z), then swing the raised
                # arm horizontally about Y: R = Ry(hadd) Rz(abd) Rx(-flex) Ry(twist).
                angles[:, j] = np.stack([sign * d[f"{s}_sh_abd"], -d[f"{s}_sh_flex"], sign * d[f"{s}_sh_twist"]], -1)
                orders[j] = "ZXY"
                shoulders.append((j, -sign * d[f"{s}_sh_hadd"]))
            elif act.endswith("_collar"):  # protraction swings the shoulder forward, elevation lifts it
                angles[:, j] = np.stack([-sign * d[f"{s}_collar_prot"], sign * d[f"{s}_collar_elev"], zero], -1)
                orders[j] = "YZX"
            elif act.endswith("_elbow"):
                angles[:, j, 0] = -d[f"{s}_elbow"]
            elif act.endswith("_hip"):
                angles[:, j], orders[j] = np.stack([sign * d[f"{s}_hip_abd"], -d[f"{s}_hip_flex"], zero], -1), "ZXY"
            elif act.endswith("_knee"):
                angles[:, j, 0] = d[f"{s}_knee"]
            elif act.endswith("_ankle"):
                angles[:, j, 0] = d[f"{s}_ankle"]
        quats = np.empty((T, len(self.roles), 4))  # (T, J, 4)
        for order in set(orders):
            idx = [j for j, o in enumerate(orders) if o == order]
            quats[:, idx] = euler_to_quaternion(angles[:, idx], order)
        if shoulders:
            idx = [j for j, _ in shoulders]
            swing = y_rotation_quaternion(np.stack([a for _, a in shoulders], -1))  # (T, S, 4)
            quats[:, idx] = qmul(swing, quats[:, idx])
        for collar, child in self.collar_children:
            quats[:, child] = qmul(qinv(quats[:, collar]), quats[:, child])
        if self.hip_joints:
            # The pelvis's yaw and roll are the pelvis's alone: the legs keep the heading and hang plumb (a real hip
            # rotates and adducts to keep the planted foot still), only its pitch tips them with the body.
            root = 0
            pitch_only = euler_to_quaternion(np.stack([zero, d["root_pitch"], zero], -1), "YXZ")  # (T, 4)
            keep = qmul(qinv(quats[:, root]), pitch_only)[:, None]  # (T, 1, 4)
            quats[:, self.hip_joints] = qmul(np.broadcast_to(keep, quats[:, self.hip_joints].shape),
                                             quats[:, self.hip_joints])
        return quats

    def pose_local(self, dofs: np.ndarray) -> np.ndarray:
        """Forward kinematics in the body frame (pelvis at the origin, heading +Z). (T, D) -> (T, J, 3) metres."""
        local = quaternion_to_matrix(self.local_rotations(dofs))  # (T, J, 3, 3)
        T, J = local.shape[:2]
        glob = np.empty_like(local)  # (T, J, 3, 3)
        pos = np.zeros((T, J, 3))
        glob[:, 0] = local[:, 0]
        for j in range(1, J):  # parents precede children (SkeletonSpec checks it)
            p = self.parents[j]
            pos[:, j] = pos[:, p] + glob[:, p] @ self.offsets[j]
            glob[:, j] = glob[:, p] @ local[:, j]
        return pos

    def to_units(self, joints_m: np.ndarray) -> np.ndarray:
        """Metres -> the skeleton's units (KIT-ML uses millimetres)."""
        return joints_m * _UNIT_SCALE[self.skeleton.units]


_FOOT_NAMES = {
    SMPL22.name: (("left_ankle", "left_foot"), ("right_ankle", "right_foot")),
    KIT21.name: (("RA", "RMrot", "RF"), ("LA", "LMrot", "LF")),  # body left = MMM "R*" (see _KIT_ROLES)
}
_WRIST_NAMES = {SMPL22.name: ("left_wrist", "right_wrist"), KIT21.name: ("RW", "LW")}
_HEAD_NAMES = {SMPL22.name: "head", KIT21.name: "BUN"}
