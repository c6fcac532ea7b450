"""Filling the caption cache: captions per second through the frozen MiniLM in arrival order against length order.

Training needs every caption's token states from the frozen language model once (``TokenStateCache``); on a fresh
checkout that is the largest fixed cost of ``make default-model`` after training itself (~45k captions). The
backbone runs each batch at its longest caption's length, so the cache computes captions in length order
(``text_backbone.by_length``). This measures both orders on the same captions in the same run: corpus captions of
the procedural generator (both dialects), batch 256 as ``experiments`` use, and reports the ratio.

    python -m benchmarks.caption_cache                      # 3,000 captions, the machine's threads
    python -m benchmarks.caption_cache --captions 1000 --threads 1 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def corpus_captions(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct captions of random clips of the procedural generator, in generation order, both dialects."""
    from motion_retrieval.synth.actions import families_for
    from motion_retrieval.synth.captions import caption_clip

    rng = np.random.default_rng(seed)
    captions: dict[str, None] = {}
    while len(captions) < n:
        dialect = "humanml3d" if rng.random() < 0.75 else "kitml"
        families = families_for(dialect)
        actions = [(fam.name, fam.sample_params(rng)) for fam in rng.choice(families, size=rng.integers(1, 3))]
        captions.setdefault(caption_clip(actions, rng, dialect), None)
    return list(captions)[:n]


def fill_seconds(texts: list[str], batch_size: int, ordered: bool) -> float:
    """Wall seconds to compute every caption's states into an empty cache, batch by batch in the given order."""
    from motion_retrieval.models.config import get_preset
    from motion_retrieval.models.text_backbone import TokenStateCache, by_length, shared_backbone

    text = get_preset("cpu").text
    cache = TokenStateCache(shared_backbone(text.backbone), text.max_tokens, batch_size=batch_size)
    order = by_length(texts) if ordered else texts
    started = time.perf_counter()
    for start in range(0, len(order), batch_size):
        # One batch per call, as given (``add`` sorts only within a call, which leaves a batch's padding as it is).
        cache.add(order[start : start + batch_size])
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--captions", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.captions < 1 or args.batch_size < 1:
        parser.error(f"--captions and --batch-size must be at least 1 (got {args.captions}, {args.batch_size})")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    texts = corpus_captions(args.captions)
    fill_seconds(texts[: args.batch_size], args.batch_size, ordered=True)  # warm-up: load the backbone, allocate
    arrival = fill_seconds(texts, args.batch_size, ordered=False)
    ordered = fill_seconds(texts, args.batch_size, ordered=True)
    report = {
        "captions": len(texts), "batch_size": args.batch_size, "threads": torch.get_num_threads(),
        "arrival/seconds": arrival, "arrival/captions_per_s": len(texts) / arrival,
        "length_order/seconds": ordered, "length_order/captions_per_s": len(texts) / ordered,
        "speedup": arrival / ordered,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{len(texts)} captions, batch {args.batch_size}, {report['threads']} threads: arrival order "
              f"{arrival:.1f} s ({report['arrival/captions_per_s']:.0f}/s), length order {ordered:.1f} s "
              f"({report['length_order/captions_per_s']:.0f}/s): x{report['speedup']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
