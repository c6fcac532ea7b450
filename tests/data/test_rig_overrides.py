"""Overrides and reports: --rig-map FILE.json, --up, --units, `motion-retrieval inspect`, joint arrays with names
and parents, and the Human3.6M 17-joint layout of pose estimators."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rigs import MIXAMO

from motion_retrieval.cli import main
from motion_retrieval.data import joint_maps
from motion_retrieval.data.bvh import read_bvh, read_bvh_with_mapping
from motion_retrieval.data.joint_maps import load_joint_map
from motion_retrieval.data.load import read_file
from motion_retrieval.data.mocap import h36m17_to_smpl22, read_mocap, read_mocap_with_mapping
from motion_retrieval.data.units import leg_length
from motion_retrieval.errors import MotionDataError
from motion_retrieval.skeleton import H36M17, SMPL22

BOW = "dataset-1_bow_active_001.bvh"


@pytest.fixture(scope="module")
def bow(bandai_dir):
    return bandai_dir / BOW


# ------------------------------------------------------------------------------------------------ --rig-map
def test_inspect_json_rig_map_round_trips_through_rig_map(bow, tmp_path, capsys):
    assert main(["inspect", str(bow), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "auto" and report["up"] == "y" and report["units"] == "cm"
    assert report["fps"] == 30.0 and report["frames"] == 128 and report["frames_processed"] == 85
    assert report["joints"]["left_wrist"] == "Hand_L" and report["unused_rig_joints"] == ["joint_Root"]
    (tmp_path / "bandai.json").write_text(json.dumps(report["rig_map"]))
    auto = read_bvh(bow)
    explicit, mapping = read_bvh_with_mapping(bow, rig=load_joint_map(tmp_path / "bandai.json"))
    assert (mapping.method, mapping.name) == ("explicit", "bandai")
    assert explicit.tags == ["rig:bandai", "rig-method:explicit", "rig-up:y", "rig-units:cm"]
    np.testing.assert_allclose(explicit.joints, auto.joints, atol=1e-6)


def test_rig_map_overrides_the_automatic_choice(bow, tmp_path):
    rig_map = {name: (source if isinstance(source, str) else [list(p) for p in source])
               for name, source in json.loads(json.dumps(_rig_map(bow))).items()}
    rig_map["spine1"] = [["Hips", 0.5], ["Spine", 0.5]]  # a user who wants spine1 lower gets exactly that
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "my-studio", "joints": rig_map}))
    record = read_file(bow, rig_map=path)
    assert record.tags[0] == "rig:my-studio"
    raw = read_file(bow)
    expected = 0.5 * (raw.joints[:, 0] + raw.joints[:, 3])  # halfway between pelvis and the automatic spine1
    assert np.linalg.norm(record.joints[:, 3] - expected, axis=-1).max() < 1e-5


def _rig_map(path) -> dict:
    from motion_retrieval.data.rig import joint_map_to_json

    return joint_map_to_json(read_bvh_with_mapping(path)[1].joint_map())


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "cannot read the rig map"),
        (json.dumps({"pelvis": "Hips"}), "no source for SMPL joints left_hip"),
        (json.dumps({"tail": "Hips"}), "unknown SMPL joints tail"),
        (json.dumps({"pelvis": [["Hips", 0.5], ["Spine", 0.2]]}), "the weights of pelvis sum to 0.7, not 1"),
        (json.dumps({"pelvis": 3}), "pelvis must be a joint name"),
        (json.dumps(["Hips"]), "a JSON object keyed by SMPL joint names"),
    ],
)
def test_bad_rig_map_files_say_what_is_wrong(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(MotionDataError, match=problem) as info:
        load_joint_map(path)
    assert "bad.json" in str(info.value)


def test_rig_map_naming_joints_the_file_lacks(bow, tmp_path):
    rig_map = dict(_rig_map(bow), head="HeadTop")
    (tmp_path / "m.json").write_text(json.dumps(rig_map))
    with pytest.raises(MotionDataError, match="needs joints missing from the rig: HeadTop"):
        read_file(bow, rig_map=tmp_path / "m.json")


# ------------------------------------------------------------------------------------------------ --up, --units
def test_up_and_units_overrides_are_obeyed_and_recorded(bow):
    auto = read_bvh(bow)
    same = read_bvh(bow, up="y", units="cm")
    np.testing.assert_allclose(same.joints, auto.joints, atol=1e-6)
    lying = read_bvh(bow, up="x")  # a wrong declaration is obeyed: the body is turned, not refused
    assert "rig-up:x" in lying.tags and not np.allclose(lying.joints, auto.joints, atol=0.1)
    tiny = read_bvh(bow, units="mm")
    assert "rig-units:mm" in tiny.tags
    assert leg_length(tiny.joints) == pytest.approx(0.1 * leg_length(auto.joints), rel=1e-4)


def test_cli_flags_reach_the_readers(bow, tmp_path, capsys):
    assert main(["inspect", str(bow), "--up", "x", "--units", "mm", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["up"], report["units"], report["method"]) == ("x", "mm", "auto")
    (tmp_path / "m.json").write_text(json.dumps(_rig_map(bow)))
    assert main(["render", str(bow), "--out", str(tmp_path / "r.png"), "--rig-map", str(tmp_path / "m.json")]) == 0
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_prepare_takes_the_units_of_kit_joints(make_kitml, capsys, monkeypatch):
    from motion_retrieval.data import kitml

    folder = make_kitml()
    seen = []
    original = kitml.KitMLFolder.__init__

    def spy(self, root, *, units="auto"):
        seen.append(units)
        original(self, root, units=units)

    monkeypatch.setattr(kitml.KitMLFolder, "__init__", spy)
    assert main(["prepare", str(folder), "--units", "mm", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] == 3 and seen == ["mm"]


def test_inspect_prints_the_mapping_and_draws_one_frame(bow, tmp_path, capsys):
    assert main(["inspect", str(bow), "--out", str(tmp_path / "frame.png"), "--frame", "1.0"]) == 0
    text = capsys.readouterr().out
    assert "mapping: auto (found from the hierarchy and the motion)" in text
    assert "up y (confidence" in text and "forward z, left x" in text and "units:   cm" in text
    assert "fps:     30 -> 20" in text and "frames:  128 -> 85" in text
    assert "  left_wrist      Hand_L" in text and "unused rig joints (1): joint_Root" in text
    assert f"frame:   {tmp_path / 'frame.png'} (at 1.00 s)" in text
    from PIL import Image

    with Image.open(tmp_path / "frame.png") as image:
        assert image.width > 100 and image.height > 200


def test_inspect_of_a_non_humanoid_is_an_error_message(tmp_path, capsys):
    (tmp_path / "cam.bvh").write_text(
        "HIERARCHY\nROOT cam\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
        "Yrotation\n End Site\n {\n  OFFSET 0 0 1\n }\n}\nMOTION\nFrames: 5\nFrame Time: 0.0333333\n"
        + "".join(f"{k} 0 0 0 0 0\n" for k in range(5))
    )
    assert main(["inspect", str(tmp_path / "cam.bvh")]) == 1
    assert "not a humanoid: a single joint ('cam'; a camera or a prop?)" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ joint arrays
def test_npz_with_joint_names_and_parents_is_mapped_automatically(tmp_path, sample_joints):
    names = [f"bone_{i:02d}" for i in range(22)]  # nothing for the names to tell
    np.savez(tmp_path / "named.npz", joints=sample_joints * 100.0, joint_names=np.array(names),
             parents=np.array(SMPL22.parents), fps=20.0)
    record, mapping = read_mocap_with_mapping(tmp_path / "named.npz")
    assert (mapping.method, mapping.units, record.tags[0]) == ("auto", "cm", "rig:auto")
    assert [mapping.describe(j) for j in range(22)] == names
    np.testing.assert_allclose(record.joints, sample_joints - [0, sample_joints[..., 1].min(), 0], atol=1e-5)


def test_npz_with_known_joint_names_keeps_the_explicit_map(tmp_path, sample_joints):
    np.savez(tmp_path / "mixamo.npz", joints=sample_joints, joint_names=np.array(MIXAMO))
    assert read_mocap(tmp_path / "mixamo.npz").tags[:2] == ["rig:mixamo", "rig-method:explicit"]


def test_up_is_found_from_the_motion_for_arrays_too(tmp_path, sample_joints):
    camera = sample_joints * [-1.0, -1.0, 1.0]  # Y down, as camera coordinates are (a proper rotation)
    np.save(tmp_path / "cam.npy", camera)
    record, mapping = read_mocap_with_mapping(tmp_path / "cam.npy")
    assert mapping.orientation.up == "-y" and "rig-up:-y" in record.tags
    np.testing.assert_allclose(record.joints, sample_joints - [0, sample_joints[..., 1].min(), 0], atol=1e-5)


# ------------------------------------------------------------------------------------------------ Human3.6M
def _h36m_from_smpl(j: np.ndarray) -> np.ndarray:
    """(T, 17, 3) Human3.6M joints built from SMPL-22 ones, consistent with joint_maps.H36M17_TO_SMPL22."""
    s = {name: j[:, i] for i, name in enumerate(SMPL22.joint_names)}
    nose = 2 * s["head"] - s["neck"]  # head = midpoint of thorax and nose
    h = {
        "Hip": s["pelvis"], "RHip": s["right_hip"], "RKnee": s["right_knee"], "RFoot": s["right_ankle"],
        "LHip": s["left_hip"], "LKnee": s["left_knee"], "LFoot": s["left_ankle"], "Spine": s["spine2"],
        "Thorax": s["neck"], "Nose": nose, "Head": nose + [0.0, 0.1, 0.0], "LShoulder": s["left_shoulder"],
        "LElbow": s["left_elbow"], "LWrist": s["left_wrist"], "RShoulder": s["right_shoulder"],
        "RElbow": s["right_elbow"], "RWrist": s["right_wrist"],
    }
    return np.stack([h[name] for name in H36M17.joint_names], axis=1)


def test_h36m17_maps_onto_smpl22_with_documented_interpolation(sample_joints):
    smpl = h36m17_to_smpl22(_h36m_from_smpl(sample_joints))
    exact = [SMPL22.joint_names.index(n) for n in (
        "pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "spine2", "neck",
        "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")]
    np.testing.assert_allclose(smpl[:, exact], sample_joints[:, exact], atol=1e-6)
    spine = [SMPL22.joint_names.index(n) for n in ("spine1", "spine3", "left_collar", "right_collar")]
    assert np.median(np.linalg.norm(smpl[:, spine] - sample_joints[:, spine], axis=-1)) < 0.06  # interpolated
    feet = [10, 11]
    assert np.median(np.linalg.norm(smpl[:, feet] - sample_joints[:, feet], axis=-1)) < 0.08  # synthesized


def test_h36m17_arrays_in_camera_coordinates_read_as_upright_records(tmp_path, sample_joints):
    from motion_retrieval.features import resample

    h36m = _h36m_from_smpl(resample(sample_joints, 20.0, 50.0)) * [-1.0, -1.0, 1.0] * 1000.0  # Y down, mm, 50 fps
    np.savez(tmp_path / "estimate.npz", joints=h36m, skeleton="h36m17", fps=50.0)
    record, mapping = read_mocap_with_mapping(tmp_path / "estimate.npz")
    assert (mapping.name, mapping.orientation.up, mapping.units) == ("h36m17", "-y", "mm")
    assert record.tags[0] == "skeleton:h36m17" and mapping.synthesized == ("left_foot", "right_foot")
    assert abs(len(record.joints) - len(sample_joints)) <= 1 and joint_maps.facing_agreement(record.joints) > 0.9
    np.save(tmp_path / "estimate.npy", h36m)
    with pytest.raises(MotionDataError, match="unknown skeleton for 17 joints .* h36m17"):
        read_mocap(tmp_path / "estimate.npy")  # a bare 17-joint array must say which layout it is
    assert read_mocap(tmp_path / "estimate.npy", skeleton="h36m17", fps=50.0).tags[0] == "skeleton:h36m17"
