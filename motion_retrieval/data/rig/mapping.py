"""A rig's joints onto SMPL-22: the explicit maps of known rigs, or one found from the hierarchy and the motion.

``map_rig(positions, names, parents)`` is the one entry point. Known rigs (joint_maps.RIG_MAPS: Mixamo, CMU in its
two BVH namings, SMPL-named exports) keep their explicit maps; any other rig with parents is mapped automatically:

1. **Body plan** (topology.py): pelvis, two legs, spine, chest, two arms, neck/head chain.
2. **Limbs**: along a limb's main path, the hip/knee/ankle (shoulder/elbow/wrist) are the three joints spanning the
   two longest bones of similar length (ratio 0.6-1.67: thigh and shin, upper arm and forearm), skipping in-series
   twist/roll joints (named so, or straight in every sampled pose while the limb's other joints bend). The joint
   after the ankle is SMPL's foot (the ball of the foot); a joint before the shoulder is the collar. A rig
   without toe joints gets feet built from the ankle and the facing (joint_maps.synthesize_feet); a rig without a
   collar joint gets SMPL's collar halfway between the neck and the shoulder, as the explicit CMU/KIT maps do.
3. **Spine**: SMPL's spine3 is the chest (where the arms branch). With one joint between pelvis and chest, spine1
   is that joint and spine2 the midpoint (the CMU/KIT convention); with two, one to one; otherwise spine1/spine2
   are interpolated along the spine at SMPL's proportions (40 % and 83 % of the pelvis -> spine3 length).
4. **Neck and head**: the head is the joint where a face rig forks, else the one named head, else the last joint
   of the chain (the one before it for three or more unnamed joints, whose leaf is then an end marker); the neck
   is the first joint named neck, else the first joint of the chain. A rig whose arms branch at the neck (one head
   joint above the arms) has its chest as SMPL's neck.
5. **Sides** (orientation.py): which limb of each pair is the left one comes from the motion (right-hand rule over
   the frames) and is confirmed against the names (L/R/Left/Right/_l/_r); when the motion cannot tell, names
   decide; when neither can, the rig is refused.
6. **Refusals**: no humanoid layout (topology.py), or a humanoid layout whose spine lies across its legs in most
   frames while the front limbs reach the floor (a quadruped).

The mapping is found once per file from its header and a few sampled frames (at most ``SAMPLED_FRAMES``), then
applied to every frame as one (22, J) matrix product.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from motion_retrieval.data import joint_maps
from motion_retrieval.data.joint_maps import JointMap
from motion_retrieval.data.rig import naming, orientation
from motion_retrieval.data.rig.orientation import Orientation
from motion_retrieval.data.rig.topology import BodyPlan, BoneGraph, Hierarchy, RigError, find_body
from motion_retrieval.data.units import UNIT_SCALES, detect_units
from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import SMPL22

log = logging.getLogger(__name__)

SAMPLED_FRAMES = 32  # poses the mapping is found on: enough to see joints bend, cheap for any take length
BONE_RATIO = (0.6, 1.0 / 0.6)  # thigh/shin and upper arm/forearm of any adult lie well inside
STRAIGHT_DEGREES = 0.5  # an in-series twist joint never bends (real elbows: 2-15 degrees even when "straight")
_STRAIGHT_COS = float(np.cos(np.deg2rad(STRAIGHT_DEGREES)))
SIDE_DECISIVE = 0.5  # a side vote in [-1, 1] at least this strong is the motion's decision
QUADRUPED_COS = 0.35  # median cos(spine, legs) below this: the spine lies across the legs
# SMPL's spine1 and spine2 along the pelvis -> spine3 path (reference bone lengths 0.1316, 0.1432, 0.0574 m).
_SPINE_FRACTIONS = (0.1316 / 0.3322, 0.2748 / 0.3322)
_NAMES = SMPL22.joint_names
_J = {name: i for i, name in enumerate(_NAMES)}

Sources = dict[int, float]  # rig joint index -> weight, for one SMPL joint


@dataclass(frozen=True)
class RigMapping:
    """How a take's rig became SMPL-22: which rig joints make each SMPL joint, the axes, the units."""

    method: str  # "explicit" (a known or given map) or "auto"
    name: str  # the map's name: "cmu-asf", "mixamo", "auto", the --rig-map file's name, "h36m17", ...
    joint_names: tuple[str, ...]  # the rig's joints, in file order
    weights: np.ndarray  # (22, J): smpl = weights @ rig joints
    orientation: Orientation
    units: str  # a key of units.UNIT_SCALES
    synthesized: tuple[str, ...] = ()  # SMPL joints built from the motion, not from rig joints (feet of toe-less rigs)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def sources(self, smpl_joint: str | int) -> list[tuple[str, float]]:
        j = smpl_joint if isinstance(smpl_joint, int) else _J[smpl_joint]
        return [(self.joint_names[i], float(self.weights[j, i])) for i in np.flatnonzero(self.weights[j])]

    def describe(self, smpl_joint: str | int) -> str:
        j = smpl_joint if isinstance(smpl_joint, int) else _J[smpl_joint]
        if _NAMES[j] in self.synthesized:
            return "synthesized from the ankle and the facing (the rig has no toe joint)"
        sources = self.sources(j)
        if len(sources) == 1:
            return sources[0][0]
        return " + ".join(f"{w:.3g} {n}" for n, w in sources)

    def joint_map(self) -> JointMap:
        """The mapping in the JointMap form (by joint names), as ``--rig-map FILE.json`` reads it back."""
        return JointMap(self.name, tuple(tuple(self.sources(j)) for j in range(len(_NAMES))))

    def tags(self) -> list[str]:
        o = self.orientation
        return [f"rig:{self.name}", f"rig-method:{self.method}", f"rig-up:{o.up}", f"rig-units:{self.units}"]

    def to_json(self) -> dict:
        o = self.orientation
        return {
            "method": self.method,
            "name": self.name,
            "up": o.up,
            "forward": o.forward,
            "left": o.left,
            "up_confidence": round(o.up_confidence, 3),
            "forward_from": o.forward_source,
            "units": self.units,
            "joints": {name: self.describe(j) for j, name in enumerate(_NAMES)},
            "rig_map": joint_map_to_json(self.joint_map()),
            "synthesized": list(self.synthesized),
            "rig_joints": list(self.joint_names),
            "unused_rig_joints": [n for i, n in enumerate(self.joint_names) if not self.weights[:, i].any()],
            "notes": list(self.notes),
        }


