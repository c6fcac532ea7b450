"""render: PNG strips and GIF animations from features, joints, KIT joints and BVH."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from PIL import Image

from motion_retrieval.cli import data_commands
from motion_retrieval.data.render_files import render_file
from motion_retrieval.errors import MotionDataError
from motion_retrieval.render import project, render_gif, render_strip


def _ink(path) -> float:
    """Fraction of pixels that are not white."""
    pixels = np.asarray(Image.open(path).convert("L"))
    return float((pixels < 200).mean())


def test_strip_draws_the_requested_frames_side_by_side(tmp_path, sample_joints):
    path = render_strip(sample_joints, tmp_path / "strip.png", title="a person walks", num_frames=6)
    image = Image.open(path)
    assert image.format == "PNG" and image.width > 2 * image.height
    assert _ink(path) > 0.005  # something is drawn
    blank = render_strip(np.zeros((5, 22, 3)), tmp_path / "blank.png", num_frames=6)  # a collapsed body: a dot
    assert _ink(path) > 2 * _ink(blank)


def test_gif_animates_every_other_frame(tmp_path, sample_joints):
    path = render_gif(sample_joints, tmp_path / "anim.gif", fps=20.0)
    image = Image.open(path)
    assert image.format == "GIF" and image.n_frames == 85  # 170 frames at 20 fps played at 10 fps
    image.seek(0)
    first = np.asarray(image.convert("L")).copy()
    image.seek(40)
    assert (np.asarray(image.convert("L")) != first).any()  # the figure moves


def test_render_file_accepts_features_joints_kit_and_bvh(
    tmp_path, humanml3d_sample, cmu_bvh_dir, sample_joints, kit_from_smpl
):
    render_file(humanml3d_sample / "new_joint_vecs" / "012314.npy", tmp_path / "f.png")
    render_file(humanml3d_sample / "new_joints" / "012314.npy", tmp_path / "j.png")
    np.save(tmp_path / "kit.npy", kit_from_smpl(sample_joints) * 1000.0)  # millimetres are scaled for drawing
    render_file(tmp_path / "kit.npy", tmp_path / "k.png")
    render_file(cmu_bvh_dir / "131_03.bvh", tmp_path / "b.gif")
    for name in ("f.png", "j.png", "k.png", "b.gif"):
        assert _ink(tmp_path / name) > 0.002, name


def test_features_and_joints_of_the_same_motion_draw_alike(sample_joints, sample_features):
    from motion_retrieval.features import features_to_joints

    np.testing.assert_allclose(project(features_to_joints(sample_features)), project(sample_joints), atol=1e-4)


def test_bad_inputs(tmp_path):
    np.save(tmp_path / "odd.npy", np.zeros((10, 17, 3)))
    with pytest.raises(MotionDataError, match=r"cannot render an array of shape \(10, 17, 3\)"):
        render_file(tmp_path / "odd.npy", tmp_path / "x.png")
    np.save(tmp_path / "ok.npy", np.zeros((10, 263)))
    with pytest.raises(MotionDataError, match="output must end in .png or .gif"):
        render_file(tmp_path / "ok.npy", tmp_path / "x.mp4")


def test_cli_render(tmp_path, humanml3d_sample, capsys):
    parser = argparse.ArgumentParser()
    data_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "render",
            str(humanml3d_sample / "new_joints" / "012314.npy"),
            "--out",
            str(tmp_path / "out.png"),
            "--frames",
            "4",
        ]
    )
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out.png")
    assert Image.open(tmp_path / "out.png").width > 1.5 * Image.open(tmp_path / "out.png").height
