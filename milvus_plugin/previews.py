"""Rendered previews of search hits: one stick-figure strip per hit, stacked into one PNG (top hit first).

Vectors are all Milvus keeps, so the motion of a hit is read back from its source file and cut to the hit's window
(``start_s``..``end_s`` seconds into the take). A stored ``source`` is only a string, and anyone who may ingest over
gRPC chooses it, so a preview reads only what the plugin itself wrote: rows that ``ingest_paths`` read from a file
(their content hash carries the ``file:`` provenance mark that only that path writes, ingest.py), whose
source is still a regular motion file (.npy/.npz/.bvh; no devices, pipes or other files). Any other row gets no
preview and a reason.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motion_retrieval.errors import MotionDataError

log = logging.getLogger(__name__)

PREVIEW_SUFFIXES = (".npy", ".npz", ".bvh")


def preview_source(hit, content_hash: str) -> Path:
    """The file a preview of ``hit`` may read, or a MotionDataError saying why it may not read any."""
    from motion_retrieval_milvus.ingest import FILE_ORIGIN

    source = hit.source or ""
    if not content_hash.startswith(FILE_ORIGIN):
        raise MotionDataError(source or hit.id, "not ingested from a file by this plugin (ingested over the service "
                                                "or by an older version); no file is read for it")
    if not os.path.isabs(source) or Path(source).suffix.lower() not in PREVIEW_SUFFIXES:
        raise MotionDataError(source, f"not an absolute path of a motion file ({', '.join(PREVIEW_SUFFIXES)})")
    try:
        mode = os.stat(source).st_mode
    except OSError as exc:
        raise MotionDataError(source, f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise MotionDataError(source, "not a regular file")
    return Path(source)


def hit_joints(hit, content_hash: str) -> tuple[np.ndarray, float]:
    """(T, J, 3) joints of ``hit``'s window and their fps, read from its checked source file."""
    from motion_retrieval.data.render_files import motion_joints

    joints, fps = motion_joints(preview_source(hit, content_hash))
    first = max(0, int(round(hit.start_s * fps)))
    last = int(round(hit.end_s * fps)) if hit.end_s > hit.start_s else len(joints)
    return joints[first:max(last, first + 1)], fps  # (T, J, 3)


def hit_title(rank: int, hit) -> str:
    caption = hit.captions[0] if hit.captions else ""
    return f"#{rank}  {hit.score:.3f}  {hit.name or hit.id}  {hit.start_s:.1f}-{hit.end_s:.1f} s  {caption}"[:120]


def render_hits(hits: Sequence, out_path: Path, store, num_frames: int = 6) -> Path:
    """Strips of ``hits`` (MotionHit-like: id, source, start_s, end_s, score, name, captions) read back from their
    files (:func:`preview_source` decides which may be read), stacked into ``out_path``."""
    if not hits:
        raise MotionDataError(out_path, "no hits to preview")
    hashes = {row["id"]: row.get("content_hash", "") for row in store.get_motions([h.id for h in hits])}
    strips, refused = [], []
    for rank, hit in enumerate(hits, start=1):
        try:
            joints, fps = hit_joints(hit, hashes.get(hit.id) or "")
        except (MotionDataError, OSError) as exc:
            log.warning("no preview for hit %d: %s", rank, exc)
            refused.append(f"#{rank} {exc}")
            continue
        strips.append((joints, fps, hit_title(rank, hit)))
    if not strips:
        raise MotionDataError(out_path, "no hit could be previewed: " + "; ".join(refused))
    return render_strips(strips, out_path, num_frames)


def render_strips(strips: Sequence[tuple[np.ndarray, float, str]], out_path: Path, num_frames: int = 6) -> Path:
    """One stick-figure strip per (joints (T, J, 3), fps, title), stacked top first into the PNG ``out_path``."""
    from PIL import Image

    from motion_retrieval.render import render_strip

    if not strips:
        raise MotionDataError(out_path, "nothing to render")
    images: list[Image.Image] = []
    with tempfile.TemporaryDirectory(prefix="mr-preview-") as tmp:
        for index, (joints, fps, title) in enumerate(strips):
            path = render_strip(joints, Path(tmp) / f"{index}.png", title=title, num_frames=num_frames, fps=fps)
            with Image.open(path) as image:
                images.append(image.convert("RGB"))
    width = max(s.width for s in images)
    sheet = Image.new("RGB", (width, sum(s.height for s in images)), "white")
    top = 0
    for image in images:
        sheet.paste(image, (0, top))
        top += image.height
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path)
    return out_path
