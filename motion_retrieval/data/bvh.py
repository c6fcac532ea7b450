"""BVH motion capture files: parse, forward kinematics, and onto SMPL-22 through data/rig/ (a known rig's explicit
map from joint_maps.py, or the automatic mapping).

The parser reads HIERARCHY (ROOT/JOINT/End Site, OFFSET, CHANNELS with position channels and rotation channels in
any order), then MOTION (``Frames:``, ``Frame Time:``, one line of channel values a frame). Rotations are intrinsic in
the order the channels are listed (``Zrotation Yrotation Xrotation`` is ``R = Rz Ry Rx``), in degrees. A joint's
position channels replace its OFFSET (the root's are its position in the world).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from motion_retrieval.data.joint_maps import JointMap
from motion_retrieval.data.limits import DEFAULT_LIMITS, TakeLimits, check_file_size, check_joints, check_take
from motion_retrieval.data.mocap import check_long_enough, joints_to_record
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.data.rig import map_rig
from motion_retrieval.errors import MotionDataError
from motion_retrieval.rotations import qmul, quaternion_to_matrix

if TYPE_CHECKING:
    from motion_retrieval.data.rig.mapping import RigMapping

log = logging.getLogger(__name__)

_AXIS = {"X": 0, "Y": 1, "Z": 2}
_END_SITE = "\0end site"


@dataclass
class BvhJoint:
    name: str
    parent: int  # index into BvhSkeleton.joints, -1 for the root
    offset: np.ndarray  # (3,)
    channels: list[str] = field(default_factory=list)  # e.g. ["Xposition", ..., "Zrotation", ...]
    channel_start: int = 0  # column of its first channel in a frame line
    end_site: np.ndarray | None = None  # (3,) offset of its End Site, if any


@dataclass
class BvhMotion:
    path: str
    joints: list[BvhJoint]
    frame_time: float  # seconds
    values: np.ndarray  # (T, C) channel values

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def fps(self) -> float:
        fps = 1.0 / self.frame_time
        return float(round(fps)) if abs(fps - round(fps)) < 1e-3 * fps else fps  # 0.0083333 s -> 120 fps

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])

    def header_key(self) -> tuple:
        """What the hierarchy fixes beyond names and parents: channels, and the offsets that position channels do
        not replace (rounded). Takes of one rig share it; the automatic mapping is found once per key."""
        return tuple(
            (tuple(j.channels), None if any(c.lower().endswith("position") for c in j.channels)
             else tuple(np.round(j.offset, 6).tolist()))
            for j in self.joints
        )

    def positions(self) -> np.ndarray:
        """Forward kinematics: (T, J, 3) world joint positions in the file's units and axes."""
        T = self.num_frames
        rotations = np.zeros((T, len(self.joints), 3, 3))  # global rotation of each joint's frame
        positions = np.zeros((T, len(self.joints), 3))
        for i, joint in enumerate(self.joints):
            local_translation = np.broadcast_to(joint.offset, (T, 3)).copy()  # (T, 3)
            local_q = np.zeros((T, 4))
            local_q[:, 0] = 1.0
            for k, channel in enumerate(joint.channels):
                column = self.values[:, joint.channel_start + k]  # (T,)
                axis = _AXIS[channel[0].upper()]
                if channel.lower().endswith("position"):
                    local_translation[:, axis] = column
                else:
                    half = np.deg2rad(column) / 2.0
                    q = np.zeros((T, 4))
                    q[:, 0] = np.cos(half)
                    q[:, 1 + axis] = np.sin(half)
                    local_q = qmul(local_q, q)  # intrinsic: compose in the listed order
            local_r = quaternion_to_matrix(local_q)  # (T, 3, 3)
            if joint.parent < 0:
                rotations[:, i] = local_r
                positions[:, i] = local_translation
            else:
                parent_r = rotations[:, joint.parent]
                rotations[:, i] = parent_r @ local_r
                positions[:, i] = positions[:, joint.parent] + np.einsum("tij,tj->ti", parent_r, local_translation)
        return positions


