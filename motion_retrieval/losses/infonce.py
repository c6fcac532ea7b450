"""Symmetric InfoNCE (CLIP/TMR) with optional false-negative filtering by teacher similarity (TMR, PAPER.md 8).

TMR filters negatives whose caption embeddings are near-duplicates: a pair (i, j), i != j, whose teacher cosine is
above 2 * threshold - 1 (0.6 for threshold 0.8) gets similarity -inf, so it is no longer pushed away. The diagonal
(the positives) is never masked.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def false_negative_mask(teacher: torch.Tensor, threshold: float) -> torch.Tensor:
    """(B, B) bool: True where an off-diagonal pair's teacher cosine exceeds 2 * threshold - 1."""
    similarity = teacher @ teacher.T  # (B, B), teacher rows are unit-norm
    mask = similarity > 2.0 * threshold - 1.0
    mask.fill_diagonal_(False)
    return mask


def symmetric_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    """1/2 [CE(S, I) + CE(S^T, I)] for a (B, B) motion x text logit matrix whose positives lie on the diagonal."""
    targets = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


class InfoNCELoss(nn.Module):
    """``forward(motion_z, text_z, teacher=None) -> {"loss", "nce", "scale", "filtered"}``."""

    def __init__(self, temperature: float = 0.1, learnable_scale: bool = False, filter_threshold: float | None = None):
        super().__init__()
        self.filter_threshold = filter_threshold
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)), requires_grad=learnable_scale)

    def forward(self, motion_z: torch.Tensor, text_z: torch.Tensor,
                teacher: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        m = F.normalize(motion_z, dim=-1)  # (B, E)
        t = F.normalize(text_z, dim=-1)  # (B, E)
        scale = self.log_scale.exp()
        logits = scale * m @ t.T  # (B, B)
        filtered = torch.zeros((), device=logits.device)
        if self.filter_threshold is not None:
            if teacher is None:
                raise ValueError("filtered InfoNCE needs teacher sentence embeddings (batch['teacher'])")
            mask = false_negative_mask(teacher, self.filter_threshold)  # (B, B)
            logits = logits.masked_fill(mask, float("-inf"))
            filtered = mask.float().mean()
        loss = symmetric_cross_entropy(logits)
        return {"loss": loss, "nce": loss.detach(), "scale": scale.detach(), "filtered": filtered}
