"""The libtorch check (issue 12, section 2): what export writes must load in the torch Triton's libtorch is.

The check itself runs here against this interpreter (the mechanism: load in a separate process, compare). The check
against an older torch needs a second torch, which this machine does not carry (only the torch 2.13 CPU wheel lies on
its disk); point MOTION_RETRIEVAL_COMPAT_PYTHON at an interpreter with the torch of the Triton release the chart pins
(e.g. a venv with the NGC release's torch) to run it.
"""

from __future__ import annotations

import os

import pytest

from motion_retrieval.export.compat import check_repository, main


def test_the_check_loads_both_towers_in_another_process_and_compares(tiny_repo, capsys):
    import sys

    report = check_repository(tiny_repo, sys.executable)
    assert report.ok and set(report.max_abs_diff) == {"motion_encoder", "text_encoder"}
    assert max(report.max_abs_diff.values()) <= 1e-6 and report.checked_with == report.exported_with
    assert main([str(tiny_repo), "--python", sys.executable]) == 0
    assert "loads and agrees" in capsys.readouterr().out


def test_an_interpreter_that_cannot_load_the_towers_fails_the_check(tiny_repo, tmp_path):
    import sys

    no_torch = tmp_path / "python-without-site-packages"
    no_torch.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")  # no site-packages: no torch there
    no_torch.chmod(0o755)
    report = check_repository(tiny_repo, str(no_torch))
    assert not report.ok and "No module named 'torch'" in report.errors["python"]
    assert main([str(tiny_repo), "--python", str(no_torch)]) == 1


@pytest.mark.slow
def test_the_repository_loads_with_the_oldest_supported_torch(repo_root):
    """model_repository/ (build it with `make export`) in the torch of MOTION_RETRIEVAL_COMPAT_PYTHON."""
    python = os.environ.get("MOTION_RETRIEVAL_COMPAT_PYTHON")
    if not python:
        pytest.skip("set MOTION_RETRIEVAL_COMPAT_PYTHON to an interpreter with the torch Triton's libtorch is "
                    "(no second torch on this machine)")
    repo = repo_root / "model_repository"
    if not (repo / "motion_encoder" / "1" / "model.pt").is_file():
        pytest.skip("model_repository/ has no model.pt files: run `make export`")
    report = check_repository(repo, python)
    assert report.ok, report
