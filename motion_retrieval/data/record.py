"""The one typed record every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Caption:
    text: str
    tokens: list[str] | None = None  # HumanML3D "word/POS" tokens when the source has them
    start: float = 0.0  # seconds; start == end == 0 means the whole clip
    end: float = 0.0

    @property
    def whole_clip(self) -> bool:
        return self.start == 0.0 and self.end == 0.0


@dataclass
class MotionRecord:
    id: str  # "012314", "M012314", "131_01", "131_01@w3" for windows
    dataset: str  # "humanml3d", "kitml", "bvh", "mocap", ...
    fps: float  # of the arrays below
    features: np.ndarray | None  # (T, 263) float32, raw (un-normalised), 20 fps
    joints: np.ndarray | None  # (T, 22, 3) float32, SMPL-22 order, metres, Y-up
    captions: list[Caption] = field(default_factory=list)
    source: str = ""  # path of the file it came from
    split: str | None = None  # "train" | "val" | "test" | None
    start: float = 0.0  # seconds into the source take (windows)
    end: float | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        array = self.features if self.features is not None else self.joints
        return 0 if array is None else int(array.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps if self.fps else 0.0
