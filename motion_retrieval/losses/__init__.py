"""Losses of the retrieval model: CCCL (the paper's), InfoNCE (with TMR's filtering) and the VAE terms."""

from motion_retrieval.losses.cccl import CCCLLoss, cccl_lambda, distribution_divergence
from motion_retrieval.losses.infonce import InfoNCELoss, false_negative_mask, symmetric_cross_entropy
from motion_retrieval.losses.vae import gaussian_kl, kl_loss, latent_consistency_loss, reconstruction_loss

__all__ = [
    "CCCLLoss",
    "InfoNCELoss",
    "cccl_lambda",
    "distribution_divergence",
    "false_negative_mask",
    "gaussian_kl",
    "kl_loss",
    "latent_consistency_loss",
    "reconstruction_loss",
    "symmetric_cross_entropy",
]
