"""data/blender.py: Blender's importers in a child process (the BVH check other code uses; MotionDataError)."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.data import blender
from motion_retrieval.data.blender import BlenderMissingError, blender_import_bvh, import_with_blender
from motion_retrieval.data.bvh import parse_bvh
from motion_retrieval.errors import MotionDataError

needs_bpy = pytest.mark.skipif(not blender.bpy_available(),
                               reason="Blender's bpy module is not installed (pip install 'motion-retrieval[fbx]')")


@needs_bpy
def test_blender_opens_a_real_bvh_with_every_frame_and_joint(cmu_bvh_dir):
    path = cmu_bvh_dir / "131_02.bvh"
    motion = parse_bvh(path)
    frames, bones = blender_import_bvh(path)
    assert frames == motion.num_frames
    assert bones == motion.names  # Blender names a bone after its joint; ours come parents first, as the file


@needs_bpy
def test_blender_bvh_positions_match_our_forward_kinematics(cmu_bvh_dir):
    path = cmu_bvh_dir / "131_02.bvh"
    motion = parse_bvh(path)
    take = import_with_blender("bvh", path)
    assert take.fps == pytest.approx(motion.fps, rel=1e-5)  # the file's Frame Time, 0.008333 s
    ours = motion.positions()  # (T, J, 3) file axes: Y up
    theirs = take.positions[:, [take.names.index(n) for n in motion.names]]  # Blender's world: Z up, -Y forward
    theirs = np.stack([theirs[..., 0], theirs[..., 2], -theirs[..., 1]], axis=-1)  # back to the file's Y-up axes
    assert np.abs(ours - theirs).max() < 1e-3  # file units (CMU inches / 0.45)


@needs_bpy
def test_blender_refuses_a_broken_bvh_with_the_file_named(tmp_path):
    bad = tmp_path / "broken.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    with pytest.raises(MotionDataError, match="broken.bvh"):
        blender_import_bvh(bad)


def test_missing_bpy_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(blender, "bpy_available", lambda: False)
    path = tmp_path / "take.bvh"
    path.write_text("HIERARCHY\n")
    with pytest.raises(BlenderMissingError, match=r"pip install 'motion-retrieval\[fbx\]'") as caught:
        blender_import_bvh(path)
    assert caught.value.path == str(path)
    assert isinstance(caught.value, MotionDataError)  # ingest reports it per file and carries on


@needs_bpy
def test_a_blender_that_runs_past_the_timeout_is_stopped_and_reported(cmu_bvh_dir):
    with pytest.raises(MotionDataError, match=r"did not finish reading this file within 0\.2 s"):
        import_with_blender("bvh", cmu_bvh_dir / "131_02.bvh", timeout=0.2)
