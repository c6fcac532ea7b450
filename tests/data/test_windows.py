"""Long takes -> windows of at most 10 s with stable ids and start/end seconds."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.data.windows import split_into_windows, window_starts
from motion_retrieval.errors import MotionDataError


def _take(seconds: float, captions=()) -> MotionRecord:
    frames = int(seconds * 20)
    features = np.arange(frames, dtype=np.float32)[:, None].repeat(263, axis=1)  # frame index in every dim
    joints = np.arange(frames + 1, dtype=np.float32)[:, None, None].repeat(22, axis=1).repeat(3, axis=2)
    return MotionRecord("take", "bvh", 20.0, features, joints, list(captions), "take.bvh")


def test_window_starts_cover_every_frame():
    assert window_starts(150, 200, 100) == [0]
    assert window_starts(500, 200, 100) == [0, 100, 200, 300]
    assert window_starts(450, 200, 100) == [0, 100, 200, 250]  # the last window is aligned to the end


def test_long_take_is_windowed_with_stable_ids_and_times():
    windows = split_into_windows(_take(22.5))
    assert [w.id for w in windows] == ["take@0-10000", "take@5000-15000", "take@10000-20000", "take@12500-22500"]
    assert [(w.start, w.end) for w in windows] == [(0.0, 10.0), (5.0, 15.0), (10.0, 20.0), (12.5, 22.5)]
    for w in windows:
        assert w.features.shape == (200, 263) and w.joints.shape == (201, 22, 3)
        assert w.features[0, 0] == w.start * 20  # the right frames
        assert w.joints[-1, 0, 0] == w.features[-1, 0] + 1  # joints keep the frame after the last feature frame
        assert "window" in w.tags
    covered = np.zeros(450, bool)
    for w in windows:
        covered[int(w.start * 20) : int(w.end * 20)] = True
    assert covered.all()
    assert [w.id for w in split_into_windows(_take(22.5))] == [w.id for w in windows]  # deterministic


def test_short_clip_passes_through():
    take = _take(8.0)
    assert split_into_windows(take) == [take]


def test_captions_follow_their_segments():
    whole = Caption("a person dances")
    early = Caption("spins", start=1.0, end=3.0)
    straddling = Caption("jumps", start=9.0, end=12.0)  # 1 s in window 0, 3 s in window 1
    windows = split_into_windows(_take(20.0, [whole, early, straddling]), 10.0, 10.0)
    assert [c.text for c in windows[0].captions] == ["a person dances", "spins"]
    assert [c.text for c in windows[1].captions] == ["a person dances", "jumps"]
    jumps = windows[1].captions[1]
    assert (jumps.start, jumps.end) == (0.0, 2.0)  # re-timed to the window, clipped at its end


def test_bad_window_settings():
    with pytest.raises(MotionDataError, match="frames would be lost"):
        split_into_windows(_take(30.0), max_seconds=5.0, stride_seconds=8.0)
    with pytest.raises(MotionDataError, match="must be positive"):
        split_into_windows(_take(30.0), max_seconds=0.0)
