"""Mirror-paired batches (train.mirror_pairs): twins found by id, aligned caption draws, side-specific twins in
one batch, every motion once per epoch, and a training epoch that uses them."""

from __future__ import annotations

import pytest

from motion_retrieval.data.batching import CaptionedMotions
from motion_retrieval.data.mirror_batches import MirrorPairBatches, epoch_units
from motion_retrieval.data.sources import parse_data_arg, read_records
from motion_retrieval.errors import ConfigError
from motion_retrieval.mirror import mirror_caption, mirror_partners
from motion_retrieval.stats import Normalizer
from motion_retrieval.training.config import TrainConfig, resolve_config_spec
from motion_retrieval.training.trainer import Trainer, load_training_data


def test_twins_are_found_by_the_m_prefix_and_only_when_both_are_there():
    keys = ["000001", "M000001", "000002", "M000003", "Mad", "ad"]
    assert mirror_partners(keys) == [1, 0, None, None, 5, 4]


def _datasets(corpora, align: bool) -> list[CaptionedMotions]:
    out = []
    for name in ("humanml3d", "kitml"):
        records = read_records(parse_data_arg(f"{name}={corpora[name]}"), "train")
        normalizer = Normalizer.fit([r.features for r in records])
        out.append(CaptionedMotions(records, normalizer, name=name, max_frames=200, seed=7, align_mirrors=align))
    return out


def test_twins_draw_the_same_caption_line(corpora):
    for dataset in _datasets(corpora, align=True):
        twins = [(i, j) for i, j in enumerate(dataset.mirror_partner) if j is not None and i < j]
        assert len(twins) >= 5
        for epoch in range(3):
            dataset.set_epoch(epoch)
            for i, j in twins:
                assert dataset.caption_for(j).text == mirror_caption(dataset.caption_for(i).text)
                assert dataset[j].caption == dataset.caption_for(j).text


def test_side_specific_twins_share_a_batch_and_every_motion_comes_once(corpora):
    datasets = _datasets(corpora, align=True)
    joint = [(d, i) for d in datasets for i in range(len(d))]
    units = epoch_units(datasets)
    pairs = [u for u in units if len(u) == 2]
    assert pairs, "the generator writes side-specific captions; some twins must pair"
    for a, b in pairs:
        (da, ia), (db, ib) = joint[a], joint[b]
        assert da is db and da.mirror_partner[ia] == ib
        assert da.caption_for(ia).text != db.caption_for(ib).text  # the pair differs in its side words
    for unit in units:
        if len(unit) == 1:
            d, i = joint[unit[0]]
            j = d.mirror_partner[i]
            assert j is None or d.caption_for(i).text == d.caption_for(j).text  # only same-caption twins split

    batches = list(MirrorPairBatches(datasets, batch_size=8, seed=3, drop_last=False))
    seen = [k for b in batches for k in b]
    assert sorted(seen) == list(range(len(joint)))
    assert all(len(b) <= 8 for b in batches)
    where = {k: n for n, b in enumerate(batches) for k in b}
    assert all(where[a] == where[b] for a, b in pairs)
    assert [k for b in MirrorPairBatches(datasets, 8, seed=3, drop_last=False) for k in b] == seen  # reproducible
    assert [k for b in MirrorPairBatches(datasets, 8, seed=4, drop_last=False) for k in b] != seen


def test_drop_last_drops_only_a_short_final_batch(corpora):
    datasets = _datasets(corpora, align=True)
    total = sum(len(d) for d in datasets)
    kept = MirrorPairBatches(datasets, batch_size=8, seed=3, drop_last=True)
    assert all(len(b) >= 7 for b in kept)
    assert total - sum(len(b) for b in kept) < 8 + len(kept)


def test_config_refuses_mirror_pairs_with_dataset_weights_or_a_non_boolean():
    with pytest.raises(ConfigError, match="cannot be combined"):
        TrainConfig(mirror_pairs=True, dataset_weights={"humanml3d": 2.0})
    with pytest.raises(ConfigError, match="true or false"):
        TrainConfig(mirror_pairs="yes")


def test_an_epoch_trains_on_mirror_paired_batches(corpora, backbone, tmp_path):
    spec = resolve_config_spec("tiny", epochs=1, mirror_pairs=True)
    sources = [parse_data_arg(f"humanml3d={corpora['humanml3d']}"), parse_data_arg(f"kitml={corpora['kitml']}")]
    data = load_training_data(sources, spec.train, progress=False)
    trainer = Trainer(tmp_path / "run", spec.model, spec.train, data, backbone=backbone, progress=False)
    result = trainer.fit()
    assert result.last["train/mirror_pairs"] > 0
    assert all(d.align_mirrors for d in trainer.train_sets)
