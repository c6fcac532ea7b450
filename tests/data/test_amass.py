"""AMASS / SMPL-family pose files: joints against a forward kinematics written here independently (scipy rotations,
SMPL's 4x4 world transforms), Z up turned upright, left and right kept, exact joints from a body-model file, and
clear refusals of malformed files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motion_retrieval.data.load import load_path, read_file
from motion_retrieval.errors import MotionDataError

# SMPL's kinematic tree (kintree_table of the released models), written out here rather than imported.
PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]
LEFT_HIP, RIGHT_HIP, PELVIS, HEAD, LEFT_ANKLE, LEFT_FOOT, RIGHT_ANKLE, RIGHT_FOOT = 1, 2, 0, 15, 7, 10, 8, 11


def reference_joints(rest: np.ndarray, root_orient: np.ndarray, body: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """SMPL's own formulation: world transforms G_j = G_parent [R_j | J_j - J_parent] as 4x4 matrices, joint = the
    translation of G_j, plus trans. rest (22, 3); root_orient (T, 3); body (T, 21, 3); trans (T, 3)."""
    out = np.zeros((len(root_orient), 22, 3))
    for t in range(len(root_orient)):
        world = []
        for j in range(22):
            local = np.eye(4)
            rotvec = root_orient[t] if j == 0 else body[t, j - 1]
            local[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
            local[:3, 3] = rest[j] if j == 0 else rest[j] - rest[PARENTS[j]]
            world.append(local if j == 0 else world[PARENTS[j]] @ local)
            out[t, j] = world[j][:3, 3] + trans[t]
    return out


def z_up_to_y_up(joints: np.ndarray) -> np.ndarray:
    """(x, y, z) Z-up -> Y-up by a rotation of -90 degrees about X, floored like the readers do."""
    turned = joints @ Rotation.from_euler("x", -90, degrees=True).as_matrix().T
    turned[..., 1] -= turned[..., 1].min()
    return turned


def smpl_rest_from_table(gender: str) -> np.ndarray:
    from motion_retrieval.data.smpl_body import SMPL_FEMALE_REST_JOINTS, SMPL_MALE_REST_JOINTS

    return {"male": SMPL_MALE_REST_JOINTS, "female": SMPL_FEMALE_REST_JOINTS}[gender]


def random_take(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth poses around a standing body turned Z up (root +90 degrees about X), walking along +X."""
    rng = np.random.default_rng(seed)
    phase = np.linspace(0, 2 * np.pi, frames)[:, None]
    root = np.tile([np.pi / 2, 0.0, 0.0], (frames, 1)) + 0.1 * np.sin(phase) * rng.normal(size=3)
    body = 0.4 * np.sin(phase[:, :, None] + rng.uniform(0, 6, size=(1, 21, 3))) * rng.uniform(0, 1, size=(1, 21, 3))
    trans = np.concatenate([np.linspace(0, 2, frames)[:, None], np.zeros((frames, 1)), np.full((frames, 1), 0.9)], 1)
    return root, body, trans


def write_smplh(path, root, body, trans, *, gender="male", fps=20.0, betas=None):
    frames = len(root)
    poses = np.concatenate([root, body.reshape(frames, 63), np.random.default_rng(0).normal(size=(frames, 90))], 1)
    np.savez(path, poses=poses, trans=trans, betas=np.zeros(16) if betas is None else betas, gender=np.array(gender),
             mocap_framerate=np.array(fps), dmpls=np.zeros((frames, 8)))
    return path


def test_smplh_poses_match_an_independent_forward_kinematics(tmp_path):
    root, body, trans = random_take(40, seed=1)
    record = read_file(write_smplh(tmp_path / "take_poses.npz", root, body, trans, gender="male"))
    expected = z_up_to_y_up(reference_joints(smpl_rest_from_table("male"), root, body, trans))
    assert record.joints.shape == (40, 22, 3) and record.fps == 20.0 and record.features.shape == (39, 263)
    assert np.abs(record.joints - expected).max() < 0.01  # within 1 cm everywhere
    assert record.dataset == "amass" and "skeleton:smplh" in record.tags and "body-shape:mean" in record.tags


def test_smplx_split_layout_and_its_frame_rate_key(tmp_path):
    root, body, trans = random_take(60, seed=2)
    path = tmp_path / "take_stageii.npz"
    np.savez(path, root_orient=root, pose_body=body.reshape(60, 63), pose_hand=np.zeros((60, 90)),
             pose_jaw=np.zeros((60, 3)), trans=trans, betas=np.zeros(16), gender=np.array("female"),
             mocap_frame_rate=np.array(60.0), surface_model_type=np.array("smplx"))
    record = read_file(path)
    expected = z_up_to_y_up(reference_joints(smpl_rest_from_table("female"), root, body, trans))[::3]  # 60 -> 20 fps
    assert record.joints.shape == (20, 22, 3)
    assert np.abs(record.joints - expected).max() < 0.01
    assert "skeleton:smplx" in record.tags and "gender:female" in record.tags