def joint_map_to_json(joint_map: JointMap) -> dict:
    """``{smpl_joint: rig_joint | [[rig_joint, weight], ...]}``: the form ``--rig-map FILE.json`` reads."""
    out: dict = {}
    for name, source in zip(_NAMES, joint_map.sources):
        out[name] = source[0][0] if len(source) == 1 and source[0][1] == 1.0 else [[n, round(w, 6)] for n, w in source]
    return out


# ---------------------------------------------------------------------------------------------------- entry point
def map_rig(
    positions: np.ndarray,
    names: Sequence[str],
    parents: Sequence[int] | None = None,
    *,
    rig: str | JointMap | None = None,
    up: str = "auto",
    units: str = "auto",
    path=None,
    header_key: Hashable | None = None,
) -> tuple[np.ndarray, RigMapping]:
    """(T, J, 3) rig positions in the file's axes and units -> ((T, 22, 3) SMPL-22 in metres, Y-up; the mapping).

    ``rig``: None (a known rig's explicit map when the names fit one, else automatic), "auto" (always automatic),
    a joint_maps rig name, or a JointMap (``--rig-map``). ``up``: "auto" (from the motion) or a signed axis
    ("y", "z", "-y", ...). ``units``: "auto" (by leg length) or a key of units.UNIT_SCALES. ``header_key``: what
    the file's header fixes beyond names and parents (BVH channels and offsets); takes with equal keys share the
    automatic body plan and limbs, found once (the sides are still read from each take's motion).
    """
    positions = np.asarray(positions, dtype=np.float64)
    names = [str(n) for n in names]
    if positions.ndim != 3 or positions.shape[1:] != (len(names), 3):
        raise MotionDataError(path, f"expected rig positions (T, {len(names)}, 3), got {positions.shape}")
    explicit = _explicit_map(rig, names, path)
    if explicit is not None:
        weights = explicit.weights(names, path)
        return finish_mapping(positions, names, weights, "explicit", explicit.name, up=up, units=units, path=path)
    if parents is None:
        try:
            joint_maps.find_rig_map(names, path)
            nearest = "cannot map this rig onto SMPL-22"
        except MotionDataError as exc:
            nearest = exc.problem
        raise MotionDataError(
            path,
            f"{nearest}; and no parents were given to find the body automatically (store 'parents' beside "
            "'joint_names', or pass a --rig-map FILE.json)",
        )
    weights, orient, synthesized, notes = _auto_weights(positions, names, parents, up, path, header_key)
    return finish_mapping(positions, names, weights, "auto", "auto", up=up, units=units, path=path,
                          synthesized=synthesized, notes=notes, orient=orient)


