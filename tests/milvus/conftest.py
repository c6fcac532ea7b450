"""Fixtures for the Milvus plugin tests: Lite stores in tmp folders, the tiny corpus, the deterministic embedder.

Helpers live in milvus_testkit.py (importable from the test modules: this folder is put on sys.path, because
pytest's importlib mode does not import conftest modules by name).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
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


# An S3-compatible server for the object-store tests: moto's standalone server over real HTTP on loopback (no MinIO
# server installs from the registries we reach). `make test` installs it into build/s3-server (its own venv: moto's
# botocore pins python-dateutil below ours); $MOTION_RETRIEVAL_S3_SERVER or PATH may name another.
S3_SERVER = Path(__file__).resolve().parents[2] / "build" / "s3-server" / "bin" / "moto_server"


@pytest.fixture(scope="module")
def s3_endpoint():
    pytest.importorskip("minio", reason="the [s3] extra (minio SDK) is not installed")
    binary = os.environ.get("MOTION_RETRIEVAL_S3_SERVER") or (str(S3_SERVER) if S3_SERVER.is_file() else None)
    binary = binary or shutil.which("moto_server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"no S3-compatible server: {S3_SERVER} is missing (`make test` installs it)")
        pytest.skip(f"no S3-compatible server: run `make s3-server` ({S3_SERVER}) or put moto_server on PATH")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError(f"{binary} did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
