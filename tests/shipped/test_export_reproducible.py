"""The committed model_repository/ describes the committed shipped run, byte for byte.

A clean checkout runs `make export` / `make demo`, which export motion_retrieval/pretrained/default into
model_repository/; when the committed description (model id, weight digests) or configs came from other towers, that
rewrites tracked files and every id the docs cite is not the one users get. The export is deterministic, so the
committed files must equal a fresh export of the shipped run exactly. Regenerate with `make export` (or `make
default-model`, which exports what it ships) and commit the changed files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from motion_retrieval.export.identity import weights_sha256
from motion_retrieval.export.torchscript import load_torchscript
from motion_retrieval.serving.repository import INFO_FILE, VERSION, read_repository_info
from motion_retrieval.serving.tensors import MOTION_MODEL, TEXT_MODEL

pytestmark = pytest.mark.slow

REGENERATE = "run `make export` and commit model_repository/ (the shipped run changed without a re-export)"


def committed_files(repository: Path) -> dict[str, bytes]:
    """Every file of a repository but the model versions (model.pt: built, never committed) and local stamps."""
    files = {}
    for path in sorted(repository.rglob("*")):
        relative = path.relative_to(repository)
        if path.is_file() and VERSION not in relative.parts and not relative.name.startswith("."):
            files[relative.as_posix()] = path.read_bytes()
    return files


def test_the_committed_description_is_the_shipped_runs_export(repo_root, shipped_repository):
    committed = json.loads((repo_root / "model_repository" / INFO_FILE).read_text())
    exported = json.loads((shipped_repository / INFO_FILE).read_text())
    assert committed["model_id"] == exported["model_id"], (
        f"model_repository/{INFO_FILE} names {committed['model_id']}, the shipped run exports to "
        f"{exported['model_id']}: {REGENERATE}")
    assert committed["weights_sha256"] == exported["weights_sha256"], REGENERATE
    assert committed == exported, REGENERATE


def test_every_committed_file_equals_the_export(repo_root, shipped_repository):
    committed = committed_files(repo_root / "model_repository")
    exported = committed_files(shipped_repository)
    assert sorted(committed) == sorted(exported), REGENERATE
    differing = [name for name in committed if committed[name] != exported[name]]
    assert not differing, f"{differing} differ from a fresh export: {REGENERATE}"


def test_the_exported_model_files_hash_to_the_committed_digests(repo_root, shipped_repository):
    committed = read_repository_info(repo_root / "model_repository", require_models=False)
    exported = read_repository_info(shipped_repository)
    for name, path in ((MOTION_MODEL, exported.motion_model), (TEXT_MODEL, exported.text_model)):
        assert weights_sha256(load_torchscript(path)) == committed.weights_sha256[name], f"{path}: {REGENERATE}"
