"""FBX takes (Mixamo, MotionBuilder, Maya, Unreal/Unity exports) into SMPL-22 records, read by Blender's importer.

Needs the optional ``[fbx]`` extra (Blender's ``bpy`` module); without it every .fbx is refused with the install
line. Blender runs in a child process (blender.py): it imports the file, picks one armature and one take, and
samples the world-space head of every bone at every frame of the take's frame range. From there an FBX take is
what a BVH take is: positions, bone names and parents, a frame rate, and the same rig mapping (rig/: a known
rig's explicit map when the names fit one, else the automatic mapping), resampling and features (mocap.py).

What Blender settles before we see the positions:
- **Units**: the file's own unit scale (FBX ``UnitScaleFactor``: centimetres for Mixamo, Maya and MotionBuilder)
  is applied, so positions arrive in metres as the file declares them. ``units="auto"`` (the default) then checks
  the legs' length like every other reader, which also catches files whose declared unit is wrong.
- **Axes**: the file's declared up/front axes become Blender's Z up. ``up="auto"`` (the default) finds up from
  the motion (head above feet), so a file with wrong axis metadata still stands upright.
- **Object transforms**: the armature object's transform (and its parents', and any animation of them) is part of
  every sampled position, so a rig rotated or scaled at object level reads as it plays.

Choices where a file holds more than one thing:
- **Armatures**: the one whose take animates the most bones (a prop rig, a camera rig or an unanimated reference
  skeleton beside the character loses); ``armature=NAME`` picks one.
- **Takes** (FBX animation stacks, Blender actions): the one Blender's importer leaves active on that armature;
  ``take=NAME`` picks another (the name as the file has it, e.g. ``"mixamo.com"``, or Blender's ``"Armature|..."``).
  The record's mapping notes say which armature and take were read and which others there were.

Refused with a MotionDataError naming the file: the extra missing, a file that is not FBX (or ASCII FBX, which
Blender's importer does not read), an FBX without a skeleton, a skeleton without animation (no take animates a
bone, a single-frame take, or a take whose every frame is the same pose), an unknown take or armature, a crash or a
timeout of the importer.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from motion_retrieval.data.blender import DEFAULT_TIMEOUT_SECONDS, import_with_blender, require_bpy
from motion_retrieval.data.joint_maps import JointMap
from motion_retrieval.data.limits import DEFAULT_LIMITS, TakeLimits, check_file_size, check_fps, check_joints
from motion_retrieval.data.mocap import joints_to_record
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.data.rig import map_rig
from motion_retrieval.errors import MotionDataError

if TYPE_CHECKING:
    from motion_retrieval.data.rig.mapping import RigMapping

log = logging.getLogger(__name__)

FBX_SUFFIX = ".fbx"
_BINARY_MAGIC = b"Kaydara FBX Binary  \x00"
STILL_TOLERANCE = 1e-6  # metres: a take whose bones never move further than this holds one pose


def check_fbx_header(path: str | os.PathLike) -> None:
    """Refuse what is not binary FBX before starting Blender: text FBX, other formats, truncated files."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except FileNotFoundError:
        raise MotionDataError(path, "file not found") from None
    except OSError as exc:
        raise MotionDataError(path, f"cannot read the file: {exc}") from None
    if head.startswith(_BINARY_MAGIC):
        if len(head) < 27:
            raise MotionDataError(path, "truncated FBX file: shorter than its 27-byte header")
        return
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"; FBX", b"FBXHeaderExtension")):
        raise MotionDataError(path, "ASCII FBX is not supported (Blender's importer reads binary FBX only); export "
                                    "it again as binary FBX")
    raise MotionDataError(path, "not an FBX file: it does not start with the binary FBX signature "
                                "'Kaydara FBX Binary'")


