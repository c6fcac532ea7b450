"""Bad input, oversized messages, deadlines, start-up failures: each gets a status a caller can act on, and the
service keeps serving."""

from __future__ import annotations

import threading

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from motion_retrieval.errors import ConfigError
from motion_retrieval_server.api import common_pb2, embedding_pb2, embedding_pb2_grpc
from motion_retrieval_server.client import MotionRetrievalClient, features_message, joints_message


@pytest.fixture()
def stub(torchscript_server):
    with grpc.insecure_channel(torchscript_server.target) as channel:
        yield embedding_pb2_grpc.EmbeddingServiceStub(channel)


def _status(call, request, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=30, **kwargs)
    return caught.value


def _health(target: str, service: str = "") -> str:
    with grpc.insecure_channel(target) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                             timeout=10)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


@pytest.mark.parametrize(
    ("texts", "detail"),
    [
        ([], "texts: is empty; send at least one item"),
        ([f"text {i}" for i in range(9)],
         "texts: has 9 items, the limit is 8 per request (Limits.max_batch_size); split the batch"),
        (["walk", ""], "texts[1]: is empty"),
        (["walk", "x" * 201], "texts[1]: has 201 characters, the limit is 200 (Limits.max_text_chars)"),
    ],
)
def test_bad_texts_are_invalid_argument(stub, texts, detail):
    error = _status(stub.EmbedTexts, embedding_pb2.EmbedTextsRequest(texts=texts))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == detail


def _nan_motion():
    array = np.zeros((30, 263), dtype=np.float32)
    array[12, 40] = np.nan
    return array


@pytest.mark.parametrize(
    ("motions", "detail"),
    [
        ([features_message(np.zeros((30, 263), np.float32)), features_message(_nan_motion())],
         "motions[1].features: contains NaN or inf (first at frame 12, feature 40)"),
        ([features_message(np.full((30, 263), np.inf, np.float32))],
         "motions[0].features: contains NaN or inf (first at frame 0, feature 0)"),
        ([features_message(np.zeros((30, 262), np.float32))],
         "motions[0].features.shape: expected (T, 263), got [30, 262]"),
        ([features_message(np.zeros((1, 263), np.float32))],
         "motions[0].features: has 1 frames, at least 2 are needed"),
        ([features_message(np.zeros((601, 263), np.float32))],
         "motions[0].features: has 601 frames, the limit is 600 (Limits.max_frames); window long takes"),
        ([joints_message(np.zeros((30, 21, 3), np.float32), "smpl22", 20.0)],
         "motions[0].joints.joints.shape: expected (T, 22, 3) for skeleton smpl22, got [30, 21, 3]"),
        ([joints_message(np.zeros((30, 22, 3), np.float32), "mixamo", 20.0)],
         "motions[0].joints.skeleton: unknown skeleton 'mixamo'; known: smpl22, kit21, h36m17"),
        ([common_pb2.Motion(features=common_pb2.FeatureMotion(
            features=common_pb2.FloatTensor(shape=[30, 263], data=b"\0" * 12)))],
         "motions[0].features.data: holds 12 bytes, shape [30, 263] needs 31560 (little-endian float32)"),
    ],
)
def test_bad_motions_are_invalid_argument(stub, motions, detail):
    error = _status(stub.EmbedMotions, embedding_pb2.EmbedMotionsRequest(motions=motions))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == detail


def test_joints_too_short_after_resampling(stub, smpl_joints):
    request = embedding_pb2.EmbedMotionsRequest(motions=[joints_message(smpl_joints[:3], "smpl22", 120.0)])
    error = _status(stub.EmbedMotions, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("motions[0].joints: motion is too short")


def test_message_over_the_limit_is_resource_exhausted_and_service_goes_on(stub, torchscript_server, features):
    big = [features_message(features(600, i)) for i in range(8)]  # 8 x 631 KB > the 4 MiB test limit
    error = _status(stub.EmbedMotions, embedding_pb2.EmbedMotionsRequest(motions=big))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _health(torchscript_server.target) == "SERVING"
    with MotionRetrievalClient(torchscript_server.target) as client:
        vectors = client.embed_motions([features(600, i) for i in range(8)])  # the client splits it under the limit
    assert vectors.shape == (8, 256)


def test_service_keeps_serving_after_bad_requests(stub, client):
    for _ in range(3):
        _status(stub.EmbedTexts, embedding_pb2.EmbedTextsRequest(texts=[""]))
    assert client.embed_texts(["a person walks"]).shape == (1, 256)


def test_deadline_is_honoured_and_loop_stays_free(start_server, slow_repo, features):
    server = start_server(model_repository=slow_repo)
    with MotionRetrievalClient(server.target, timeout=0.05) as client:
        # The batch (>= 0.5 s even on an idle fast CPU) outlives the 50 ms deadline: DEADLINE_EXCEEDED, not a hang.
        with pytest.raises(grpc.RpcError) as caught:
            client.embed_motions([features(200)])
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    with MotionRetrievalClient(server.target, timeout=30) as client:
        results = {}
        worker = threading.Thread(target=lambda: results.update(v=client.embed_motions([features(200)])))
        worker.start()
        # While the batch runs on the encoder thread, health and text calls are answered.
        assert _health(server.target) == "SERVING"
        assert client.embed_texts(["a person walks"]).shape == (1, 256)
        worker.join(30)
        assert results["v"].shape == (1, 256)


def test_missing_model_files_fail_startup_with_export_hint(start_server, tiny_repo, tmp_path):
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(tiny_repo, repo)
    (repo / "text_encoder" / "1" / "model.pt").unlink()
    server = start_server(wait_ready=False, model_repository=repo)
    with pytest.raises(ConfigError, match=r"model\.pt: missing from the model repository.*motion-retrieval export"):
        server.run(server.server.wait_ready())
    assert _health(server.target) == "NOT_SERVING"
    with MotionRetrievalClient(server.target) as client, pytest.raises(grpc.RpcError) as caught:
        client._embedding.EmbedTexts(embedding_pb2.EmbedTextsRequest(texts=["walk"]), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert caught.value.details().startswith("the model failed to load: ")


def test_tensor_shape_product_mismatch_on_large_declared_shape(stub):
    """A shape promising far more data than sent is refused without allocating it."""
    tensor = common_pb2.FloatTensor(shape=[2**31, 263], data=b"")
    request = embedding_pb2.EmbedMotionsRequest(motions=[common_pb2.Motion(features=common_pb2.FeatureMotion(
        features=tensor))])
    error = _status(stub.EmbedMotions, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "motions[0].features" in error.details()

