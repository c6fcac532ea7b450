"""The model-selection scripts: a run scored on real takes and a synthetic test split, and the target check."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.common import REAL_FOLDER, load_real, score_run
from experiments.default_model import TARGETS, check_targets

pytestmark = pytest.mark.slow


def test_score_run_reports_every_set_and_the_targets_check_them(tiny_run, corpora):
    if not (REAL_FOLDER / "labels.tsv").is_file():
        pytest.skip(f"{REAL_FOLDER}: the real labelled takes are not here")
    real, prompts = load_real()
    assert len(real.takes) == 165 and not real.skipped  # the 10 actions with >= 5 takes, all imported
    scores = score_run(Path(tiny_run.run_dir), corpora["humanml3d"], None, real, prompts, split="all")
    assert set(scores) == {"fresh", "real/run", "real/coll"}
    assert 0 <= scores["fresh"]["t2m/R10"] <= 100 and scores["fresh"]["motions"] == 48
    assert 0 <= scores["real/run"]["zero_shot/accuracy"] <= 100
    rows = check_targets(scores)
    assert len(rows) == len(TARGETS)
    transfer = [r for r in rows if r["where"] == "transfer"]
    assert transfer and all(r["value"] is None and not r["passed"] for r in transfer)  # not scored: not passed
    fresh = {r["metric"]: r for r in rows if r["where"] == "fresh"}
    assert fresh["t2m/R10"]["passed"] == (scores["fresh"]["t2m/R10"] >= 90.0)
