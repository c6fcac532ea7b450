"""Errors that name what was wrong and where, so a caller can act on them."""

from __future__ import annotations

import os


class MotionRetrievalError(Exception):
    """Base class for every error this project raises on purpose."""


class MotionDataError(MotionRetrievalError, ValueError):
    """A data file or folder that cannot be used as it is. ``str()`` is ``"PATH: problem"``."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class ConfigError(MotionRetrievalError, ValueError):
    """A configuration, run directory or model repository that is incompatible or incomplete."""
