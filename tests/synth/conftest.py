"""Helpers for the synthetic-corpus tests: render one clip of a chosen action, measure what the body did."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from motion_retrieval.skeleton import KIT21, SMPL22
from motion_retrieval.synth.corpus import CorpusConfig, SynthClip, generate_clip
from motion_retrieval.synth.styles import style_named


def make_clip(actions, dialect: str = "humanml3d", seed: int = 0, noise: float = 1.0, style: str | None = None,
              variant: str = "train") -> SynthClip:
    """A clip of exactly ``actions`` [(family, params)], with a random body, take and (unless ``style`` names one)
    style drawn from ``seed``, as the corpus draws them."""
    config = CorpusConfig(dialect=dialect, noise=noise, variant=variant)
    return generate_clip(np.random.default_rng(seed), config, list(actions),
                         None if style is None else style_named(style))


def metres(clip: SynthClip) -> np.ndarray:
    return clip.joints / (1000.0 if clip.skeleton.units == "mm" else 1.0)


def body_joint(clip: SynthClip, part: str, side: str | None = None) -> int:
    """Index of a body part on the person's ``side`` (left = +X). KIT-ML's MMM "R*" joints are the body's left."""
    if clip.skeleton is SMPL22:
        names = {"wrist": "{s}_wrist", "elbow": "{s}_elbow", "ankle": "{s}_ankle", "toe": "{s}_foot",
                 "hip": "{s}_hip", "shoulder": "{s}_shoulder", "collar": "{s}_collar", "head": "head",
                 "neck": "neck", "chest": "spine3", "pelvis": "pelvis", "knee": "{s}_knee"}
        return SMPL22.joint_index(names[part].format(s=side))
    assert clip.skeleton is KIT21
    mmm = {"left": "R", "right": "L"}.get(side, "")
    names = {"wrist": "W", "elbow": "E", "ankle": "A", "toe": "F", "hip": "H", "shoulder": "S", "knee": "K"}
    if part in names:
        return KIT21.joint_index(mmm + names[part])
    return KIT21.joint_index({"head": "BUN", "neck": "BLN", "chest": "BT", "pelvis": "root"}[part])


def facing_yaw(clip: SynthClip) -> np.ndarray:
    """(T,) unwrapped heading from the hips, radians; 0 = facing +Z, positive = turned towards +X (to the left),
    i.e. counter-clockwise seen from above (looking down -Y)."""
    j = metres(clip)
    across = j[:, body_joint(clip, "hip", "left")] - j[:, body_joint(clip, "hip", "right")]  # points to the left
    forward = np.cross(across, np.array([0.0, 1.0, 0.0]))  # left x up = forward
    return np.unwrap(np.arctan2(forward[:, 0], forward[:, 2]))


def body_frame(clip: SynthClip) -> np.ndarray:
    """(T, J, 3) joints in metres relative to the pelvis, turned so that the hips face +Z in every frame (left =
    +X): where a body part is relative to the body, whatever the heading."""
    j = metres(clip)
    yaw = facing_yaw(clip)
    rel = j - j[:, body_joint(clip, "pelvis")][:, None]
    c, s = np.cos(-yaw)[:, None], np.sin(-yaw)[:, None]
    out = rel.copy()
    out[..., 0] = c * rel[..., 0] + s * rel[..., 2]
    out[..., 2] = -s * rel[..., 0] + c * rel[..., 2]
    return out


def airborne_phases(height: np.ndarray, threshold: float) -> int:
    """Number of separate runs of frames where ``height`` exceeds ``threshold``."""
    above = height > threshold
    return int(np.count_nonzero(above[1:] & ~above[:-1]) + int(above[0]))


@pytest.fixture(scope="session")
def synth() -> SimpleNamespace:
    """The helpers above (pytest's importlib mode does not let test modules import conftest)."""
    return SimpleNamespace(make_clip=make_clip, metres=metres, body_joint=body_joint, facing_yaw=facing_yaw,
                           airborne_phases=airborne_phases, body_frame=body_frame)
