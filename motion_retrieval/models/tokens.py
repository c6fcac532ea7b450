"""From 263-d HumanML3D feature frames to joint tokens and body-part tokens (PAPER.md section 2).

The 263 values of a frame are: root rot-vel (1), root lin-vel xz (2), root y (1), RIC positions of joints 1-21 (63),
6D rotations of joints 1-21 (126), local velocities of joints 0-21 (66), foot contacts (4). MoT++ re-packs them into
23 joint tokens of 12 values (root, 21 joints, contacts), zero-padding the short ones. A "gather index" lists, per
output value, the feature index it copies; the index ``FEATURE_DIM`` points at a zero appended to every frame, which
is how padding is expressed without a second code path.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from motion_retrieval.features import FEATURE_DIM  # 263, from the serving contract

NUM_JOINTS = 22  # SMPL-22, HumanML3D order; joint 0 is the root (pelvis)
ZERO = FEATURE_DIM  # gather index of the appended zero

# Layout of one 263-d frame (Guo et al. 2022); the slices below must tile FEATURE_DIM (checked at import).
ROOT_ROT_VEL = slice(0, 1)
ROOT_LIN_VEL = slice(1, 3)
ROOT_Y = slice(3, 4)
RIC = slice(4, 67)  # joints 1..21, xyz
ROT6D = slice(67, 193)  # joints 1..21, 6 values
LOCAL_VEL = slice(193, 259)  # joints 0..21, xyz
FOOT_CONTACT = slice(259, 263)  # left heel, left toe, right heel, right toe

if FOOT_CONTACT.stop != FEATURE_DIM:  # pragma: no cover - a layout change would break every exported model
    raise ImportError(f"MoT++ token slices end at {FOOT_CONTACT.stop}, the feature layout has {FEATURE_DIM} values")

ROOT_TOKEN = 0
CONTACT_TOKEN = 22
NUM_JOINT_TOKENS = 23

# MoT++ body parts, as indices into the 23 joint tokens (PAPER.md 2).
MOTPP_PARTS: dict[str, list[int]] = {
    "root": [0],
    "feet": [22],
    "right_arm": [14, 17, 19, 21],
    "left_arm": [13, 16, 18, 20],
    "torso": [3, 6, 9, 12, 15],
    "right_leg": [2, 5, 8, 11],
    "left_leg": [1, 4, 7, 10],
}

# MoT (SIGIR'23) has 5 parts: the torso includes the root; our contact token rides with it (no separate feet part).
MOT_PARTS: dict[str, list[int]] = {
    "torso": [0, 3, 6, 9, 12, 15, 22],
    "right_arm": [14, 17, 19, 21],
    "left_arm": [13, 16, 18, 20],
    "right_leg": [2, 5, 8, 11],
    "left_leg": [1, 4, 7, 10],
}


def joint_token_index(values_per_joint: int = 12) -> np.ndarray:
    """(23, values_per_joint) feature indices of the joint tokens; ``ZERO`` marks padding.

    12 values (MoT++): joints 1..21 = 6D rotation (6) + RIC position (3) + local velocity (3); the root token holds
    rot-vel, lin-vel xz, height and its local velocity (7); the last token holds the 4 foot contacts.
    9 values (MoT, SIGIR'23 used 6D rotation + RIFKE position per joint): joints 1..21 = 6D rotation + RIC position;
    the root keeps its 7 values (our features do not integrate the root trajectory, so velocities stand in for it).
    """
    if values_per_joint not in (9, 12):
        raise ValueError(f"values_per_joint must be 9 or 12, got {values_per_joint}")
    index = np.full((NUM_JOINT_TOKENS, values_per_joint), ZERO, dtype=np.int64)
    root = [0, 1, 2, 3, LOCAL_VEL.start, LOCAL_VEL.start + 1, LOCAL_VEL.start + 2]
    index[ROOT_TOKEN, : len(root)] = root
    for joint in range(1, NUM_JOINTS):
        rot = list(range(ROT6D.start + 6 * (joint - 1), ROT6D.start + 6 * joint))
        pos = list(range(RIC.start + 3 * (joint - 1), RIC.start + 3 * joint))
        vel = list(range(LOCAL_VEL.start + 3 * joint, LOCAL_VEL.start + 3 * (joint + 1)))
        values = rot + pos + (vel if values_per_joint == 12 else [])
        index[joint] = values
    index[CONTACT_TOKEN, :4] = list(range(FOOT_CONTACT.start, FOOT_CONTACT.stop))
    return index


def part_gather_indices(parts: dict[str, list[int]], values_per_joint: int = 12) -> list[np.ndarray]:
    """Per body part, the flat feature indices of its joint tokens concatenated (12 * n values for n joints)."""
    tokens = joint_token_index(values_per_joint)
    return [tokens[joints].reshape(-1) for joints in parts.values()]


class PartProjection(nn.Module):
    """One body part: gather its joint tokens from the frame and project them with its own Linear."""

    def __init__(self, index: np.ndarray, d_model: int):
        super().__init__()
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long), persistent=False)
        self.proj = nn.Linear(len(index), d_model)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        # frames: (B, T, 264) = features with the zero appended
        return self.proj(frames.index_select(-1, self.index))  # (B, T, D)


class BodyPartEmbedding(nn.Module):
    """(B, T, 263) normalised features -> (B, T, P, D) body-part tokens, one Linear per part (PAPER.md 2)."""

    def __init__(self, parts: dict[str, list[int]], d_model: int, values_per_joint: int = 12):
        super().__init__()
        self.part_names = list(parts)
        self.parts = nn.ModuleList(
            [PartProjection(index, d_model) for index in part_gather_indices(parts, values_per_joint)]
        )

    def forward(self, motion: torch.Tensor) -> torch.Tensor:
        frames = nn.functional.pad(motion, (0, 1))  # (B, T, 264): index ZERO reads the appended 0
        tokens = [part(frames) for part in self.parts]  # P x (B, T, D)
        return torch.stack(tokens, dim=2)  # (B, T, P, D)
