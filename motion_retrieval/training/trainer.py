"""The training application: joint-dataset MoT++ training with per-epoch validation (PAPER.md sections 6 and 8).

AdamW with a constant learning rate [C] unless ``train.lr_schedule`` / ``lr_warmup_epochs`` ask for a warm-up or a
cosine decay (``training/schedule.py``, a function of progress, so a resumed run continues it); every ``*_loss`` key
of ``model(batch, epoch)`` is summed (open_clip's contract); the 0-based epoch is passed to the model because the
CCCL hand-off schedule depends on it (PAPER.md 5). Each epoch ends with validation on the val split (first caption
per motion, the "normal" protocol; rsum picks the best epoch), a line in ``metrics.jsonl``, ``curves.png`` and
``checkpoint.pt``, so an interrupted run resumes where it stopped. The run directory's towers are the last epoch's
([C]'s reproduce scripts evaluate ``latest``) unless ``select="best"``. With ``train.ema_decay`` > 0 what is
validated, selected and saved is the exponential moving average of the weights (``training/ema.py``); the checkpoint
holds both, so a resumed run continues the average.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from motion_retrieval import run_dir as rd
from motion_retrieval.data.batching import (
    CaptionedMotions,
    Collator,
    fit_normalizers,
    joint_dataset,
    to_device,
    weighted_sampler,
)
from motion_retrieval.data.mirror_batches import MirrorPairBatches
from motion_retrieval.data.record import MotionRecord
from motion_retrieval.data.sources import DataSource, has_split, read_records
from motion_retrieval.errors import ConfigError
from motion_retrieval.evaluation.embedding import embed_set, evaluate_embedded, evaluation_set
from motion_retrieval.models.config import ModelConfig
from motion_retrieval.models.factory import create_model
from motion_retrieval.models.retrieval import RetrievalModel
from motion_retrieval.models.text_backbone import TextBackbone, TokenStateCache, precompute_captions, shared_backbone
from motion_retrieval.stats import Normalizer
from motion_retrieval.training.config import TrainConfig
from motion_retrieval.training.ema import WeightAverage
from motion_retrieval.training.schedule import lr_factor

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT_VERSION = 1
SELECT_CHOICES = ("last", "best")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainingData:
    """Everything read from disk before training: records per dataset, their stats, the validation set."""

    sources: list[DataSource]
    train: dict[str, list[MotionRecord]]
    normalizers: dict[str, Normalizer]
    val_name: str | None = None
    val: list[MotionRecord] = field(default_factory=list)


def load_training_data(sources: Sequence[DataSource], config: TrainConfig, progress: bool = True) -> TrainingData:
    """Read every dataset's train split, fit its stats, and read the val split that picks the best epoch."""
    if not sources:
        raise ConfigError("no training data: give at least one --data NAME=DIR")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"dataset names must be unique, got {names} (use NAME:READER=DIR to rename)")
    train = {s.name: read_records(s, "train", progress=progress) for s in sources}
    normalizers = fit_normalizers(train)
    val_name = config.val_dataset or ("humanml3d" if "humanml3d" in names else names[0])
    if val_name not in names:
        raise ConfigError(f"val_dataset {val_name!r} is not one of the training datasets {names}")
    source = sources[names.index(val_name)]
    val: list[MotionRecord] = []
    if has_split(source, "val"):
        val = read_records(source, "val", progress=progress)
    else:
        log.warning("%s has no val split: training runs without validation", val_name)
    return TrainingData(list(sources), train, normalizers, val_name if val else None, val)


