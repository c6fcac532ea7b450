"""TrainConfig presets and --config resolution."""

from __future__ import annotations

import json

import pytest

from motion_retrieval.data.sources import parse_data_arg
from motion_retrieval.errors import ConfigError
from motion_retrieval.training.config import TRAIN_PRESETS, TrainConfig, resolve_config_spec, train_preset


def test_defaults_are_the_papers_recipe():
    config = TrainConfig()
    assert (config.lr, config.weight_decay, config.batch_size, config.epochs, config.seed) == (5e-5, 0.01, 32, 250,
                                                                                                1234)
    assert (config.min_seconds, config.max_seconds, config.eval_batch_size) == (2.0, 10.0, 256)
    assert train_preset("paper") == config


def test_presets_pair_model_and_training():
    for name in ("paper", "cpu", "tiny"):
        spec = resolve_config_spec(name)
        assert spec.model.name == name
        assert spec.train == TrainConfig(**TRAIN_PRESETS[name])
    tmr = resolve_config_spec("tmr", epochs=3)
    assert tmr.model.name == "tmr" and tmr.train.lr == 5e-5 and tmr.train.epochs == 3  # paper recipe + override


def test_json_config_with_overrides(tmp_path):
    path = tmp_path / "exp.json"
    path.write_text(json.dumps({"preset": "tiny", "model": {"motion": {"attention": "joint"}},
                                "train": {"batch_size": 4}}))
    spec = resolve_config_spec(path, epochs=5)
    assert spec.model.motion.attention == "joint" and spec.model.text.d_model == 32
    assert spec.train.batch_size == 4 and spec.train.epochs == 5 and spec.train.lr == 1e-3


def test_a_runs_config_json_is_taken_whole(tmp_path):
    spec = resolve_config_spec("tiny")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"format_version": 1, "model": spec.model.to_dict(),
                                "train": {**spec.train.to_dict(), "seed": 99}, "data": {}}))
    again = resolve_config_spec(path)
    assert again.model.to_dict() == spec.model.to_dict() and again.train.seed == 99


@pytest.mark.parametrize("values, message", [
    ({"lr": 0}, "lr must be > 0"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"min_seconds": 11.0}, "min_seconds < max_seconds"),
    ({"dataset_weights": {"kitml": -1}}, "dataset_weights"),
    ({"learning_rate": 1e-4}, "unknown training option"),
])
def test_invalid_training_options_are_named(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(values)


def test_bad_config_specs(tmp_path):
    with pytest.raises(ConfigError, match="neither a preset"):
        resolve_config_spec("no-such-preset")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read config JSON"):
        resolve_config_spec(bad)
    bad.write_text(json.dumps({"preset": "tiny", "modle": {}}))
    with pytest.raises(ConfigError, match="unknown top-level"):
        resolve_config_spec(bad)
    bad.write_text(json.dumps({"preset": "tiny", "model": {"motion": {"attentoin": "joint"}}}))
    with pytest.raises(ConfigError, match="attentoin"):
        resolve_config_spec(bad)


def test_data_arguments():
    source = parse_data_arg("humanml3d=/data/h3d")
    assert (source.name, source.reader, str(source.path)) == ("humanml3d", "humanml3d", "/data/h3d")
    renamed = parse_data_arg("kit_amass:annotations=/data/kit")
    assert (renamed.name, renamed.reader) == ("kit_amass", "annotations")
    for text, message in [("humanml3d", "NAME=DIR"), ("motionx=/d", "unknown reader"), ("kitml=", "empty"),
                          ("a/b:kitml=/d", "use letters")]:
        with pytest.raises(ConfigError, match=message):
            parse_data_arg(text)
