"""What joint names hint at: sides and body parts across the naming schemes of common rigs."""

from __future__ import annotations

import pytest

from motion_retrieval.data.rig.naming import chain_side, part_of, side_of, words


@pytest.mark.parametrize(
    ("name", "side", "part"),
    [
        ("mixamorig:LeftUpLeg", "left", "thigh"),
        ("Shoulder_L", "left", "collar"),
        ("UpperArm_R", "right", "upper_arm"),
        ("LowerLeg_L", "left", "shin"),
        ("l_forearm", "left", "forearm"),
        ("Bip01 R Thigh", "right", "thigh"),
        ("calf_r", "right", "shin"),
        ("clavicle_l", "left", "collar"),
        ("LeftHandIndex1", "left", "finger"),
        ("upperarm_twist_01_l", "left", "twist"),
        ("HeadTop_End", None, "end"),
        ("LeftToeBase", "left", "toe"),
        ("RightForeArm", "right", "forearm"),
        ("L_Hip", "left", "thigh"),
        ("Neck1", None, "neck"),
        ("Hips", None, "pelvis"),
        ("joint12", None, None),
    ],
)
def test_side_and_part_hints(name, side, part):
    assert (side_of(name), part_of(name)) == (side, part)


def test_words_and_chain_votes():
    assert words("mixamorig:LeftUpLeg") == ["left", "up", "leg"]
    assert words("Bip01 R Thigh") == ["bip", "01", "r", "thigh"]
    assert chain_side(["Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L"]) == "left"
    assert chain_side(["joint3", "joint4"]) is None
    assert chain_side(["LeftArm", "RightForeArm"]) is None  # names that disagree tell nothing