def parse_bvh(path: str | os.PathLike, *, limits: TakeLimits = DEFAULT_LIMITS) -> BvhMotion:
    """Parse a BVH file; MotionDataError names the file, line and problem.

    The file size, the joint count and the take's length (``Frames`` x ``Frame Time``) are checked against
    ``limits`` before any frame is read, so a small file cannot declare hours of motion (limits.py).
    """
    path = Path(path)
    check_file_size(path, limits)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise MotionDataError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionDataError(path, f"cannot read BVH file: {exc}") from None
    lines = text.splitlines()
    n = 0

    def fail(problem: str, line: int | None = None) -> MotionDataError:
        return MotionDataError(f"{path}:{(line if line is not None else n) + 1}", problem)

    while n < len(lines) and not lines[n].strip():
        n += 1
    if n >= len(lines) or lines[n].strip().upper() != "HIERARCHY":
        raise fail("not a BVH file: it does not start with HIERARCHY")
    n += 1
    joints: list[BvhJoint] = []
    stack: list[int] = []  # open joints; -2 marks an open End Site
    pending: str | None = None  # a ROOT/JOINT/End Site header waiting for its "{"
    num_channels = 0
    while n < len(lines):
        words = lines[n].split()
        n += 1
        if not words:
            continue
        keyword = words[0].upper()
        if keyword == "MOTION":
            break
        opens = len(words) > 1 and words[-1] == "{"  # "JOINT Name {" on one line
        if opens:
            words = words[:-1]
        if keyword in ("ROOT", "JOINT"):
            if len(words) < 2:
                raise fail(f"{words[0]} without a name", n - 1)
            if keyword == "ROOT" and (joints or stack):
                raise fail("more than one ROOT (only single-skeleton files are supported)", n - 1)
            if keyword == "JOINT" and not stack:
                raise fail("JOINT outside a ROOT", n - 1)
            pending = " ".join(words[1:])
        elif keyword == "END":
            if not stack:
                raise fail("End Site outside a joint", n - 1)
            pending = _END_SITE
        elif keyword == "{":
            opens = True
        if opens:
            if pending is None:
                raise fail("'{' without a ROOT/JOINT/End Site before it", n - 1)
            if pending == _END_SITE:
                stack.append(-2)
            else:
                parent = stack[-1] if stack else -1
                if parent == -2:
                    raise fail("JOINT inside an End Site", n - 1)
                joints.append(BvhJoint(name=pending, parent=parent, offset=np.zeros(3)))
                stack.append(len(joints) - 1)
            pending = None
            continue
        if keyword in ("ROOT", "JOINT", "END"):
            continue
        if keyword == "}":
            if not stack:
                raise fail("unbalanced '}'", n - 1)
            stack.pop()
        elif keyword == "OFFSET":
            if not stack:
                raise fail("OFFSET outside a joint", n - 1)
            offset = _floats(words[1:4], lambda p, i=n - 1: fail(p, i))
            if len(offset) != 3:
                raise fail(f"OFFSET needs 3 numbers, got {len(words) - 1}", n - 1)
            if not np.isfinite(offset).all():
                raise fail(f"OFFSET is not finite: {' '.join(words[1:4])}", n - 1)
            if stack[-1] == -2:
                joints[_innermost_joint(stack)].end_site = offset
            else:
                joints[stack[-1]].offset = offset
        elif keyword == "CHANNELS":
            if not stack or stack[-1] == -2:
                raise fail("CHANNELS outside a joint", n - 1)
            try:
                count = int(words[1])
            except (IndexError, ValueError):
                raise fail("CHANNELS needs a count", n - 1) from None
            channels = words[2 : 2 + count]
            if len(channels) != count:
                raise fail(f"CHANNELS declares {count} channels but names {len(channels)}", n - 1)
            for channel in channels:
                low = channel.lower()
                if len(low) < 2 or low[0] not in "xyz" or low[1:] not in ("position", "rotation"):
                    raise fail(f"unknown channel {channel!r}", n - 1)
            joint = joints[stack[-1]]
            joint.channels, joint.channel_start = channels, num_channels
            num_channels += count
        else:
            raise fail(f"unexpected {words[0]!r} in HIERARCHY", n - 1)
    else:
        raise fail("no MOTION section (file truncated?)", len(lines) - 1)
    if stack:
        raise fail(f"HIERARCHY ends with {len(stack)} unclosed '{{'", n - 1)
    if not joints:
        raise fail("HIERARCHY has no joints", n - 1)
    check_joints(len(joints), path, limits)

    frames = frame_time = None
    while n < len(lines) and (frames is None or frame_time is None):
        line = lines[n].strip()
        n += 1
        if not line:
            continue
        key, _, value = line.partition(":")
        try:
            if key.strip().lower() == "frames":
                frames = int(value)
            elif key.strip().lower() == "frame time":
                frame_time = float(value)
            else:
                raise fail(f"expected 'Frames:' and 'Frame Time:', got {line[:40]!r}", n - 1)
        except ValueError:
            raise fail(f"bad number in {line[:40]!r}", n - 1) from None
    if frames is None or frame_time is None:
        raise fail("MOTION without 'Frames:' and 'Frame Time:'", n - 1)
    if not frame_time > 0 or not np.isfinite(frame_time):
        raise fail(f"Frame Time must be a finite positive number of seconds, got {frame_time}", n - 1)
    if frames < 1:
        raise fail(f"Frames must be at least 1, got {frames}", n - 1)
    check_take(frames, 1.0 / frame_time, path, limits)
    rows = [(i, line) for i, line in enumerate(lines[n:], n) if line.strip()]
    if len(rows) < frames:
        raise MotionDataError(path, f"truncated: declares {frames} frames but has {len(rows)}")
    values = np.empty((frames, num_channels))
    for f, (i, line) in enumerate(rows[:frames]):
        row = _floats(line.split(), lambda p, i=i: fail(p, i))
        if len(row) != num_channels:
            raise fail(f"frame {f} has {len(row)} values, the hierarchy declares {num_channels} channels", i)
        values[f] = row
    if not np.isfinite(values).all():
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        raise MotionDataError(path, f"{len(bad)} frame(s) with NaN/inf values (first: frame {bad[0]})")
    return BvhMotion(path=str(path), joints=joints, frame_time=frame_time, values=values)


