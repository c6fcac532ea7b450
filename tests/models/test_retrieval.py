"""RetrievalModel: the training dict, sampling vs evaluation, learning on random data, TorchScript export."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from motion_retrieval.models import RetrievalModel, create_model

# torch 2.13 deprecates TorchScript; pyproject filters the script/trace message, these are save/load's wording.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.(save|load)` is deprecated\. Please switch to `torch\.export`\.:DeprecationWarning"
)

VARIANTS = [("motpp", "factorized"), ("motpp", "divided"), ("motpp", "joint"), ("mot", "factorized"),
            ("actor", "factorized")]


@pytest.fixture
def make_batch(random_motion, random_tokens):
    def make(lengths=(12, 7, 16, 4), tokens=(6, 9, 3, 5), seed=0):
        motion, motion_mask = random_motion(list(lengths), frames=max(lengths), seed=seed)
        motion = torch.where(motion_mask[..., None], motion, torch.zeros_like(motion))
        states, text_mask = random_tokens(list(tokens), tokens=max(tokens), seed=seed + 1)
        states = torch.where(text_mask[..., None], states, torch.zeros_like(states))
        teacher = F.normalize(torch.randn(len(lengths), 384, generator=torch.Generator().manual_seed(seed)), dim=-1)
        return {"motion": motion, "motion_mask": motion_mask, "text_states": states, "text_mask": text_mask,
                "teacher": teacher, "lengths": torch.tensor(lengths)}

    return make


def test_forward_returns_weighted_losses_and_diagnostics(tiny_config, make_batch):
    torch.manual_seed(0)
    model = RetrievalModel(tiny_config())
    out = model(make_batch(), epoch=0)
    losses = {k for k in out if k.endswith("_loss")}
    assert losses == {"contrastive_loss", "kl_loss", "latent_loss", "rec_loss"}
    weights = model.config.loss
    torch.testing.assert_close(out["contrastive_loss"].detach(), weights.contrastive_weight * out["contrastive"])
    torch.testing.assert_close(out["kl_loss"].detach(), weights.kl_weight * out["kl"])
    torch.testing.assert_close(out["rec_loss"].detach(), weights.rec_weight * out["rec"])
    for name in ("nce", "uni_m", "uni_t", "teach", "lambda", "scale_mt"):
        assert name in out and not out[name].requires_grad
    assert all(out[k].requires_grad for k in losses)


def test_optional_terms_follow_the_config(tiny_config, make_batch):
    model = RetrievalModel(tiny_config(decoder__enabled=False, latent__variational=False,
                                       loss__contrastive="infonce_filtered"))
    out = model(make_batch(), epoch=0)
    assert {k for k in out if k.endswith("_loss")} == {"contrastive_loss", "latent_loss"}
    assert "filtered" in out
    assert model.decoder is None


def test_training_samples_evaluation_uses_mu(tiny_config, make_batch):
    torch.manual_seed(0)
    model = RetrievalModel(tiny_config())
    batch = make_batch()
    model.train()
    mu, logvar = model.encode_motion(batch["motion"], batch["motion_mask"])
    assert not torch.equal(model.sample(mu, logvar), mu)
    model.eval()
    assert torch.equal(model.sample(mu, logvar), mu)
    embedding = model.embed_motion(batch["motion"], batch["motion_mask"])
    torch.testing.assert_close(embedding, F.normalize(model.encode_motion(batch["motion"], batch["motion_mask"])[0]))
    torch.testing.assert_close(embedding.norm(dim=-1), torch.ones(4))
    text = model.embed_text(batch["text_states"], batch["text_mask"])
    assert text.shape == (4, 256)


def test_noise_scale_and_its_warm_up(tiny_config, make_batch):
    batch = make_batch()
    model = RetrievalModel(tiny_config(latent__noise_scale=0.1, latent__noise_warmup_epochs=4)).train()
    mu, logvar = model.encode_motion(batch["motion"], batch["motion_mask"])
    assert [model.noise_scale(e) for e in (0, 1, 4, 9)] == pytest.approx([0.0, 0.025, 0.1, 0.1])
    assert torch.equal(model.sample(mu, logvar, epoch=0), mu)  # no noise at the start of the warm-up
    reference = RetrievalModel(tiny_config()).train()
    torch.manual_seed(1)
    small = model.sample(mu, logvar, epoch=4) - mu
    torch.manual_seed(1)
    full = reference.sample(mu, logvar, epoch=4) - mu
    torch.testing.assert_close(small, 0.1 * full)  # the same draw, scaled by noise_scale


def test_motpp_starts_from_the_official_initialisation():
    """Default Linear init and zero tokens: mu differs between motions from the first step. The ViT-style
    trunc-normal(0.02) init shrank that spread about tenfold (the contrastive signal drowned in sigma ~ 1 noise)."""
    from motion_retrieval.models.config import get_preset
    from motion_retrieval.models.layers import init_vit_weights

    torch.manual_seed(0)
    motion, mask = torch.randn(16, 40, 263), torch.ones(16, 40, dtype=torch.bool)
    model = RetrievalModel(get_preset("cpu-motpp")).eval()
    assert torch.count_nonzero(model.motion_encoder.spatial_cls) == 0
    spread = model.encode_motion(motion, mask)[0].std(dim=0).mean()
    init_vit_weights(model.motion_encoder)
    vit_spread = model.encode_motion(motion, mask)[0].std(dim=0).mean()
    assert spread > 3 * vit_spread


@pytest.mark.parametrize(("kind", "attention"), VARIANTS)
def test_a_few_steps_lower_the_loss(kind, attention, tiny_config, make_batch):
    """Deterministic latents here: at initialisation sigma ~ 1 swamps mu, and 20 steps cannot shrink it yet."""
    torch.manual_seed(0)
    model = RetrievalModel(tiny_config(kind, attention, motion__dropout=0.0, motion__drop_path=0.0,
                                       text__dropout=0.0, decoder__dropout=0.0, latent__variational=False))
    batch = make_batch(lengths=(10, 6, 8, 10, 3, 9), tokens=(4, 5, 6, 3, 7, 5))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step_outputs() -> dict[str, torch.Tensor]:
        torch.manual_seed(1)  # the same latent noise before and after training
        return model(batch, epoch=0)

    first = step_outputs()
    for _ in range(20):
        optimizer.zero_grad()
        out = model(batch, epoch=0)
        sum(v for k, v in out.items() if k.endswith("_loss")).backward()
        optimizer.step()
    last = step_outputs()
    total_first = sum(float(v.detach()) for k, v in first.items() if k.endswith("_loss"))
    total_last = sum(float(v.detach()) for k, v in last.items() if k.endswith("_loss"))
    assert total_last < total_first
    assert float(last["contrastive"]) < 0.5 * float(first["contrastive"])
    assert float(last["rec"]) < float(first["rec"])


def _roundtrip(module: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    buffer.seek(0)
    return torch.jit.load(buffer)


@pytest.mark.parametrize(("kind", "attention"), VARIANTS)
def test_motion_tower_scripts_and_traces(kind, attention, tiny_config, random_motion):
    torch.manual_seed(0)
    model = RetrievalModel(tiny_config(kind, attention)).eval()
    scripted = _roundtrip(torch.jit.script(model.motion_encoder))
    example = random_motion([20, 11, 5, 20, 1], frames=20)
    traced = torch.jit.trace(model.motion_encoder, example, check_trace=False)
    for lengths, frames in [([9], 9), ([20, 11, 5, 20, 1], 20), ([33, 30, 2, 17, 8], 33)]:
        motion, mask = random_motion(lengths, frames=frames, seed=frames)
        with torch.no_grad():
            eager = model.motion_encoder(motion, mask)
            for exported in (scripted, traced):
                out = exported(motion, mask)
                torch.testing.assert_close(out[0], eager[0], atol=1e-5, rtol=0)
                torch.testing.assert_close(out[1], eager[1], atol=1e-5, rtol=0)
    with pytest.raises(torch.jit.Error, match="max_frames"):
        scripted(torch.zeros(1, 65, 263), torch.ones(1, 65, dtype=torch.bool))


def test_text_tower_scripts_and_traces(tiny_config, random_tokens):
    torch.manual_seed(0)
    model = RetrievalModel(tiny_config()).eval()
    scripted = _roundtrip(torch.jit.script(model.text_encoder))
    traced = torch.jit.trace(model.text_encoder, random_tokens([7, 3, 5, 1, 7], tokens=7), check_trace=False)
    for lengths, tokens in [([4], 4), ([7, 3, 5, 1, 7], 7), ([12, 2, 9, 12, 6], 12)]:
        states, mask = random_tokens(lengths, tokens=tokens, seed=tokens)
        with torch.no_grad():
            eager = model.text_encoder(states, mask)[0]
            torch.testing.assert_close(scripted(states, mask)[0], eager, atol=1e-5, rtol=0)
            torch.testing.assert_close(traced(states, mask)[0], eager, atol=1e-5, rtol=0)


def test_state_dicts_split_per_tower(tiny_config):
    """Run directories store one state dict per tower; they load into a fresh model built from the config."""
    torch.manual_seed(0)
    model = create_model(tiny_config())
    fresh = create_model(model.config.to_dict())
    fresh.motion_encoder.load_state_dict(model.motion_encoder.state_dict())
    fresh.text_encoder.load_state_dict(model.text_encoder.state_dict())
    for a, b in zip(model.motion_encoder.state_dict().values(), fresh.motion_encoder.state_dict().values()):
        assert torch.equal(a, b)
    assert not any("pe" == k.split(".")[-1] for k in model.text_encoder.state_dict())  # tables are rebuilt, not saved
