"""Bounds on what one motion file may make the readers do, checked from headers before any work is done.

A file is small, but what it declares can be huge: a 3-frame BVH with ``Frame Time: 2000`` is 4,000 s, which
resampling to 20 fps turns into 80,001 frames and ingest into 799 windows; an ``.npy`` header can declare 2^40
elements; fps can be 1e-30. Every reader checks the declared sizes against these limits (and arrays against the
file's real size) and raises MotionDataError naming the limit, so one hostile file costs nothing and fails alone.

The defaults fit every real take we know of (an hour of mocap at 120 fps with 100 joints is well inside) and can be
raised per call (``load_path(..., limits=TakeLimits(max_seconds=7200))``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from motion_retrieval.errors import MotionDataError

CANONICAL_FPS = 20.0  # every take is resampled to this (features.FPS)


@dataclass(frozen=True)
class TakeLimits:
    max_seconds: float = 3600.0  # longest take: 72,000 frames (360 windows of 10 s) at 20 fps
    min_fps: float = 1.0  # below this, resampling to 20 fps invents more than 19 frames per recorded one
    max_fps: float = 10_000.0  # optical mocap records at most a few hundred; more is a broken Frame Time
    max_joints: int = 1024  # rigs with full face and hands have a few hundred
    max_file_bytes: int = 2 * 1024**3  # one motion file (BVH text, .npy, .npz)
    max_array_bytes: int = 1024**3  # one array once decoded (an hour at 120 fps, 52 joints, float64 is 0.54 GiB)

    @property
    def max_frames(self) -> int:
        """Frames of the longest take at 20 fps."""
        return int(math.floor(self.max_seconds * CANONICAL_FPS)) + 1


DEFAULT_LIMITS = TakeLimits()


def check_fps(fps, path: str | os.PathLike | None, limits: TakeLimits = DEFAULT_LIMITS, what: str = "frame rate"):
    """``fps`` as a float if it is a finite number within the limits; MotionDataError otherwise."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)):
        try:
            fps = float(fps)  # numpy scalars, numeric strings
        except (TypeError, ValueError):
            raise MotionDataError(path, f"{what} must be a number, got {fps!r}") from None
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        raise MotionDataError(path, f"{what} must be a finite positive number, got {fps!r}")
    if fps < limits.min_fps:
        raise MotionDataError(
            path, f"{what} {fps:g} fps is below the limit of {limits.min_fps:g} fps (resampling to 20 fps would invent "
                  f"{CANONICAL_FPS / fps:.0f} frames per recorded frame)"
        )
    if fps > limits.max_fps:
        raise MotionDataError(path, f"{what} {fps:g} fps is above the limit of {limits.max_fps:g} fps")
    return fps


def check_take(num_frames: int, fps: float, path: str | os.PathLike | None, limits: TakeLimits = DEFAULT_LIMITS):
    """Refuse a take whose duration (and so its frame count at 20 fps) is over the limit, before resampling it."""
    fps = check_fps(fps, path, limits)
    seconds = max(int(num_frames) - 1, 0) / fps
    if seconds > limits.max_seconds:
        frames = int(math.floor(seconds * CANONICAL_FPS)) + 1
        raise MotionDataError(
            path,
            f"take too long: {num_frames} frames at {fps:g} fps last {seconds:,.0f} s ({frames:,} frames at 20 fps); "
            f"the limit is {limits.max_seconds:,.0f} s ({limits.max_frames:,} frames at 20 fps). Cut the take, or "
            "raise TakeLimits.max_seconds",
        )
    return fps


def check_joints(num_joints: int, path: str | os.PathLike | None, limits: TakeLimits = DEFAULT_LIMITS) -> None:
    if num_joints > limits.max_joints:
        raise MotionDataError(path, f"{num_joints} joints is over the limit of {limits.max_joints}")


def check_file_size(path: str | os.PathLike, limits: TakeLimits = DEFAULT_LIMITS) -> int:
    """The file's size in bytes; MotionDataError when it is missing or over the limit."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise MotionDataError(path, "file not found") from None
    except OSError as exc:
        raise MotionDataError(path, f"cannot read the file: {exc}") from None
    if size > limits.max_file_bytes:
        raise MotionDataError(path, f"file of {size:,} bytes is over the limit of {limits.max_file_bytes:,} bytes")
    return size
