"""Errors of the Milvus plugin. Each names the Milvus URI or collection and says what to check."""

from __future__ import annotations

from motion_retrieval.errors import ConfigError, MotionRetrievalError


class MilvusUnavailableError(MotionRetrievalError):
    """Milvus cannot be reached (server down, wrong URI, Lite file folder missing, auth refused)."""

    def __init__(self, uri: str, problem: str, hint: str = ""):
        self.uri = uri
        self.problem = problem
        message = f"Milvus at {uri!r} is unavailable: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class MilvusStoreError(MotionRetrievalError):
    """A Milvus operation failed for a reason other than reachability (bad data, server-side refusal)."""


class CollectionMismatchError(ConfigError):
    """A collection exists but was built by another model (model id or dimension differ) or with another schema."""


class FilterError(MotionRetrievalError, ValueError):
    """A search filter with an unknown field, a value of the wrong type, or a value that is not allowed."""
