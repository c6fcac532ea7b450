"""Training hyper-parameters (a typed dataclass with named presets) and the run's resolved configuration.

The resolved configuration written to ``RUN_DIR/config.json`` is ``{"format_version", "model", "train", "data"}``:
the model's ``ModelConfig`` (motion_retrieval.models.config), this ``TrainConfig``, and the datasets the run was
trained on. Everything after training rebuilds from that file, never from today's defaults.

Defaults follow MoT++'s code [C] (PAPER.md section 8): AdamW lr 5e-5 with PyTorch's default weight decay 0.01, no
scheduler (``lr_schedule`` / ``lr_warmup_epochs`` add one for ablations), batch 32, 250 epochs, seed 1234, train/val
captions kept only when 2-10 s long, eval batch 256. The frame cap (200) is the model's ``motion.max_frames``: one
source of truth for training and serving.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motion_retrieval.data.augment import AugmentConfig
from motion_retrieval.errors import ConfigError
from motion_retrieval.models.config import ModelConfig, get_preset, list_presets
from motion_retrieval.training.schedule import LR_SCHEDULES

FORMAT_VERSION = 1


@dataclass
class TrainConfig:
    lr: float = 5e-5  # AdamW learning rate [C]; TMR used 1e-4 [T]
    weight_decay: float = 0.01  # PyTorch's AdamW default, which [C] keeps
    batch_size: int = 32  # [C, T]
    epochs: int = 250  # [C]; the CCCL schedule (model config) is expressed in these epochs
    seed: int = 1234  # [C] seed 1234 + rep
    min_seconds: float = 2.0  # train/val captions shorter than this are dropped [C, T]
    max_seconds: float = 10.0  # ... and longer than this; test captions are never filtered
    eval_batch_size: int = 256  # batch size when embedding for validation / evaluation (metrics are batch-invariant)
    dataset_weights: dict[str, float] = field(default_factory=dict)  # {name: weight}; empty = plain shuffling
    val_dataset: str | None = None  # whose val split picks the best epoch; None = humanml3d if present, else first
    num_workers: int = 0  # DataLoader workers
    device: str = "auto"  # "auto" (cuda when available), "cpu", "cuda", "cuda:1", ...
    log_every: int = 50  # optimizer steps between progress-bar postfix updates / debug log lines
    validate_every: int = 1  # epochs between validations [C validates every epoch]
    grad_clip_norm: float | None = None  # [C] does not clip
    text_batch_size: int = 64  # captions per batch when precomputing token states and teacher embeddings
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # domain randomisation (data.augment)
    ema_decay: float = 0.0  # > 0: validate and save an EMA of the weights (training.ema); 0 = the raw weights
    mirror_pairs: bool = False  # side-specific motions and their M twins share a batch (data.mirror_batches)
    lr_schedule: str = "constant"  # "constant" [C] | "cosine": decay to lr * lr_min_ratio by the end (schedule.py)
    lr_warmup_epochs: float = 0.0  # linear warm-up from 0 over these epochs (fractional; 0 = none)
    lr_min_ratio: float = 0.0  # cosine only: the last step's lr as a fraction of lr

    def __post_init__(self) -> None:
        self.augment = AugmentConfig.from_dict(self.augment)
        problems = []
        if not self.lr > 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        for name in ("batch_size", "epochs", "eval_batch_size", "validate_every", "log_every",
                     "text_batch_size"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            problems.append(f"ema_decay must be in [0, 1) (0 = off), got {self.ema_decay}")
        if not isinstance(self.mirror_pairs, bool):
            problems.append(f"mirror_pairs must be true or false, got {self.mirror_pairs!r}")
        elif self.mirror_pairs and self.dataset_weights:
            problems.append("mirror_pairs and dataset_weights cannot be combined: weighted sampling draws motions "
                            "one at a time, with replacement, and cannot keep twins together")
        if self.lr_schedule not in LR_SCHEDULES:
            problems.append(f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if not 0 <= self.lr_warmup_epochs <= self.epochs:
            problems.append(f"lr_warmup_epochs must be in [0, epochs={self.epochs}], got {self.lr_warmup_epochs}")
        if not 0.0 <= self.lr_min_ratio <= 1.0:
            problems.append(f"lr_min_ratio must be in [0, 1], got {self.lr_min_ratio}")
        if self.num_workers < 0:
            problems.append(f"num_workers must be >= 0, got {self.num_workers}")
        if not 0 <= self.min_seconds < self.max_seconds:
            problems.append(f"need 0 <= min_seconds < max_seconds, got {self.min_seconds}, {self.max_seconds}")
        for name, weight in self.dataset_weights.items():
            if not weight > 0:
                problems.append(f"dataset_weights[{name!r}] must be > 0, got {weight}")
        if problems:
            raise ConfigError("invalid training config: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "train config") -> TrainConfig:
        """Strict: unknown keys are an error (a typo must not silently fall back to a default)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown training option(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from None


# The shipped default's recipe (the `cpu` presets below).
_CPU_RECIPE: dict[str, Any] = {"lr": 3e-4, "batch_size": 64, "epochs": 12, "eval_batch_size": 128,
                               "augment": {"tempo": 0.15, "crop": 0.05, "noise": 0.05}}

# Presets share names with the model presets (motion_retrieval.models.config) so that `--config cpu` picks both; a
# model preset without a training preset of its own (paper-divided, tmr, ...) trains with the paper's recipe.
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    # The paper's recipe [C]: 250 epochs of batch 32 at lr 5e-5.
    "paper": {},
    # The shipped default: a small model trained on the procedural corpus on two CPU cores. The model preset's CCCL
    # hand-off (epochs 5-12) is sized for 30 epochs; a larger step and batch than the paper's (TMR's lr 1e-4,
    # doubled) converge in the time `make default-model` may take.
    # The shipped default also randomises tempo, trims the clip ends and jitters the features (data.augment): real
    # mocap scored better with it (experiments/transfer.py; docs/EXPERIMENTS.md, "The transfer ladder").
    "cpu": _CPU_RECIPE,
    # MoT++ at CPU size trains with the same recipe as the default, so the two encoders compare on equal terms.
    "cpu-motpp": _CPU_RECIPE,
    # Tests: a few steps on a handful of clips.
    "tiny": {"lr": 1e-3, "batch_size": 8, "epochs": 2, "eval_batch_size": 16, "log_every": 1, "text_batch_size": 16},
}


