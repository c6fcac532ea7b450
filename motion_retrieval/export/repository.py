"""A trained run -> the Triton model repository (DESIGN.md "Exported models", docs/ARCHITECTURE.md).

The layout and the description (REPO/motion_retrieval.json) are the serving contract's
(motion_retrieval.serving.repository); this module is the only writer. Nothing is written before both towers are
scripted and verified against eager on random and real inputs; motion_retrieval.json is written last.
``regenerate_configs`` rewrites only the configs and warmup files of an exported repository from its description
(the golden files of model_repository/: `motion-retrieval export --configs-only`).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from motion_retrieval.errors import ConfigError
from motion_retrieval.export import torchscript as ts
from motion_retrieval.export.identity import compute_model_id, verify_towers, weights_sha256
from motion_retrieval.export.towers import BertLastHiddenState, MotionTower, TextTower
from motion_retrieval.export.triton_config import WARMUP_FILES, production_configs, render_config
from motion_retrieval.models.text_backbone import LastHiddenState, TextBackbone
from motion_retrieval.run_dir import default_run_dir, load_run
from motion_retrieval.serving.repository import (
    FORMAT_VERSION,
    INFO_FILE,
    PROGRAM_FILE,
    TOKENIZER_FILE,
    VERSION,
    WARMUP_DIR,
    RepositoryInfo,
    ServingOptions,
    read_repository_info,
    write_repository_info,
)
from motion_retrieval.serving.tensors import MOTION_MODEL, TEXT_MODEL
from motion_retrieval.serving.tokenizer import TextTokenizer

log = logging.getLogger(__name__)

__all__ = ["INFO_FILE", "ExportResult", "RepositoryInfo", "ServingOptions", "choose_stats_dataset", "export_model",
           "export_run", "export_towers", "read_repository_info", "regenerate_configs", "warmup_inputs"]

WARMUP_CAPTION = "a person walks forward."
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


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


def _display_path(path: Path) -> str:
    """Project-relative when inside the project (the committed JSON must not carry this machine's layout)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(_PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


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
    # Padded to the longest (masks of every length) and to the served fixed length.
    text_cases = ts.text_verification_cases(TextTokenizer(tokenizer_json, max_text_tokens, fixed_length=False))
    text_cases += ts.text_verification_cases(TextTokenizer(tokenizer_json, max_text_tokens))[1:2]
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
        if pinned and options.gpu_config:
            raise ConfigError(f"{created_from}: the {what} tower's TorchScript is pinned to device(s) {pinned} (a "
                              "trace through code that names devices) and would fail on Triton's GPU instances; "
                              "export with --no-gpu-config (CPU config only), or make the module scriptable")

    info = RepositoryInfo(
        path=out_dir, model_id="", dim=dim, max_frames=max_frames, feature_dim=feature_dim,
        max_text_tokens=max_text_tokens, text_backbone=text_backbone, stats_dataset=stats_dataset,
        created_from=created_from, serving=options, torch_version=torch.__version__,
        weights_sha256={MOTION_MODEL: weights_sha256(motion_script), TEXT_MODEL: weights_sha256(text_script)},
        torchscript={MOTION_MODEL: motion_check.method, TEXT_MODEL: text_check.method},
        format_version=FORMAT_VERSION,
    )
    info = replace(info, model_id=compute_model_id([motion_script, text_script], info.model_description()))

    program = None
    if write_program:
        program = ts.export_program(motion_tower.float().eval(), motion_cases[1], f"{created_from}: motion tower")
    progress.step(f"writing {out_dir}")
    # Everything is verified: write. model.pt files first, motion_retrieval.json last (it marks a complete export).
    files = []
    for name, script in [(MOTION_MODEL, motion_script), (TEXT_MODEL, text_script)]:
        path = info.model_file(name)
        ts.save_torchscript(script, path)
        files.append(path)
    reloaded = ts.load_torchscript(info.motion_model), ts.load_torchscript(info.text_model)
    ts.verify_same(motion_script, reloaded[0], motion_cases[:1], f"{info.motion_model} (reloaded)")
    ts.verify_same(text_script, reloaded[1], text_cases[:1], f"{info.text_model} (reloaded)")
    verify_towers(info, {MOTION_MODEL: reloaded[0], TEXT_MODEL: reloaded[1]})
    if program is not None:
        program_path = out_dir / MOTION_MODEL / VERSION / PROGRAM_FILE
        program_path.write_bytes(program)
        files.append(program_path)
    shutil.copyfile(tokenizer_json, info.tokenizer)
    files.append(info.tokenizer)
    files += write_configs(info)
    files.append(write_repository_info(info))
    progress.finish()
    log.info("exported %s to %s", info.model_id, out_dir)
    return ExportResult(info=info, files=files, verification={MOTION_MODEL: motion_check, TEXT_MODEL: text_check})


def write_configs(info: RepositoryInfo) -> list[Path]:
    """Both config variants + warmup inputs of both models (everything of the repository but weights, tokenizer and
    description). The tokenizer must already be in place (the text warmup is a real tokenised caption)."""
    files = []
    for (name, variant), config in production_configs(info).items():
        path = info.config_file(name, variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_config(config))
        files.append(path)
    stale = [info.config_file(name, "gpu") for name in (MOTION_MODEL, TEXT_MODEL) if not info.serving.gpu_config]
    for path in stale:
        path.unlink(missing_ok=True)
    files += write_warmup_files(info)
    return files


def regenerate_configs(repo: str | os.PathLike) -> list[Path]:
    """Rewrite the configs and warmup files of an exported repository from its motion_retrieval.json (no model
    files needed): how model_repository/'s golden files are refreshed after the generator changes."""
    return write_configs(read_repository_info(repo, require_models=False))


def warmup_inputs(info: RepositoryInfo) -> dict[str, dict[str, np.ndarray]]:
    """model -> {warmup file name: per-sample array}: a full mask; a real caption, tokenised to the fixed length."""
    ids, mask = TextTokenizer(info.tokenizer, info.max_text_tokens).encode([WARMUP_CAPTION])  # (1, L) each
    return {
        MOTION_MODEL: {WARMUP_FILES[MOTION_MODEL]["MASK__1"]: np.ones(info.max_frames, dtype=np.bool_)},
        TEXT_MODEL: {WARMUP_FILES[TEXT_MODEL]["INPUT_IDS__0"]: ids[0],
                     WARMUP_FILES[TEXT_MODEL]["ATTENTION_MASK__1"]: mask[0]},
    }


def write_warmup_files(info: RepositoryInfo) -> list[Path]:
    files = []
    for name, arrays in warmup_inputs(info).items():
        folder = info.path / name / WARMUP_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, array in arrays.items():
            path = folder / file_name
            path.write_bytes(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
            files.append(path)
    return files


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
    options = options or ServingOptions()
    config = model.config
    progress = progress or Progress(enabled=False)
    progress.step(f"loading {config.text.backbone}")
    backbone = TextBackbone(config.text.backbone)
    tokenizer_json = backbone.path / TOKENIZER_FILE
    example = TextTokenizer(tokenizer_json, config.text.max_tokens, fixed_length=False).encode(
        list(ts.VERIFICATION_CAPTIONS))  # padded to the longest: the trace must take the masked path
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
