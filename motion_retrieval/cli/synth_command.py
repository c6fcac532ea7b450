"""``motion-retrieval synth``: write the procedural text-motion corpus in the HumanML3D / KIT-ML folder format."""

from __future__ import annotations

import argparse
import sys

from motion_retrieval.cli import print_json
from motion_retrieval.synth.action_split import ACTION_SPLITS
from motion_retrieval.synth.corpus import DIALECTS, generate_corpus
from motion_retrieval.synth.variants import VARIANTS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write a procedural text-motion corpus (stand-in for HumanML3D / KIT-ML)",
        description="Generate N clips of parametric actions performed in varied styles by randomly proportioned "
                    "bodies, with 3-4 captions each and left/right mirrors, in the real dataset folder layout "
                    "(new_joints/, new_joint_vecs/, texts/, split files, Mean/Std, synth.json). The same seed "
                    "writes byte-identical files.",
    )
    parser.add_argument("--out", required=True, help="output folder (must be new or empty)")
    parser.add_argument("--dialect", choices=sorted(DIALECTS), default="humanml3d",
                        help="humanml3d: SMPL-22, 20 fps, metres, 263-d; kitml: MMM-21, 12.5 fps, mm, 251-d")
    parser.add_argument("--n", type=int, default=1000, help="original clips (mirrors double it; default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--variant", choices=VARIANTS, default="train",
                        help="train (default): the training corpus; transfer: a model-selection corpus of what "
                             "training corpora never contain (held-out caption templates, subjects and synonyms, "
                             "bodies and tempos outside the training ranges, held-out styles and action forms)")
    parser.add_argument("--actions", choices=ACTION_SPLITS, default="all",
                        help="all (default): every action family; seen: never the held-out families of the "
                             "unseen-action protocol (train on these); unseen: only those families; control: only "
                             "the ten seen families they are compared with")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        print(f"error: --n must be at least 1, got {args.n}", file=sys.stderr)
        return 2
    summary = generate_corpus(args.out, dialect=args.dialect, n=args.n, seed=args.seed, progress=True,
                              variant=args.variant, action_split=args.actions)
    result = summary.to_dict()
    result["seconds_per_1000_clips"] = round(summary.elapsed_s / summary.originals * 1000, 2)
    if args.json:
        print_json(result)
    else:
        print(f"wrote {summary.motions} motions ({summary.originals} clips + mirrors), {summary.captions} captions, "
              f"{summary.seconds_total / 3600:.2f} h of motion to {summary.out_dir} ({summary.variant} variant)")
        print("splits: " + ", ".join(f"{k} {v}" for k, v in summary.splits.items()))
        print(f"{summary.families} action families; {summary.elapsed_s:.1f} s "
              f"({result['seconds_per_1000_clips']:.1f} s per 1000 clips)")
    return 0
