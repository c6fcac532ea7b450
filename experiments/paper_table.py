"""The paper's experiment grid in one command, written as a Markdown table (``make experiments``).

Rows follow the shape of the MoT++ results (PAPER.md 7): single-dataset vs joint-dataset training, the
cross-dataset transfer HumanML3D -> KIT-ML, the three motion encoders (MoT++, MoT, TMR-style ACTOR) and the three
contrastive objectives (CCCL, InfoNCE, TMR's filtered InfoNCE). Each row is one training run; each run is tested on
the test split of every dataset (a dataset the run was not trained on is the cross-dataset column). Metrics are
TMR's All ("normal") protocol by default, plus the average over the protocols in the JSON file.

Without ``--data`` the procedural corpora are generated (HumanML3D dialect seed 1, KIT-ML dialect seed 2). With
``--data humanml3d=DIR --data kitml=DIR`` the real datasets are used. Runs resume: repeating the command trains only
what is missing.

    python -m experiments.paper_table --quick                   # tiny models, tiny corpora, 1 epoch: minutes
    python -m experiments.paper_table --preset cpu --epochs 30  # the CPU-sized grid
    python -m experiments.paper_table --preset paper --data humanml3d=/data/HumanML3D --data kitml=/data/KIT-ML
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("experiments.paper_table")

REPO_ROOT = Path(__file__).resolve().parents[1]

# Model overrides per encoder and per objective, applied on top of the chosen preset's sizes.
ENCODERS: dict[str, dict] = {
    "MoT++": {"kind": "motpp", "attention": "factorized"},  # PAPER.md 2
    "MoT": {"kind": "mot", "heads": 1, "mot_joint_values": 9},  # SIGIR'23 divided space-time, one head
    "TMR": {"kind": "actor", "drop_path": 0.0},  # ACTOR-style transformer over whole frames
}
LOSSES: dict[str, dict] = {
    "CCCL": {"contrastive": "cccl"},  # PAPER.md 5
    "InfoNCE": {"contrastive": "infonce"},
    "filtered InfoNCE": {"contrastive": "infonce_filtered"},  # TMR: negatives with teacher cos > 0.6 masked
}


@dataclass(frozen=True)
class Experiment:
    train: tuple[str, ...]  # dataset names trained on
    encoder: str
    loss: str

    @property
    def slug(self) -> str:
        name = f"{'+'.join(self.train)}_{self.encoder}_{self.loss}"
        return "".join(c if c.isalnum() or c in "+-_" else "-" for c in name)


def grid(datasets: list[str]) -> list[Experiment]:
    """The paper-shaped grid: the objective ablation and the encoder ablation on joint data, plus single-dataset
    baselines (whose test on the other dataset is the cross-dataset transfer)."""
    joint = tuple(datasets)
    first = (datasets[0],)
    rows = [Experiment(joint, "MoT++", loss) for loss in LOSSES]
    rows += [Experiment(joint, encoder, "CCCL") for encoder in ENCODERS if encoder != "MoT++"]
    rows += [Experiment(joint, "TMR", "filtered InfoNCE")]
    if len(datasets) > 1:
        rows += [Experiment(first, "MoT++", "CCCL"), Experiment(first, "TMR", "filtered InfoNCE")]
    return list(dict.fromkeys(rows))


def _corpora(work: Path, quick: bool) -> dict[str, Path]:
    from experiments.default_model import _corpus

    n_h, n_k = (40, 24) if quick else (3000, 1000)
    return {"humanml3d": _corpus(work / f"synth-humanml3d-s1-n{n_h}", "humanml3d", n_h, 1),
            "kitml": _corpus(work / f"synth-kitml-s2-n{n_k}", "kitml", n_k, 2)}


def run(args: argparse.Namespace) -> dict:
    from motion_retrieval.data.sources import parse_data_arg
    from motion_retrieval.evaluation.protocols import average_protocols
    from motion_retrieval.evaluation.report import markdown_table
    from motion_retrieval.evaluation.runner import evaluate_run
    from motion_retrieval.models.config import scale_cccl_schedule
    from motion_retrieval.run_dir import load_run
    from motion_retrieval.training.config import resolve_config_spec
    from motion_retrieval.training.trainer import train_run

    work = Path(args.work)
    if args.data:
        sources = {s.name: s for s in (parse_data_arg(text) for text in args.data)}
    else:
        from motion_retrieval.data.sources import make_source

        sources = {name: make_source(name, name, path) for name, path in _corpora(work, args.quick).items()}
    preset = "tiny" if args.quick else args.preset
    overrides = {"epochs": args.epochs or (1 if args.quick else None)}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.device:
        overrides["device"] = args.device

    rows: dict[str, dict] = {}
    everything: dict[str, dict] = {}
    experiments = grid(list(sources))
    if args.only:
        experiments = [e for e in experiments if any(key in e.slug for key in args.only)]
    for number, experiment in enumerate(experiments, 1):
        log.info("[%d/%d] %s", number, len(experiments), experiment.slug)
        spec = resolve_config_spec(preset, **overrides)
        model = spec.model.replace(motion=ENCODERS[experiment.encoder], loss=LOSSES[experiment.loss])
        model = scale_cccl_schedule(model, spec.train.epochs)  # the paper's hand-off share of a shorter run
        run_dir = work / "runs" / preset / experiment.slug
        train_run(run_dir, [sources[name] for name in experiment.train], model, spec.train,
                  text_cache=work / "token_states.pt")
        loaded = load_run(run_dir)
        for test_name, source in sources.items():
            result = evaluate_run(loaded, source, protocol="all", device=args.device or "cpu")
            setting = "single" if len(experiment.train) == 1 else "joint"
            if test_name not in experiment.train:
                setting = "cross"
            label = (f"{'+'.join(experiment.train)} → {test_name} ({setting}) | {experiment.encoder} | "
                     f"{experiment.loss}")
            chosen = result.protocols.get(args.protocol) or result.protocols["normal"]
            rows[label] = chosen
            everything[f"{experiment.slug}/{test_name}"] = {
                "train": list(experiment.train), "test": test_name, "setting": setting,
                "encoder": experiment.encoder, "loss": experiment.loss, "motions": result.motions,
                "stats": result.stats, "protocols": result.protocols,
                "average": average_protocols(result.protocols),
            }
    table = markdown_table(rows, row_label="train → test (setting) | encoder | loss")
    header = (f"# Experiment grid ({preset} preset, protocol {args.protocol})\n\n"
              f"Data: {', '.join(f'{s.name}={s.path}' for s in sources.values())}\n\n")
    out = Path(args.out) if args.out else work / f"paper_table_{preset}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + table)
    out.with_suffix(".json").write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")
    return {"table": str(out), "json": str(out.with_suffix(".json")), "rows": len(rows), "markdown": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", default=None, metavar="NAME=DIR",
                        help="datasets (default: generated procedural corpora of both dialects)")
    parser.add_argument("--preset", default="cpu", help="model/training preset whose sizes every row uses")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--protocol", default="normal", choices=["normal", "threshold", "nsim", "batches"],
                        help="protocol shown in the table (all are in the JSON)")
    parser.add_argument("--only", nargs="*", default=None, help="run only rows whose slug contains one of these")
    parser.add_argument("--work", default=str(REPO_ROOT / "build" / "experiments"), help="corpora and runs")
    parser.add_argument("--out", default=None, help="Markdown table path (default: WORK/paper_table_PRESET.md)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda")
    parser.add_argument("--quick", action="store_true", help="tiny preset, tiny corpora, 1 epoch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    report = run(args)
    print(report["markdown"], end="")
    print(f"\nwritten: {report['table']} and {report['json']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
