"""``prepare``: validate a HumanML3D- or KIT-ML-format folder, fill in what is missing, report what is bad.

For every motion (the ids on disk plus those the split files name):
- read and check its arrays and captions (readable numeric .npy, right shape, no NaN/inf frame, long enough, every
  caption line ``caption#tokens#start#end``, a caption file present);
- HumanML3D: write ``new_joint_vecs/ID.npy`` computed from ``new_joints/ID.npy`` when it is missing;
- KIT-ML: write the SMPL-22 263-d features to ``smpl22/new_joint_vecs/ID.npy`` (the reader's cache); Guo's own
  251-d files are left alone.
Then write ``Mean.npy``/``Std.npy`` (KIT-ML: ``smpl22/Mean.npy``/``Std.npy``) when missing, from the good clips of
the train split (all good clips when there is no train.txt): per-dimension statistics over all frames
(stats.compute_stats). Every bad file is reported with its reason and skipped; the rest is processed.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from motion_retrieval.data.humanml3d import (
    HumanML3DFolder,
    _progress,
    split_file,
    write_stats,
)
from motion_retrieval.data.kitml import SMPL22_CACHE_DIR, KitMLFolder, is_kitml_folder
from motion_retrieval.errors import MotionDataError
from motion_retrieval.stats import compute_stats

log = logging.getLogger(__name__)

EXPECTED_SPLITS = ("train", "val", "test")
# Guo's loaders drop motions shorter than this (min_motion_len 40 frames at 20 fps for HumanML3D, 24 at 12.5 fps for
# KIT-ML): about 2 s of motion either way.
MIN_SECONDS = {"humanml3d": 2.0, "kitml": 24 / 12.5}


@dataclass
class BadFile:
    path: str
    problem: str


@dataclass
class PrepareReport:
    root: str
    dialect: str
    motions: int = 0  # ids looked at
    ok: int = 0  # motions that passed every check
    written: int = 0  # feature files written
    stats_written: bool = False
    stats_path: str | None = None
    splits: dict[str, int] = field(default_factory=dict)  # split -> number of ids listed
    bad: list[BadFile] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clips_per_second(self) -> float:
        return self.motions / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        data = asdict(self)
        data["clips_per_second"] = round(self.clips_per_second, 2)
        data["num_bad"] = len(self.bad)
        return data


def prepare_folder(
    root: str | os.PathLike,
    *,
    dialect: str = "auto",
    min_seconds: float | None = None,
    write: bool = True,
    progress: bool = False,
    units: str = "auto",
) -> PrepareReport:
    """Validate ``root`` and fill in missing features and statistics; see the module docstring. ``units``: of KIT-ML
    joints ("auto" by leg length)."""
    root = Path(root)
    if not root.is_dir():
        raise MotionDataError(root, "not a folder")
    if dialect == "auto":
        dialect = "kitml" if is_kitml_folder(root) else "humanml3d"
    if dialect not in MIN_SECONDS:
        raise MotionDataError(root, f"unknown dialect {dialect!r}; use humanml3d, kitml or auto")
    folder = KitMLFolder(root, units=units) if dialect == "kitml" else HumanML3DFolder(root)
    report = PrepareReport(root=str(root), dialect=dialect)
    min_frames = int(round((MIN_SECONDS[dialect] if min_seconds is None else min_seconds) * 20.0))
    started = time.perf_counter()

    split_ids: dict[str, list[str]] = {}
    for name in EXPECTED_SPLITS:
        if folder.has_split(name):
            split_ids[name] = folder.ids(name)
            report.splits[name] = len(split_ids[name])
        else:
            report.bad.append(BadFile(str(split_file(root, name)), "missing split file"))
    ids = list(dict.fromkeys([*folder.ids(), *(i for ids in split_ids.values() for i in ids)]))
    report.motions = len(ids)
    stats_ids = set(split_ids["train"]) if "train" in split_ids else None

    stats_dir = root / SMPL22_CACHE_DIR if dialect == "kitml" else root
    need_stats = write and not ((stats_dir / "Mean.npy").is_file() and (stats_dir / "Std.npy").is_file())

    def good_features() -> Iterator[np.ndarray]:
        for motion_id in _progress(ids, progress, f"prepare {root.name}"):
            features = _check_one(folder, motion_id, dialect, min_frames, write, report)
            if features is not None and (stats_ids is None or motion_id in stats_ids):
                yield features

    if need_stats:
        try:
            mean, std = compute_stats(good_features())
        except MotionDataError as exc:  # no good clip at all
            report.bad.append(BadFile(str(stats_dir / "Mean.npy"), f"statistics not written: {exc.problem}"))
        else:
            stats_dir.mkdir(parents=True, exist_ok=True)
            write_stats(stats_dir, mean, std)
            report.stats_written, report.stats_path = True, str(stats_dir)
    else:
        for _ in good_features():
            pass
    report.seconds = time.perf_counter() - started
    log.info(
        "prepared %s: %d/%d ok, %d written, %d bad", root, report.ok, report.motions, report.written, len(report.bad)
    )
    return report


def _check_one(
    folder: HumanML3DFolder, motion_id: str, dialect: str, min_frames: int, write: bool, report: PrepareReport
) -> np.ndarray | None:
    """Validate one motion; returns its 263-d features when it is good (writing them if they were missing)."""
    try:
        if dialect == "kitml":
            cache = folder.cache_path(motion_id)
            had_cache = cache.is_file()
            record = folder.load(motion_id)
            target = None if had_cache else cache
        else:
            had_features = folder.features_path(motion_id).is_file()
            record = folder.load(motion_id, compute_missing=True)
            target = None if had_features else folder.features_path(motion_id)
        if not folder.text_path(motion_id).is_file():
            raise MotionDataError(folder.text_path(motion_id), "caption file missing")
        if record.num_frames < min_frames:
            raise MotionDataError(
                record.source,
                f"too short: {record.num_frames} frames ({record.duration:.2f} s), need at least {min_frames}",
            )
    except MotionDataError as exc:
        report.bad.append(BadFile(exc.path or str(folder.root), exc.problem))
        return None
    if write and target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        np.save(target, record.features.astype(np.float32))
        report.written += 1
    report.ok += 1
    return record.features
