"""Training-time motion augmentation: domain randomisation so that a model trained on one corpus transfers to motion
capture it has never seen (other rigs, other performers, other tempos, other feature statistics).

Every transform keeps the caption true: tempo changes stay within what "slowly"/"quickly" leave unchanged, crops
only trim the idle margins, and nothing mirrors (the corpus already holds each motion's left/right mirror with the
mirrored caption). Applied to one training clip at a time, from a generator seeded by (seed, epoch, index), so runs
are reproducible with any number of DataLoader workers. Validation and test clips are never augmented.

Raw-space transforms (before normalisation):

- ``tempo``: resample the clip by a speed factor s (linear interpolation; foot contacts nearest); per-frame
  velocities (root rotation/linear velocity, local joint velocities) scale by s, positions and rotations do not.
- ``crop``: drop up to this share of the clip from each end.

Normalised-space transforms (what a different rig, performer or statistics shift does to the encoder's input):

- ``offset`` / ``scale``: per clip and per dimension, x -> x * exp(N(0, scale)) + N(0, offset): a rig whose joints
  sit elsewhere shifts rotations and positions by a constant; another performer or capture setup rescales them.
- ``noise``: i.i.d. Gaussian jitter per frame and dimension (marker noise, pose-estimation jitter).
- ``group_dropout``: with this probability per group, a whole feature group (root, positions, rotations,
  velocities, foot contacts) is set to its mean (0), so that no single group is indispensable: real rigs get
  rotations and contacts wrong more often than positions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from motion_retrieval.errors import ConfigError
from motion_retrieval.features import FOOT_CONTACT, LOCAL_VEL, RIC, ROOT_LIN_VEL, ROOT_ROT_VEL, ROOT_Y, ROT6D

# Feature groups for group dropout: name -> slices of the 263-d layout.
GROUPS: dict[str, tuple[slice, ...]] = {
    "root": (ROOT_ROT_VEL, ROOT_LIN_VEL, ROOT_Y),
    "positions": (RIC,),
    "rotations": (ROT6D,),
    "velocities": (LOCAL_VEL,),
    "contacts": (FOOT_CONTACT,),
}
_VELOCITY_DIMS = np.r_[ROOT_ROT_VEL, ROOT_LIN_VEL, LOCAL_VEL]  # per-frame differences: scale with the tempo
_CONTACT_DIMS = np.r_[FOOT_CONTACT]


@dataclass(frozen=True)
class AugmentConfig:
    tempo: float = 0.0  # speed factors are drawn log-uniformly in [1/(1+tempo), 1+tempo]; 0 = off
    crop: float = 0.0  # up to this share of the clip is dropped from each end; 0 = off
    offset: float = 0.0  # std of the per-clip, per-dimension offset, in normalised units
    scale: float = 0.0  # std of the log of the per-clip, per-dimension scale
    noise: float = 0.0  # std of per-frame Gaussian jitter, in normalised units
    group_dropout: float = 0.0  # probability that a feature group is blanked in a clip

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ConfigError(f"train.augment.{f.name}: expected a number >= 0, got {value!r}")
        if self.crop >= 0.5:
            raise ConfigError(f"train.augment.crop: must be < 0.5 (a share of the clip per end), got {self.crop}")
        if self.group_dropout >= 1:
            raise ConfigError(f"train.augment.group_dropout: must be < 1, got {self.group_dropout}")

    @property
    def enabled(self) -> bool:
        return any(getattr(self, f.name) for f in dataclasses.fields(self))

    @classmethod
    def from_dict(cls, values: Any) -> AugmentConfig:
        if isinstance(values, AugmentConfig):
            return values
        if not isinstance(values, dict):
            raise ConfigError(f"train.augment: expected an object, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"train.augment: unknown option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


def change_tempo(features: np.ndarray, speed: float) -> np.ndarray:
    """(T, 263) raw features played ``speed`` times faster -> (T', 263), T' ~ T / speed (at least 2 frames)."""
    frames = features.shape[0]
    new_frames = max(2, int(round((frames - 1) / speed)) + 1)
    if new_frames == frames:
        return features
    where = np.linspace(0.0, frames - 1, new_frames)  # (T',) positions in the source clip
    low = np.floor(where).astype(np.int64)
    high = np.minimum(low + 1, frames - 1)
    w = (where - low)[:, None]  # (T', 1)
    out = features[low] * (1.0 - w) + features[high] * w  # (T', 263)
    out[:, _CONTACT_DIMS] = features[np.rint(where).astype(np.int64)][:, _CONTACT_DIMS]
    out[:, _VELOCITY_DIMS] *= (frames - 1) / (new_frames - 1)  # the same displacement over fewer frames
    return out.astype(features.dtype, copy=False)


class Augmenter:
    """Applies an AugmentConfig: ``raw(features, rng)`` before normalisation, ``normalised(x, rng)`` after."""

    def __init__(self, config: AugmentConfig):
        self.config = config

    def raw(self, features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        c = self.config
        if c.crop > 0 and features.shape[0] > 4:
            frames = features.shape[0]
            head = int(rng.uniform(0.0, c.crop) * frames)
            tail = int(rng.uniform(0.0, c.crop) * frames)
            features = features[head : max(head + 2, frames - tail)]
        if c.tempo > 0:
            speed = float(np.exp(rng.uniform(-np.log1p(c.tempo), np.log1p(c.tempo))))
            features = change_tempo(features, speed)
        return features

    def normalised(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        c = self.config
        dim = x.shape[1]
        if c.scale > 0:
            x = x * np.exp(rng.normal(0.0, c.scale, dim)).astype(np.float32)
        if c.offset > 0:
            x = x + rng.normal(0.0, c.offset, dim).astype(np.float32)
        if c.noise > 0:
            x = x + rng.normal(0.0, c.noise, x.shape).astype(np.float32)
        if c.group_dropout > 0:
            for slices in GROUPS.values():
                if rng.random() < c.group_dropout:
                    x = x.copy()
                    for s in slices:
                        x[:, s] = 0.0
        return x.astype(np.float32, copy=False)
