"""``motion-retrieval inspect FILE``: how one motion file is read, so a user can check a new library in seconds.

The file is read exactly as ingest reads it (data.load.read_file_with_mapping, same options), and the report says
which rig joint became which SMPL-22 joint, the axes found in the motion, the units, the frame rates and frame
counts before and after resampling, and optionally draws one frame of the processed motion (the motion the model
sees: facing +Z at its start, the body's left drawn blue).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motion_retrieval.data.blender import import_with_blender
from motion_retrieval.data.bvh import parse_bvh
from motion_retrieval.data.limits import DEFAULT_LIMITS
from motion_retrieval.data.load import read_file_with_mapping
from motion_retrieval.data.mocap import load_joint_array
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.data.rig.mapping import RigMapping
from motion_retrieval.features import features_to_joints
from motion_retrieval.render import render_strip
from motion_retrieval.skeleton import SMPL22


@dataclass
class InspectReport:
    path: str
    kind: str  # "bvh", "fbx" or "mocap"
    record: MotionRecord
    mapping: RigMapping
    source_fps: float
    source_frames: int
    image: str | None = None
    image_seconds: float | None = None

    @property
    def _frames_processed(self) -> int:
        return len(self.record.joints) if self.record.joints is not None else self.record.num_frames

    def to_json(self) -> dict:
        return {
            "file": self.path,
            "format": self.kind,
            "fps": self.source_fps,
            "frames": self.source_frames,
            "seconds": round((self.source_frames - 1) / self.source_fps, 3) if self.source_fps else 0.0,
            "fps_processed": self.record.fps,
            "frames_processed": self._frames_processed,
            "tags": list(self.record.tags),
            "image": self.image,
            "image_seconds": self.image_seconds,
            **self.mapping.to_json(),
        }

    def text(self) -> str:
        m, o = self.mapping, self.mapping.orientation
        how = "found from the hierarchy and the motion" if m.method == "auto" else "explicit map"
        lines = [
            f"{self.path} ({self.kind}, {len(m.joint_names)} rig joints)",
            f"mapping: {m.name} ({how})",
            f"axes:    up {o.up} (confidence {o.up_confidence:.2f}), forward {o.forward or '?'}, left {o.left or '?'}"
            + (f" (forward from {o.forward_source})" if o.forward_source else ""),
            f"units:   {m.units}",
            f"fps:     {self.source_fps:g} -> {self.record.fps:g}",
            f"frames:  {self.source_frames} -> {self._frames_processed} "
            f"({(self.source_frames - 1) / self.source_fps if self.source_fps else 0:.2f} s)",
            "SMPL-22 joint     rig joint(s)",
        ]
        lines += [f"  {name:<15} {m.describe(j)}" for j, name in enumerate(SMPL22.joint_names)]
        unused = [n for i, n in enumerate(m.joint_names) if not m.weights[:, i].any()]
        if unused:
            lines.append(f"unused rig joints ({len(unused)}): {', '.join(unused)}")
        lines += [f"note: {note}" for note in m.notes]
        lines.append(f"tags:    {' '.join(self.record.tags)}")
        if self.image:
            lines.append(f"frame:   {self.image} (at {self.image_seconds:.2f} s)")
        return "\n".join(lines)


def inspect_file(
    path: str | os.PathLike, *, out: str | os.PathLike | None = None, frame_seconds: float | None = None, **options
) -> InspectReport:
    """Read ``path`` as ingest would (``options``: data.load reader options) and report its mapping; with ``out``,
    draw the frame at ``frame_seconds`` (default: the middle) of the processed motion into that PNG."""
    path = Path(path)
    record, mapping = read_file_with_mapping(path, **options)
    kind, fps, frames = _source_timing(path, options)
    report = InspectReport(str(path), kind, record, mapping, fps, frames)
    if out is not None:
        report.image, report.image_seconds = _draw(record, out, frame_seconds, mapping)
    return report


def _source_timing(path: Path, options: dict) -> tuple[str, float, int]:
    """(format, fps, frames) of the file as recorded, before resampling."""
    limits = options.get("limits") or DEFAULT_LIMITS
    if path.suffix.lower() == ".bvh":
        motion = parse_bvh(path, limits=limits)
        return "bvh", motion.fps, motion.num_frames
    if path.suffix.lower() == ".fbx":
        # a second Blender import: the record keeps only the resampled take, and inspect is one file at a time
        sampled = import_with_blender("fbx", path, take=options.get("take"), limits=limits)
        return "fbx", sampled.fps, sampled.num_frames
    joints, meta = load_joint_array(path, fps=options.get("fps"), limits=limits)
    return "mocap", float(options.get("fps") or meta.get("fps") or 20.0), int(joints.shape[0])


def _draw(record: MotionRecord, out, frame_seconds: float | None, mapping: RigMapping) -> tuple[str, float]:
    joints = features_to_joints(record.features) if record.features is not None else record.joints  # (T, 22, 3)
    if frame_seconds is None:
        frame = len(joints) // 2
    else:
        frame = int(np.clip(round(frame_seconds * record.fps), 0, len(joints) - 1))
    title = f"{Path(record.source).name} ({mapping.name}, up {mapping.orientation.up}, {mapping.units})"
    path = render_strip(joints, out, title=title, fps=record.fps, frames=[frame])
    return str(path), frame / record.fps
