"""Every encoder: output shapes, masks, batch invariance and padding invariance, input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motion_retrieval.models.actor import ActorMotionDecoder, ActorTextEncoder
from motion_retrieval.models.layers import crop_trailing_padding
from motion_retrieval.models.retrieval import build_motion_encoder

ATOL = 1e-5
# Every motion-encoder flavour the library builds: (motion.kind, motion.attention).
ENCODER_VARIANTS = [("motpp", "factorized"), ("motpp", "divided"), ("motpp", "joint"), ("mot", "factorized"),
                    ("actor", "factorized")]


@pytest.fixture
def motion_encoder(tiny_config):
    def build(kind: str, attention: str) -> torch.nn.Module:
        torch.manual_seed(0)
        config = tiny_config(kind, attention)
        return build_motion_encoder(config.motion, config.latent.dim).eval()

    return build


@pytest.mark.parametrize(("kind", "attention"), ENCODER_VARIANTS)
def test_motion_encoder_shapes(kind, attention, motion_encoder, random_motion):
    encoder = motion_encoder(kind, attention)
    motion, mask = random_motion([20, 7, 1], frames=20)
    mu, logvar = encoder(motion, mask)
    assert mu.shape == (3, 256) and logvar.shape == (3, 256)
    assert torch.isfinite(mu).all() and torch.isfinite(logvar).all()


@pytest.mark.parametrize(("kind", "attention"), ENCODER_VARIANTS)
def test_motion_embedding_is_batch_invariant(kind, attention, motion_encoder, random_motion):
    """A sample's embedding is the same alone and among others (the official code leaks across the batch)."""
    encoder = motion_encoder(kind, attention)
    motion, mask = random_motion([18, 9, 24, 3, 13], frames=24)
    with torch.no_grad():
        together = encoder(motion, mask)[0]
        for i in range(len(motion)):
            alone = encoder(motion[i : i + 1, : int(mask[i].sum())], mask[i : i + 1, : int(mask[i].sum())])[0]
            torch.testing.assert_close(alone[0], together[i], atol=ATOL, rtol=0)
        # A different batch composition around sample 0 changes nothing either.
        others, others_mask = random_motion([24, 2, 17], frames=24, seed=5)
        mixed = encoder(torch.cat([motion[:1], others]), torch.cat([mask[:1], others_mask]))[0]
        torch.testing.assert_close(mixed[0], together[0], atol=ATOL, rtol=0)


@pytest.mark.parametrize(("kind", "attention"), ENCODER_VARIANTS)
def test_motion_embedding_is_padding_invariant(kind, attention, motion_encoder, random_motion):
    """Extra padded frames (filled with junk) leave the embedding unchanged: padding is never attended or pooled.

    A third, full-length sample keeps the batch at 40 frames, so the encoders cannot simply crop the padding away.
    """
    encoder = motion_encoder(kind, attention)
    motion, mask = random_motion([11, 6], frames=11)
    padded, padded_mask = random_motion([11, 6, 40], frames=40)
    padded[:2, :11] = torch.where(mask[..., None], motion, padded[:2, :11])
    with torch.no_grad():
        mu, logvar = encoder(motion, mask)
        padded_mu, padded_logvar = encoder(padded, padded_mask)
        torch.testing.assert_close(padded_mu[:2], mu, atol=ATOL, rtol=0)
        torch.testing.assert_close(padded_logvar[:2], logvar, atol=ATOL, rtol=0)


def test_trailing_padding_is_cropped_exactly():
    motion, mask = torch.zeros(2, 9, 263), torch.zeros(2, 9, dtype=torch.bool)
    mask[0, :3] = True
    mask[1, :5] = True
    cropped, cropped_mask = crop_trailing_padding(motion, mask)
    assert cropped.shape == (2, 5, 263) and torch.equal(cropped_mask, mask[:, :5])


@pytest.mark.parametrize(("kind", "attention"), ENCODER_VARIANTS)
def test_motion_encoder_uses_the_real_frames(kind, attention, motion_encoder, random_motion):
    """Sanity for the invariance tests: changing a real frame does change the embedding."""
    encoder = motion_encoder(kind, attention)
    motion, mask = random_motion([10], frames=10)
    changed = motion.clone()
    changed[0, 9] += 1.0
    with torch.no_grad():
        assert (encoder(changed, mask)[0] - encoder(motion, mask)[0]).abs().max() > 1e-4


