"""Find the body in a joint hierarchy: pelvis, two legs, the spine, a chest with two arms, and the neck/head chain.

The hierarchy is first reduced to its *bones*: a joint that sits on its parent in the sampled poses (zero length:
CMU's ``LHipJoint``/``LeftCollar``, Bandai's ``joint_Root`` offsets, helper joints) is merged into the parent, so
what remains are nodes joined by bones with a length. Every node has a *reach*: the longest bone path from it down
to a leaf. Then:

- **limb pairs** are two sibling branches that mirror each other: their reaches agree within 20 % and the two
  longest bones of their main paths (the path to the farthest leaf) agree within 25 %. Left and right limbs of
  every humanoid rig do; a spine and a leg, or a head and an arm, do not;
- pairs whose reach is under a quarter of the largest pair's are hands, feet and faces (fingers, toes, eyes), not
  limbs;
- a **humanoid** has a leg pair at a node P (the pelvis) and, on another branch of P, an arm pair at a node C (the
  chest) that also has a third branch (the neck and head). When several layouts fit, the one with the longest
  limbs wins; extra branches (a tail, props, twist bones, fingers, facial joints) are ignored.

Which limb of a pair is the left one is not decided here (orientation.py does it from the motion). Anything that
does not fit (a quadruped is refused later, from the motion) raises ``RigError`` saying what was found and what is
missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from motion_retrieval.data.rig import naming
from motion_retrieval.errors import MotionDataError

ZERO_LENGTH = 2e-3  # bones shorter than this fraction of the rig's size are helper joints sitting on their parent
PAIR_REACH_RATIO = 0.8  # mirrored branches: reaches within 20 %
PAIR_BONE_RATIO = 0.75  # ... and their two longest bones within 25 %
LIMB_PAIR_FRACTION = 0.25  # pairs shorter than this fraction of the longest pair are fingers/toes/eyes
STRAIGHT_COS = float(np.cos(np.deg2rad(0.5)))  # consecutive bones this straight in every pose are one bone


class RigError(MotionDataError):
    """A hierarchy that is not a humanoid the importer can map (a MotionDataError: the file is skipped)."""


@dataclass(frozen=True)
class Hierarchy:
    """Joint names and parents (-1 for the root), in any order that is a tree."""

    names: tuple[str, ...]
    parents: tuple[int, ...]

    @classmethod
    def of(cls, names: Sequence[str], parents: Sequence[int], path=None) -> Hierarchy:
        names, parents = tuple(str(n) for n in names), tuple(int(p) for p in parents)
        if len(names) != len(parents):
            raise RigError(path, f"{len(names)} joint names for {len(parents)} parents")
        roots = [j for j, p in enumerate(parents) if p < 0]
        if len(roots) != 1:
            raise RigError(path, f"a hierarchy needs exactly one root joint (parent -1), found {len(roots)}")
        bad = [j for j, p in enumerate(parents) if p >= len(parents) or p == j]
        if bad:
            raise RigError(path, f"joint {names[bad[0]]!r} has an invalid parent index {parents[bad[0]]}")
        hierarchy = cls(names, parents)
        if len(hierarchy.order()) != len(names):
            raise RigError(path, "the parent indices form a cycle, not a tree")
        return hierarchy

    @property
    def root(self) -> int:
        return self.parents.index(-1) if -1 in self.parents else next(j for j, p in enumerate(self.parents) if p < 0)

    def children(self) -> list[list[int]]:
        children: list[list[int]] = [[] for _ in self.names]
        for j, p in enumerate(self.parents):
            if p >= 0:
                children[p].append(j)
        return children

    def order(self) -> list[int]:
        """Joints parents-first (breadth-first from the root)."""
        children = self.children()
        order, queue = [], [self.root]
        while queue:
            j = queue.pop(0)
            order.append(j)
            queue.extend(children[j])
        return order


@dataclass(frozen=True)
class BodyPlan:
    """Where the body is in the hierarchy. Every entry is a joint index of the rig (a node's topmost joint)."""

    pelvis: int
    spine: tuple[int, ...]  # joints strictly between the pelvis and the chest, pelvis side first
    chest: int  # where the arms branch off
    legs: tuple[tuple[int, ...], tuple[int, ...]]  # each leg's main path from the pelvis outward; sides undecided
    arms: tuple[tuple[int, ...], tuple[int, ...]]  # each arm's main path from the chest outward
    head: tuple[int, ...]  # the neck/head main path from the chest upward
    head_branches: frozenset[int]  # joints on the head path where it forks (a face rig: jaw, eyes, ...)


class BoneGraph:
    """The hierarchy with zero-length joints merged into their parents, and bone lengths measured on poses."""

    def __init__(self, hierarchy: Hierarchy, samples: np.ndarray, path=None):
        """``samples``: (K, J, 3) joint positions of K poses of the take (any units, any axes)."""
        self.hierarchy = hierarchy
        self.path = path
        self.samples = np.asarray(samples, dtype=np.float64)
        parents = np.asarray(hierarchy.parents)
        parent_or_self = np.where(parents < 0, np.arange(len(parents)), parents)
        bones = self.samples - self.samples[:, parent_or_self]  # (K, J, 3)
        self.length = np.median(np.linalg.norm(bones, axis=-1), axis=0)  # (J,) bone parent -> joint
        order = hierarchy.order()
        depth_length = np.zeros(len(parents))
        for j in order:
            if parents[j] >= 0:
                depth_length[j] = depth_length[parents[j]] + self.length[j]
        # The rig's size is measured from its first fork, so a ground-projected root far from the hips (Bandai's
        # joint_Root, a root trajectory in a walk) does not count.
        children_count = np.bincount(parents[parents >= 0], minlength=len(parents))
        fork = next((j for j in order if children_count[j] >= 2), order[0])
        self.size = float(depth_length.max() - depth_length[fork]) if len(parents) else 0.0
        eps = ZERO_LENGTH * self.size
        self.node = np.arange(len(parents))  # (J,) the node (topmost joint of a zero-length run) each joint sits on
        for j in order:
            if parents[j] >= 0 and self.length[j] <= eps:
                self.node[j] = self.node[parents[j]]
        self.children: dict[int, list[int]] = {int(n): [] for n in set(self.node.tolist())}
        for j in order:
            if parents[j] >= 0 and self.node[j] == j:
                self.children[int(self.node[parents[j]])].append(j)
        self._main_paths: dict[int, tuple[int, ...]] = {}
        self._segments: dict[int, list[float]] = {}
        self.reach = {n: 0.0 for n in self.children}
        for j in reversed(order):
            if self.node[j] == j:
                self.reach[j] = max((self.length[c] + self.reach[c] for c in self.children[j]), default=0.0)

    # ------------------------------------------------------------------------------------------ navigation
    def parent_node(self, node: int) -> int:
        parent = self.hierarchy.parents[node]
        return -1 if parent < 0 else int(self.node[parent])

    def branch_reach(self, child: int) -> float:
        return float(self.length[child] + self.reach[child])

    def main_path(self, start: int) -> tuple[int, ...]:
        """Nodes from ``start`` to its farthest leaf (ties: the earlier joint in the file)."""
        if start not in self._main_paths:
            path = [start]
            while self.children[path[-1]]:
                path.append(max(self.children[path[-1]], key=lambda c: (self.branch_reach(c), -c)))
            self._main_paths[start] = tuple(path)
        return self._main_paths[start]

    def is_below(self, node: int, ancestor: int) -> bool:
        while node >= 0:
            if node == ancestor:
                return True
            node = self.parent_node(node)
        return False

    def branch_toward(self, node: int, ancestor: int) -> int:
        """The child of ``ancestor`` on the way down to ``node``."""
        while self.parent_node(node) != ancestor:
            node = self.parent_node(node)
        return node

    # ------------------------------------------------------------------------------------------ limb pairs
    def mirrored(self, a: int, b: int) -> bool:
        ra, rb = self.branch_reach(a), self.branch_reach(b)
        if min(ra, rb) <= 0 or min(ra, rb) / max(ra, rb) < PAIR_REACH_RATIO:
            return False
        bones_a = sorted(self.segments(a), reverse=True)[:2]
        bones_b = sorted(self.segments(b), reverse=True)[:2]
        if len(bones_a) != len(bones_b):
            return False
        return all(min(x, y) / max(x, y) >= PAIR_BONE_RATIO for x, y in zip(bones_a, bones_b) if max(x, y) > 0)

    def segments(self, start: int) -> list[float]:
        """Bone lengths along the main path from ``start``, with bones that continue their predecessor in a straight
        line in every sampled pose (an in-series twist joint splits a bone in two) counted as one."""
        if start in self._segments:
            return self._segments[start]
        path = self.main_path(start)
        s = self.samples
        bones = s[:, list(path)] - s[:, [self.parent_node(n) for n in path]]  # (K, n, 3)
        cos = np.sum(bones[:, 1:] * bones[:, :-1], axis=-1) / np.maximum(
            np.linalg.norm(bones[:, 1:], axis=-1) * np.linalg.norm(bones[:, :-1], axis=-1), 1e-12)  # (K, n-1)
        continues = np.all(cos > STRAIGHT_COS, axis=0)  # (n-1,) bone m+1 goes on straight from bone m
        segments = [float(self.length[path[0]])]
        for node, straight in zip(path[1:], continues.tolist()):
            if straight:
                segments[-1] += float(self.length[node])
            else:
                segments.append(float(self.length[node]))
        self._segments[start] = segments
        return segments

    def limb_pairs(self) -> list[tuple[int, int, int, float]]:
        """(node, branch a, branch b, mean reach) of every mirrored sibling pair long enough to be a limb."""
        pairs = []
        for node, children in self.children.items():
            for i, a in enumerate(children):
                for b in children[i + 1 :]:
                    if self.mirrored(a, b):
                        pairs.append((node, a, b, 0.5 * (self.branch_reach(a) + self.branch_reach(b))))
        if not pairs:
            return []
        longest = max(p[3] for p in pairs)
        return [p for p in pairs if p[3] >= LIMB_PAIR_FRACTION * longest]


def find_body(hierarchy: Hierarchy, samples: np.ndarray, path=None) -> tuple[BodyPlan, BoneGraph]:
    """The humanoid body plan of a rig, from its topology and bone lengths; RigError when there is none."""
    names = hierarchy.names
    if len(names) < 2:
        raise RigError(path, f"not a humanoid: a single joint ({names[0]!r}; a camera or a prop?) has no body to map")
    graph = BoneGraph(hierarchy, samples, path)
    if graph.size <= 0:
        raise RigError(path, "not a humanoid: every bone has zero length in the sampled poses")
    if all(len(c) <= 1 for c in graph.children.values()):
        raise RigError(
            path,
            f"not a humanoid: a single chain of {len(names)} joints without branches (a humanoid needs legs, arms "
            "and a head branching off a spine)",
        )
    pairs = graph.limb_pairs()
    best: tuple[float, BodyPlan] | None = None
    for legs_node, la, lb, legs_reach in pairs:
        for arms_node, aa, ab, arms_reach in pairs:
            if arms_node == legs_node or not graph.is_below(arms_node, legs_node):
                continue
            spine_branch = graph.branch_toward(arms_node, legs_node)
            if spine_branch in (la, lb):
                continue
            heads = [c for c in graph.children[arms_node] if c not in (aa, ab)]
            if not heads:
                continue
            plan = _plan(graph, legs_node, (la, lb), arms_node, (aa, ab), heads)
            score = legs_reach + arms_reach
            if best is None or score > best[0]:
                best = (score, plan)
    if best is None:
        raise RigError(path, _not_humanoid(graph, pairs))
    return best[1], graph


def _plan(graph: BoneGraph, pelvis: int, legs, chest: int, arms, heads: list[int]) -> BodyPlan:
    spine = []
    node = graph.parent_node(chest)
    while node != pelvis:
        spine.append(node)
        node = graph.parent_node(node)
    head = graph.main_path(_head_branch(graph, pelvis, chest, heads))
    branches = frozenset(n for n in head if len(graph.children[n]) >= 2)
    return BodyPlan(
        pelvis=pelvis,
        spine=tuple(reversed(spine)),
        chest=chest,
        legs=(graph.main_path(legs[0]), graph.main_path(legs[1])),
        arms=(graph.main_path(arms[0]), graph.main_path(arms[1])),
        head=head,
        head_branches=branches,
    )


def _head_branch(graph: BoneGraph, pelvis: int, chest: int, heads: list[int]) -> int:
    """The chest's branch that carries the head: by name if one says neck/head, else the one that continues the
    spine's direction in the sampled poses (a prop or a tail points elsewhere)."""
    if len(heads) == 1:
        return heads[0]
    names = graph.hierarchy.names
    named = [h for h in heads if any(naming.part_of(names[n]) in ("neck", "head") for n in graph.main_path(h))]
    if len(named) == 1:
        return named[0]
    s = graph.samples
    spine = s[:, chest] - s[:, pelvis]  # (K, 3)

    def alignment(h: int) -> float:
        up = s[:, graph.main_path(h)[-1]] - s[:, chest]  # (K, 3)
        cos = np.sum(up * spine, axis=-1) / np.maximum(np.linalg.norm(up, axis=-1) * np.linalg.norm(spine, axis=-1),
                                                       1e-12)
        return float(np.median(cos))

    return max(named or heads, key=lambda h: (alignment(h), graph.branch_reach(h)))


def _not_humanoid(graph: BoneGraph, pairs) -> str:
    names = graph.hierarchy.names
    found = "; ".join(
        f"{names[a]}/{names[b]} at {names[node]} (reach {reach:.3g})" for node, a, b, reach in pairs
    ) or "none"
    return (
        f"not a humanoid: {len(names)} joints; mirrored limb pairs found: {found}. A humanoid needs a pelvis where "
        "two legs and a spine branch off, and higher on that spine a chest where two arms and a neck/head branch "
        "off (a hand-only rig, a single limb or a prop has no such layout). Map it explicitly with --rig-map FILE.json "
        "if it is a humanoid after all"
    )
