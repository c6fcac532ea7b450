"""Stick-figure pictures of a motion: a PNG strip of key frames side by side, or a GIF animation.

Input is joint positions (T, 22, 3) SMPL-22 or (T, 21, 3) KIT-ML, Y-up; ``render_file`` also takes features
((T, 263) -> ``features_to_joints``; (T, 251) KIT-ML) and anything ``data.load`` reads (.bvh, .npz). The figure is
drawn in a fixed oblique view (30 degrees off the front, camera level with the floor so that the floor is one
line) so that both depth and side-to-side movement show; the person's left side is drawn in blue, the right in
red, the spine in black. The strip uses Matplotlib on the Agg backend (no display needed); Pillow draws the GIF.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from motion_retrieval.errors import MotionDataError

log = logging.getLogger(__name__)

_AZIMUTH = np.deg2rad(-30.0)  # turn the scene so the camera sees the front-left of a +Z-facing body
_LEFT, _RIGHT, _CENTRE = "#1f5fbf", "#c8312b", "#222222"


def _skeleton_for(joints: np.ndarray):
    from motion_retrieval.skeleton import KIT21, SMPL22

    return {22: SMPL22, 21: KIT21}.get(joints.shape[1])


def _chain_colours(spec) -> list[str]:
    """Colour per kinematic chain: chains ending in a left joint blue, right red, the rest black."""
    colours = []
    for chain in spec.kinematic_chains:
        name = spec.joint_names[chain[-1]].lower()
        if name.startswith("left") or (spec.name == "kit21" and name.startswith("l")):
            colours.append(_LEFT)
        elif name.startswith("right") or (spec.name == "kit21" and name.startswith("r")):
            colours.append(_RIGHT)
        else:
            colours.append(_CENTRE)
    return colours


def project(joints: np.ndarray) -> np.ndarray:
    """(T, J, 3) Y-up positions -> (T, J, 2) screen coordinates of the oblique view (x right, y up)."""
    ca, sa = np.cos(_AZIMUTH), np.sin(_AZIMUTH)
    x = ca * joints[..., 0] + sa * joints[..., 2]  # turn about the vertical, then drop the depth
    return np.stack([x, joints[..., 1]], axis=-1)  # (T, J, 2)


def _check_joints(joints: np.ndarray) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] not in ((22, 3), (21, 3)) or joints.shape[0] < 1:
        raise MotionDataError(None, f"render needs joints (T, 22|21, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise MotionDataError(None, "render: joints contain NaN or inf")
    if joints.shape[1] == 21 and np.ptp(joints[..., 1]) > 20:  # KIT-ML millimetres
        joints = joints / 1000.0
    return joints


def _draw(ax, points: np.ndarray, spec, colours: list[str], floor_y: float) -> None:
    for chain, colour in zip(spec.kinematic_chains, colours):
        ax.plot(points[list(chain), 0], points[list(chain), 1], color=colour, linewidth=2.2, solid_capstyle="round")
    ax.scatter(points[:, 0], points[:, 1], s=6, color="#444444", zorder=3)
    ax.axhline(floor_y, color="#bbbbbb", linewidth=0.8, zorder=0)


def render_strip(
    joints: np.ndarray,
    path: str | os.PathLike,
    title: str | None = None,
    num_frames: int = 8,
    fps: float = 20.0,
) -> Path:
    """A PNG of ``num_frames`` evenly spaced frames side by side, each labelled with its time; returns the path.

    Each panel is centred on the root so the body stays large; the root path over the take is drawn faintly in
    every panel, so travel still shows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    joints = _check_joints(joints)
    spec = _skeleton_for(joints)
    colours = _chain_colours(spec)
    screen = project(joints)  # (T, J, 2)
    frames = np.unique(np.linspace(0, len(joints) - 1, num=max(1, min(num_frames, len(joints)))).round().astype(int))
    floor_y = min(0.0, float(screen[..., 1].min()))  # records are floored at y = 0
    half_width = max(0.6, float(np.abs(screen[..., 0] - screen[:, :1, 0]).max()) + 0.1)
    top = float(screen[..., 1].max()) + 0.1
    fig, axes = plt.subplots(1, len(frames), figsize=(1.6 * len(frames), 3.4), squeeze=False)
    for ax, frame in zip(axes[0], frames):
        centre = screen[frame, 0, 0]
        ax.plot(screen[:, 0, 0] - centre, np.full(len(screen), floor_y), color="#e0e0e0", linewidth=3, zorder=0)
        _draw(ax, screen[frame] - [centre, 0.0], spec, colours, floor_y)
        ax.set_xlim(-half_width, half_width)
        ax.set_ylim(floor_y - 0.1, top)
        ax.set_aspect("equal")
        ax.set_title(f"{frame / fps:.1f} s", fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def render_gif(
    joints: np.ndarray,
    path: str | os.PathLike,
    title: str | None = None,
    fps: float = 20.0,
    max_fps: float = 10.0,
    height_px: int = 240,
) -> Path:
    """An animated GIF of the motion (every n-th frame so that it plays at most ``max_fps``); returns the path.

    Frames are drawn straight with Pillow (a matplotlib redraw per frame is ~100x slower); the view and colours are
    the strip's, and the camera is fixed so travel shows as movement across the picture.
    """
    from PIL import Image, ImageDraw

    joints = _check_joints(joints)
    spec = _skeleton_for(joints)
    colours = _chain_colours(spec)
    screen = project(joints)  # (T, J, 2) metres
    step = max(1, int(round(fps / max_fps)))
    margin = 0.15
    lo_x, hi_x = screen[..., 0].min() - margin, screen[..., 0].max() + margin
    lo_y, hi_y = min(0.0, screen[..., 1].min()) - margin, screen[..., 1].max() + margin + (0.2 if title else 0.0)
    scale = height_px / (hi_y - lo_y)  # pixels per metre
    width_px = max(int((hi_x - lo_x) * scale), height_px // 2)
    pixels = np.stack([(screen[..., 0] - lo_x) * scale, (hi_y - screen[..., 1]) * scale], axis=-1)  # (T, J, 2)
    floor = (hi_y - max(0.0, lo_y + margin)) * scale
    images = []
    for frame in range(0, len(joints), step):
        image = Image.new("RGB", (width_px, height_px), "white")
        draw = ImageDraw.Draw(image)
        draw.line([(0, floor), (width_px, floor)], fill="#bbbbbb", width=1)
        trail = [tuple(p) for p in pixels[: frame + 1 : step, 0]]
        if len(trail) > 1:
            draw.line([(x, floor) for x, _ in trail], fill="#e0e0e0", width=3)
        for chain, colour in zip(spec.kinematic_chains, colours):
            draw.line([tuple(pixels[frame, j]) for j in chain], fill=colour, width=3, joint="curve")
        label = f"{title}  {frame / fps:.1f} s" if title else f"{frame / fps:.1f} s"
        draw.text((4, 2), label, fill="#222222")
        images.append(image.convert("P", palette=Image.ADAPTIVE, colors=16))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 * step / fps), loop=0)
    return path


def motion_joints(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """Joints (T, J, 3) and their fps from a features/joints .npy, or any file data.load reads."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        from motion_retrieval.data.humanml3d import check_finite, load_array
        from motion_retrieval.features import features_to_joints

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
    from motion_retrieval.data.load import read_file

    record = read_file(path, compute_features=False)
    return record.joints, record.fps


def render_file(path: str | os.PathLike, out: str | os.PathLike, title: str | None = None, num_frames: int = 8) -> Path:
    """Render a motion file to ``out``: ``.gif`` animates, anything else (``.png``) is a strip."""
    joints, fps = motion_joints(path)
    out = Path(out)
    if out.suffix.lower() == ".gif":
        return render_gif(joints, out, title=title, fps=fps)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".svg", ".pdf"):
        raise MotionDataError(out, "output must end in .png or .gif")
    return render_strip(joints, out, title=title, num_frames=num_frames, fps=fps)
