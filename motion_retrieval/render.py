"""Stick-figure pictures of a motion: a PNG strip of key frames side by side, or a GIF animation.

Input is joint positions (T, 22, 3) SMPL-22 or (T, 21, 3) KIT-ML, Y-up (``data.render_files`` draws motion files:
features, joints and anything ``data.load`` reads). The figure is
drawn in a fixed oblique view (30 degrees off the front, camera level with the floor so that the floor is one
line) so that both depth and side-to-side movement show; the person's left side is drawn in blue, the right in
red, the spine in black. Pillow draws both (a Matplotlib figure per frame is far slower on a busy CPU, see
docs/BENCHMARKS.md, and adds nothing a stick figure needs); no display is needed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import KIT21, SMPL22

log = logging.getLogger(__name__)

_AZIMUTH = np.deg2rad(-30.0)  # turn the scene so the camera sees the front-left of a +Z-facing body
_LEFT, _RIGHT, _CENTRE = "#1f5fbf", "#c8312b", "#222222"


def _skeleton_for(joints: np.ndarray):
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


def _font(size: int):
    from PIL import ImageFont  # deferred: Pillow is optional; readers import this module

    return ImageFont.load_default(size=size)  # Pillow's bundled FreeType font: no system fonts needed


class _Frames:
    """Screen geometry shared by the strip and the animation: metres -> pixels with the floor at y = 0."""

    def __init__(self, joints: np.ndarray, height_px: int, margin: float = 0.15):
        self.joints = _check_joints(joints)
        self.spec = _skeleton_for(self.joints)
        self.colours = _chain_colours(self.spec)
        self.screen = project(self.joints)  # (T, J, 2) metres
        self.floor = min(0.0, float(self.screen[..., 1].min()))  # records are floored at y = 0
        self.top = float(self.screen[..., 1].max()) + margin
        self.scale = height_px / (self.top - (self.floor - margin))  # pixels per metre
        self.height_px = height_px

    def y(self, metres):
        return (self.top - np.asarray(metres)) * self.scale

    def draw(self, draw, frame: int, x_offset_m: float, x0_px: float) -> None:
        """Draw ``frame`` with screen x shifted by ``-x_offset_m`` metres, starting at pixel column ``x0_px``."""
        pixels = np.stack(
            [(self.screen[frame, :, 0] - x_offset_m) * self.scale + x0_px, self.y(self.screen[frame, :, 1])], axis=-1
        )  # (J, 2)
        for chain, colour in zip(self.spec.kinematic_chains, self.colours):
            draw.line([tuple(pixels[j]) for j in chain], fill=colour, width=3, joint="curve")
        for x, y in pixels:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill="#444444")


def render_strip(
    joints: np.ndarray,
    path: str | os.PathLike,
    title: str | None = None,
    num_frames: int = 8,
    fps: float = 20.0,
    height_px: int = 220,
    frames: Sequence[int] | None = None,
) -> Path:
    """A PNG of ``num_frames`` evenly spaced frames (or the given ``frames``) side by side, each labelled with its
    time; returns the path.

    Each panel is centred on the root so the body stays large; the root's path over the take is drawn faintly on
    the floor of every panel, so travel still shows.
    """
    from PIL import Image, ImageDraw  # deferred: Pillow is optional; readers import this module

    frames_view = _Frames(joints, height_px)
    screen = frames_view.screen
    if frames is None:
        count = max(1, min(num_frames, len(screen)))
        frames = np.unique(np.linspace(0, len(screen) - 1, num=count).round().astype(int))
    else:
        frames = np.clip(np.asarray(frames, dtype=int), 0, len(screen) - 1)
    half_width = max(0.45, float(np.abs(screen[..., 0] - screen[:, :1, 0]).max()) + 0.1)  # metres
    panel_px = int(2 * half_width * frames_view.scale)
    title_px = 24 if title else 0
    title_width = int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(title, font=_font(14))) + 8 if title else 0
    margin = max(0, title_width - panel_px * len(frames)) // 2  # a short strip is widened to show its whole title
    image = Image.new("RGB", (panel_px * len(frames) + 2 * margin, height_px + title_px + 18), "white")
    draw = ImageDraw.Draw(image)
    font = _font(12)
    floor_px = frames_view.y(0.0) + title_px
    for n, frame in enumerate(frames):
        x0 = margin + n * panel_px
        centre = screen[frame, 0, 0]
        trail = (screen[:, 0, 0] - centre + half_width) * frames_view.scale + x0
        draw.line([(x0 + 4, floor_px), (x0 + panel_px - 4, floor_px)], fill="#bbbbbb", width=1)
        draw.line(
            [
                (float(np.clip(trail.min(), x0, x0 + panel_px)), floor_px + 2),
                (float(np.clip(trail.max(), x0, x0 + panel_px)), floor_px + 2),
            ],
            fill="#e0e0e0",
            width=3,
        )
        panel = Image.new("RGB", (panel_px, height_px), "white")
        frames_view.draw(ImageDraw.Draw(panel), frame, centre - half_width, 0.0)
        image.paste(panel, (x0, title_px), mask=_non_white(panel))
        draw.text(
            (x0 + panel_px / 2, title_px + height_px + 2),
            f"{frame / fps:.1f} s",
            fill="#222222",
            font=font,
            anchor="ma",
        )
    if title:
        draw.text((image.width / 2, 4), title, fill="#111111", font=_font(14), anchor="ma")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def _non_white(image):
    """A paste mask: the drawn pixels of a white-background panel."""
    return image.convert("L").point(lambda v: 255 if v < 250 else 0)


def render_gif(
    joints: np.ndarray,
    path: str | os.PathLike,
    title: str | None = None,
    fps: float = 20.0,
    max_fps: float = 10.0,
    height_px: int = 240,
) -> Path:
    """An animated GIF of the motion (every n-th frame so that it plays at most ``max_fps``); returns the path.

    The camera is fixed, so travel shows as movement across the picture.
    """
    from PIL import Image, ImageDraw  # deferred: Pillow is optional; readers import this module

    view = _Frames(joints, height_px)
    step = max(1, int(round(fps / max_fps)))
    margin = 0.2
    lo_x, hi_x = view.screen[..., 0].min() - margin, view.screen[..., 0].max() + margin
    width_px = max(int((hi_x - lo_x) * view.scale), height_px // 2)
    floor_px = view.y(0.0)
    font = _font(12)
    images = []
    for frame in range(0, len(view.screen), step):
        image = Image.new("RGB", (width_px, height_px), "white")
        draw = ImageDraw.Draw(image)
        draw.line([(0, floor_px), (width_px, floor_px)], fill="#bbbbbb", width=1)
        trail = (view.screen[: frame + 1, 0, 0] - lo_x) * view.scale
        if frame:
            draw.line([(float(trail.min()), floor_px + 2), (float(trail.max()), floor_px + 2)], fill="#e0e0e0", width=3)
        view.draw(draw, frame, lo_x, 0.0)
        label = f"{title}  {frame / fps:.1f} s" if title else f"{frame / fps:.1f} s"
        draw.text((4, 2), label, fill="#222222", font=font)
        images.append(image.convert("P", palette=Image.ADAPTIVE, colors=16))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 * step / fps), loop=0)
    return path
