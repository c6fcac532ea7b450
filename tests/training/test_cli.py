"""The ``train`` and ``evaluate`` commands end to end on tiny generated corpora, and their errors on bad input."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest
import torch

from motion_retrieval import run_dir as run_dir_module
from motion_retrieval.cli import main
from motion_retrieval.evaluation.metrics import metric_keys


def _json(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out  # --json prints exactly one JSON object
    return json.loads(out[0])


@pytest.fixture(scope="module")
def kit_train(corpora, backbone, tmp_path_factory):
    """A kitml-only run trained through the CLI (the session backbone is shared in-process): (run dir, stdout)."""
    run = tmp_path_factory.mktemp("cli") / "kit_run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["train", "--data", f"kitml={corpora['kitml']}", "--out", str(run), "--config", "tiny",
                   "--epochs", "1", "--fp16", "--json"])
    assert rc == 0
    return run, stdout.getvalue()


@pytest.fixture(scope="module")
def kit_run(kit_train):
    return kit_train[0]


def test_train_reports_json_and_writes_a_run(kit_train):
    run, stdout = kit_train
    lines = stdout.strip().splitlines()
    assert len(lines) == 1  # --json prints exactly one JSON object
    report = json.loads(lines[0])
    assert report["epochs"] == 1 and report["run_dir"] == str(run)
    assert "train/loss" in report["last"] and "val/rsum" in report["last"]
    state = torch.load(run / "text_encoder.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())  # --fp16
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["datasets"][0]["name"] == "kitml" and config["data"]["val"]["name"] == "kitml"


def test_evaluate_json_has_the_stable_keys(tiny_run, corpora, capsys, tmp_path):
    out = tmp_path / "results.json"
    assert main(["evaluate", "--run", str(tiny_run.run_dir), "--data", f"humanml3d={corpora['humanml3d']}",
                 "--json", "--out", str(out)]) == 0
    report = _json(capsys)
    assert report["dataset"] == "humanml3d" and report["split"] == "test"
    assert report["stats"] == "run:humanml3d"  # trained on it: the run's own statistics
    assert report["motions"] == 8
    assert set(report["protocols"]) == {"normal", "threshold"}  # 8 motions < one batch of 32: 'all' skips batches
    for metrics in report["protocols"].values():
        assert set(metrics) == set(metric_keys())
        assert 0 <= metrics["t2m/R01"] <= metrics["t2m/R10"] <= 100
    assert json.loads(out.read_text()) == report


def test_evaluate_batches_protocol_and_markdown(tiny_run, corpora, capsys, tmp_path):
    table = tmp_path / "table.md"
    assert main(["evaluate", "--run", str(tiny_run.run_dir), "--data", f"humanml3d={corpora['humanml3d']}",
                 "--protocol", "batches", "--guo-batch-size", "4", "--out", str(table)]) == 0
    printed = capsys.readouterr().out
    assert "| batches |" in printed and "t2m/R01" in printed
    assert "| batches |" in table.read_text() and "nDCG10" in table.read_text()


def test_cross_dataset_uses_the_evaluated_datasets_train_statistics(kit_run, corpora, capsys):
    assert main(["evaluate", "--run", str(kit_run), "--data", f"humanml3d={corpora['humanml3d']}",
                 "--protocol", "normal", "--json"]) == 0
    assert _json(capsys)["stats"] == "dataset:humanml3d/train"
    assert main(["evaluate", "--run", str(kit_run), "--data", f"humanml3d={corpora['humanml3d']}",
                 "--protocol", "normal", "--stats", "run", "--json"]) == 0
    assert _json(capsys)["stats"] == "run:kitml"


def test_evaluate_without_run_uses_the_default_model(tiny_run, corpora, capsys, monkeypatch):
    monkeypatch.setattr(run_dir_module, "default_run_dir", lambda: tiny_run.run_dir)
    assert main(["evaluate", "--data", f"humanml3d={corpora['humanml3d']}", "--protocol", "normal", "--json"]) == 0
    assert _json(capsys)["run"] == str(tiny_run.run_dir)


# -- bad input -------------------------------------------------------------------------------------------------------


def _error(capsys):
    return capsys.readouterr().err


def test_train_on_a_folder_without_usable_clips(tmp_path, capsys):
    folder = tmp_path / "empty_h3d"
    (folder / "new_joint_vecs").mkdir(parents=True)
    (folder / "train.txt").write_text("000000\n000001\n")
    assert main(["train", "--data", f"humanml3d={folder}", "--out", str(tmp_path / "run"), "--config", "tiny"]) == 1
    err = _error(capsys)
    assert "no usable clips" in err and str(folder) in err


def test_train_on_motions_without_captions(corpora, tmp_path, capsys):
    folder = tmp_path / "no_texts"
    shutil.copytree(corpora["kitml"], folder)
    shutil.rmtree(folder / "texts")
    assert main(["train", "--data", f"kitml={folder}", "--out", str(tmp_path / "run"), "--config", "tiny"]) == 1
    err = _error(capsys)
    assert "no usable clips" in err and "without a usable caption" in err


def test_train_with_bad_data_arguments(tmp_path, capsys):
    assert main(["train", "--data", f"humanml3d={tmp_path / 'missing'}", "--out", str(tmp_path / "r")]) == 1
    assert "no such folder" in _error(capsys)
    assert main(["train", "--data", f"motionx={tmp_path}", "--out", str(tmp_path / "r")]) == 1
    assert "unknown reader" in _error(capsys)
    assert main(["train", "--data", f"humanml3d={tmp_path}", "--out", str(tmp_path / "r"), "--config", "huge"]) == 1
    assert "neither a preset" in _error(capsys)


def test_evaluate_refuses_an_incompatible_run(tiny_run, corpora, tmp_path, capsys):
    run = tmp_path / "old_run"
    shutil.copytree(tiny_run.run_dir, run)
    config = json.loads((run / "config.json").read_text())
    config["format_version"] = 0
    (run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", "--run", str(run), "--data", f"humanml3d={corpora['humanml3d']}"]) == 1
    assert "format_version 0 is not supported" in _error(capsys)


def test_evaluate_names_missing_tensors(tiny_run, corpora, tmp_path, capsys):
    run = tmp_path / "broken_run"
    shutil.copytree(tiny_run.run_dir, run)
    state = torch.load(run / "motion_encoder.pt", weights_only=True)
    removed = sorted(state)[-1]
    del state[removed]
    torch.save(state, run / "motion_encoder.pt")
    assert main(["evaluate", "--run", str(run), "--data", f"humanml3d={corpora['humanml3d']}"]) == 1
    err = _error(capsys)
    assert "motion_encoder.pt" in err and removed in err


def test_evaluate_split_and_protocol_errors(tiny_run, corpora, tmp_path, capsys):
    assert main(["evaluate", "--run", str(tiny_run.run_dir), "--data", f"humanml3d={corpora['humanml3d']}",
                 "--split", "holdout"]) == 1
    assert "holdout" in _error(capsys)
    assert main(["evaluate", "--run", str(tiny_run.run_dir), "--data", f"humanml3d={corpora['humanml3d']}",
                 "--protocol", "nsim"]) == 1
    assert "nsim_test" in _error(capsys)
    assert main(["evaluate", "--run", str(tmp_path / "nothing"), "--data", f"humanml3d={corpora['humanml3d']}"]) == 1
    assert "run directory not found" in _error(capsys)
