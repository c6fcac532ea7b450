"""Rendered previews of search hits: one stick-figure strip per hit, stacked into one PNG (top hit first).

Vectors are all Milvus keeps, so the motion of a hit is read back from its source file and cut to the hit's window
(``start_s``..``end_s`` seconds into the take).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from motion_retrieval.errors import MotionDataError

log = logging.getLogger(__name__)


def render_hits(hits: Sequence, out_path: Path, num_frames: int = 6) -> Path:
    """Strips of ``hits`` (SearchHit-like: source, start_s, end_s, score, name, captions) stacked into ``out_path``."""
    from PIL import Image

    from motion_retrieval.render import motion_joints, render_strip

    if not hits:
        raise MotionDataError(out_path, "no hits to preview")
    strips: list[Image.Image] = []
    with tempfile.TemporaryDirectory(prefix="mr-preview-") as tmp:
        for rank, hit in enumerate(hits, start=1):
            try:
                joints, fps = motion_joints(hit.source)
            except (MotionDataError, OSError) as exc:
                log.warning("no preview for hit %d (%s): %s", rank, hit.source, exc)
                continue
            first = max(0, int(round(hit.start_s * fps)))
            last = int(round(hit.end_s * fps)) if hit.end_s > hit.start_s else len(joints)
            window = joints[first : max(last, first + 1)]  # (T, J, 3)
            caption = hit.captions[0] if hit.captions else ""
            title = f"#{rank}  {hit.score:.3f}  {hit.name or hit.id}  {hit.start_s:.1f}-{hit.end_s:.1f} s  {caption}"
            path = render_strip(window, Path(tmp) / f"{rank}.png", title=title[:120], num_frames=num_frames, fps=fps)
            with Image.open(path) as image:
                strips.append(image.convert("RGB"))
    if not strips:
        raise MotionDataError(out_path, "none of the hits' source files could be read for a preview")
    width = max(s.width for s in strips)
    sheet = Image.new("RGB", (width, sum(s.height for s in strips)), "white")
    top = 0
    for strip in strips:
        sheet.paste(strip, (0, top))
        top += strip.height
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path)
    return out_path
