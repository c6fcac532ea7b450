"""The shipped model as users get it: the default run exported to TorchScript towers (``shipped_repository``, in
tests/conftest.py) and loaded by the in-process embedder the service uses."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def shipped_embedder(shipped_repository):
    from motion_retrieval.inference.embedder import TorchScriptEmbedder

    return TorchScriptEmbedder(shipped_repository)
