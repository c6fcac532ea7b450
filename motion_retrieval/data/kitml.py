"""KIT-ML in Guo's format, read onto SMPL-22 so that KIT-ML and HumanML3D train one model (PAPER.md section 6).

Guo's KIT-ML folder has the HumanML3D layout: ``new_joints/ID.npy`` (T, 21, 3) MMM joints in millimetres, Y-up, at
12.5 fps; ``new_joint_vecs/ID.npy`` (T, 251); ``texts/``; split files; ``Mean.npy``/``Std.npy`` (251-d). Each motion
becomes a record in the canonical form: the 21 MMM joints are mapped onto SMPL-22 (joint_maps.KIT21_TO_SMPL22,
with spine2 and the collars interpolated), converted to metres, resampled 12.5 -> 20 fps, and given 263-d features.
Without ``new_joints/`` the joints are recovered from the 251-d features (``features_to_joints`` with KIT21).

Left and right. Read in HumanML3D's right-handed Y-up frame, the KIT-ML arrays carry the MMM ``R*`` joints where a
body facing its toes has its left side: TEMOS maps SMPL ``left_hip`` to MMM ``RH`` for this reason, and Guo's
``face_joint_indx`` calls joint 11 (``LH``) ``r_hip``. Rather than trust either, ``joint_maps.kit_to_smpl22``
decides per motion from the geometry (joint_maps.facing_agreement: the facing implied by the hips and shoulders must
agree with where the feet point) and swaps the L/R assignment when the labels disagree, so the SMPL body is never
mirrored.

``prepare`` can cache the 263-d features in ``ROOT/smpl22/new_joint_vecs/ID.npy``; the reader uses the cache when it
matches the joints, and otherwise computes them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from motion_retrieval.data import joint_maps
from motion_retrieval.data.humanml3d import (
    FEATURES_DIR,
    JOINTS_DIR,
    HumanML3DFolder,
    compute_features,
    is_humanml3d_folder,
    load_features,
    load_joints,
)
from motion_retrieval.data.mocap import joints_to_record
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.errors import MotionDataError
from motion_retrieval.features import features_to_joints

log = logging.getLogger(__name__)

KIT_FPS = 12.5
SMPL22_CACHE_DIR = "smpl22"  # ROOT/smpl22/new_joint_vecs/ID.npy: cached 263-d features of the mapped motion


class KitMLFolder(HumanML3DFolder):
    """A KIT-ML folder in Guo's format whose records come out as SMPL-22, 20 fps, 263-d."""

    dataset = "kitml"
    num_joints = 21
    feature_dim = 251
    fps = KIT_FPS

    def __init__(self, root: str | os.PathLike, *, units: str = "auto"):
        super().__init__(root)
        self.units = units  # Guo's KIT-ML joints are millimetres; "auto" confirms it from the leg length

    def cache_path(self, motion_id: str) -> Path:
        return self.root / SMPL22_CACHE_DIR / FEATURES_DIR / f"{motion_id}.npy"

    def kit_joints(self, motion_id: str) -> tuple[np.ndarray, Path]:
        """(T, 21, 3) joints as stored, or recovered from the 251-d features; and the file they came from."""
        joints_path, features_path = self.joints_path(motion_id), self.features_path(motion_id)
        if joints_path.is_file():
            return load_joints(joints_path, 21), joints_path
        if features_path.is_file():
            return features_to_joints(load_features(features_path, 251), skeleton="kit21", path=features_path), (
                features_path
            )
        raise MotionDataError(
            joints_path, f"no motion file for id {motion_id!r} (looked for new_joints/ and new_joint_vecs/)"
        )

    def load(self, motion_id: str, *, split: str | None = None, compute_missing: bool = True) -> MotionRecord:
        joints21, source = self.kit_joints(motion_id)
        smpl, map_name = joint_maps.kit_to_smpl22(joints21, source)
        record = joints_to_record(
            smpl,
            fps=self.fps,
            path=source,
            dataset=self.dataset,
            units=self.units,
            up="y",
            compute_features=False,
            motion_id=motion_id,
            captions=self.load_captions(motion_id),
            tags=[f"skeleton:{map_name}"] + (["mirrored"] if motion_id.startswith("M") else []),
        )
        record.split = split if split in ("train", "val", "test") else self.split_of(motion_id)
        cache = self.cache_path(motion_id)
        if cache.is_file():
            try:
                cached = load_features(cache, 263)
                if cached.shape[0] == record.joints.shape[0] - 1:
                    record.features = cached
                else:
                    log.info(
                        "%s: stale cache (%d frames for %d joints frames), recomputing",
                        cache,
                        len(cached),
                        len(record.joints),
                    )
            except MotionDataError as exc:
                log.warning("ignoring bad feature cache: %s", exc)
        if record.features is None and compute_missing:
            record.features = compute_features(record.joints, record.fps, source)
        return record


def read_kitml(
    root: str | os.PathLike,
    split: str | None = None,
    *,
    compute_missing: bool = True,
    progress: bool = False,
    errors: list[MotionDataError] | None = None,
    units: str = "auto",
) -> list[MotionRecord]:
    """Every motion of a KIT-ML folder (or of one split) as SMPL-22 records (dataset "kitml")."""
    folder = KitMLFolder(root, units=units)
    return list(folder.records(split, compute_missing=compute_missing, progress=progress, errors=errors))


def is_kitml_folder(path: str | os.PathLike) -> bool:
    """A HumanML3D-layout folder whose motions have 21 joints or 251-d features (checks one file)."""
    path = Path(path)
    if not is_humanml3d_folder(path):
        return False
    for sub, check in ((JOINTS_DIR, lambda s: len(s) == 3 and s[1] == 21), (FEATURES_DIR, lambda s: s[-1:] == (251,))):
        first = next(iter(sorted((path / sub).glob("*.npy"))), None) if (path / sub).is_dir() else None
        if first is not None:
            try:
                shape = np.load(first, mmap_mode="r", allow_pickle=False).shape
            except (ValueError, OSError, EOFError):
                continue
            return bool(check(shape))
    return False