def finish_mapping(
    positions: np.ndarray,
    names: Sequence[str],
    weights: np.ndarray,
    method: str,
    name: str,
    *,
    up: str = "auto",
    units: str = "auto",
    path=None,
    synthesized: tuple[str, ...] = (),
    notes: Sequence[str] = (),
    orient: Orientation | None = None,
) -> tuple[np.ndarray, RigMapping]:
    """Apply a (22, J) mapping, find the axes and units, turn Y-up metres; build feet a rig lacks (``synthesized``)."""

    smpl = weights @ np.asarray(positions, dtype=np.float64)  # (22, J) @ (T, J, 3) -> (T, 22, 3)
    if orient is None:
        orient = _orient(smpl[sampled_frames(len(smpl))], up, path, has_feet=not synthesized)
    smpl = orientation.to_y_up(smpl, orient.up, path)
    if units == "auto":
        units = detect_units(smpl, path)
    elif units not in UNIT_SCALES:
        raise MotionDataError(path, f"unknown units {units!r}; use one of {', '.join(UNIT_SCALES)} or 'auto'")
    smpl = smpl * UNIT_SCALES[units]
    if synthesized:
        smpl = joint_maps.synthesize_feet(smpl)
    mapping = RigMapping(method, name, tuple(str(n) for n in names), weights, orient, units, tuple(synthesized),
                         tuple(notes))
    log.debug("%s: rig %s (%s), up %s, forward %s, units %s", path, name, method, orient.up, orient.forward, units)
    return smpl, mapping


def _explicit_map(rig, names: Sequence[str], path) -> JointMap | None:
    if isinstance(rig, JointMap):
        return rig
    if isinstance(rig, str) and rig.lower() != "auto":
        return joint_maps.get_rig_map(rig)
    if rig is None:
        for joint_map in joint_maps.RIG_MAPS.values():
            if not joint_map.missing(names):
                return joint_map
    return None


def _orient(smpl: np.ndarray, up: str, path, has_feet: bool) -> Orientation:
    if up == "auto":
        up_axis, confidence = orientation.detect_up(smpl, path)
    else:
        up_axis, confidence = orientation.parse_axis(up, path), 1.0
    forward, source = orientation.forward_vectors(smpl, orientation.axis_vector(up_axis), has_feet)
    facing = orientation.facing_axis(forward, up_axis)
    return Orientation(up_axis, facing, orientation.left_axis(up_axis, facing), confidence, source if facing else "")


# ---------------------------------------------------------------------------------------------------- automatic
@dataclass(frozen=True)
class _Limb:
    joints: dict[str, int]  # "hip"/"knee"/"ankle"/"foot" or "collar"/"shoulder"/"elbow"/"wrist" -> rig joint
    chain: tuple[int, ...]


def sampled_frames(num_frames: int) -> np.ndarray:
    """(K,) indices of at most SAMPLED_FRAMES frames spread evenly over the take, first and last included."""
    return np.unique(np.linspace(0, num_frames - 1, min(num_frames, SAMPLED_FRAMES)).round().astype(int))


@dataclass(frozen=True)
class _Structure:
    """What a rig's header decides: the body plan and the limbs, sides not yet told apart."""

    legs: tuple[_Limb, _Limb]
    arms: tuple[_Limb, _Limb]
    trunk: dict[str, Sources]
    has_feet: bool


# Structures by file header (joint names, parents, channels, fixed offsets): every take of a library's rig shares
# one, so the body is found once per rig, not once per take. Only successes are kept.
_STRUCTURES: OrderedDict[Hashable, _Structure] = OrderedDict()
_STRUCTURES_KEPT = 256
_STRUCTURES_LOCK = threading.Lock()


def _structure(samples: np.ndarray, names: list[str], parents, path, header_key: Hashable | None) -> _Structure:
    key = (tuple(names), tuple(parents), header_key) if header_key is not None else None
    if key is not None:
        with _STRUCTURES_LOCK:
            if key in _STRUCTURES:
                _STRUCTURES.move_to_end(key)
                return _STRUCTURES[key]
    plan, graph = find_body(Hierarchy.of(names, parents, path), samples, path)
    legs = tuple(_fit_limb(graph, chain, plan.pelvis, ("hip", "knee", "ankle"), path) for chain in plan.legs)
    arms = tuple(_fit_limb(graph, chain, plan.chest, ("shoulder", "elbow", "wrist"), path) for chain in plan.arms)
    structure = _Structure(legs, arms, _trunk(plan, graph, names), all("foot" in leg.joints for leg in legs))
    if key is not None:
        with _STRUCTURES_LOCK:
            _STRUCTURES[key] = structure
            while len(_STRUCTURES) > _STRUCTURES_KEPT:
                _STRUCTURES.popitem(last=False)
    return structure


