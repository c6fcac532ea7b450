"""ACTOR-style encoders and decoder, as TMR uses them (Petrovich et al. 2023; PAPER.md sections 3-4).

- ``ActorStyleEncoder``: Linear(input -> d) -> prepend 2 learned distribution tokens -> sinusoidal PE -> dropout ->
  post-LN transformer encoder with a key-padding mask -> the first 2 tokens are (mu, logvar).
  ``ActorMotionEncoder`` runs it over flat 263-d frames; ``ActorTextEncoder`` over frozen LM token states
  (the MoT++ text encoder).
- ``ActorMotionDecoder``: z as a one-token memory, sinusoidal time queries of length T, post-LN transformer decoder,
  Linear -> 263; padded frames are zeroed.

Our blocks (``layers.TransformerBlock(norm_first=False)``) compute what ``nn.TransformerEncoderLayer`` with GELU
computes, on ``F.scaled_dot_product_attention`` with boolean masks, so the towers script and trace cleanly.
"""

from __future__ import annotations

import torch
from torch import nn

from motion_retrieval.models.config import DecoderConfig, MotionEncoderConfig, TextEncoderConfig
from motion_retrieval.models.layers import (
    DecoderBlock,
    TransformerBlock,
    check_motion_input,
    crop_trailing_padding,
    sinusoidal_table,
)

NUM_DIST_TOKENS = 2  # mu and logvar


class ActorStyleEncoder(nn.Module):
    """Sequence (B, L, input_dim) + mask (B, L) -> (mu, logvar), each (B, latent_dim)."""

    def __init__(self, input_dim: int, d_model: int, heads: int, ff: int, layers: int, dropout: float,
                 max_len: int, latent_dim: int):
        super().__init__()
        k = NUM_DIST_TOKENS
        self.input_dim = input_dim
        self.max_len = max_len
        self.proj = nn.Linear(input_dim, d_model)
        self.dist_tokens = nn.Parameter(torch.randn(k, d_model))  # TMR: torch.randn
        self.register_buffer("pe", sinusoidal_table(max_len + k, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            [TransformerBlock(d_model, heads, ff, dropout, 0.0, norm_first=False) for _ in range(layers)]
        )
        # TMR's latent is the token width itself; a projection appears only when the two differ (small presets).
        self.out = nn.Identity() if d_model == latent_dim else nn.Linear(d_model, latent_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, length = mask.shape
        k = self.dist_tokens.shape[0]
        h = self.proj(x)  # (B, L, D)
        d = h.shape[2]
        h = torch.cat([self.dist_tokens[None].expand(b, k, d), h], dim=1) + self.pe[: k + length]  # (B, K+L, D)
        h = self.dropout(h)
        key_mask = torch.cat([torch.ones(b, k, dtype=torch.bool, device=mask.device), mask], dim=1)  # (B, K+L)
        for block in self.blocks:
            h = block(h, key_mask)
        out = self.out(h[:, :k])  # (B, K, latent)
        return out[:, 0], out[:, 1]


class ActorMotionEncoder(nn.Module):
    """TMR's motion encoder over flat 263-d frames."""

    def __init__(self, config: MotionEncoderConfig, latent_dim: int):
        super().__init__()
        self.feature_dim = config.feature_dim
        self.max_frames = config.max_frames
        self.encoder = ActorStyleEncoder(config.feature_dim, config.d_model, config.heads, config.ff, config.layers,
                                         config.dropout, config.max_frames, latent_dim)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_motion_input(motion, mask, self.feature_dim, self.max_frames)
        motion, mask = crop_trailing_padding(motion, mask)
        return self.encoder(motion, mask)


class ActorTextEncoder(nn.Module):
    """The MoT++ / TMR text head over frozen LM token states (B, L, backbone_dim) with mask (B, L) bool."""

    def __init__(self, config: TextEncoderConfig, latent_dim: int):
        super().__init__()
        self.backbone_dim = config.backbone_dim
        self.max_tokens = config.max_tokens
        self.encoder = ActorStyleEncoder(config.backbone_dim, config.d_model, config.heads, config.ff, config.layers,
                                         config.dropout, config.max_tokens, latent_dim)

    def forward(self, token_states: torch.Tensor, token_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not torch.jit.is_tracing():
            self._check(token_states, token_mask)
        return self.encoder(token_states, token_mask)

    def _check(self, token_states: torch.Tensor, token_mask: torch.Tensor) -> None:
        if token_states.dim() != 3 or token_states.shape[2] != self.backbone_dim:
            raise ValueError(f"token_states must be (B, L, {self.backbone_dim}), got {list(token_states.shape)}")
        if token_states.shape[1] > self.max_tokens:
            raise ValueError(f"{token_states.shape[1]} tokens, more than text.max_tokens={self.max_tokens}")
        if token_mask.dtype != torch.bool or token_mask.shape[0] != token_states.shape[0] \
                or token_mask.shape[1] != token_states.shape[1]:
            raise ValueError(f"token_mask must be bool (B, L) = {list(token_states.shape[:2])}")


class ActorMotionDecoder(nn.Module):
    """z (B, latent) + frame mask (B, T) -> reconstructed normalised features (B, T, feature_dim)."""

    def __init__(self, config: DecoderConfig, latent_dim: int, feature_dim: int, max_frames: int):
        super().__init__()
        self.max_frames = max_frames
        self.register_buffer("pe", sinusoidal_table(max_frames, latent_dim), persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            [DecoderBlock(latent_dim, config.heads, config.ff, config.dropout) for _ in range(config.layers)]
        )
        self.out = nn.Linear(latent_dim, feature_dim)

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t = mask.shape
        if t > self.max_frames:
            raise ValueError(f"cannot decode {t} frames, more than max_frames={self.max_frames}")
        queries = self.dropout(self.pe[:t][None].expand(b, t, self.pe.shape[1]))  # (B, T, latent)
        memory = z[:, None]  # (B, 1, latent)
        for block in self.blocks:
            queries = block(queries, memory, mask)
        out = self.out(queries)  # (B, T, F)
        return torch.where(mask[:, :, None], out, torch.zeros_like(out))
