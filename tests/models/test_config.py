"""Model configs: JSON round-trip, errors that name the field, presets and overrides."""

from __future__ import annotations

import json

import pytest

from motion_retrieval.errors import ConfigError
from motion_retrieval.models import create_model, get_preset, list_models, list_presets, resolve_config
from motion_retrieval.models.config import FORMAT_VERSION, ModelConfig


@pytest.mark.parametrize("name", list_presets())
def test_presets_round_trip_through_json(name):
    config = get_preset(name)
    again = ModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.latent.dim == 256  # the public embedding contract
    assert config.to_dict()["format_version"] == FORMAT_VERSION


def test_paper_preset_has_the_published_sizes():
    config = get_preset("paper")
    m, t = config.motion, config.text
    assert (m.kind, m.attention, m.d_model, m.heads, m.ff, m.spatial_layers, m.temporal_layers) == (
        "motpp", "factorized", 256, 4, 1024, 2, 2)
    assert (m.dropout, m.drop_path, m.max_frames, m.feature_dim) == (0.1, 0.1, 200, 263)
    assert (t.d_model, t.layers, t.heads, t.ff, t.dropout) == (256, 6, 4, 1024, 0.1)
    assert config.decoder.enabled and (config.decoder.layers, config.decoder.heads, config.decoder.ff) == (6, 4, 1024)
    loss = config.loss
    assert (loss.contrastive, loss.rec_weight, loss.kl_weight, loss.latent_weight, loss.contrastive_weight) == (
        "cccl", 1.0, 1e-5, 1e-5, 0.1)
    assert (loss.temperature, loss.cccl_start_epoch, loss.cccl_end_epoch) == (0.1, 40, 100)


def test_list_models_and_unknown_preset():
    assert {"paper", "cpu", "tiny", "tmr", "paper-mot", "paper-divided", "paper-joint"} <= set(list_models())
    with pytest.raises(ConfigError, match="unknown; available presets"):
        get_preset("nope")


def test_unknown_keys_are_rejected_with_their_path():
    data = get_preset("tiny").to_dict()
    data["motion"]["heds"] = 3
    with pytest.raises(ConfigError, match=r"model\.motion: unknown key\(s\) \['heds'\]"):
        ModelConfig.from_dict(data)
    with pytest.raises(ConfigError, match=r"model: unknown key\(s\) \['extra'\]"):
        ModelConfig.from_dict({**get_preset("tiny").to_dict(), "extra": 1})


@pytest.mark.parametrize(("field", "value", "message"), [
    ("motion__kind", "lstm", r"model\.motion\.kind: expected one of"),
    ("motion__attention", "axial", r"model\.motion\.attention"),
    ("motion__heads", 3, r"model\.motion\.heads: 3 heads do not divide"),
    ("motion__d_model", "big", r"model\.motion\.d_model: expected an integer"),
    ("latent__variational", 1, r"model\.latent\.variational: expected true/false"),
    ("loss__contrastive", "triplet", r"model\.loss\.contrastive"),
    ("loss__cccl_end_epoch", 10, r"cccl_start_epoch/cccl_end_epoch"),
    ("loss__temperature", 0.0, r"model\.loss\.temperature"),
    ("motion__dropout", 1.5, r"model\.motion\.dropout"),
])
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ConfigError, match=message):
        get_preset("paper").replace(**{field: value})


def test_format_version_is_checked():
    data = get_preset("tiny").to_dict()
    data["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(ConfigError, match="format_version"):
        ModelConfig.from_dict(data)


def test_overrides_by_path_and_by_section():
    config = resolve_config("cpu", motion__attention="joint", loss={"contrastive": "infonce"})
    assert config.motion.attention == "joint" and config.loss.contrastive == "infonce"
    assert config.motion.d_model == get_preset("cpu").motion.d_model
    with pytest.raises(ConfigError, match="unknown field"):
        resolve_config("cpu", motion__nope=1)
    with pytest.raises(ConfigError, match="unknown config section"):
        resolve_config("cpu", nope__x=1)


def test_create_model_from_preset_dict_and_config():
    by_name = create_model("tiny")
    by_dict = create_model(get_preset("tiny").to_dict())
    by_config = create_model(get_preset("tiny"), latent__variational=False)
    assert by_name.config == by_dict.config
    assert by_config.config.latent.variational is False
    with pytest.raises(ConfigError):
        create_model(3)


def test_cpu_preset_is_small_and_keeps_256d():
    config = get_preset("cpu")
    assert config.latent.dim == 256 and not config.decoder.enabled
    assert config.motion.d_model <= 128 and config.motion.spatial_layers == 1 and config.text.layers <= 2
    assert create_model("cpu").parameter_counts()["total"] < create_model("paper").parameter_counts()["total"] / 5


def test_cccl_schedule_scales_with_the_epoch_count():
    from motion_retrieval.models.config import scale_cccl_schedule

    paper = scale_cccl_schedule(get_preset("paper"), 250)
    assert (paper.loss.cccl_start_epoch, paper.loss.cccl_end_epoch) == (40, 100)
    # The cpu preset's own hand-off is the paper's share of its 12-epoch recipe (training.config's cpu preset).
    short = scale_cccl_schedule(get_preset("cpu"), 12)
    assert (short.loss.cccl_start_epoch, short.loss.cccl_end_epoch) == (2, 5) == (
        get_preset("cpu").loss.cccl_start_epoch, get_preset("cpu").loss.cccl_end_epoch)
    one = scale_cccl_schedule(get_preset("cpu"), 1)
    assert (one.loss.cccl_start_epoch, one.loss.cccl_end_epoch) == (0, 0)
    with pytest.raises(ConfigError, match="epochs"):
        scale_cccl_schedule(get_preset("cpu"), 0)
