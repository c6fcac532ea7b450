"""Packaging: the service and the plugin import under distinctive names, and every package folder ships."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
IMPORT_NAMES = {"server": "motion_retrieval_server", "milvus_plugin": "motion_retrieval_milvus",
                "web": "motion_retrieval_web"}
# A Python import of the folder names themselves, which only resolves by accident from the repository root.
_GENERIC_IMPORT = re.compile(r"^\s*(from|import)\s+(server|milvus_plugin|web)\b", re.MULTILINE)
# A module path in a string: `-m` arguments, entry points, mock targets.
_GENERIC_MODULE_STRING = re.compile(r"[\"'](server|milvus_plugin)(\.[a-z_]+)+[\"':]")


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed_under_its_import_name():
    config = _setuptools()
    folder_of = {name: folder for name, folder in config["package-dir"].items()}
    assert folder_of == {v: k for k, v in IMPORT_NAMES.items()}
    expected = set()
    for top in ("motion_retrieval", *IMPORT_NAMES):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            expected.add(".".join((IMPORT_NAMES.get(parts[0], parts[0]), *parts[1:])))
    assert set(config["packages"]) == expected


def test_no_code_imports_the_generic_folder_names():
    offenders = []
    for folder in ("motion_retrieval", "server", "milvus_plugin", "web", "tests", "benchmarks", "experiments"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if _GENERIC_IMPORT.search(text) or _GENERIC_MODULE_STRING.search(text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], f"import motion_retrieval_server / motion_retrieval_milvus instead: {offenders}"
