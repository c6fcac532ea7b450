"""Named training/evaluation data sources: ``--data NAME=DIR`` -> records of a split.

``NAME`` is both the dataset's name (its statistics are ``stats/<NAME>.npz``, its metrics are reported under it)
and, by default, the reader: ``humanml3d`` (Guo's folder layout), ``kitml`` (Guo's KIT-ML layout, mapped onto
SMPL-22) or ``annotations`` (a TMR ``annotations.json`` with ``motions/`` and ``splits/`` beside it). To give a
dataset another name, write ``NAME:READER=DIR`` (e.g. ``kit_amass:annotations=/data/kit``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from motion_retrieval.data.annotations import AnnotationsDataset
from motion_retrieval.data.humanml3d import read_humanml3d
from motion_retrieval.data.kitml import read_kitml
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.errors import ConfigError, MotionDataError

log = logging.getLogger(__name__)

READERS: tuple[str, ...] = ("humanml3d", "kitml", "annotations")
NSIM_SPLIT = "nsim_test"


@dataclass(frozen=True)
class DataSource:
    name: str  # dataset name: stats/<name>.npz, per-dataset sampling weights, reports
    reader: str  # one of READERS
    path: Path  # the dataset folder

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "reader": self.reader, "path": str(self.path)}

    @classmethod
    def from_dict(cls, values: dict) -> DataSource:
        return make_source(values["name"], values.get("reader", values["name"]), values["path"])


def make_source(name: str, reader: str, path: str | Path) -> DataSource:
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"dataset name {name!r}: use letters, digits, '_' or '-' (it names stats/<name>.npz)")
    if reader not in READERS:
        raise ConfigError(
            f"dataset {name!r}: unknown reader {reader!r}; NAME must be one of {', '.join(READERS)} "
            "or written NAME:READER"
        )
    return DataSource(name, reader, Path(path).expanduser())


def parse_data_arg(text: str) -> DataSource:
    """``NAME=DIR`` or ``NAME:READER=DIR`` (the value of one ``--data`` option)."""
    if "=" not in text:
        raise ConfigError(f"--data {text!r}: expected NAME=DIR, e.g. humanml3d=/data/HumanML3D")
    name, path = text.split("=", 1)
    name, _, reader = name.partition(":")
    if not path:
        raise ConfigError(f"--data {text!r}: the folder after '=' is empty")
    return make_source(name.strip(), (reader or name).strip(), path)


def _check_folder(source: DataSource) -> None:
    if not source.path.exists():
        raise MotionDataError(source.path, f"dataset {source.name!r}: no such folder")
    if not source.path.is_dir():
        raise MotionDataError(source.path, f"dataset {source.name!r}: not a folder")


def _annotations(source: DataSource):
    json_path = source.path / "annotations.json"
    if not json_path.is_file():
        raise MotionDataError(json_path, f"dataset {source.name!r}: annotations.json not found")
    return AnnotationsDataset(json_path, source.path / "motions", source.path / "splits", dataset=source.name)


def split_path(source: DataSource, split: str) -> Path:
    """The split file of ``split`` (``ROOT/<split>.txt``; ``ROOT/splits/<split>.txt`` for annotations)."""
    if source.reader == "annotations":
        return source.path / "splits" / f"{split}.txt"
    return source.path / f"{split}.txt"


def has_split(source: DataSource, split: str) -> bool:
    return split_path(source, split).is_file()


def read_records(source: DataSource, split: str, progress: bool = False) -> list[MotionRecord]:
    """Every readable motion of ``split``. Unreadable clips are skipped with a warning; a split with none left is a
    MotionDataError naming the folder."""
    _check_folder(source)
    if not has_split(source, split):
        raise MotionDataError(split_path(source, split), f"dataset {source.name!r}: split file for {split!r} not found")
    errors: list[MotionDataError] = []
    if source.reader == "humanml3d":
        records = read_humanml3d(source.path, split, progress=progress, errors=errors)
    elif source.reader == "kitml":
        records = read_kitml(source.path, split, progress=progress, errors=errors)
    else:
        records = list(_annotations(source).records(split, errors=errors, progress=progress))
    for record in records:
        record.dataset = source.name  # the stats key, whatever the reader calls it
    if errors:
        log.warning("%s/%s: skipped %d unreadable clip(s), e.g. %s", source.name, split, len(errors), errors[0])
    if not records:
        detail = f"; first problem: {errors[0]}" if errors else ""
        raise MotionDataError(source.path, f"dataset {source.name!r}: no usable clips in split {split!r}{detail}")
    return records


def read_nsim_keys(source: DataSource) -> list[str] | None:
    """The keys of TMR's dissimilar subset (``nsim_test.txt``), or None when the dataset has no such split."""
    path = split_path(source, NSIM_SPLIT)
    if not path.is_file():
        return None
    keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return list(dict.fromkeys(keys)) or None
