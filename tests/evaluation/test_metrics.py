"""Fast metric code against naive references written here with Python loops (TMR's definitions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from motion_retrieval.evaluation.metrics import (
    averaged_ranks,
    bidirectional_metrics,
    metric_keys,
    ndcg_at_k,
    recall_metrics,
    threshold_positives,
)


def naive_rank(row, positive_columns):
    """TMR: sort the row by decreasing score; the rank is the mean position of the entries equal to the best
    positive's score."""
    best = max(row[j] for j in positive_columns)
    ordered = sorted(row, reverse=True)
    positions = [p for p, value in enumerate(ordered) if value == best]
    return sum(positions) / len(positions)


def naive_recalls(sims, positives=None):
    n_rows = len(sims)
    ranks = []
    for i in range(n_rows):
        columns = [i] if positives is None else [j for j in range(len(sims[i])) if positives[i][j]]
        ranks.append(naive_rank(list(sims[i]), columns))
    out = {f"R{k:02d}": 100.0 * sum(r < k for r in ranks) / n_rows for k in (1, 2, 3, 5, 10)}
    ordered = sorted(ranks)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    out["MedR"] = median + 1
    return out


def naive_ndcg(sims, relevance, k):
    scores = []
    for i in range(len(sims)):
        order = sorted(range(len(sims[i])), key=lambda j: -sims[i][j])  # Python's sort is stable
        rel = list(relevance[i])  # negative relevances are kept, as in the SIGIR'23 MoT code
        dcg = sum((2 ** rel[j] - 1) / math.log2(p + 2) for p, j in enumerate(order[:k]))
        ideal = sorted(rel, reverse=True)
        idcg = sum((2 ** r - 1) / math.log2(p + 2) for p, r in enumerate(ideal[:k]))
        scores.append(dcg / idcg if idcg > 0 else 0.0)
    return sum(scores) / len(scores)


@pytest.mark.parametrize("seed", range(6))
def test_recalls_and_medr_match_naive_reference_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 40))
    sims = rng.integers(0, 4, size=(n, n)).astype(np.float64)  # few distinct values: ties everywhere
    assert recall_metrics(sims) == pytest.approx(naive_recalls(sims.tolist()))
    assert recall_metrics(sims.T) == pytest.approx(naive_recalls(sims.T.tolist()))


def test_ties_get_the_averaged_rank_not_the_optimistic_one():
    sims = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0]])
    # row 0: three-way tie at the top -> positions 0,1,2 -> 1.0; row 2: two-way tie -> 0.5; row 3: all tie -> 1.5
    assert averaged_ranks(sims).tolist() == [1.0, 0.0, 0.5, 1.5]
    metrics = recall_metrics(sims)
    assert metrics["R01"] == 50.0  # ranks 0 and 0.5 are < 1; 1.0 and 1.5 are not
    assert metrics["R02"] == 100.0
    assert metrics["MedR"] == pytest.approx(np.median([1.0, 0.0, 0.5, 1.5]) + 1)


@pytest.mark.parametrize("seed", range(4))
def test_thresholded_positives_match_naive_reference(seed):
    rng = np.random.default_rng(100 + seed)
    n = 25
    sims = np.round(rng.normal(size=(n, n)), 1)  # rounding creates ties
    teacher = rng.normal(size=(n, 8))
    teacher[5] = teacher[3] + 1e-3  # near-duplicate captions
    teacher[7] = teacher[3]
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)
    positives = threshold_positives(teacher @ teacher.T, 0.95)
    assert positives[3, 5] and positives[5, 7] and positives.diagonal().all()
    assert recall_metrics(sims, positives) == pytest.approx(naive_recalls(sims.tolist(), positives.tolist()))


def test_threshold_uses_the_best_ranked_positive():
    sims = np.array([[0.2, 0.9, 0.1], [0.3, 0.8, 0.1], [0.0, 0.1, 0.7]])
    teacher_sims = np.array([[1.0, 0.95, 0.0], [0.95, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert averaged_ranks(sims)[0] == 1.0  # its own motion is second
    positives = threshold_positives(teacher_sims, 0.95)  # cosine > 0.9 counts
    assert averaged_ranks(sims, positives)[0] == 0.0  # but the near-duplicate's motion is first


def test_threshold_is_strict_as_in_tmr():
    cut = 2 * 0.95 - 1  # computed as TMR computes it (0.8999999999999999 in floating point)
    teacher_sims = np.array([[1.0, cut], [cut, 1.0]])  # exactly at the threshold: TMR's `>` leaves it out
    assert threshold_positives(teacher_sims, 0.95).tolist() == [[True, False], [False, True]]


@pytest.mark.parametrize("seed", range(4))
def test_ndcg_matches_naive_reference(seed):
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(3, 30))
    sims = rng.integers(0, 5, size=(n, n)).astype(np.float64)
    relevance = rng.uniform(-0.3, 1.0, size=(n, n))
    for k in (1, 10, 25, 100):
        assert ndcg_at_k(sims, relevance, k) == pytest.approx(naive_ndcg(sims.tolist(), relevance.tolist(), k))


def test_ndcg_is_one_for_the_ideal_ordering():
    relevance = np.random.default_rng(0).uniform(size=(6, 6))
    assert ndcg_at_k(relevance, relevance, 4) == pytest.approx(1.0)


def test_bidirectional_uses_the_transpose_for_m2t_and_sums_recalls():
    rng = np.random.default_rng(7)
    sims = rng.integers(0, 3, size=(12, 12)).astype(np.float64)
    relevance = rng.uniform(size=(12, 12))
    out = bidirectional_metrics(sims, relevance=relevance)
    assert set(out) == set(metric_keys())
    for key, value in naive_recalls(sims.tolist()).items():
        assert out[f"t2m/{key}"] == pytest.approx(value)
    for key, value in naive_recalls(sims.T.tolist()).items():
        assert out[f"m2t/{key}"] == pytest.approx(value)
    assert out["m2t/nDCG10"] == pytest.approx(naive_ndcg(sims.T.tolist(), relevance.T.tolist(), 10))
    recalls = [out[f"{d}/R{k:02d}"] for d in ("t2m", "m2t") for k in (1, 2, 3, 5, 10)]
    assert out["rsum"] == pytest.approx(sum(recalls))


def test_bad_matrices_are_rejected():
    with pytest.raises(ValueError, match="square"):
        recall_metrics(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        recall_metrics(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="without any positive"):
        recall_metrics(np.zeros((2, 2)), np.zeros((2, 2), dtype=bool))