def largest_bone_tree(names, parents, positions: np.ndarray):
    """The armature's largest bone tree: (names, parents, (T, J', 3) positions, names of the bones left out).

    An armature can hold several root bones: a control rig's IK handles and pole targets beside the deform
    skeleton (Maya, MotionBuilder and Rigify exports). The body is the tree with the most bones; the rig mapping
    wants one root, so the other trees are left out (and named in the mapping's notes).
    """
    parents = [int(p) for p in parents]
    roots = [i for i, p in enumerate(parents) if p < 0]
    if len(roots) <= 1:
        return list(names), parents, positions, []
    tree_of = list(range(len(parents)))
    for i, p in enumerate(parents):  # parents come before children (blender_worker._bone_order)
        tree_of[i] = i if p < 0 else tree_of[p]
    sizes = {r: tree_of.count(r) for r in roots}
    body = max(roots, key=lambda r: (sizes[r], -r))
    keep = [i for i in range(len(parents)) if tree_of[i] == body]
    index = {old: new for new, old in enumerate(keep)}
    kept_parents = [index[parents[i]] if parents[i] >= 0 else -1 for i in keep]
    dropped = [str(names[i]) for i in range(len(parents)) if tree_of[i] != body]
    return [str(names[i]) for i in keep], kept_parents, positions[:, keep], dropped


def read_fbx_with_mapping(
    path: str | os.PathLike,
    *,
    units: str = "auto",
    up: str = "auto",
    rig: str | JointMap | None = None,
    take: str | None = None,
    armature: str | None = None,
    compute_features: bool = True,
    limits: TakeLimits = DEFAULT_LIMITS,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> tuple[MotionRecord, RigMapping]:
    """``read_fbx`` and the mapping it used (for ``motion-retrieval inspect``)."""
    path = Path(path)
    check_file_size(path, limits)
    require_bpy(path)
    check_fbx_header(path)
    sampled = import_with_blender("fbx", path, take=take, armature=armature, timeout=timeout, limits=limits)
    check_joints(len(sampled.names), path, limits)
    fps = check_fps(sampled.fps, path, limits)
    what = f"take {sampled.take!r} of armature {sampled.armature!r}"
    if sampled.num_frames < 2:
        raise MotionDataError(path, f"skeleton without animation: {what} has a single frame "
                                    f"({sampled.frame_start}), a pose rather than a motion")
    if float(np.ptp(sampled.positions, axis=0).max()) < STILL_TOLERANCE:
        raise MotionDataError(path, f"skeleton without animation: every one of the {sampled.num_frames} frames of "
                                    f"{what} holds the same pose")
    names, parents, positions, dropped = largest_bone_tree(sampled.names, sampled.parents, sampled.positions)
    smpl, mapping = map_rig(positions, names, parents, rig=rig, up=up, units=units, path=path)
    others = [t for t in sampled.takes if t != sampled.take]
    notes = (
        f"fbx armature {sampled.armature!r}: {sampled.animated_bones} animated bones"
        + (f" (of {len(sampled.armatures)} armatures: {', '.join(sampled.armatures)})"
           if len(sampled.armatures) > 1 else ""),
        f"fbx take {sampled.take!r}: frames {sampled.frame_start}-{sampled.frame_end} at {fps:g} fps"
        + (f" (other takes: {', '.join(others)}; pick one with take=NAME)" if others else ""),
    ) + ((f"fbx bones outside the skeleton's main tree, not read: {', '.join(dropped)}",) if dropped else ())
    mapping = dataclasses.replace(mapping, notes=tuple(mapping.notes) + notes)
    log.debug("%s: %s; rig %s (%s), up %s, units %s", path, "; ".join(notes), mapping.name, mapping.method,
              mapping.orientation.up, mapping.units)
    record = joints_to_record(
        smpl,
        fps=fps,
        path=path,
        dataset="fbx",
        units="m",
        up="y",
        compute_features=compute_features,
        tags=mapping.tags(),
        limits=limits,
    )
    return record, mapping


def read_fbx(path: str | os.PathLike, **options) -> MotionRecord:
    """An FBX take as one SMPL-22 record at 20 fps (joints in metres, Y-up, floored; 263-d features).

    Options: ``units`` / ``up`` / ``rig`` as for BVH (bvh.read_bvh), ``take`` and ``armature`` (names; default:
    the armature with the most animated bones and its active take), ``compute_features``, ``limits``
    (limits.TakeLimits), ``timeout`` (seconds Blender may take). Needs ``pip install 'motion-retrieval[fbx]'``.
    """
    return read_fbx_with_mapping(path, **options)[0]
