"""Input checks shared by every entry point (gRPC service, in-process embedder, Milvus plugin).

Every refusal is an :class:`InputError` naming the field (with the item index) and the limit, so that a caller can
fix the request; the service answers INVALID_ARGUMENT with its text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from motion_retrieval.errors import MotionDataError

# Row ids of stored motions are blake2b-128 hex digests (motion_retrieval_milvus.ingest.motion_key).
MOTION_ROW_ID = re.compile(r"[0-9a-f]{32}")
# Record ids as ingested (MotionItem.id, a file stem, "131_01@5000-15000"): printable, no control characters.
MAX_RECORD_ID_CHARS = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InputError(MotionDataError):
    """One input cannot be used. ``str()`` is ``"FIELD: problem"`` (``field`` like ``motions[3].joints``);
    ``index``: the item's position in its batch, when the field names one."""

    def __init__(self, field: str, problem: str, index: int | None = None):
        self.field = field
        self.index = index
        super().__init__(field, problem)


class TextInputError(InputError):
    """One text of a batch cannot be embedded. ``str()`` is ``"texts[INDEX]: problem"``."""

    def __init__(self, index: int, problem: str):
        super().__init__(f"texts[{index}]", problem, index=index)


class BatchLimits(Protocol):
    """What a batch may hold (motion_retrieval_server.config.ServiceLimits satisfies it)."""

    max_batch_size: int
    max_text_chars: int


def check_batch_size(count: int, field: str, max_batch_size: int) -> None:
    if count == 0:
        raise InputError(field, "is empty; send at least one item")
    if count > max_batch_size:
        raise InputError(field, f"has {count} items, the limit is {max_batch_size} per request "
                                "(Limits.max_batch_size); split the batch")


def check_text(text: object, field: str, max_chars: int | None = None) -> str:
    """A non-blank string of at most ``max_chars`` characters."""
    if not isinstance(text, str):
        raise InputError(field, f"expected a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError(field, "is empty")
    if max_chars is not None and len(text) > max_chars:
        raise InputError(field, f"has {len(text)} characters, the limit is {max_chars} (Limits.max_text_chars)")
    return text


def check_texts(texts: Sequence[str], limits: BatchLimits, field: str = "texts") -> list[str]:
    if isinstance(texts, str):
        raise TypeError("expected a sequence of texts, not one string")
    check_batch_size(len(texts), field, limits.max_batch_size)
    return [check_text(text, f"{field}[{i}]", limits.max_text_chars) for i, text in enumerate(texts)]


def check_motion_row_id(value: str, field: str) -> str:
    """A stored motion row id (MotionHit.id): 32 lowercase hex characters. Anything else never reaches Milvus."""
    if not isinstance(value, str) or not MOTION_ROW_ID.fullmatch(value):
        shown = value if isinstance(value, str) and len(value) <= 80 else f"{str(value)[:80]}..."
        raise InputError(field, f"{shown!r} is not a motion row id (32 lowercase hex characters, as MotionHit.id)")
    return value


def check_record_id(value: str, field: str) -> str:
    """A record id as ingested (MotionItem.id): 1-256 characters, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "is empty; every item needs an id")
    if len(value) > MAX_RECORD_ID_CHARS:
        raise InputError(field, f"has {len(value)} characters, the limit is {MAX_RECORD_ID_CHARS}")
    if _CONTROL.search(value):
        raise InputError(field, f"{value[:80]!r} contains control characters")
    return value


def first_non_finite(array: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN/inf in ``array``, or None when every value is finite."""
    finite = np.isfinite(array)
    if finite.all():
        return None
    return tuple(int(i) for i in np.argwhere(~finite)[0])


def check_embeddings(vectors: np.ndarray, field: str) -> np.ndarray:
    """(N, dim) vectors a model returned for ``field``'s items: an InputError naming the first item whose vector is
    not finite (inputs whose values overflow the model), so that no non-finite vector is ever returned or stored."""
    vectors = np.asarray(vectors, dtype=np.float32)
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        index = int(np.argmax(bad))
        raise InputError(f"{field}[{index}]", "the model gives a non-finite embedding for it (values too large for "
                                              "the model; check the units and scale of the input)", index=index)
    return vectors
