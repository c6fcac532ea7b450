"""The learning-rate schedule (train.lr_schedule, lr_warmup_epochs, lr_min_ratio): the factor curve, the config's
checks, and that the trainer follows it step by step and continues it on resume."""

from __future__ import annotations

import math

import pytest

from motion_retrieval.data.sources import parse_data_arg
from motion_retrieval.errors import ConfigError
from motion_retrieval.training.config import TrainConfig, resolve_config_spec
from motion_retrieval.training.schedule import lr_factor
from motion_retrieval.training.trainer import Trainer, load_training_data, read_metrics


def test_constant_without_warmup_is_the_papers_recipe():
    assert all(lr_factor(p, 12) == 1.0 for p in (0.01, 0.5, 6.0, 12.0))


def test_warmup_rises_linearly_then_holds_or_decays():
    assert lr_factor(0.25, 12, warmup_epochs=1.0) == pytest.approx(0.25)
    assert lr_factor(0.5, 12, warmup_epochs=1.0, schedule="cosine") == pytest.approx(0.5)
    assert lr_factor(1.0, 12, warmup_epochs=1.0) == 1.0
    assert lr_factor(5.0, 12, warmup_epochs=1.0) == 1.0  # constant after the warm-up


def test_cosine_runs_from_one_to_the_floor_over_the_epochs_after_the_warmup():
    assert lr_factor(1.0, 11, warmup_epochs=1.0, schedule="cosine") == pytest.approx(1.0)
    assert lr_factor(6.0, 11, warmup_epochs=1.0, schedule="cosine") == pytest.approx(0.5)  # half-way
    assert lr_factor(11.0, 11, warmup_epochs=1.0, schedule="cosine") == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(11.0, 11, schedule="cosine", min_ratio=0.1) == pytest.approx(0.1)
    curve = [lr_factor(p / 10, 4, schedule="cosine") for p in range(1, 41)]
    assert all(a >= b for a, b in zip(curve, curve[1:]))  # never rises again
    assert lr_factor(2.0, 4, schedule="cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi / 2)))


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="lr_schedule"):
        lr_factor(1.0, 4, schedule="step")


@pytest.mark.parametrize("options, message", [
    ({"lr_schedule": "linear"}, "lr_schedule"),
    ({"lr_warmup_epochs": -1.0}, "lr_warmup_epochs"),
    ({"lr_warmup_epochs": 13.0, "epochs": 12}, "lr_warmup_epochs"),
    ({"lr_min_ratio": 1.5}, "lr_min_ratio"),
])
def test_config_refuses_a_schedule_it_cannot_follow(options, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**options)


def test_old_run_configs_without_the_fields_load_as_constant():
    config = TrainConfig.from_dict({"lr": 3e-4, "epochs": 12})
    assert (config.lr_schedule, config.lr_warmup_epochs, config.lr_min_ratio) == ("constant", 0.0, 0.0)


def _trainer(corpora, backbone, run_dir, epochs):
    spec = resolve_config_spec("tiny", epochs=epochs, lr_schedule="cosine", lr_warmup_epochs=0.5, lr_min_ratio=0.1)
    sources = [parse_data_arg(f"humanml3d={corpora['humanml3d']}"), parse_data_arg(f"kitml={corpora['kitml']}")]
    data = load_training_data(sources, spec.train, progress=False)
    return Trainer(run_dir, spec.model, spec.train, data, backbone=backbone, progress=False), spec.train


def _record_rates(trainer) -> list[float]:
    """The learning rate of every optimizer step the trainer takes from now on (filled as it trains)."""
    rates: list[float] = []
    step = trainer.optimizer.step

    def recording_step(*args, **kwargs):
        rates.append(trainer.optimizer.param_groups[0]["lr"])
        return step(*args, **kwargs)

    trainer.optimizer.step = recording_step
    return rates


def test_the_trainer_sets_every_steps_lr_and_a_resumed_run_continues_the_curve(corpora, backbone, tmp_path):
    trainer, config = _trainer(corpora, backbone, tmp_path / "run", epochs=2)
    seen = _record_rates(trainer)
    trainer.fit()
    steps = len(seen) // 2
    assert len(seen) == 2 * steps and steps >= 2
    expected = [config.lr * lr_factor(e + (s + 1) / steps, 2, 0.5, "cosine", 0.1)
                for e in range(2) for s in range(steps)]
    assert seen == pytest.approx(expected)
    assert seen[0] < seen[steps - 1]  # warming up over the first half epoch
    assert seen[-1] == pytest.approx(0.1 * config.lr)  # the floor at the very end
    lines = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [line["lr"] for line in lines] == pytest.approx([expected[steps - 1], expected[-1]])

    # A run interrupted during its second epoch, then resumed, takes the same second-epoch rates.
    first, _ = _trainer(corpora, backbone, tmp_path / "resumed", epochs=2)
    train_epoch = first.train_epoch

    def interrupted(epoch):
        if epoch == 1:
            raise _Stop
        return train_epoch(epoch)

    first.train_epoch = interrupted
    with pytest.raises(_Stop):
        first.fit()
    resumed, _ = _trainer(corpora, backbone, tmp_path / "resumed", epochs=2)
    again = _record_rates(resumed)
    resumed.fit()
    assert again == pytest.approx(expected[steps:])


class _Stop(Exception):
    """Stands for a run killed mid-epoch."""
