"""Evaluation results as a Markdown table (for people) and JSON (for scripts), one file per protocol like TMR."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from motion_retrieval.evaluation.metrics import DIRECTIONS, NDCG_KS, RECALL_KS, ndcg_key, recall_key

TABLE_COLUMNS: tuple[str, ...] = tuple(
    f"{d}/{name}" for d in DIRECTIONS for name in [recall_key(k) for k in RECALL_KS] + ["MedR"]
) + ("rsum",)


def _format(value: float | None, key: str) -> str:
    if value is None:
        return "-"
    if key.endswith("MedR"):
        return f"{value:.1f}"
    if "nDCG" in key:
        return f"{value:.3f}"
    return f"{value:.2f}"


def markdown_table(
    results: dict[str, dict[str, float]],
    columns: Sequence[str] = TABLE_COLUMNS,
    row_label: str = "protocol",
    with_ndcg: bool = False,
) -> str:
    """One row per protocol (or per any label: the experiment table reuses it), one column per metric key."""
    columns = list(columns)
    if with_ndcg:
        columns += [f"{d}/{ndcg_key(k)}" for d in DIRECTIONS for k in NDCG_KS]
    header = f"| {row_label} | " + " | ".join(columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    lines = [header, rule]
    for label, metrics in results.items():
        cells = [_format(metrics.get(key), key) for key in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_json(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return path


def write_protocol_files(results: dict[str, dict[str, float]], out_dir: str | Path) -> list[Path]:
    """TMR's habit: ``<out_dir>/<protocol>.json`` per protocol, plus ``results.md`` with the table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [write_json(metrics, out_dir / f"{protocol}.json") for protocol, metrics in results.items()]
    table = out_dir / "results.md"
    table.write_text(markdown_table(results, with_ndcg=True))
    return [*written, table]
