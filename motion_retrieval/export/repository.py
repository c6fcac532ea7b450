"""A trained run -> the Triton model repository (DESIGN.md "Exported models", docs/ARCHITECTURE.md).

```
REPO/motion_encoder/config.pbtxt      generated (triton_config.py), committed for the shipped model
REPO/motion_encoder/warmup/mask       model_warmup input (raw bytes)
REPO/motion_encoder/1/model.pt        TorchScript MotionTower (built here, not committed)
REPO/text_encoder/config.pbtxt
REPO/text_encoder/warmup/{input_ids,attention_mask}
REPO/text_encoder/1/model.pt          TorchScript TextTower, frozen language model inside
REPO/text_encoder/tokenizer.json      the service tokenises with it
REPO/motion_retrieval.json            what a client needs to know: model_id, dim, max_frames, ...
```
Nothing is written before both towers are scripted and verified against eager on random and real inputs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motion_retrieval.errors import ConfigError
from motion_retrieval.export import torchscript as ts
from motion_retrieval.export.towers import BertLastHiddenState, MotionTower, TextTower
from motion_retrieval.export.triton_config import (
    MOTION_MODEL,
    TEXT_MODEL,
    WARMUP_DIR,
    ModelConfig,
    ServingOptions,
    motion_encoder_config,
    render_config,
    text_encoder_config,
)
from motion_retrieval.inference.tokenizer import TextTokenizer

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
INFO_FILE = "motion_retrieval.json"
MODEL_FILE = "model.pt"
PROGRAM_FILE = "model.pt2"
TOKENIZER_FILE = "tokenizer.json"
VERSION = "1"
WARMUP_CAPTION = "a person walks forward."
WARMUP_TOKENS = 8
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RepositoryInfo:
    """REPO/motion_retrieval.json, read back (``read_repository_info``)."""

    path: Path  # the repository folder
    model_id: str  # "mr-<12 hex>": content hash of the towers' weights and this description
    dim: int  # embedding width (256)
    max_frames: int  # frames per motion the motion tower takes (200)
    feature_dim: int  # values per frame (263)
    max_text_tokens: int  # the tokenizer truncates captions to this many tokens
    text_backbone: str  # the frozen language model inside the text tower
    stats_dataset: str  # whose mean/std normalise motions inside the motion tower
    created_from: str  # the run directory it was exported from
    format_version: int
    serving: ServingOptions  # what config.pbtxt says about batching; local mirrors reproduce it
    torchscript: dict[str, str] = field(default_factory=dict)  # tower -> "script" | "trace"

    @property
    def motion_model(self) -> Path:
        return self.path / MOTION_MODEL / VERSION / MODEL_FILE

    @property
    def text_model(self) -> Path:
        return self.path / TEXT_MODEL / VERSION / MODEL_FILE

    @property
    def tokenizer(self) -> Path:
        return self.path / TEXT_MODEL / TOKENIZER_FILE

    def model_configs(self) -> dict[str, ModelConfig]:
        """The Triton configs this repository's config.pbtxt files were rendered from."""
        return model_configs(self.serving, self.max_frames, self.feature_dim, self.dim)

    def to_json(self) -> dict:
        return {
            "model_id": self.model_id, "dim": self.dim, "max_frames": self.max_frames,
            "feature_dim": self.feature_dim, "max_text_tokens": self.max_text_tokens,
            "text_backbone": self.text_backbone, "stats_dataset": self.stats_dataset,
            "created_from": self.created_from, "format_version": self.format_version,
            "serving": self.serving.to_json(), "torchscript": dict(self.torchscript),
        }


@dataclass(frozen=True)
class ExportResult:
    info: RepositoryInfo
    files: list[Path]  # everything written
    verification: dict[str, ts.Verification]  # tower name -> how it was checked

    def to_json(self) -> dict:
        return {
            "repository": str(self.info.path), "model_id": self.info.model_id, "info": self.info.to_json(),
            "files": [str(f) for f in self.files],
            "verification": {k: vars(v) for k, v in self.verification.items()},
        }