def sum_losses(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The objective: every ``*_loss`` entry (already weighted by the model) summed."""
    losses = [value for key, value in outputs.items() if key.endswith("_loss")]
    if not losses:
        raise ConfigError(f"the model returned no *_loss keys (got {sorted(outputs)})")
    return torch.stack(losses).sum()


@dataclass
class TrainResult:
    run_dir: Path
    epochs: int  # epochs completed (including resumed ones)
    last: dict[str, Any]  # the last metrics.jsonl line
    best_epoch: int | None
    best_rsum: float | None
    wall_time_s: float  # this invocation's wall time


class Trainer:
    """One training run into ``run_dir``; ``fit()`` runs (or resumes) it."""

    def __init__(
        self,
        run_dir: str | os.PathLike,
        model_config: ModelConfig,
        train_config: TrainConfig,
        data: TrainingData,
        *,
        text_cache: str | os.PathLike | None = None,
        backbone: TextBackbone | None = None,
        progress: bool = True,
        select: str = "last",
        half_towers: bool = False,
        keep_checkpoint: bool = True,
    ):
        if select not in SELECT_CHOICES:
            raise ConfigError(f"select must be one of {SELECT_CHOICES}, got {select!r}")
        self.run_dir = Path(run_dir)
        self.model_config = model_config
        self.config = train_config
        self.data = data
        self.progress = progress
        self.select = select
        self.half_towers = half_towers
        self.keep_checkpoint = keep_checkpoint
        self.device = resolve_device(train_config.device)
        seed_everything(train_config.seed)

        max_frames = model_config.motion.max_frames
        self.train_sets = [
            CaptionedMotions(records, data.normalizers[name], name=name, max_frames=max_frames,
                             min_seconds=train_config.min_seconds, max_seconds=train_config.max_seconds,
                             random_caption=True, seed=train_config.seed, augment=train_config.augment,
                             align_mirrors=train_config.mirror_pairs)
            for name, records in data.train.items()
        ]
        self.val_set = None
        if data.val_name is not None:
            self.val_set = evaluation_set(data.val, data.normalizers[data.val_name], data.val_name, max_frames,
                                          train_config.min_seconds, train_config.max_seconds)
        self.backbone = backbone or shared_backbone(model_config.text.backbone)
        self.cache = TokenStateCache(self.backbone, model_config.text.max_tokens, path=text_cache,
                                     batch_size=train_config.text_batch_size)
        texts = [t for d in self.train_sets for t in d.all_caption_texts()]
        if self.val_set is not None:
            texts += self.val_set.all_caption_texts()
        precompute_captions(self.cache, texts, train_config.text_batch_size, progress)

        self.model: RetrievalModel = create_model(model_config).to(self.device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=train_config.lr, weight_decay=train_config.weight_decay)
        self.ema = WeightAverage(self.model, train_config.ema_decay) if train_config.ema_decay > 0 else None
        self.epoch_mirror_pairs = 0  # twins paired in the current epoch's batches (train.mirror_pairs)
        self.start_epoch = 0
        self.best_rsum: float | None = None
        self.best_epoch: int | None = None
        self.elapsed_before = 0.0

    # -- run configuration -------------------------------------------------------------------------------------

    def resolved_config(self) -> dict[str, Any]:
        return {
            "model": self.model_config.to_dict(),
            "train": self.config.to_dict(),
            "data": {
                "datasets": [
                    {**s.to_dict(), "train_motions": len(d), "train_captions": len(d.all_caption_texts())}
                    for s, d in zip(self.data.sources, self.train_sets)
                ],
                "val": None if self.val_set is None else {"name": self.data.val_name, "motions": len(self.val_set)},
                "select": self.select,
            },
        }

    # -- resume ------------------------------------------------------------------------------------------------

    def _checkpoint_path(self) -> Path:
        return self.run_dir / rd.CHECKPOINT_FILE

    def save_checkpoint(self, epochs_done: int, elapsed: float) -> None:
        state = {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "epoch": epochs_done,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "best_rsum": self.best_rsum,
            "best_epoch": self.best_epoch,
            "elapsed_s": elapsed,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
            "model_config": self.model_config.to_dict(),
        }
        rd._atomic_torch_save(state, self._checkpoint_path())

    def try_resume(self) -> bool:
        path = self._checkpoint_path()
        if not path.is_file():
            return False
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("format_version") != CHECKPOINT_FORMAT_VERSION:
            raise ConfigError(f"{path}: checkpoint format {state.get('format_version')!r} is not supported")
        if state.get("model_config") != self.model_config.to_dict():
            raise ConfigError(f"{path}: the checkpoint was trained with another model config; use a new --out or "
                              "delete the checkpoint to start over")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None:
            if state.get("ema") is None:
                raise ConfigError(f"{path}: the checkpoint has no weight average but ema_decay is set; use a new "
                                  "--out or delete the checkpoint to start over")
            self.ema.load_state_dict(state["ema"])
        self.start_epoch = int(state["epoch"])
        self.best_rsum, self.best_epoch = state.get("best_rsum"), state.get("best_epoch")
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        rng = state.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
            np.random.set_state(rng["numpy"])
            random.setstate(rng["python"])
        log.info("resumed %s at epoch %d", self.run_dir, self.start_epoch)
        return True

    # -- one epoch ---------------------------------------------------------------------------------------------

    def _loader(self, epoch: int) -> DataLoader:
        for dataset in self.train_sets:
            dataset.set_epoch(epoch)
        joint = joint_dataset(self.train_sets)
        generator = torch.Generator().manual_seed(self.config.seed + epoch)
        if self.config.mirror_pairs:
            batches = MirrorPairBatches(self.train_sets, self.config.batch_size, seed=self.config.seed + epoch,
                                        drop_last=len(joint) > self.config.batch_size)
            self.epoch_mirror_pairs = batches.pairs
            return DataLoader(joint, batch_sampler=batches, num_workers=self.config.num_workers,
                              collate_fn=Collator(self.cache), pin_memory=self.device.type == "cuda")
        sampler = None
        if self.config.dataset_weights:
            sampler = weighted_sampler(self.train_sets, self.config.dataset_weights, generator)
        return DataLoader(
            joint,
            batch_size=self.config.batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            generator=generator if sampler is None else None,
            # a lone leftover sample would make a degenerate contrastive batch; drop the remainder when a full
            # batch exists (the motions are reshuffled every epoch, so none is left out for good)
            drop_last=len(joint) > self.config.batch_size,
            num_workers=self.config.num_workers,
            collate_fn=Collator(self.cache),
            pin_memory=self.device.type == "cuda",
        )

    def train_epoch(self, epoch: int) -> dict[str, float]:
        self.model.train()
        loader = self._loader(epoch)
        sums: dict[str, float] = defaultdict(float)
        steps = samples = 0
        iterator = loader
        if self.progress:
            iterator = tqdm(loader, desc=f"epoch {epoch + 1}/{self.config.epochs}", unit="batch", leave=False)
        steps_per_epoch = len(loader)
        scheduled = self.config.lr_schedule != "constant" or self.config.lr_warmup_epochs > 0
        for batch in iterator:
            if scheduled:
                factor = lr_factor(epoch + (steps + 1) / steps_per_epoch, self.config.epochs,
                                   self.config.lr_warmup_epochs, self.config.lr_schedule, self.config.lr_min_ratio)
                for group in self.optimizer.param_groups:
                    group["lr"] = self.config.lr * factor
            batch = to_device(batch, self.device)
            outputs = self.model(batch, epoch)
            loss = sum_losses(outputs)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss at epoch {epoch}, step {steps}: "
                                         f"{ {k: float(v) for k, v in outputs.items() if v.numel() == 1} }")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.grad_clip_norm:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip_norm)
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update(self.model)
            steps += 1
            samples += len(batch["keys"])
            sums["loss"] += float(loss.detach())
            for key, value in outputs.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    sums[key] += float(value.detach())
            if self.progress and steps % self.config.log_every == 0:
                iterator.set_postfix(loss=f"{sums['loss'] / steps:.4f}")
        if steps == 0:
            raise ConfigError("an epoch had no batches: the training set is empty")
        line = {**{f"train/{k}": v / steps for k, v in sorted(sums.items())},
                "train/steps": steps, "train/samples": samples}
        if self.config.mirror_pairs:
            line["train/mirror_pairs"] = self.epoch_mirror_pairs
        return line

    @property
    def served_model(self) -> RetrievalModel:
        """The weights that are validated and saved: the weight average when there is one."""
        return self.model if self.ema is None else self.ema.module

    def validate(self) -> dict[str, float]:
        if self.val_set is None:
            return {}
        embedded = embed_set(self.served_model, self.val_set, self.cache, self.config.eval_batch_size, self.device)
        metrics = evaluate_embedded(embedded, ["normal"])["normal"]
        return {f"val/{k}": v for k, v in metrics.items()}

    # -- the run -----------------------------------------------------------------------------------------------

    def fit(self, resume: bool = True) -> TrainResult:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self.try_resume()
        elif self._checkpoint_path().exists():
            self._checkpoint_path().unlink()
        config = self.resolved_config()
        rd.write_config(self.run_dir, config)
        rd.write_stats(self.run_dir, self.data.normalizers)
        metrics_path = self.run_dir / rd.METRICS_FILE
        if self.start_epoch == 0 and metrics_path.exists():
            metrics_path.unlink()  # a fresh run does not append to an old one's curve
        started = time.perf_counter()
        last: dict[str, Any] = {}
        for epoch in range(self.start_epoch, self.config.epochs):
            epoch_start = time.perf_counter()
            line: dict[str, Any] = {"epoch": epoch}
            line.update(self.train_epoch(epoch))
            line["train/epoch_time_s"] = time.perf_counter() - epoch_start
            line["train/samples_per_s"] = line["train/samples"] / max(line["train/epoch_time_s"], 1e-9)
            validate_now = (epoch + 1) % self.config.validate_every == 0 or epoch + 1 == self.config.epochs
            if validate_now:
                line.update(self.validate())
            rsum = line.get("val/rsum")
            improved = rsum is not None and (self.best_rsum is None or rsum > self.best_rsum)
            if improved:
                self.best_rsum, self.best_epoch = float(rsum), epoch
            line["lr"] = self.optimizer.param_groups[0]["lr"]
            line["wall_time_s"] = self.elapsed_before + time.perf_counter() - started
            with open(metrics_path, "a") as handle:
                handle.write(json.dumps(line, sort_keys=True) + "\n")
            log.info("epoch %d: loss %.4f%s (%.1f s)", epoch, line["train/loss"],
                     "" if rsum is None else f", val rsum {rsum:.2f}", line["train/epoch_time_s"])
            if self.select == "best" and (improved or self.val_set is None):
                rd.save_towers(self.run_dir, self.served_model, self.half_towers)
            self.save_checkpoint(epoch + 1, line["wall_time_s"])
            write_curves(metrics_path, self.run_dir / rd.CURVES_FILE)
            last = line
        if self.select == "last" or not (self.run_dir / rd.MOTION_TOWER_FILE).exists():
            rd.save_towers(self.run_dir, self.served_model, self.half_towers)
        if not self.keep_checkpoint and self._checkpoint_path().exists():
            self._checkpoint_path().unlink()
        wall = time.perf_counter() - started
        summary = {"best_epoch": self.best_epoch, "best_val_rsum": self.best_rsum,
                   "epochs": self.config.epochs, "wall_time_s": self.elapsed_before + wall}
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return TrainResult(self.run_dir, self.config.epochs, last or read_last_metrics(metrics_path),
                           self.best_epoch, self.best_rsum, wall)


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_last_metrics(path: str | os.PathLike) -> dict[str, Any]:
    lines = read_metrics(path)
    return lines[-1] if lines else {}


def write_curves(metrics_path: str | os.PathLike, out: str | os.PathLike) -> Path | None:
    """Training loss terms and validation recalls per epoch, as a PNG (matplotlib, Agg backend)."""
    lines = read_metrics(metrics_path)
    if not lines:
        return None
    import matplotlib  # deferred: heavy to import, only the curves need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: after use("Agg"), which must come first

    epochs = [line["epoch"] + 1 for line in lines]
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    loss_keys = sorted({k for line in lines for k in line if k.startswith("train/") and k.endswith("_loss")})
    for key in ["train/loss", *loss_keys]:
        values = [line.get(key, math.nan) for line in lines]
        ax_loss.plot(epochs, values, label=key.removeprefix("train/"), marker="." if len(epochs) < 30 else None)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.set_yscale("symlog", linthresh=1e-3)
    ax_loss.legend(fontsize=7)
    ax_loss.set_title("training loss")
    for key in ("val/t2m/R01", "val/t2m/R10", "val/m2t/R01", "val/m2t/R10"):
        values = [line.get(key, math.nan) for line in lines]
        if not all(math.isnan(v) for v in values):
            ax_val.plot(epochs, values, label=key.removeprefix("val/"), marker="." if len(epochs) < 30 else None)
    ax_val.set_xlabel("epoch")
    ax_val.set_ylabel("recall (%)")
    ax_val.set_title("validation (normal protocol)")
    if ax_val.lines:
        ax_val.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    tmp = out.with_name(out.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out)
    return out


def train_run(
    run_dir: str | os.PathLike,
    sources: Sequence[DataSource],
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    resume: bool = True,
    progress: bool = True,
    text_cache: str | os.PathLike | None = None,
    select: str = "last",
    half_towers: bool = False,
    keep_checkpoint: bool = True,
    backbone: TextBackbone | None = None,
) -> TrainResult:
    """Read the data, train, and leave a complete run directory (the ``train`` command)."""
    data = load_training_data(sources, train_config, progress=progress)
    trainer = Trainer(run_dir, model_config, train_config, data, text_cache=text_cache, backbone=backbone,
                      progress=progress, select=select, half_towers=half_towers, keep_checkpoint=keep_checkpoint)
    return trainer.fit(resume=resume)
