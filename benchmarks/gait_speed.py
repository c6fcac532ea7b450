"""Gait-speed sweep: does the shipped model read how fast a person moves? (issue 22, deliverable 4)

Procedural walk / jog / run / sprint clips (``motion_retrieval.synth``, fixed seeds, one action per clip, the
generator's own lead-in and trail standing included) are additionally time-resampled by the factors ``--factors``
(0.6x .. 1.6x playback speed) to sweep root speed. Each motion's speed is its mean horizontal pelvis speed in m/s
(SMPL-22, Y up, 20 fps, joint 0) over the whole clip. The motions and the four captions "a person walks / jogs /
runs / sprints forward." are embedded with the exported TorchScript towers (raw 263-d features in, normalisation
inside the tower, as the service runs them), and each motion is assigned the gait whose caption is most similar.

The report gives, per speed band, the share of each predicted gait; the accuracy against the generator's label on
the unresampled clips (factor 1.0, where the label is true by construction); and the speed range of each generator
label (min / median / max, unresampled clips) so that the bands can be judged; and, per generator label and
factor, the median speed and the predicted gaits (whether speed alone, at the same step shape, moves the prediction).

    python -m benchmarks.gait_speed                       # table
    python -m benchmarks.gait_speed --json                # one JSON object on stdout
    python -m benchmarks.gait_speed --model-repository model_repository --clips-per-gait 8

The model repository defaults to ``model_repository/`` when it holds exported ``model.pt`` files, else the shipped
run is exported into a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

GAITS = ("walk", "jog", "run", "sprint")
CAPTIONS = {
    "walk": "a person walks forward.",
    "jog": "a person jogs forward.",
    "run": "a person runs forward.",
    "sprint": "a person sprints forward.",
}
BAND_EDGES = (1.0, 1.6, 2.4, 3.4, 5.0)  # m/s
FACTORS = (0.6, 0.8, 1.0, 1.2, 1.4, 1.6)  # playback speed
SEED = 2222  # a seed no corpus of the project uses


def band_names(edges: Sequence[float] = BAND_EDGES) -> list[str]:
    names = [f"<{edges[0]:g}"]
    names += [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]
    return names + [f">{edges[-1]:g}"]


def root_speed(joints: np.ndarray, fps: float) -> float:
    """Mean horizontal pelvis speed in m/s of ``joints`` (T, J, 3), Y up, metres."""
    xz = joints[:, 0, [0, 2]].astype(np.float64)  # (T, 2)
    steps = np.linalg.norm(np.diff(xz, axis=0), axis=1)  # (T-1,)
    return float(steps.sum() * fps / max(len(steps), 1))


def gait_motions(clips_per_gait: int, factors: Sequence[float], seed: int = SEED) -> list[dict]:
    """Every generated clip at every factor: {gait, factor, speed, features}."""
    from motion_retrieval.features import joints_to_features, resample
    from motion_retrieval.synth.actions.core import FAMILIES
    from motion_retrieval.synth.corpus import CorpusConfig, generate_clip

    config = CorpusConfig(dialect="humanml3d")
    motions = []
    for g, gait in enumerate(GAITS):
        for i in range(clips_per_gait):
            rng = np.random.default_rng([seed, g, i])
            params = FAMILIES[gait].sample_params(rng, "train")
            clip = generate_clip(rng, config, actions=[(gait, params)])
            for factor in factors:
                joints = clip.joints if factor == 1.0 else resample(clip.joints, clip.fps * factor, clip.fps)
                joints = np.asarray(joints, dtype=np.float32)  # (T', 22, 3)
                motions.append({
                    "gait": gait, "factor": float(factor), "speed": root_speed(joints, clip.fps),
                    "features": joints_to_features(joints, skeleton=clip.skeleton),  # (T'-1, 263)
                })
    return motions


def _stats(values: Sequence[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"n": int(v.size), "min": round(float(v.min()), 3), "median": round(float(np.median(v)), 3),
            "max": round(float(v.max()), 3)}


def gait_speed_report(embedder, clips_per_gait: int = 12, factors: Sequence[float] = FACTORS,
                      edges: Sequence[float] = BAND_EDGES, seed: int = SEED) -> dict:
    """The sweep with ``embedder`` (anything with ``embed_motions`` / ``embed_texts`` giving unit rows)."""
    started = time.perf_counter()
    if 1.0 not in factors:
        factors = (*factors, 1.0)
    motions = gait_motions(clips_per_gait, factors, seed)
    vectors = embedder.embed_motions([m["features"] for m in motions])  # (N, D)
    texts = embedder.embed_texts([CAPTIONS[g] for g in GAITS])  # (4, D)
    predicted = [GAITS[k] for k in np.argmax(vectors @ texts.T, axis=1)]  # (N,)
    speeds = np.array([m["speed"] for m in motions])  # (N,)
    band_of = np.searchsorted(np.asarray(edges), speeds, side="right")  # (N,) band index
    bands = []
    for b, name in enumerate(band_names(edges)):
        members = [k for k in range(len(motions)) if band_of[k] == b]
        shares = {g: round(100.0 * sum(predicted[k] == g for k in members) / len(members), 1) if members else None
                  for g in GAITS}
        labels = {g: sum(motions[k]["gait"] == g for k in members) for g in GAITS}
        bands.append({"band": name, "motions": len(members), "predicted_%": shares, "generator_labels": labels})
    native = [k for k, m in enumerate(motions) if m["factor"] == 1.0]
    by_label = {}
    for g in GAITS:
        ks = [k for k in native if motions[k]["gait"] == g]
        by_label[g] = round(100.0 * sum(predicted[k] == g for k in ks) / len(ks), 1)
    by_factor = {}  # gait -> factor -> median speed and predicted counts: does speed alone move the prediction?
    for g in GAITS:
        by_factor[g] = {}
        for f in sorted(set(factors)):
            ks = [k for k, m in enumerate(motions) if m["gait"] == g and m["factor"] == float(f)]
            by_factor[g][f"{f:g}"] = {"median_speed": round(float(np.median(speeds[ks])), 3),
                                      "predicted": {p: sum(predicted[k] == p for k in ks) for p in GAITS}}
    return {
        "model_id": getattr(embedder, "model_id", None),
        "captions": CAPTIONS,
        "clips_per_gait": clips_per_gait,
        "factors": [float(f) for f in factors],
        "seed": seed,
        "motions": len(motions),
        "label_speed_mps": {g: _stats([motions[k]["speed"] for k in native if motions[k]["gait"] == g])
                            for g in GAITS},
        "label_accuracy_%": round(100.0 * sum(predicted[k] == motions[k]["gait"] for k in native) / len(native), 1),
        "label_accuracy_by_gait_%": by_label,
        "bands": bands,
        "by_label_and_factor": by_factor,
        "seconds": round(time.perf_counter() - started, 1),
    }


def default_repository(tmp: Path) -> Path:
    """model_repository/ when it holds exported towers, else the shipped run exported into ``tmp``."""
    repo = REPO_ROOT / "model_repository"
    if all((repo / tower / "1" / "model.pt").is_file() for tower in ("motion_encoder", "text_encoder")):
        return repo
    from motion_retrieval.export.repository import export_run

    out = tmp / "model_repository"
    export_run(None, out)
    return out


def format_table(report: dict) -> str:
    lines = [f"model {report['model_id']}: {report['motions']} motions ({report['clips_per_gait']} clips per gait "
             f"x factors {report['factors']})", "", "speed of each generator label (unresampled clips), m/s:"]
    for g, s in report["label_speed_mps"].items():
        lines.append(f"  {g:7s} min {s['min']:.2f}  median {s['median']:.2f}  max {s['max']:.2f}  (n={s['n']})")
    lines.append(f"accuracy against the generator's label (unresampled): {report['label_accuracy_%']:.1f} %  "
                 + "  ".join(f"{g} {v:.0f}" for g, v in report["label_accuracy_by_gait_%"].items()))
    lines += ["", "| band (m/s) | motions | " + " | ".join(f"{g} %" for g in GAITS) + " |",
              "|---|---|" + "---|" * len(GAITS)]
    for band in report["bands"]:
        cells = ["-" if band["predicted_%"][g] is None else f"{band['predicted_%'][g]:.0f}" for g in GAITS]
        lines.append(f"| {band['band']} | {band['motions']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-repository", default=None, help="exported model repository (default: see above)")
    parser.add_argument("--clips-per-gait", type=int, default=12)
    parser.add_argument("--factors", type=float, nargs="+", default=list(FACTORS), help="playback speed factors")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    from motion_retrieval.inference.embedder import TorchScriptEmbedder

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(args.model_repository) if args.model_repository else default_repository(Path(tmp))
        embedder = TorchScriptEmbedder(repo)
        report = gait_speed_report(embedder, args.clips_per_gait, tuple(args.factors), seed=args.seed)
    print(json.dumps(report) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
