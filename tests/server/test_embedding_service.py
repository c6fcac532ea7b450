"""EmbeddingService end to end over loopback gRPC with the in-process TorchScript backend."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from motion_retrieval.features import joints_to_features
from motion_retrieval_server.api import embedding_pb2, embedding_pb2_grpc

CAPTIONS = ["a person walks forward and turns around", "someone jumps twice", "waving with the right hand"]


def test_model_info_describes_model_and_limits(client, embedder):
    info = client.model_info()
    assert info["model_id"] == embedder.model_id
    assert info["dim"] == 256
    assert info["backend"] == "torchscript"
    assert set(info["skeletons"]) == {"smpl22", "kit21", "h36m17"}
    assert info["feature_dim"] == 263 and info["fps"] == 20.0
    limits = info["limits"]
    assert limits["max_batch_size"] == 8
    assert limits["encoder_frames"] == 200
    assert limits["max_text_tokens"] == 32
    assert limits["max_text_chars"] == 200
    assert limits["max_message_bytes"] == 4 * 1024 * 1024


def test_text_embeddings_match_in_process_model(client, embedder):
    vectors = client.embed_texts(CAPTIONS)
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, embedder.embed_texts(CAPTIONS), atol=1e-6)


def test_motion_embeddings_match_in_process_model(client, embedder, features):
    motions = [features(40, 1), features(200, 2), features(350, 3)]  # short, full, resampled to 200
    vectors = client.embed_motions(motions)
    assert vectors.shape == (3, 256)
    np.testing.assert_allclose(vectors, embedder.embed_motions(motions), atol=1e-6)


def test_embedding_does_not_depend_on_batch_neighbours(client, features):
    alone = client.embed_motions([features(60, 7)])
    together = client.embed_motions([features(200, 8), features(60, 7), features(10, 9)])
    np.testing.assert_allclose(alone[0], together[1], atol=1e-6)


def test_big_batches_are_chunked_by_the_client(client, embedder):
    texts = [f"a person walks {i} steps" for i in range(21)]  # server limit is 8 per request
    np.testing.assert_allclose(client.embed_texts(texts), embedder.embed_texts(texts), atol=1e-6)


def test_joints_are_converted_with_the_feature_pipeline(client, embedder, smpl_joints):
    joints = smpl_joints  # (170, 22, 3) real HumanML3D motion
    expected = embedder.embed_motions([joints_to_features(joints, fps=20.0, skeleton="smpl22")])
    np.testing.assert_allclose(client.embed_joints(joints, "smpl22", fps=20.0), expected, atol=1e-5)


def test_joints_at_another_frame_rate_are_resampled(client, smpl_joints):
    joints = smpl_joints
    at_20 = client.embed_joints(joints, "smpl22", fps=20.0)
    # The same take at 60 fps (every frame repeated 3 times is not a resampling test; interpolate instead).
    t = np.arange(len(joints))
    fine = np.linspace(0, len(joints) - 1, 3 * (len(joints) - 1) + 1)
    at_60 = np.stack([np.stack([np.interp(fine, t, joints[:, j, c]) for c in range(3)], -1) for j in range(22)], 1)
    vectors = client.embed_joints(at_60.astype(np.float32), "smpl22", fps=60.0)
    assert float(at_20[0] @ vectors[0]) > 0.99


def test_kit_joints_are_embedded_through_the_joint_map(client, embedder, kit_joints):
    from motion_retrieval.data.joint_input import skeleton_joints_to_features
    from motion_retrieval.serving.motions import SKELETONS

    expected = embedder.embed_motions([skeleton_joints_to_features(kit_joints, SKELETONS["kit21"], 12.5, "test")])
    np.testing.assert_allclose(client.embed_joints(kit_joints, "kit21", fps=12.5), expected, atol=1e-5)


def test_request_id_is_echoed(torchscript_server):
    with grpc.insecure_channel(torchscript_server.target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        _, call = stub.GetModelInfo.with_call(embedding_pb2.GetModelInfoRequest(),
                                              metadata=(("x-request-id", "req-42"),), timeout=10)
        assert ("x-request-id", "req-42") in tuple(call.initial_metadata())
        _, call = stub.GetModelInfo.with_call(embedding_pb2.GetModelInfoRequest(), timeout=10)
        generated = dict(call.initial_metadata())["x-request-id"]
        assert len(generated) == 32


@pytest.mark.parametrize("method", ["SearchMotions", "GetCollectionStats"])
def test_search_without_milvus_says_how_to_enable_it(torchscript_server, method):
    from motion_retrieval_server.api import search_pb2, search_pb2_grpc

    requests = {"SearchMotions": search_pb2.SearchMotionsRequest(text="walk"),
                "GetCollectionStats": search_pb2.GetCollectionStatsRequest()}
    with grpc.insecure_channel(torchscript_server.target) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            getattr(stub, method)(requests[method], timeout=10)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "--milvus" in caught.value.details()


def test_client_is_an_embedder_for_milvus_plugin(client, embedder, tmp_path):
    """milvus_plugin can ingest and search through the service: the client satisfies the Embedder protocol."""
    from motion_retrieval.data.record import Caption, MotionRecord
    from motion_retrieval.serving.embedding import Embedder
    from motion_retrieval_milvus.connection import MilvusConfig
    from motion_retrieval_milvus.ingest import ingest_records
    from motion_retrieval_milvus.search import MotionSearch
    from motion_retrieval_milvus.store import MotionStore

    assert isinstance(client, Embedder)
    assert (client.model_id, client.dim) == (embedder.model_id, embedder.dim)
    rng = np.random.default_rng(0)
    records = [MotionRecord(id=f"m{i}", dataset="test", fps=20.0, features=rng.normal(size=(50, 263)).astype("f4"),
                            joints=None, captions=[Caption(f"a person moves {i}")], source=f"/x/m{i}.npy")
               for i in range(3)]
    with MotionStore.open(MilvusConfig(uri=str(tmp_path / "c.db")), client.model_id, client.dim) as store:
        assert ingest_records(records, store, client).ingested == 3
        hits = MotionSearch(store, client).motion_to_motions(records[1].features, top_k=1)
    assert hits[0].name == "m1" and hits[0].score > 0.999


def smpl_to_h36m17(smpl: np.ndarray) -> np.ndarray:
    """Human3.6M's 17 joints (pose-estimator order) built from SMPL-22 joints, Y up, metres."""
    index = [0, 2, 5, 8, 1, 4, 7, 6, 12, 15, 15, 16, 18, 20, 17, 19, 21]
    h36m = smpl[:, index].copy()  # (T, 17, 3)
    h36m[:, 9] = 2 * smpl[:, 15] - smpl[:, 12]  # "Nose": the core puts SMPL's head halfway from thorax to nose
    h36m[:, 10] = smpl[:, 15] + np.array([0.0, 0.12, 0.0], dtype=np.float32)  # top of the head
    return h36m.astype(np.float32)


