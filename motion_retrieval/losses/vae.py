"""The "variational-like" terms that MoT++ inherits from TEMOS/TMR (PAPER.md section 4).

L_KL = KL(q_t||q_m) + KL(q_m||q_t) + KL(q_m||N(0,I)) + KL(q_t||N(0,I)), closed-form diagonal Gaussians averaged
over elements; L_rec = SmoothL1 between decoded and real normalised features over real frames only;
L_lat = SmoothL1(z_t, z_m).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, mu_ref: torch.Tensor | None = None,
                logvar_ref: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over elements of KL(N(mu, e^logvar) || N(mu_ref, e^logvar_ref)); the reference defaults to N(0, I)."""
    if mu_ref is None or logvar_ref is None:
        mu_ref = torch.zeros_like(mu)
        logvar_ref = torch.zeros_like(logvar)
    # KL = 1/2 [log s2^2/s1^2 + (s1^2 + (m1 - m2)^2) / s2^2 - 1], per dimension.
    kl = 0.5 * (logvar_ref - logvar + (logvar.exp() + (mu - mu_ref).pow(2)) / logvar_ref.exp() - 1.0)
    return kl.mean()


def kl_loss(text_mu: torch.Tensor, text_logvar: torch.Tensor, motion_mu: torch.Tensor,
            motion_logvar: torch.Tensor) -> torch.Tensor:
    """KL(q_t||q_m) + KL(q_m||q_t) + KL(q_m||N) + KL(q_t||N) (TMR's four terms)."""
    return (
        gaussian_kl(text_mu, text_logvar, motion_mu, motion_logvar)
        + gaussian_kl(motion_mu, motion_logvar, text_mu, text_logvar)
        + gaussian_kl(motion_mu, motion_logvar)
        + gaussian_kl(text_mu, text_logvar)
    )


def reconstruction_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """SmoothL1 on normalised features (B, T, F), averaged over the real frames (``mask`` (B, T) True) only."""
    if not bool(mask.any()):
        raise ValueError("reconstruction_loss: the mask has no real frame")
    return F.smooth_l1_loss(prediction[mask], target[mask])  # (N, F) each


def latent_consistency_loss(text_z: torch.Tensor, motion_z: torch.Tensor) -> torch.Tensor:
    """SmoothL1(z_t, z_m): pulls the paired latents together (TMR's latent loss)."""
    return F.smooth_l1_loss(text_z, motion_z)
