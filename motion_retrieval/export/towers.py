"""Serving wrappers: one TorchScript-able module per tower, with everything the service must not re-implement inside.

Both towers return the L2-normalised latent mean mu (the paper retrieves with cosine similarity of mu; log sigma^2
only matters in training). The motion tower normalises raw features with the dataset statistics that travel with the
model; the text tower contains the frozen language model, so the service only tokenises.

Encoder contract (motion_retrieval.models): ``motion_encoder(x, mask) -> (mu, logvar)`` with x f32[B, T, 263]
normalised and mask bool[B, T] (True = real frame); ``text_encoder(token_states, mask) -> (mu, logvar)`` with
token_states f32[B, L, D] from the frozen language model and mask bool[B, L] (True = real token).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _as_float_tensor(values) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().to(torch.float32).clone()
    return torch.as_tensor(np.asarray(values, dtype=np.float32))


class MotionTower(nn.Module):
    """forward(motion f32[B, F, 263] raw, mask bool[B, F]) -> f32[B, dim], unit norm.

    Padded frames (mask False) are zeroed after normalisation, so whatever a client leaves in them cannot reach
    the encoder even if an encoder ignored the mask (the official MoT++ code does; PAPER.md section 2, quirk i).
    """

    def __init__(self, encoder: nn.Module, mean, std):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("mean", _as_float_tensor(mean))  # (263,)
        self.register_buffer("std", _as_float_tensor(std))  # (263,)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = (motion - self.mean) / self.std  # (B, F, 263)
        x = x * mask.unsqueeze(-1).to(x.dtype)  # (B, F, 263), padded frames are exactly zero
        mu, _logvar = self.encoder(x, mask)  # (B, dim)
        return F.normalize(mu, p=2.0, dim=-1)


class TextTower(nn.Module):
    """forward(input_ids i64[B, L], attention_mask i64[B, L]) -> f32[B, dim], unit norm.

    ``backbone`` maps (input_ids, attention_mask) to the language model's last hidden states f32[B, L, D]; in an
    export it is the traced frozen MiniLM (transformers models do not script, they trace).
    """

    def __init__(self, backbone: nn.Module, text_encoder: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.text_encoder = text_encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.backbone(input_ids, attention_mask)  # (B, L, D)
        mu, _logvar = self.text_encoder(states, attention_mask > 0)  # (B, dim)
        return F.normalize(mu, p=2.0, dim=-1)


class BertLastHiddenState(nn.Module):
    """``forward(input_ids, attention_mask) -> last_hidden_state`` of a BERT-family encoder, traceable for any device.

    transformers' own forward builds its attention mask with ``arange(..., device=attention_mask.device)``, which a
    trace records as a constant: the export machine's CPU, and the traced model then fails on a GPU. Here the
    additive mask is derived from the inputs only (``type_as`` keeps the dtype dynamic too, for half precision).
    -1e4 instead of the dtype's minimum: it fits in float16, and exp(-1e4) is exactly 0 in float32 as well.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.embeddings = model.embeddings
        self.encoder = model.encoder

    @staticmethod
    def supports(model: nn.Module) -> bool:
        config = getattr(model, "config", None)
        return (getattr(config, "model_type", None) in ("bert", "roberta", "xlm-roberta")
                and not getattr(config, "is_decoder", False)
                and hasattr(model, "embeddings") and hasattr(model, "encoder"))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.embeddings(input_ids=input_ids)  # (B, L, D)
        padding = (attention_mask == 0)[:, None, None, :].type_as(hidden)  # (B, 1, 1, L), 1 on padded tokens
        return self.encoder(hidden, attention_mask=padding * -1e4).last_hidden_state  # (B, L, D)
