"""export_run / `motion-retrieval export` on a real (tiny, untrained) run directory of the project's own models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motion_retrieval.cli import main
from motion_retrieval.errors import ConfigError
from motion_retrieval.export.repository import export_run, read_repository_info
from motion_retrieval.inference.embedder import TorchScriptEmbedder
from motion_retrieval.serving.motions import pad_motions

run_dir_module = pytest.importorskip("motion_retrieval.run_dir")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, humanml3d_sample):
    from motion_retrieval.models.factory import create_model
    from motion_retrieval.stats import Normalizer

    torch.manual_seed(0)
    model = create_model("tiny", motion__max_frames=200).eval()
    humanml3d = Normalizer(np.load(humanml3d_sample / "Mean.npy"), np.load(humanml3d_sample / "Std.npy"))
    normalizers = {"humanml3d": humanml3d, "kitml": Normalizer(np.zeros(263, np.float32), np.ones(263, np.float32))}
    run = tmp_path_factory.mktemp("run")
    run_dir_module.save_run(run, model, {"train": {}, "data": {"datasets": [{"name": "kitml"}, {"name": "humanml3d"}]}},
                            normalizers)
    return run


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """`motion-retrieval export --run RUN --out REPO --json`, in process."""
    out = tmp_path_factory.mktemp("repo")
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["export", "--run", str(tiny_run), "--out", str(out), "--json"]) == 0
    return out, json.loads(stdout.getvalue())


def test_export_cli_prints_one_json_object_and_writes_the_repository(exported, tiny_run):
    out, report = exported
    info = read_repository_info(out)
    assert report["model_id"] == info.model_id and report["repository"] == str(out)
    assert info.stats_dataset == "humanml3d"  # preferred over the run's first dataset
    assert info.text_backbone == "all-MiniLM-L6-v2" and info.max_text_tokens == 32
    assert info.created_from == str(tiny_run.resolve())
    assert report["verification"]["motion_encoder"]["cases"] == 4  # random and the real fixture, batches 1 and several
    assert "kind: KIND_CPU" in (out / "motion_encoder" / "config.pbtxt").read_text()  # loads on any node
    assert "kind: KIND_GPU" in (out / "motion_encoder" / "configs" / "gpu.pbtxt").read_text()
    assert report["info"]["torch_version"] == torch.__version__


def test_exported_embeddings_are_the_trained_models(exported, tiny_run, humanml3d_sample):
    """The served path (raw features, tokenizer.json) == the training path (Normalizer, TextBackbone + text head)."""
    from motion_retrieval.models.text_backbone import TextBackbone

    out, _ = exported
    loaded = run_dir_module.load_run(tiny_run)
    embedder = TorchScriptEmbedder(out)
    real = np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")
    motions = [real, real[20:90]]
    motion, mask = (torch.from_numpy(a) for a in pad_motions(motions))
    with torch.no_grad():
        expected = loaded.model.embed_motion(loaded.normalizers["humanml3d"].normalize(motion), mask).numpy()
    np.testing.assert_allclose(embedder.embed_motions(motions), expected, rtol=0, atol=1e-5)

    captions = ["a person walks forward and turns left", "jumping jacks"]
    backbone = TextBackbone()
    ids, attention = backbone.tokenize(captions, loaded.model.config.text.max_tokens)
    with torch.no_grad():
        expected_text = loaded.model.embed_text(backbone.token_states(ids, attention), attention.bool()).numpy()
    np.testing.assert_allclose(embedder.embed_texts(captions), expected_text, rtol=0, atol=1e-5)


def test_a_run_with_missing_tensors_is_refused_before_anything_is_written(tiny_run, tmp_path):
    import shutil

    broken = tmp_path / "run"
    shutil.copytree(tiny_run, broken)
    state = torch.load(broken / "motion_encoder.pt", weights_only=True)
    state.pop(next(iter(state)))
    torch.save(state, broken / "motion_encoder.pt")
    out = tmp_path / "repo"
    with pytest.raises(ConfigError, match=r"motion_encoder.pt: does not match the model in config.json: missing"):
        export_run(broken, out)
    assert not out.exists()
    with pytest.raises(ConfigError, match=r"no statistics for dataset 'bvh'"):
        export_run(tiny_run, out, stats_dataset="bvh")
    assert not out.exists()
    assert main(["export", "--run", str(tmp_path / "nowhere"), "--out", str(out)]) == 1
