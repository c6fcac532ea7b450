"""TMR's four evaluation protocols over precomputed embeddings [T ``retrieval.py protocol=all``, reused by C].

* ``normal``    (a) All: the whole test split, the first caption of each motion, an N x N matrix; mirrored ``M``
                copies are ordinary gallery items.
* ``threshold`` (b) All with threshold 0.95: a gallery item whose caption has teacher cosine > 2 * 0.95 - 1 with
                the query's caption also counts as correct.
* ``nsim``      (c) the fixed dissimilar subset (``nsim_test.txt`` keys) evaluated like ``normal``.
* ``batches``   (d) "guo": sort the keys, shuffle with ``np.random.seed(0)``, cut into chunks of 32 (the remainder
                is dropped), compute metrics per chunk and average them.

Each protocol reports the stable keys ``t2m/R01 .. t2m/R10, t2m/MedR`` (same for ``m2t/``), ``t2m/nDCG10``,
``t2m/nDCG25`` and ``rsum``.

nDCG relevance follows the SIGIR'23 MoT definition [S] (``ndcg_relevance``): subject phrases ("a person",
"someone", ...) are stripped from every caption; the relevance of motion j to a query is the best similarity
between the query and ANY of motion j's captions, 1 when the query is a substring of one of them, and negative
similarities are kept. [S] scores similarity with spaCy ``en_core_web_lg`` vectors of the NOUN/PROPN/VERB tokens;
we use the sentence embeddings of the frozen all-MiniLM-L6-v2 (the model that ships, and the teacher of the loss),
so our nDCG values are comparable between our runs, not with published numbers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from motion_retrieval.errors import ConfigError
from motion_retrieval.evaluation.metrics import bidirectional_metrics, threshold_positives

log = logging.getLogger(__name__)

PROTOCOLS: tuple[str, ...] = ("normal", "threshold", "nsim", "batches")
DEFAULT_THRESHOLD = 0.95  # TMR's "threshold_0.95"
GUO_BATCH_SIZE = 32


def resolve_protocols(spec: str | Sequence[str], has_nsim: bool) -> list[str]:
    """Turn ``"all"`` or a name (or a list of names) into the protocols to run.

    ``"all"`` includes ``nsim`` only when the dataset has an nsim split; asking for ``nsim`` explicitly without one
    is an error.
    """
    names = [spec] if isinstance(spec, str) else list(spec)
    resolved: list[str] = []
    for name in names:
        if name == "all":
            resolved += [p for p in PROTOCOLS if p != "nsim" or has_nsim]
        elif name in PROTOCOLS:
            if name == "nsim" and not has_nsim:
                raise ConfigError("protocol 'nsim' needs an nsim_test split (nsim_test.txt), which this dataset lacks")
            resolved.append(name)
        else:
            raise ConfigError(f"unknown protocol {name!r}; choose from all, {', '.join(PROTOCOLS)}")
    return list(dict.fromkeys(resolved))  # de-duplicated, order kept


def guo_batches(keys: Sequence[str], batch_size: int = GUO_BATCH_SIZE, seed: int = 0) -> list[np.ndarray]:
    """Positions (into ``keys``) of each small batch of protocol (d).

    Reproduces TMR exactly: ``keyids = sorted(keys)``; ``idx = arange(N)``; ``np.random.seed(0)``;
    ``np.random.shuffle(idx)``; batches ``idx[32 i : 32 (i + 1)]`` for ``i < N // 32``. The legacy global RNG is a
    ``RandomState``, so ``RandomState(seed).shuffle`` gives the same permutation without touching global state.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be positive, got {batch_size}")
    keys = list(keys)
    order = sorted(range(len(keys)), key=lambda i: keys[i])  # position in `keys` of the i-th sorted key
    idx = np.arange(len(keys))
    np.random.RandomState(seed).shuffle(idx)
    sorted_positions = np.asarray(order, dtype=np.int64)
    return [sorted_positions[idx[batch_size * i : batch_size * (i + 1)]] for i in range(len(keys) // batch_size)]


def _normalise(embeddings: np.ndarray, name: str) -> np.ndarray:
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2:
        raise ValueError(f"{name} must be (N, D), got shape {embeddings.shape}")
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"{name} contains all-zero rows; cosine similarity is undefined")
    return embeddings / norms


# Subject phrases [S] strips before comparing captions: who moves is not what the motion is.
SUBJECT_PHRASES = ("a person", "the person", "someone", "somebody", "a man", "the man", "a woman", "the woman",
                   "a human", "the human", "a figure", "the figure", "a guy", "the guy", "a character")
_SUBJECT_RE = re.compile(r"\b(" + "|".join(re.escape(p) for p in SUBJECT_PHRASES) + r")\b")


def strip_subject(caption: str) -> str:
    """Lower case, subject phrases removed, whitespace and final punctuation folded: "A person walks." -> "walks"."""
    text = _SUBJECT_RE.sub(" ", caption.lower())
    return " ".join(text.split()).strip(" .,!")


def ndcg_relevance(query_emb: np.ndarray, queries: Sequence[str], caption_emb: np.ndarray,
                   caption_texts: Sequence[str], caption_motion: Sequence[int], num_motions: int) -> np.ndarray:
    """(Q, M) graded relevance of every motion to every query, the SIGIR'23 MoT way (module docstring).

    ``query_emb`` (Q, E) and ``caption_emb`` (C, E) are unit-norm embeddings of the subject-stripped texts;
    ``caption_motion[c]`` is the motion (column) caption ``c`` describes. Relevance = max over a motion's captions
    of the cosine with the query, 1 where the stripped query is a substring of one of its stripped captions.
    """
    sims = np.asarray(query_emb, dtype=np.float64) @ np.asarray(caption_emb, dtype=np.float64).T  # (Q, C)
    owner = np.asarray(caption_motion, dtype=np.int64)
    relevance = np.full((sims.shape[0], num_motions), -np.inf)  # (Q, M)
    np.maximum.at(relevance.T, owner, sims.T)  # per motion, the best of its captions
    stripped_q = [strip_subject(q) for q in queries]
    stripped_c = [strip_subject(c) for c in caption_texts]
    for qi, query in enumerate(stripped_q):
        if not query:
            continue
        for ci, caption in enumerate(stripped_c):
            if query in caption:
                relevance[qi, owner[ci]] = 1.0
    relevance[~np.isfinite(relevance)] = 0.0  # a motion without captions is simply not relevant
    return np.minimum(relevance, 1.0)


def teacher_relevance(teacher_sims: np.ndarray, captions: Sequence[str]) -> np.ndarray:
    """The fallback when a caller has only each motion's first caption: teacher cosine between first captions,
    exact (subject-stripped) matches 1, negatives kept."""
    relevance = np.minimum(np.asarray(teacher_sims, dtype=np.float64), 1.0)
    stripped = np.array([strip_subject(c) for c in captions], dtype=object)
    relevance[stripped[:, None] == stripped[None, :]] = 1.0
    return relevance


def _subset_metrics(
    motion: np.ndarray, text: np.ndarray, teacher: np.ndarray, relevance: np.ndarray, positions: np.ndarray,
    threshold: float | None,
) -> dict[str, float]:
    sims = text[positions] @ motion[positions].T  # (n texts, n motions)
    positives = None
    if threshold is not None:
        positives = threshold_positives(teacher[positions] @ teacher[positions].T, threshold)  # (n, n)
    return bidirectional_metrics(sims, positives=positives, relevance=relevance[np.ix_(positions, positions)])


def evaluate_protocols(
    motion_emb: np.ndarray,
    text_emb: np.ndarray,
    keys: Sequence[str],
    captions: Sequence[str],
    teacher_emb: np.ndarray,
    protocols: Sequence[str] = ("normal", "threshold", "batches"),
    nsim_keys: Sequence[str] | None = None,
    batch_size: int = GUO_BATCH_SIZE,
    threshold: float = DEFAULT_THRESHOLD,
    relevance: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics of every requested protocol over one test set.

    Row ``i`` of ``motion_emb`` (N, D), ``text_emb`` (N, D) and ``teacher_emb`` (N, E) belong to motion ``keys[i]``
    and its (first) caption ``captions[i]``. Embeddings are L2-normalised here, so pairs are scored by cosine.
    ``relevance`` (N, N), text x motion, is the nDCG relevance (``ndcg_relevance``); without it the teacher
    cosine between first captions stands in (``teacher_relevance``). Returns ``{protocol: {metric key: value}}``.
    """
    keys = list(keys)
    n = len(keys)
    if len(set(keys)) != n:
        raise ValueError("evaluation keys must be unique (one row per motion)")
    for name, array in (("motion_emb", motion_emb), ("text_emb", text_emb), ("teacher_emb", teacher_emb)):
        if len(array) != n:
            raise ValueError(f"{name} has {len(array)} rows but there are {n} keys")
    if len(captions) != n:
        raise ValueError(f"{len(captions)} captions for {n} keys")
    if n == 0:
        raise ValueError("nothing to evaluate: no test motions")
    motion = _normalise(motion_emb, "motion_emb")
    text = _normalise(text_emb, "text_emb")
    teacher = _normalise(teacher_emb, "teacher_emb")
    if relevance is None:
        relevance = teacher_relevance(teacher @ teacher.T, captions)
    elif np.shape(relevance) != (n, n):
        raise ValueError(f"relevance must be ({n}, {n}), got {np.shape(relevance)}")
    everything = np.arange(n)

    results: dict[str, dict[str, float]] = {}
    for protocol in protocols:
        if protocol == "normal":
            results[protocol] = _subset_metrics(motion, text, teacher, relevance, everything, threshold=None)
        elif protocol == "threshold":
            results[protocol] = _subset_metrics(motion, text, teacher, relevance, everything, threshold=threshold)
        elif protocol == "nsim":
            if nsim_keys is None:
                raise ConfigError("protocol 'nsim' needs the nsim_test keys")
            position = {key: i for i, key in enumerate(keys)}
            missing = [key for key in nsim_keys if key not in position]
            if missing:
                raise ConfigError(f"{len(missing)} nsim keys are not in the test set, e.g. {missing[:5]}")
            subset = np.asarray([position[key] for key in nsim_keys], dtype=np.int64)
            results[protocol] = _subset_metrics(motion, text, teacher, relevance, subset, threshold=None)
        elif protocol == "batches":
            batches = guo_batches(keys, batch_size)
            if not batches:
                raise ConfigError(f"protocol 'batches' needs at least {batch_size} test motions, got {n}")
            per_batch = [_subset_metrics(motion, text, teacher, relevance, b, threshold=None) for b in batches]
            results[protocol] = {key: float(np.mean([m[key] for m in per_batch])) for key in per_batch[0]}
        else:
            raise ConfigError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
        log.info("protocol %s: t2m R@10 %.2f, m2t R@10 %.2f", protocol, results[protocol]["t2m/R10"],
                 results[protocol]["m2t/R10"])
    return results


def average_protocols(results: dict[str, dict[str, float]]) -> dict[str, float]:
    """The paper's "average" column [C show_paper.ipynb]: the mean of each key over the protocols present."""
    if not results:
        return {}
    keys = set.intersection(*(set(metrics) for metrics in results.values()))
    return {key: float(np.mean([metrics[key] for metrics in results.values()])) for key in sorted(keys)}
