"""MoT++ motion encoder (Messina et al. 2024; PAPER.md section 2) and its two ablation variants.

All three read normalised 263-d features (B, T <= max_frames, 263) with a boolean mask (B, T) (True = real frame),
turn every frame into 7 body-part tokens (one Linear per part, ``tokens.BodyPartEmbedding``) and return (mu, logvar),
each (B, latent_dim), from two distribution tokens.

- ``MoTPPFactorized`` (default; ViViT "model 2"): spatial blocks over [2 CLS, 7 parts] per frame, then temporal
  blocks over [2 CLS, one token per frame].
- ``MoTPPDivided`` (TimeSformer): blocks of time-attention -> space-attention -> FFN over the (T, 7) token grid.
- ``MoTPPJoint``: full attention over all 7*T part tokens.

Initialisation and dropout follow the official code: PyTorch's default ``nn.Linear`` initialisation, zero-initialised
distribution/CLS tokens and spatial positional embeddings, dropout only after the positional encodings and in the
head, stochastic depth in the blocks and no dropout inside them (attention weights, after attention, feed-forward).
A ViT-style trunc-normal(0.02) initialisation of every Linear, which an earlier version used, leaves mu almost the
same for every motion at the start (docs/EXPERIMENTS.md) while the sampled latent noise has sigma ~1, so the
contrastive gradient is mostly noise for hundreds of steps.

Two deliberate differences from the official code (PAPER.md 2, "code quirks"): the padding mask is honoured
everywhere (padded frames are never attended and never pooled), and the temporal distribution tokens come from each
sample's own frames, never from rows of other samples, so an embedding does not depend on its batch.
"""

from __future__ import annotations

import torch
from torch import nn

from motion_retrieval.models.config import MotionEncoderConfig
from motion_retrieval.models.layers import (
    DistributionHead,
    DividedSpaceTimeBlock,
    TransformerBlock,
    check_motion_input,
    crop_trailing_padding,
    drop_path_rates,
    masked_mean,
    sinusoidal_table,
)
from motion_retrieval.models.tokens import MOTPP_PARTS, BodyPartEmbedding

__all__ = ["MoTPPFactorized", "MoTPPDivided", "MoTPPJoint", "build_motpp_encoder"]

NUM_DIST_TOKENS = 2  # mu and logvar
BLOCK_DROPOUT = 0.0  # the official blocks have attn_drop = proj_drop = FFN dropout = 0 (only drop-path)


