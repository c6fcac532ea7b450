"""Automatic rig mapping on real mocap: all 174 Bandai-Namco takes (a rig no explicit map knows, rest pose along +X,
6 channels per joint, cm) with no map given, and the three CMU takes against today's explicit cmu-asf map."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pytest

from motion_retrieval.data.bvh import parse_bvh, read_bvh, read_bvh_with_mapping
from motion_retrieval.data.load import load_path
from motion_retrieval.data.rig import orientation
from motion_retrieval.features import features_to_joints
from motion_retrieval.skeleton import SMPL22

J = {name: i for i, name in enumerate(SMPL22.joint_names)}
BANDAI_MAP = {  # the mapping a person would write by hand for this rig ("_L" is the performer's left, README)
    "pelvis": "Hips", "spine1": "Spine", "spine2": "0.5 Spine + 0.5 Chest", "spine3": "Chest", "neck": "Neck",
    "head": "Head", "left_hip": "UpperLeg_L", "left_knee": "LowerLeg_L", "left_ankle": "Foot_L",
    "left_foot": "Toes_L", "left_collar": "Shoulder_L", "left_shoulder": "UpperArm_L", "left_elbow": "LowerArm_L",
    "left_wrist": "Hand_L",
}
BANDAI_MAP.update({k.replace("left", "right"): v.replace("_L", "_R") for k, v in BANDAI_MAP.items()
                   if k.startswith("left")})


@pytest.fixture(scope="module")
def bandai(bandai_dir):
    """{take name: (record, mapping, canonical joints recovered from the features)} for all 174 takes."""
    takes = {}
    for path in sorted(bandai_dir.glob("*.bvh")):
        record, mapping = read_bvh_with_mapping(path)
        takes[path.stem.removeprefix("dataset-1_")] = (record, mapping, features_to_joints(record.features))
    return takes


def _action(take: str) -> str:
    return take.split("_")[0]


def test_every_bandai_take_maps_automatically_with_the_hand_written_mapping(bandai):
    assert len(bandai) == 174
    for take, (record, mapping, _) in bandai.items():
        assert (mapping.method, mapping.orientation.up, mapping.units) == ("auto", "y", "cm"), take
        assert record.tags == ["rig:auto", "rig-method:auto", "rig-up:y", "rig-units:cm"], take
        assert {name: mapping.describe(name) for name in SMPL22.joint_names} == BANDAI_MAP, take
        assert mapping.notes == (), take  # names and motion agree on every side
        assert record.features.shape == (len(record.joints) - 1, 263) and np.isfinite(record.features).all(), take


def test_bandai_bodies_stand_upright_at_human_size(bandai):
    for take, (record, _, _) in bandai.items():
        j = record.joints  # metres, Y-up, floored
        legs = np.linalg.norm(j[:, 4] - j[:, 1], axis=-1) + np.linalg.norm(j[:, 7] - j[:, 4], axis=-1)
        assert 0.7 < np.median(legs) < 0.9, take
        head, pelvis = j[:, J["head"], 1], j[:, J["pelvis"], 1]
        ankles = j[:, [J["left_ankle"], J["right_ankle"]], 1].mean(axis=1)
        assert np.median(head - pelvis) > 0.2 and np.median(pelvis - ankles) > 0.5, take  # head over hips over feet
        assert np.median(j[:, [7, 8, 10, 11], 1].min(axis=1)) < 0.12, take  # a foot on the floor


def test_bandai_bodies_face_plus_z_after_processing_with_toes_and_knees_forward(bandai):
    up = np.array([0.0, 1.0, 0.0])
    for take, (_, _, canonical) in bandai.items():
        across = (canonical[0, 2] - canonical[0, 1]) + (canonical[0, 17] - canonical[0, 16])  # right - left
        facing = np.cross(up, across)  # HumanML3D's facing at the first frame
        assert facing[2] > 0.99 * np.linalg.norm(facing), take
        forward, _ = orientation.forward_vectors(canonical, up)  # (T, 3) toes + knees, no labels involved
        vote = orientation.side_vote(canonical[:, J["left_hip"]], canonical[:, J["right_hip"]], up, forward)
        assert vote > 0.5, take  # SMPL left lies on the body's left in (nearly) every frame


def test_walks_go_where_their_labels_say(bandai):
    """Faced +Z at the start (SMPL left = +X): walk-left moves to +X, walk-right to -X, walk-back to -Z."""
    travel = defaultdict(list)
    for take, (_, _, canonical) in bandai.items():
        travel[_action(take)].append(canonical[-1, 0] - canonical[0, 0])
    assert len(travel["walk-left"]) == len(travel["walk-right"]) == len(travel["walk-back"]) == 15
    assert all(d[0] > 0.8 for d in travel["walk-left"])
    assert all(d[0] < -0.8 for d in travel["walk-right"])
    assert all(d[2] < -0.8 for d in travel["walk-back"])
    assert all(d[2] > 1.0 for action in ("walk", "run", "dash") for d in travel[action])


def test_bye_waves_the_right_hand_and_byebye_both(bandai):
    """Bandai's "bye" takes wave the performer's right hand (Hand_R): it must be SMPL's right wrist."""
    for take, (record, mapping, _) in bandai.items():
        if _action(take) not in ("bye", "byebye"):
            continue
        j = record.joints
        path = {side: np.linalg.norm(np.diff(j[:, J[f"{side}_wrist"]], axis=0), axis=-1).sum()
                for side in ("left", "right")}
        if _action(take) == "bye":
            assert mapping.describe("right_wrist") == "Hand_R"
            assert path["right"] > 1.5 * path["left"], take
            assert j[:, J["right_wrist"], 1].max() > j[:, J["left_wrist"], 1].max(), take
        else:
            assert 0.5 < path["right"] / path["left"] < 2.0, take