def _innermost_joint(stack: list[int]) -> int:
    return next(i for i in reversed(stack) if i >= 0)


def _floats(words: list[str], fail) -> np.ndarray:
    try:
        return np.array([float(w) for w in words], dtype=np.float64)
    except ValueError:
        bad = next(w for w in words if not _is_float(w))
        raise fail(f"not a number: {bad!r}") from None


def _is_float(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def read_bvh_with_mapping(
    path: str | os.PathLike,
    *,
    units: str = "auto",
    up: str = "auto",
    rig: str | JointMap | None = None,
    compute_features: bool = True,
    limits: TakeLimits = DEFAULT_LIMITS,
) -> tuple[MotionRecord, RigMapping]:
    """``read_bvh`` and the mapping it used (for ``motion-retrieval inspect``)."""
    motion = parse_bvh(path, limits=limits)
    check_long_enough(motion.num_frames, motion.fps, path)
    positions = motion.positions()  # (T, J, 3) file units and axes
    smpl, mapping = map_rig(
        positions, motion.names, [j.parent for j in motion.joints], rig=rig, up=up, units=units, path=path,
        header_key=motion.header_key(),
    )
    log.debug("%s: rig %s (%s), %d frames at %.3f fps, up %s", path, mapping.name, mapping.method, motion.num_frames,
              motion.fps, mapping.orientation.up)
    record = joints_to_record(
        smpl,
        fps=motion.fps,
        path=path,
        dataset="bvh",
        units="m",
        up="y",
        compute_features=compute_features,
        tags=mapping.tags(),
        limits=limits,
    )
    return record, mapping


def read_bvh(path: str | os.PathLike, **options) -> MotionRecord:
    """A BVH take as one SMPL-22 record at 20 fps (joints in metres, Y-up, floored; 263-d features).

    Options: ``units`` ("m", "cm", "mm", "in", "cmu" or "auto": by leg length, see units.detect_units); ``up``
    ("auto": head above feet over the take, or a signed axis "y", "z", "x", "-y", ...); ``rig`` (None: a known rig's
    explicit map when the joint names fit one, else the automatic mapping of rig/; "auto" to force it; a joint_maps
    rig name; or a JointMap, e.g. from ``--rig-map FILE.json``); ``compute_features``; ``limits``
    (limits.TakeLimits). The record's tags say how it was mapped (``rig:NAME``, ``rig-method:``, ``rig-up:``,
    ``rig-units:``). Windowing long takes is the caller's choice (windows.split_into_windows).
    """
    return read_bvh_with_mapping(path, **options)[0]
