"""Model subcommands: ``train`` (joint-dataset training into a self-describing run directory) and ``evaluate``
(TMR's protocols on a dataset split)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from motion_retrieval.cli import print_json
from motion_retrieval.data.sources import parse_data_arg

log = logging.getLogger(__name__)

DATA_HELP = (
    "a dataset as NAME=DIR; NAME picks the reader (humanml3d, kitml, annotations) and names the dataset's statistics; "
    "NAME:READER=DIR gives it another name. Repeat for joint-dataset training"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a retrieval model on one or more datasets",
        description=(
            "Train MoT++ (or a baseline preset) jointly on the train splits of the given datasets, each normalised "
            "with its own statistics, validating every epoch on the val split of humanml3d (or the first dataset). "
            "RUN_DIR receives config.json, the two towers, stats/, metrics.jsonl, curves.png and checkpoint.pt; "
            "running the same command again resumes from checkpoint.pt."
        ),
    )
    train.add_argument("--data", action="append", required=True, metavar="NAME=DIR", help=DATA_HELP)
    train.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write (or resume)")
    train.add_argument("--config", default="cpu", metavar="PRESET_OR_JSON",
                       help="a preset (paper, cpu, tiny, tmr, paper-mot, ...) or a JSON file "
                            '{"preset": ..., "model": {...}, "train": {...}} (default: cpu)')
    train.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    train.add_argument("--batch-size", type=int, default=None, help="override the training batch size")
    train.add_argument("--lr", type=float, default=None, help="override the learning rate")
    train.add_argument("--seed", type=int, default=None, help="override the seed")
    train.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N (default: the config's, auto)")
    train.add_argument("--scale-cccl", action="store_true",
                       help="fit the CCCL hand-off to the run's epochs (the paper's 40/250 .. 100/250 of training); "
                            "useful with --epochs")
    train.add_argument("--select", choices=["last", "best"], default="last",
                       help="towers to keep: the last epoch's (as the paper evaluates) or the best validation rsum")
    train.add_argument("--fp16", action="store_true", help="store the towers in float16 (half the size)")
    train.add_argument("--no-resume", action="store_true", help="start over even if RUN_DIR has a checkpoint")
    train.add_argument("--text-cache", default=None, metavar="FILE",
                       help="keep the frozen LM's caption token states in FILE (.pt or .npz) across runs")
    train.add_argument("--json", action="store_true", help="print one JSON object with the final metrics")
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="evaluate a run with TMR's protocols (normal, threshold, nsim, batches)",
        description=(
            "Embed a dataset split with a trained run (default: the shipped model) and report t2m/m2t "
            "R@1/2/3/5/10, MedR, nDCG and rsum per protocol. Normalisation (--stats auto): the run's statistics "
            "when it was trained on a dataset of that NAME; otherwise (cross-dataset) statistics computed on the "
            "evaluated dataset's train split; without a train split, the run's humanml3d statistics."
        ),
    )
    evaluate.add_argument("--run", default=None, metavar="RUN_DIR", help="run directory (default: the shipped model)")
    evaluate.add_argument("--data", required=True, metavar="NAME=DIR", help=DATA_HELP.split("; Repeat")[0])
    evaluate.add_argument("--protocol", default="all", choices=["all", "normal", "threshold", "nsim", "batches"])
    evaluate.add_argument("--split", default="test", help="split to evaluate (default: test)")
    evaluate.add_argument("--batch-size", type=int, default=None,
                          help="embedding batch size (default: the run's eval batch size); results do not depend "
                               "on it")
    evaluate.add_argument("--guo-batch-size", type=int, default=32,
                          help="chunk size of the 'batches' protocol (TMR: 32)")
    evaluate.add_argument("--stats", default="auto", help="auto, run, dataset, or a dataset name of the run")
    evaluate.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--out", default=None, metavar="FILE",
                          help="also write the results: FILE.json (the JSON object) or FILE.md (the table)")
    evaluate.set_defaults(func=_evaluate)


def _train(args: argparse.Namespace) -> int:
    from motion_retrieval.training.config import resolve_config_spec  # deferred: training needs torch ([train] extra)
    from motion_retrieval.training.trainer import train_run

    sources = [parse_data_arg(text) for text in args.data]
    overrides = {key: value for key, value in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                               ("lr", args.lr), ("seed", args.seed), ("device", args.device))
                 if value is not None}
    spec = resolve_config_spec(args.config, **overrides)
    model = spec.model
    if args.scale_cccl:
        from motion_retrieval.models.config import scale_cccl_schedule  # deferred: models/ imports torch ([train])

        model = scale_cccl_schedule(model, spec.train.epochs)
    result = train_run(args.out, sources, model, spec.train, resume=not args.no_resume, progress=True,
                       text_cache=args.text_cache, select=args.select, half_towers=args.fp16)
    last = result.last
    report = {
        "run_dir": str(result.run_dir),
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "best_val_rsum": result.best_rsum,
        "wall_time_s": round(result.wall_time_s, 3),
        "last": last,
    }
    if args.json:
        print_json(report)
    else:
        val = "" if "val/rsum" not in last else (
            f", val t2m R@10 {last['val/t2m/R10']:.2f}, m2t R@10 {last['val/m2t/R10']:.2f}, rsum {last['val/rsum']:.1f}"
        )
        print(f"trained {result.epochs} epochs into {result.run_dir}: loss {last.get('train/loss', float('nan')):.4f}"
              f"{val} ({result.wall_time_s:.1f} s)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    # deferred: evaluation needs torch ([train])
    from motion_retrieval.evaluation.report import markdown_table, write_json
    from motion_retrieval.evaluation.runner import evaluate_run
    from motion_retrieval.run_dir import default_run_dir, load_run

    source = parse_data_arg(args.data)
    run_dir = Path(args.run) if args.run else default_run_dir()
    run = load_run(run_dir)
    result = evaluate_run(run, source, split=args.split, protocol=args.protocol, stats=args.stats,
                          batch_size=args.batch_size, guo_batch_size=args.guo_batch_size, device=args.device,
                          progress=True)
    report = {"run": str(run_dir), **result.to_json()}
    table = markdown_table(result.protocols)
    if args.out:
        out = Path(args.out)
        if out.suffix == ".md":
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(f"# {run_dir} on {source.name}/{args.split} ({result.motions} motions, "
                           f"stats {result.stats})\n\n{markdown_table(result.protocols, with_ndcg=True)}")
        else:
            write_json(report, out)
    if args.json:
        print_json(report)
    else:
        print(f"{run_dir} on {source.name}/{args.split}: {result.motions} motions, stats {result.stats}")
        print(table, end="")
    return 0
