"""Batching rules: caption filtering, cropping, resampling, per-dataset normalisation, caption draws, weighting,
and the collated batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motion_retrieval.data.batching import (
    CaptionedMotions,
    Collator,
    fit_normalizers,
    joint_dataset,
    usable_captions,
    weighted_sampler,
)
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.errors import MotionDataError
from motion_retrieval.models.text_backbone import TokenStateCache
from motion_retrieval.stats import Normalizer


def _record(motion_id, frames, captions, dataset="humanml3d", offset=0.0):
    features = (np.arange(frames, dtype=np.float32)[:, None] + offset) * np.ones((1, 263), np.float32)  # frame index
    return MotionRecord(id=motion_id, dataset=dataset, fps=20.0, features=features, joints=None,
                        captions=captions, source=f"/data/{motion_id}.npy")


IDENTITY = Normalizer(np.zeros(263, np.float32), np.ones(263, np.float32))


def test_captions_outside_2_to_10_seconds_are_dropped_for_training():
    record = _record("000001", 300, [
        Caption("whole clip of 15 s"),  # 300 frames = 15 s: too long
        Caption("a 1 s segment", start=1.0, end=2.0),  # too short
        Caption("a 3 s segment", start=2.0, end=5.0),
        Caption("exactly 10 s", start=0.5, end=10.5),
    ])
    kept = [c.text for c in usable_captions(record, 2.0, 10.0)]
    assert kept == ["a 3 s segment", "exactly 10 s"]
    assert len(usable_captions(record)) == 4  # test captions are never filtered


def test_the_motion_is_cropped_to_the_caption_segment():
    record = _record("000002", 200, [Caption("middle", start=2.0, end=5.0)])
    dataset = CaptionedMotions([record], IDENTITY, name="humanml3d", max_frames=200, random_caption=False)
    sample = dataset[0]
    assert sample.motion.shape == (60, 263)
    assert sample.motion[0, 0] == 40 and sample.motion[-1, 0] == 99  # frames [int(2*20), int(5*20))
    assert sample.key == "000002" and sample.caption == "middle"


def test_long_clips_are_resampled_by_nearest_neighbour():
    record = _record("000003", 400, [Caption("long")])
    sample = CaptionedMotions([record], IDENTITY, name="kitml", max_frames=200, random_caption=False)[0]
    assert sample.motion.shape == (200, 263)
    frames = sample.motion[:, 0]
    assert frames[0] == 0 and frames[-1] == 399  # both ends kept
    assert np.all(np.diff(frames) >= 1) and np.all(np.diff(frames) <= 3)  # evenly spread original frames
    assert set(frames.astype(int)) <= set(range(400))  # no interpolated values


def test_each_dataset_uses_its_own_normaliser():
    a = [_record(f"a{i}", 50, [Caption("x")], offset=10.0 * i) for i in range(3)]
    b = [_record(f"b{i}", 50, [Caption("y")], dataset="kitml", offset=1000.0 + i) for i in range(3)]
    normalizers = fit_normalizers({"humanml3d": a, "kitml": b})
    joint = joint_dataset([
        CaptionedMotions(a, normalizers["humanml3d"], name="humanml3d", max_frames=200, random_caption=False),
        CaptionedMotions(b, normalizers["kitml"], name="kitml", max_frames=200, random_caption=False),
    ])
    for name in ("humanml3d", "kitml"):
        frames = np.concatenate([joint[i].motion for i in range(len(joint)) if joint[i].dataset == name])
        assert abs(frames[:, 0].mean()) < 1e-4 and abs(frames[:, 0].std() - 1) < 1e-3


def test_random_caption_is_reproducible_per_epoch_and_varies_across_epochs():
    captions = [Caption(f"caption {k}") for k in range(5)]
    records = [_record(f"{i:06d}", 60, captions) for i in range(20)]
    dataset = CaptionedMotions(records, IDENTITY, name="humanml3d", max_frames=200, seed=7)
    draws = []
    for epoch in (0, 1, 0):
        dataset.set_epoch(epoch)
        draws.append([dataset[i].caption for i in range(len(dataset))])
    assert draws[0] == draws[2]
    assert draws[0] != draws[1]
    assert len(set(draws[0])) > 1  # one random caption per motion, not always the first
    first = CaptionedMotions(records, IDENTITY, name="humanml3d", max_frames=200, random_caption=False)
    assert {first[i].caption for i in range(len(first))} == {"caption 0"}


def test_motions_without_usable_captions_are_dropped_and_an_empty_set_is_an_error():
    ok = _record("000010", 60, [Caption("three seconds")])
    short = _record("000011", 20, [Caption("one second")])
    silent = _record("000012", 60, [])
    dataset = CaptionedMotions([ok, short, silent], IDENTITY, name="humanml3d", max_frames=200,
                               min_seconds=2.0, max_seconds=10.0)
    assert dataset.keys() == ["000010"]
    with pytest.raises(MotionDataError, match="no usable clips"):
        CaptionedMotions([short, silent], IDENTITY, name="humanml3d", max_frames=200, min_seconds=2.0,
                         max_seconds=10.0)


def test_weighted_sampler_follows_dataset_weights():
    a = CaptionedMotions([_record(f"a{i}", 50, [Caption("x")]) for i in range(30)], IDENTITY, name="humanml3d",
                         max_frames=200)
    b = CaptionedMotions([_record(f"b{i}", 50, [Caption("y")]) for i in range(10)], IDENTITY, name="kitml",
                         max_frames=200)
    sampler = weighted_sampler([a, b], {"kitml": 3.0}, torch.Generator().manual_seed(0))
    draws = []
    for _ in range(50):
        draws += list(sampler)
    assert len(draws) == 50 * 40
    share_b = sum(index >= 30 for index in draws) / len(draws)
    assert abs(share_b - 0.75) < 0.03  # weight 3 vs 1, whatever the sizes
    with pytest.raises(MotionDataError, match="not being trained on"):
        weighted_sampler([a, b], {"motionx": 1.0})


def test_collate_pads_and_masks(backbone):
    records = [_record("000020", 50, [Caption("one two")]), _record("000021", 80, [Caption("one two three four")])]
    dataset = CaptionedMotions(records, IDENTITY, name="humanml3d", max_frames=200, random_caption=False)
    cache = TokenStateCache(backbone, max_tokens=16)
    batch = Collator(cache)([dataset[0], dataset[1]])
    assert batch["motion"].shape == (2, 80, 263)
    assert batch["length"].tolist() == [50, 80]
    assert batch["motion_mask"].sum(1).tolist() == [50, 80]
    assert torch.all(batch["motion"][0, 50:] == 0)
    _, token_mask = backbone.tokenize(["one two", "one two three four"], 16)  # [CLS] ... [SEP]
    assert batch["text_mask"].sum(1).tolist() == token_mask.sum(1).tolist() == [4, 6]
    assert batch["text_states"].shape == (2, 6, backbone.hidden_size)
    assert torch.all(batch["text_states"][0, 4:] == 0)
    assert torch.allclose(batch["teacher"].norm(dim=1), torch.ones(2))
    assert torch.allclose(batch["teacher"], backbone.sentence_embeddings(["one two", "one two three four"]),
                          atol=1e-3)  # the cache keeps float16 states; the teacher is computed in float32
    assert batch["keys"] == ["000020", "000021"] and batch["datasets"] == ["humanml3d", "humanml3d"]
