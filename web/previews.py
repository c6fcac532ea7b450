"""A hit's preview as compact JSON for the page's canvas: SMPL-22 joint positions quantised to int16 (millimetres
by default) and base64-encoded, with the skeleton's parent list to draw the bones.

int16 millimetres halve float32 and are far finer than a drawn pixel; base64 costs a third back but keeps the
payload one JSON document the browser decodes with ``atob`` and an ``Int16Array`` view. Positions are sent relative
to the first frame's root on the floor plane, so a take far from its capture origin still fits in int16 at
millimetres. A long window is thinned to a lower frame rate until the JSON fits ``max_bytes``.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from motion_retrieval.skeleton import SMPL22

MAX_PREVIEW_BYTES = 48 * 1024  # the page's budget per hit (the issue allows 50 KB)
_JSON_OVERHEAD = 1024  # the fields around the data: ids, names, parents, numbers
_BASE64_BYTES_PER_INT16 = 8 / 3  # 2 bytes -> 8/3 characters


def encode_preview(preview: dict[str, Any], max_bytes: int = MAX_PREVIEW_BYTES) -> dict[str, Any]:
    """``{"id", "name", "start", "end", "fps", "joints": (T, 22, 3) float}`` (the client's motion_preview) -> the
    API's preview JSON; its serialised size stays under ``max_bytes``."""
    joints = np.asarray(preview["joints"], dtype=np.float64)  # (T, 22, 3) metres, Y up
    if joints.ndim != 3 or joints.shape[1:] != (SMPL22.num_joints, 3) or len(joints) == 0:
        raise ValueError(f"a preview holds (T, 22, 3) SMPL-22 joints, got {list(joints.shape)}")
    fps = float(preview["fps"])
    per_frame = SMPL22.num_joints * 3 * _BASE64_BYTES_PER_INT16
    max_frames = max(2, int((max_bytes - _JSON_OVERHEAD) // per_frame))
    step = math.ceil(len(joints) / max_frames)
    if step > 1:  # thin to a lower rate rather than cut the window short: the page loops the whole window
        joints = joints[::step]  # (ceil(T / step), 22, 3)
        fps /= step
    origin = np.array([joints[0, 0, 0], 0.0, joints[0, 0, 2]])  # first frame's root, on the floor
    relative = joints - origin  # (T', 22, 3)
    peak = float(np.abs(relative).max())
    scale = 0.001 if peak < 32.0 else math.ceil(peak / 32.767) / 1000.0  # metres per unit; mm unless too far
    quantised = np.round(relative / scale).astype("<i2")  # (T', 22, 3) int16, little endian
    return {
        "id": preview["id"], "name": preview.get("name", ""), "start_s": round(float(preview["start"]), 4),
        "end_s": round(float(preview["end"]), 4), "fps": fps, "frames": int(len(quantised)),
        "joints": SMPL22.num_joints, "parents": list(SMPL22.parents), "scale": scale,
        "origin": [round(float(v), 4) for v in origin], "dtype": "int16",
        "data": base64.b64encode(quantised.tobytes()).decode("ascii"),
    }


def decode_preview(payload: dict[str, Any]) -> np.ndarray:
    """The API's preview JSON back to (T, 22, 3) float32 metres (tests and scripts; the page does this in JS)."""
    raw = np.frombuffer(base64.b64decode(payload["data"]), dtype="<i2")
    joints = raw.reshape(payload["frames"], payload["joints"], 3).astype(np.float32) * payload["scale"]
    return joints + np.asarray(payload["origin"], dtype=np.float32)  # (T, 22, 3)
