"""Data subcommands: ``prepare`` (validate a dataset folder, fill in features and stats), ``render``, and ``synth``
(the procedural corpus, registered from cli/synth_command.py)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

log = logging.getLogger(__name__)
SYNTH_MODULE = "motion_retrieval.cli.synth_command"  # helper-owned: the procedural corpus


def register(subparsers: argparse._SubParsersAction) -> None:
    prepare = subparsers.add_parser(
        "prepare",
        help="validate a HumanML3D/KIT-ML folder; compute missing features and Mean/Std",
        description=(
            "Validate a HumanML3D- or KIT-ML-format folder (new_joint_vecs/, new_joints/, texts/, split files). "
            "Missing features are computed from new_joints/ and Mean.npy/Std.npy written when missing (KIT-ML: the "
            "SMPL-22 263-d features and stats go to DIR/smpl22/). Bad files are reported and skipped."
        ),
    )
    prepare.add_argument("dir", metavar="DIR", help="dataset folder")
    prepare.add_argument("--dialect", choices=["auto", "humanml3d", "kitml"], default="auto")
    prepare.add_argument(
        "--min-seconds", type=float, default=None, help="shortest usable clip (default: Guo's, about 2 s)"
    )
    prepare.add_argument("--dry-run", action="store_true", help="validate only; write nothing")
    prepare.add_argument("--json", action="store_true", help="print one JSON object")
    prepare.add_argument("--strict", action="store_true", help="exit 1 when any file is bad")
    prepare.set_defaults(func=_prepare)

    render = subparsers.add_parser(
        "render",
        help="draw a motion as a stick-figure PNG strip or GIF",
        description=(
            "Render a motion file: features .npy (T, 263) / (T, 251), joints .npy (T, 22|21, 3), .npz or .bvh. "
            "--out X.png draws key frames side by side, --out X.gif an animation."
        ),
    )
    render.add_argument("file", metavar="FILE")
    render.add_argument("--out", required=True, help="output .png (strip) or .gif (animation)")
    render.add_argument("--title", default=None)
    render.add_argument("--frames", type=int, default=8, help="frames in a PNG strip (default 8)")
    render.set_defaults(func=_render)

    try:
        synth_command = importlib.import_module(SYNTH_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != SYNTH_MODULE:  # a missing dependency inside it is a real error
            raise
        log.debug("synth command not available: %s", exc)
        synth = subparsers.add_parser("synth", help="(unavailable) procedural corpus")
        synth.set_defaults(func=_synth_missing)
    else:
        synth_command.register(subparsers)


def _prepare(args: argparse.Namespace) -> int:
    from motion_retrieval.cli import print_json
    from motion_retrieval.data.prepare import prepare_folder

    report = prepare_folder(
        args.dir,
        dialect=args.dialect,
        min_seconds=args.min_seconds,
        write=not args.dry_run,
        progress=True,  # tqdm draws on stderr; stdout stays one JSON object with --json
    )
    if args.json:
        print_json(report.to_json())
    else:
        print(
            f"{report.root} ({report.dialect}): {report.ok}/{report.motions} motions ok, "
            f"{report.written} feature files written, "
            f"stats {'written to ' + str(report.stats_path) if report.stats_written else 'kept'}; "
            f"{report.motions / report.seconds if report.seconds else 0:.1f} clips/s"
        )
        for split, count in report.splits.items():
            print(f"  {split}: {count} ids")
        if report.bad:
            print(f"{len(report.bad)} bad:")
            for bad in report.bad:
                print(f"  {bad.path}: {bad.problem}")
    return 1 if args.strict and report.bad else 0


def _render(args: argparse.Namespace) -> int:
    from motion_retrieval.render import render_file

    out = render_file(args.file, args.out, title=args.title, num_frames=args.frames)
    print(out)
    return 0


def _synth_missing(args: argparse.Namespace) -> int:
    print(
        "error: the synth command is not installed (motion_retrieval/cli/synth_command.py is missing)", file=sys.stderr
    )
    return 1
