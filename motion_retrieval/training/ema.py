"""An exponential moving average of the model's weights (Polyak averaging), used for validation and the towers.

Why: on a procedural corpus the last weights of a short run sit wherever the last few hundred noisy contrastive
steps left them, and that noise is fitted to the generator. The average of the trajectory is a flatter point that
moves less with each batch; it is the usual cheap lever for robustness (timm's ``ModelEmaV2``, TF's
``ExponentialMovingAverage``). It costs one extra copy of the weights and one ``lerp`` per parameter per step.

The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after n updates (TF's ``num_updates`` rule), so that
a short run's average is not dominated by its random initialisation.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """EMA shadow of ``model``: ``update(model)`` after each optimizer step; ``module`` is the averaged model."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = self.current_decay()
        source = model.state_dict()
        for name, shadow in self.module.state_dict().items():
            value = source[name].detach()
            if shadow.dtype.is_floating_point:
                shadow.lerp_(value.to(shadow.dtype), 1.0 - decay)
            else:  # integer buffers (counters) are copied, never averaged
                shadow.copy_(value)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
