"""The unseen-action protocol (experiments/unseen_actions.py): pooled recalls per group, and the refusal to score a
run that trained on the held-out families."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.unseen_actions import check_trained_on_seen, pooled_recalls, trained_action_splits


def naive_recall_at(sims: np.ndarray, rows: np.ndarray, k: int) -> float:
    """Share of the given query rows whose own item (the diagonal) has fewer than k items scored strictly higher
    (no ties in random data)."""
    hits = [int((sims[i] > sims[i, i]).sum()) < k for i in np.flatnonzero(rows)]
    return 100.0 * float(np.mean(hits))


def test_each_group_is_ranked_against_the_whole_pool():
    rng = np.random.default_rng(0)
    motion = rng.standard_normal((40, 8))
    text = motion + rng.standard_normal((40, 8)) * np.r_[np.full(20, 0.3), np.full(20, 1.5)][:, None]
    motion /= np.linalg.norm(motion, axis=1, keepdims=True)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    groups = np.array(["seen"] * 20 + ["unseen"] * 20)
    out = pooled_recalls(motion, text, groups)
    sims = text @ motion.T
    for group in ("seen", "unseen"):
        rows = groups == group
        assert out[f"{group}/queries"] == 20
        for k in (1, 5, 10):
            assert out[f"{group}/t2m/R{k:02d}"] == pytest.approx(naive_recall_at(sims, rows, k))
            assert out[f"{group}/m2t/R{k:02d}"] == pytest.approx(naive_recall_at(sims.T, rows, k))
    assert out["seen/t2m/R05"] > out["unseen/t2m/R05"]  # the noisier captions are found less often


def corpus_marker(folder: Path, action_split: str | None) -> Path:
    folder.mkdir(parents=True)
    config = {"dialect": "humanml3d", "seed": 1, "n": 10}
    if action_split is not None:
        config["action_split"] = action_split
    (folder / "synth.json").write_text(json.dumps({"config": config}))
    return folder


def test_only_a_run_trained_on_seen_corpora_is_scored(tmp_path):
    seen = corpus_marker(tmp_path / "seen", "seen")
    old = corpus_marker(tmp_path / "old", None)  # made before the split existed: every family
    config = {"data": {"datasets": [{"name": "humanml3d", "path": str(seen)}, {"name": "kitml", "path": str(old)}]}}
    assert trained_action_splits(config) == {"humanml3d": "seen", "kitml": "all"}
    with pytest.raises(ValueError, match=r"trained on \{'kitml': 'all'\}, not on `--actions seen` corpora"):
        check_trained_on_seen(tmp_path / "run", config)
    missing = {"data": {"datasets": [{"name": "humanml3d", "path": str(tmp_path / "gone")}]}}
    with pytest.raises(ValueError, match="'humanml3d': 'unknown'"):
        check_trained_on_seen(tmp_path / "run", missing)
    check_trained_on_seen(tmp_path / "run", {"data": {"datasets": [{"name": "humanml3d", "path": str(seen)}]}})


@pytest.mark.slow
def test_score_run_refuses_the_unseen_split_for_a_run_trained_on_every_family(tiny_run, corpora):
    from experiments.common import score_run

    with pytest.raises(ValueError, match="needs a run trained without the held-out families"):
        score_run(Path(tiny_run.run_dir), None, None, None, {}, unseen=(corpora["humanml3d"], corpora["humanml3d"]))


def test_the_table_shows_mean_and_spread_and_checks_the_target_ratio():
    from experiments.unseen_actions import table

    def result(seen: float, unseen: float) -> dict:
        return {"unseen": {"seen/t2m/R10": seen, "seen/m2t/R10": seen, "unseen/t2m/R10": unseen,
                           "unseen/m2t/R10": unseen, "ratio/t2m": unseen / seen, "ratio/m2t": unseen / seen}}

    rows = table({"a": [result(60.0, 40.0), result(50.0, 40.0)], "b": [result(60.0, 12.0)]}).splitlines()
    assert rows[2] == ("| a | 2 | 55.0 ± 5.0 / 55.0 ± 5.0 | 40.0 ± 0.0 / 40.0 ± 0.0 | 0.73 ± 0.07 / 0.73 ± 0.07 | met "
                       "| - | - | - / - | - / - |")  # sets a run was not scored on show as -
    assert "| 0.20 / 0.20 | missed |" in rows[3]
