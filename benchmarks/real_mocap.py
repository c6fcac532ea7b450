"""Real-mocap benchmark: class-level text<->motion retrieval on a labelled folder of real takes.

The figure of merit for transfer: the model never trains on these takes. Defaults to the Bandai-Namco Research Motion
Dataset takes in ``../shared/fixtures/bandai-namco-1`` (real optical mocap, 10 everyday actions with >= 5 takes) and
the class prompts in ``benchmarks/prompts/bandai_namco_1.json``. Takes are read with the product's importer
(``data.load.read_file``: BVH rig mapping, units, up axis, 20 fps, 263-d features) and cut into the same <= 10 s
windows ingest stores. Metrics are those of ``motion_retrieval.evaluation.labelled`` (zero-shot accuracy, t2m mAP
and P@10, left/right accuracy, per style, confusion matrix).

Normalisation (``--stats``): ``run`` normalises the takes with the model's training statistics (what the exported
model does); ``collection`` with statistics fitted on the collection itself (per-dataset normalisation, PAPER.md 6);
``both`` reports the two side by side.

    python -m benchmarks.real_mocap                                  # the shipped model, both normalisations
    python -m benchmarks.real_mocap --run runs/x --stats run --json  # one run, one figure set
    python -m benchmarks.real_mocap --model-repository model_repository   # the exported TorchScript towers
Writes ``OUT/real_mocap.json``, ``OUT/real_mocap.md`` and ``OUT/confusion_<stats>.png`` (default OUT:
build/real_mocap).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = REPO_ROOT.parent / "shared" / "fixtures" / "bandai-namco-1"
DEFAULT_PROMPTS = Path(__file__).resolve().parent / "prompts" / "bandai_namco_1.json"

log = logging.getLogger("benchmarks.real_mocap")


def load(folder: Path, labels_file: Path, min_takes: int):
    from motion_retrieval.evaluation.labelled import read_collection, read_labels

    return read_collection(folder, read_labels(labels_file), min_takes=min_takes)


def run_benchmark(args: argparse.Namespace) -> dict:
    from motion_retrieval.evaluation.labelled import (
        confusion_picture,
        evaluate_collection,
        markdown_report,
        read_prompts,
    )
    from motion_retrieval.stats import Normalizer

    folder = Path(args.folder)
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such folder (the labelled takes; default ../shared/fixtures/bandai-namco-1)")
    started = time.perf_counter()
    collection = load(folder, Path(args.labels) if args.labels else folder / "labels.tsv", args.min_takes)
    read_s = time.perf_counter() - started
    if collection.skipped:
        log.warning("%d take(s) did not import: %s", len(collection.skipped), "; ".join(collection.skipped[:5]))
    prompts = read_prompts(args.prompts)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    embedders = {}
    if args.model_repository:
        from motion_retrieval.inference.embedder import TorchScriptEmbedder

        if args.stats != "run":
            raise SystemExit("--model-repository normalises inside the exported tower: use --stats run")
        embedders["run"] = TorchScriptEmbedder(args.model_repository)
        model = str(args.model_repository)
    else:
        from motion_retrieval.evaluation.run_embedder import RunEmbedder
        from motion_retrieval.run_dir import load_run

        run = load_run(args.run)
        model = str(run.path)
        if args.stats in ("run", "both"):
            embedders["run"] = RunEmbedder(run)
        if args.stats in ("collection", "both"):
            embedders["collection"] = RunEmbedder(run, normalizer=Normalizer.fit(collection.features()))

    report = {"model": model, "folder": str(folder), "prompts": str(args.prompts), "min_takes": args.min_takes,
              "takes": len(collection.takes), "skipped": collection.skipped, "read_seconds": round(read_s, 2),
              "results": {}}
    markdown = [f"## Real-mocap benchmark: {folder.name}, model {model}\n"]
    for stats, embedder in embedders.items():
        result = evaluate_collection(embedder, collection, prompts)
        report["results"][stats] = result
        title = f"{folder.name}, {stats} statistics"
        markdown.append(markdown_report(result, title))
        confusion_picture(result, out / f"confusion_{stats}.png", title)
    (out / "real_mocap.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "real_mocap.md").write_text("\n".join(markdown))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER), help="labelled takes (default: bandai-namco-1)")
    parser.add_argument("--labels", default=None, help="labels file (default: FOLDER/labels.tsv)")
    parser.add_argument("--prompts", default=str(DEFAULT_PROMPTS), help="class prompts JSON")
    parser.add_argument("--run", default=None, help="run directory (default: the shipped model)")
    parser.add_argument("--model-repository", default=None, help="score the exported TorchScript towers instead")
    parser.add_argument("--stats", choices=("run", "collection", "both"), default="both")
    parser.add_argument("--min-takes", type=int, default=5,
                        help="classes with fewer takes are left out (default 5: the 10 main actions)")
    parser.add_argument("--out", default=str(REPO_ROOT / "build" / "real_mocap"))
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    report = run_benchmark(args)
    if args.json:
        print(json.dumps(report))
    else:
        print((Path(args.out) / "real_mocap.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