@pytest.mark.parametrize(("kind", "attention"), ENCODER_VARIANTS)
def test_motion_encoder_rejects_bad_input(kind, attention, motion_encoder, random_motion):
    encoder = motion_encoder(kind, attention)
    motion, mask = random_motion([5], frames=5)
    with pytest.raises(ValueError, match="max_frames"):
        encoder(torch.zeros(1, 65, 263), torch.ones(1, 65, dtype=torch.bool))  # tiny max_frames is 64
    with pytest.raises(ValueError, match=r"\(B, T, 263\)"):
        encoder(motion[..., :251], mask)
    with pytest.raises(ValueError, match="bool"):
        encoder(motion, mask.long())
    with pytest.raises(ValueError, match="at least one real frame"):
        encoder(motion, torch.zeros_like(mask))


def test_text_head_shapes_and_invariances(tiny_config, random_tokens):
    torch.manual_seed(0)
    config = tiny_config()
    head = ActorTextEncoder(config.text, config.latent.dim).eval()
    states, mask = random_tokens([9, 4, 12, 2], tokens=12)
    with torch.no_grad():
        mu, logvar = head(states, mask)
        assert mu.shape == (4, 256) and logvar.shape == (4, 256)
        for i in range(4):
            n = int(mask[i].sum())
            torch.testing.assert_close(head(states[i : i + 1, :n], mask[i : i + 1, :n])[0][0], mu[i], atol=ATOL, rtol=0)
        longer, longer_mask = random_tokens([9, 4, 12, 2], tokens=20, seed=3)
        longer[:, :12] = torch.where(mask[..., None], states, longer[:, :12])
        torch.testing.assert_close(head(longer, longer_mask)[0], mu, atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match="max_tokens"):
        head(torch.zeros(1, 33, 384), torch.ones(1, 33, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(B, L, 384\)"):
        head(torch.zeros(1, 3, 768), torch.ones(1, 3, dtype=torch.bool))


def test_decoder_zeroes_padded_frames_and_is_batch_invariant(tiny_config):
    torch.manual_seed(0)
    config = tiny_config()
    decoder = ActorMotionDecoder(config.decoder, 256, 263, config.motion.max_frames).eval()
    z = torch.randn(3, 256)
    mask = torch.arange(15)[None] < torch.tensor([15, 8, 3])[:, None]
    with torch.no_grad():
        out = decoder(z, mask)
        assert out.shape == (3, 15, 263)
        assert (out[~mask] == 0).all() and (out[mask] != 0).any()
        torch.testing.assert_close(decoder(z[1:2], mask[1:2, :8])[0], out[1, :8], atol=ATOL, rtol=0)


def test_motpp_factorized_ignores_nothing_but_padding(motion_encoder, random_motion):
    """Parameters of each stage are used: the spatial CLS, spatial positions and the temporal blocks."""
    encoder = motion_encoder("motpp", "factorized").train()
    motion, mask = random_motion([10, 4], frames=10)
    mu, logvar = encoder(motion, mask)
    (mu.sum() + logvar.sum()).backward()
    for name in ["spatial_cls", "spatial_pos", "temporal_blocks.0.attn.q_proj.weight", "embed.parts.1.proj.weight"]:
        grad = dict(encoder.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_mot_input_values_per_joint(tiny_config):
    config9 = tiny_config("mot")
    config12 = tiny_config("mot", motion__mot_joint_values=12)
    enc9 = build_motion_encoder(config9.motion, 256)
    enc12 = build_motion_encoder(config12.motion, 256)
    # Torso part = 7 joint tokens (root, 5 spine joints, contacts): 7 * 9 and 7 * 12 inputs.
    assert enc9.embed.parts[0].proj.in_features == 63
    assert enc12.embed.parts[0].proj.in_features == 84
    assert np.asarray(enc9.embed.part_names).tolist() == ["torso", "right_arm", "left_arm", "right_leg", "left_leg"]