def test_a_standing_body_ends_upright_with_left_on_its_left(tmp_path):
    frames = 10
    root = np.tile([np.pi / 2, 0.0, 0.0], (frames, 1))  # the model's Y up turned into AMASS's Z up
    trans = np.tile([0.0, 0.0, 0.95], (frames, 1))
    record = read_file(write_smplh(tmp_path / "stand_poses.npz", root, np.zeros((frames, 21, 3)), trans))
    j = record.joints[0]
    assert j[HEAD, 1] > j[PELVIS, 1] + 0.4 > j[LEFT_ANKLE, 1] + 0.4  # upright: head over pelvis over feet
    assert abs(j[HEAD, 1] - j[PELVIS, 1]) > 3 * np.linalg.norm((j[HEAD] - j[PELVIS])[[0, 2]])
    assert j[:, 1].min() == pytest.approx(0.0, abs=1e-6)  # floored
    # The toes point forward; the body's left is then up x forward. A mirrored conversion would flip this sign.
    forward = (j[LEFT_FOOT] + j[RIGHT_FOOT] - j[LEFT_ANKLE] - j[RIGHT_ANKLE])[[0, 2]]
    left = np.cross([0.0, 1.0, 0.0], np.array([forward[0], 0.0, forward[1]]) / np.linalg.norm(forward))
    assert np.dot(j[LEFT_HIP] - j[RIGHT_HIP], left) > 0.08


def test_exact_joints_from_a_body_model_file(tmp_path):
    """--body-model: J = J_regressor @ (v_template + shapedirs @ betas) of the user's model file (a synthetic file of
    the released layout: the real ones may not be shipped)."""
    rng = np.random.default_rng(5)
    vertices = 50
    v_template = rng.normal(scale=0.5, size=(vertices, 3))
    shapedirs = rng.normal(scale=0.02, size=(vertices, 3, 10))
    regressor = rng.uniform(size=(52, vertices))
    regressor /= regressor.sum(axis=1, keepdims=True)
    model_dir = tmp_path / "body_models"
    (model_dir / "smplh" / "male").mkdir(parents=True)
    np.savez(model_dir / "smplh" / "male" / "model.npz", v_template=v_template, shapedirs=shapedirs,
             J_regressor=regressor, f=np.zeros((10, 3), np.int32))
    betas = rng.normal(size=16)
    rest = np.zeros((22, 3))  # the rest joints, summed out explicitly (10 shape directions of the file's 16 betas)
    for j in range(22):
        for v in range(vertices):
            shaped = v_template[v] + sum(shapedirs[v, :, b] * betas[b] for b in range(10))
            rest[j] += regressor[j, v] * shaped
    root, body, trans = random_take(30, seed=3)
    path = write_smplh(tmp_path / "subject_poses.npz", root, body, trans, betas=betas)
    record = next(iter(load_path(path, body_model=model_dir)))
    expected = z_up_to_y_up(reference_joints(rest, root, body, trans))
    assert np.abs(record.joints - expected).max() < 0.01
    assert "body-shape:subject" in record.tags
    mean = read_file(path)  # without the model: the mean shape, visibly another body
    assert np.abs(mean.joints - expected).max() > 0.05

    with pytest.raises(MotionDataError, match="no smplh body model for gender 'male'.*SMPLH_MALE.npz"):
        read_file(path, body_model=tmp_path)
    (tmp_path / "broken").mkdir()
    np.savez(tmp_path / "broken" / "SMPLH_NEUTRAL.npz", v_template=v_template)
    with pytest.raises(MotionDataError, match="not a SMPL-family model file: no shapedirs, J_regressor"):
        read_file(path, body_model=tmp_path / "broken")


@pytest.mark.parametrize(("arrays", "problem"), [
    ({"poses": np.zeros((20, 50))}, "'poses' has 50 values a frame"),
    ({"poses": np.zeros((20, 156)), "trans": np.zeros((19, 3))}, r"'trans' must be \(20, 3\)"),
    ({"poses": np.zeros((20, 156)), "trans": None}, "no 'trans'"),
    ({"poses": np.zeros((20, 156)), "mocap_framerate": None}, "no frame rate"),
    ({"poses": np.full((20, 156), np.nan)}, "'poses' holds non-finite values"),
    ({"poses": np.full((20, 156), 180.0)}, "larger than 100 radians"),
    ({"poses": None, "root_orient": np.zeros((20, 3)), "pose_body": np.zeros((20, 60))}, "'pose_body' \\(T, 63\\)"),
    ({"poses": np.zeros((20, 156)), "gender": np.array("robot")}, "'gender' is 'robot'"),
    ({"poses": np.zeros((1, 156)), "trans": np.zeros((1, 3))}, "too short"),
])
def test_malformed_files_are_refused_by_name(tmp_path, arrays, problem):
    base = {"poses": np.zeros((20, 156)), "trans": np.zeros((20, 3)), "betas": np.zeros(16),
            "mocap_framerate": np.array(20.0), "gender": np.array("neutral")}
    base.update(arrays)
    path = tmp_path / "bad_poses.npz"
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    with pytest.raises(MotionDataError, match=problem) as caught:
        read_file(path)
    assert str(path) in str(caught.value)
    errors: list[MotionDataError] = []
    good = write_smplh(tmp_path / "good_poses.npz", *random_take(20, seed=4))
    records = list(load_path(tmp_path, errors=errors))  # one bad file fails only itself
    assert [r.source for r in records] == [str(good)] and len(errors) == 1 and problem.split("'")[0] in str(errors[0])


def test_the_body_model_flag_reaches_the_reader(tmp_path):
    from motion_retrieval.cli import build_parser
    from motion_retrieval.cli.data_commands import reader_options

    args = build_parser().parse_args(["ingest", str(tmp_path), "--body-model", str(tmp_path / "models")])
    options = reader_options(args)
    assert options == {"body_model": str(tmp_path / "models")}
    path = write_smplh(tmp_path / "take_poses.npz", *random_take(20, seed=6))
    with pytest.raises(MotionDataError, match="no such body-model folder"):  # the option is used, not dropped
        read_file(path, **options)
