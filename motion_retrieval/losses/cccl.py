"""Cross-Consistent Contrastive Loss, CCCL (Messina et al. 2024; PAPER.md section 5).

With M, T the L2-normalised sampled motion / text latents and E the unit-norm teacher embeddings:
  S^mt = s1 M T^T, S^tm = (S^mt)^T, S^mm = s2 M M^T, S^tt = s3 T T^T, S^e = s4 E E^T, s_k = exp(theta_k) learnable,
  each initialised to 1/0.1;
  d(A, B) = 1/B sum_i KL(softmax(A_i) || softmax(B_i)), A the target; nothing is detached (as the official code);
  L_NCE   = 1/2 [CE(S^mt, I) + CE(S^tm, I)]
  L_uni^m = 1/4 [d(S^mm, S^mt) + d(S^mm, S^tm) + d(S^mt, S^mm) + d(S^tm, S^mm)]   (L_uni^t the same with S^tt)
  L_teach = d(S^e, S^tt) + d(S^e, S^mm)
  lambda(epoch) = clip((epoch - start) / (end - start), 0, 1) with 0-based epochs (40 / 100 in the paper)
  L_CCCL  = L_NCE + lambda (L_uni^m + L_uni^t) + max(1 - lambda, teacher_floor) L_teach

``side_twins`` (B, B) bool (:func:`side_twins`) marks left/right mirror twins with side-swapped captions
(``train.mirror_pairs`` puts them in one batch); with ``mask_twins`` (``loss.cccl_mask_twins``; off by default,
as in the paper) their entries are left out of L_teach, masked in S^e, S^tt and S^mm alike. The frozen sentence
model is blind to side ("a person walks to the left." / "... right." are nearly one vector in MiniLM), and
distilling its similarities pulls each twin towards the other, against the contrastive term that must tell them apart.
Neither mirror pairing nor this mask was a reliable gain on real takes in our runs (docs/EXPERIMENTS.md, "The
transfer ladder"), so both are off in the presets and kept as tested options.

``teacher_floor`` (0 in the paper) keeps some of the teacher's text-text structure after the hand-off: the text head
then keeps the frozen language model's semantics for phrasings it never saw in training (our training captions
are procedural, the queries users type are not).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from motion_retrieval.losses.infonce import symmetric_cross_entropy
from motion_retrieval.mirror import mirror_partners

SCALE_NAMES = ("mt", "mm", "tt", "e")  # one learnable log-scale per similarity matrix (S^tm shares S^mt's)


def side_twins(keys: Sequence[str], captions: Sequence[str]) -> torch.Tensor:
    """(B, B) bool: True where batch samples i and j are left/right mirror twins carrying different captions (the
    same line with its side words swapped): the pairs ``train.mirror_pairs`` brings together."""
    twins = torch.zeros(len(keys), len(keys), dtype=torch.bool)
    for i, j in enumerate(mirror_partners(keys)):
        if j is not None and captions[i] != captions[j]:
            twins[i, j] = twins[j, i] = True
    return twins


def cccl_lambda(epoch: float, start: int, end: int) -> float:
    """The hand-off weight: 0 (teacher only) before ``start``, 1 (cross-consistency only) from ``end``."""
    if end <= start:
        return 1.0 if epoch >= start else 0.0
    return float(min(max((epoch - start) / (end - start), 0.0), 1.0))


def distribution_divergence(target: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """d(A, B): row-wise KL(softmax(A) || softmax(B)), batch-mean; gradients flow into both arguments."""
    return F.kl_div(F.log_softmax(other, dim=1), F.log_softmax(target, dim=1), log_target=True, reduction="batchmean")


class CCCLLoss(nn.Module):
    """``forward(motion_z, text_z, teacher, epoch) -> dict``: "loss" plus every term as a detached diagnostic."""

    def __init__(self, temperature: float = 0.1, start_epoch: int = 40, end_epoch: int = 100,
                 learnable_scale: bool = True, teacher_floor: float = 0.0, mask_twins: bool = False):
        super().__init__()
        self.mask_twins = mask_twins
        self.start_epoch = start_epoch
        self.end_epoch = end_epoch
        self.teacher_floor = teacher_floor
        init = torch.full((len(SCALE_NAMES),), math.log(1.0 / temperature))
        self.log_scales = nn.Parameter(init, requires_grad=learnable_scale)

    def forward(self, motion_z: torch.Tensor, text_z: torch.Tensor, teacher: torch.Tensor | None,
                epoch: float, side_twins: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        lam = cccl_lambda(epoch, self.start_epoch, self.end_epoch)
        m = F.normalize(motion_z, dim=-1)  # (B, E)
        t = F.normalize(text_z, dim=-1)  # (B, E)
        scales = self.log_scales.exp()  # (4,)
        s_mt = scales[0] * m @ t.T  # (B, B)
        s_tm = s_mt.T  # (B, B)
        s_mm = scales[1] * m @ m.T  # (B, B)
        s_tt = scales[2] * t @ t.T  # (B, B)
        d = distribution_divergence

        nce = symmetric_cross_entropy(s_mt)
        uni_m = 0.25 * (d(s_mm, s_mt) + d(s_mm, s_tm) + d(s_mt, s_mm) + d(s_tm, s_mm))
        uni_t = 0.25 * (d(s_tt, s_mt) + d(s_tt, s_tm) + d(s_mt, s_tt) + d(s_tm, s_tt))
        loss = nce + lam * (uni_m + uni_t)
        out = {"nce": nce.detach(), "uni_m": uni_m.detach(), "uni_t": uni_t.detach()}
        if teacher is not None:
            s_e = scales[3] * teacher @ teacher.T  # (B, B)
            t_tt, t_mm = s_tt, s_mm
            if self.mask_twins and side_twins is not None and bool(side_twins.any()):
                # a large finite logit, not -inf: the KL of two -inf entries is nan; exp(-1e4) is exactly 0
                s_e, t_tt, t_mm = (x.masked_fill(side_twins, -1e4) for x in (s_e, s_tt, s_mm))
            teach = d(s_e, t_tt) + d(s_e, t_mm)
            loss = loss + max(1.0 - lam, self.teacher_floor) * teach
            out["teach"] = teach.detach()
        elif lam < 1.0 or self.teacher_floor > 0:
            raise ValueError(
                f"CCCL needs teacher sentence embeddings (batch['teacher']) while lambda={lam:.3f} < 1 at epoch {epoch}"
            )
        out["loss"] = loss
        out["lambda"] = torch.tensor(lam)
        for name, scale in zip(SCALE_NAMES, scales.detach()):
            out[f"scale_{name}"] = scale
        return out
