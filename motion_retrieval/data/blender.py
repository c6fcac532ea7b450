"""Blender (the ``bpy`` module of the optional ``[fbx]`` extra) as a reader, always in a child process.

``import_with_blender(task, path)`` runs ``python -m motion_retrieval.data.blender_worker`` with this interpreter,
waits at most ``timeout`` seconds, and returns what it sampled as a ``BlenderTake``. A child process because bpy is
large (it would stay in every ingest process's memory), keeps global scene state between imports, and a crash in
its C code would end the caller instead of failing one file. Every failure is a MotionDataError naming the file:
the extra missing, a problem the worker recognised (no skeleton, no animation, not an FBX), a crash, a timeout.

``blender_import_bvh(path)`` is the check other code uses to prove a BVH it wrote opens in Blender's importer.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motion_retrieval.data.blender_worker import ERROR_MARKER, EXIT_FILE_PROBLEM
from motion_retrieval.data.limits import DEFAULT_LIMITS, TakeLimits
from motion_retrieval.errors import MotionDataError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'motion-retrieval[fbx]'"
DEFAULT_TIMEOUT_SECONDS = 300.0  # Blender's importers are single-threaded Python: a long, dense take takes a while
_PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder holding motion_retrieval/, for the child's imports


class BlenderMissingError(MotionDataError):
    """Reading this file needs Blender's ``bpy`` module (the ``[fbx]`` extra), which is not installed."""


@dataclass(frozen=True)
class BlenderTake:
    """One armature's take as Blender evaluated it (world space: Blender's metres, Z up)."""

    positions: np.ndarray  # (T, J, 3) bone heads per frame of the take's frame range
    names: tuple[str, ...]  # (J,) bone names, parents before children
    parents: tuple[int, ...]  # (J,) index of each bone's parent, -1 for a root
    fps: float  # the scene frame rate the importer set from the file
    frame_start: int  # the take's first and last frame (inclusive)
    frame_end: int
    armature: str  # the armature read
    take: str  # the take (action) read
    armatures: tuple[str, ...]  # every armature in the file
    takes: tuple[str, ...]  # every take of the armature read, the one read first
    animated_bones: int  # bones the take animates

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])


def bpy_available() -> bool:
    """Whether ``bpy`` can be imported by this interpreter (checked without importing it)."""
    try:
        return importlib.util.find_spec("bpy") is not None
    except (ImportError, ValueError):
        return False


def require_bpy(path, what: str = "reading FBX files") -> None:
    if not bpy_available():
        raise BlenderMissingError(
            path, f"{what} needs Blender's bpy module, which is not installed: {INSTALL_HINT} (Python 3.11)"
        )


def import_with_blender(
    task: str,
    path: str | os.PathLike,
    *,
    take: str | None = None,
    armature: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    limits: TakeLimits = DEFAULT_LIMITS,
) -> BlenderTake:
    """Run the worker's ``task`` ("fbx" or "bvh") on ``path`` in a child process; MotionDataError on any failure."""
    path = Path(path)
    require_bpy(path, "reading FBX files" if task == "fbx" else "opening files in Blender")
    if not path.is_file():
        raise MotionDataError(path, "file not found")
    with tempfile.TemporaryDirectory(prefix="mr-blender-") as tmp:
        out = Path(tmp) / "take.npz"
        command = [sys.executable, "-m", "motion_retrieval.data.blender_worker", task, str(path.resolve()), str(out),
                   "--max-seconds", repr(float(limits.max_seconds)), "--max-joints", str(int(limits.max_joints))]
        if take is not None:
            command += ["--take", take]
        if armature is not None:
            command += ["--armature", armature]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp,
                                  errors="replace")
        except subprocess.TimeoutExpired:
            raise MotionDataError(path, f"Blender did not finish reading this file within {timeout:g} s "
                                        "(raise the timeout for very long takes)") from None
        if done.returncode == EXIT_FILE_PROBLEM:
            raise MotionDataError(path, _worker_problem(done.stdout) or _tail(done))
        if done.returncode != 0:
            how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
            raise MotionDataError(path, f"Blender crashed reading this file ({how}): {_tail(done)}")
        try:
            with np.load(out, allow_pickle=False) as arrays:
                return _take(arrays)
        except (OSError, ValueError, KeyError) as exc:
            raise MotionDataError(path, f"Blender's output could not be read ({exc}): {_tail(done)}") from None


def blender_import_bvh(path: str | os.PathLike, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> tuple[int, list[str]]:
    """Open a BVH with Blender's own importer: (frames it animated, its bone names). MotionDataError if it cannot."""
    result = import_with_blender("bvh", path, timeout=timeout)
    return result.num_frames, list(result.names)


def _take(arrays) -> BlenderTake:
    def strings(key: str) -> tuple[str, ...]:
        return tuple(str(s) for s in np.atleast_1d(arrays[key]).tolist())

    return BlenderTake(
        positions=np.asarray(arrays["positions"], dtype=np.float64),
        names=strings("names"),
        parents=tuple(int(p) for p in arrays["parents"]),
        fps=float(arrays["fps"]),
        frame_start=int(arrays["frame_start"]),
        frame_end=int(arrays["frame_end"]),
        armature=str(arrays["armature"]),
        take=str(arrays["take"]),
        armatures=strings("armatures"),
        takes=strings("takes"),
        animated_bones=int(arrays["animated_bones"]),
    )


def _worker_problem(stdout: str) -> str | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(ERROR_MARKER):
            try:
                return str(json.loads(line[len(ERROR_MARKER):])["message"])
            except (ValueError, KeyError, TypeError):
                return line[len(ERROR_MARKER):]
    return None


def _tail(done: subprocess.CompletedProcess, lines: int = 3) -> str:
    text = "\n".join(part for part in (done.stderr, done.stdout) if part).strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:]) or "no output"
