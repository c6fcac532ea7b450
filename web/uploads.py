"""An uploaded motion file (BVH, .npy, .npz) made into the SMPL-22 joints a search by motion sends.

The body is read with a byte budget: a declared Content-Length over it is refused before any byte is read, and an
undeclared or lying one is refused as soon as the budget is passed, so a huge upload never sits in memory. The file
then goes through the project's own readers (rig detection, units, up axis, resampling to 20 fps, every limit they
check), from a private temporary file because they read paths.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from starlette.datastructures import UploadFile
from starlette.requests import Request

from motion_retrieval.data.limits import TakeLimits
from motion_retrieval.data.load import MOTION_SUFFIXES, read_file
from motion_retrieval.errors import MotionDataError
from motion_retrieval_web.errors import ApiError

UPLOAD_FIELD = "file"


@dataclass
class UploadedMotion:
    filename: str
    joints: np.ndarray  # (T, 22, 3) float32 SMPL-22 positions, metres, Y up, at fps
    fps: float
    duration_s: float  # of the whole file
    used_s: float  # of the part sent as the query (the service bounds a query's length)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 once it is over ``max_bytes`` (declared or actual)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, f"Content-Length {declared!r} is not a number") from None
        if size > max_bytes:
            raise ApiError(413, f"the upload is {size:,} bytes; the limit is {max_bytes:,} bytes")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise ApiError(413, f"the upload is over the limit of {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def uploaded_file(request: Request, max_bytes: int) -> tuple[str, bytes]:
    """(file name, bytes) of the one file in a multipart/form-data body, field ``file``."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(415, f"send the motion file as multipart/form-data (field {UPLOAD_FIELD!r}), not "
                            f"{content_type or 'a body without Content-Type'}")
    body = await read_body(request, max_bytes)
    sent = False

    async def replay() -> dict:  # the bounded body, handed to Starlette's multipart parser
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        async with Request(request.scope, replay).form(max_files=1, max_fields=8) as form:
            item = form.get(UPLOAD_FIELD)
            if not isinstance(item, UploadFile):
                raise ApiError(422, f"no file in field {UPLOAD_FIELD!r} of the form")
            return item.filename or "", await item.read()
    except ApiError:
        raise
    except Exception as exc:  # noqa: BLE001 - the multipart parser's refusals (malformed body, too many parts)
        raise ApiError(400, f"cannot parse the multipart body: {exc}") from None


def read_motion(filename: str, data: bytes, max_query_frames: int, limits: TakeLimits | None = None
                ) -> UploadedMotion:
    """The SMPL-22 joints of an uploaded file, cut to its first ``max_query_frames`` frames at 20 fps."""
    name = Path(filename).name or "upload"
    suffix = Path(name).suffix.lower()
    if suffix not in MOTION_SUFFIXES:
        raise ApiError(415, f"{name}: unsupported file type {suffix or '(none)'}; send a "
                            f"{', '.join(MOTION_SUFFIXES)} file")
    if not data:
        raise ApiError(422, f"{name}: the file is empty")
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        record = read_file(path, compute_features=False, **({"limits": limits} if limits else {}))
    except MotionDataError as exc:
        raise ApiError(422, f"{name}: {exc.problem}") from None
    finally:
        os.unlink(path)
    joints = record.joints  # (T, 22, 3) at record.fps (20)
    if joints is None or len(joints) < 2:
        raise ApiError(422, f"{name}: no motion in this file")
    used = joints[:max_query_frames]  # (T', 22, 3)
    return UploadedMotion(filename=name, joints=np.ascontiguousarray(used, dtype=np.float32), fps=record.fps,
                          duration_s=round(len(joints) / record.fps, 3), used_s=round(len(used) / record.fps, 3))