def _auto_weights(positions: np.ndarray, names: list[str], parents, up: str, path, header_key: Hashable | None):
    samples = positions[sampled_frames(len(positions))]  # (K, J, 3)
    structure = _structure(samples, names, parents, path, header_key)
    legs, arms, trunk, has_feet = structure.legs, structure.arms, structure.trunk, structure.has_feet
    notes: list[str] = []

    def build(left_leg: int, left_arm: int) -> np.ndarray:
        return _weights(len(names), trunk, legs[left_leg], legs[1 - left_leg], arms[left_arm], arms[1 - left_arm])

    weights = build(0, 0)
    smpl = weights @ samples  # (K, 22, 3) sides tentative
    orient = _orient(smpl, up, path, has_feet)  # the sampled frames span the take
    up_vec = orientation.axis_vector(orient.up)
    forward, _ = orientation.forward_vectors(smpl, up_vec, has_feet)
    left_leg = _decide_side(
        "legs", smpl[:, _J["left_hip"]], smpl[:, _J["right_hip"]], up_vec, forward, names, legs, notes, path
    )
    left_arm = _decide_side(
        "arms", smpl[:, _J["left_shoulder"]], smpl[:, _J["right_shoulder"]], up_vec, forward, names, arms, notes, path
    )
    weights = build(left_leg, left_arm)
    _refuse_quadruped(weights @ samples, path)
    synthesized = () if has_feet else ("left_foot", "right_foot")
    if synthesized:
        notes.append("no toe joints: SMPL's feet are built from the ankles and the facing")
    return weights, orient, synthesized, notes


def _fit_limb(graph: BoneGraph, chain: tuple[int, ...], base: int, roles: tuple[str, str, str], path) -> _Limb:
    """The three joints of a limb that span its two long bones, plus the joint beyond (foot) or before (collar)."""
    names = graph.hierarchy.names
    s = graph.samples
    twist = [naming.part_of(names[j]) == "twist" for j in chain]
    bones = np.diff(s[:, [base, *chain]], axis=1)  # (K, n, 3) the bone into each chain joint
    cos = np.sum(bones[:, :-1] * bones[:, 1:], axis=-1) / np.maximum(
        np.linalg.norm(bones[:, :-1], axis=-1) * np.linalg.norm(bones[:, 1:], axis=-1), 1e-12)  # (K, n-1)
    straight = [*np.all(cos >= _STRAIGHT_COS, axis=0).tolist(), False]  # at each joint but the last
    bends = any(not st for st in straight[:-1])  # a static pose (or a locked limb) shows no hinge: skip nothing
    # An in-series twist joint: named so, or straight in every pose while the limb bends elsewhere; a joint where
    # the chain forks (a hand with fingers) is never skipped.
    skippable = [tw or (bends and st and len(graph.children[j]) == 1) for tw, st, j in zip(twist, straight, chain)]

    points = s[:, list(chain)]  # (K, n, 3)
    distances = np.median(np.linalg.norm(points[:, :, None] - points[:, None], axis=-1), axis=0)  # (n, n)

    def distance(a: int, b: int) -> float:
        return float(distances[a, b])

    n = len(chain)

    def fit(hinge: bool) -> tuple[float, int, int, int] | None:
        best = None
        for i in range(n):
            for j in range(i + 1, n):
                if any(twist[m] for m in (i, j)) or not all(skippable[m] for m in range(i + 1, j)):
                    continue
                d1 = distance(i, j)
                for k in range(j + 1, n):
                    if twist[k] or not all(skippable[m] for m in range(j + 1, k)):
                        continue
                    d2 = distance(j, k)
                    if d2 <= 0 or not BONE_RATIO[0] <= d1 / d2 <= BONE_RATIO[1]:
                        continue
                    if hinge and _straight(s, chain[i], chain[j], chain[k]):
                        continue  # the knee/elbow is a hinge: it bends somewhere in a take where the limb moves
                    if best is None or d1 + d2 > best[0]:
                        best = (d1 + d2, i, j, k)
        return best

    # A limb held straight through a whole take has no visible hinge: then the bone lengths alone decide.
    best = fit(hinge=bends) or (fit(hinge=False) if bends else None)
    if best is None:
        limb = "leg" if roles[0] == "hip" else "arm"
        raise RigError(
            path,
            f"not a humanoid {limb}: the chain {' > '.join(names[j] for j in chain)} has no two long bones of similar "
            f"length ({'thigh and shin' if limb == 'leg' else 'upper arm and forearm'}); map it with --rig-map",
        )
    _, i, j, k = best
    joints = dict(zip(roles, (chain[i], chain[j], chain[k])))
    if roles[0] == "hip":
        beyond = [chain[m] for m in range(k + 1, n) if not twist[m]]
        if beyond:
            joints["foot"] = beyond[0]
    else:
        before = [chain[m] for m in range(i) if not twist[m]]
        if before:
            joints["collar"] = before[0]
    return _Limb(joints, chain)


