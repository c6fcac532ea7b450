"""``search --save-clips DIR``: every motion hit written as files, from a local collection or through the service.

Per hit: the SMPL-22 BVH and the joint positions (``.npy``), both at 20 fps from the stored preview, and the source
take's own window (``*_source.bvh``) where the source is a BVH the collection's owner may read. File names start
with the hit's rank, so two hits of the same name never overwrite each other. A clip that cannot be made (no stored
preview, a source that is not a readable BVH) is reported with its reason, never fatal for the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from motion_retrieval.errors import ConfigError

FORMATS = ("smpl22_bvh", "joints_npy", "source_bvh")


class ClipRefused(Exception):
    """This clip cannot be made for this hit (the reason is the message)."""


# (row id, format) -> (file name, bytes); raises ClipRefused
Fetch = Callable[[str, str], tuple[str, bytes]]


@dataclass(frozen=True)
class SavedClips:
    saved: list[dict]  # {"id", "format", "path"}
    skipped: list[dict]  # {"id", "format", "reason"}

    def to_json(self) -> dict:
        return {"saved": self.saved, "skipped": self.skipped}


def save_clips(row_ids: Sequence[str], fetch: Fetch, out_dir: str | os.PathLike) -> SavedClips:
    """Write every format of every row (ranked in the given order) into ``out_dir``."""
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot create the clips folder ({exc.strerror})") from None
    saved, skipped = [], []
    for rank, row_id in enumerate(row_ids, start=1):
        for fmt in FORMATS:
            try:
                filename, data = fetch(row_id, fmt)
            except ClipRefused as exc:
                skipped.append({"id": row_id, "format": fmt, "reason": str(exc)})
                continue
            path = folder / f"{rank:02d}_{Path(filename).name}"
            path.write_bytes(data)
            saved.append({"id": row_id, "format": fmt, "path": os.fspath(path)})
    return SavedClips(saved, skipped)


def local_fetch(store, source_root: str | None = None) -> Fetch:
    """Clips from a local collection (its preview store, and source files this plugin ingested)."""
    from motion_retrieval_milvus.clips import ClipUnavailableError, PreviewNotFoundError, motion_clip

    def fetch(row_id: str, fmt: str) -> tuple[str, bytes]:
        try:
            clip = motion_clip(store, row_id, fmt, source_root)
        except (PreviewNotFoundError, ClipUnavailableError) as exc:
            raise ClipRefused(str(exc)) from None
        return clip.filename, clip.data

    return fetch


def remote_fetch(client) -> Fetch:
    """Clips through the service (GetMotionClip); NOT_FOUND and FAILED_PRECONDITION are refusals of one clip."""
    import grpc

    def fetch(row_id: str, fmt: str) -> tuple[str, bytes]:
        try:
            clip = client.motion_clip(row_id, fmt)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                raise ClipRefused(exc.details()) from None
            raise
        return clip["filename"], clip["data"]

    return fetch
