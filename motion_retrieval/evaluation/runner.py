"""Evaluate a trained run on one dataset split with TMR's protocols (the ``evaluate`` command and experiments).

Normalisation of the evaluated dataset (``stats``):

* ``"auto"`` (default): the run's own statistics when it was trained on a dataset of that name (what the model saw
  in training); otherwise, for a cross-dataset evaluation, the statistics of the evaluated dataset's train split
  (PAPER.md 6: each dataset is normalised with its own mean/std); and when that dataset has no train split, the
  run's default statistics (humanml3d when present), which is also what the exported serving model applies.
* ``"run"``: the run's statistics for that name, else the run's default ones (serving behaviour).
* ``"dataset"``: always compute them from the evaluated dataset's train split.
* any dataset name the run has statistics for (e.g. ``"humanml3d"``): exactly those.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from motion_retrieval.data.batching import fit_normalizers
from motion_retrieval.data.sources import DataSource, has_split, read_nsim_keys, read_records
from motion_retrieval.errors import ConfigError
from motion_retrieval.evaluation.embedding import embed_set, evaluate_embedded, evaluation_set
from motion_retrieval.evaluation.protocols import GUO_BATCH_SIZE, resolve_protocols
from motion_retrieval.models.text_backbone import TokenStateCache, precompute_captions, shared_backbone
from motion_retrieval.run_dir import LoadedRun
from motion_retrieval.stats import Normalizer

log = logging.getLogger(__name__)


@dataclass
class EvaluationResult:
    dataset: str
    split: str
    motions: int
    stats: str  # where the normalisation came from, e.g. "run:humanml3d" or "dataset:kitml/train"
    protocols: dict[str, dict[str, float]]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "split": self.split, "motions": self.motions, "stats": self.stats,
                "protocols": self.protocols, "seconds": round(self.seconds, 3), **self.extra}


def choose_normalizer(run: LoadedRun, source: DataSource, stats: str = "auto",
                      progress: bool = False) -> tuple[Normalizer, str]:
    """The normaliser for ``source`` under the ``stats`` policy (module docstring) and a label saying which."""
    default_name = "humanml3d" if "humanml3d" in run.normalizers else next(iter(run.normalizers))
    if stats == "auto":
        if source.name in run.normalizers:
            return run.normalizers[source.name], f"run:{source.name}"
        if has_split(source, "train"):
            stats = "dataset"
        else:
            log.warning("%s: not a training dataset of the run and no train split; using the run's %s stats",
                        source.name, default_name)
            return run.normalizers[default_name], f"run:{default_name}"
    if stats == "run":
        name = source.name if source.name in run.normalizers else default_name
        return run.normalizers[name], f"run:{name}"
    if stats == "dataset":
        train = read_records(source, "train", progress=progress)
        return fit_normalizers({source.name: train})[source.name], f"dataset:{source.name}/train"
    if stats in run.normalizers:
        return run.normalizers[stats], f"run:{stats}"
    raise ConfigError(f"--stats {stats!r}: expected auto, run, dataset or one of the run's datasets "
                      f"{sorted(run.normalizers)}")


def evaluate_run(
    run: LoadedRun,
    source: DataSource,
    *,
    split: str = "test",
    protocol: str | Sequence[str] = "all",
    stats: str = "auto",
    batch_size: int | None = None,
    guo_batch_size: int = GUO_BATCH_SIZE,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> EvaluationResult:
    """Embed ``split`` of ``source`` with ``run`` and compute the requested protocols."""
    started = time.perf_counter()
    nsim_keys = read_nsim_keys(source)
    protocols = resolve_protocols(protocol, has_nsim=nsim_keys is not None)
    normalizer, stats_label = choose_normalizer(run, source, stats, progress)
    records = read_records(source, split, progress=progress)
    config = run.model.config
    dataset = evaluation_set(records, normalizer, source.name, config.motion.max_frames)
    if len(dataset) < len(records):
        log.warning("%s/%s: %d of %d motions have no usable caption and are left out",
                    source.name, split, len(records) - len(dataset), len(records))
    train_config = run.config.get("train", {})
    batch_size = batch_size or int(train_config.get("eval_batch_size", 256))
    cache = TokenStateCache(shared_backbone(config.text.backbone), config.text.max_tokens,
                            batch_size=int(train_config.get("text_batch_size", 64)))
    precompute_captions(cache, dataset.all_caption_texts(), cache.batch_size, progress)
    device = torch.device(device)
    model = run.model.to(device)
    embedded = embed_set(model, dataset, cache, batch_size, device, progress)
    if nsim_keys is not None and "nsim" in protocols:
        present = set(embedded.keys)
        kept = [k for k in nsim_keys if k in present]
        if len(kept) < len(nsim_keys):
            log.warning("%s: %d nsim keys are not usable test motions; evaluating nsim on %d",
                        source.name, len(nsim_keys) - len(kept), len(kept))
        nsim_keys = kept
    if "batches" in protocols and len(embedded.keys) < guo_batch_size and protocol == "all":
        log.warning("%s/%s: %d motions are fewer than one batch of %d; 'all' skips the batches protocol",
                    source.name, split, len(embedded.keys), guo_batch_size)
        protocols = [p for p in protocols if p != "batches"]
    results = evaluate_embedded(embedded, protocols, nsim_keys=nsim_keys, batch_size=guo_batch_size)
    return EvaluationResult(source.name, split, len(embedded.keys), stats_label, results,
                            time.perf_counter() - started)
