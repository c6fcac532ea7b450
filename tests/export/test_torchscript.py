from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from motion_retrieval.errors import ConfigError
from motion_retrieval.export import torchscript as ts
from motion_retrieval.export.towers import BertLastHiddenState, MotionTower, TextTower
from motion_retrieval.serving.motions import pad_motions
from motion_retrieval.serving.tokenizer import TextTokenizer


def _real_motions(humanml3d_sample):
    return [np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")]


def _fixture_stats(humanml3d_sample):
    return np.load(humanml3d_sample / "Mean.npy"), np.load(humanml3d_sample / "Std.npy")


def test_scripted_towers_equal_eager_on_random_and_real_inputs(make_towers, tokenizer_json, humanml3d_sample):
    motion_tower, text_tower = make_towers(0)
    mean, std = motion_tower.mean.numpy(), motion_tower.std.numpy()
    cases = ts.motion_verification_cases(200, 263, mean, std, _real_motions(humanml3d_sample))
    assert sorted({c[0].shape[0] for c in cases}) == [1, 4, 5]  # batches of 1 and several, random and real
    scripted, check = ts.script_and_verify(motion_tower, cases, "motion")
    assert check.method == "script" and check.max_abs_diff <= ts.VERIFY_ATOL
    text_cases = ts.text_verification_cases(TextTokenizer(tokenizer_json, 32))
    scripted_text, check = ts.script_and_verify(text_tower, text_cases, "text")
    assert check.method == "script"
    with torch.no_grad():
        for case in text_cases:
            torch.testing.assert_close(scripted_text(*case), text_tower(*case), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["motpp", "mot", "actor"])
def test_project_motion_encoders_script_and_ignore_padding(kind, humanml3d_sample):
    """The real encoders of motion_retrieval.models (tiny sizes) inside MotionTower, on the real fixture."""
    factory = pytest.importorskip("motion_retrieval.models.factory")
    torch.manual_seed(0)
    model = factory.create_model("tiny", motion__kind=kind, motion__max_frames=200).eval()
    mean, std = _fixture_stats(humanml3d_sample)
    tower = MotionTower(model.motion_encoder, mean, std).eval()
    cases = ts.motion_verification_cases(200, 263, mean, std, _real_motions(humanml3d_sample))
    scripted, _ = ts.script_and_verify(tower, cases, kind)

    real = _real_motions(humanml3d_sample)[0]
    motion, mask = (torch.from_numpy(a) for a in pad_motions([real]))
    garbage = motion.clone()
    garbage[:, 170:] = 1e3  # whatever a client leaves in padded frames must not matter
    with torch.no_grad():
        alone = scripted(motion, mask)
        torch.testing.assert_close(scripted(garbage, mask), alone, rtol=0, atol=1e-6)
        # Batch invariance (the official code leaks across the batch; PAPER.md section 2, quirk ii).
        others, other_mask = (torch.from_numpy(a) for a in pad_motions([np.roll(real, 3, axis=0)[:90], real[::2]]))
        batch = scripted(torch.cat([others, motion]), torch.cat([other_mask, mask]))
        torch.testing.assert_close(batch[-1:], alone, rtol=0, atol=1e-5)
        assert torch.allclose(alone.norm(dim=-1), torch.ones(1))


def test_real_minilm_text_tower_traces_and_equals_eager(tokenizer_json):
    """The frozen MiniLM, traced device-neutrally inside the text tower, equals eager transformers on real captions."""
    text_backbone = pytest.importorskip("motion_retrieval.models.text_backbone")
    factory = pytest.importorskip("motion_retrieval.models.factory")
    from transformers import AutoModel

    torch.manual_seed(0)
    model = factory.create_model("tiny").eval()
    lm = AutoModel.from_pretrained(str(tokenizer_json.parent), local_files_only=True).eval()
    tokenizer = TextTokenizer(tokenizer_json, 32, fixed_length=False)
    example = tuple(torch.from_numpy(a) for a in tokenizer.encode(list(ts.VERIFICATION_CAPTIONS)))
    traced = ts.trace_module(BertLastHiddenState(lm), example)
    assert ts.pinned_devices(traced) == []  # runs on Triton's GPU instances too
    eager = TextTower(text_backbone.LastHiddenState(lm), model.text_encoder)
    captions = list(ts.VERIFICATION_CAPTIONS) + ["A man KICKS with his left leg, twice!", "run"]
    cases = ts.text_verification_cases(tokenizer, captions)
    scripted, check = ts.script_and_verify(TextTower(traced, model.text_encoder), cases, "text", reference=eager)
    assert check.max_abs_diff <= ts.VERIFY_ATOL
    with torch.no_grad():  # batch invariance: a caption alone == inside a padded batch
        ids, mask = (torch.from_numpy(a) for a in tokenizer.encode(captions))
        alone = scripted(*(torch.from_numpy(a) for a in tokenizer.encode(captions[-1:])))
        torch.testing.assert_close(scripted(ids, mask)[-1:], alone, rtol=0, atol=1e-5)


class _BakesLength(nn.Module):
    """Not scriptable (untyped Python list), and its trace bakes the example's length in: a broken export."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(263, 256)

    def forward(self, motion, mask, *unused):  # varargs: TorchScript cannot compile it, so it gets traced
        batch = int(mask.shape[0])  # a Python int taken from a tensor: the trace keeps the example's batch size
        return nn.functional.normalize(self.proj(motion.mean(1)) + torch.ones(batch, 1), dim=-1)


def test_a_trace_that_does_not_generalise_is_refused():
    cases = ts.motion_verification_cases(200, 263, np.zeros(263, np.float32), np.ones(263, np.float32))
    with pytest.raises(ConfigError, match=r"broken: TorchScript .*input \(1, 200, 263\); refusing to export"):
        ts.script_and_verify(_BakesLength(), cases, "broken")


def test_nan_weights_are_refused(make_towers):
    motion_tower, _ = make_towers(0)
    with torch.no_grad():
        motion_tower.encoder.frame.weight[0, 0] = float("nan")
    cases = ts.motion_verification_cases(200, 263, np.zeros(263, np.float32), np.ones(263, np.float32))
    with pytest.raises(ConfigError, match=r"encoder\.frame\.weight.*NaN"):
        ts.script_and_verify(motion_tower, cases, "motion")


def test_a_trace_through_transformers_forward_is_pinned_to_the_cpu(tokenizer_json):
    """Why BertLastHiddenState exists: transformers' own forward traces with device constants."""
    text_backbone = pytest.importorskip("motion_retrieval.models.text_backbone")
    from transformers import AutoModel

    lm = AutoModel.from_pretrained(str(tokenizer_json.parent), local_files_only=True).eval()
    tokenizer = TextTokenizer(tokenizer_json, 16, fixed_length=False)
    example = tuple(torch.from_numpy(a) for a in tokenizer.encode(["a man runs", "jump"]))
    assert ts.pinned_devices(ts.trace_module(text_backbone.LastHiddenState(lm), example)) == ["cpu"]


def test_only_torchscript_deprecations_are_filtered(make_towers, tmp_path):
    motion_tower, _ = make_towers(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scripted, _ = ts.to_torchscript(motion_tower, ())
        ts.save_torchscript(scripted, tmp_path / "m.pt")
        ts.load_torchscript(tmp_path / "m.pt")
        with ts.torchscript_warnings_filtered():
            warnings.warn("something else is deprecated", DeprecationWarning, stacklevel=1)
    messages = [str(w.message) for w in caught]
    assert messages == ["something else is deprecated"]


def test_loading_a_missing_or_corrupt_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        ts.load_torchscript(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="not a loadable TorchScript model"):
        ts.load_torchscript(tmp_path / "corrupt.pt")
