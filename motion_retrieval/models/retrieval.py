"""The two-tower retrieval model: a motion encoder, a text head over frozen LM token states, an optional motion
decoder and the loss (PAPER.md sections 2-5).

The frozen language model is not inside: the trainer feeds cached token states, and export wraps the backbone with
the text head. Both towers (``motion_encoder``, ``text_encoder``) are TorchScript-able modules returning (mu, logvar).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from motion_retrieval.losses.cccl import CCCLLoss, side_twins
from motion_retrieval.losses.infonce import InfoNCELoss
from motion_retrieval.losses.vae import kl_loss, latent_consistency_loss, reconstruction_loss
from motion_retrieval.models.actor import ActorMotionDecoder, ActorMotionEncoder, ActorTextEncoder
from motion_retrieval.models.config import LossConfig, ModelConfig, MotionEncoderConfig
from motion_retrieval.models.mot import MoTEncoder
from motion_retrieval.models.mot_pp import build_motpp_encoder


def build_motion_encoder(config: MotionEncoderConfig, latent_dim: int) -> nn.Module:
    """The motion tower named by ``config.kind``: forward(motion (B,T,263), mask (B,T) bool) -> (mu, logvar)."""
    if config.kind == "motpp":
        return build_motpp_encoder(config, latent_dim)
    if config.kind == "mot":
        return MoTEncoder(config, latent_dim)
    if config.kind == "actor":
        return ActorMotionEncoder(config, latent_dim)
    raise ValueError(f"motion.kind must be 'motpp', 'mot' or 'actor', got {config.kind!r}")


def build_contrastive_loss(config: LossConfig) -> nn.Module:
    if config.contrastive == "cccl":
        return CCCLLoss(config.temperature, config.cccl_start_epoch, config.cccl_end_epoch, config.learnable_scale,
                        config.cccl_teacher_floor, config.cccl_mask_twins)
    if config.contrastive == "infonce":
        return InfoNCELoss(config.temperature, config.learnable_scale, None)
    if config.contrastive == "infonce_filtered":
        return InfoNCELoss(config.temperature, config.learnable_scale, config.filter_threshold)
    raise ValueError(f"loss.contrastive must be 'cccl', 'infonce' or 'infonce_filtered', got {config.contrastive!r}")


class RetrievalModel(nn.Module):
    """MoT++ (or a baseline) as a two-tower model with the paper's training objective.

    ``forward(batch, epoch)`` returns a dict: keys ending in ``_loss`` are already-weighted terms the trainer sums;
    the other keys are detached, unweighted diagnostics.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        latent = config.latent.dim
        self.motion_encoder = build_motion_encoder(config.motion, latent)
        self.text_encoder = ActorTextEncoder(config.text, latent)
        self.decoder: ActorMotionDecoder | None = None
        if config.decoder.enabled:
            self.decoder = ActorMotionDecoder(config.decoder, latent, config.motion.feature_dim,
                                              config.motion.max_frames)
        self.contrastive = build_contrastive_loss(config.loss)

    # -- encoders -------------------------------------------------------------------------------------------------

    def encode_motion(self, motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised features (B, T, 263) + mask (B, T) bool -> (mu, logvar), each (B, latent)."""
        mu, logvar = self.motion_encoder(motion, mask)
        return mu, self._logvar(logvar)

    def encode_text(self, token_states: torch.Tensor, token_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen LM token states (B, L, D) + mask (B, L) bool -> (mu, logvar), each (B, latent)."""
        mu, logvar = self.text_encoder(token_states, token_mask)
        return mu, self._logvar(logvar)

    def embed_motion(self, motion: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The retrieval embedding: L2-normalised mu (B, latent) (PAPER.md 1: evaluation uses mu)."""
        return F.normalize(self.encode_motion(motion, mask)[0], dim=-1)

    def embed_text(self, token_states: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.encode_text(token_states, token_mask)[0], dim=-1)

    def _logvar(self, logvar: torch.Tensor) -> torch.Tensor:
        # A deterministic latent (variational=False) is a Gaussian of zero width: report logvar 0, never sample.
        return logvar if self.config.latent.variational else torch.zeros_like(logvar)

    def noise_scale(self, epoch: float) -> float:
        """The factor on the sampled noise at ``epoch``: ``latent.noise_scale``, ramped up from 0 over
        ``latent.noise_warmup_epochs``. At initialisation mu barely differs between samples while sigma is ~1, so
        full-scale noise would drown the contrastive signal until the encoders spread mu out."""
        latent = self.config.latent
        if latent.noise_warmup_epochs > 0:
            return latent.noise_scale * min(1.0, float(epoch) / latent.noise_warmup_epochs)
        return latent.noise_scale

    def sample(self, mu: torch.Tensor, logvar: torch.Tensor, epoch: float = 0.0) -> torch.Tensor:
        """z = mu + scale * sigma * eps during training of a variational model (PAPER.md 4), else mu."""
        if self.training and self.config.latent.variational:
            scale = self.noise_scale(epoch)
            if scale > 0:
                return mu + scale * torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return mu

    # -- training objective ---------------------------------------------------------------------------------------

    def forward(self, batch: dict[str, Any], epoch: float = 0) -> dict[str, torch.Tensor]:
        """L = w_rec L_rec + w_kl L_KL + w_lat L_lat + w_c L_contrastive (PAPER.md 4), one ``_loss`` key per term."""
        weights = self.config.loss
        motion, motion_mask = batch["motion"], batch["motion_mask"]
        m_mu, m_logvar = self.encode_motion(motion, motion_mask)
        t_mu, t_logvar = self.encode_text(batch["text_states"], batch["text_mask"])
        m_z = self.sample(m_mu, m_logvar, epoch)
        t_z = self.sample(t_mu, t_logvar, epoch)
        teacher = batch.get("teacher")

        if isinstance(self.contrastive, CCCLLoss):
            twins = None
            if self.contrastive.mask_twins:  # built only when the loss reads it: O(B^2), every step
                twins = side_twins(batch["keys"], batch["captions"]).to(m_z.device)
            terms = self.contrastive(m_z, t_z, teacher, epoch, side_twins=twins)
        else:
            terms = self.contrastive(m_z, t_z, teacher)
        out: dict[str, torch.Tensor] = {"contrastive_loss": weights.contrastive_weight * terms["loss"],
                                        "contrastive": terms["loss"].detach()}
        for name, value in terms.items():
            if name != "loss":
                out[name] = value

        latent = latent_consistency_loss(t_z, m_z)
        out["latent_loss"] = weights.latent_weight * latent
        out["latent"] = latent.detach()
        if self.config.latent.variational:
            kl = kl_loss(t_mu, t_logvar, m_mu, m_logvar)
            out["kl_loss"] = weights.kl_weight * kl
            out["kl"] = kl.detach()
        if self.decoder is not None:
            rec = (reconstruction_loss(self.decoder(t_z, motion_mask), motion, motion_mask)
                   + reconstruction_loss(self.decoder(m_z, motion_mask), motion, motion_mask))
            out["rec_loss"] = weights.rec_weight * rec
            out["rec"] = rec.detach()
        return out

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters per part (the frozen LM is not part of this model)."""
        parts = {"motion_encoder": self.motion_encoder, "text_encoder": self.text_encoder,
                 "decoder": self.decoder, "loss": self.contrastive}
        counts = {name: sum(p.numel() for p in module.parameters() if p.requires_grad) if module is not None else 0
                  for name, module in parts.items()}
        counts["total"] = sum(counts.values())
        return counts