def train_preset(name: str, **overrides: Any) -> TrainConfig:
    """The training preset that goes with model preset ``name`` (the paper's recipe when it has none)."""
    return TrainConfig.from_dict({**TRAIN_PRESETS.get(name, {}), **overrides}, where=f"preset {name!r}")


@dataclass
class RunConfigSpec:
    """What ``--config`` resolved to before training: the model config and the training config."""

    model: ModelConfig
    train: TrainConfig


def resolve_config_spec(spec: str | Path | None, **train_overrides: Any) -> RunConfigSpec:
    """``--config`` is a preset name (``paper``, ``cpu``, ``tiny``, ``tmr``, ... see ``list_presets()``) or a JSON file.

    The JSON file is ``{"preset": NAME (optional, default "cpu"), "model": {...overrides}, "train": {...overrides}}``
    (model overrides use section objects, e.g. ``{"motion": {"attention": "joint"}}``), or the ``config.json`` of an
    earlier run, whose ``model`` / ``train`` sections are then taken whole. ``train_overrides`` (e.g. ``epochs`` from
    ``--epochs``) win over both.
    """
    spec = "cpu" if spec is None else spec
    text = str(spec)
    if text in list_presets():
        return RunConfigSpec(get_preset(text), train_preset(text, **train_overrides))
    path = Path(text)
    if not path.is_file():
        raise ConfigError(f"--config {text!r} is neither a preset ({', '.join(list_presets())}) nor a JSON file")
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config JSON: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a JSON object with 'model' and/or 'train' sections")
    unknown = sorted(set(values) - {"preset", "model", "train", "format_version", "data"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {unknown}; expected preset, model, train")
    model_values = values.get("model") or {}
    if not isinstance(model_values, dict):
        raise ConfigError(f"{path}: 'model' must be an object")
    if "format_version" in values:  # a full run config: take the sections as they are
        model = ModelConfig.from_dict(model_values)
        train_values = {**(values.get("train") or {}), **train_overrides}
    else:
        preset = values.get("preset", "cpu")
        if preset not in list_presets():
            raise ConfigError(f"{path}: unknown preset {preset!r}; choose from {list_presets()}")
        model = get_preset(preset).replace(**model_values) if model_values else get_preset(preset)
        preset_train = TRAIN_PRESETS.get(preset, {})
        train_values = {**preset_train, **(values.get("train") or {}), **train_overrides}
        if isinstance(preset_train.get("augment"), dict) and isinstance(train_values.get("augment"), dict):
            train_values["augment"] = {**preset_train["augment"], **train_values["augment"]}  # override per field
    return RunConfigSpec(model, TrainConfig.from_dict(train_values, where=str(path)))
