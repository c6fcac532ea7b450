"""Importing a real mocap folder with the automatic rig mapping against an explicit map, in the same run.

The automatic mapping is found once per file, from its header and a few sampled frames (data/rig/), then applied
as one matrix product, so it should cost next to nothing beside parsing, forward kinematics, resampling and the
263-d features. Target: auto / explicit <= 1.10 (issue 10). The explicit map is the one the automatic mapping
finds, handed back as a JointMap (what ``--rig-map FILE.json`` does), so both import the very same joints.

    python -m benchmarks.rig_import                                  # ../shared/fixtures/bandai-namco-1, 3 rounds
    python -m benchmarks.rig_import --rounds 5 --json
    python -m benchmarks.rig_import --folder DIR --no-features       # parsing + mapping only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_FOLDER = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "bandai-namco-1"
TARGET_RATIO = 1.10


def import_rounds(files: list[Path], explicit, compute_features: bool, rounds: int) -> dict[str, np.ndarray]:
    """CPU seconds to read each take into a record, (rounds, takes) per mode.

    Both modes read the same take back to back (in alternating order) before moving on, and CPU time is measured
    rather than wall time: on a shared machine the load of other processes then cancels out of the ratio.
    """
    from motion_retrieval.data.load import read_file

    times = {"auto": np.zeros((rounds, len(files))), "explicit": np.zeros((rounds, len(files)))}
    for r in range(rounds):
        for n, path in enumerate(files):
            modes = (("explicit", explicit), ("auto", None))
            for mode, rig in modes if (r + n) % 2 == 0 else modes[::-1]:
                started = time.process_time()
                read_file(path, rig=rig, compute_features=compute_features)
                times[mode][r, n] = time.process_time() - started
    return times


def mapping_only(files: list[Path]) -> tuple[float, float]:
    """CPU seconds spent in the automatic mapping alone (forward kinematics done beforehand): as imports run it
    (the body found once per file header, then each take's axes and sides), and found from scratch for every take."""
    from motion_retrieval.data.bvh import parse_bvh
    from motion_retrieval.data.rig import map_rig

    cached = fresh = 0.0
    for path in files:
        motion = parse_bvh(path)
        positions, parents = motion.positions(), [j.parent for j in motion.joints]
        started = time.process_time()
        map_rig(positions, motion.names, parents, rig="auto", path=path, header_key=motion.header_key())
        cached += time.process_time() - started
        started = time.process_time()
        map_rig(positions, motion.names, parents, rig="auto", path=path)
        fresh += time.process_time() - started
    return cached, fresh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="a folder of .bvh takes")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (per take, the fastest counts)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N takes")
    parser.add_argument("--no-features", action="store_true", help="skip the 263-d features (parse + map only)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    files = sorted(args.folder.glob("*.bvh"))[: args.limit]
    if not files:
        print(f"no .bvh files in {args.folder} (the Bandai-Namco fixture lives in ../shared/fixtures)", file=sys.stderr)
        return 2
    from motion_retrieval.data.bvh import read_bvh_with_mapping

    explicit = read_bvh_with_mapping(files[0])[1].joint_map()  # the automatic mapping, as an explicit JointMap
    features = not args.no_features
    import_rounds(files[:3], explicit, features, 1)  # warm-up: imports, caches
    times = import_rounds(files, explicit, features, args.rounds)
    # Per take, the fastest of the rounds (the least disturbed by other processes), summed over the folder.
    auto, fixed = (float(times[mode].min(axis=0).sum()) for mode in ("auto", "explicit"))
    cached, fresh = mapping_only(files)
    result = {
        "folder": str(args.folder),
        "takes": len(files),
        "features": features,
        "rounds": args.rounds,
        "auto_seconds": round(auto, 3),
        "explicit_seconds": round(fixed, 3),
        "auto_takes_per_second": round(len(files) / auto, 1),
        "explicit_takes_per_second": round(len(files) / fixed, 1),
        "ratio_auto_over_explicit": round(auto / fixed, 3),
        "target_ratio": TARGET_RATIO,
        "mapping_ms_per_take": round(1000 * cached / len(files), 2),
        "mapping_from_scratch_ms_per_take": round(1000 * fresh / len(files), 2),
        "rounds_seconds": {k: [round(float(v), 3) for v in vs.sum(axis=1)] for k, vs in times.items()},
    }
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"{len(files)} takes from {args.folder} ({'with' if features else 'without'} features); CPU seconds, "
              f"per take the best of {args.rounds} rounds, both modes back to back")
        print(f"  explicit map: {fixed:7.2f} s  ({result['explicit_takes_per_second']} takes/s)")
        print(f"  automatic:    {auto:7.2f} s  ({result['auto_takes_per_second']} takes/s)")
        print(f"  ratio auto / explicit: {result['ratio_auto_over_explicit']:.3f} (target <= {TARGET_RATIO})")
        print(f"  the automatic mapping alone: {result['mapping_ms_per_take']} ms per take as imported (body found "
              f"once per header), {result['mapping_from_scratch_ms_per_take']} ms found from scratch")
    return 0 if auto / fixed <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
