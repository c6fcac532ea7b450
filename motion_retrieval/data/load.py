"""One entry point for "whatever the user pointed at": ``load_path(path) -> Iterator[MotionRecord]``.

Detected, in this order: a HumanML3D folder, a KIT-ML folder (Guo's layout with 21 joints / 251-d), an
``annotations.json`` (TMR) or a folder holding one, a single ``.bvh``/``.fbx``/``.npy``/``.npz`` file, and otherwise a
folder searched recursively for those files (``.fbx`` needs the ``[fbx]`` extra: fbx.py). A file that cannot be read
does not stop the rest: pass ``errors=[]`` and every MotionDataError lands there (``None`` raises the first). This is
what ingest needs: skip bad files, report them, carry on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from motion_retrieval.data.amass import is_amass_npz, read_amass_with_mapping
from motion_retrieval.data.annotations import AnnotationsDataset
from motion_retrieval.data.bvh import read_bvh_with_mapping
from motion_retrieval.data.fbx import read_fbx_with_mapping
from motion_retrieval.data.humanml3d import HumanML3DFolder, _progress, is_humanml3d_folder
from motion_retrieval.data.joint_maps import load_joint_map
from motion_retrieval.data.kitml import KitMLFolder, is_kitml_folder
from motion_retrieval.data.limits import DEFAULT_LIMITS
from motion_retrieval.data.mocap import read_mocap_with_mapping
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.data.windows import split_into_windows
from motion_retrieval.errors import MotionDataError

if TYPE_CHECKING:
    from motion_retrieval.data.rig.mapping import RigMapping

log = logging.getLogger(__name__)

MOTION_SUFFIXES = (".bvh", ".fbx", ".npy", ".npz")
_NOT_MOTIONS = {"mean.npy", "std.npy"}  # statistics files that sit beside motions


def detect_format(path: str | os.PathLike) -> str:
    """ "humanml3d", "kitml", "annotations", "bvh", "fbx", "mocap" (one .npy/.npz) or "files" (a folder of them)."""
    path = Path(path)
    if not path.exists():
        raise MotionDataError(path, "no such file or folder")
    if path.is_dir():
        if is_kitml_folder(path):
            return "kitml"
        if is_humanml3d_folder(path):
            return "humanml3d"
        if (path / "annotations.json").is_file():
            return "annotations"
        return "files"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "annotations"
    if suffix == ".bvh":
        return "bvh"
    if suffix == ".fbx":
        return "fbx"
    if suffix in (".npy", ".npz"):
        return "mocap"
    raise MotionDataError(path, f"unsupported file type {suffix or '(none)'}; expected .bvh, .fbx, .npy, .npz or .json")


def motion_files(folder: str | os.PathLike) -> list[Path]:
    """Motion files under ``folder`` (recursive, sorted, hidden entries and Mean/Std.npy skipped)."""
    folder = Path(folder)
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or name.lower() in _NOT_MOTIONS:
                continue
            if Path(name).suffix.lower() in MOTION_SUFFIXES:
                files.append(Path(root) / name)
    return files


READER_OPTIONS = ("units", "up", "fps", "skeleton", "rig", "rig_map", "compute_features", "limits", "take")

READER_OPTIONS += ("body_model",)  # AMASS .npz: a folder of the user's SMPL-family model files (data/amass.py)

def read_file_with_mapping(path: str | os.PathLike, **options) -> tuple[MotionRecord, RigMapping]:
    """One .bvh / .fbx / .npy / .npz file as a record, and how its joints were mapped onto SMPL-22.

    Options (all optional): ``units`` ("auto", "m", "cm", "mm", "in", "cmu"), ``up`` ("auto" or a signed axis "y",
    "z", "x", "-y", ...), ``fps`` and ``skeleton`` (joint arrays), ``rig`` (a joint_maps rig name, "auto", or a
    JointMap), ``rig_map`` (a JointMap JSON file, as ``--rig-map``), ``compute_features``, ``limits``
    (limits.TakeLimits), ``take`` (an FBX take's name; default: the active one, fbx.py).
    """
    unknown = sorted(set(options) - set(READER_OPTIONS))
    if unknown:
        raise TypeError(f"unknown reader options {', '.join(unknown)}; known: {', '.join(READER_OPTIONS)}")
    path = Path(path)
    rig = options.get("rig")
    if options.get("rig_map"):
        rig = load_joint_map(options["rig_map"])
    common = {
        "rig": rig,
        "compute_features": options.get("compute_features", True),
        "limits": options.get("limits") or DEFAULT_LIMITS,
    }
    units, up = options.get("units"), options.get("up")
    if path.suffix.lower() == ".bvh":
        return read_bvh_with_mapping(path, units=units or "auto", up=up or "auto", **common)
    if path.suffix.lower() == ".fbx":
        return read_fbx_with_mapping(path, units=units or "auto", up=up or "auto", take=options.get("take"), **common)
    if path.suffix.lower() == ".npz":
        if is_amass_npz(path, common["limits"]):  # SMPL-family pose parameters, not joint positions
            return read_amass_with_mapping(path, body_model=options.get("body_model"), fps=options.get("fps"),
                                           compute_features=common["compute_features"], limits=common["limits"])
    # None lets an .npz's own "units"/"up" entries count; "auto" is the default after them
    return read_mocap_with_mapping(
        path, skeleton=options.get("skeleton"), fps=options.get("fps"), units=units, up=up, **common
    )


def read_file(path: str | os.PathLike, **options) -> MotionRecord:
    """One .bvh / .fbx / .npy / .npz file as a record (options: see read_file_with_mapping)."""
    return read_file_with_mapping(path, **options)[0]


def load_path(
    path: str | os.PathLike,
    *,
    split: str | None = None,
    errors: list[MotionDataError] | None = None,
    window_seconds: float | None = None,
    stride_seconds: float = 5.0,
    progress: bool = False,
    motions_dir: str | os.PathLike | None = None,
    **options,
) -> Iterator[MotionRecord]:
    """Records from a dataset folder, an annotations file, a motion file or a folder of motion files.

    ``split``: for dataset folders and annotations. ``window_seconds``: cut longer records into windows
    (windows.split_into_windows). ``motions_dir``: the features folder of an annotations.json (default: a
    ``motions`` folder beside it). ``options`` go to the file readers (read_file_with_mapping: units, up, fps,
    skeleton, rig, rig_map, compute_features, limits); KIT-ML folders take ``units``.
    """
    for record in _records(Path(path), split, errors, progress, motions_dir, options):
        if window_seconds:
            yield from split_into_windows(record, window_seconds, stride_seconds)
        else:
            yield record


def _records(path: Path, split, errors, progress, motions_dir, options) -> Iterator[MotionRecord]:
    try:
        kind = detect_format(path)
    except MotionDataError as exc:
        if errors is None:
            raise
        errors.append(exc)
        return
    log.info("%s: reading as %s", path, kind)
    compute = options.get("compute_features", True)
    if kind in ("humanml3d", "kitml", "annotations"):
        try:  # a whole-dataset problem (a missing split file, an unreadable annotations.json) ends this path only
            if kind == "annotations":
                json_path = path / "annotations.json" if path.is_dir() else path
                motions = Path(motions_dir) if motions_dir is not None else json_path.parent / "motions"
                yield from AnnotationsDataset(json_path, motions).records(split, errors=errors, progress=progress)
            else:
                units = options.get("units") or "auto"
                folder = KitMLFolder(path, units=units) if kind == "kitml" else HumanML3DFolder(path)
                yield from folder.records(split, compute_missing=compute, progress=progress, errors=errors)
        except MotionDataError as exc:
            if errors is None:
                raise
            errors.append(exc)
        return
    files = [path] if kind in ("bvh", "fbx", "mocap") else motion_files(path)
    if kind == "files" and not files:
        problem = MotionDataError(path, f"no motion files ({', '.join(MOTION_SUFFIXES)}) and no dataset layout found")
        if errors is None:
            raise problem
        errors.append(problem)
        return
    for file in _progress(files, progress, f"reading {path.name}"):
        try:
            record = _read_one(file, options)
        except MotionDataError as exc:
            if errors is None:
                raise
            log.debug("skipping %s: %s", file, exc)
            errors.append(exc)
            continue
        if kind == "files":  # ids unique within the folder: "sub/131_01" for sub/131_01.bvh
            record.id = file.relative_to(path).with_suffix("").as_posix()
        yield record


def _read_one(file: Path, options: dict) -> MotionRecord:
    """read_file, with any failure of one file reported as that file's MotionDataError.

    The readers turn every problem they know of into MotionDataError; this is the backstop for the ones they do
    not (a reader bug, memory exhaustion on a legitimate but huge file), so that one file never ends a folder.
    """
    try:
        return read_file(file, **options)
    except (MotionDataError, TypeError):
        raise
    except MemoryError:
        raise MotionDataError(file, "out of memory while reading this file (too large for this machine)") from None
    except Exception as exc:  # noqa: BLE001 (per-file isolation: the message names the file and the error)
        log.warning("%s: unexpected %s while reading", file, type(exc).__name__, exc_info=True)
        raise MotionDataError(file, f"cannot read this file ({type(exc).__name__}: {exc})") from None
