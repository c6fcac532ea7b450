"""One model-repository default: serve, ingest/search, triton and demo all use
``serving.repository.default_model_repository``, whose lookup order is environment variable, then
``./model_repository`` when it holds an export, then the source checkout's, then ``./model_repository``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from motion_retrieval.cli import main
from motion_retrieval.serving import repository
from motion_retrieval.serving.repository import INFO_FILE, REPOSITORY_DIR, REPOSITORY_ENV, default_model_repository


def _export_stub(folder: Path) -> Path:
    """A folder that looks exported to the lookup (it checks for the description file only)."""
    folder.mkdir(parents=True)
    (folder / INFO_FILE).write_text(json.dumps({"format_version": 2}))
    return folder


def test_lookup_order(tmp_path, monkeypatch):
    checkout = _export_stub(tmp_path / "checkout" / REPOSITORY_DIR)
    monkeypatch.setattr(repository, "CHECKOUT_REPOSITORY", checkout)
    work = tmp_path / "work"
    work.mkdir()
    assert default_model_repository({}, cwd=work) == checkout  # nothing here: the checkout's export
    here = _export_stub(work / REPOSITORY_DIR)
    assert default_model_repository({}, cwd=work) == here  # an export in the working folder wins
    assert default_model_repository({REPOSITORY_ENV: "/srv/models"}, cwd=work) == Path("/srv/models")
    assert default_model_repository({REPOSITORY_ENV: "  "}, cwd=work) == here  # blank counts as unset
    monkeypatch.setattr(repository, "CHECKOUT_REPOSITORY", tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert default_model_repository({}, cwd=empty) == empty / REPOSITORY_DIR  # where export writes


def test_the_checkout_export_is_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(REPOSITORY_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    found = default_model_repository()
    assert found == repository.CHECKOUT_REPOSITORY and (found / INFO_FILE).is_file()


def test_serve_and_search_use_the_same_default(tmp_path, monkeypatch, capsys):
    from motion_retrieval_server.config import add_serve_arguments, resolve_config

    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "models-from-env"
    monkeypatch.setenv(REPOSITORY_ENV, str(missing))
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert resolve_config(parser.parse_args([])).model_repository == missing
    assert resolve_config(parser.parse_args([]), environ={}).model_repository == default_model_repository({})

    code = main(["search", "--text", "walk", "--milvus", str(tmp_path / "m.db")])
    err = capsys.readouterr().err
    assert code == 1 and f"{missing}: not an exported model repository" in err

    monkeypatch.delenv(REPOSITORY_ENV)
    monkeypatch.setattr(repository, "CHECKOUT_REPOSITORY", tmp_path / "no-checkout")
    code = main(["ingest", str(tmp_path), "--milvus", str(tmp_path / "m.db")])
    err = capsys.readouterr().err
    assert code == 1 and f"{REPOSITORY_DIR}: not an exported model repository" in err


@pytest.mark.parametrize("command", ["triton", "demo"])
def test_the_other_commands_leave_the_default_to_the_lookup(command):
    from motion_retrieval.cli import build_parser

    args = build_parser().parse_args([command])
    assert args.model_repository is None