def test_bandai_folder_loads_whole_with_no_map(bandai_dir):
    errors = []
    records = list(load_path(bandai_dir, errors=errors, compute_features=False))
    assert errors == [] and len(records) == 174


# ----------------------------------------------------------------------------------------------- CMU
def _renamed_copy(src, dst):
    """The BVH with every joint called joint0, joint1, ... (topology and motion only)."""
    counter = iter(range(10_000))
    text = re.sub(r"^(\s*(?:ROOT|JOINT))\s+\S+", lambda m: f"{m.group(1)} joint{next(counter)}", src.read_text(),
                  flags=re.MULTILINE)
    dst.write_text(text)
    return dst


@pytest.mark.parametrize("take", ["131_01", "131_02", "131_03"])
def test_cmu_takes_map_automatically_to_the_explicit_cmu_asf_joints(cmu_bvh_dir, tmp_path, take):
    explicit, explicit_map = read_bvh_with_mapping(cmu_bvh_dir / f"{take}.bvh")
    assert (explicit_map.method, explicit_map.name) == ("explicit", "cmu-asf")
    unnamed_path = _renamed_copy(cmu_bvh_dir / f"{take}.bvh", tmp_path / f"{take}.bvh")
    assert parse_bvh(unnamed_path).names[:3] == ["joint0", "joint1", "joint2"]
    for record, mapping in (read_bvh_with_mapping(cmu_bvh_dir / f"{take}.bvh", rig="auto"),
                            read_bvh_with_mapping(unnamed_path)):
        assert mapping.method == "auto" and mapping.units == "cmu" and mapping.orientation.up == "y"
        np.testing.assert_allclose(record.joints, explicit.joints, atol=1e-6)
        np.testing.assert_allclose(record.features, explicit.features, atol=1e-5)
    _, by_names = read_bvh_with_mapping(cmu_bvh_dir / f"{take}.bvh", rig="auto")
    np.testing.assert_array_equal(by_names.weights, explicit_map.weights)  # the very same rig joints and weights


def test_cmu_explicit_map_still_wins_for_known_names(cmu_bvh_dir):
    assert read_bvh(cmu_bvh_dir / "131_01.bvh").tags[:2] == ["rig:cmu-asf", "rig-method:explicit"]
