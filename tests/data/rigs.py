"""Generated rigs for the automatic-mapping tests: any hierarchy, any rest pose, written as a real BVH file whose
forward kinematics reproduces given joint positions.

A ``Rig`` is joint names, parents, rest offsets and target world positions per frame. ``write_rig_bvh`` solves, per
frame, each joint's global rotation that carries its children's rest offsets onto the target bones (Kabsch over the
children; a leaf keeps its parent's rotation), turns them into local Euler angles in the channel order asked for,
and writes ROOT position + rotation channels and rotation channels elsewhere (or 6 channels everywhere, as the
Bandai-Namco rig has). Parsing the file back gives the target positions (checked by the tests to 1e-5), whatever
the rest pose: T-pose, A-pose, arms down or every bone along +X.

Variants are pure functions of a Rig: renamed (joint0, joint1, ...), children reordered, fingers and twist bones
added, rotated (Z-up), scaled (millimetres), rest pose replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from motion_retrieval.skeleton import SMPL22

MIXAMO = (
    "Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot", "Spine2",
    "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder", "Head", "LeftArm", "RightArm",
    "LeftForeArm", "RightForeArm", "LeftHand", "RightHand",
)  # SMPL-22 order: the Mixamo explicit map is one-to-one


@dataclass
class Rig:
    names: list[str]
    parents: list[int]
    positions: np.ndarray  # (T, J, 3) world positions to reproduce
    rest: np.ndarray | None = None  # (J, 3) rest offsets from the parent; None: frame 0's bones
    truth: dict[str, str] = field(default_factory=dict)  # SMPL joint -> rig joint name, where one-to-one

    def children(self, j: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == j]

    def rest_offsets(self) -> np.ndarray:
        if self.rest is not None:
            return self.rest
        p0 = self.positions[0]
        return np.stack([p0[j] - p0[p] if p >= 0 else np.zeros(3) for j, p in enumerate(self.parents)])


def smpl_rig(smpl_joints: np.ndarray, names=MIXAMO) -> Rig:
    """A rig with SMPL-22's hierarchy whose motion is ``smpl_joints`` (T, 22, 3)."""
    return Rig(list(names), list(SMPL22.parents), np.asarray(smpl_joints, dtype=np.float64),
               truth=dict(zip(SMPL22.joint_names, names)))


