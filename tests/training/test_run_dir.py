"""The run directory: save -> load reproduces embeddings exactly; what cannot be loaded is refused by name."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motion_retrieval.errors import ConfigError
from motion_retrieval.models.factory import create_model
from motion_retrieval.run_dir import default_run_dir, load_run, save_run
from motion_retrieval.stats import Normalizer


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("tiny").eval()


def _normalizers():
    rng = np.random.default_rng(0)
    return {"humanml3d": Normalizer(rng.normal(size=263).astype(np.float32),
                                    rng.uniform(0.5, 2, 263).astype(np.float32))}


def _inputs():
    generator = torch.Generator().manual_seed(1)
    motion = torch.randn(3, 40, 263, generator=generator)
    motion_mask = torch.arange(40)[None] < torch.tensor([[40], [25], [7]])
    states = torch.randn(3, 9, 384, generator=generator)
    text_mask = torch.arange(9)[None] < torch.tensor([[9], [5], [3]])
    return motion, motion_mask, states, text_mask


def _embed(model):
    motion, motion_mask, states, text_mask = _inputs()
    with torch.no_grad():
        return model.embed_motion(motion, motion_mask), model.embed_text(states, text_mask)


@pytest.fixture()
def run_dir(model, tmp_path):
    config = {"train": {"epochs": 1}, "data": {"datasets": [{"name": "humanml3d", "reader": "humanml3d",
                                                             "path": "/data"}]}}
    return save_run(tmp_path / "run", model, config, _normalizers())


def test_save_then_load_reproduces_embeddings_exactly(model, run_dir):
    loaded = load_run(run_dir)
    for original, reloaded in zip(_embed(model), _embed(loaded.model)):
        assert torch.equal(original, reloaded)
    assert not loaded.model.training
    assert np.array_equal(loaded.normalizers["humanml3d"].std, _normalizers()["humanml3d"].std)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["format_version"] == 1 and config["model"] == model.config.to_dict()


def test_float16_towers_are_the_rounded_weights(model, tmp_path):
    run = save_run(tmp_path / "half", model, {"train": {}, "data": {}}, _normalizers(), half=True)
    state = torch.load(run / "motion_encoder.pt", weights_only=True)
    assert all(t.dtype == torch.float16 for t in state.values() if t.is_floating_point())
    rounded = create_model(model.config.to_dict()).eval()
    rounded.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                             for k, v in model.state_dict().items()})
    for a, b in zip(_embed(rounded), _embed(load_run(run).model)):
        assert torch.equal(a, b)


def test_the_model_is_rebuilt_from_config_json_not_from_presets(model, run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["motion"]["d_model"] == 32
    config["model"]["name"] = "renamed"  # a preset name that no longer exists must not matter
    (run_dir / "config.json").write_text(json.dumps(config))
    assert load_run(run_dir).model.config.motion.d_model == 32


def test_incompatible_format_version(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    config["format_version"] = 99
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="format_version 99 is not supported"):
        load_run(run_dir)


def test_missing_and_extra_tensors_are_named(run_dir):
    path = run_dir / "text_encoder.pt"
    state = torch.load(path, weights_only=True)
    removed = sorted(state)[0]
    del state[removed]
    state["surprise.weight"] = torch.zeros(2)
    torch.save(state, path)
    with pytest.raises(ConfigError, match="missing tensors") as info:
        load_run(run_dir)
    assert removed in str(info.value) and "surprise.weight" in str(info.value) and "text_encoder.pt" in str(info.value)


def test_shape_mismatch_is_named(run_dir):
    path = run_dir / "motion_encoder.pt"
    state = torch.load(path, weights_only=True)
    key = next(k for k, v in state.items() if v.ndim == 2)
    state[key] = torch.zeros(3, 3)
    torch.save(state, path)
    with pytest.raises(ConfigError, match="shape mismatches") as info:
        load_run(run_dir)
    assert key in str(info.value)


@pytest.mark.parametrize("victim, message", [
    ("config.json", "config.json: missing"),
    ("motion_encoder.pt", "motion_encoder.pt: missing tower weights"),
    ("stats/humanml3d.npz", "stats: missing"),
])
def test_missing_files(run_dir, victim, message):
    (run_dir / victim).unlink()
    with pytest.raises(ConfigError, match=message):
        load_run(run_dir)


def test_corrupt_tower_and_missing_directory(run_dir, tmp_path):
    (run_dir / "text_encoder.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable state dict"):
        load_run(run_dir)
    with pytest.raises(ConfigError, match="run directory not found"):
        load_run(tmp_path / "nowhere")


def test_default_run_dir_is_inside_the_package():
    assert default_run_dir().parts[-3:] == ("motion_retrieval", "pretrained", "default")