class Progress:
    """Export steps on a tqdm bar (stderr), or nothing."""

    def __init__(self, enabled: bool = True, total: int = 3):
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="step", bar_format="export [{n}/{total}] {desc}")
        self._started = False

    def step(self, what: str) -> None:
        log.info("export: %s", what)
        if self._bar is not None:
            if self._started:
                self._bar.update()
            self._started = True
            self._bar.set_description_str(what)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.update(self._bar.total - self._bar.n)
            self._bar.set_description_str("done")
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def model_configs(options: ServingOptions, max_frames: int, feature_dim: int, dim: int) -> dict[str, ModelConfig]:
    return {
        MOTION_MODEL: motion_encoder_config(options, max_frames=max_frames, feature_dim=feature_dim, dim=dim),
        TEXT_MODEL: text_encoder_config(options, dim=dim, warmup_tokens=WARMUP_TOKENS),
    }


def _display_path(path: Path) -> str:
    """Project-relative when inside the project (the committed JSON must not carry this machine's layout)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(_PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def compute_model_id(modules: Sequence[nn.Module], description: dict) -> str:
    """"mr-" + 12 hex of SHA-256 over every tensor (name, dtype, shape, bytes) and the canonical description.

    Hashing tensors, not the model.pt zip bytes (which carry non-deterministic archive metadata), makes the id a
    property of the model: the same run exported twice gets the same id, any weight change gets a new one.
    """
    digest = hashlib.sha256()
    for index, module in enumerate(modules):
        for name, tensor in sorted(module.state_dict().items()):
            tensor = tensor.detach().cpu().contiguous()
            digest.update(f"{index}/{name}/{tensor.dtype}/{tuple(tensor.shape)}\n".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    digest.update(json.dumps(description, sort_keys=True).encode())
    return "mr-" + digest.hexdigest()[:12]


def export_towers(
    motion_tower: nn.Module,
    text_tower: nn.Module,
    tokenizer_json: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    dim: int,
    max_frames: int,
    feature_dim: int,
    max_text_tokens: int,
    text_backbone: str,
    stats_dataset: str,
    created_from: str,
    options: ServingOptions | None = None,
    real_motions: Sequence[np.ndarray] | None = None,
    write_program: bool = False,
    text_reference: nn.Module | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Script + verify both towers, then write the whole repository.

    ``real_motions``: raw (T, 263) motions to verify on besides random ones (None = the HumanML3D fixture when
    present). ``text_reference``: the eager text tower the scripted one must equal (default ``text_tower``).
    """
    options = options or ServingOptions()
    out_dir = Path(out_dir)
    tokenizer = TextTokenizer(tokenizer_json, max_text_tokens)
    if real_motions is None:
        real_motions = [np.load(p) for p in ts.default_real_motion_paths()]
    real_motions = [m[:, :feature_dim] for m in real_motions if m.ndim == 2 and m.shape[1] == feature_dim]

    mean, std = motion_tower.mean.detach().cpu().numpy(), motion_tower.std.detach().cpu().numpy()
    if mean.shape != (feature_dim,) or std.shape != (feature_dim,):
        raise ConfigError(
            f"{created_from}: statistics must be ({feature_dim},), got mean {mean.shape}, std {std.shape}"
        )
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ConfigError(f"{created_from}: statistics of {stats_dataset!r} hold NaN/inf or a std <= 0")
    motion_cases = ts.motion_verification_cases(max_frames, feature_dim, mean, std, real_motions)
    text_cases = ts.text_verification_cases(tokenizer)
    progress = progress or Progress(enabled=False)
    progress.step("scripting + verifying the motion tower")
    motion_script, motion_check = ts.script_and_verify(motion_tower, motion_cases, f"{created_from}: motion tower")
    progress.step("scripting + verifying the text tower")
    text_script, text_check = ts.script_and_verify(text_tower, text_cases, f"{created_from}: text tower",
                                                   reference=text_reference)
    for what, script, cases in [("motion", motion_script, motion_cases), ("text", text_script, text_cases)]:
        width = script(*cases[0]).shape[-1]
        if width != dim:
            raise ConfigError(f"{created_from}: the {what} tower returns {width}-d embeddings, expected {dim}")
        pinned = ts.pinned_devices(script)
        if pinned and options.instance_kind == "KIND_GPU":
            raise ConfigError(f"{created_from}: the {what} tower's TorchScript is pinned to device(s) {pinned} (a "
                              "trace through code that names devices) and would fail on Triton's GPU instances; "
                              "export with --instance-kind cpu, or make the module scriptable")

    description = {
        "dim": dim, "max_frames": max_frames, "feature_dim": feature_dim, "max_text_tokens": max_text_tokens,
        "text_backbone": text_backbone, "stats_dataset": stats_dataset, "format_version": FORMAT_VERSION,
    }
    info = RepositoryInfo(
        path=out_dir, model_id=compute_model_id([motion_script, text_script], description),
        created_from=created_from, serving=options,
        torchscript={MOTION_MODEL: motion_check.method, TEXT_MODEL: text_check.method}, **description,
    )

    program = None
    if write_program:
        program = ts.export_program(motion_tower.float().eval(), motion_cases[1], f"{created_from}: motion tower")
    progress.step(f"writing {out_dir}")
    # Everything is verified: write. model.pt files first, motion_retrieval.json last (it marks a complete export).
    files = []
    for name, script in [(MOTION_MODEL, motion_script), (TEXT_MODEL, text_script)]:
        path = out_dir / name / VERSION / MODEL_FILE
        ts.save_torchscript(script, path)
        files.append(path)
    reloaded = ts.load_torchscript(info.motion_model), ts.load_torchscript(info.text_model)
    ts.verify_same(motion_script, reloaded[0], motion_cases[:1], f"{info.motion_model} (reloaded)")
    ts.verify_same(text_script, reloaded[1], text_cases[:1], f"{info.text_model} (reloaded)")
    if program is not None:
        program_path = out_dir / MOTION_MODEL / VERSION / PROGRAM_FILE
        program_path.write_bytes(program)
        files.append(program_path)
    shutil.copyfile(tokenizer_json, info.tokenizer)
    files.append(info.tokenizer)
    files += write_configs(out_dir, info, tokenizer_json)
    info_path = out_dir / INFO_FILE
    info_path.write_text(json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n")
    files.append(info_path)
    progress.finish()
    log.info("exported %s to %s", info.model_id, out_dir)
    return ExportResult(info=info, files=files, verification={MOTION_MODEL: motion_check, TEXT_MODEL: text_check})


def write_configs(out_dir: Path, info: RepositoryInfo, tokenizer_json: str | os.PathLike) -> list[Path]:
    """config.pbtxt + warmup inputs of both models (everything of the repository but weights and tokenizer)."""
    files = []
    for name, config in info.model_configs().items():
        path = out_dir / name / "config.pbtxt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_config(config))
        files.append(path)
    files += write_warmup_files(out_dir, info, tokenizer_json)
    return files


def warmup_inputs(info: RepositoryInfo, tokenizer_json: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """model -> {warmup file name: per-sample array}: a full mask; a real caption, tokenised and padded."""
    ids, mask = TextTokenizer(tokenizer_json, min(WARMUP_TOKENS, info.max_text_tokens)).encode([WARMUP_CAPTION])
    padded_ids = np.zeros(WARMUP_TOKENS, dtype=np.int64)
    padded_mask = np.zeros(WARMUP_TOKENS, dtype=np.int64)
    padded_ids[: ids.shape[1]], padded_mask[: mask.shape[1]] = ids[0], mask[0]
    return {
        MOTION_MODEL: {"mask": np.ones(info.max_frames, dtype=np.bool_)},
        TEXT_MODEL: {"input_ids": padded_ids, "attention_mask": padded_mask},
    }


def write_warmup_files(out_dir: Path, info: RepositoryInfo, tokenizer_json: str | os.PathLike) -> list[Path]:
    files = []
    for name, arrays in warmup_inputs(info, tokenizer_json).items():
        folder = out_dir / name / WARMUP_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, array in arrays.items():
            path = folder / file_name
            path.write_bytes(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
            files.append(path)
    return files


def read_repository_info(repo: str | os.PathLike, require_models: bool = True) -> RepositoryInfo:
    """REPO/motion_retrieval.json as a RepositoryInfo; ConfigError naming the file when anything is missing."""
    repo = Path(repo)
    path = repo / INFO_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: not found; is {repo} a model repository written by `motion-retrieval export`?")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path}: format_version {data.get('format_version')!r}; this code reads {FORMAT_VERSION}")
    try:
        info = RepositoryInfo(
            path=repo, model_id=str(data["model_id"]), dim=int(data["dim"]), max_frames=int(data["max_frames"]),
            feature_dim=int(data["feature_dim"]), max_text_tokens=int(data["max_text_tokens"]),
            text_backbone=str(data["text_backbone"]), stats_dataset=str(data["stats_dataset"]),
            created_from=str(data["created_from"]), format_version=int(data["format_version"]),
            serving=ServingOptions.from_json(data["serving"]), torchscript=dict(data.get("torchscript", {})),
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: missing key {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    needed = [info.tokenizer] + ([info.motion_model, info.text_model] if require_models else [])
    for file in needed:
        if not file.is_file():
            hint = " (model.pt files are built by `motion-retrieval export`)" if file.name == MODEL_FILE else ""
            raise ConfigError(f"{file}: missing from the model repository{hint}")
    return info


def export_model(
    model: nn.Module,
    mean: np.ndarray,
    std: np.ndarray,
    out_dir: str | os.PathLike,
    *,
    stats_dataset: str,
    created_from: str,
    options: ServingOptions | None = None,
    real_motions: Sequence[np.ndarray] | None = None,
    write_program: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """A RetrievalModel (motion_retrieval.models) + motion statistics -> the model repository.

    The frozen language model named by the model config is loaded offline and traced inside the text tower; the
    scripted text tower is verified against the one with the eager language model.
    """
    from motion_retrieval.models.text_backbone import LastHiddenState, TextBackbone

    options = options or ServingOptions()
    config = model.config
    progress = progress or Progress(enabled=False)
    progress.step(f"loading {config.text.backbone}")
    backbone = TextBackbone(config.text.backbone)
    tokenizer_json = backbone.path / TOKENIZER_FILE
    example = TextTokenizer(tokenizer_json, config.text.max_tokens).encode(list(ts.VERIFICATION_CAPTIONS))  # padded
    # BERT-family models get a wrapper whose trace runs on any device; others are traced through transformers'
    # forward, which pins the trace to this machine's device (checked below).
    wrapper = BertLastHiddenState if BertLastHiddenState.supports(backbone.model) else LastHiddenState
    progress.step("tracing the language model")
    traced = ts.trace_module(wrapper(backbone.model), tuple(torch.from_numpy(a) for a in example))
    return export_towers(
        MotionTower(model.motion_encoder, mean, std),
        TextTower(traced, model.text_encoder),
        tokenizer_json,
        out_dir,
        dim=config.latent.dim,
        max_frames=config.motion.max_frames,
        feature_dim=config.motion.feature_dim,
        max_text_tokens=config.text.max_tokens,
        text_backbone=config.text.backbone,
        stats_dataset=stats_dataset,
        created_from=created_from,
        options=options,
        real_motions=real_motions,
        write_program=write_program,
        text_reference=TextTower(LastHiddenState(backbone.model), model.text_encoder),
        progress=progress,
    )


def choose_stats_dataset(available: Sequence[str], requested: str | None, where: str) -> str:
    """``requested``, else humanml3d when the run has it (the canonical format), else the run's first dataset."""
    if not available:
        raise ConfigError(f"{where}: the run has no feature statistics (stats/<dataset>.npz)")
    if requested is not None:
        if requested not in available:
            raise ConfigError(f"{where}: no statistics for dataset {requested!r}; the run has {sorted(available)}")
        return requested
    return "humanml3d" if "humanml3d" in available else list(available)[0]


def export_run(
    run_dir: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    stats_dataset: str | None = None,
    options: ServingOptions | None = None,
    real_motions: Sequence[np.ndarray] | None = None,
    write_program: bool = False,
    progress: bool = False,
) -> ExportResult:
    """A trained run directory (None = the shipped default run) -> the model repository ``out_dir``.

    Refuses (ConfigError) a run that cannot be loaded (missing or mismatched tensors), holds NaN weights, or whose
    TorchScript towers differ from eager; nothing is written in those cases.
    """
    from motion_retrieval.training.run_dir import default_run_dir, load_run

    run_dir = Path(run_dir) if run_dir is not None else Path(default_run_dir())
    bar = Progress(enabled=progress, total=6)
    try:
        bar.step(f"loading {run_dir}")
        try:
            loaded = load_run(run_dir)
        except ConfigError:
            raise
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            raise ConfigError(f"{run_dir}: cannot load the run ({exc})") from exc
        normalizers = dict(loaded.normalizers)
        name = choose_stats_dataset(list(normalizers), stats_dataset, str(run_dir))
        normalizer = normalizers[name]
        return export_model(
            loaded.model, np.asarray(normalizer.mean), np.asarray(normalizer.std), out_dir, stats_dataset=name,
            created_from=_display_path(run_dir), options=options, real_motions=real_motions,
            write_program=write_program, progress=bar,
        )
    finally:
        bar.close()
