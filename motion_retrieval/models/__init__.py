"""The model library: configs and presets, encoders (MoT++, MoT, ACTOR), the frozen text backbone, the two-tower
RetrievalModel and its factory. Training lives in ``motion_retrieval.training``."""

from motion_retrieval.models.config import (
    DecoderConfig,
    LatentConfig,
    LossConfig,
    ModelConfig,
    MotionEncoderConfig,
    TextEncoderConfig,
    get_preset,
    list_presets,
    scale_cccl_schedule,
)
from motion_retrieval.models.factory import create_model, list_models, resolve_config
from motion_retrieval.models.retrieval import RetrievalModel, build_motion_encoder
from motion_retrieval.serving.motions import fit_to_max_frames

__all__ = [
    "DecoderConfig",
    "LatentConfig",
    "LossConfig",
    "ModelConfig",
    "MotionEncoderConfig",
    "RetrievalModel",
    "TextEncoderConfig",
    "build_motion_encoder",
    "create_model",
    "fit_to_max_frames",
    "get_preset",
    "list_models",
    "list_presets",
    "resolve_config",
    "scale_cccl_schedule",
]
