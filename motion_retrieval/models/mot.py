"""MoT, the SIGIR'23 motion transformer (Messina et al. 2023; PAPER.md section 2, "MoT for contrast"), as the
baseline encoder of the MoT++ tables, with a VAE head for our latent space.

Architecture: TimeSformer-style divided space-time blocks (3 layers, 1 head, 256-d in the paper), 5 body-part
tokens per frame (torso incl. root, two arms, two legs) and a single CLS token.

Input built from our 263-d features (``config.mot_joint_values``):
- 9 values per joint (default, as SIGIR'23): 6D rotation (6) + RIC position (3) for joints 1..21. SIGIR'23 used
  RIFKE positions with the root trajectory integrated; RIC is the same rotation-invariant root-relative position, and
  since our features are not integrated, the root token carries the root's 7 velocity/height values instead
  (zero-padded to 9). The 4 foot contacts form one more token (zero-padded) that joins the torso part.
- 12 values per joint: the MoT++ repacking (adds local velocities), i.e. the "MoT" baseline of the MoT++ code.
The VAE head is one Linear from the CLS token to (mu, logvar).
"""

from __future__ import annotations

import torch
from torch import nn

from motion_retrieval.models.config import MotionEncoderConfig
from motion_retrieval.models.layers import (
    DividedSpaceTimeBlock,
    check_motion_input,
    crop_trailing_padding,
    drop_path_rates,
    init_vit_weights,
    sinusoidal_table,
)
from motion_retrieval.models.tokens import MOT_PARTS, BodyPartEmbedding


class MoTEncoder(nn.Module):
    """(B, T, 263) normalised features + mask (B, T) -> (mu, logvar), each (B, latent_dim)."""

    def __init__(self, config: MotionEncoderConfig, latent_dim: int):
        super().__init__()
        d = config.d_model
        self.feature_dim = config.feature_dim
        self.max_frames = config.max_frames
        self.latent_dim = latent_dim
        self.embed = BodyPartEmbedding(MOT_PARTS, d, values_per_joint=config.mot_joint_values)
        self.cls = nn.Parameter(torch.zeros(1, d))
        self.spatial_pos = nn.Parameter(torch.zeros(1 + len(MOT_PARTS), d))  # learned: [CLS, 5 parts]
        self.register_buffer("temporal_pe", sinusoidal_table(config.max_frames, d), persistent=False)
        self.blocks = nn.ModuleList(
            [DividedSpaceTimeBlock(d, config.heads, config.ff, config.dropout, rate)
             for rate in drop_path_rates(config.drop_path, config.layers)]
        )
        self.dropout = nn.Dropout(config.dropout)
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, 2 * latent_dim)  # VAE head: (mu, logvar) from the single CLS token
        init_vit_weights(self)
        nn.init.trunc_normal_(self.cls, std=0.02)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_motion_input(motion, mask, self.feature_dim, self.max_frames)
        motion, mask = crop_trailing_padding(motion, mask)
        b, t = mask.shape
        parts = self.embed(motion)  # (B, T, P, D)
        d = parts.shape[3]
        x = self.dropout(parts + self.spatial_pos[1:] + self.temporal_pe[:t, None])  # (B, T, P, D)
        cls = self.dropout(self.cls + self.spatial_pos[:1])[None].expand(b, 1, d)  # (B, 1, D)
        for block in self.blocks:
            cls, x = block(cls, x, mask)
        out = self.head(self.norm(cls[:, 0]))  # (B, 2*latent)
        return out[:, : self.latent_dim], out[:, self.latent_dim :]
