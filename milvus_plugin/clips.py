"""A stored row as something to look at or take away: its preview, and clips in three formats.

- ``smpl22_bvh``: a BVH of the SMPL-22 skeleton at 20 fps (motion_retrieval.data.bvh_write), from the stored preview;
- ``joints_npy``: the (T, 22, 3) float32 joint positions at 20 fps (metres, Y up) as a ``.npy`` file, from the same;
- ``source_bvh``: the source take's own frames cut to the row's window, in its own rig and frame rate, when the
  source is a BVH file this process may read: a row that the plugin's own ``ingest_paths`` read from that file (the
  ``file:`` provenance mark, previews.py), or any row whose source lies under ``source_root``, a folder the
  operator names (``--clip-source-root``: the mounted data the takes were ingested from). A source path is only a
  string a client sent, so nothing outside those is ever opened.

Used by the service (GetMotionPreview, GetMotionClip) and by ``search --save-clips`` on a local collection.
"""

from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motion_retrieval.errors import MotionDataError
from motion_retrieval_milvus.errors import MilvusStoreError
from motion_retrieval_milvus.preview_store import Preview, check_row_id
from motion_retrieval_milvus.store import MotionStore

CLIP_FORMATS = ("smpl22_bvh", "joints_npy", "source_bvh")
MEDIA_TYPES = {"smpl22_bvh": "application/x-bvh", "joints_npy": "application/x-npy", "source_bvh": "application/x-bvh"}
_SUFFIX = {"smpl22_bvh": ".bvh", "joints_npy": ".npy", "source_bvh": ".bvh"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PreviewNotFoundError(MilvusStoreError):
    """No such row, or the row has no stored preview."""


class ClipUnavailableError(MilvusStoreError):
    """The row exists but this clip cannot be made for it (its source is not a BVH this process may read)."""


@dataclass(frozen=True)
class Clip:
    filename: str
    media_type: str
    data: bytes


def stored_preview(store: MotionStore, row_id: str) -> Preview:
    """The row's stored preview (20 fps); PreviewNotFoundError when there is none."""
    check_row_id(row_id)
    if store.previews is None:
        raise PreviewNotFoundError(f"no preview of {row_id!r}: this collection is used without a preview store "
                                   "(--preview-store DIR keeps one per row at ingest)")
    preview = store.previews.get(row_id)
    if preview is None:
        raise PreviewNotFoundError(f"no stored preview of motion {row_id!r} in {store.previews.describe()}: no such "
                                   "row, or it was ingested before the preview store was set (ingest it again)")
    return preview


def clip_filename(name: str, start_s: float, end_s: float, fmt: str) -> str:
    """``<name>_<start>-<end>s<suffix>`` with the name reduced to safe characters."""
    base = _UNSAFE.sub("_", name).strip("._") or "motion"
    return f"{base[:80]}_{start_s:.1f}-{end_s:.1f}s{'_source' if fmt == 'source_bvh' else ''}{_SUFFIX[fmt]}"


def motion_clip(store: MotionStore, row_id: str, fmt: str = "smpl22_bvh",
                source_root: str | os.PathLike | None = None) -> Clip:
    """Row ``row_id`` as a file of format ``fmt`` (CLIP_FORMATS). MotionNotFoundError-like PreviewNotFoundError
    when the row or its preview is missing; ClipUnavailableError when a source clip cannot be read."""
    from motion_retrieval.data.bvh_write import smpl22_bvh

    if fmt not in CLIP_FORMATS:
        raise ValueError(f"unknown clip format {fmt!r}; known: {', '.join(CLIP_FORMATS)}")
    check_row_id(row_id)
    if fmt == "source_bvh":
        rows = store.get_motions([row_id])
        if not rows:
            raise PreviewNotFoundError(f"no motion with id {row_id!r} in collection {store.names.motions!r}")
        row = rows[0]
        path = readable_source(row, source_root)
        try:
            data = _cut(path, float(row["start_s"]), float(row["end_s"]))
        except MotionDataError as exc:
            raise ClipUnavailableError(f"the source of {row_id!r} cannot be cut: {exc}") from None
        return Clip(clip_filename(row["name"], row["start_s"], row["end_s"], fmt), MEDIA_TYPES[fmt], data)
    preview = stored_preview(store, row_id)
    if fmt == "smpl22_bvh":
        data = smpl22_bvh(preview.joints, preview.fps).encode()
    else:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(preview.joints, dtype=np.float32), allow_pickle=False)
        data = buffer.getvalue()
    return Clip(clip_filename(preview.name, preview.start_s, preview.end_s, fmt), MEDIA_TYPES[fmt], data)


def readable_source(row: dict, source_root: str | os.PathLike | None) -> Path:
    """The row's source BVH if this process may read it (module docstring), else ClipUnavailableError saying why."""
    from motion_retrieval_milvus.ingest import FILE_ORIGIN

    source = str(row.get("source") or "")
    if Path(source).suffix.lower() != ".bvh":
        raise ClipUnavailableError(f"the source of {row['id']!r} is not a BVH file ({source!r}): only BVH takes "
                                   "have a source clip; the SMPL-22 BVH is always there")
    if not os.path.isabs(source):
        raise ClipUnavailableError(f"the source {source!r} is not an absolute path")
    allowed = str(row.get("content_hash") or "").startswith(FILE_ORIGIN)
    if not allowed and source_root is not None:
        root = os.path.realpath(source_root)
        allowed = os.path.commonpath([root, os.path.realpath(source)]) == root
    if not allowed:
        raise ClipUnavailableError(
            f"the source {source!r} was not ingested from a file by this plugin and lies outside the service's "
            "--clip-source-root, so it is not read (a source path is only what a client sent)")
    try:
        mode = os.stat(source).st_mode
    except OSError as exc:
        raise ClipUnavailableError(f"the source {source!r} cannot be read here ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise ClipUnavailableError(f"the source {source!r} is not a regular file")
    return Path(source)


def _cut(path: Path, start_s: float, end_s: float) -> bytes:
    from motion_retrieval.data.bvh_write import cut_bvh

    return cut_bvh(path, start_s, end_s).encode()
