"""TMR's four protocols: batching rules, subsets, thresholds, and the stable result keys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motion_retrieval.errors import ConfigError
from motion_retrieval.evaluation.metrics import bidirectional_metrics, metric_keys
from motion_retrieval.evaluation.protocols import (
    average_protocols,
    evaluate_protocols,
    guo_batches,
    resolve_protocols,
)
from motion_retrieval.evaluation.report import markdown_table, write_protocol_files


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _test_set(n=70, dim=16, noise=0.8, seed=0):
    rng = np.random.default_rng(seed)
    motion = _unit(rng.normal(size=(n, dim)))
    text = _unit(motion + noise * rng.normal(size=(n, dim)))
    teacher = _unit(rng.normal(size=(n, 12)))
    keys = [f"{i:06d}" if i % 2 else f"M{i:06d}" for i in range(n)]
    captions = [f"caption {i}" for i in range(n)]
    return motion, text, keys, captions, teacher


def test_guo_batches_reproduce_tmr_global_seed_procedure():
    keys = [f"k{int(v)}" for v in np.random.default_rng(1).permutation(100)]
    state = np.random.get_state()
    try:  # TMR's code, verbatim in spirit: sorted keys, global seed 0, shuffle an index, chunks of 32
        keyids = sorted(keys)
        idx = np.arange(len(keyids))
        np.random.seed(0)
        np.random.shuffle(idx)
        expected = [[keyids[i] for i in idx[32 * b : 32 * (b + 1)]] for b in range(len(keyids) // 32)]
    finally:
        np.random.set_state(state)
    batches = guo_batches(keys, 32)
    assert [[keys[p] for p in batch] for batch in batches] == expected
    assert len(batches) == 3 and all(len(b) == 32 for b in batches)  # 100 // 32, the 4 left over are dropped
    assert len({int(p) for b in batches for p in b}) == 96


def test_guo_batches_do_not_depend_on_input_order_or_global_rng():
    keys = [f"{i:04d}" for i in range(70)]
    shuffled = list(reversed(keys))
    np.random.seed(123)
    a = [[keys[p] for p in b] for b in guo_batches(keys)]
    b = [[shuffled[p] for p in b] for b in guo_batches(shuffled)]
    assert a == b
    assert guo_batches(keys[:31]) == []


def test_batches_protocol_is_the_mean_over_batches():
    motion, text, keys, captions, teacher = _test_set(n=70)
    result = evaluate_protocols(motion, text, keys, captions, teacher, protocols=["batches"])["batches"]
    per_batch = []
    for batch in guo_batches(keys):
        per_batch.append(bidirectional_metrics(text[batch] @ motion[batch].T))
    for key in ("t2m/R01", "t2m/R10", "t2m/MedR", "m2t/R05", "rsum"):
        assert result[key] == pytest.approx(np.mean([m[key] for m in per_batch]))


def test_normal_protocol_keys_and_perfect_embeddings():
    motion, _, keys, captions, _ = _test_set(n=40)
    # text == motion (up to scale) and a teacher that agrees with them: ideal retrieval and ideal graded ranking
    results = evaluate_protocols(motion, motion * 3.0, keys, captions, motion, protocols=["normal", "threshold"])
    for protocol in ("normal", "threshold"):
        assert set(results[protocol]) == set(metric_keys())
        assert results[protocol]["t2m/R01"] == 100.0 and results[protocol]["m2t/R01"] == 100.0
        assert results[protocol]["t2m/MedR"] == 1.0
        assert results[protocol]["t2m/nDCG10"] == pytest.approx(1.0)


def test_normal_equals_direct_metric_on_the_full_matrix():
    motion, text, keys, captions, teacher = _test_set(n=50, noise=1.5)
    normal = evaluate_protocols(motion, text, keys, captions, teacher, protocols=["normal"])["normal"]
    direct = bidirectional_metrics(text @ motion.T)
    for key, value in direct.items():
        assert normal[key] == pytest.approx(value)
    assert normal["t2m/R01"] < 100.0  # noisy embeddings are not perfect


def test_threshold_protocol_credits_near_duplicate_captions():
    motion, text, keys, captions, teacher = _test_set(n=40, noise=1.5)
    teacher = teacher.copy()
    teacher[1::2] = teacher[0::2]  # every odd caption duplicates the even one before it (like mirrors often do)
    results = evaluate_protocols(motion, text, keys, captions, teacher, protocols=["normal", "threshold"])
    assert results["threshold"]["t2m/R01"] > results["normal"]["t2m/R01"]
    assert results["threshold"]["m2t/R01"] > results["normal"]["m2t/R01"]


def test_nsim_is_the_normal_protocol_on_the_subset():
    motion, text, keys, captions, teacher = _test_set(n=60, noise=1.5)
    nsim = keys[10:30]
    result = evaluate_protocols(motion, text, keys, captions, teacher, protocols=["nsim"], nsim_keys=nsim)["nsim"]
    direct = bidirectional_metrics(text[10:30] @ motion[10:30].T)
    assert result["t2m/R01"] == pytest.approx(direct["t2m/R01"])
    assert result["m2t/MedR"] == pytest.approx(direct["m2t/MedR"])
    with pytest.raises(ConfigError, match="not in the test set"):
        evaluate_protocols(motion, text, keys, captions, teacher, protocols=["nsim"], nsim_keys=["nope"])
    with pytest.raises(ConfigError, match="nsim"):
        evaluate_protocols(motion, text, keys, captions, teacher, protocols=["nsim"])


def test_resolve_protocols():
    assert resolve_protocols("all", has_nsim=False) == ["normal", "threshold", "batches"]
    assert resolve_protocols("all", has_nsim=True) == ["normal", "threshold", "nsim", "batches"]
    assert resolve_protocols(["normal", "normal"], has_nsim=False) == ["normal"]
    with pytest.raises(ConfigError, match="nsim_test"):
        resolve_protocols("nsim", has_nsim=False)
    with pytest.raises(ConfigError, match="unknown protocol"):
        resolve_protocols("guo2", has_nsim=False)


def test_bad_inputs():
    motion, text, keys, captions, teacher = _test_set(n=40)
    with pytest.raises(ValueError, match="rows"):
        evaluate_protocols(motion[:-1], text, keys, captions, teacher)
    with pytest.raises(ValueError, match="unique"):
        evaluate_protocols(motion, text, ["a"] * 40, captions, teacher)
    with pytest.raises(ConfigError, match="at least 32"):
        evaluate_protocols(motion[:10], text[:10], keys[:10], captions[:10], teacher[:10], protocols=["batches"])


def test_report_table_and_files(tmp_path):
    motion, text, keys, captions, teacher = _test_set(n=64, noise=1.0)
    results = evaluate_protocols(motion, text, keys, captions, teacher, protocols=["normal", "batches"])
    table = markdown_table(results)
    lines = table.strip().splitlines()
    assert lines[0].startswith("| protocol | t2m/R01 |") and "rsum" in lines[0]
    assert lines[2].startswith("| normal |") and lines[3].startswith("| batches |")
    written = write_protocol_files(results, tmp_path / "eval")
    assert json.loads((tmp_path / "eval" / "normal.json").read_text()) == pytest.approx(results["normal"])
    assert (tmp_path / "eval" / "results.md") in written
    average = average_protocols(results)
    assert average["t2m/R10"] == pytest.approx((results["normal"]["t2m/R10"] + results["batches"]["t2m/R10"]) / 2)


def test_ndcg_relevance_follows_the_sigir_mot_definition():
    from motion_retrieval.evaluation.protocols import ndcg_relevance, strip_subject

    assert strip_subject("A person walks forward.") == "walks forward"
    assert strip_subject("Someone waves, then a man bows!") == "waves, then bows"
    queries = ["a person walks forward.", "someone jumps."]
    captions = ["The person walks forward slowly.", "a man runs", "a man jumps high", "A woman hops"]
    owner = [0, 0, 1, 1]  # motion 0 has two captions, motion 1 two
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    c = np.array([[0.6, 0.8], [-0.8, 0.6], [0.0, 1.0], [-0.6, -0.8]])  # unit vectors
    rel = ndcg_relevance(q, queries, c, captions, owner, 2)
    assert rel[0, 0] == 1.0  # "walks forward" is a substring of motion 0's first caption (subjects stripped)
    assert rel[0, 1] == pytest.approx(0.0)  # best of motion 1's captions (0.0 and -0.6)
    assert rel[1, 1] == 1.0  # "jumps" is in "jumps high"
    assert rel[1, 0] == pytest.approx(0.8)  # the best of motion 0's captions, not its first
    c2 = np.array([[-0.6, -0.8], [-0.8, 0.6], [0.0, 1.0], [-0.6, -0.8]])
    rel = ndcg_relevance(q, ["x", "y"], c2, captions, owner, 2)
    assert rel[0, 1] == pytest.approx(0.0) and rel[0, 0] == pytest.approx(-0.6)  # negatives are kept
