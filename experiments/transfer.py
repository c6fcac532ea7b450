"""Model selection on transfer: train variants on the same procedural corpora, score each where it matters.

Every variant trains jointly on both procedural dialects (HumanML3D dialect seed 1, KIT-ML dialect seed 2) and is
scored on three sets the model never trained on:

- **real**: real optical mocap (``../shared/fixtures/bandai-namco-1``), class-level retrieval with the product's
  importer (``benchmarks/real_mocap.py``'s metrics: zero-shot accuracy, t2m mAP, left/right accuracy), normalised
  with the run's statistics (what the exported model does) and with the collection's own (``coll``);
- **transfer**: the test split of a ``--variant transfer`` corpus (held-out caption templates and phrasings, body
  proportions and tempos outside the training ranges, held-out styles and action variants), t2m/m2t R@10;
- **fresh**: the test split of a fresh corpus of the training generator (seed 3), t2m/m2t R@10: in-distribution.

Models are chosen on real + transfer, never on fresh alone. ``VARIANTS`` is the ablation ladder (each step adds one
change); ``--only`` picks some, ``--seeds`` repeats each with other seeds (mean and spread reported).

    python -m experiments.transfer --only baseline aug-light               # one seed each, in turn
    python -m experiments.transfer --prepare                                 # corpora + caption cache, then
    python -m experiments.transfer --only motpp-fixed --seed-indices 0 1 2   # ... runs in parallel processes
    python -m experiments.transfer --table                                   # the table of what has finished
Each finished run leaves WORK/results/<variant>-s<k>.json; a repeated command skips it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("experiments.transfer")

REPO_ROOT = Path(__file__).resolve().parents[1]

# Augmentation levels (data.augment): light = tempo, crop and jitter only; offset adds per-clip statistics
# shifts; full adds feature-group dropout.
AUG_LIGHT = {"tempo": 0.15, "crop": 0.05, "noise": 0.05}
AUG_OFFSET = {**AUG_LIGHT, "offset": 0.3, "scale": 0.15}
AUG_FULL = {**AUG_OFFSET, "group_dropout": 0.15}
NOISE = {"latent": {"noise_scale": 0.1}}
FULL_NOISE = {"latent": {"noise_scale": 1.0}}  # the paper's sampling, the presets' default before this work
NO_AUG = {"augment": {}}
COSINE = {"lr_schedule": "cosine", "lr_warmup_epochs": 1.0, "lr_min_ratio": 0.1}

# name -> (preset, model overrides, train overrides). The ladder adds one change per step.
VARIANTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # the recipe before this work: full-scale latent noise, no augmentation (MoT++ rows: the official init)
    "baseline": ("cpu", FULL_NOISE, NO_AUG),
    "noise0.1": ("cpu", NOISE, NO_AUG),
    "aug-light": ("cpu", NOISE, {"augment": AUG_LIGHT}),  # = the `cpu` preset, the shipped default
    "aug-offset": ("cpu", NOISE, {"augment": AUG_OFFSET}),
    "aug-full": ("cpu", NOISE, {"augment": AUG_FULL}),
    "teacher-floor": ("cpu", {**NOISE, "loss": {"cccl_teacher_floor": 0.3}}, {"augment": AUG_LIGHT}),
    "ema": ("cpu", NOISE, {"augment": AUG_LIGHT, "ema_decay": 0.995}),  # towers = the weight average
    # twins share a batch; the first keeps them in CCCL's teacher term (the frozen LM is blind to side)
    "mirror-pairs-teacher": ("cpu", NOISE, {"augment": AUG_LIGHT, "mirror_pairs": True}),
    "mirror-pairs": ("cpu", {**NOISE, "loss": {"cccl_mask_twins": True}},  # ... and masks them there
                     {"augment": AUG_LIGHT, "mirror_pairs": True}),
    "motpp-asis": ("cpu-motpp", FULL_NOISE, NO_AUG),
    "motpp-fixed": ("cpu-motpp", NOISE, NO_AUG),  # MoT++ with the noise fix: compare with noise0.1
    # MoT++ on the shipped recipe (aug-light's noise and augmentation): compare with aug-light
    "motpp-aug-light": ("cpu-motpp", NOISE, {"augment": AUG_LIGHT}),
    # + a one-epoch warm-up and a cosine decay to a tenth of the lr (training/schedule.py), for each encoder
    "aug-light-cosine": ("cpu", NOISE, {"augment": AUG_LIGHT, **COSINE}),
    "motpp-cosine": ("cpu-motpp", NOISE, {"augment": AUG_LIGHT, **COSINE}),
}


def _table(results: dict[str, list[dict]]) -> str:
    def cell(runs: list[dict], where: str, key: str) -> str:
        values = [r[where][key] for r in runs if where in r and r[where].get(key) is not None]
        if not values:
            return "-"
        mean = sum(values) / len(values)
        spread = (max(values) - min(values)) / 2 if len(values) > 1 else None
        return f"{mean:.1f}" if spread is None else f"{mean:.1f} ± {spread:.1f}"

    lines = ["| variant | seeds | real zero-shot | real mAP | real left/right | real zero-shot (coll. stats) | "
             "transfer t2m / m2t R@10 | fresh t2m / m2t R@10 |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for name, runs in results.items():
        lines.append(
            f"| {name} | {len(runs)} | {cell(runs, 'real/run', 'zero_shot/accuracy')} | "
            f"{cell(runs, 'real/run', 't2m/mAP')} | {cell(runs, 'real/run', 'side/accuracy')} | "
            f"{cell(runs, 'real/coll', 'zero_shot/accuracy')} | "
            f"{cell(runs, 'transfer', 't2m/R10')} / {cell(runs, 'transfer', 'm2t/R10')} | "
            f"{cell(runs, 'fresh', 't2m/R10')} / {cell(runs, 'fresh', 'm2t/R10')} |")
    return "\n".join(lines) + "\n"


def prepare(args: argparse.Namespace) -> dict[str, Path | None]:
    """Generate (or reuse) the corpora and fill the shared caption cache, so that runs can start in parallel."""
    from experiments.common import corpus
    from motion_retrieval.data.sources import make_source, read_records
    from motion_retrieval.models.config import get_preset
    from motion_retrieval.models.text_backbone import TokenStateCache, precompute_captions, shared_backbone

    work = Path(args.work)
    corpora = {
        "humanml3d": corpus(work / f"synth-humanml3d-s1-n{args.n_humanml3d}", "humanml3d", args.n_humanml3d, 1),
        "kitml": corpus(work / f"synth-kitml-s2-n{args.n_kitml}", "kitml", args.n_kitml, 2),
        "fresh": corpus(work / f"synth-humanml3d-s3-n{args.n_eval}", "humanml3d", args.n_eval, 3),
        "transfer": corpus(work / f"synth-transfer-s4-n{args.n_eval}", "humanml3d", args.n_eval, 4,
                           variant="transfer"),
    }
    if args.prepare:
        text = get_preset("cpu").text
        backbone = shared_backbone(text.backbone)
        if args.device and args.device.startswith("cuda"):
            backbone.to(args.device)  # only to fill the cache; the states are stored on the CPU
        cache = TokenStateCache(backbone, text.max_tokens, path=work / "token_states.pt", batch_size=256)
        texts = []
        for name in ("humanml3d", "kitml"):
            source = make_source(name, name, corpora[name])
            for split in ("train", "val"):
                texts += [c.text for r in read_records(source, split) for c in r.captions]
        precompute_captions(cache, texts, cache.batch_size, progress=not args.quiet)
        backbone.to("cpu")
    return corpora


def variant_configs(name: str, seed_index: int, epochs: int | None = None, device: str | None = None):
    """(ModelConfig, TrainConfig) of ladder variant ``name`` at seed index ``seed_index``: the one rule every
    experiment that trains ladder variants follows (preset, overrides, CCCL schedule scaled to the epochs, seed)."""
    from motion_retrieval.models.config import scale_cccl_schedule
    from motion_retrieval.training.config import resolve_config_spec

    preset, model_overrides, train_overrides = VARIANTS[name]
    spec = resolve_config_spec(preset, **({"epochs": epochs} if epochs else {}))
    if device:
        spec.train.device = device
    model = spec.model.replace(**model_overrides) if model_overrides else spec.model
    model = scale_cccl_schedule(model, spec.train.epochs)
    train = spec.train.from_dict({**spec.train.to_dict(), **train_overrides, "seed": spec.train.seed + seed_index})
    return model, train


def result_path(work: Path, name: str, seed_index: int) -> Path:
    return work / "results" / f"{name}-s{seed_index}.json"


def collect(work: Path, names: list[str]) -> dict[str, list[dict]]:
    """Every finished run's scores, by variant in ladder order."""
    results: dict[str, list[dict]] = {}
    for name in names:
        for path in sorted((work / "results").glob(f"{name}-s*.json")):
            results.setdefault(name, []).append(json.loads(path.read_text()))
    return results


