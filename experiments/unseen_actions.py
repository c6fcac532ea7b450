"""The unseen-action protocol: how well a recipe retrieves actions it never trained on, next to the ones it did.

What real users type is mostly actions the generator never made; the transfer split only holds out phrasings,
bodies and forms of actions training has seen. Here whole action families are held out (the ten of
``motion_retrieval.synth.action_split.UNSEEN_FAMILIES``, chosen by the fixed rule written there, spanning
locomotion, jumps, lower-body moves, sports, gestures and everyday actions):

1. Training corpora: the default recipe's (HumanML3D dialect seed 1, KIT-ML dialect seed 2) with ``--actions seen``:
   no clip holds a held-out family.
2. Evaluation corpora: two of the same size and seed (HumanML3D dialect, seed 5), one of the ten held-out families
   (``--actions unseen``) and one of ten seen families that match them module by module (``--actions control``,
   ``CONTROL_FAMILIES``: equally dense groups, so the ratio is not an artefact of ten families against sixty-six);
   their test splits are embedded exactly as ``experiments.common.score_run`` embeds the fresh and transfer sets
   (first caption, the run's statistics, TMR's All protocol).
3. Both test splits form one gallery: every caption retrieves among all motions of both, and every motion among all
   captions, so the two groups are ranked against the same distractors. ``unseen/t2m/R10`` and ``seen/t2m/R10``
   (and m2t) are the recalls of each group's queries ("seen": the control families); ``ratio/t2m`` and
   ``ratio/m2t`` are unseen over seen (target >= 0.6). Each corpus on its own gallery is reported too (``own/...``).
4. The run is also scored on the real selection set, the transfer split and a fresh corpus (``score_run``), so a
   model choice weighs the unseen split with the real dev set.

Any variant of the transfer ladder (``experiments.transfer.VARIANTS``) runs under the protocol; one result file per
run (WORK/results/<variant>-s<k>.json), a repeated command skips finished runs.

    python -m experiments.unseen_actions                                  # aug-light (the shipped recipe), seed 0
    python -m experiments.unseen_actions --only aug-light motpp-fixed --seed-indices 0 1 2
    python -m experiments.unseen_actions --n-humanml3d 1500 --n-kitml 500 --n-eval 1000 --epochs 8  # reduced size
    python -m experiments.unseen_actions --table                          # the table of what has finished
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.common import REPO_ROOT

log = logging.getLogger("experiments.unseen_actions")

EVAL_SEED = 5  # not a seed of any training or evaluation corpus of the other experiments (1-4)
GROUPS = ("seen", "unseen")
TARGET_RATIO = 0.6  # issue 22: unseen-action R@10 >= 0.6 x seen-action R@10


def trained_action_splits(run_config: dict) -> dict[str, str]:
    """Training dataset name -> the action split of its procedural corpus ("all" for a corpus made before the split
    existed, "unknown" for a folder that is not one of ours or no longer exists)."""
    splits = {}
    for dataset in run_config.get("data", {}).get("datasets", []):
        path = Path(dataset.get("path", ""))
        if not path.is_absolute():
            path = REPO_ROOT / path
        marker = path / "synth.json"
        if not marker.is_file():
            splits[dataset.get("name", str(path))] = "unknown"
            continue
        config = json.loads(marker.read_text()).get("config", {})
        splits[dataset.get("name", str(path))] = config.get("action_split", "all")
    return splits


def check_trained_on_seen(run_dir: Path, run_config: dict) -> None:
    """ValueError unless every training corpus of the run held only seen families: scored on held-out families it
    trained on, the split would measure nothing."""
    splits = trained_action_splits(run_config)
    wrong = {name: split for name, split in splits.items() if split != "seen"}
    if not splits or wrong:
        raise ValueError(f"{run_dir}: trained on {wrong or 'no recorded corpora'}, not on `--actions seen` corpora; "
                         "the unseen-action split needs a run trained without the held-out families "
                         "(python -m experiments.unseen_actions)")


def _embed_test_split(run, folder: Path, split: str, device: str):
    """(EmbeddedSet) the ``split`` of a HumanML3D-dialect corpus as ``evaluate_run`` embeds it for the normal
    protocol: first caption of each motion, the run's statistics (serving behaviour)."""
    import torch

    from motion_retrieval.data.sources import make_source, read_records
    from motion_retrieval.evaluation.embedding import embed_set, evaluation_set
    from motion_retrieval.evaluation.runner import choose_normalizer
    from motion_retrieval.models.text_backbone import TokenStateCache, precompute_captions, shared_backbone

    source = make_source("humanml3d", "humanml3d", folder)
    normalizer, _ = choose_normalizer(run, source, "run")
    config = run.model.config
    dataset = evaluation_set(read_records(source, split, progress=False), normalizer, source.name,
                             config.motion.max_frames)
    train_config = run.config.get("train", {})
    cache = TokenStateCache(shared_backbone(config.text.backbone), config.text.max_tokens,
                            batch_size=int(train_config.get("text_batch_size", 64)))
    precompute_captions(cache, dataset.all_caption_texts(), cache.batch_size, False)
    model = run.model.to(torch.device(device))
    return embed_set(model, dataset, cache, int(train_config.get("eval_batch_size", 256)), device)


