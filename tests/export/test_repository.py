from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motion_retrieval.errors import ConfigError
from motion_retrieval.export.identity import compute_model_id
from motion_retrieval.export.torchscript import load_torchscript
from motion_retrieval.serving.motions import pad_motions
from motion_retrieval.serving.repository import INFO_FILE, read_repository_info
from motion_retrieval.serving.tokenizer import TextTokenizer


def test_export_writes_the_documented_layout(tiny_repo):
    for rel in ["motion_encoder/config.pbtxt", "motion_encoder/1/model.pt", "motion_encoder/warmup/mask",
                "text_encoder/config.pbtxt", "text_encoder/1/model.pt", "text_encoder/tokenizer.json",
                "text_encoder/warmup/input_ids", "text_encoder/warmup/attention_mask", INFO_FILE]:
        assert (tiny_repo / rel).is_file(), rel
    data = json.loads((tiny_repo / INFO_FILE).read_text())
    assert {"model_id", "dim", "max_frames", "feature_dim", "max_text_tokens", "text_backbone", "stats_dataset",
            "created_from", "format_version", "torch_version", "weights_sha256"} <= set(data)
    assert data["torch_version"] == torch.__version__ and data["format_version"] == 2
    assert set(data["weights_sha256"]) == {"motion_encoder", "text_encoder"}
    assert data["dim"] == 256 and data["max_frames"] == 200 and data["feature_dim"] == 263
    assert data["model_id"].startswith("mr-") and len(data["model_id"]) == 15
    assert data["torchscript"] == {"motion_encoder": "script", "text_encoder": "script"}
    info = read_repository_info(tiny_repo)
    assert info.model_id == data["model_id"] and info.serving.max_batch_size == 16


def test_exported_files_compute_what_the_towers_compute(tiny_repo, make_towers, tokenizer_json, humanml3d_sample):
    motion_tower, text_tower = make_towers(0)  # the same seed as tiny_repo
    motion_model = load_torchscript(tiny_repo / "motion_encoder" / "1" / "model.pt")
    text_model = load_torchscript(tiny_repo / "text_encoder" / "1" / "model.pt")
    real = np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")
    motion, mask = (torch.from_numpy(a) for a in pad_motions([real.astype(np.float32), real[:40].astype(np.float32)]))
    ids, attention = (torch.from_numpy(a) for a in TextTokenizer(tokenizer_json, 32).encode(["a man jumps", "run"]))
    assert ids.shape == (2, 32)  # the served fixed length
    with torch.no_grad():
        torch.testing.assert_close(motion_model(motion, mask), motion_tower(motion, mask), rtol=0, atol=1e-6)
        torch.testing.assert_close(text_model(ids, attention), text_tower(ids, attention), rtol=0, atol=1e-6)


def test_model_id_is_a_deterministic_content_hash(tmp_path, export_tiny_repo, tiny_repo):
    again = export_tiny_repo(tmp_path / "again", seed=0)
    other = export_tiny_repo(tmp_path / "other", seed=1)
    assert again.info.model_id == read_repository_info(tiny_repo).model_id
    assert other.info.model_id != again.info.model_id
    module = torch.nn.Linear(2, 2)
    assert compute_model_id([module], {"dim": 256}) != compute_model_id([module], {"dim": 128})


def test_broken_runs_are_refused_and_nothing_is_written(tmp_path, make_towers, export_tiny_repo):
    out = tmp_path / "repo"
    _, text_tower = make_towers(0)
    with torch.no_grad():
        text_tower.text_encoder.mu.bias[3] = float("inf")
    with pytest.raises(ConfigError, match=r"text tower: weight 'text_encoder\.mu\.bias' contains NaN or inf"):
        export_tiny_repo(out, text_tower=text_tower)
    assert not out.exists()
    motion_tower, _ = make_towers(0)
    motion_tower.std[5] = 0.0
    with pytest.raises(ConfigError, match=r"statistics of 'synthetic' hold NaN/inf or a std <= 0"):
        export_tiny_repo(out, motion_tower=motion_tower)
    assert not out.exists()
    with pytest.raises(ConfigError, match=r"returns 256-d embeddings, expected 128"):
        export_tiny_repo(out, dim=128)
    assert not out.exists()


