"""What the experiment scripts share: the procedural corpora they train and test on, and how a run is scored on
the three sets that decide model selection (real mocap, the transfer split, a fresh in-distribution corpus)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger("experiments")

REPO_ROOT = Path(__file__).resolve().parents[1]
# The real labelled takes (Bandai-Namco dataset-1, CC BY-NC: measured with, never shipped); another copy can be named
# with MOTION_RETRIEVAL_REAL_MOCAP (the GPU suite carries one).
REAL_FOLDER = Path(os.environ.get("MOTION_RETRIEVAL_REAL_MOCAP")
                   or REPO_ROOT.parent / "shared" / "fixtures" / "bandai-namco-1")
REAL_PROMPTS = REPO_ROOT / "benchmarks" / "prompts" / "bandai_namco_1.json"
REAL_KEYS = ("zero_shot/accuracy", "zero_shot/balanced_accuracy", "t2m/mAP", "t2m/P@10", "side/accuracy")


def corpus(path: Path, dialect: str, n: int, seed: int, variant: str = "train",
           action_split: str = "all") -> Path | None:
    """Generate once; a folder whose synth.json matches is reused (generation is deterministic). None when this
    generator has no such ``variant``. ``action_split``: all, or the seen / unseen families of the unseen-action
    protocol (``experiments.unseen_actions``)."""
    from motion_retrieval.synth.corpus import generate_corpus

    marker = path / "synth.json"
    if marker.is_file():
        info = json.loads(marker.read_text()).get("config", {})
        if (info.get("dialect"), info.get("seed"), info.get("n"), info.get("variant", "train"),
                info.get("action_split", "all")) == (dialect, seed, n, variant, action_split):
            log.info("reusing %s", path)
            return path
        log.info("%s was generated with other settings; regenerating", path)
    if path.exists():
        shutil.rmtree(path)
    kwargs = {} if variant == "train" else {"variant": variant}
    if action_split != "all":
        kwargs["action_split"] = action_split
    try:
        generate_corpus(path, dialect, n=n, seed=seed, progress=True, **kwargs)
    except TypeError:
        log.warning("this generator has no %r variant; skipping %s", variant, path)
        return None
    return path


def load_real(folder: Path = REAL_FOLDER, prompts: Path = REAL_PROMPTS):
    """The real labelled collection (None when the fixtures are absent) and its class prompts."""
    from motion_retrieval.evaluation.labelled import read_collection, read_labels, read_prompts

    if not (folder / "labels.tsv").is_file():
        log.warning("%s: no labelled real takes; the real-mocap scores stay empty", folder)
        return None, {}
    collection = read_collection(folder, read_labels(folder / "labels.tsv"), min_takes=5)
    if collection.skipped:
        log.warning("%d real take(s) did not import, e.g. %s", len(collection.skipped), collection.skipped[0])
    return collection, read_prompts(prompts)


def score_run(run_dir: Path, fresh: Path | None, transfer: Path | None, real: Any, prompts: dict,
              device: str = "cpu", split: str = "test", unseen: tuple[Path, Path] | None = None) -> dict[str, Any]:
    """``{"fresh"|"transfer": {t2m/R10, m2t/R10, ...}, "real/run"|"real/coll": {zero-shot, mAP, left/right}}``, and
    ``"unseen"`` (seen vs held-out action families, ``experiments.unseen_actions.score_unseen``) when ``unseen``
    names the (seen, unseen) evaluation corpora of a run trained on ``--actions seen`` corpora.

    Synthetic test splits use TMR's All protocol with the run's statistics (serving behaviour); the real takes are
    scored with the run's statistics (``real/run``, what the exported model does) and with the collection's own
    (``real/coll``, per-collection calibration).
    """
    from motion_retrieval.data.sources import make_source
    from motion_retrieval.evaluation.labelled import evaluate_collection
    from motion_retrieval.evaluation.run_embedder import RunEmbedder
    from motion_retrieval.evaluation.runner import evaluate_run
    from motion_retrieval.run_dir import load_run
    from motion_retrieval.stats import Normalizer

    run = load_run(run_dir)
    out: dict[str, Any] = {}
    for name, folder in (("fresh", fresh), ("transfer", transfer)):
        if folder is None:
            continue
        result = evaluate_run(run, make_source("humanml3d", "humanml3d", folder), split=split, protocol="normal",
                              stats="run", device=device, progress=False)
        normal = result.protocols["normal"]
        out[name] = {"t2m/R10": normal["t2m/R10"], "m2t/R10": normal["m2t/R10"], "t2m/R01": normal["t2m/R01"],
                     "m2t/R01": normal["m2t/R01"], "t2m/MedR": normal["t2m/MedR"], "motions": result.motions}
    if unseen is not None:
        from experiments.unseen_actions import score_unseen

        out["unseen"] = score_unseen(run, unseen[0], unseen[1], device=device, split=split)
    if real is not None and real.takes:
        for stats, embedder in (("run", RunEmbedder(run)),
                                ("coll", RunEmbedder(run, normalizer=Normalizer.fit(real.features())))):
            result = evaluate_collection(embedder, real, prompts)
            out[f"real/{stats}"] = {key: result[key] for key in REAL_KEYS}
    return out
