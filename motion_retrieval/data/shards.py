"""What one ingest reads: the files under its PATH arguments, optionally one shard of them (``--shard I/N``).

A shard is a deterministic 1/N of the files, decided by a hash of each file's path relative to the ingest root (the
PATH argument; a file given directly is relative to its folder). The hash depends on that one path only, so a file
keeps its shard when the walk is re-run or other files are added, and N workers, each given ``I/N``, split an archive
between them with no coordination: together they read every file exactly once (ingest's upserts by stable key do
the rest). A dataset folder (HumanML3D, KIT-ML, annotations) is read through its own reader and sharded per motion,
by the motion's source path relative to the folder. An ``s3://bucket/prefix`` argument is a folder in an
S3-compatible object store (``object_store``): its objects are listed, and only this shard's are downloaded.

:class:`RecordWalk` yields the records and keeps what the caller reports: the files looked at (``files``: distinct
source files, the ones that failed included, never the PATH arguments themselves) and every per-file failure as a
MotionDataError (one bad file never stops the others).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from motion_retrieval.data.load import detect_format, motion_files
from motion_retrieval.data.object_store import ObjectSource, is_object_url
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.errors import ConfigError, MotionDataError

log = logging.getLogger(__name__)

Reader = Callable[..., Iterable[MotionRecord]]


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0 <= index < count)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(f"shard {self.index}/{self.count}: need 0 <= I < N and N >= 1")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (as ``--shard`` takes it; I counts from 0, as a Kubernetes Indexed Job's completion index)."""
        index, sep, count = str(text).strip().partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(int(index), int(count))
        except ValueError:
            raise ConfigError(f"--shard {text!r}: expected I/N with integers 0 <= I < N, e.g. 0/4") from None

    @property
    def is_whole(self) -> bool:
        return self.count == 1

    def owns(self, key: str) -> bool:
        """Whether the file (or motion) with this relative path belongs to this shard."""
        return self.count == 1 or shard_of(key, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(key: str, count: int) -> int:
    """The shard of a relative path: blake2b of its UTF-8 bytes (stable across processes and Python versions, unlike
    ``hash()``), taken modulo ``count``."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def relative_key(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """``path`` relative to ``root`` in POSIX form (the shard key); ``path`` itself when it lies outside ``root``."""
    path, root = Path(path), Path(root)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


class RecordWalk:
    """Records of ``paths`` read by ``reader`` (``motion_retrieval.data.load.load_path`` or a partial of it), of one
    shard. Iterate it once; then ``files``, ``errors`` and ``missing`` say what was looked at and what failed.

    Sources are absolute paths (what ingest keys rows by and what a preview opens). A folder of motion files is read
    file by file, so a shard opens only its own files; each record keeps the id the folder reader gives it (the
    path relative to the folder, without suffix).
    """

    def __init__(self, paths: Sequence[str | os.PathLike], reader: Reader, shard: Shard | None = None):
        self.paths = [p if is_object_url(p) else Path(p).expanduser() for p in paths]
        self.reader = reader
        self.shard = shard or Shard()
        self.files: set[str] = set()  # every source file looked at (read, failed, or refused later by the caller)
        self.errors: list[MotionDataError] = []  # per-file (or per-path) failures
        self.missing: list[str] = []  # PATH arguments that do not exist
        self._accepts_errors = "errors" in inspect.signature(reader).parameters

    def __iter__(self) -> Iterator[MotionRecord]:
        for path in self.paths:
            if is_object_url(path):
                yield from self._objects(path)
                continue
            if not path.exists():
                self.missing.append(os.fspath(path))
                self.errors.append(MotionDataError(path, "no such file or folder"))
                continue
            try:
                kind = detect_format(path)
            except MotionDataError as exc:
                self._fail(exc, path)
                continue
            if kind == "files" and not self.shard.is_whole:
                files = motion_files(path)
                if not files:
                    self._fail(MotionDataError(path, "no motion files (.bvh, .npy, .npz) and no dataset layout found"),
                               path)
                for file in files:
                    relative = file.relative_to(path)
                    if self.shard.owns(relative.as_posix()):
                        for record in self._read(file):
                            yield dataclasses.replace(record, id=relative.with_suffix("").as_posix())
                continue
            root = path if path.is_dir() else path.parent
            for record in self._read(path):
                if self.shard.owns(relative_key(record.source or path, root)):
                    yield record

    def _objects(self, url: str) -> Iterator[MotionRecord]:
        """This shard's objects under an ``s3://`` prefix, each downloaded to a temporary folder, read, and
        removed; records keep the object's URL as their source."""
        try:
            source = ObjectSource(url)
            keys = source.motion_keys()
        except MotionDataError as exc:
            self.errors.append(exc)
            return
        for key in keys:
            relative = source.location.relative(key)
            if not self.shard.owns(relative):
                continue
            object_url = source.location.url(key)
            self.files.add(object_url)
            with tempfile.TemporaryDirectory(prefix="mr-object-") as folder:
                try:
                    local = source.fetch(key, Path(folder))
                except MotionDataError as exc:
                    self.errors.append(exc)
                    continue
                for record in self._read(local, source_name=object_url):
                    yield dataclasses.replace(record, id=PurePosixPath(relative).with_suffix("").as_posix())

    def _read(self, path: Path, source_name: str | None = None) -> Iterator[MotionRecord]:
        """Records of one path with absolute sources (or ``source_name``: an object's URL for its temporary copy);
        failures land in ``errors``. A reader that fails in an unplanned way (not a MotionDataError) ends this path
        only."""
        errors: list[MotionDataError] = []
        try:
            records = self.reader(path, errors=errors) if self._accepts_errors else self.reader(path)
            for record in records:
                source = source_name or os.path.abspath(record.source or path)
                self.files.add(source)
                yield dataclasses.replace(record, source=source)
        except MotionDataError as exc:
            errors.append(exc)
        except (OSError, ValueError, TypeError, MemoryError, EOFError) as exc:
            log.warning("%s: the reader failed (%s: %s); skipping the rest of this path", path, type(exc).__name__,
                        exc, exc_info=log.isEnabledFor(logging.DEBUG))
            errors.append(MotionDataError(path, f"unreadable ({type(exc).__name__}: {exc})"))
        for error in errors:
            if source_name is not None:  # name the object, not its temporary copy
                error = MotionDataError(source_name, error.problem)
            self._fail(error, path)

    def _fail(self, error: MotionDataError, path: Path) -> None:
        if is_object_url(error.path):
            self.files.add(error.path)
            self.errors.append(error)
            return
        where = error.path or os.fspath(path)
        name, colon, line = where.rpartition(":")
        if colon and line.isdigit() and not Path(where).exists():  # "file.bvh:4": a parse error names its line
            where = name
        if Path(where).is_file():
            self.files.add(os.path.abspath(where))
        self.errors.append(error)