class MoTPPFactorized(nn.Module):
    """MoT++ factorized space-time encoder, PAPER.md section 2 steps 1-7."""

    def __init__(self, config: MotionEncoderConfig, latent_dim: int):
        super().__init__()
        d, k = config.d_model, NUM_DIST_TOKENS
        self.feature_dim = config.feature_dim
        self.max_frames = config.max_frames
        self.embed = BodyPartEmbedding(MOTPP_PARTS, d)
        num_parts = len(MOTPP_PARTS)
        self.spatial_cls = nn.Parameter(torch.zeros(k, d))  # zero-initialised, as the official cls_token
        # Learned spatial positional embedding over [2 CLS, 7 parts], zero-initialised (step 1).
        self.spatial_pos = nn.Parameter(torch.zeros(k + num_parts, d))
        self.spatial_blocks = nn.ModuleList(
            [TransformerBlock(d, config.heads, config.ff, BLOCK_DROPOUT, rate, norm_first=True)
             for rate in drop_path_rates(config.drop_path, config.spatial_layers)]
        )
        # Fixed sinusoidal temporal encoding over 2 CLS + max_frames positions (step 4).
        self.register_buffer("temporal_pe", sinusoidal_table(config.max_frames + k, d), persistent=False)
        self.temporal_blocks = nn.ModuleList(
            [TransformerBlock(d, config.heads, config.ff, BLOCK_DROPOUT, rate, norm_first=True)
             for rate in drop_path_rates(config.drop_path, config.temporal_layers)]
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = DistributionHead(d, latent_dim, config.dropout)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_motion_input(motion, mask, self.feature_dim, self.max_frames)
        motion, mask = crop_trailing_padding(motion, mask)
        b, t = mask.shape
        k = self.spatial_cls.shape[0]
        parts = self.embed(motion)  # (B, T, P, D)
        p, d = parts.shape[2], parts.shape[3]

        # Spatial stage, on real frames only: padded frames are neither computed nor pooled.
        real = parts[mask]  # (N, P, D), N = number of real frames in the batch
        cls = self.spatial_cls[None].expand(real.shape[0], k, d)  # (N, K, D)
        x = torch.cat([cls, real], dim=1) + self.spatial_pos  # (N, K+P, D)
        x = self.dropout(x)
        for block in self.spatial_blocks:
            x = block(x, None)
        frames = parts.new_zeros(b, t, k + p, d)  # (B, T, K+P, D)
        frames[mask] = x

        # Step 3: one token per frame = mean of its 7 part tokens. The temporal distribution tokens are the spatial
        # CLS outputs averaged over the sample's own real frames (the official code takes rows [:b] instead).
        frame_tokens = frames[:, :, k:].mean(dim=2)  # (B, T, D)
        dist = masked_mean(frames[:, :, :k], mask, dim=1)  # (B, K, D)
        x = torch.cat([dist, frame_tokens], dim=1) + self.temporal_pe[: k + t]  # (B, K+T, D)
        x = self.dropout(x)
        key_mask = torch.cat([torch.ones(b, k, dtype=torch.bool, device=mask.device), mask], dim=1)  # (B, K+T)
        for block in self.temporal_blocks:
            x = block(x, key_mask)
        return self.head(x[:, :k])


class MoTPPDivided(nn.Module):
    """MoT++ with TimeSformer-style divided space-time blocks (the repo's ``divided_space_time`` ablation)."""

    def __init__(self, config: MotionEncoderConfig, latent_dim: int):
        super().__init__()
        d, k = config.d_model, NUM_DIST_TOKENS
        self.feature_dim = config.feature_dim
        self.max_frames = config.max_frames
        self.embed = BodyPartEmbedding(MOTPP_PARTS, d)
        num_parts = len(MOTPP_PARTS)
        self.dist_tokens = nn.Parameter(torch.zeros(k, d))
        self.spatial_pos = nn.Parameter(torch.zeros(k + num_parts, d))  # learned, zero-initialised
        self.register_buffer("temporal_pe", sinusoidal_table(config.max_frames, d), persistent=False)
        self.blocks = nn.ModuleList(
            [DividedSpaceTimeBlock(d, config.heads, config.ff, BLOCK_DROPOUT, rate)
             for rate in drop_path_rates(config.drop_path, config.layers)]
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = DistributionHead(d, latent_dim, config.dropout)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_motion_input(motion, mask, self.feature_dim, self.max_frames)
        motion, mask = crop_trailing_padding(motion, mask)
        b, t = mask.shape
        k = self.dist_tokens.shape[0]
        parts = self.embed(motion)  # (B, T, P, D)
        x = parts + self.spatial_pos[k:] + self.temporal_pe[:t, None]  # (B, T, P, D)
        x = self.dropout(x)
        dist = self.dropout(self.dist_tokens + self.spatial_pos[:k])[None].expand(b, k, x.shape[3])  # (B, K, D)
        for block in self.blocks:
            dist, x = block(dist, x, mask)
        return self.head(dist)


class MoTPPJoint(nn.Module):
    """MoT++ with joint space-time attention over all 7*T part tokens (the repo's ``joint_space_time`` ablation)."""

    def __init__(self, config: MotionEncoderConfig, latent_dim: int):
        super().__init__()
        d, k = config.d_model, NUM_DIST_TOKENS
        self.feature_dim = config.feature_dim
        self.max_frames = config.max_frames
        self.embed = BodyPartEmbedding(MOTPP_PARTS, d)
        self.dist_tokens = nn.Parameter(torch.zeros(k, d))
        self.spatial_pos = nn.Parameter(torch.zeros(len(MOTPP_PARTS), d))  # learned, zero-initialised
        self.register_buffer("temporal_pe", sinusoidal_table(config.max_frames, d), persistent=False)
        self.blocks = nn.ModuleList(
            [TransformerBlock(d, config.heads, config.ff, BLOCK_DROPOUT, rate, norm_first=True)
             for rate in drop_path_rates(config.drop_path, config.layers)]
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = DistributionHead(d, latent_dim, config.dropout)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_motion_input(motion, mask, self.feature_dim, self.max_frames)
        motion, mask = crop_trailing_padding(motion, mask)
        b, t = mask.shape
        k = self.dist_tokens.shape[0]
        parts = self.embed(motion)  # (B, T, P, D)
        p, d = parts.shape[2], parts.shape[3]
        x = parts + self.spatial_pos + self.temporal_pe[:t, None]  # (B, T, P, D)
        x = x.reshape(b, t * p, d)  # (B, T*P, D)
        x = torch.cat([self.dist_tokens[None].expand(b, k, d), x], dim=1)  # (B, K+T*P, D)
        x = self.dropout(x)
        token_mask = mask[:, :, None].expand(b, t, p).reshape(b, t * p)  # (B, T*P)
        key_mask = torch.cat([torch.ones(b, k, dtype=torch.bool, device=mask.device), token_mask], dim=1)  # (B, K+T*P)
        for block in self.blocks:
            x = block(x, key_mask)
        return self.head(x[:, :k])


def build_motpp_encoder(config: MotionEncoderConfig, latent_dim: int) -> nn.Module:
    """The MoT++ encoder variant named by ``config.attention``."""
    variants = {"factorized": MoTPPFactorized, "divided": MoTPPDivided, "joint": MoTPPJoint}
    if config.attention not in variants:
        raise ValueError(f"motion.attention must be one of {sorted(variants)}, got {config.attention!r}")
    return variants[config.attention](config, latent_dim)