def test_read_repository_info_names_what_is_missing(tmp_path, tiny_repo):
    with pytest.raises(ConfigError, match=r"motion_retrieval.json: not found"):
        read_repository_info(tmp_path)
    (tmp_path / INFO_FILE).write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_repository_info(tmp_path)
    data = json.loads((tiny_repo / INFO_FILE).read_text())
    del data["dim"]
    (tmp_path / INFO_FILE).write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"missing key 'dim'"):
        read_repository_info(tmp_path)
    data = json.loads((tiny_repo / INFO_FILE).read_text())
    (tmp_path / INFO_FILE).write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"text_encoder/tokenizer.json: missing from the model repository"):
        read_repository_info(tmp_path)
    (tmp_path / "text_encoder").mkdir()
    (tmp_path / "text_encoder" / "tokenizer.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"motion_encoder/1/model.pt: missing .*built by `motion-retrieval export`"):
        read_repository_info(tmp_path)
    assert read_repository_info(tmp_path, require_models=False).model_id == data["model_id"]
    for key, value, message in [("format_version", 1, "format_version 1; this code reads 2: re-export"),
                                ("model_id", "mr-x", "model_id 'mr-x' is not 'mr-' followed by 12 hex digits"),
                                ("weights_sha256", {"motion_encoder": "00"}, "no 64-hex digest for 'motion_encoder'")]:
        (tmp_path / INFO_FILE).write_text(json.dumps({**data, key: value}))
        with pytest.raises(ConfigError, match=message):
            read_repository_info(tmp_path, require_models=False)


def test_a_model_file_swapped_under_the_same_id_is_refused_at_load(tmp_path, tiny_repo, export_tiny_repo):
    """Issue 11 item 8: the id is bound to the weights. Another export's motion tower under this repository's
    motion_retrieval.json is refused when the repository is loaded, naming the file and what to do."""
    import shutil

    from motion_retrieval.inference.embedder import TorchScriptEmbedder

    other = export_tiny_repo(tmp_path / "other", seed=1)
    swapped = tmp_path / "swapped"
    shutil.copytree(tiny_repo, swapped)
    shutil.copyfile(other.info.motion_model, swapped / "motion_encoder" / "1" / "model.pt")
    with pytest.raises(ConfigError, match=r"motion_encoder/1/model.pt: its weights do not match model mr-[0-9a-f]{12}"
                                          r" .*replaced or changed after export.*`motion-retrieval export`"):
        TorchScriptEmbedder(swapped)
    assert TorchScriptEmbedder(tiny_repo).model_id == read_repository_info(tiny_repo).model_id


def test_optional_torch_export_program(tmp_path, export_tiny_repo, make_towers, humanml3d_sample):
    result = export_tiny_repo(tmp_path / "repo", write_program=True)
    program_path = tmp_path / "repo" / "motion_encoder" / "1" / "model.pt2"
    assert program_path in result.files
    program = torch.export.load(str(program_path))
    motion_tower, _ = make_towers(0)
    real = np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")
    motion, mask = (torch.from_numpy(a) for a in pad_motions([real, real[:30], real[50:]]))  # another batch size
    with torch.no_grad():
        torch.testing.assert_close(program.module()(motion, mask), motion_tower(motion, mask), rtol=0, atol=1e-6)


def test_a_module_torch_export_cannot_capture_is_refused_before_writing(tmp_path, export_tiny_repo):
    from torch import nn

    from motion_retrieval.export.towers import MotionTower

    class ChecksItsInput(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(263, 256)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            if not bool(mask.any(dim=1).all()):  # data-dependent Python control flow
                raise ValueError("a motion without real frames")
            mu = self.proj(x.mean(1))
            return mu, mu

    tower = MotionTower(ChecksItsInput(), np.zeros(263, np.float32), np.ones(263, np.float32))
    with pytest.raises(ConfigError, match=r"torch.export cannot capture it .*export without --torch-export"):
        export_tiny_repo(tmp_path / "repo", motion_tower=tower, write_program=True)
    assert not (tmp_path / "repo").exists()