# ------------------------------------------------------------------------------------------------ rotations
def _rodrigues(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations taking directions u (3,) to v (T, 3), minimal angle."""
    u = u / np.linalg.norm(u)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    axis = np.cross(u, v)  # (T, 3)
    s = np.linalg.norm(axis, axis=-1)
    c = np.sum(u * v, axis=-1)
    out = np.empty((len(v), 3, 3))
    for t in range(len(v)):
        if s[t] < 1e-12:
            if c[t] > 0:
                out[t] = np.eye(3)
            else:  # half turn about any axis perpendicular to u
                perp = np.cross(u, [1.0, 0, 0] if abs(u[0]) < 0.9 else [0, 1.0, 0])
                perp /= np.linalg.norm(perp)
                out[t] = 2 * np.outer(perp, perp) - np.eye(3)
            continue
        k = axis[t] / s[t]
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        out[t] = np.eye(3) + s[t] * kx + (1 - c[t]) * kx @ kx
    return out


def _kabsch(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations R minimising sum |R rest_c - target_c|^2; rest (C, 3), target (T, C, 3)."""
    h = np.einsum("ci,tcj->tij", rest, target)  # (T, 3, 3)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("tji,tkj->tik", vt, u)))
    fix = np.ones((len(target), 3))
    fix[:, 2] = d
    return np.einsum("tji,tj,tkj->tik", vt, fix, u)  # V diag(1,1,d) U^T


def _euler(r: np.ndarray, order: str) -> np.ndarray:
    """(T, 3, 3) -> (T, 3) degrees, intrinsic, in ``order`` ("ZYX": R = Rz Ry Rx; "ZXY": R = Rz Rx Ry)."""
    if order == "ZYX":
        b = np.arcsin(np.clip(-r[:, 2, 0], -1, 1))
        a = np.arctan2(r[:, 1, 0], r[:, 0, 0])
        c = np.arctan2(r[:, 2, 1], r[:, 2, 2])
    elif order == "ZXY":
        b = np.arcsin(np.clip(r[:, 2, 1], -1, 1))
        a = np.arctan2(-r[:, 0, 1], r[:, 1, 1])
        c = np.arctan2(-r[:, 2, 0], r[:, 2, 2])
    else:
        raise ValueError(order)
    return np.rad2deg(np.stack([a, b, c], axis=-1))


def global_rotations(rig: Rig) -> np.ndarray:
    """(T, J, 3, 3) per-joint world rotations that carry the rest offsets onto the target bones."""
    rest = rig.rest_offsets()
    pos = rig.positions
    T, J = pos.shape[:2]
    g = np.zeros((T, J, 3, 3))
    for j in _order(rig):
        children = rig.children(j)
        if len(children) >= 2:
            g[:, j] = _kabsch(rest[children], pos[:, children] - pos[:, j : j + 1])
        elif len(children) == 1:
            g[:, j] = _rodrigues(rest[children[0]], pos[:, children[0]] - pos[:, j])
        else:
            g[:, j] = g[:, rig.parents[j]] if rig.parents[j] >= 0 else np.eye(3)
    return g


def _order(rig: Rig) -> list[int]:
    order, queue = [], [rig.parents.index(-1)]
    while queue:
        j = queue.pop(0)
        order.append(j)
        queue.extend(rig.children(j))
    return order


def write_rig_bvh(rig: Rig, path: Path, *, fps: float = 30.0, order: str = "ZYX", six_channels: bool = False) -> Path:
    """The rig as a BVH file whose FK gives ``rig.positions`` (see the module docstring)."""
    rest = rig.rest_offsets()
    g = global_rotations(rig)
    T = len(rig.positions)
    rotation_channels = [f"{a}rotation" for a in order]
    columns, lines = [], ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if rig.parents[j] < 0 else 'JOINT'} {rig.names[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v:.9g}' for v in rest[j])}")
        positional = rig.parents[j] < 0 or six_channels
        channels = (["Xposition", "Yposition", "Zposition"] if positional else []) + rotation_channels
        lines.append(f"{pad}  CHANNELS {len(channels)} {' '.join(channels)}")
        parent_g = g[:, rig.parents[j]] if rig.parents[j] >= 0 else np.tile(np.eye(3), (T, 1, 1))
        if positional:
            world = rig.positions[:, j] - (rig.positions[:, rig.parents[j]] if rig.parents[j] >= 0 else 0.0)
            columns.append(np.einsum("tji,tj->ti", parent_g, world))  # in the parent's frame
        columns.append(_euler(np.einsum("tji,tjk->tik", parent_g, g[:, j]), order))
        for c in rig.children(j):
            emit(c, depth + 1)
        if not rig.children(j):
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0 0 0", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit(rig.parents.index(-1), 0)
    values = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / fps:.9g}"]
    lines += [" ".join(f"{v:.9g}" for v in row) for row in values]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ variants
def renamed(rig: Rig) -> Rig:
    """Every joint called joint0, joint1, ... (topology and motion only)."""
    names = [f"joint{i}" for i in range(len(rig.names))]
    lookup = dict(zip(rig.names, names))
    return replace(rig, names=names, truth={k: lookup[v] for k, v in rig.truth.items()})


def reordered(rig: Rig, seed: int = 0) -> Rig:
    """The same rig with its joints in another depth-first order (children of every joint shuffled)."""
    rng = np.random.default_rng(seed)
    order: list[int] = []

    def visit(j: int) -> None:
        order.append(j)
        children = rig.children(j)
        for c in rng.permutation(children) if children else []:
            visit(int(c))

    visit(rig.parents.index(-1))
    new_index = {old: new for new, old in enumerate(order)}
    return replace(
        rig,
        names=[rig.names[j] for j in order],
        parents=[new_index[rig.parents[j]] if rig.parents[j] >= 0 else -1 for j in order],
        positions=rig.positions[:, order],
        rest=None if rig.rest is None else rig.rest[order],
    )


def transformed(rig: Rig, rotation: np.ndarray | None = None, scale: float = 1.0) -> Rig:
    """World positions (and rest offsets) rotated by ``rotation`` (3, 3) and scaled (units)."""
    r = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
    return replace(
        rig,
        positions=np.einsum("ij,tkj->tki", r, rig.positions) * scale,
        rest=None if rig.rest is None else (rig.rest @ r.T) * scale,
    )


Y_UP_TO_Z_UP = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # +90 degrees about X: +Y -> +Z


def _attached(rig: Rig, parent: int, offsets: list[np.ndarray], names: list[str]) -> Rig:
    """Append a chain of joints hanging rigidly from ``parent`` (identity local rotations)."""
    g = global_rotations(rig)
    names_out, parents = list(rig.names), list(rig.parents)
    pos = [rig.positions[:, j] for j in range(len(rig.names))]
    rest = list(rig.rest_offsets())
    prev, world = parent, rig.positions[:, parent]
    for offset, name in zip(offsets, names):
        world = world + np.einsum("tij,j->ti", g[:, parent], offset)
        names_out.append(name)
        parents.append(prev)
        pos.append(world)
        rest.append(np.asarray(offset, dtype=np.float64))
        prev = len(names_out) - 1
    return replace(rig, names=names_out, parents=parents, positions=np.stack(pos, axis=1),
                   rest=None if rig.rest is None else np.stack(rest))


