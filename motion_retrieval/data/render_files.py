"""Motion files -> pictures: read with the data layer, drawn with :mod:`motion_retrieval.render` (which draws joint
arrays and reads nothing). ``render_file`` is the ``render`` command; ``motion_joints`` what previews draw."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from motion_retrieval.data.humanml3d import check_finite, load_array
from motion_retrieval.data.load import read_file
from motion_retrieval.errors import MotionDataError
from motion_retrieval.features import features_to_joints
from motion_retrieval.render import render_gif, render_strip


def motion_joints(path: str | os.PathLike, **reader_options) -> tuple[np.ndarray, float]:
    """Joints (T, J, 3) and their fps from a features/joints .npy, or any file data.load reads (with
    ``reader_options``: rig, up, units, ...; a plain .npy is read as a reader option says when one is given)."""
    path = Path(path)
    if path.suffix.lower() == ".npy" and not reader_options:
        array = load_array(path)
        check_finite(array, path)
        if array.ndim == 2 and array.shape[1] in (263, 251):
            skeleton = "smpl22" if array.shape[1] == 263 else "kit21"
            return features_to_joints(array, skeleton=skeleton, path=path), 20.0 if skeleton == "smpl22" else 12.5
        if array.ndim == 3 and array.shape[1:] in ((22, 3), (21, 3)):
            return array, 20.0 if array.shape[1] == 22 else 12.5
        raise MotionDataError(
            path,
            f"cannot render an array of shape {array.shape}: expected (T, 263|251) features or (T, 22|21, 3) joints",
        )
    record = read_file(path, compute_features=False, **reader_options)
    return record.joints, record.fps


def render_file(
    path: str | os.PathLike, out: str | os.PathLike, title: str | None = None, num_frames: int = 8, **reader_options
) -> Path:
    """Render a motion file to ``out``: ``.gif`` animates, anything else (``.png``) is a strip. ``reader_options``
    go to data.load.read_file (rig, up, units, skeleton, fps)."""
    joints, fps = motion_joints(path, **reader_options)
    out = Path(out)
    if out.suffix.lower() == ".gif":
        return render_gif(joints, out, title=title, fps=fps)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise MotionDataError(out, "output must end in .png or .gif")
    return render_strip(joints, out, title=title, num_frames=num_frames, fps=fps)
