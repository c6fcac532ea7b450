"""Class-level retrieval on a labelled motion collection: how well the model transfers to real motion capture.

A labelled collection is a folder of takes plus ``labels.tsv`` (a header row naming at least ``file`` and a label
column, ``label`` or ``content``; optionally ``style``). The labels are action classes, not captions, so the
model is asked with a fixed set of plain-English prompts per class (``prompts.json``: ``{class: [paraphrase, ...]}``,
at least two each), written once from the label's meaning and never adjusted to individual takes. Each class query
is the normalised mean of its paraphrases' embeddings (CLIP's prompt ensembling).

Metrics (stable keys, all in %):

- ``zero_shot/accuracy``: each motion is assigned the class whose query is most similar; mean over motions, and
  ``zero_shot/balanced_accuracy`` averaged over classes (the classes are unbalanced: ``walk`` has 30 takes);
- ``t2m/mAP`` and ``t2m/P@10``: each class query ranks every motion; average precision against the class's takes,
  averaged over classes (and ``per_class``);
- ``side/accuracy``: for every pair of classes whose names differ only in a side word (``walk-left`` /
  ``walk-right``), the share of their takes whose own side's query scores higher than the other side's;
- ``per_style``: zero-shot accuracy per style label; ``confusion``: counts, rows = true class, columns = predicted.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from motion_retrieval.data.load import read_file
from motion_retrieval.data.windows import split_into_windows
from motion_retrieval.errors import MotionDataError

LABEL_COLUMNS = ("label", "content", "class", "action")
SIDE_WORDS = (("left", "right"),)
MIN_PARAPHRASES = 2


@dataclass(frozen=True)
class LabelledTake:
    file: str  # path relative to the collection folder
    label: str  # action class
    style: str | None = None  # optional style / subject label for the per-style breakdown


def read_labels(path: str | os.PathLike) -> list[LabelledTake]:
    """``labels.tsv`` (tab-separated, header row) -> takes; MotionDataError naming the problem otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MotionDataError(path, f"cannot read the labels file: {exc.strerror or exc}") from None
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    if not rows:
        raise MotionDataError(path, "the labels file is empty; expected a header row with 'file' and 'label'")
    header = [h.strip().lower() for h in rows[0]]
    if "file" not in header:
        raise MotionDataError(path, f"the header has no 'file' column (got {rows[0]})")
    label_col = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
    if label_col is None:
        raise MotionDataError(path, f"the header names no label column (one of {', '.join(LABEL_COLUMNS)}); "
                                    f"got {rows[0]}")
    file_col = header.index("file")
    style_col = header.index("style") if "style" in header else None
    takes = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(file_col, label_col):
            raise MotionDataError(path, f"line {line}: expected at least {max(file_col, label_col) + 1} "
                                        f"tab-separated columns, got {len(row)}")
        file, label = row[file_col].strip(), row[label_col].strip()
        if not file or not label:
            raise MotionDataError(path, f"line {line}: empty file name or label")
        style = (row[style_col].strip() or None) if style_col is not None and style_col < len(row) else None
        takes.append(LabelledTake(file, label, style))
    if not takes:
        raise MotionDataError(path, "no labelled takes after the header row")
    return takes


def read_prompts(path: str | os.PathLike) -> dict[str, list[str]]:
    """``{class: [paraphrase, ...]}`` with at least MIN_PARAPHRASES non-empty paraphrases per class."""
    path = Path(path)
    try:
        prompts = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MotionDataError(path, f"cannot read the prompts file: {exc}") from None
    if not isinstance(prompts, dict) or not prompts:
        raise MotionDataError(path, "expected a JSON object {class: [paraphrase, ...]}")
    out = {}
    for label, texts in prompts.items():
        if label.startswith("_"):  # "_comment" and similar keys document the file
            continue
        if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
            raise MotionDataError(path, f"class {label!r}: expected a list of non-empty strings")
        if len(texts) < MIN_PARAPHRASES:
            raise MotionDataError(path, f"class {label!r}: {len(texts)} paraphrase(s); give at least "
                                        f"{MIN_PARAPHRASES} so that no single wording decides the class")
        out[label] = list(texts)
    return out


