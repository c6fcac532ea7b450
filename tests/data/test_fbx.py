"""data/fbx.py on real FBX files from two sources (tests/fixtures/fbx/README.md) and on files Blender writes here.

Real files: upright, the rig's left foot on our left (the toes point forward and the left hip is on the left of
that), a walking take moving toward its own facing, as many frames as the take the file declares (read back with
fbx_nodes.py, not with Blender); an FBX without a skeleton, a skeleton without animation, a take holding one pose
and broken files refused with the file named. Written here: a CMU BVH through Blender's FBX exporter reads back within
1 cm of our BVH reader; armature and take choice.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from motion_retrieval.data import blender
from motion_retrieval.data.blender import BlenderMissingError, import_with_blender
from motion_retrieval.data.bvh import parse_bvh, read_bvh
from motion_retrieval.data.fbx import check_fbx_header, largest_bone_tree, read_fbx, read_fbx_with_mapping
from motion_retrieval.data.load import load_path
from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import SMPL22

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fbx_nodes import frames_in_take, read_fbx_tree  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fbx"
CMU_WALK = FIXTURES / "07_01_cmu.fbx"
KENNEY = FIXTURES / "maya_kenney_character_7700_binary.fbx"
J = {name: i for i, name in enumerate(SMPL22.joint_names)}
UP = np.array([0.0, 1.0, 0.0])

needs_bpy = pytest.mark.skipif(not blender.bpy_available(),
                               reason="Blender's bpy module is not installed (pip install 'motion-retrieval[fbx]')")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _toes_forward(joints: np.ndarray) -> np.ndarray:
    """(T, 3) horizontal direction the feet point (ankle -> ball of the foot), both feet averaged."""
    toes = sum(joints[:, J[f"{s}_foot"]] - joints[:, J[f"{s}_ankle"]] for s in ("left", "right"))  # (T, 3)
    toes[:, 1] = 0.0
    return _unit(toes)


def _check_upright_and_sided(joints: np.ndarray) -> None:
    """Head above the feet in every frame, and the left hip on the left of where the toes point over the take
    (the take's mean: a running foot swinging back points its toes backward for a few frames)."""
    head = joints[:, J["head"], 1]
    feet = joints[:, [J["left_ankle"], J["right_ankle"]], 1].max(axis=1)
    assert (head > feet + 0.5).all()
    left = np.cross(UP, _unit(_toes_forward(joints).mean(axis=0)))  # Y up, facing +Z: left is +X
    across = joints[:, J["left_hip"]] - joints[:, J["right_hip"]]  # (T, 3)
    assert (across @ left > 0).mean() > 0.95


@pytest.fixture(scope="module")
def cmu_walk():
    if not blender.bpy_available():
        pytest.skip("Blender's bpy module is not installed (pip install 'motion-retrieval[fbx]')")
    return read_fbx_with_mapping(CMU_WALK)


@pytest.fixture(scope="module")
def kenney():
    if not blender.bpy_available():
        pytest.skip("Blender's bpy module is not installed (pip install 'motion-retrieval[fbx]')")
    return read_fbx_with_mapping(KENNEY)


# ------------------------------------------------------------------------------------------------ real files
def test_fixture_files_are_small_and_documented():
    readme = (FIXTURES / "README.md").read_text()
    for path in FIXTURES.glob("*.fbx"):
        assert path.stat().st_size < 2 * 1024**2
        assert f"`{path.name}`" in readme  # source, licence and attribution recorded


def test_cmu_walk_upright_left_foot_left_and_walks_toward_its_facing(cmu_walk):
    record, mapping = cmu_walk
    assert mapping.sources("left_ankle") == [("LeftFoot", 1.0)]  # the performer's left foot
    joints = record.joints  # (T, 22, 3) metres, Y up, 20 fps
    _check_upright_and_sided(joints)
    step = joints[-1, J["pelvis"]] - joints[0, J["pelvis"]]
    step[1] = 0.0
    assert np.linalg.norm(step) > 2.0  # a walk across the capture volume
    facing = _unit(_toes_forward(joints).mean(axis=0))
    assert float(_unit(step) @ facing) > 0.9  # forward, not backward: left and right are not swapped
    height = joints[:, J["head"], 1].max()
    assert 1.3 < height < 2.0  # metres, from a file in its own units (leg length decided them)


def test_cmu_walk_has_every_frame_of_the_files_take(cmu_walk):
    record, _ = cmu_walk
    declared, fps = frames_in_take(CMU_WALK)  # read from the file's AnimationStack, not through Blender
    sampled = import_with_blender("fbx", CMU_WALK)
    assert (sampled.num_frames, sampled.fps) == (declared, fps) == (317, 120.0)
    assert record.joints.shape[0] == int((declared - 1) / fps * 20) + 1  # the same duration at 20 fps


def test_maya_control_rig_maps_the_body_and_leaves_the_ik_controls_out(kenney):
    record, mapping = kenney
    assert mapping.method == "auto"
    assert mapping.sources("left_ankle")[0][0].startswith("Left")
    assert mapping.sources("right_wrist")[0][0].startswith("Right")
    assert any("LeftFootIK" in note and "not read" in note for note in mapping.notes)
    _check_upright_and_sided(record.joints)
    declared, fps = frames_in_take(KENNEY, "Take 001")
    assert (declared, fps) == (21, 24.0)  # declared 0-20 although the keys stop at 16
    assert import_with_blender("fbx", KENNEY).num_frames == declared
    assert record.joints.shape[0] == int((declared - 1) / fps * 20) + 1


@needs_bpy
@pytest.mark.parametrize("name, problem", [
    ("blender_272_cube_7400_binary.fbx", "no skeleton"),
    ("maya_character_7500_binary.fbx", "skeleton without animation"),
    ("maya_human_ik_7400_binary.fbx", "skeleton without animation: every one of the 120 frames .* same pose"),
])
def test_real_files_without_a_motion_are_refused_with_the_reason(name, problem):
    with pytest.raises(MotionDataError, match=problem) as caught:
        read_fbx(FIXTURES / name)
    assert caught.value.path == str(FIXTURES / name)


@needs_bpy
def test_a_truncated_fbx_is_refused_with_the_file_named(tmp_path):
    broken = tmp_path / "cut.fbx"
    broken.write_bytes(CMU_WALK.read_bytes()[:60_000])
    with pytest.raises(MotionDataError, match="not a readable FBX file") as caught:
        read_fbx(broken)
    assert caught.value.path == str(broken)


def test_header_check_refuses_text_and_ascii_fbx_before_starting_blender(tmp_path):
    ascii_fbx = tmp_path / "take.fbx"
    ascii_fbx.write_text("; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n")
    with pytest.raises(MotionDataError, match="ASCII FBX is not supported"):
        check_fbx_header(ascii_fbx)
    other = tmp_path / "notes.fbx"
    other.write_text("hello")
    with pytest.raises(MotionDataError, match="not an FBX file"):
        check_fbx_header(other)
    check_fbx_header(CMU_WALK)


def test_missing_extra_is_one_clear_per_file_error_and_the_rest_still_loads(monkeypatch, tmp_path, cmu_bvh_dir):
    monkeypatch.setattr(blender, "bpy_available", lambda: False)
    shutil.copy(CMU_WALK, tmp_path / "walk.fbx")
    shutil.copy(cmu_bvh_dir / "131_02.bvh", tmp_path / "131_02.bvh")
    errors: list[MotionDataError] = []
    records = list(load_path(tmp_path, errors=errors, compute_features=False))
    assert [r.id for r in records] == ["131_02"]
    assert len(errors) == 1 and isinstance(errors[0], BlenderMissingError)
    assert errors[0].path == str(tmp_path / "walk.fbx")
    assert "pip install 'motion-retrieval[fbx]'" in str(errors[0])


def test_largest_bone_tree_keeps_the_body_and_reindexes_parents():
    names = ["Ctrl", "CtrlEnd", "Hips", "Spine", "Head"]
    parents = [-1, 0, -1, 2, 3]
    positions = np.arange(2 * 5 * 3, dtype=float).reshape(2, 5, 3)
    kept, kept_parents, kept_positions, dropped = largest_bone_tree(names, parents, positions)
    assert kept == ["Hips", "Spine", "Head"] and kept_parents == [-1, 0, 1]
    assert np.array_equal(kept_positions, positions[:, 2:]) and dropped == ["Ctrl", "CtrlEnd"]


@needs_bpy
@pytest.mark.slow
def test_folder_with_fbx_and_bvh_ingests_the_good_files_and_reports_the_bad(tmp_path, cmu_bvh_dir):
    for name in ("07_01_cmu.fbx", "maya_character_7500_binary.fbx"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    shutil.copy(cmu_bvh_dir / "131_02.bvh", tmp_path / "131_02.bvh")
    errors: list[MotionDataError] = []
    records = {r.id: r for r in load_path(tmp_path, errors=errors)}
    assert sorted(records) == ["07_01_cmu", "131_02"]
    assert records["07_01_cmu"].dataset == "fbx" and records["07_01_cmu"].features.shape[1] == 263
    assert [e.path for e in errors] == [str(tmp_path / "maya_character_7500_binary.fbx")]


# ------------------------------------------------------------------------------------------ files written here
def _blender_scene(task: str, out: Path, *bvh: Path) -> Path:
    script = Path(__file__).resolve().parent / "blender_scenes.py"
    done = subprocess.run([sys.executable, str(script), task, str(out), *map(str, bvh)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@needs_bpy
@pytest.mark.slow
def test_bvh_exported_to_fbx_by_blender_reads_back_within_a_centimetre(tmp_path, cmu_bvh_dir):
    bvh = cmu_bvh_dir / "131_01.bvh"
    zup_metres = tmp_path / "131_01_zup_m.fbx"
    fbx = _blender_scene("roundtrip", tmp_path / "131_01.fbx", bvh, zup_metres)  # with a light, as Blender 2.9x
    from_bvh = read_bvh(bvh)
    from_fbx = read_fbx(fbx)
    assert from_fbx.joints.shape == from_bvh.joints.shape
    assert np.linalg.norm(from_fbx.joints - from_bvh.joints, axis=-1).max() < 0.01  # metres

    _, root = read_fbx_tree(zup_metres)
    declared = root.find("GlobalSettings").properties70()
    assert (declared["UpAxis"], declared["UnitScaleFactor"]) == (2, 100.0)  # Z up; 1 unit = 1 m, numbers / 100
    # nothing detected: the file's declared unit and axes alone must bring the take back to the BVH's (CMU units, Z up
    # in Blender's world, the same as for the Y-up centimetre file)
    trusted = read_fbx(zup_metres, units="cmu", up="z")
    assert np.linalg.norm(trusted.joints - from_bvh.joints, axis=-1).max() < 0.01


@needs_bpy
@pytest.mark.slow
def test_the_armature_objects_own_scale_and_rotation_are_applied(tmp_path, cmu_bvh_dir):
    bvh = cmu_bvh_dir / "131_02.bvh"
    fbx = _blender_scene("transformed", tmp_path / "scaled_turned.fbx", bvh)  # object: 2x, 90 degrees about up
    turned, plain = read_fbx(fbx, units="cmu", up="z"), read_bvh(bvh, units="cmu", up="y")
    legs = [np.linalg.norm(r.joints[:, J["left_knee"]] - r.joints[:, J["left_hip"]], axis=-1).mean()
            for r in (turned, plain)]
    assert legs[0] / legs[1] == pytest.approx(2.0, rel=0.01)
    steps = [r.joints[-1, J["pelvis"], [0, 2]] - r.joints[0, J["pelvis"], [0, 2]] for r in (turned, plain)]
    assert np.linalg.norm(steps[0]) / np.linalg.norm(steps[1]) == pytest.approx(2.0, rel=0.01)
    assert abs(float(_unit(steps[0]) @ _unit(steps[1]))) < 0.05  # the walk turned a quarter turn


@needs_bpy
@pytest.mark.slow
def test_armature_with_most_animated_bones_and_its_active_take_unless_one_is_named(tmp_path, cmu_bvh_dir):
    fbx = _blender_scene("choices", tmp_path / "two.fbx", cmu_bvh_dir / "131_01.bvh", cmu_bvh_dir / "131_03.bvh")
    record, mapping = read_fbx_with_mapping(fbx)
    assert any("'Performer': 31 animated bones (of 2 armatures: Performer, Prop)" in n for n in mapping.notes)
    assert any("other takes: Performer|131_03" in n for n in mapping.notes)
    assert record.joints.shape == read_bvh(cmu_bvh_dir / "131_01.bvh").joints.shape

    hop = read_fbx(fbx, take="Performer|131_03")
    reference = read_bvh(cmu_bvh_dir / "131_03.bvh").joints
    assert hop.joints.shape == reference.shape
    assert parse_bvh(cmu_bvh_dir / "131_03.bvh").num_frames == import_with_blender(
        "fbx", fbx, take="Performer|131_03").num_frames
    assert np.median(np.linalg.norm(hop.joints - reference, axis=-1)) < 0.01

    with pytest.raises(MotionDataError, match=r"no take named 'walk'; the file has .*'Performer\|131_03'"):
        read_fbx(fbx, take="walk")