def _straight(samples: np.ndarray, a: int, b: int, c: int) -> bool:
    """Whether the bones a -> b and b -> c are collinear (within STRAIGHT_DEGREES) in every sampled pose."""
    u = samples[:, b] - samples[:, a]  # (K, 3)
    v = samples[:, c] - samples[:, b]
    cos = np.sum(u * v, axis=-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-12)
    return bool(np.all(cos >= _STRAIGHT_COS))


def _trunk(plan: BodyPlan, graph: BoneGraph, names: list[str]) -> dict[str, Sources]:
    """Sources of pelvis, spine1-3, neck and head."""
    chain = list(plan.head)
    if len(chain) > 1 and naming.part_of(names[chain[-1]]) == "end":
        chain = chain[:-1]
    head_at = next((m for m in range(1, len(chain)) if chain[m] in plan.head_branches), None)
    if head_at is None:
        head_at = next((m for m in range(1, len(chain)) if naming.part_of(names[chain[m]]) == "head"), None)
    if head_at is None:
        head_at = len(chain) - 1 if len(chain) <= 2 else len(chain) - 2
    head: Sources = {chain[head_at]: 1.0}
    spine_nodes = [plan.pelvis, *plan.spine, plan.chest]
    if head_at == 0 and plan.spine:  # arms branch at the neck (KIT/MMM-like): the chest joint is SMPL's neck
        neck: Sources = {plan.chest: 1.0}
        spine_nodes = spine_nodes[:-1]
    elif head_at == 0:
        neck = {plan.chest: 0.5, chain[0]: 0.5}
    else:
        neck_at = next((m for m in range(head_at) if naming.part_of(names[chain[m]]) == "neck"), 0)
        neck = {chain[neck_at]: 1.0}
    trunk = {"pelvis": {plan.pelvis: 1.0}, "neck": neck, "head": head}
    trunk.update(_spine(spine_nodes, graph))
    return trunk


def _spine(nodes: list[int], graph: BoneGraph) -> dict[str, Sources]:
    """spine1..3 from the path pelvis -> ... -> spine3 (``nodes``, pelvis first)."""
    above = nodes[1:]
    if len(above) == 2:
        return {"spine1": {above[0]: 1.0}, "spine2": {above[0]: 0.5, above[1]: 0.5}, "spine3": {above[1]: 1.0}}
    if len(above) == 3:
        return {f"spine{i + 1}": {above[i]: 1.0} for i in range(3)}
    s = graph.samples
    lengths = [float(np.median(np.linalg.norm(s[:, b] - s[:, a], axis=-1))) for a, b in zip(nodes[:-1], nodes[1:])]
    arc = np.concatenate([[0.0], np.cumsum(lengths)])
    out: dict[str, Sources] = {"spine3": {nodes[-1]: 1.0}}
    for name, fraction in zip(("spine1", "spine2"), _SPINE_FRACTIONS):
        at = fraction * arc[-1]
        k = min(int(np.searchsorted(arc, at, side="right")) - 1, len(nodes) - 2)
        w = (at - arc[k]) / (arc[k + 1] - arc[k]) if arc[k + 1] > arc[k] else 0.0
        sources: Sources = {}
        for joint, weight in ((nodes[k], 1.0 - w), (nodes[k + 1], w)):
            if weight > 1e-9:
                sources[joint] = sources.get(joint, 0.0) + weight
        out[name] = sources
    return out


