"""Builders of tiny dataset folders in the exact published formats, from the real HumanML3D motion 012314; the
real Bandai-Namco folder; rigs.py on the path."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from motion_retrieval.data.humanml3d import write_motion, write_split
from motion_retrieval.data.record import Caption
from motion_retrieval.skeleton import KIT21, SMPL22

# rigs.py (generated BVH rigs) is imported by name from the test modules; importlib mode does not put it on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

CAPTION_LINES = [
    "a person walks forward and turns around.#a/DET person/NOUN walk/VERB forward/ADV and/CCONJ turn/VERB "
    "around/ADV#0.0#0.0",
    "someone steps forward.#someone/PRON step/VERB forward/ADV#1.0#4.5",
]


@pytest.fixture(scope="session")
def sample_joints(humanml3d_sample) -> np.ndarray:
    """(170, 22, 3) real HumanML3D joints, metres, Y-up, 20 fps."""
    return np.load(humanml3d_sample / "new_joints" / "012314.npy")


@pytest.fixture(scope="session")
def sample_features(humanml3d_sample) -> np.ndarray:
    """(170, 263) the published features of the same motion."""
    return np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")


@pytest.fixture
def make_humanml3d(tmp_path, sample_joints, sample_features):
    """``make(ids=..., with_features=True, with_joints=True)`` -> a HumanML3D folder in tmp_path."""

    def make(ids=("000001", "000002", "M000001"), with_features=True, with_joints=True, name="HumanML3D") -> Path:
        root = tmp_path / name
        for n, motion_id in enumerate(ids):
            joints = sample_joints[: 170 - 10 * n]  # distinct lengths
            features = sample_features[: 170 - 10 * n]
            (root / "texts").mkdir(parents=True, exist_ok=True)
            write_motion(
                root,
                motion_id,
                joints=joints if with_joints else None,
                features=features if with_features else None,
            )
            (root / "texts" / f"{motion_id}.txt").write_text("\n".join(CAPTION_LINES) + "\n", encoding="utf-8")
        write_split(root, "train", ids[:-1])
        write_split(root, "test", ids[-1:])
        write_split(root, "val", [])
        return root

    return make


def smpl_to_kit(joints: np.ndarray, mmm_left_is_smpl_left: bool = True) -> np.ndarray:
    """Build MMM-21 joints from SMPL-22 joints (the inverse of joint_maps.KIT21_TO_SMPL22, plus toe tips).

    ``mmm_left_is_smpl_left=False`` writes the SMPL left side into the MMM ``R*`` joints, as the released KIT-ML
    arrays are laid out (see kitml.py).
    """
    s = {name: joints[:, i] for i, name in enumerate(SMPL22.joint_names)}
    kit = {"root": s["pelvis"], "BP": s["spine1"], "BT": s["spine3"], "BLN": s["neck"], "BUN": s["head"]}
    sides = (("L", "left"), ("R", "right")) if mmm_left_is_smpl_left else (("L", "right"), ("R", "left"))
    for mmm, smpl in sides:
        kit[f"{mmm}S"], kit[f"{mmm}E"], kit[f"{mmm}W"] = s[f"{smpl}_shoulder"], s[f"{smpl}_elbow"], s[f"{smpl}_wrist"]
        kit[f"{mmm}H"], kit[f"{mmm}K"], kit[f"{mmm}A"] = s[f"{smpl}_hip"], s[f"{smpl}_knee"], s[f"{smpl}_ankle"]
        kit[f"{mmm}Mrot"] = s[f"{smpl}_foot"]
        kit[f"{mmm}F"] = s[f"{smpl}_foot"] + 0.5 * (s[f"{smpl}_foot"] - s[f"{smpl}_ankle"])
    return np.stack([kit[name] for name in KIT21.joint_names], axis=1)  # (T, 21, 3)


@pytest.fixture(scope="session")
def kit_from_smpl():
    return smpl_to_kit


@pytest.fixture
def make_kitml(tmp_path, sample_joints):
    """``make(mmm_left_is_smpl_left)`` -> a KIT-ML folder (mm, 12.5 fps, 21 joints), like Guo's release."""
    from motion_retrieval.features import resample

    def make(mmm_left_is_smpl_left: bool = False, ids=("00001", "00002", "M00001"), name="KIT-ML") -> Path:
        root = tmp_path / name
        kit = smpl_to_kit(resample(sample_joints, 20.0, 12.5), mmm_left_is_smpl_left) * 1000.0  # (T, 21, 3) mm
        for motion_id in ids:
            write_motion(root, motion_id, joints=kit, captions=[Caption("a person walks forward.")])
        write_split(root, "train", ids[:2])
        write_split(root, "val", [])
        write_split(root, "test", ids[2:])
        return root

    return make


def write_bvh(path: Path, names, parents, offsets, channels, frames, frame_time=1 / 30) -> Path:
    """A BVH file: ``names``/``parents``/``offsets`` per joint, ``channels`` per joint (list of channel names), and
    ``frames`` (T, C) values. Leaf joints get an End Site."""
    children = {i: [j for j, p in enumerate(parents) if p == i] for i in range(len(names))}
    lines = ["HIERARCHY"]

    def emit(i: int, depth: int) -> None:
        pad = "\t" * depth
        lines.append(f"{pad}{'ROOT' if parents[i] < 0 else 'JOINT'} {names[i]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {' '.join(f'{v:.6f}' for v in offsets[i])}")
        lines.append(f"{pad}\tCHANNELS {len(channels[i])} {' '.join(channels[i])}")
        for child in children[i]:
            emit(child, depth + 1)
        if not children[i]:
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET 0.0 0.05 0.0", f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {frame_time:.7f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in frames]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def bvh_writer():
    return write_bvh


@pytest.fixture(scope="session")
def bandai_dir() -> Path:
    """174 real Bandai-Namco takes (22-joint rig, rest pose along +X, cm, Y-up), read in place (CC BY-NC)."""
    import os

    root = Path(os.environ.get("MOTION_RETRIEVAL_FIXTURES", Path(__file__).resolve().parents[2].parent / "shared"
                               / "fixtures"))
    path = root / "bandai-namco-1"
    if len(list(path.glob("*.bvh"))) != 174:
        pytest.skip(f"real Bandai-Namco fixture (174 takes) not found at {path} (set MOTION_RETRIEVAL_FIXTURES)")
    return path
