"""The self-describing run directory (docs/ARCHITECTURE.md "Model contracts"; TMR's habit).

```
RUN_DIR/config.json         {"format_version": 1, "model": {...}, "train": {...}, "data": {...}}
RUN_DIR/motion_encoder.pt   state dict of the motion tower (float32, or float16 for shipping)
RUN_DIR/text_encoder.pt     state dict of the text head (the frozen language model is NOT in it)
RUN_DIR/stats/<name>.npz    mean/std (263,) of each training dataset
RUN_DIR/metrics.jsonl       one line per epoch (trainer)
RUN_DIR/curves.png          loss and validation curves (trainer)
RUN_DIR/checkpoint.pt       full model + optimizer + epoch + RNG states, to resume (trainer; not shipped)
```
``load_run`` rebuilds the model ONLY from ``config.json`` (never from today's presets), so a run keeps working
when defaults change; what it cannot load it refuses with a ConfigError that names the file and the tensors.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from motion_retrieval.errors import ConfigError, MotionDataError
from motion_retrieval.models.factory import create_model
from motion_retrieval.models.retrieval import RetrievalModel
from motion_retrieval.stats import Normalizer

log = logging.getLogger(__name__)

RUN_FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
MOTION_TOWER_FILE = "motion_encoder.pt"
TEXT_TOWER_FILE = "text_encoder.pt"
STATS_DIR = "stats"
METRICS_FILE = "metrics.jsonl"
CURVES_FILE = "curves.png"
CHECKPOINT_FILE = "checkpoint.pt"
TOWERS = {"motion_encoder": MOTION_TOWER_FILE, "text_encoder": TEXT_TOWER_FILE}


def default_run_dir() -> Path:
    """The shipped default model: ``motion_retrieval/pretrained/default`` (written by ``make default-model``)."""
    return Path(__file__).resolve().parent / "pretrained" / "default"


@dataclass
class LoadedRun:
    config: dict[str, Any]  # the run's config.json, as written
    model: RetrievalModel  # towers loaded, in eval mode, on the CPU
    normalizers: dict[str, Normalizer]  # per training dataset, from stats/<name>.npz
    path: Path = field(default_factory=Path)

    @property
    def datasets(self) -> list[str]:
        return list(self.normalizers)

    def normalizer_for(self, name: str | None = None) -> Normalizer:
        """The stats of dataset ``name``; by default humanml3d when the run has it, else its first dataset."""
        if name is None:
            name = "humanml3d" if "humanml3d" in self.normalizers else next(iter(self.normalizers))
        if name not in self.normalizers:
            raise ConfigError(f"{self.path}: the run has no statistics for {name!r}; it has {sorted(self.normalizers)}")
        return self.normalizers[name]


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def write_config(run_dir: str | os.PathLike, config: Mapping[str, Any]) -> Path:
    """``config.json`` with ``format_version`` first; the caller passes model / train / data sections."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for section in ("model", "train", "data"):
        if section not in config:
            raise ConfigError(f"run config is missing its {section!r} section")
    document = {"format_version": RUN_FORMAT_VERSION, **{k: v for k, v in config.items() if k != "format_version"}}
    path = run_dir / CONFIG_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def write_stats(run_dir: str | os.PathLike, normalizers: Mapping[str, Normalizer]) -> None:
    for name, normalizer in normalizers.items():
        normalizer.save(Path(run_dir) / STATS_DIR / f"{name}.npz")


def tower_state_dicts(model: RetrievalModel, half: bool = False) -> dict[str, dict[str, torch.Tensor]]:
    """The two towers' weights, detached on the CPU; ``half`` stores floating tensors as float16 (shipping size)."""
    out = {}
    for tower in TOWERS:
        state = {}
        for key, tensor in getattr(model, tower).state_dict().items():
            tensor = tensor.detach().cpu()
            state[key] = tensor.half() if half and tensor.is_floating_point() else tensor.clone()
        out[tower] = state
    return out


def save_towers(run_dir: str | os.PathLike, model: RetrievalModel, half: bool = False) -> None:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for tower, state in tower_state_dicts(model, half).items():
        _atomic_torch_save(state, run_dir / TOWERS[tower])


def save_run(
    run_dir: str | os.PathLike,
    model: RetrievalModel,
    config: Mapping[str, Any],
    normalizers: Mapping[str, Normalizer],
    half: bool = False,
) -> Path:
    """Write config.json, both towers and the per-dataset stats. ``config`` holds the train/data sections; its
    model section is replaced by the model's own config, so the file always describes the weights beside it."""
    if not normalizers:
        raise ConfigError("save_run: a run needs the statistics of at least one dataset")
    run_dir = Path(run_dir)
    write_config(run_dir, {**dict(config), "model": model.config.to_dict()})
    write_stats(run_dir, normalizers)
    save_towers(run_dir, model, half)
    return run_dir


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: run directory not found")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: missing; not a run directory (train writes config.json)")
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    version = config.get("format_version")
    if version != RUN_FORMAT_VERSION:
        raise ConfigError(f"{path}: format_version {version!r} is not supported; this code reads version "
                          f"{RUN_FORMAT_VERSION} (retrain, or use the release that wrote the run)")
    if not isinstance(config.get("model"), dict):
        raise ConfigError(f"{path}: missing the 'model' section")
    return config


def _load_tower(module: torch.nn.Module, path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"{path}: missing tower weights")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a corrupt or foreign file
        raise ConfigError(f"{path}: not a readable state dict ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{path}: expected a state dict of tensors")
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:8]}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
        if wrong_shape:
            shapes = [f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}" for k in wrong_shape[:4]]
            parts.append(f"shape mismatches {shapes}")
        raise ConfigError(f"{path}: does not match the model in config.json: " + "; ".join(parts))
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if bad:
        raise ConfigError(f"{path}: non-finite values in {bad[:8]}")
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


def load_normalizers(run_dir: str | os.PathLike) -> dict[str, Normalizer]:
    stats_dir = Path(run_dir) / STATS_DIR
    files = sorted(stats_dir.glob("*.npz")) if stats_dir.is_dir() else []
    if not files:
        raise ConfigError(f"{stats_dir}: missing; a run needs stats/<dataset>.npz for each training dataset")
    normalizers = {}
    for path in files:
        try:
            normalizers[path.stem] = Normalizer.load(path)
        except MotionDataError as exc:
            raise ConfigError(str(exc)) from None
    return normalizers


def load_run(run_dir: str | os.PathLike | None = None) -> LoadedRun:
    """Rebuild a trained model from its run directory (None = the shipped default model)."""
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir()
    config = read_config(run_dir)
    try:
        model = create_model(config["model"])
    except ConfigError as exc:
        raise ConfigError(f"{run_dir / CONFIG_FILE}: {exc}") from None
    for tower, filename in TOWERS.items():
        _load_tower(getattr(model, tower), run_dir / filename)
    model.eval()
    normalizers = load_normalizers(run_dir)
    data_names = [d.get("name") for d in config.get("data", {}).get("datasets", []) if isinstance(d, dict)]
    missing = [n for n in data_names if n not in normalizers]
    if missing:
        raise ConfigError(f"{run_dir / STATS_DIR}: no statistics for training dataset(s) {missing}")
    return LoadedRun(config=config, model=model, normalizers=normalizers, path=run_dir)