def test_h36m17_joints_are_embedded_through_the_core_joint_map(client, embedder, smpl_joints):
    """Contract 6: JointsMotion.skeleton "h36m17" goes through the core's H36M -> SMPL-22 map (missing joints
    interpolated, feet synthesized): the take embeds close to its SMPL-22 self, far from another motion."""
    from motion_retrieval.data.joint_input import skeleton_joints_to_features as joints_to_features
    from motion_retrieval.serving.motions import SKELETONS

    assert "h36m17" in client.model_info()["skeletons"]
    h36m = smpl_to_h36m17(smpl_joints)
    expected = embedder.embed_motions([joints_to_features(h36m, SKELETONS["h36m17"], 50.0, "test")])
    np.testing.assert_allclose(client.embed_joints(h36m, "h36m17", fps=50.0), expected, atol=1e-5)
    from_h36m = joints_to_features(h36m, SKELETONS["h36m17"], 20.0, "h36m")
    from_smpl = joints_to_features(smpl_joints, SKELETONS["smpl22"], 20.0, "smpl")
    reversed_take = joints_to_features(smpl_joints[::-1].copy(), SKELETONS["smpl22"], 20.0, "reversed")
    ric = slice(4, 67)
    error = np.abs(from_h36m[:, ric] - from_smpl[:, ric]).mean()
    assert error < 0.05  # metres: interpolated spine/collars and synthesized feet differ a little from SMPL's own
    assert np.abs(reversed_take[:, ric] - from_smpl[:, ric]).mean() > 3 * error


def test_a_model_file_swapped_under_the_same_id_stops_the_service_at_start_up(start_server, tiny_repo, other_repo,
                                                                              tmp_path):
    """Issue 11 item 8: another model's motion tower copied over model.pt (same motion_retrieval.json, so the same
    model id) is refused when the service loads it, with an error that names the file and what to do."""
    import shutil

    from motion_retrieval.errors import ConfigError

    swapped = tmp_path / "swapped"
    shutil.copytree(tiny_repo, swapped)
    shutil.copyfile(other_repo / "motion_encoder" / "1" / "model.pt", swapped / "motion_encoder" / "1" / "model.pt")
    with pytest.raises(ConfigError, match=r"motion_encoder/1/model.pt: its weights do not match model mr-\w+ .*"
                                          r"replaced or changed after export"):
        start_server(model_repository=swapped)
