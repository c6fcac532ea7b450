"""The weight average (train.ema_decay): the update rule, and that the run's towers, validation and resume use it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from motion_retrieval.data.sources import parse_data_arg
from motion_retrieval.errors import ConfigError
from motion_retrieval.run_dir import load_run, tower_state_dicts
from motion_retrieval.training.config import TrainConfig, resolve_config_spec
from motion_retrieval.training.ema import WeightAverage
from motion_retrieval.training.trainer import Trainer, load_training_data


class _Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(3))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))


def test_update_follows_the_warmed_up_decay_and_copies_integer_buffers():
    model = _Counter()
    ema = WeightAverage(model, decay=0.9)
    expected = torch.zeros(3)
    for step in range(1, 100):
        with torch.no_grad():
            model.weight.fill_(float(step))
        model.seen.fill_(step)
        ema.update(model)
        decay = min(0.9, (1 + step) / (10 + step))  # the warm-up keeps the start from dominating a short run
        expected = decay * expected + (1 - decay) * float(step)
        assert torch.allclose(ema.module.weight, expected.expand(3))
        assert int(ema.module.seen) == step
    assert ema.current_decay() == 0.9
    assert not ema.module.weight.requires_grad


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_decay_outside_the_open_unit_interval_is_refused(decay):
    with pytest.raises(ValueError, match="EMA decay"):
        WeightAverage(_Counter(), decay)


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_config_refuses_an_ema_decay_outside_zero_to_one(value):
    with pytest.raises(ConfigError, match="ema_decay"):
        TrainConfig(ema_decay=value)


def _sources(corpora):
    return [parse_data_arg(f"humanml3d={corpora['humanml3d']}"), parse_data_arg(f"kitml={corpora['kitml']}")]


def test_the_run_saves_the_average_not_the_last_weights(corpora, backbone, tmp_path):
    spec = resolve_config_spec("tiny", epochs=1, ema_decay=0.5)
    data = load_training_data(_sources(corpora), spec.train, progress=False)
    trainer = Trainer(tmp_path / "ema", spec.model, spec.train, data, backbone=backbone, progress=False)
    trainer.fit()
    assert trainer.served_model is trainer.ema.module
    assert trainer.ema.updates > 1
    saved = tower_state_dicts(load_run(tmp_path / "ema").model)
    averaged, raw = tower_state_dicts(trainer.ema.module), tower_state_dicts(trainer.model)
    for tower, state in saved.items():
        for name, value in state.items():
            assert torch.equal(value, averaged[tower][name]), (tower, name)
        assert any(not torch.equal(v, raw[tower][n]) for n, v in state.items() if v.is_floating_point())

    # Resuming restores the average (a second epoch continues it instead of starting a new one).
    updates = trainer.ema.updates
    more = resolve_config_spec("tiny", epochs=2, ema_decay=0.5)
    resumed = Trainer(tmp_path / "ema", more.model, more.train, data, backbone=backbone, progress=False)
    assert resumed.try_resume()
    assert resumed.ema.updates == updates
    for name, value in resumed.ema.module.state_dict().items():
        assert torch.equal(value, trainer.ema.module.state_dict()[name]), name

    # A checkpoint written without an average cannot silently resume into a run that expects one.
    plain = resolve_config_spec("tiny", epochs=1)
    Trainer(tmp_path / "plain", plain.model, plain.train, data, backbone=backbone, progress=False).fit()
    expects = Trainer(tmp_path / "plain", more.model, more.train, data, backbone=backbone, progress=False)
    with pytest.raises(ConfigError, match="no weight average"):
        expects.try_resume()
