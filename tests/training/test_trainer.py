"""One-epoch training on a tiny generated corpus: the loss goes down, the run directory is complete and
self-describing, metrics use stable keys, and a run resumes from its checkpoint."""

from __future__ import annotations

import json
import shutil

import numpy as np
import torch

from motion_retrieval.data.sources import parse_data_arg
from motion_retrieval.evaluation.embedding import embed_set
from motion_retrieval.evaluation.metrics import metric_keys
from motion_retrieval.run_dir import load_run
from motion_retrieval.stats import DEFAULT_MIN_STD
from motion_retrieval.training.config import resolve_config_spec
from motion_retrieval.training.trainer import read_metrics, train_run


def test_one_epoch_lowers_the_training_objective(tiny_run):
    assert tiny_run.loss_after < tiny_run.loss_before


def test_run_directory_is_complete(tiny_run):
    names = {p.name for p in tiny_run.run_dir.iterdir()}
    assert {"config.json", "motion_encoder.pt", "text_encoder.pt", "stats", "metrics.jsonl", "curves.png",
            "checkpoint.pt"} <= names
    assert sorted(p.name for p in (tiny_run.run_dir / "stats").iterdir()) == ["humanml3d.npz", "kitml.npz"]
    config = json.loads((tiny_run.run_dir / "config.json").read_text())
    assert config["format_version"] == 1
    assert config["model"]["name"] == "tiny"
    assert config["train"]["epochs"] == 1 and config["train"]["lr"] == 1e-3
    assert [d["name"] for d in config["data"]["datasets"]] == ["humanml3d", "kitml"]
    assert config["data"]["val"]["name"] == "humanml3d"
    assert (tiny_run.run_dir / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_metrics_lines_have_stable_keys(tiny_run):
    lines = read_metrics(tiny_run.run_dir / "metrics.jsonl")
    assert len(lines) == 1 and lines[0]["epoch"] == 0
    line = lines[0]
    for key in ("train/loss", "train/contrastive_loss", "train/epoch_time_s", "train/samples_per_s", "wall_time_s",
                "lr"):
        assert key in line
    for key in metric_keys():
        assert f"val/{key}" in line
    # the training loss reported is the sum of the *_loss terms
    terms = sum(v for k, v in line.items() if k.startswith("train/") and k.endswith("_loss"))
    assert np.isclose(line["train/loss"], terms, rtol=1e-4)


def test_each_dataset_has_its_own_normalisation(tiny_run):
    normalizers = tiny_run.trainer.data.normalizers
    assert not np.allclose(normalizers["humanml3d"].mean, normalizers["kitml"].mean)
    for name, records in tiny_run.trainer.data.train.items():
        frames = np.concatenate([r.features for r in records])
        normalised = normalizers[name].normalize(frames)
        # Dims constant over the training set (std < stats.DEFAULT_MIN_STD) are centred but deliberately not scaled.
        varying = frames.std(0) > DEFAULT_MIN_STD
        assert varying.sum() > 200
        assert np.allclose(normalised.mean(0)[varying], 0, atol=1e-3)
        assert np.allclose(normalised.std(0)[varying], 1, atol=1e-3)


def test_loaded_run_reproduces_the_trained_embeddings_exactly(tiny_run):
    trainer = tiny_run.trainer
    loaded = load_run(tiny_run.run_dir)
    assert loaded.model.config.to_dict() == trainer.model_config.to_dict()
    for name, normalizer in trainer.data.normalizers.items():
        assert np.array_equal(loaded.normalizers[name].mean, normalizer.mean)
        assert np.array_equal(loaded.normalizers[name].std, normalizer.std)
    original = embed_set(trainer.model, trainer.val_set, trainer.cache, batch_size=4)
    reloaded = embed_set(loaded.model, trainer.val_set, trainer.cache, batch_size=4)
    assert np.array_equal(original.motion, reloaded.motion)
    assert np.array_equal(original.text, reloaded.text)


def test_resume_continues_from_the_checkpoint(tiny_run, corpora, backbone, tmp_path):
    run_dir = tmp_path / "resumed"
    shutil.copytree(tiny_run.run_dir, run_dir)
    before = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    assert before["epoch"] == 1
    spec = resolve_config_spec("tiny", epochs=2)
    result = train_run(run_dir, [parse_data_arg(f"humanml3d={corpora['humanml3d']}"),
                                 parse_data_arg(f"kitml={corpora['kitml']}")],
                       spec.model, spec.train, progress=False, backbone=backbone)
    lines = read_metrics(run_dir / "metrics.jsonl")
    assert [line["epoch"] for line in lines] == [0, 1]  # epoch 0 was not trained again
    assert lines[0] == read_metrics(tiny_run.run_dir / "metrics.jsonl")[0]
    assert result.epochs == 2
    assert torch.load(run_dir / "checkpoint.pt", weights_only=False)["epoch"] == 2
    assert json.loads((run_dir / "config.json").read_text())["train"]["epochs"] == 2
