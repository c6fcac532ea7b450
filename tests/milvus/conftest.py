"""Fixtures for the Milvus plugin tests: Lite stores in tmp folders, the tiny corpus, the deterministic embedder.

Helpers live in milvus_testkit.py (importable from the test modules: this folder is put on sys.path, because
pytest's importlib mode does not import conftest modules by name).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from milvus_testkit import CORPUS, KeywordEmbedder, export_tiny_repository, write_motion  # noqa: E402

from motion_retrieval_milvus import IndexConfig, MilvusConfig, MotionStore  # noqa: E402


@pytest.fixture()
def corpus_dir(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for seed, (name, action, frames, captions, tags) in enumerate(CORPUS):
        write_motion(folder, name, action, frames, seed, captions, tags)
    return folder


@pytest.fixture()
def embedder() -> KeywordEmbedder:
    return KeywordEmbedder()


@pytest.fixture()
def lite_config(tmp_path) -> MilvusConfig:
    return MilvusConfig(uri=str(tmp_path / "motions.db"))


@pytest.fixture()
def store(lite_config, embedder):
    with MotionStore.open(lite_config, embedder.model_id, embedder.dim, index=IndexConfig()) as opened:
        yield opened


@pytest.fixture(scope="session")
def model_repository(tmp_path_factory) -> Path:
    """A real exported model repository of tiny towers (TorchScript + MiniLM tokenizer), built once per session."""
    return export_tiny_repository(tmp_path_factory.mktemp("milvus-model-repo"))


@pytest.fixture(scope="session")
def milvus_server():
    """One real Milvus 2.3.5 standalone for every milvus_server test (starts in ~10 s, stopped at the end)."""
    from motion_retrieval_milvus.server_fixture import LocalMilvusServer

    try:
        import milvus  # noqa: F401
    except ImportError:
        pytest.skip("the `milvus` package (a real Milvus standalone) is not installed")
    with LocalMilvusServer() as server:
        yield server
