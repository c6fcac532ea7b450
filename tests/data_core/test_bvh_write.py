"""SMPL-22 BVH writer and source-window cut: a written BVH re-imports through our own reader to the same joints, its
forward kinematics reproduce the positions, a cut keeps the source rig and frame rate, and Blender's importer opens
a written file (slow; needs bpy)."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.data.bvh import parse_bvh, read_bvh
from motion_retrieval.data.bvh_write import SMPL22_BVH_NAMES, cut_bvh, smpl22_bvh, window_frames
from motion_retrieval.data.mocap import joints_to_record
from motion_retrieval.errors import MotionDataError
from motion_retrieval.features import features_to_joints


@pytest.fixture(scope="module")
def real_joints(humanml3d_sample):
    return np.load(humanml3d_sample / "new_joints" / "012314.npy").astype(np.float32)  # (T, 22, 3)


def _write(tmp_path, joints, fps=20.0):
    path = tmp_path / "clip.bvh"
    path.write_text(smpl22_bvh(joints, fps))
    return path


def test_forward_kinematics_of_the_written_file_gives_the_joints_back(tmp_path, real_joints):
    motion = parse_bvh(_write(tmp_path, real_joints))
    order = [motion.names.index(name) for name in SMPL22_BVH_NAMES]
    assert motion.fps == 20.0 and motion.num_frames == len(real_joints)
    np.testing.assert_allclose(motion.positions()[:, order], real_joints, atol=1e-4)  # metres


def test_reimport_through_our_reader_matches_within_a_centimetre(tmp_path, real_joints, humanml3d_sample):
    # Two inputs: the real dataset joints, and joints recovered from its features (what previews hold).
    features = np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy").astype(np.float32)
    for joints in (real_joints, features_to_joints(features).astype(np.float32)):
        record = read_bvh(_write(tmp_path, joints))
        expected = joints_to_record(joints, fps=20.0, path="expected", dataset="bvh", units="m", up="y")
        assert "rig:smpl-named" in record.tags and "rig-method:explicit" in record.tags
        assert record.joints.shape == expected.joints.shape
        assert np.abs(record.joints - expected.joints).max() < 0.01  # the usual processing on both sides


def test_non_rigid_noisy_joints_still_land_close(tmp_path, real_joints):
    noisy = real_joints + np.random.default_rng(0).normal(0, 0.003, real_joints.shape).astype(np.float32)
    motion = parse_bvh(_write(tmp_path, noisy))
    order = [motion.names.index(name) for name in SMPL22_BVH_NAMES]
    error = np.linalg.norm(motion.positions()[:, order] - noisy, axis=-1)  # (T, 22)
    assert np.median(error) < 0.01


def test_angles_are_continuous_over_time(tmp_path, real_joints):
    spun = real_joints.copy()
    angle = np.linspace(0, 4 * np.pi, len(spun))  # two full turns about Y
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x, z = spun[..., 0].copy(), spun[..., 2].copy()
    spun[..., 0], spun[..., 2] = c * x + s * z, -s * x + c * z
    values = parse_bvh(_write(tmp_path, spun)).values[:, 3:]  # rotation channels
    assert np.abs(np.diff(values, axis=0)).max() < 90.0  # no 360-degree wraps between neighbouring frames


def test_writer_refuses_bad_input():
    with pytest.raises(ValueError, match=r"\(T, 22, 3\)"):
        smpl22_bvh(np.zeros((5, 21, 3)))
    bad = np.zeros((5, 22, 3))
    bad[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        smpl22_bvh(bad)


def test_cut_keeps_the_source_rig_and_frame_rate(tmp_path, cmu_bvh_dir):
    source = cmu_bvh_dir / "131_01.bvh"
    full = parse_bvh(source)
    path = tmp_path / "cut.bvh"
    path.write_text(cut_bvh(source, 2.0, 4.5))
    cut = parse_bvh(path)
    assert cut.names == full.names and cut.frame_time == full.frame_time
    assert [j.channels for j in cut.joints] == [j.channels for j in full.joints]
    np.testing.assert_array_equal([j.offset for j in cut.joints], [j.offset for j in full.joints])
    first, last = window_frames(full.num_frames, full.fps, 2.0, 4.5)
    assert (first, last) == (round(2.0 * full.fps), round(4.5 * full.fps))
    assert cut.num_frames == last - first
    np.testing.assert_array_equal(cut.values, full.values[first:last])


def test_cut_refuses_a_window_outside_the_take_and_a_non_bvh(tmp_path, cmu_bvh_dir):
    source = cmu_bvh_dir / "131_01.bvh"
    duration = parse_bvh(source).num_frames / parse_bvh(source).fps
    with pytest.raises(MotionDataError, match="outside the take"):
        cut_bvh(source, duration + 5, duration + 15)
    other = tmp_path / "x.bvh"
    other.write_text("not a bvh\n")
    with pytest.raises(MotionDataError):
        cut_bvh(other, 0, 1)


_BLENDER_CHECK = """
import json, sys
import bpy
bpy.ops.wm.read_factory_settings(use_empty=True)
result = bpy.ops.import_anim.bvh(filepath=sys.argv[1], global_scale=1.0, axis_forward="-Z", axis_up="Y")
armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
start, end = armature.animation_data.action.frame_range
wrist = armature.pose.bones["L_Wrist"]
seen = []
for frame in (1, int(sys.argv[2])):
    bpy.context.scene.frame_set(frame)
    seen.append(list((armature.matrix_world @ wrist.head)[:]))
print(json.dumps({"result": sorted(result), "bones": sorted(b.name for b in armature.data.bones),
                  "frames": int(end - start) + 1, "wrist": seen}))
"""


@pytest.mark.slow
def test_blender_imports_the_written_bvh(tmp_path, real_joints):
    """Blender's own BVH importer (bpy, in a child process so that Blender stays out of the test process) reads the
    file with every bone and frame, and the imported skeleton moves as the joints do."""
    import importlib.util
    import json
    import subprocess
    import sys

    if importlib.util.find_spec("bpy") is None:
        pytest.skip("Blender as a module (pip install bpy==5.0.1, the [fbx] extra) is not installed")
    path = _write(tmp_path, real_joints)
    middle = len(real_joints) // 2
    done = subprocess.run([sys.executable, "-c", _BLENDER_CHECK, str(path), str(middle)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["result"] == ["FINISHED"]
    assert report["bones"] == sorted(SMPL22_BVH_NAMES) and report["frames"] == len(real_joints)
    moved = np.linalg.norm(np.subtract(*report["wrist"][::-1]))
    expected = np.linalg.norm(real_joints[middle - 1, 20] - real_joints[0, 20])
    assert moved == pytest.approx(expected, abs=0.02)
