"""TMR annotations.json over a guoh3dfeats-style motions folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motion_retrieval.data.annotations import read_annotations
from motion_retrieval.data.humanml3d import crop_to_caption
from motion_retrieval.errors import MotionDataError


@pytest.fixture
def tmr(tmp_path, sample_features):
    motions = tmp_path / "motions" / "guoh3dfeats"
    (motions / "KIT" / "3").mkdir(parents=True)
    (motions / "M" / "KIT" / "3").mkdir(parents=True)
    np.save(motions / "KIT" / "3" / "walk_poses.npy", sample_features)
    np.save(motions / "M" / "KIT" / "3" / "walk_poses.npy", sample_features[::-1].copy())
    annotations = {
        "000000": {
            "path": "KIT/3/walk_poses",
            "duration": 8.5,
            "annotations": [
                {"seg_id": "000000_0", "text": "a person walks forward.", "start": 1.0, "end": 6.0},
                {"seg_id": "000000_1", "text": "someone steps.", "start": 2.03, "end": 4.5},
            ],
        },
        "M000000": {
            "path": "M/KIT/3/walk_poses",
            "duration": 8.5,
            "annotations": [{"seg_id": "M000000_0", "text": "a person walks forward.", "start": 0.0, "end": 8.5}],
        },
        "000001": {
            "path": "KIT/3/missing_poses",
            "duration": 3.0,
            "annotations": [{"seg_id": "000001_0", "text": "x", "start": 0.0, "end": 3.0}],
        },
    }
    root = tmp_path / "annotations" / "kitml"
    (root / "splits").mkdir(parents=True)
    (root / "annotations.json").write_text(json.dumps(annotations))
    (root / "splits" / "train.txt").write_text("000000\nM000000\n")
    (root / "splits" / "test.txt").write_text("000001\n")
    (root / "splits" / "nsim_test.txt").write_text("000000\n")
    return root / "annotations.json", motions


def test_records_crop_the_union_of_their_annotations(tmr, sample_features):
    annotations_json, motions = tmr
    records = read_annotations(annotations_json, motions, split="train")
    first, mirrored = records
    assert first.id == "000000" and first.split == "train" and first.fps == 20.0
    np.testing.assert_array_equal(first.features, sample_features[20:120])  # [int(1.0*20), int(6.0*20))
    assert (first.start, first.end) == (1.0, 6.0)
    assert first.captions[0].whole_clip
    assert mirrored.tags == ["mirrored"] and mirrored.features.shape == (170, 263)


def test_crop_to_caption_reproduces_tmrs_slicing(tmr, sample_features):
    annotations_json, motions = tmr
    record = read_annotations(annotations_json, motions, split="train")[0]
    cropped = crop_to_caption(record, record.captions[1])
    np.testing.assert_array_equal(cropped.features, sample_features[int(2.03 * 20) : int(4.5 * 20)])
    assert cropped.start == pytest.approx(40 / 20) and cropped.end == pytest.approx(90 / 20)


def test_missing_motion_is_reported_and_splits_are_read(tmr):
    annotations_json, motions = tmr
    errors: list[MotionDataError] = []
    assert read_annotations(annotations_json, motions, split="test", errors=errors) == []
    assert "missing_poses.npy: file not found" in str(errors[0])
    assert [r.id for r in read_annotations(annotations_json, motions, split="nsim_test")] == ["000000"]
    with pytest.raises(MotionDataError, match="split file for 'val' not found"):
        read_annotations(annotations_json, motions, split="val")


def test_malformed_annotations(tmp_path, tmr):
    _, motions = tmr
    path = tmp_path / "bad.json"
    path.write_text("[1, 2]")
    with pytest.raises(MotionDataError, match="JSON object keyed by id"):
        read_annotations(path, motions)
    path.write_text("{not json")
    with pytest.raises(MotionDataError, match="cannot read annotations JSON"):
        read_annotations(path, motions)
    path.write_text(json.dumps({"a": {"path": "KIT/3/walk_poses", "annotations": [{"text": "x", "start": 2.0}]}}))
    with pytest.raises(MotionDataError, match="entry 'a' annotation 0: needs text, start, end"):
        read_annotations(path, motions)
