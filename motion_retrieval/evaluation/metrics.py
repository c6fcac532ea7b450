"""Retrieval metrics from a similarity matrix: recall@k, MedR with averaged ties, nDCG@k, rsum.

Conventions follow TMR's ``retrieval.py`` / ``metrics.py`` [T], which MoT++ reuses [C]:

* rows are queries, columns the gallery; text->motion (t2m) uses the text x motion matrix, motion->text (m2t)
  its transpose;
* the rank of a query is the 0-based position of its (best) correct gallery item in the row sorted by decreasing
  similarity; when other items have exactly the same score, the rank is the AVERAGE of the tied positions
  (TMR's ``break_ties="averaging"``) rather than the optimistic first one;
* R@k (%) = share of queries whose rank is < k; MedR = median(rank) + 1.

The thresholded variant (TMR's protocol (b)) passes a boolean ``positives`` matrix: every marked gallery item counts
as correct and the rank is that of the best-scored one.
"""

from __future__ import annotations

import numpy as np

RECALL_KS: tuple[int, ...] = (1, 2, 3, 5, 10)
NDCG_KS: tuple[int, ...] = (10, 25)
DIRECTIONS: tuple[str, ...] = ("t2m", "m2t")


def recall_key(k: int) -> str:
    """The stable key of R@k, zero-padded like TMR's (``R01``, ``R10``)."""
    return f"R{k:02d}"


def ndcg_key(k: int) -> str:
    return f"nDCG{k:02d}"


def metric_keys(with_ndcg: bool = True) -> list[str]:
    """Every key ``evaluate_protocols`` reports per protocol, in display order."""
    keys = []
    for direction in DIRECTIONS:
        keys += [f"{direction}/{recall_key(k)}" for k in RECALL_KS] + [f"{direction}/MedR"]
        if with_ndcg:
            keys += [f"{direction}/{ndcg_key(k)}" for k in NDCG_KS]
    return keys + ["rsum"]


def _as_matrix(sims: np.ndarray) -> np.ndarray:
    sims = np.asarray(sims, dtype=np.float64)
    if sims.ndim != 2 or sims.shape[0] == 0 or sims.shape[1] == 0:
        raise ValueError(f"expected a non-empty 2-d similarity matrix, got shape {sims.shape}")
    if not np.all(np.isfinite(sims)):
        raise ValueError("similarity matrix contains NaN or infinite values")
    return sims


def averaged_ranks(sims: np.ndarray, positives: np.ndarray | None = None) -> np.ndarray:
    """0-based rank of each query's best-scored positive, ties broken by averaging the tied positions.

    ``sims``: (Q, G). ``positives``: (Q, G) bool, default the identity (item i is the answer to query i). Every row
    needs at least one positive. If the best positive shares its score with ``c - 1`` other items and ``g`` items
    score strictly higher, the tied block occupies positions ``g .. g + c - 1`` and the rank is ``g + (c - 1) / 2``,
    which is what TMR's ``break_ties_average`` computes from the sorted row.
    """
    sims = _as_matrix(sims)
    num_queries, num_gallery = sims.shape
    if positives is None:
        if num_queries != num_gallery:
            raise ValueError(f"without explicit positives the matrix must be square, got {sims.shape}")
        positives = np.eye(num_queries, dtype=bool)
    positives = np.asarray(positives, dtype=bool)
    if positives.shape != sims.shape:
        raise ValueError(f"positives shape {positives.shape} differs from similarity shape {sims.shape}")
    if not positives.any(axis=1).all():
        missing = np.flatnonzero(~positives.any(axis=1))
        raise ValueError(f"queries without any positive gallery item: rows {missing[:10].tolist()}")
    best = np.where(positives, sims, -np.inf).max(axis=1, keepdims=True)  # (Q, 1)
    higher = (sims > best).sum(axis=1)  # (Q,)
    tied = (sims == best).sum(axis=1)  # (Q,) includes the positive itself
    return higher + (tied - 1) / 2.0


