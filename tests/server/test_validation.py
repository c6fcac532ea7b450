"""Request checks and the joint conversion, without a server."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.data.joint_input import skeleton_joints_to_features
from motion_retrieval.serving.inputs import InputError
from motion_retrieval.serving.motions import SKELETONS
from motion_retrieval_server.api import common_pb2
from motion_retrieval_server.config import ServiceLimits
from motion_retrieval_server.validation import check_texts, decode_motions, decode_tensor, encode_tensor

LIMITS = ServiceLimits(max_batch_size=4, max_frames=300, min_frames=2, max_text_chars=50)
RIC = slice(4, 67)


def joints_to_model_features(joints, skeleton: str, fps: float, field: str) -> np.ndarray:
    return skeleton_joints_to_features(np.asarray(joints), SKELETONS[skeleton], fps, field)


def features_motion(array) -> common_pb2.Motion:
    return common_pb2.Motion(features=common_pb2.FeatureMotion(features=encode_tensor(np.asarray(array))))


def joints_motion(array, skeleton="smpl22", fps=20.0) -> common_pb2.Motion:
    return common_pb2.Motion(joints=common_pb2.JointsMotion(joints=encode_tensor(np.asarray(array)),
                                                            skeleton=skeleton, fps=fps))


def test_tensor_round_trip_is_little_endian_float32():
    array = np.arange(12, dtype=np.float64).reshape(3, 4)
    tensor = encode_tensor(array)
    assert list(tensor.shape) == [3, 4] and len(tensor.data) == 48
    assert tensor.data[:8] == np.array([0.0, 1.0], dtype="<f4").tobytes()
    np.testing.assert_array_equal(decode_tensor(tensor, "t"), array.astype(np.float32))


def test_tensor_with_wrong_byte_count_names_the_field():
    tensor = common_pb2.FloatTensor(shape=[2, 263], data=b"\0" * 100)
    message = r"motions\[0\]\.features\.data: holds 100 bytes, shape \[2, 263\] needs 2104"
    with pytest.raises(InputError, match=message):
        decode_tensor(tensor, "motions[0].features")


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], r"texts: is empty"),
        (["ok"] * 5, r"texts: has 5 items, the limit is 4"),
        (["fine", "   "], r"texts\[1\]: is empty"),
        (["fine", "x" * 51], r"texts\[1\]: has 51 characters, the limit is 50"),
    ],
)
def test_bad_texts(texts, message):
    with pytest.raises(InputError, match=message):
        check_texts(texts, LIMITS)


def _features(frames, dim=263):
    return np.zeros((frames, dim), dtype=np.float32)


def _nan_at(frame, feature):
    array = _features(10)
    array[frame, feature] = np.nan
    return array


@pytest.mark.parametrize(
    ("motions", "message"),
    [
        ([features_motion(_features(10))] * 5, r"motions: has 5 items, the limit is 4"),
        ([features_motion(_features(10)), common_pb2.Motion()], r"motions\[1\]: is empty; set either features or"),
        ([features_motion(_features(10, 251))], r"motions\[0\]\.features\.shape: expected \(T, 263\), got \[10, 251\]"),
        ([features_motion(np.zeros(263, np.float32))], r"motions\[0\]\.features\.shape: expected 2 dimensions"),
        ([features_motion(_features(1))], r"motions\[0\]\.features: has 1 frames, at least 2 are needed"),
        ([features_motion(_features(301))],
         r"motions\[0\]\.features: has 301 frames, the limit is 300 \(Limits.max_frames\)"),
        ([features_motion(_features(5)), features_motion(_nan_at(3, 7))],
         r"motions\[1\]\.features: contains NaN or inf \(first at frame 3, feature 7\)"),
        ([joints_motion(np.zeros((10, 22, 3)), skeleton="bvh")],
         r"motions\[0\]\.joints\.skeleton: unknown skeleton 'bvh'; known: smpl22, kit21"),
        ([joints_motion(np.zeros((10, 21, 3)), skeleton="smpl22")],
         r"motions\[0\]\.joints\.joints\.shape: expected \(T, 22, 3\) for skeleton smpl22, got \[10, 21, 3\]"),
        ([joints_motion(np.zeros((10, 22, 3)), fps=0.0)],
         r"motions\[0\]\.joints\.fps: must be a finite positive frame rate"),
        ([joints_motion(np.zeros((2, 22, 3)))], r"motions\[0\]\.joints\.joints: has 2 frames, at least 3"),
        ([joints_motion(np.full((10, 22, 3), np.inf))],
         r"motions\[0\]\.joints\.joints: contains NaN or inf \(first at frame 0, joint 0\)"),
    ],
)
def test_bad_motions_name_field_index_and_limit(motions, message):
    with pytest.raises(InputError, match=message):
        decode_motions(motions, LIMITS)


def test_joints_too_short_after_resampling_are_refused_before_any_work(smpl_joints):
    with pytest.raises(InputError, match=r"motions\[0\]\.joints: motion is too short: 4 frames at 120 fps "
                                         r"leave 1 at 20 fps, at least 3 are needed"):
        decode_motions([joints_motion(smpl_joints[:4], fps=120.0)], LIMITS)


@pytest.mark.parametrize("fps", [0.2, 1e-30, 2.0])
def test_frame_limits_apply_at_20_fps_before_resampling(fps):
    """Issue 11 item 3: a few frames at a tiny frame rate are a huge motion at 20 fps; refused by the limit, named,
    before any resampling work (1e-30 fps used to answer UNKNOWN "Maximum allowed size exceeded")."""
    joints = np.zeros((200, 22, 3), np.float32)  # as sent: within every limit
    with pytest.raises(InputError, match=r"motions\[0\]\.joints: 200 frames at .* fps are \d+ frames at 20 "
                                         r"fps, the limit is 300 \(15 s, Limits.max_frames\)"):
        decode_motions([joints_motion(joints, fps=fps)], LIMITS)
    decoded = decode_motions([joints_motion(joints[:100], fps=60.0)], LIMITS)  # 5 s at 60 fps: 34 frames at 20
    assert decoded[0].needs_conversion


def test_shape_products_that_overflow_are_invalid_arguments():
    """Issue 11 item 6: a shape whose product overflows int64 was an unhandled ValueError (UNKNOWN)."""
    for shape in ([2**32 - 1, 2**32 - 1, 3], [2**31, 2**31, 2**31], [0, 22, 3]):
        tensor = common_pb2.FloatTensor(shape=shape, data=b"\0" * 12)
        with pytest.raises(InputError, match=r"motions\[0\]\.joints\.joints\.(data|shape)"):
            decode_motions([common_pb2.Motion(joints=common_pb2.JointsMotion(joints=tensor, skeleton="smpl22",
                                                                              fps=20.0))], LIMITS)


def test_values_beyond_any_motion_are_refused_naming_the_place():
    features = _features(10)
    features[4, 7] = 1e20
    with pytest.raises(InputError, match=r"motions\[0\]\.features: holds 1e\+20 at frame 4, feature 7"):
        decode_motions([features_motion(features)], LIMITS)
    joints = np.zeros((10, 21, 3), np.float32)
    joints[2, 3, 1] = 3e38
    with pytest.raises(InputError, match=r"joints: holds 3e\+38 at frame 2, joint 3; kit21 positions are millimetres"):
        decode_motions([joints_motion(joints, skeleton="kit21")], LIMITS)


def test_smpl_joints_give_the_dataset_features(smpl_joints, humanml3d_sample):
    features = joints_to_model_features(smpl_joints, "smpl22", 20.0, "test")
    reference = np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")  # (170, 263)
    assert features.shape == (169, 263)
    # Retargeting onto the reference skeleton moves joints by a few millimetres (tests/data_core holds the exact
    # golden test of the pipeline); here it is enough that the service runs that pipeline.
    np.testing.assert_allclose(features[:, RIC], reference[:169, RIC], atol=1e-2)


def test_kit_joints_map_onto_smpl_features(smpl_joints, kit_joints):
    """KIT-21 (millimetres) -> SMPL-22 features close to the take's own; a different motion is far."""
    reference = joints_to_model_features(smpl_joints, "smpl22", 20.0, "smpl")
    from_kit = joints_to_model_features(kit_joints, "kit21", 20.0, "kit")
    reversed_take = joints_to_model_features(smpl_joints[::-1].copy(), "smpl22", 20.0, "reversed")
    kit_error = np.abs(from_kit[:, RIC] - reference[:, RIC]).mean()
    assert kit_error < 0.02  # metres; the spine and collar midpoints differ a little from SMPL's own joints
    assert np.abs(reversed_take[:, RIC] - reference[:, RIC]).mean() > 5 * kit_error


def test_kit_joints_with_swapped_side_labels_are_detected(smpl_joints, kit_joints):
    from motion_retrieval.skeleton import KIT21

    swap = np.arange(KIT21.num_joints)
    for left, right in KIT21.mirror_pairs:
        swap[left], swap[right] = right, left
    straight = joints_to_model_features(kit_joints, "kit21", 20.0, "kit")
    swapped = joints_to_model_features(kit_joints[:, swap], "kit21", 20.0, "kit")
    np.testing.assert_allclose(swapped, straight, atol=1e-4)
