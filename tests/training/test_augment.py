"""Training-time augmentation (data/augment.py): each transform does what it says and keeps captions true."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.data.augment import GROUPS, AugmentConfig, Augmenter, change_tempo
from motion_retrieval.errors import ConfigError
from motion_retrieval.features import FOOT_CONTACT, LOCAL_VEL, RIC, ROOT_LIN_VEL
from motion_retrieval.training.config import TrainConfig, resolve_config_spec


def _clip(frames=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(frames, 263)).astype(np.float32)
    x[:, FOOT_CONTACT] = (rng.random((frames, 4)) > 0.5).astype(np.float32)
    return x


def test_tempo_resamples_positions_and_scales_velocities():
    x = _clip()
    x[:, RIC] = np.linspace(0, 1, 40)[:, None]  # a position moving linearly in time
    x[:, ROOT_LIN_VEL] = 0.1
    fast = change_tempo(x, 2.0)
    assert fast.shape[0] == 21  # 39 intervals -> about 19.5, rounded, + 1
    np.testing.assert_allclose(fast[:, RIC][:, 0], np.linspace(0, 1, 21), atol=1e-6)  # same path, fewer frames
    np.testing.assert_allclose(fast[:, ROOT_LIN_VEL], 0.1 * 39 / 20, rtol=1e-5)  # same distance per take
    assert set(np.unique(fast[:, FOOT_CONTACT])) <= {0.0, 1.0}  # contacts stay binary
    assert change_tempo(x, 1.0) is x


def test_augmenter_is_reproducible_and_off_by_default():
    assert not AugmentConfig().enabled
    config = AugmentConfig(tempo=0.2, crop=0.1, offset=0.2, scale=0.1, noise=0.05, group_dropout=0.3)
    augmenter = Augmenter(config)
    x = _clip()
    a = augmenter.normalised(augmenter.raw(x, np.random.default_rng(1)), np.random.default_rng(2))
    b = augmenter.normalised(augmenter.raw(x, np.random.default_rng(1)), np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and not np.array_equal(a[: len(x)], x[: len(a)])


def test_group_dropout_blanks_whole_groups():
    augmenter = Augmenter(AugmentConfig(group_dropout=0.999))
    out = augmenter.normalised(_clip(), np.random.default_rng(0))
    for slices in GROUPS.values():
        for s in slices:
            assert np.all(out[:, s] == 0)
    kept = Augmenter(AugmentConfig(group_dropout=0.0)).normalised(_clip(), np.random.default_rng(0))
    assert np.any(kept[:, LOCAL_VEL] != 0)


def test_crop_trims_at_most_the_share_from_each_end():
    augmenter = Augmenter(AugmentConfig(crop=0.1))
    for seed in range(20):
        out = augmenter.raw(_clip(100), np.random.default_rng(seed))
        assert 80 <= len(out) <= 100


@pytest.mark.parametrize("values, match", [
    ({"tempo": -0.1}, "tempo"), ({"crop": 0.5}, "crop"), ({"group_dropout": 1.0}, "group_dropout"),
    ({"noise": "a lot"}, "noise"), ({"jitter": 0.1}, "unknown option"),
])
def test_bad_augment_configs_are_refused(values, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_dict({"augment": values})


def test_augment_round_trips_and_json_overrides_merge_per_field(tmp_path):
    config = TrainConfig.from_dict({"augment": {"noise": 0.1}})
    assert config.to_dict()["augment"]["noise"] == 0.1
    assert TrainConfig.from_dict(config.to_dict()) == config
    spec_file = tmp_path / "c.json"
    spec_file.write_text('{"preset": "cpu", "train": {"augment": {"noise": 0.3}}}')
    spec = resolve_config_spec(spec_file)
    assert spec.train.augment.noise == 0.3