def run(args: argparse.Namespace) -> dict:
    from experiments.common import load_real, score_run
    from motion_retrieval.data.sources import make_source
    from motion_retrieval.training.trainer import train_run

    work = Path(args.work)
    names = args.only or list(VARIANTS)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    corpora = prepare(args)
    if args.prepare or args.table:
        results = collect(work, names)
        table = _table(results)
        (work / "transfer_table.md").write_text(table)
        return {"results": results, "table": table}
    real, prompts = load_real()
    sources = [make_source("humanml3d", "humanml3d", corpora["humanml3d"]),
               make_source("kitml", "kitml", corpora["kitml"])]
    seed_indices = args.seed_indices if args.seed_indices is not None else list(range(args.seeds))
    for name in names:
        for seed_index in seed_indices:
            out = result_path(work, name, seed_index)
            if out.is_file():
                log.info("%s seed %d: done earlier (%s)", name, seed_index, out)
                continue
            model, train = variant_configs(name, seed_index, args.epochs, args.device)
            run_dir = work / "runs" / f"{name}-s{seed_index}"
            started = time.perf_counter()
            train_run(run_dir, sources, model, train, text_cache=work / "token_states.pt",
                      progress=not args.quiet)
            trained = time.perf_counter()
            scores = score_run(run_dir, corpora["fresh"], corpora["transfer"], real, prompts,
                               args.device or "cpu")
            scores["train_seconds"] = trained - started
            scores["score_seconds"] = time.perf_counter() - trained
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(scores, indent=2) + "\n")
            log.info("%s seed %d: %s", name, seed_index, json.dumps(scores))
    results = collect(work, names)
    table = _table(results)
    (work / "transfer_table.md").write_text(table)
    return {"results": results, "table": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(REPO_ROOT / "build" / "transfer"))
    parser.add_argument("--only", nargs="*", default=None, help=f"variants to run (default all: {list(VARIANTS)})")
    parser.add_argument("--seeds", type=int, default=1, help="runs per variant, seeds 1234, 1235, ...")
    parser.add_argument("--seed-indices", type=int, nargs="*", default=None,
                        help="run only these seed indices (0 = seed 1234); for parallel processes")
    parser.add_argument("--prepare", action="store_true",
                        help="only generate the corpora and fill the caption cache (before parallel runs)")
    parser.add_argument("--table", action="store_true", help="only print the table of the finished runs")
    parser.add_argument("--epochs", type=int, default=None, help="override the presets' epochs")
    parser.add_argument("--n-humanml3d", type=int, default=2500)
    parser.add_argument("--n-kitml", type=int, default=800)
    parser.add_argument("--n-eval", type=int, default=1700)
    parser.add_argument("--device", default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    report = run(args)
    print(json.dumps(report["results"]) if args.json else report["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
