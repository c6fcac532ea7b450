"""Reading a take from FBX (Blender in a child process) against reading the same take from BVH, in the same run.

The FBX file is written in the run: a CMU take through Blender's BVH importer and FBX exporter, so both readers
produce the same joints (tests/data/test_fbx.py checks within 1 cm) and the ratio is the price of the FBX path:
starting a Python with ``bpy``, Blender's importer, sampling every frame, the .npz hand-over. Wall time (the
child process is most of the cost and CPU time of the parent would not see it); both readers alternate on the
same file so that the load of a shared machine falls on both.

    python -m benchmarks.fbx_import                      # ../shared/fixtures/bvh-cmu/131_01.bvh, 3 rounds
    python -m benchmarks.fbx_import --rounds 5 --json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_BVH = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "bvh-cmu" / "131_01.bvh"
_WRITE_FBX = """
import sys, bpy
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(filepath=sys.argv[1], update_scene_fps=True, update_scene_duration=True)
bpy.ops.export_scene.fbx(filepath=sys.argv[2], object_types={"ARMATURE"}, add_leaf_bones=False, bake_anim=True,
                         bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False)
"""


def write_fbx(bvh: Path, out: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _WRITE_FBX, str(bvh), str(out)], capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"Blender could not write {out}: {done.stderr[-1000:]}")


def run(bvh: Path, rounds: int) -> dict:
    from motion_retrieval.data.blender import bpy_available, import_with_blender
    from motion_retrieval.data.bvh import read_bvh
    from motion_retrieval.data.fbx import read_fbx

    if not bpy_available():
        raise SystemExit("needs Blender's bpy module: pip install 'motion-retrieval[fbx]'")
    with tempfile.TemporaryDirectory(prefix="mr-fbx-bench-") as tmp:
        fbx = Path(tmp) / (bvh.stem + ".fbx")
        write_fbx(bvh, fbx)
        readers = {"bvh": lambda: read_bvh(bvh), "fbx": lambda: read_fbx(fbx),
                   "blender_only": lambda: import_with_blender("fbx", fbx)}
        times = {name: [] for name in readers}
        for r in range(rounds):
            for name in (list(readers) if r % 2 == 0 else list(readers)[::-1]):
                started = time.perf_counter()
                readers[name]()
                times[name].append(time.perf_counter() - started)
        frames = import_with_blender("fbx", fbx).num_frames
    median = {name: float(np.median(t)) for name, t in times.items()}
    return {
        "take": bvh.name,
        "frames": frames,
        "rounds": rounds,
        "seconds_median": {k: round(v, 3) for k, v in median.items()},
        "ratio_fbx_vs_bvh": round(median["fbx"] / median["bvh"], 2),
        "blender_share_of_fbx": round(median["blender_only"] / median["fbx"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bvh", type=Path, default=DEFAULT_BVH, help="the take to read both ways")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    report = run(args.bvh, args.rounds)
    if args.json:
        print(json.dumps(report))
    else:
        s = report["seconds_median"]
        print(f"{report['take']} ({report['frames']} frames), median of {report['rounds']} rounds: "
              f"BVH {s['bvh']:.2f} s, FBX {s['fbx']:.2f} s (Blender child process {s['blender_only']:.2f} s) -> "
              f"FBX / BVH {report['ratio_fbx_vs_bvh']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
