"""Stored previews: each motion row's window as SMPL-22 joints, kept at ingest so that a hit can be shown and
downloaded where no source file is (a deployed service).

A preview is the row's window recovered from its 263-d features (``features.features_to_joints``: the canonical
processing, floored and facing +Z at the start) at 20 fps, the rate the clips are written at. It is stored compactly:
the root trajectory (T, 3) in float32 and the other 21 joints relative to the root (T, 21, 3) in float16 (offsets
within a body's reach keep float16's ~0.5 mm step; absolute positions far from the origin would not), in a
compressed ``.npz`` with the row's name and window. ``PreviewConfig.serve_fps`` is the reduced rate previews are
served at (GetMotionPreview); clips use every stored frame. docs/PREVIEWS.md gives the bytes per row.

Stores: :class:`FilesystemPreviewStore` (a folder, a volume in the chart: ``<root>/<id[:2]>/<id>.npz``, written
atomically) and :class:`ObjectPreviewStore` (``s3://bucket/prefix`` on any S3-compatible store, such as the MinIO
the bundled Milvus runs; the same keys under the prefix; endpoint and keys as ``data.object_store`` reads them).
:func:`open_preview_store` turns a ``--preview-store`` value into a store; :func:`default_preview_store` puts a
Milvus Lite file's previews beside it (``<file>.previews``). Store failures are :class:`PreviewStoreError`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from motion_retrieval.errors import ConfigError, MotionDataError
from motion_retrieval_milvus.errors import MilvusStoreError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
PREVIEW_STORE_ENV = "MOTION_RETRIEVAL_PREVIEW_STORE"
STORED_FPS = 20.0  # the rate of the features a preview is recovered from, and of the clips written from it
_ROW_ID = re.compile(r"[0-9a-f]{32}")  # ingest.motion_key: the only names a store writes or reads


class PreviewStoreError(MilvusStoreError):
    """The preview store refused a read or a write (disk full, permissions, the object store unreachable)."""


@dataclass(frozen=True)
class PreviewConfig:
    """How previews are served (they are stored at the features' 20 fps)."""

    serve_fps: float = 10.0  # GetMotionPreview: every other stored frame, enough for a looping thumbnail

    def __post_init__(self):
        if not 0 < self.serve_fps <= STORED_FPS:
            raise ConfigError(f"preview fps must lie in (0, {STORED_FPS:g}], got {self.serve_fps}")


@dataclass(frozen=True)
class Preview:
    """One row's window: ``joints`` (T, 22, 3) float32 SMPL-22 positions, metres, Y up, at ``fps``."""

    id: str
    name: str
    start_s: float
    end_s: float
    fps: float
    joints: np.ndarray

    def at_fps(self, fps: float) -> Preview:
        """Every k-th frame for a rate ``fps`` at most the stored one (k = round(stored / fps))."""
        step = max(1, int(round(self.fps / fps)))
        if step == 1:
            return self
        return Preview(self.id, self.name, self.start_s, self.end_s, self.fps / step, self.joints[::step])


def preview_of_features(row_id: str, name: str, start_s: float, end_s: float, features: np.ndarray) -> Preview:
    """The preview of a row from its (T, 263) raw features at 20 fps."""
    from motion_retrieval.features import features_to_joints

    joints = features_to_joints(np.asarray(features, dtype=np.float32)).astype(np.float32)  # (T, 22, 3)
    return Preview(row_id, name, float(start_s), float(end_s), STORED_FPS, joints)


def encode_preview(preview: Preview) -> bytes:
    """The compact stored form (a compressed .npz)."""
    joints = np.asarray(preview.joints, dtype=np.float32)  # (T, 22, 3)
    root = joints[:, 0]  # (T, 3)
    relative = (joints[:, 1:] - root[:, None]).astype(np.float16)  # (T, 21, 3)
    meta = {"format": FORMAT_VERSION, "id": preview.id, "name": preview.name, "start_s": preview.start_s,
            "end_s": preview.end_s, "fps": preview.fps}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, root=root, relative=relative,
                        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return buffer.getvalue()


def decode_preview(data: bytes, where: str) -> Preview:
    """The stored form back; MotionDataError naming ``where`` when it is not one."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].tobytes().decode())
            root = archive["root"].astype(np.float32)  # (T, 3)
            relative = archive["relative"].astype(np.float32)  # (T, 21, 3)
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise MotionDataError(where, f"not a stored preview ({type(exc).__name__}: {exc})") from None
    if meta.get("format") != FORMAT_VERSION or root.ndim != 2 or relative.shape != (len(root), 21, 3):
        raise MotionDataError(where, f"stored preview of another format or shape (format {meta.get('format')}, "
                                     f"root {root.shape}, relative {relative.shape})")
    joints = np.concatenate([root[:, None], relative + root[:, None]], axis=1)  # (T, 22, 3)
    return Preview(str(meta["id"]), str(meta["name"]), float(meta["start_s"]), float(meta["end_s"]),
                   float(meta["fps"]), joints)


class PreviewStore(Protocol):
    """Where previews live, by row id."""

    def put(self, previews: Sequence[Preview]) -> None: ...

    def get(self, row_id: str) -> Preview | None: ...

    def missing(self, row_ids: Iterable[str]) -> set[str]: ...

    def delete(self, row_ids: Iterable[str]) -> int: ...

    def describe(self) -> str: ...


def check_row_id(row_id: str) -> str:
    if not isinstance(row_id, str) or not _ROW_ID.fullmatch(row_id):
        raise ValueError(f"{row_id!r} is not a motion row id (32 lowercase hex characters)")
    return row_id


class FilesystemPreviewStore:
    """Previews as files under ``root`` (a local folder or a mounted volume): ``<root>/<id[:2]>/<id>.npz``.
    Writes go to a temporary file in the same folder and are renamed into place, so a reader (or a restart) never
    sees half a preview."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{self.root}: cannot create the preview store folder ({exc.strerror})") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise ConfigError(f"{self.root}: the preview store folder is not writable")

    def _path(self, row_id: str) -> Path:
        row_id = check_row_id(row_id)
        return self.root / row_id[:2] / f"{row_id}.npz"

    def put(self, previews: Sequence[Preview]) -> None:
        for preview in previews:
            path = self._path(preview.id)
            try:
                path.parent.mkdir(exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            except OSError as exc:
                raise PreviewStoreError(f"{path.parent}: cannot write previews ({exc.strerror})") from None
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(encode_preview(preview))
                os.replace(tmp, path)
            except BaseException as exc:
                with _quiet():
                    os.unlink(tmp)
                if isinstance(exc, OSError):
                    raise PreviewStoreError(f"{path}: cannot write the preview ({exc.strerror})") from None
                raise

    def get(self, row_id: str) -> Preview | None:
        path = self._path(row_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return decode_preview(data, str(path))

    def missing(self, row_ids: Iterable[str]) -> set[str]:
        return {i for i in row_ids if not self._path(i).is_file()}

    def delete(self, row_ids: Iterable[str]) -> int:
        removed = 0
        for row_id in row_ids:
            if not isinstance(row_id, str) or not _ROW_ID.fullmatch(row_id):
                continue  # not a row id: nothing of it can be stored here
            try:
                self._path(row_id).unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed

    def describe(self) -> str:
        return str(self.root)


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback) -> bool:
        return kind is not None and issubclass(kind, OSError)


class ObjectPreviewStore:
    """Previews as objects under ``s3://bucket/prefix`` of an S3-compatible store: ``<prefix>/<id[:2]>/<id>.npz``.
    An object appears whole when its PUT completes, so readers never see half a preview. The bucket must exist."""

    def __init__(self, url: str, config=None):
        from motion_retrieval.data.object_store import ObjectLocation, ObjectStoreConfig

        self.location = ObjectLocation.parse(url)
        self.config = config or ObjectStoreConfig.from_env()
        self.client = self.config.client()
        if not self._call("bucket_exists", self.location.bucket, self.client.bucket_exists, self.location.bucket):
            raise ConfigError(f"preview store {url}: no bucket {self.location.bucket!r} at {self.config.endpoint} "
                              "(create it, or name another)")

    def _key(self, row_id: str) -> str:
        row_id = check_row_id(row_id)
        prefix = f"{self.location.prefix}/" if self.location.prefix else ""
        return f"{prefix}{row_id[:2]}/{row_id}.npz"

    def _call(self, what: str, key: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # minio raises S3Error, urllib3 errors and ValueError; all are the store's
            if _is_missing(exc):
                raise
            raise PreviewStoreError(f"preview store {self.describe()}: {what} {key} failed "
                                    f"({type(exc).__name__}: {exc})") from None

    def put(self, previews: Sequence[Preview]) -> None:
        for preview in previews:
            key, data = self._key(preview.id), encode_preview(preview)
            self._call("put", key, self.client.put_object, self.location.bucket, key, io.BytesIO(data), len(data),
                       content_type="application/octet-stream")

    def get(self, row_id: str) -> Preview | None:
        key = self._key(row_id)
        try:
            response = self._call("get", key, self.client.get_object, self.location.bucket, key)
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
        try:
            data = response.read()
        finally:
            response.close()
            response.release_conn()
        return decode_preview(data, self.location.url(key))

    def missing(self, row_ids: Iterable[str]) -> set[str]:
        absent = set()
        for row_id in row_ids:
            key = self._key(row_id)
            try:
                self._call("stat", key, self.client.stat_object, self.location.bucket, key)
            except Exception as exc:
                if not _is_missing(exc):
                    raise
                absent.add(row_id)
        return absent

    def delete(self, row_ids: Iterable[str]) -> int:
        from minio.deleteobjects import DeleteObject

        keys = [self._key(i) for i in row_ids if isinstance(i, str) and _ROW_ID.fullmatch(i)]
        if keys:
            errors = self._call("delete", f"{len(keys)} objects", lambda: list(self.client.remove_objects(
                self.location.bucket, [DeleteObject(k) for k in keys])))
            if errors:
                raise PreviewStoreError(f"preview store {self.describe()}: {len(errors)} previews were not deleted "
                                        f"(first: {errors[0]})")
        return len(keys)  # S3 deletes do not say whether the object existed

    def describe(self) -> str:
        return f"{self.location.url()} at {self.config.endpoint}"


def _is_missing(exc: Exception) -> bool:
    return getattr(exc, "code", None) in ("NoSuchKey", "NoSuchObject", "ResourceNotFound")


def open_preview_store(spec: str | os.PathLike | None) -> PreviewStore | None:
    """The store a ``--preview-store`` value names: a folder, or ``s3://bucket/prefix``; None for None/""."""
    if spec is None or str(spec) == "":
        return None
    text = str(spec)
    if text.startswith("s3://"):
        return ObjectPreviewStore(text)
    if "://" in text:
        raise ConfigError(f"preview store {text!r}: give a folder (a mounted volume) or s3://bucket/prefix")
    return FilesystemPreviewStore(text)


def resolve_preview_store(explicit: str | os.PathLike | None, milvus_uri: str | None,
                          environ: dict | None = None) -> PreviewStore | None:
    """What the command line uses: ``explicit`` (--preview-store), else ``$MOTION_RETRIEVAL_PREVIEW_STORE``, else
    :func:`default_preview_store`."""
    environ = os.environ if environ is None else environ
    spec = explicit or environ.get(PREVIEW_STORE_ENV) or default_preview_store(milvus_uri)
    return open_preview_store(spec)


def default_preview_store(milvus_uri: str | None) -> str | None:
    """A Milvus Lite file keeps its previews beside it (``<file>.previews``); a Milvus server has no default (the
    service's pods need a shared volume: --preview-store)."""
    from motion_retrieval_milvus.connection import MilvusConfig

    if not milvus_uri or not MilvusConfig(milvus_uri).is_lite:
        return None
    return f"{milvus_uri}.previews"
