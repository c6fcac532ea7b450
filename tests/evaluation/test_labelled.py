"""Class-level retrieval metrics on labelled collections (evaluation/labelled.py), checked against naive references."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motion_retrieval.errors import MotionDataError
from motion_retrieval.evaluation.labelled import (
    average_precision,
    class_retrieval_metrics,
    confusion_picture,
    markdown_report,
    read_labels,
    read_prompts,
    side_pairs,
)


def _naive_ap(scores, relevant):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], relevant[i]))
    hits, total = 0, 0.0
    for rank, i in enumerate(order, start=1):
        if relevant[i]:
            hits += 1
            total += hits / rank
    return total / max(hits, 1)


def test_average_precision_matches_a_naive_reference_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(50):
        scores = rng.integers(0, 4, size=12).astype(float)  # many ties
        relevant = rng.random(12) < 0.4
        if not relevant.any():
            continue
        assert average_precision(scores, relevant) == pytest.approx(_naive_ap(list(scores), list(relevant)))


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_perfect_and_confused_collections():
    # Three classes along three axes; the prompts of each class point at its axis.
    prompts = {c: _unit(np.eye(3)[[i, i]] + 0.01) for i, c in enumerate(["bow", "walk-left", "walk-right"])}
    labels = ["bow", "bow", "walk-left", "walk-left", "walk-right", "walk-right"]
    motions = _unit(np.eye(3)[[0, 0, 1, 1, 2, 2]] + 0.01)
    result = class_retrieval_metrics(motions, labels, prompts, styles=["a", "b", "a", "b", "a", "b"])
    assert result["zero_shot/accuracy"] == 100.0
    assert result["t2m/mAP"] == pytest.approx(100.0)
    assert result["side/pairs"] == [["walk-left", "walk-right"]]
    assert result["side/accuracy"] == 100.0
    assert result["per_style"] == {"a": 100.0, "b": 100.0}

    # Swap the two walking directions' motions: side accuracy 0, those classes wrong, bow still right.
    swapped = motions[[0, 1, 4, 5, 2, 3]]
    result = class_retrieval_metrics(swapped, labels, prompts)
    assert result["side/accuracy"] == 0.0
    assert result["zero_shot/accuracy"] == pytest.approx(100.0 / 3)
    assert result["per_class"]["bow"]["accuracy"] == 100.0
    assert result["confusion"][1] == [0, 0, 2]  # walk-left predicted as walk-right


def test_missing_prompts_are_named():
    with pytest.raises(ValueError, match="kick"):
        class_retrieval_metrics(np.eye(2), ["bow", "kick"], {"bow": np.eye(2)[:1]})


def test_side_pairs_only_pair_names_that_differ_by_the_side_word():
    assert side_pairs(["walk-left", "walk-right", "wave_left_hand", "wave_right_hand", "leftover", "walk"]) == [
        ("walk-left", "walk-right"), ("wave_left_hand", "wave_right_hand")]


def test_labels_and_prompts_files(tmp_path):
    labels = tmp_path / "labels.tsv"
    labels.write_text("file\tcontent\tstyle\na.bvh\tbow\tsad\nb.bvh\twalk\t\n")
    takes = read_labels(labels)
    assert [(t.file, t.label, t.style) for t in takes] == [("a.bvh", "bow", "sad"), ("b.bvh", "walk", None)]
    labels.write_text("name\tcontent\na.bvh\tbow\n")
    with pytest.raises(MotionDataError, match="no 'file' column"):
        read_labels(labels)
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"_comment": "x", "bow": ["a person bows.", "someone bowing"]}))
    assert read_prompts(prompts) == {"bow": ["a person bows.", "someone bowing"]}
    prompts.write_text(json.dumps({"bow": ["a person bows."]}))
    with pytest.raises(MotionDataError, match="at least 2"):
        read_prompts(prompts)


def test_reports(tmp_path):
    prompts = {c: _unit(np.eye(2)[[i, i]]) for i, c in enumerate(["bow", "walk"])}
    result = class_retrieval_metrics(_unit(np.eye(2)[[0, 1, 1]]), ["bow", "walk", "walk"], prompts)
    text = markdown_report(result, "x")
    assert "| bow | 1 | 100.0 |" in text
    picture = confusion_picture(result, tmp_path / "c.png", "x")
    assert picture.stat().st_size > 1000
