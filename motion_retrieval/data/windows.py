"""Long takes -> overlapping windows the encoder can see whole (at most 200 frames = 10 s at 20 fps).

A search hit then points into the take: every window keeps ``start``/``end`` (seconds into the source take) and has
the stable id ``<take id>@<start_ms>-<end_ms>`` (humanml3d.span_id), the same id whatever else was windowed with it.
Windows start every ``stride_seconds``; a last window aligned to the end of the take covers the tail, so every frame
is in at least one window. Clips no longer than ``max_seconds`` pass through unchanged.

Captions: whole-take captions stay on every window (they describe the take the window belongs to); a timed caption
goes to the windows holding at least half of its segment, re-timed to the window.
"""

from __future__ import annotations

from dataclasses import replace

from motion_retrieval.data.humanml3d import caption_frames, crop_frames
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.errors import MotionDataError


def window_starts(num_frames: int, window: int, stride: int) -> list[int]:
    """First frames of the windows over ``num_frames`` frames (the last one ends at the last frame)."""
    if num_frames <= window:
        return [0]
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return starts


def split_into_windows(
    record: MotionRecord, max_seconds: float = 10.0, stride_seconds: float = 5.0
) -> list[MotionRecord]:
    """``record`` cut into windows of ``max_seconds`` every ``stride_seconds`` (or ``[record]`` if it is short)."""
    if not (max_seconds > 0 and stride_seconds > 0):
        raise MotionDataError(record.source, f"window and stride must be positive, got {max_seconds}, {stride_seconds}")
    if stride_seconds > max_seconds:
        raise MotionDataError(
            record.source, f"stride {stride_seconds} s is longer than the window {max_seconds} s: frames would be lost"
        )
    window = max(1, int(round(max_seconds * record.fps)))
    stride = max(1, int(round(stride_seconds * record.fps)))
    num_frames = record.num_frames
    if num_frames <= window:
        return [record]
    windows = []
    for first in window_starts(num_frames, window, stride):
        last = first + window
        captions = [c for c in (_caption_in_window(c, first, last, record) for c in record.captions) if c]
        windows.append(crop_frames(record, first, last, captions=captions))
        windows[-1].tags = [*record.tags, "window"]
    return windows


def _caption_in_window(caption: Caption, first: int, last: int, record: MotionRecord) -> Caption | None:
    if caption.whole_clip:
        return caption
    c0, c1 = caption_frames(caption, record.num_frames, record.fps)
    overlap = min(c1, last) - max(c0, first)
    if c1 <= c0 or overlap * 2 < (c1 - c0):
        return None
    start = max(c0, first) - first
    end = min(c1, last) - first
    if start == 0 and end == last - first:
        return replace(caption, start=0.0, end=0.0)  # the caption covers the whole window
    return replace(caption, start=start / record.fps, end=end / record.fps)
