"""Data subcommands: ``prepare`` (validate a dataset folder, fill in features and stats), ``render``, ``inspect``
(the rig a motion file was mapped with, and one frame of it), and ``synth`` (the procedural corpus, registered from
cli/synth_command.py). ``add_reader_arguments`` / ``reader_options`` are the reader flags (``--rig-map``, ``--up``,
``--units``, ``--skeleton``, ``--fps``) every command that reads motion files shares (ingest and search use them
too)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from motion_retrieval.cli import print_json
from motion_retrieval.data.inspect_report import inspect_file
from motion_retrieval.data.joint_maps import load_joint_map
from motion_retrieval.data.prepare import prepare_folder
from motion_retrieval.data.render_files import render_file

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
    prepare.add_argument("--units", choices=UNIT_CHOICES, default="auto",
                         help="units of KIT-ML joints (default auto: by leg length; Guo's release is mm)")
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
    add_reader_arguments(render)
    render.set_defaults(func=_render)

    inspect = subparsers.add_parser(
        "inspect",
        help="show how a motion file's rig maps onto SMPL-22 (joints, up/forward/left, units) and draw one frame",
        description=(
            "Read one .bvh / .npy / .npz file as ingest would and print the rig found: which rig joint became which "
            "SMPL-22 joint (explicit map or automatic), the up/forward/left axes read from the motion, the units, "
            "fps and frames. --out draws one frame of the processed motion (facing +Z, left side blue) so a new "
            "library can be checked in seconds. --json prints it all as one object, including the mapping in the "
            "--rig-map FILE.json form (edit it and pass it back with --rig-map to override)."
        ),
    )
    inspect.add_argument("file", metavar="FILE")
    inspect.add_argument("--out", default=None, metavar="FRAME.png", help="draw one frame of the processed motion")
    inspect.add_argument("--frame", type=float, default=None, metavar="SECONDS",
                         help="time of the frame to draw (default: the middle of the take)")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    add_reader_arguments(inspect)
    inspect.set_defaults(func=_inspect)

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


UNIT_CHOICES = ["auto", "m", "cm", "mm", "in", "cmu"]
UP_CHOICES = ["auto", "y", "z", "x", "-y", "-z", "-x"]


def add_reader_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of the motion file readers (.bvh, .fbx, .npy, .npz); ``reader_options(args)`` makes them options."""
    group = parser.add_argument_group("reading motion files (.bvh, .fbx, .npy, .npz)")
    group.add_argument("--rig-map", default=None, metavar="FILE.json",
                       help="map the rig's joints onto SMPL-22 with this JointMap JSON ({smpl_joint: rig_joint | "
                            "[[rig_joint, weight], ...]}; `inspect --json` prints one to start from) instead of the "
                            "known-rig or automatic mapping")
    group.add_argument("--up", choices=UP_CHOICES, default="auto", metavar="AXIS",
                       help="the files' up axis: y, z, x (or -y, -z, -x written --up=-y); default auto: from the "
                            "motion, where the head is relative to the feet")
    group.add_argument("--units", choices=UNIT_CHOICES, default="auto",
                       help="the files' length unit; default auto: by leg length")
    group.add_argument("--skeleton", default=None, metavar="NAME",
                       help="joint layout of .npy/.npz arrays without joint names: smpl22, smplh, smplx, kit21, "
                            "h36m17 (default: by joint count)")
    group.add_argument("--fps", type=float, default=None, help="frame rate of .npy arrays (default: the file's, or 20)")
    group.add_argument("--body-model", default=None, metavar="DIR",
                       help="AMASS / SMPL-family .npz poses: a folder of your SMPL, SMPL-H or SMPL-X .npz model "
                            "files for exact per-subject joints (default: mean-shape joints; docs/INGEST.md)")
    group.add_argument("--take", default=None, metavar="NAME",
                       help="the take (animation stack) to read from .fbx files holding several (default: the one "
                            "the file leaves active; docs/FBX.md)")


def reader_options(args: argparse.Namespace) -> dict:
    """Reader options (data.load.read_file_with_mapping) from ``add_reader_arguments`` flags."""
    options: dict = {}
    if getattr(args, "rig_map", None):
        options["rig"] = load_joint_map(args.rig_map)  # read once, not once per file
    if getattr(args, "up", "auto") != "auto":
        options["up"] = args.up
    if getattr(args, "units", "auto") != "auto":
        options["units"] = args.units
    if getattr(args, "skeleton", None):
        options["skeleton"] = args.skeleton
    if getattr(args, "fps", None) is not None:
        options["fps"] = args.fps
    if getattr(args, "body_model", None):
        options["body_model"] = args.body_model
    if getattr(args, "take", None):
        options["take"] = args.take
    return options


def _prepare(args: argparse.Namespace) -> int:
    report = prepare_folder(
        args.dir,
        dialect=args.dialect,
        min_seconds=args.min_seconds,
        write=not args.dry_run,
        progress=True,  # tqdm draws on stderr; stdout stays one JSON object with --json
        units=args.units,
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
    out = render_file(args.file, args.out, title=args.title, num_frames=args.frames, **reader_options(args))
    print(out)
    return 0


def _inspect(args: argparse.Namespace) -> int:
    report = inspect_file(args.file, out=args.out, frame_seconds=args.frame, **reader_options(args))
    if args.json:
        print_json(report.to_json())
    else:
        print(report.text())
    return 0


def _synth_missing(args: argparse.Namespace) -> int:
    print(
        "error: the synth command is not installed (motion_retrieval/cli/synth_command.py is missing)", file=sys.stderr
    )
    return 1
