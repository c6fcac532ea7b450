"""The benchmark suite behind ``make bench`` and the Makefile's module targets: every name resolves, every suite
member speaks ``--json``, and a failing benchmark fails the suite with its reason."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
from pathlib import Path

import pytest

from benchmarks import run_all

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_module_the_makefile_runs_exists():
    modules = re.findall(r"-m ([\w.]+)", (REPO_ROOT / "Makefile").read_text())
    assert "benchmarks.run_all" in modules
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    assert not missing, f"Makefile runs modules that do not exist: {missing}"


@pytest.mark.parametrize("name", list(run_all.SUITE))
def test_every_suite_member_is_a_benchmark_with_a_json_report(name):
    module = importlib.import_module(f"benchmarks.{name}")
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit) as exited:
        module.main(["--help"])
    assert exited.value.code == 0 and "--json" in help_text.getvalue()


def test_a_failing_benchmark_fails_the_suite_with_its_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(run_all.SUITE, "no_such_benchmark", [])
    assert run_all.main(["--only", "no_such_benchmark", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "no_such_benchmark ... FAILED" in out and "No module named" in out
    assert "failed: ['no_such_benchmark']" in out
    with pytest.raises(SystemExit):
        run_all.main(["--only", "not_in_the_suite"])


def test_caption_cache_benchmark_draws_distinct_corpus_captions():
    from benchmarks.caption_cache import corpus_captions

    captions = corpus_captions(50)
    assert len(captions) == len(set(captions)) == 50
    assert corpus_captions(50) == captions  # the same captions in every run: both orders are timed on them
