"""One factory for every model (open_clip style).

``create_model("paper")``, ``create_model("cpu", motion__kind="mot")``, ``create_model(run_config["model"])``.
"""

from __future__ import annotations

import logging
from typing import Any

from motion_retrieval.errors import ConfigError
from motion_retrieval.models.config import ModelConfig, get_preset, list_presets
from motion_retrieval.models.retrieval import RetrievalModel

log = logging.getLogger(__name__)


def list_models() -> list[str]:
    """Names ``create_model`` accepts."""
    return list_presets()


def resolve_config(config: ModelConfig | dict | str, **overrides: Any) -> ModelConfig:
    """A validated ModelConfig from a preset name, a config dict (e.g. a run's config.json "model") or a config.

    Overrides use ``section__field=value`` or ``section={...}``, e.g. ``motion__attention="joint"``.
    """
    if isinstance(config, str):
        resolved = get_preset(config)
    elif isinstance(config, dict):
        resolved = ModelConfig.from_dict(config)
    elif isinstance(config, ModelConfig):
        resolved = ModelConfig.from_dict(config.to_dict())
    else:
        raise ConfigError(f"create_model: expected a preset name, a dict or a ModelConfig, got {type(config).__name__}")
    if overrides:
        resolved = resolved.replace(**overrides)
    resolved.validate()
    return resolved


def create_model(config: ModelConfig | dict | str = "paper", **overrides: Any) -> RetrievalModel:
    """Build a RetrievalModel (randomly initialised; load a run's state dicts afterwards)."""
    resolved = resolve_config(config, **overrides)
    model = RetrievalModel(resolved)
    log.info("created model %s: %s parameters", resolved.name, f"{model.parameter_counts()['total']:,}")
    return model
