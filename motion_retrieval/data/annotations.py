"""TMR-style annotations (Petrovich et al. 2023): ``annotations.json`` over a folder of feature files.

Format (checked against Mathux/TMR ``src/data/text_motion.py`` and ``src/data/motion.py``)::

    {"000000": {"path": "KIT/3/kick_high_left02_poses", "duration": 2.6,
                "annotations": [{"seg_id": "000000_0", "text": "...", "start": 0.0, "end": 2.6}, ...]}, ...}

Features live at ``<motions_dir>/<path>.npy`` (263-d at 20 fps, HumanML3D features of the whole source sequence);
TMR crops each annotation as ``[int(start * 20) : int(end * 20)]``. Mirrored entries have paths starting ``M/``.
Splits are ``<splits_dir>/{train,val,test,nsim_test}.txt`` (default ``<annotations dir>/splits``).

One record per key id: its features are the crop covering all of its annotations, its captions keep their segments
re-timed to that crop (a segment equal to the crop becomes whole-clip), and ``record.start``/``end`` are the crop's
seconds in the source sequence. ``humanml3d.crop_to_caption(record, caption)`` then gives TMR's per-annotation crop.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from motion_retrieval.data.humanml3d import HUMANML3D_FPS, _progress, load_features
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.errors import MotionDataError

log = logging.getLogger(__name__)

TMR_SPLITS = ("train", "val", "test", "nsim_test")


def load_annotations(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MotionDataError(path, "annotations file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MotionDataError(path, f"cannot read annotations JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MotionDataError(path, f"annotations must be a JSON object keyed by id, got {type(data).__name__}")
    return data


def read_tmr_split(splits_dir: str | os.PathLike, split: str) -> list[str]:
    path = Path(splits_dir) / f"{split}.txt"
    if not path.is_file():
        raise MotionDataError(path, f"split file for {split!r} not found")
    return list(dict.fromkeys(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()))


def _entry_captions(key: str, entry, where: str) -> list[tuple[Caption, str]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise MotionDataError(where, f"entry {key!r} needs a string 'path'")
    annotations = entry.get("annotations")
    if not isinstance(annotations, list) or not annotations:
        raise MotionDataError(where, f"entry {key!r} has no 'annotations' list")
    captions = []
    for n, annotation in enumerate(annotations):
        try:
            text = str(annotation["text"]).strip()
            start, end = float(annotation["start"]), float(annotation["end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MotionDataError(where, f"entry {key!r} annotation {n}: needs text, start, end ({exc})") from None
        if not text or not (0 <= start < end) or not np.isfinite(end):
            raise MotionDataError(where, f"entry {key!r} annotation {n}: empty text or bad segment {start}..{end}")
        captions.append((Caption(text=text, start=start, end=end), str(annotation.get("seg_id", f"{key}_{n}"))))
    return captions


class AnnotationsDataset:
    """Records from an ``annotations.json`` and its motions folder."""

    def __init__(
        self,
        annotations_json: str | os.PathLike,
        motions_dir: str | os.PathLike,
        splits_dir: str | os.PathLike | None = None,
        *,
        dataset: str = "tmr",
        fps: float = HUMANML3D_FPS,
    ):
        self.json_path = Path(annotations_json)
        self.motions_dir = Path(motions_dir)
        if not self.motions_dir.is_dir():
            raise MotionDataError(self.motions_dir, "motions folder not found")
        self.splits_dir = Path(splits_dir) if splits_dir is not None else self.json_path.parent / "splits"
        self.annotations = load_annotations(self.json_path)
        self.dataset = dataset
        self.fps = fps
        self._split_of: dict[str, str] | None = None
        self._cache: tuple[Path, np.ndarray] | None = None  # consecutive ids often share a source sequence

    def ids(self, split: str | None = None) -> list[str]:
        if split is None:
            return list(self.annotations)
        keyids = read_tmr_split(self.splits_dir, split)
        missing = [k for k in keyids if k not in self.annotations]
        if missing:  # TMR drops them too (the JSON may be a filtered subset)
            log.info("%d ids of split %s have no annotations (e.g. %s); skipped", len(missing), split, missing[0])
        return [k for k in keyids if k in self.annotations]

    def split_of(self, key: str) -> str | None:
        if self._split_of is None:
            self._split_of = {}
            for split in TMR_SPLITS[:3]:
                if (self.splits_dir / f"{split}.txt").is_file():
                    for k in read_tmr_split(self.splits_dir, split):
                        self._split_of.setdefault(k, split)
        return self._split_of.get(key)

    def _motion(self, path: Path) -> np.ndarray:
        if self._cache is None or self._cache[0] != path:
            self._cache = (path, load_features(path, 263))
        return self._cache[1]

    def load(self, key: str, *, split: str | None = None) -> MotionRecord:
        if key not in self.annotations:
            raise MotionDataError(self.json_path, f"no entry {key!r}")
        entry = self.annotations[key]
        captions = _entry_captions(key, entry, str(self.json_path))
        motion_path = self.motions_dir / f"{entry['path']}.npy"
        features = self._motion(motion_path)
        first = min(int(c.start * self.fps) for c, _ in captions)
        last = min(max(int(c.end * self.fps) for c, _ in captions), len(features))
        if last - first < 1:
            raise MotionDataError(
                motion_path, f"entry {key!r}: annotations cover {first}..{last}, outside the {len(features)} frames"
            )
        retimed = []
        for caption, _seg_id in captions:
            c0 = int(caption.start * self.fps) - first
            c1 = min(int(caption.end * self.fps), last) - first
            whole = c0 == 0 and c1 == last - first
            retimed.append(
                Caption(caption.text, start=0.0 if whole else c0 / self.fps, end=0.0 if whole else c1 / self.fps)
            )
        return MotionRecord(
            id=key,
            dataset=self.dataset,
            fps=self.fps,
            features=features[first:last],
            joints=None,
            captions=retimed,
            source=str(motion_path),
            split=split if split in TMR_SPLITS[:3] else self.split_of(key),
            start=first / self.fps,
            end=last / self.fps,
            tags=["mirrored"] if str(entry["path"]).startswith("M/") else [],
        )

    def records(
        self, split: str | None = None, *, errors: list[MotionDataError] | None = None, progress: bool = False
    ) -> Iterator[MotionRecord]:
        for key in _progress(self.ids(split), progress, f"reading {self.json_path.name}"):
            try:
                yield self.load(key, split=split)
            except MotionDataError as exc:
                if errors is None:
                    raise
                errors.append(exc)


def read_annotations(
    annotations_json: str | os.PathLike,
    motions_dir: str | os.PathLike,
    splits_dir: str | os.PathLike | None = None,
    split: str | None = None,
    *,
    dataset: str = "tmr",
    errors: list[MotionDataError] | None = None,
    progress: bool = False,
) -> list[MotionRecord]:
    """Every key id of a TMR ``annotations.json`` (or of one split) as a record."""
    data = AnnotationsDataset(annotations_json, motions_dir, splits_dir, dataset=dataset)
    return list(data.records(split, errors=errors, progress=progress))