def with_fingers(rig: Rig, hands: dict[str, str], segment: float = 0.025) -> Rig:
    """Five 3-joint fingers on each hand (``{side: hand joint name}``), fanned out along the forearm's direction."""
    for side, hand in hands.items():
        j = rig.names.index(hand)
        forearm = rig.rest_offsets()[j] / np.linalg.norm(rig.rest_offsets()[j])
        side_axis = np.cross(forearm, [0.0, 0.0, 1.0])
        side_axis = side_axis / np.linalg.norm(side_axis) if np.linalg.norm(side_axis) > 1e-6 else np.array([0, 0, 1.0])
        for f, finger in enumerate(("Thumb", "Index", "Middle", "Ring", "Pinky")):
            direction = forearm + 0.25 * (f - 2) * side_axis
            direction = direction / np.linalg.norm(direction)
            first = forearm * 0.04 + side_axis * 0.01 * (f - 2)
            rig = _attached(rig, j, [first, direction * segment, direction * segment],
                            [f"{side}{finger}{k}" for k in (1, 2, 3)])
    return rig


def with_leaf_twists(rig: Rig, bones: dict[str, str]) -> Rig:
    """A twist joint halfway along each bone ``{twist name: child joint of the bone}``, as a leaf of the bone's
    parent joint (the common game-rig layout)."""
    for twist, child in bones.items():
        c = rig.names.index(child)
        rig = _attached(rig, rig.parents[c], [0.5 * rig.rest_offsets()[c]], [twist])
    return rig


def with_series_twist(rig: Rig, child: str, twist: str) -> Rig:
    """A twist joint inserted in series halfway along the bone parent(child) -> child (unnamed rigs: topology and
    a straight joint are all that tell it apart)."""
    c = rig.names.index(child)
    p = rig.parents[c]
    mid = 0.5 * (rig.positions[:, p] + rig.positions[:, c])
    names = [*rig.names, twist]
    parents = [*rig.parents, p]
    parents[c] = len(names) - 1
    positions = np.concatenate([rig.positions, mid[:, None]], axis=1)
    rest = None
    if rig.rest is not None:
        rest = np.concatenate([rig.rest, 0.5 * rig.rest[c : c + 1]])
        rest[c] = 0.5 * rig.rest[c]
    return replace(rig, names=names, parents=parents, positions=positions, rest=rest)


def with_rest_pose(rig: Rig, kind: str) -> Rig:
    """Replace the rest pose: "t" (arms out to the sides, legs straight down), "a" (arms 45 degrees down),
    "down" (arms hanging), "x" (every single-child bone along +X, as Maya/Bandai-Namco exports keep it).

    Joints with several children keep frame 0's rigid layout of their children (a pelvis, a chest), turned so the
    layout stays consistent; every bone keeps its length.
    """
    p0 = rig.positions[0]
    offsets = rig.rest_offsets().copy()
    lengths = np.linalg.norm(offsets, axis=-1)
    left_x = np.array([1.0, 0, 0])
    for j, parent in enumerate(rig.parents):
        if parent < 0 or len(rig.children(parent)) >= 2:
            continue
        direction = p0[j] - p0[parent]
        if kind == "x":
            new = np.array([1.0, 0, 0])
        else:
            limb_side = np.sign(p0[j, 0] - p0[0, 0]) or 1.0
            is_arm = p0[j, 1] > p0[0, 1] + 0.25 * np.ptp(p0[:, 1]) and abs(p0[j, 0] - p0[0, 0]) > 0.08
            if is_arm:
                down = np.array([0, -1.0, 0])
                out = left_x * limb_side
                new = {"t": out, "a": (out + down) / np.sqrt(2), "down": down}[kind]
            else:
                new = direction / max(np.linalg.norm(direction), 1e-12)
        offsets[j] = new * lengths[j]
    return replace(rig, rest=offsets)


def parse_back(path: Path, rig: Rig) -> np.ndarray:
    """(T, J, 3) forward kinematics of a written file, in the rig's joint order (files are written depth-first)."""
    from motion_retrieval.data.bvh import parse_bvh

    motion = parse_bvh(path)
    return motion.positions()[:, [motion.names.index(n) for n in rig.names]]
