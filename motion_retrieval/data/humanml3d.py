"""The HumanML3D folder format (Guo et al. 2022): read it into MotionRecords and write it.

Layout (PAPER.md section 9, checked against EricGuo5513/HumanML3D)::

    ROOT/new_joint_vecs/ID.npy   (T, 263) float32 features at 20 fps
    ROOT/new_joints/ID.npy       (T, 22, 3) float32 joint positions (SMPL-22 order, metres, Y-up)
    ROOT/texts/ID.txt            one caption a line: ``caption#word/POS word/POS ...#start#end``
    ROOT/{train,val,test,train_val,all}.txt   one id a line
    ROOT/Mean.npy, ROOT/Std.npy  (263,) normalisation statistics
    ``M``-prefixed ids are the left/right mirrors of the unprefixed ones.

Caption segments: ``start == end == 0`` means the whole clip; otherwise the caption covers the frames
``[int(start * fps), int(end * fps))`` (Guo's loader). The reader returns ONE record per motion carrying all of its
captions with their start/end; ``crop_to_caption`` cuts the record down to one caption's segment, which is what a
training dataset that samples (motion, caption) pairs needs.

A folder with only ``new_joints/`` works: the features are computed with ``features.joints_to_features``.
Readers take ``errors``: ``None`` raises the first MotionDataError, a list collects them and skips the bad clip.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from motion_retrieval.data.arrays import read_npy
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.errors import MotionDataError
from motion_retrieval.features import joints_to_features

log = logging.getLogger(__name__)

HUMANML3D_FPS = 20.0
FEATURES_DIR = "new_joint_vecs"
JOINTS_DIR = "new_joints"
TEXTS_DIR = "texts"
SPLIT_NAMES = ("train", "val", "test", "train_val", "all")
# The splits a record is labelled with when the caller does not ask for one (train_val and all overlap them).
_LABEL_SPLITS = ("train", "val", "test")
_WORD = re.compile(r"[A-Za-z0-9']+")
MIN_FRAMES = 2  # features need two joint frames (velocities use t and t + 1)


# ---------------------------------------------------------------------------------------------------------------
# Caption lines
# ---------------------------------------------------------------------------------------------------------------
def parse_text_line(line: str, path: str | os.PathLike | None = None, lineno: int | None = None) -> Caption:
    """Parse one ``caption#tokens#start#end`` line (also accepts ``caption#tokens``, the whole clip).

    The caption is split from the right, so a caption that itself contains ``#`` still parses. ``nan`` start/end
    (present in the released texts) read as 0, as in Guo's loader.
    """
    where = f"{os.fspath(path) if path is not None else '<text>'}" + (f":{lineno}" if lineno is not None else "")
    text = line.rstrip("\r\n")
    hashes = text.count("#")
    if hashes == 0:
        raise MotionDataError(where, f"caption line has no '#' fields (expected 'caption#tokens#start#end'): {text!r}")
    if hashes == 2:
        raise MotionDataError(where, f"caption line has 3 '#' fields, expected 'caption#tokens#start#end': {text!r}")
    if hashes == 1:
        caption, token_field = text.split("#")
        start = end = 0.0
    else:
        caption, token_field, start_field, end_field = text.rsplit("#", 3)
        start = _parse_seconds(start_field, where, "start")
        end = _parse_seconds(end_field, where, "end")
    caption = caption.strip()
    if not caption:
        raise MotionDataError(where, f"empty caption text: {text!r}")
    if start < 0 or end < 0:
        raise MotionDataError(where, f"negative caption segment {start}..{end} s")
    if not (start == 0.0 and end == 0.0) and end <= start:
        raise MotionDataError(where, f"caption segment ends before it starts ({start}..{end} s)")
    tokens = token_field.split()
    return Caption(text=caption, tokens=tokens or None, start=start, end=end)


def _parse_seconds(field: str, where: str, name: str) -> float:
    try:
        value = float(field)
    except ValueError:
        raise MotionDataError(where, f"caption {name} time {field!r} is not a number") from None
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        raise MotionDataError(where, f"caption {name} time is infinite")
    return value


def naive_tokens(text: str) -> list[str]:
    """HumanML3D-shaped ``word/POS`` tokens when no tagger ran: lower-cased words tagged ``OTHER`` (the catch-all
    category of Guo's word vectorizer)."""
    return [f"{word.lower()}/OTHER" for word in _WORD.findall(text)]


def format_text_line(caption: Caption) -> str:
    """One line of a HumanML3D ``texts/ID.txt`` file (no trailing newline)."""
    text = " ".join(caption.text.split())  # one line: newlines and runs of spaces collapse
    if not text:
        raise MotionDataError(None, "cannot write an empty caption")
    if "#" in text:
        raise MotionDataError(None, f"caption text must not contain '#' (the field separator): {text!r}")
    tokens = caption.tokens if caption.tokens else naive_tokens(text)
    return f"{text}#{' '.join(tokens)}#{float(caption.start)}#{float(caption.end)}"


def read_captions(path: str | os.PathLike) -> list[Caption]:
    """All captions of one ``texts/ID.txt`` file; blank lines are skipped, a malformed line raises."""
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MotionDataError(path, "caption file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionDataError(path, f"cannot read caption file: {exc}") from None
    captions = [parse_text_line(line, path, n) for n, line in enumerate(content.splitlines(), 1) if line.strip()]
    if not captions:
        raise MotionDataError(path, "caption file has no captions")
    return captions


def write_captions(path: str | os.PathLike, captions: Iterable[Caption]) -> None:
    lines = [format_text_line(c) for c in captions]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# Writers (used by the synthetic corpus, prepare, and tests)
# ---------------------------------------------------------------------------------------------------------------
def split_file(root: str | os.PathLike, name: str) -> Path:
    name = name[:-4] if name.endswith(".txt") else name
    return Path(root) / f"{name}.txt"


def write_split(root: str | os.PathLike, name: str, ids: Iterable[str]) -> Path:
    """Write ``ROOT/NAME.txt`` with one id a line; returns its path."""
    path = split_file(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    return path


def read_split(root: str | os.PathLike, name: str) -> list[str]:
    """The ids of split ``name`` in file order, without duplicates; a missing split file is a MotionDataError."""
    path = split_file(root, name)
    if not path.is_file():
        present = [n for n in SPLIT_NAMES if split_file(root, n).is_file()]
        raise MotionDataError(path, f"split file for {name!r} not found (splits present: {present or 'none'})")
    ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(dict.fromkeys(ids))


def write_motion(
    root: str | os.PathLike,
    motion_id: str,
    joints: np.ndarray | None = None,
    features: np.ndarray | None = None,
    captions: Sequence[Caption] | None = None,
) -> None:
    """Write one motion in HumanML3D layout: ``new_joints/ID.npy``, ``new_joint_vecs/ID.npy``, ``texts/ID.txt``.

    Joints are (T, 22, 3) (or KIT's (T, 21, 3)), features (T, 263) (or KIT's (T, 251)); either may be omitted.
    """
    root = Path(root)
    if joints is None and features is None and not captions:
        raise MotionDataError(root, f"write_motion({motion_id!r}) got nothing to write")
    if joints is not None:
        joints = np.asarray(joints, dtype=np.float32)
        if joints.ndim != 3 or joints.shape[1:] not in ((22, 3), (21, 3)):
            raise MotionDataError(
                root / JOINTS_DIR / f"{motion_id}.npy", f"joints must be (T, 22|21, 3), got {joints.shape}"
            )
        (root / JOINTS_DIR).mkdir(parents=True, exist_ok=True)
        np.save(root / JOINTS_DIR / f"{motion_id}.npy", joints)
    if features is not None:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] not in (263, 251):
            raise MotionDataError(
                root / FEATURES_DIR / f"{motion_id}.npy", f"features must be (T, 263|251), got {features.shape}"
            )
        (root / FEATURES_DIR).mkdir(parents=True, exist_ok=True)
        np.save(root / FEATURES_DIR / f"{motion_id}.npy", features)
    if captions:
        (root / TEXTS_DIR).mkdir(parents=True, exist_ok=True)
        write_captions(root / TEXTS_DIR / f"{motion_id}.txt", captions)


def write_stats(root: str | os.PathLike, mean: np.ndarray, std: np.ndarray) -> None:
    """``ROOT/Mean.npy`` and ``ROOT/Std.npy``, float32."""
    np.save(Path(root) / "Mean.npy", np.asarray(mean, dtype=np.float32))
    np.save(Path(root) / "Std.npy", np.asarray(std, dtype=np.float32))


# ---------------------------------------------------------------------------------------------------------------
# Array loading with errors that name the file
# ---------------------------------------------------------------------------------------------------------------
def load_array(path: str | os.PathLike) -> np.ndarray:
    """A numeric .npy, its header checked against the file size before anything is allocated (data/arrays.py);
    truncated, pickled, non-numeric or oversized files raise MotionDataError."""
    return read_npy(path)


def check_finite(array: np.ndarray, path: str | os.PathLike) -> None:
    bad = ~np.isfinite(array.reshape(array.shape[0], -1)).all(axis=1) if array.ndim and array.shape[0] else None
    if bad is not None and bad.any():
        frames = np.flatnonzero(bad)
        shown = ", ".join(str(f) for f in frames[:5]) + (" ..." if len(frames) > 5 else "")
        raise MotionDataError(path, f"{len(frames)} frame(s) with NaN/inf values (frames {shown})")


def load_features(path: str | os.PathLike, dim: int = 263) -> np.ndarray:
    array = load_array(path)
    if array.ndim != 2 or array.shape[1] != dim:
        raise MotionDataError(path, f"features must have shape (T, {dim}), got {array.shape}")
    if array.shape[0] < 1:
        raise MotionDataError(path, "features have no frames")
    check_finite(array, path)
    return array.astype(np.float32, copy=False)


def load_joints(path: str | os.PathLike, num_joints: int = 22) -> np.ndarray:
    array = load_array(path)
    if array.ndim != 3 or array.shape[1:] != (num_joints, 3):
        raise MotionDataError(path, f"joints must have shape (T, {num_joints}, 3), got {array.shape}")
    if array.shape[0] < MIN_FRAMES:
        raise MotionDataError(path, f"too short: {array.shape[0]} frame(s), need at least {MIN_FRAMES}")
    check_finite(array, path)
    return array.astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------
def is_humanml3d_folder(path: str | os.PathLike) -> bool:
    """A folder with ``new_joint_vecs/`` or ``new_joints/`` (the marks of Guo's layout)."""
    path = Path(path)
    return path.is_dir() and ((path / FEATURES_DIR).is_dir() or (path / JOINTS_DIR).is_dir())


class HumanML3DFolder:
    """A HumanML3D-format folder: list ids per split and load one motion at a time."""

    dataset = "humanml3d"
    num_joints = 22
    feature_dim = 263
    fps = HUMANML3D_FPS

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if not self.root.is_dir():
            raise MotionDataError(self.root, "not a folder")
        if not is_humanml3d_folder(self.root):
            raise MotionDataError(
                self.root, f"not a {self.dataset} folder: it has neither {FEATURES_DIR}/ nor {JOINTS_DIR}/"
            )
        self._split_of: dict[str, str] | None = None

    # -- ids and splits ------------------------------------------------------------------------------------------
    def has_split(self, name: str) -> bool:
        return split_file(self.root, name).is_file()

    def ids(self, split: str | None = None) -> list[str]:
        """The ids of ``split`` (its file must exist), or every motion present on disk when ``split`` is None."""
        if split is not None:
            return read_split(self.root, split)
        stems: set[str] = set()
        for sub in (FEATURES_DIR, JOINTS_DIR):
            if (self.root / sub).is_dir():
                stems.update(p.stem for p in (self.root / sub).glob("*.npy"))
        return sorted(stems)

    def split_of(self, motion_id: str) -> str | None:
        """train / val / test when a split file lists the id."""
        if self._split_of is None:
            self._split_of = {}
            for name in _LABEL_SPLITS:
                if self.has_split(name):
                    for i in read_split(self.root, name):
                        self._split_of.setdefault(i, name)
        return self._split_of.get(motion_id)

    # -- paths ---------------------------------------------------------------------------------------------------
    def features_path(self, motion_id: str) -> Path:
        return self.root / FEATURES_DIR / f"{motion_id}.npy"

    def joints_path(self, motion_id: str) -> Path:
        return self.root / JOINTS_DIR / f"{motion_id}.npy"

    def text_path(self, motion_id: str) -> Path:
        return self.root / TEXTS_DIR / f"{motion_id}.txt"

    # -- loading -------------------------------------------------------------------------------------------------
    def load_captions(self, motion_id: str) -> list[Caption]:
        path = self.text_path(motion_id)
        return read_captions(path) if path.is_file() else []

    def load(self, motion_id: str, *, split: str | None = None, compute_missing: bool = True) -> MotionRecord:
        """One motion with all its captions. Raises MotionDataError naming the bad file."""
        features_path, joints_path = self.features_path(motion_id), self.joints_path(motion_id)
        has_features, has_joints = features_path.is_file(), joints_path.is_file()
        if not has_features and not has_joints:
            raise MotionDataError(
                features_path, f"no motion file for id {motion_id!r} (looked for {FEATURES_DIR}/ and {JOINTS_DIR}/)"
            )
        joints = load_joints(joints_path, self.num_joints) if has_joints else None
        features = load_features(features_path, self.feature_dim) if has_features else None
        captions = self.load_captions(motion_id)
        record = MotionRecord(
            id=motion_id,
            dataset=self.dataset,
            fps=self.fps,
            features=features,
            joints=joints,
            captions=captions,
            source=str(features_path if has_features else joints_path),
            split=split if split in _LABEL_SPLITS else self.split_of(motion_id),
            tags=["mirrored"] if _is_mirror_id(motion_id) else [],
        )
        if record.features is None and compute_missing:
            record.features = compute_features(joints, self.fps, joints_path)
        return record

    def records(
        self,
        split: str | None = None,
        *,
        compute_missing: bool = True,
        progress: bool = False,
        errors: list[MotionDataError] | None = None,
    ) -> Iterator[MotionRecord]:
        """Every motion of ``split``. With ``errors`` a list, bad clips are appended there and skipped."""
        ids = self.ids(split)
        for motion_id in _progress(ids, progress, f"reading {self.root.name}"):
            try:
                yield self.load(motion_id, split=split, compute_missing=compute_missing)
            except MotionDataError as exc:
                if errors is None:
                    raise
                log.debug("skipping %s: %s", motion_id, exc)
                errors.append(exc)


def _is_mirror_id(motion_id: str) -> bool:
    return motion_id.startswith("M") and motion_id[1:].isdigit()


def compute_features(joints: np.ndarray, fps: float, path: str | os.PathLike | None = None) -> np.ndarray:
    """263-d features of SMPL-22 joints; a failure of the feature pipeline is reported against ``path``."""
    try:
        features = np.asarray(joints_to_features(joints, fps=fps), dtype=np.float32)
    except MotionDataError:
        raise
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        raise MotionDataError(path, f"cannot compute features from joints: {exc}") from None
    if features.shape[0] < 1 or not np.isfinite(features).all():
        raise MotionDataError(path, "features computed from these joints are empty or not finite")
    return features


def _progress(items: Sequence, enabled: bool, desc: str):
    if not enabled:
        return items
    from tqdm import tqdm  # deferred: tqdm is optional; the readers run on the base install

    return tqdm(items, desc=desc, unit="clip")


def read_humanml3d(
    root: str | os.PathLike,
    split: str | None = None,
    *,
    compute_missing: bool = True,
    progress: bool = False,
    errors: list[MotionDataError] | None = None,
) -> list[MotionRecord]:
    """Every motion of a HumanML3D folder (or of one split), one record per motion with all its captions."""
    return list(HumanML3DFolder(root).records(split, compute_missing=compute_missing, progress=progress, errors=errors))


# ---------------------------------------------------------------------------------------------------------------
# Caption segments and spans
# ---------------------------------------------------------------------------------------------------------------
def span_id(motion_id: str, start: float, end: float) -> str:
    """The stable id of a span of a take: ``<id>@<start_ms>-<end_ms>`` (windows and caption crops share it)."""
    return f"{motion_id}@{int(round(start * 1000))}-{int(round(end * 1000))}"


def base_id(motion_id: str) -> str:
    """The id of the take a span id points into (``"131_01@5000-15000"`` -> ``"131_01"``)."""
    return motion_id.split("@", 1)[0]


def caption_frames(caption: Caption, num_frames: int, fps: float = HUMANML3D_FPS) -> tuple[int, int]:
    """Frames ``[first, last)`` a caption covers (Guo: ``[int(start*fps), int(end*fps))``), clamped to the clip."""
    if caption.whole_clip:
        return 0, num_frames
    # The tiny epsilon keeps segments re-timed by subtraction (windows, annotation crops) on the frame they name.
    first, last = int(caption.start * fps + 1e-6), int(caption.end * fps + 1e-6)
    return min(first, num_frames), min(last, num_frames)


def crop_frames(record: MotionRecord, first: int, last: int, *, captions: list[Caption] | None = None) -> MotionRecord:
    """The record cut to frames ``[first, last)`` of its arrays, with start/end (seconds into the source take) and
    a span id."""
    # Feature frame t is computed from joint frames t and t + 1, so a record with both keeps one more joint frame.
    joints_extra = int(
        record.features is not None and record.joints is not None and len(record.joints) == len(record.features) + 1
    )
    start = record.start + first / record.fps
    end = record.start + last / record.fps
    return replace(
        record,
        id=span_id(base_id(record.id), start, end),
        features=None if record.features is None else record.features[first:last],
        joints=None if record.joints is None else record.joints[first : last + joints_extra],
        captions=list(record.captions) if captions is None else captions,
        start=start,
        end=end,
        tags=list(record.tags),
    )


def crop_to_caption(record: MotionRecord, caption: Caption) -> MotionRecord:
    """The part of ``record`` that ``caption`` describes, carrying only that caption (made whole-clip).

    A whole-clip caption returns the full motion (same id). A segment outside the motion raises MotionDataError.
    """
    if caption.whole_clip:
        return replace(record, captions=[caption], tags=list(record.tags))
    first, last = caption_frames(caption, record.num_frames, record.fps)
    if last - first < 1:
        raise MotionDataError(
            record.source,
            f"caption {caption.text!r} covers {caption.start}-{caption.end} s, "
            f"outside the {record.duration:.2f} s motion {record.id!r}",
        )
    return crop_frames(record, first, last, captions=[replace(caption, start=0.0, end=0.0)])