def pooled_recalls(motion: np.ndarray, text: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Recall of each group's queries in one gallery of every row. ``motion``/``text``: (N, D) unit rows, row i a
    (motion, caption) pair; ``groups``: (N,) group name per row. Keys ``GROUP/t2m/R10``, ``GROUP/m2t/MedR``, ..."""
    from motion_retrieval.evaluation.metrics import averaged_ranks, ranks_to_metrics

    sims = text @ motion.T  # (N texts, N motions)
    ranks = {"t2m": averaged_ranks(sims), "m2t": averaged_ranks(sims.T)}  # (N,) each, 0-based
    out: dict[str, float] = {}
    for group in sorted(set(groups.tolist())):
        rows = groups == group
        for direction, rank in ranks.items():
            for key, value in ranks_to_metrics(rank[rows]).items():
                out[f"{group}/{direction}/{key}"] = value
        out[f"{group}/queries"] = int(rows.sum())
    return out


def score_unseen(run, seen: Path, unseen: Path, device: str = "cpu", split: str = "test") -> dict[str, Any]:
    """The protocol's figures for a loaded run (module docstring, step 3)."""
    from motion_retrieval.evaluation.metrics import bidirectional_metrics

    check_trained_on_seen(run.path, run.config)
    sets = {group: _embed_test_split(run, folder, split, device) for group, folder in zip(GROUPS, (seen, unseen))}
    motion = np.concatenate([sets[g].motion for g in GROUPS])  # (N, D)
    text = np.concatenate([sets[g].text for g in GROUPS])  # (N, D)
    groups = np.array([g for g in GROUPS for _ in sets[g].keys])
    out: dict[str, Any] = pooled_recalls(motion, text, groups)
    for group in GROUPS:
        own = bidirectional_metrics(sets[group].text @ sets[group].motion.T)
        out[f"own/{group}/t2m/R10"], out[f"own/{group}/m2t/R10"] = own["t2m/R10"], own["m2t/R10"]
    for direction in ("t2m", "m2t"):
        seen_r10 = out[f"seen/{direction}/R10"]
        out[f"ratio/{direction}"] = out[f"unseen/{direction}/R10"] / seen_r10 if seen_r10 > 0 else None
    return out


def corpora(work: Path, args: argparse.Namespace) -> dict[str, Path | None]:
    """The protocol's corpora (generated once, reused) and the usual transfer / fresh sets of the same size."""
    from experiments.common import corpus

    n, n_kit, n_eval = args.n_humanml3d, args.n_kitml, args.n_eval
    return {
        "humanml3d": corpus(work / f"synth-humanml3d-s1-n{n}-seen", "humanml3d", n, 1, action_split="seen"),
        "kitml": corpus(work / f"synth-kitml-s2-n{n_kit}-seen", "kitml", n_kit, 2, action_split="seen"),
        "seen": corpus(work / f"synth-humanml3d-s{EVAL_SEED}-n{n_eval}-control", "humanml3d", n_eval, EVAL_SEED,
                       action_split="control"),
        "unseen": corpus(work / f"synth-humanml3d-s{EVAL_SEED}-n{n_eval}-unseen", "humanml3d", n_eval, EVAL_SEED,
                         action_split="unseen"),
        "fresh": corpus(work / f"synth-humanml3d-s3-n{n_eval}", "humanml3d", n_eval, 3),
        "transfer": corpus(work / f"synth-transfer-s4-n{n_eval}", "humanml3d", n_eval, 4, variant="transfer"),
    }


def table(results: dict[str, list[dict]]) -> str:
    def cell(runs: list[dict], where: str, key: str, digits: int = 1) -> str:
        values = [r[where][key] for r in runs if r.get(where, {}).get(key) is not None]
        if not values:
            return "-"
        mean = sum(values) / len(values)
        if len(values) == 1:
            return f"{mean:.{digits}f}"
        return f"{mean:.{digits}f} ± {(max(values) - min(values)) / 2:.{digits}f}"

    def target(runs: list[dict]) -> str:
        ratios = [r["unseen"][f"ratio/{d}"] for r in runs for d in ("t2m", "m2t") if "unseen" in r]
        if not ratios or any(value is None for value in ratios):
            return "-"
        return "met" if min(ratios) >= TARGET_RATIO else "missed"

    lines = ["| variant | seeds | seen t2m / m2t R@10 | unseen t2m / m2t R@10 | ratio t2m / m2t | "
             f"ratio >= {TARGET_RATIO} | real zero-shot | real left/right | transfer t2m / m2t R@10 | "
             "fresh t2m / m2t R@10 |",
             "|---|---:|---|---|---|---|---:|---:|---|---|"]
    for name, runs in results.items():
        lines.append(
            f"| {name} | {len(runs)} | {cell(runs, 'unseen', 'seen/t2m/R10')} / {cell(runs, 'unseen', 'seen/m2t/R10')} "
            f"| {cell(runs, 'unseen', 'unseen/t2m/R10')} / {cell(runs, 'unseen', 'unseen/m2t/R10')} "
            f"| {cell(runs, 'unseen', 'ratio/t2m', digits=2)} / {cell(runs, 'unseen', 'ratio/m2t', digits=2)} "
            f"| {target(runs)} "
            f"| {cell(runs, 'real/run', 'zero_shot/accuracy')} | {cell(runs, 'real/run', 'side/accuracy')} "
            f"| {cell(runs, 'transfer', 't2m/R10')} / {cell(runs, 'transfer', 'm2t/R10')} "
            f"| {cell(runs, 'fresh', 't2m/R10')} / {cell(runs, 'fresh', 'm2t/R10')} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> dict:
    from experiments.common import load_real, score_run
    from experiments.transfer import VARIANTS, collect, result_path, variant_configs
    from motion_retrieval.data.sources import make_source
    from motion_retrieval.training.trainer import train_run

    work = Path(args.work)
    names = args.only or ["aug-light"]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    if args.table:
        results = collect(work, names)
        return {"results": results, "table": table(results)}
    sets = corpora(work, args)
    real, prompts = load_real() if not args.no_real else (None, {})
    sources = [make_source("humanml3d", "humanml3d", sets["humanml3d"]), make_source("kitml", "kitml", sets["kitml"])]
    for name in names:
        for seed_index in args.seed_indices:
            out = result_path(work, name, seed_index)
            if out.is_file():
                log.info("%s seed %d: done earlier (%s)", name, seed_index, out)
                continue
            model, train = variant_configs(name, seed_index, args.epochs, args.device)
            run_dir = work / "runs" / f"{name}-s{seed_index}"
            started = time.perf_counter()
            train_run(run_dir, sources, model, train, text_cache=work / "token_states.pt", progress=not args.quiet)
            trained = time.perf_counter()
            scores = score_run(run_dir, sets["fresh"], sets["transfer"], real, prompts, args.device or "cpu",
                               unseen=(sets["seen"], sets["unseen"]))
            scores["train_seconds"] = trained - started
            scores["score_seconds"] = time.perf_counter() - trained
            scores["sizes"] = {"n_humanml3d": args.n_humanml3d, "n_kitml": args.n_kitml, "n_eval": args.n_eval,
                               "epochs": train.epochs}
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(scores, indent=2) + "\n")
            log.info("%s seed %d: %s", name, seed_index, json.dumps(scores))
    results = collect(work, names)
    text = table(results)
    (work / "unseen_table.md").write_text(text)
    return {"results": results, "table": text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(REPO_ROOT / "build" / "unseen"))
    parser.add_argument("--only", nargs="*", default=None,
                        help="ladder variants (experiments.transfer.VARIANTS) to run (default: aug-light)")
    parser.add_argument("--seed-indices", type=int, nargs="*", default=[0],
                        help="seed indices to run (0 = seed 1234; default 0)")
    parser.add_argument("--table", action="store_true", help="only print the table of the finished runs")
    parser.add_argument("--epochs", type=int, default=None, help="override the presets' epochs")
    # The transfer ladder's sizes: same protocol as its real / transfer / fresh figures.
    parser.add_argument("--n-humanml3d", type=int, default=2500)
    parser.add_argument("--n-kitml", type=int, default=800)
    parser.add_argument("--n-eval", type=int, default=1700,
                        help="clips of each evaluation corpus (x2 mirrors; its 15%% test split is evaluated)")
    parser.add_argument("--no-real", action="store_true", help="do not score the real selection set")
    parser.add_argument("--device", default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    report = run(args)
    print(json.dumps(report["results"]) if args.json else report["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