def ranks_to_metrics(ranks: np.ndarray) -> dict[str, float]:
    """R@1/2/3/5/10 (%) and MedR from 0-based (possibly fractional) ranks."""
    ranks = np.asarray(ranks, dtype=np.float64)
    metrics = {recall_key(k): 100.0 * float(np.mean(ranks < k)) for k in RECALL_KS}
    metrics["MedR"] = float(np.median(ranks) + 1.0)
    return metrics


def recall_metrics(sims: np.ndarray, positives: np.ndarray | None = None) -> dict[str, float]:
    """R@k and MedR of one retrieval direction (rows are queries)."""
    return ranks_to_metrics(averaged_ranks(sims, positives))


def threshold_positives(teacher_sims: np.ndarray, threshold: float = 0.95) -> np.ndarray:
    """TMR's protocol (b): gallery items whose caption is near-identical to the query's also count as correct.

    TMR rescales the threshold from [0, 1] to cosine space, ``2 * threshold - 1`` (0.95 -> cosine 0.9), and marks
    ``teacher cosine > that`` (strictly, as TMR's ``sim_matrix > threshold``) [T ``contrastive_metrics``]. The
    diagonal always counts, even if float rounding puts a self-similarity a hair below 1.
    """
    teacher_sims = np.asarray(teacher_sims, dtype=np.float64)
    positives = teacher_sims > 2.0 * threshold - 1.0
    if teacher_sims.shape[0] == teacher_sims.shape[1]:
        np.fill_diagonal(positives, True)
    return positives


def ndcg_at_k(sims: np.ndarray, relevance: np.ndarray, k: int) -> float:
    """Mean nDCG@k over the rows of ``sims`` with graded ``relevance`` (same shape, values <= 1).

    Gain ``2**rel - 1`` and discount ``log2(position + 2)`` as in the SIGIR'23 MoT evaluation [S]; negative
    relevances are kept as they are there (they give a negative gain). The gallery is ordered by decreasing
    similarity with a stable sort (ties keep gallery order); the ideal ordering sorts the relevances. Rows whose
    ideal DCG is not positive (nothing relevant) score 0.
    """
    sims = _as_matrix(sims)
    relevance = np.asarray(relevance, dtype=np.float64)
    if relevance.shape != sims.shape:
        raise ValueError(f"relevance shape {relevance.shape} differs from similarity shape {sims.shape}")
    k = min(int(k), sims.shape[1])
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)  # (k,)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]  # (Q, k)
    gains = np.exp2(np.take_along_axis(relevance, order, axis=1)) - 1.0  # (Q, k)
    ideal = np.exp2(-np.sort(-relevance, axis=1)[:, :k]) - 1.0  # (Q, k) best possible gains
    dcg = gains @ discounts  # (Q,)
    idcg = ideal @ discounts  # (Q,)
    ndcg = np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)  # (Q,)
    return float(np.mean(ndcg))


def rsum(metrics: dict[str, float]) -> float:
    """Sum of every recall in both directions (t2m and m2t R@1/2/3/5/10); [C] selects checkpoints on it."""
    return float(sum(metrics[f"{d}/{recall_key(k)}"] for d in DIRECTIONS for k in RECALL_KS))


def bidirectional_metrics(
    text_motion_sims: np.ndarray,
    positives: np.ndarray | None = None,
    relevance: np.ndarray | None = None,
) -> dict[str, float]:
    """t2m metrics on the rows of the (texts x motions) matrix, m2t on its transpose, plus rsum (and nDCG).

    ``positives`` and ``relevance`` are given in text x motion orientation too; for m2t they are transposed with the
    matrix (item j is a caption; TMR uses the same text-text similarities in both directions).
    """
    sims = _as_matrix(text_motion_sims)
    out: dict[str, float] = {}
    for direction, matrix, pos, rel in (
        ("t2m", sims, positives, relevance),
        ("m2t", sims.T, None if positives is None else positives.T, None if relevance is None else relevance.T),
    ):
        for key, value in recall_metrics(matrix, pos).items():
            out[f"{direction}/{key}"] = value
        if rel is not None:
            for k in NDCG_KS:
                out[f"{direction}/{ndcg_key(k)}"] = ndcg_at_k(matrix, rel, k)
    out["rsum"] = rsum(out)
    return out