def side_pairs(labels: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of class names that differ only in a side word (``walk-left`` / ``walk-right``)."""
    present = set(labels)
    pairs = []
    for label in sorted(present):
        for a, b in SIDE_WORDS:
            if re.search(rf"\b{a}\b", label.replace("-", " ").replace("_", " ")):
                other = re.sub(rf"(?<![a-z]){a}(?![a-z])", b, label)
                if other in present and (label, other) not in pairs:
                    pairs.append((label, other))
    return pairs


def class_queries(prompt_embeddings: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Each class's paraphrase embeddings (P, D) -> its query: the renormalised mean. Returns (classes, (C, D))."""
    classes = sorted(prompt_embeddings)
    queries = np.stack([np.asarray(prompt_embeddings[c], dtype=np.float64).mean(axis=0) for c in classes])  # (C, D)
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    return classes, queries


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """AP of one ranking: ``scores`` (N,), ``relevant`` (N,) bool; ties are broken pessimistically (stable sort on
    the negated score would favour the input order, so relevant items go after irrelevant ones at equal score)."""
    order = np.lexsort((relevant.astype(int), -scores))  # primary key: -score; ties: irrelevant first
    hits = relevant[order]
    if not hits.any():
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def class_retrieval_metrics(
    motion_embeddings: np.ndarray,
    labels: Sequence[str],
    prompt_embeddings: Mapping[str, np.ndarray],
    styles: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """The metrics of the module docstring. ``motion_embeddings`` (N, D) unit norm; ``labels`` (N,); every label
    needs an entry in ``prompt_embeddings`` ({class: (P, D) unit-norm paraphrase embeddings})."""
    motions = np.asarray(motion_embeddings, dtype=np.float64)
    labels = list(labels)
    if motions.ndim != 2 or motions.shape[0] != len(labels) or not labels:
        raise ValueError(f"expected (N, D) embeddings for {len(labels)} labels, got {motions.shape}")
    missing = sorted(set(labels) - set(prompt_embeddings))
    if missing:
        raise ValueError(f"no prompts for classes {missing}")
    classes, queries = class_queries({c: prompt_embeddings[c] for c in sorted(set(labels))})
    index = {c: i for i, c in enumerate(classes)}
    truth = np.array([index[label] for label in labels])  # (N,)
    sims = motions @ queries.T  # (N, C)
    predicted = sims.argmax(axis=1)  # (N,)
    correct = predicted == truth

    per_class: dict[str, dict[str, float]] = {}
    for c, name in enumerate(classes):
        relevant = truth == c
        order = np.argsort(-sims[:, c], kind="stable")
        per_class[name] = {
            "takes": int(relevant.sum()),
            "accuracy": 100.0 * float(correct[relevant].mean()),
            "AP": 100.0 * average_precision(sims[:, c], relevant),
            "P@10": 100.0 * float(relevant[order[:10]].mean()),
        }
    pairs = side_pairs(classes)
    side_hits = []
    for a, b in pairs:
        ia, ib = index[a], index[b]
        for row in np.flatnonzero((truth == ia) | (truth == ib)):
            own, other = (ia, ib) if truth[row] == ia else (ib, ia)
            side_hits.append(sims[row, own] > sims[row, other])
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    result: dict[str, Any] = {
        "takes": len(labels),
        "classes": classes,
        "chance/accuracy": 100.0 / len(classes),
        "zero_shot/accuracy": 100.0 * float(correct.mean()),
        "zero_shot/balanced_accuracy": float(np.mean([v["accuracy"] for v in per_class.values()])),
        "t2m/mAP": float(np.mean([v["AP"] for v in per_class.values()])),
        "t2m/P@10": float(np.mean([v["P@10"] for v in per_class.values()])),
        "side/pairs": [list(p) for p in pairs],
        "side/accuracy": 100.0 * float(np.mean(side_hits)) if side_hits else None,
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }
    if styles is not None:
        per_style: dict[str, float] = {}
        for style in sorted({s for s in styles if s}):
            rows = np.array([s == style for s in styles])
            per_style[style] = 100.0 * float(correct[rows].mean())
        result["per_style"] = per_style
    return result


def markdown_report(result: Mapping[str, Any], title: str) -> str:
    """A Markdown summary: headline figures, then one row per class."""
    side = result.get("side/accuracy")
    lines = [
        f"### {title}",
        "",
        "| takes | classes | zero-shot acc | balanced acc | t2m mAP | t2m P@10 | left/right acc |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result['takes']} | {len(result['classes'])} | {result['zero_shot/accuracy']:.1f} | "
        f"{result['zero_shot/balanced_accuracy']:.1f} | {result['t2m/mAP']:.1f} | {result['t2m/P@10']:.1f} | "
        f"{'-' if side is None else f'{side:.1f}'} |",
        "",
        "| class | takes | accuracy | AP | P@10 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in result["per_class"].items():
        lines.append(f"| {name} | {row['takes']} | {row['accuracy']:.1f} | {row['AP']:.1f} | {row['P@10']:.1f} |")
    if result.get("per_style"):
        lines += ["", "| style | accuracy |", "|---|---:|"]
        lines += [f"| {style} | {acc:.1f} |" for style, acc in result["per_style"].items()]
    return "\n".join(lines) + "\n"


def confusion_picture(result: Mapping[str, Any], path: str | os.PathLike, title: str) -> Path:
    """The confusion matrix as a PNG (rows: true class, columns: predicted), each row normalised to 100 %."""
    import matplotlib  # deferred: heavy to import, only the plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: after use("Agg"), which must come first

    classes = result["classes"]
    counts = np.asarray(result["confusion"], dtype=np.float64)
    share = 100.0 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 1.0 + 0.55 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if counts[i, j]:
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center",
                        color="white" if share[i, j] > 60 else "black", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, label="% of the class's takes")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Reading a labelled collection with the product's importer, and scoring an embedder on it
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class LabelledCollection:
    takes: list[LabelledTake]  # the takes that imported, in labels.tsv order
    windows: list[list[np.ndarray]]  # per take: raw (T, 263) features of its <= 10 s windows (the ingest windows)
    skipped: list[str]  # "file: reason" for takes the importer refused

    def features(self) -> list[np.ndarray]:
        return [w for windows in self.windows for w in windows]


def read_collection(
    folder: str | os.PathLike,
    labels: Sequence[LabelledTake],
    *,
    min_takes: int = 1,
    reader=None,
    window_seconds: float = 10.0,
    stride_seconds: float = 5.0,
) -> LabelledCollection:
    """Import every labelled take whose class has at least ``min_takes`` takes, windowed as ingest windows them.

    ``reader(path) -> MotionRecord`` defaults to the product's importer (``data.load.read_file``).
    """
    reader = reader or read_file
    counts: dict[str, int] = {}
    for take in labels:
        counts[take.label] = counts.get(take.label, 0) + 1
    kept = [t for t in labels if counts[t.label] >= min_takes]
    takes, windows, skipped = [], [], []
    for take in kept:
        path = Path(folder) / take.file
        try:
            record = reader(path)
        except MotionDataError as exc:
            skipped.append(f"{take.file}: {exc.problem if hasattr(exc, 'problem') else exc}")
            continue
        takes.append(take)
        windows.append([w.features for w in split_into_windows(record, window_seconds, stride_seconds)])
    return LabelledCollection(takes, windows, skipped)


def evaluate_collection(embedder, collection: LabelledCollection, prompts: Mapping[str, Sequence[str]]) -> dict:
    """Class retrieval metrics of ``embedder`` (anything with ``embed_texts`` / ``embed_motions``) on a collection.

    A take longer than the encoder's 10 s is embedded window by window, as ingest stores it; its embedding is the
    renormalised mean of its windows' (most takes have one window, and then it is simply the take's embedding).
    """
    labels = [t.label for t in collection.takes]
    missing = sorted(set(labels) - set(prompts))
    if missing:
        raise ValueError(f"no prompts for classes {missing}; add them to the prompts file")
    classes = sorted(set(labels))
    texts = [text for c in classes for text in prompts[c]]
    text_emb = embedder.embed_texts(texts)  # (sum P, D)
    prompt_emb, start = {}, 0
    for c in classes:
        prompt_emb[c] = text_emb[start : start + len(prompts[c])]
        start += len(prompts[c])
    window_emb = embedder.embed_motions(collection.features())  # (W, D)
    take_emb, start = [], 0
    for windows in collection.windows:
        mean = window_emb[start : start + len(windows)].mean(axis=0)  # (D,)
        start += len(windows)
        take_emb.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
    styles = [t.style for t in collection.takes]
    return class_retrieval_metrics(np.stack(take_emb), labels, prompt_emb, styles)
