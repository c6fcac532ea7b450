"""Shared fixtures for the training tests: tiny procedural corpora of both dialects, the frozen text backbone
(loaded once per session: it is the slow part), and one tiny training run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from motion_retrieval.data.batching import Collator, to_device
from motion_retrieval.data.sources import parse_data_arg
from motion_retrieval.models.text_backbone import shared_backbone
from motion_retrieval.synth.corpus import generate_corpus
from motion_retrieval.training.config import resolve_config_spec
from motion_retrieval.training.trainer import Trainer, TrainResult, load_training_data, sum_losses


@pytest.fixture(scope="session")
def corpora(tmp_path_factory) -> dict[str, Path]:
    """24 HumanML3D-dialect clips (48 with mirrors) and 12 KIT-dialect clips (24), real folder formats."""
    root = tmp_path_factory.mktemp("corpora")
    generate_corpus(root / "humanml3d", "humanml3d", n=24, seed=1)
    generate_corpus(root / "kitml", "kitml", n=12, seed=2)
    return {"humanml3d": root / "humanml3d", "kitml": root / "kitml"}


@pytest.fixture(scope="session")
def backbone():
    return shared_backbone("all-MiniLM-L6-v2")


@torch.no_grad()
def objective(trainer: Trainer, epoch: int = 0) -> float:
    """The summed training objective over the whole joint training set, deterministic (eval mode: no dropout,
    z = mu), with the same caption draw every time."""
    trainer.model.eval()
    total, batches = 0.0, 0
    for dataset in trainer.train_sets:
        dataset.set_epoch(0)
        for batch in DataLoader(dataset, batch_size=16, collate_fn=Collator(trainer.cache)):
            total += float(sum_losses(trainer.model(to_device(batch, trainer.device), epoch)))
            batches += 1
    return total / batches


@dataclass
class TinyRun:
    run_dir: Path
    trainer: Trainer
    result: TrainResult
    loss_before: float
    loss_after: float


@pytest.fixture(scope="session")
def tiny_run(corpora, backbone, tmp_path_factory) -> TinyRun:
    """One epoch of the tiny preset, jointly on both corpora."""
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    spec = resolve_config_spec("tiny", epochs=1)
    sources = [parse_data_arg(f"humanml3d={corpora['humanml3d']}"), parse_data_arg(f"kitml={corpora['kitml']}")]
    data = load_training_data(sources, spec.train, progress=False)
    trainer = Trainer(run_dir, spec.model, spec.train, data, backbone=backbone, progress=False)
    before = objective(trainer)
    result = trainer.fit()
    after = objective(trainer)
    return TinyRun(run_dir, trainer, result, before, after)
