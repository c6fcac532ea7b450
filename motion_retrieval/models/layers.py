"""Transformer building blocks shared by every encoder: attention with boolean key masks, pre-/post-LN blocks,
TimeSformer's divided space-time block, the decoder block, positional tables, drop-path and masked pooling.

Masks are boolean with True = a real element (attend to it). Everything is written to be ``torch.jit.script``-able.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """(length, dim) fixed sinusoidal positional encoding (Vaswani et al. 2017; the table TMR/ACTOR use)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (ceil(D/2),)
    table = torch.zeros(length, dim)  # (L, D)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div[: dim // 2])
    return table


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``x`` over ``dim`` counting only positions where ``mask`` is True.

    ``mask`` has the leading shape of ``x`` up to and including ``dim``. Masked positions are removed with
    ``where`` (not multiplied by 0) so that a non-finite value in a padded slot cannot leak into the mean.
    """
    m = mask
    while m.dim() < x.dim():
        m = m.unsqueeze(-1)
    total = torch.where(m, x, torch.zeros_like(x)).sum(dim)
    count = m.to(x.dtype).sum(dim).clamp(min=1.0)
    return total / count


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): drop a residual branch per sample during training."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        shape = [x.shape[0]] + [1] * (x.dim() - 1)
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)  # (B, 1, ..., 1)
        return x * noise / keep


class MultiHeadAttention(nn.Module):
    """Multi-head attention on ``F.scaled_dot_product_attention`` with a boolean key mask (True = attend)."""

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"{heads} heads do not divide d_model={d_model}")
        self.heads = heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, lq, d = query.shape
        lk = memory.shape[1]
        h = self.heads
        q = self.q_proj(query).view(b, lq, h, d // h).transpose(1, 2)  # (B, H, Lq, Dh)
        k = self.k_proj(memory).view(b, lk, h, d // h).transpose(1, 2)  # (B, H, Lk, Dh)
        v = self.v_proj(memory).view(b, lk, h, d // h).transpose(1, 2)  # (B, H, Lk, Dh)
        attn_mask: torch.Tensor | None = None
        if key_mask is not None:
            attn_mask = key_mask[:, None, None, :]  # (B, 1, 1, Lk)
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)  # (B, H, Lq, Dh)
        out = out.transpose(1, 2).reshape(b, lq, d)  # (B, Lq, D)
        return self.out_proj(out)


class FeedForward(nn.Module):
    """Linear -> GELU -> Dropout -> Linear (the nn.TransformerEncoderLayer layout)."""

    def __init__(self, d_model: int, ff: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(d_model, ff)
        self.fc2 = nn.Linear(ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.gelu(self.fc1(x))))


class TransformerBlock(nn.Module):
    """Self-attention + feed-forward block, pre-LN (MoT++) or post-LN (ACTOR / nn.TransformerEncoderLayer)."""

    def __init__(self, d_model: int, heads: int, ff: int, dropout: float = 0.1, drop_path: float = 0.0,
                 norm_first: bool = True, eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.attn = MultiHeadAttention(d_model, heads, dropout)
        self.ff = FeedForward(d_model, ff, dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.drop_path(self.dropout1(self.attn(h, h, key_mask)))
            x = x + self.drop_path(self.dropout2(self.ff(self.norm2(x))))
        else:
            x = self.norm1(x + self.drop_path(self.dropout1(self.attn(x, x, key_mask))))
            x = self.norm2(x + self.drop_path(self.dropout2(self.ff(x))))
        return x


class DecoderBlock(nn.Module):
    """Post-LN transformer decoder layer (self-attention, cross-attention on the memory, feed-forward)."""

    def __init__(self, d_model: int, heads: int, ff: int, dropout: float = 0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, heads, dropout)
        self.ff = FeedForward(d_model, ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.self_attn(x, x, key_mask)))
        x = self.norm2(x + self.dropout(self.cross_attn(x, memory, None)))
        return self.norm3(x + self.dropout(self.ff(x)))


class DividedSpaceTimeBlock(nn.Module):
    """TimeSformer's divided attention (Bertasius et al. 2021), pre-LN: time-attention within each body part,
    then space-attention within each frame, then a feed-forward layer.

    The K summary tokens (CLS / distribution tokens) join the space-attention of every frame, as TimeSformer does;
    their per-frame outputs are averaged over the sample's real frames only, so padding never reaches them.
    """

    def __init__(self, d_model: int, heads: int, ff: int, dropout: float = 0.1, drop_path: float = 0.0,
                 eps: float = 1e-5):
        super().__init__()
        self.time_attn = MultiHeadAttention(d_model, heads, dropout)
        self.space_attn = MultiHeadAttention(d_model, heads, dropout)
        self.ff = FeedForward(d_model, ff, dropout)
        self.norm_time = nn.LayerNorm(d_model, eps=eps)
        self.norm_space = nn.LayerNorm(d_model, eps=eps)
        self.norm_ff = nn.LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, summary: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # summary: (B, K, D); x: (B, T, P, D); mask: (B, T) True = real frame
        b, t, p, d = x.shape
        k = summary.shape[1]
        xt = x.permute(0, 2, 1, 3).reshape(b * p, t, d)  # (B*P, T, D)
        time_mask = mask[:, None, :].expand(b, p, t).reshape(b * p, t)  # (B*P, T)
        h = self.norm_time(xt)
        xt = xt + self.drop_path(self.dropout(self.time_attn(h, h, time_mask)))
        x = xt.view(b, p, t, d).permute(0, 2, 1, 3)  # (B, T, P, D)

        frames = x.reshape(b * t, p, d)  # (B*T, P, D)
        per_frame = summary[:, None].expand(b, t, k, d).reshape(b * t, k, d)  # (B*T, K, D)
        s = torch.cat([per_frame, frames], dim=1)  # (B*T, K+P, D)
        h = self.norm_space(s)
        s = s + self.drop_path(self.dropout(self.space_attn(h, h, None)))
        s = s.view(b, t, k + p, d)  # (B, T, K+P, D)
        summary = masked_mean(s[:, :, :k], mask, dim=1)  # (B, K, D)
        x = s[:, :, k:]  # (B, T, P, D)

        x = x + self.drop_path(self.dropout(self.ff(self.norm_ff(x))))
        summary = summary + self.drop_path(self.dropout(self.ff(self.norm_ff(summary))))
        return summary, x


class DistributionHead(nn.Module):
    """MoT++ output: LayerNorm(eps 1e-6), then a per-token head ReLU -> Dropout -> Linear (PAPER.md 2, step 6)."""

    def __init__(self, d_model: int, latent_dim: int, dropout: float = 0.1):
        super().__init__()
        self.norm = nn.LayerNorm(d_model, eps=1e-6)
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(d_model, latent_dim)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # tokens: (B, 2, D), the two distribution tokens
        out = self.proj(self.dropout(F.relu(self.norm(tokens))))  # (B, 2, latent)
        return out[:, 0], out[:, 1]


def drop_path_rates(max_rate: float, depth: int) -> list[float]:
    """Stochastic-depth rates rising linearly from 0 to ``max_rate`` over ``depth`` blocks."""
    if depth <= 1:
        return [0.0] * depth
    return [max_rate * i / (depth - 1) for i in range(depth)]


def init_vit_weights(module: nn.Module) -> None:
    """ViT-style initialisation (truncated normal 0.02 for Linear weights, zero biases, unit LayerNorms)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def crop_trailing_padding(motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the frames that are padding in every sample of the batch (serving sends fixed 200-frame tensors).

    Exact, since padded frames are never attended or pooled; skipped while tracing, where the data-dependent
    length would be frozen into the trace.
    """
    if torch.jit.is_tracing() or mask.shape[0] == 0:
        return motion, mask
    length = int(mask.any(dim=0).nonzero().max()) + 1
    return motion[:, :length], mask[:, :length]


def check_motion_input(motion: torch.Tensor, mask: torch.Tensor, feature_dim: int, max_frames: int) -> None:
    """Raise ValueError on inputs the motion encoders cannot embed (TorchScript-compatible).

    Skipped while tracing: a trace would freeze these Python-level checks into constants (scripted towers keep them).
    """
    if torch.jit.is_tracing():
        return
    if motion.dim() != 3 or motion.shape[2] != feature_dim:
        raise ValueError(f"motion must be (B, T, {feature_dim}), got {list(motion.shape)}")
    if motion.shape[1] > max_frames:
        raise ValueError(
            f"motion has {motion.shape[1]} frames, more than max_frames={max_frames}; resample it first "
            "(motion_retrieval.serving.motions.fit_to_max_frames)"
        )
    if mask.dim() != 2 or mask.shape[0] != motion.shape[0] or mask.shape[1] != motion.shape[1]:
        raise ValueError(f"mask must be (B, T) = {list(motion.shape[:2])}, got {list(mask.shape)}")
    if mask.dtype != torch.bool:
        raise ValueError("mask must be a bool tensor (True = real frame)")
    if motion.shape[0] > 0 and not bool(mask.any(dim=1).all()):
        raise ValueError("every motion needs at least one real frame (a row of mask is all False)")