def _weights(num_joints: int, trunk: dict[str, Sources], left_leg: _Limb, right_leg: _Limb, left_arm: _Limb,
             right_arm: _Limb) -> np.ndarray:
    sources: dict[str, Sources] = dict(trunk)
    for side, leg, arm in (("left", left_leg, left_arm), ("right", right_leg, right_arm)):
        for role in ("hip", "knee", "ankle"):
            sources[f"{side}_{role}"] = {leg.joints[role]: 1.0}
        sources[f"{side}_foot"] = {leg.joints.get("foot", leg.joints["ankle"]): 1.0}
        for role in ("shoulder", "elbow", "wrist"):
            sources[f"{side}_{role}"] = {arm.joints[role]: 1.0}
        if "collar" in arm.joints:
            sources[f"{side}_collar"] = {arm.joints["collar"]: 1.0}
        else:  # the collar sits about halfway between the neck base and the shoulder (joint_maps' convention)
            collar: Sources = {j: 0.5 * w for j, w in trunk["neck"].items()}
            collar[arm.joints["shoulder"]] = collar.get(arm.joints["shoulder"], 0.0) + 0.5
            sources[f"{side}_collar"] = collar
    weights = np.zeros((len(_NAMES), num_joints))
    for name, joint_sources in sources.items():
        for joint, weight in joint_sources.items():
            weights[_J[name], joint] += weight
    return weights


def _decide_side(what: str, a: np.ndarray, b: np.ndarray, up: np.ndarray, forward: np.ndarray, names: list[str],
                 limbs: list[_Limb], notes: list[str], path) -> int:
    """Which of the two limbs (0 or 1) is the left one: the motion decides, the names confirm or break a tie."""
    vote = orientation.side_vote(a, b, up, forward)  # > 0: limb 0 lies left of limb 1
    by_motion = 0 if vote > 0 else 1
    sides = [naming.chain_side([names[j] for j in limb.chain]) for limb in limbs]
    by_names = 0 if sides == ["left", "right"] else 1 if sides == ["right", "left"] else None
    if abs(vote) >= SIDE_DECISIVE:
        if by_names is not None and by_names != by_motion:
            notes.append(
                f"{what}: the names say {names[limbs[by_names].chain[0]]} is left but it moves on the right side of "
                "the body (right-hand rule); the motion decides (pass a --rig-map to override)"
            )
            log.warning("%s: %s", path, notes[-1])
        return by_motion
    if by_names is not None:
        notes.append(f"{what}: the motion cannot tell left from right (vote {vote:+.2f}); the names decide")
        return by_names
    if vote != 0:
        notes.append(f"{what}: weak evidence for which side is left (vote {vote:+.2f}) and no L/R names")
        return by_motion
    raise RigError(
        path,
        f"cannot tell the left {what} from the right ones: the motion never shows where the body faces (no toe "
        "joints, knees never bend) and the joint names carry no L/R; map it with --rig-map FILE.json",
    )


def _refuse_quadruped(smpl: np.ndarray, path) -> None:
    """A humanoid layout on four legs: the spine lies across the legs and the 'arms' reach the floor."""
    spine = smpl[:, _J["spine3"]] - smpl[:, _J["pelvis"]]  # (K, 3)
    feet = 0.5 * (smpl[:, _J["left_ankle"]] + smpl[:, _J["right_ankle"]])
    legs = smpl[:, _J["pelvis"]] - feet
    cos = np.sum(spine * legs, axis=-1) / np.maximum(np.linalg.norm(spine, axis=-1) * np.linalg.norm(legs, axis=-1),
                                                     1e-12)
    leg_length = np.linalg.norm(legs, axis=-1)  # (K,)
    wrists = 0.5 * (smpl[:, _J["left_wrist"]] + smpl[:, _J["right_wrist"]])
    # Heights along the legs (feet -> pelvis): the floor of a four-legged body whatever its file's axes.
    wrist_height = np.sum((wrists - feet) * legs, axis=-1) / np.maximum(leg_length, 1e-12)  # (K,)
    leg_length = float(np.median(leg_length))
    on_floor = float(np.mean(wrist_height < 0.25 * leg_length))
    if np.median(cos) < QUADRUPED_COS and on_floor >= 0.5:
        raise RigError(
            path,
            "not a humanoid: the layout has four limbs and a head, but the spine lies across the legs "
            f"(median cos {np.median(cos):.2f}) and the front limbs reach the floor in {on_floor:.0%} of the sampled "
            "frames: a quadruped. Map it with --rig-map FILE.json if it is a person on all fours",
        )
