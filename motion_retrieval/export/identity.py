"""The identity of an exported model: digests of the towers' tensors and the model id built from them.

Hashing tensors (name, dtype, shape, bytes), not the model.pt zip bytes (which carry non-deterministic archive
metadata), makes the id a property of the model: the same run exported twice gets the same id, any weight change a
new one. At load, the towers are hashed again and compared with the description, so that a model.pt swapped under
the same id (old vectors and new ones would land in one collection) is refused with a clear error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from motion_retrieval.errors import ConfigError
from motion_retrieval.serving.repository import RepositoryInfo


def _update(digest, module: nn.Module, prefix: str) -> None:
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{prefix}{name}/{tensor.dtype}/{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")


def weights_sha256(module: nn.Module) -> str:
    """SHA-256 (hex) over every tensor of ``module``'s state dict."""
    digest = hashlib.sha256()
    _update(digest, module, "")
    return digest.hexdigest()


def compute_model_id(modules: Sequence[nn.Module], description: dict) -> str:
    """"mr-" + 12 hex of SHA-256 over every tensor of ``modules`` (in order) and the canonical description."""
    digest = hashlib.sha256()
    for index, module in enumerate(modules):
        _update(digest, module, f"{index}/")
    digest.update(json.dumps(description, sort_keys=True).encode())
    return "mr-" + digest.hexdigest()[:12]


def verify_towers(info: RepositoryInfo, towers: Mapping[str, nn.Module]) -> None:
    """ConfigError unless every loaded tower hashes to its ``weights_sha256`` and, when both towers are given, they
    hash to the repository's model id (the id names exactly these weights)."""
    for name, module in towers.items():
        expected = info.weights_sha256.get(name)
        actual = weights_sha256(module)
        if actual != expected:
            raise ConfigError(
                f"{info.model_file(name)}: its weights do not match model {info.model_id} described in "
                f"{info.path / 'motion_retrieval.json'} (sha256 {actual[:12]}..., expected {str(expected)[:12]}...): "
                "the file was replaced or changed after export. Re-export the repository with "
                "`motion-retrieval export` (a new model gets a new model id and new collections)"
            )
    if set(towers) >= {"motion_encoder", "text_encoder"}:
        model_id = compute_model_id([towers["motion_encoder"], towers["text_encoder"]], info.model_description())
        if model_id != info.model_id:
            raise ConfigError(f"{info.path / 'motion_retrieval.json'}: the towers hash to model {model_id}, not to "
                              f"the recorded {info.model_id}; re-export the repository with `motion-retrieval export`")
