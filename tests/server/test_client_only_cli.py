"""The ``[client]`` extra runs the command line: a fresh virtual environment (no system site-packages) with only
``pip install 'motion-retrieval[client]'`` (grpcio, protobuf, numpy: no torch, no pymilvus) prints
``motion-retrieval --help`` and searches a real service with ``search --server``, by text and by a motion file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest
import tomllib

from motion_retrieval_server.client import MotionRetrievalClient

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "pymilvus", "milvus_lite", "tokenizers", "transformers", "tritonclient")

pytestmark = pytest.mark.slow


def _run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, **kwargs)


def _build_inputs() -> list[str]:
    """What a wheel is built from (pyproject.toml's package folders, its readme and licence files): copied, because a
    build writes build/ and *.egg-info into the folder it builds, which must not be the shared checkout."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    folders = {setuptools.get("package-dir", {}).get(p.split(".")[0], p.split(".")[0]) for p in setuptools["packages"]}
    files = [project["project"]["readme"], *project["project"].get("license-files", [])]
    return ["pyproject.toml", *files, *sorted(folders)]


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding motion-retrieval[client] and nothing else."""
    root = tmp_path_factory.mktemp("client-only")
    source = root / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in _build_inputs():
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                  root / "wheels", source])
    assert built.returncode == 0, built.stderr
    wheel = next((root / "wheels").glob("motion_retrieval-*.whl"))
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(root / "venv")
    bin_dir = root / "venv" / "bin"
    installed = _run([bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      "-c", REPO / "constraints.txt", f"{wheel}[client]"])
    assert installed.returncode == 0, installed.stderr
    return bin_dir


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["MOTION_RETRIEVAL_SERVER_TOKEN"] = ""
    return env


def test_the_client_extra_needs_no_torch_and_no_pymilvus(client_venv):
    probe = _run([client_venv / "python", "-c",
                  "import importlib.util, json; "
                  f"print(json.dumps({{m: importlib.util.find_spec(m) is not None for m in {HEAVY!r}}}))"],
                 env=_env(), cwd=client_venv)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == dict.fromkeys(HEAVY, False)


def test_help_and_search_through_the_service(client_venv, start_server, tmp_path):
    server = start_server(milvus_uri=str(tmp_path / "m.db"))
    rng = np.random.default_rng(5)
    walk = rng.standard_normal((60, 263)).astype(np.float32)
    with MotionRetrievalClient(server.target, timeout=120) as client:
        summary = client.ingest([
            {"id": "walk1", "dataset": "test", "features": walk, "captions": ["a person walks"], "tags": ["walk"]},
            {"id": "jump1", "dataset": "test", "features": rng.standard_normal((80, 263)).astype(np.float32),
             "captions": ["a person jumps"], "tags": ["jump"]},
        ])
    assert summary["written"] == 2
    cli = client_venv / "motion-retrieval"

    shown = _run([cli, "--help"], env=_env(), cwd=tmp_path)
    assert shown.returncode == 0 and "search" in shown.stdout and "Traceback" not in shown.stderr, shown.stderr
    assert "unavailable" not in shown.stderr  # every command registers without its heavy modules

    found = _run([cli, "search", "--server", server.target, "--text", "a person walks", "--json"], env=_env(),
                 cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert sorted(h["name"] for h in json.loads(found.stdout)["hits"]) == ["jump1", "walk1"]

    motion = tmp_path / "walk.npy"
    np.save(motion, walk)
    similar = _run([cli, "search", "--server", server.target, "--motion", motion, "--target", "motions",
                    "--any-tag", "walk", "--json"], env=_env(), cwd=tmp_path)
    assert similar.returncode == 0, similar.stderr
    assert [h["name"] for h in json.loads(similar.stdout)["hits"]] == ["walk1"]

    table = _run([cli, "search", "--server", server.target, "--text", "a person jumps", "--top-k", "1"], env=_env(),
                 cwd=tmp_path)
    assert table.returncode == 0 and "1  " in table.stdout, table.stderr

    # Local mode does need the Milvus plugin: the user is told what to install, in one line.
    local = _run([cli, "search", "--text", "walk", "--milvus", tmp_path / "local.db"], env=_env(), cwd=tmp_path)
    assert local.returncode == 1 and "Traceback" not in local.stderr, local.stderr
    assert "pip install 'motion-retrieval[milvus]'" in local.stderr
