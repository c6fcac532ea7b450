"""Deferred (function-level) imports in the core package are kept for one reason only: a module that is optional or
heavy to import (torch and what needs it, bpy, matplotlib, transformers, Pillow, tqdm, minio). Each says so in a
``# deferred: ...`` comment on the import or just above its block; a cycle is resolved by moving code, never by
deferring (the acyclic contract of ``make lint`` counts deferred imports anyway)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# First-party modules whose import needs torch ([train] extra) or another optional part: the CLI defers them so that
# its --help and search --server run on the [client] extra alone (tests/server/test_client_only_cli.py).
OPTIONAL_FIRST_PARTY = (
    "motion_retrieval.training",
    "motion_retrieval.evaluation",
    "motion_retrieval.export",
    "motion_retrieval.models",
    "motion_retrieval.run_dir",
    "motion_retrieval.inference",
)
REASON = "# deferred:"


def _deferred_imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, has a reason) of each import inside a function of ``path``."""
    source = path.read_text()
    lines = source.splitlines()
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                module = child.module if isinstance(child, ast.ImportFrom) else child.names[0].name
                found.append((child.lineno, module or "", _has_reason(lines, child.lineno)))
            visit(child, inside)

    visit(ast.parse(source), False)
    return found


def _has_reason(lines: list[str], lineno: int) -> bool:
    """The import's own line, an import line above it in the same block, or the comment line above the block."""
    index = lineno - 1
    while index >= 0:
        text = lines[index].strip()
        if REASON in text:
            return True
        if not (text.startswith(("import ", "from ")) or (text.startswith("#") and index == lineno - 2)):
            return False
        index -= 1
    return False


def test_deferred_imports_are_optional_or_heavy_modules_with_a_reason():
    problems = []
    for path in sorted((ROOT / "motion_retrieval").rglob("*.py")):
        for lineno, module, has_reason in _deferred_imports(path):
            where = f"{path.relative_to(ROOT)}:{lineno} ({module})"
            first_party = module.split(".")[0] == "motion_retrieval"
            if first_party and not module.startswith(OPTIONAL_FIRST_PARTY):
                problems.append(f"{where}: a first-party module that needs nothing optional; import it at module level")
            elif not has_reason:
                problems.append(f"{where}: say why it is deferred ({REASON} ...)")
    assert not problems, "\n".join(problems)


def test_the_check_sees_deferred_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n\n\ndef f():\n    # deferred: heavy\n    import numpy\n    import json\n\n"
                      "def g():\n    import motion_retrieval.data\n")
    assert _deferred_imports(sample) == [(6, "numpy", True), (7, "json", True), (10, "motion_retrieval.data", False)]
