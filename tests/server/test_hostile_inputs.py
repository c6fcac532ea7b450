"""Hostile and malformed client input over real gRPC (issue 11, items 3, 4, 6): every case answers with the status
code that fits (INVALID_ARGUMENT naming the field, NOT_FOUND, RESOURCE_EXHAUSTED), never UNKNOWN or INTERNAL, and
the service keeps serving. Non-finite outputs are never returned or stored."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import torch
from torch import nn

from motion_retrieval_server.api import common_pb2, embedding_pb2, embedding_pb2_grpc, search_pb2, search_pb2_grpc
from motion_retrieval_server.client import MotionRetrievalClient, features_message, joints_message

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NEVER_FOR_CLIENT_INPUT = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}


def _raw_features(shape, data: bytes) -> common_pb2.Motion:
    return common_pb2.Motion(features=common_pb2.FeatureMotion(features=common_pb2.FloatTensor(shape=shape, data=data)))


def _raw_joints(shape, data: bytes, skeleton="smpl22", fps=20.0) -> common_pb2.Motion:
    tensor = common_pb2.FloatTensor(shape=shape, data=data)
    return common_pb2.Motion(joints=common_pb2.JointsMotion(joints=tensor, skeleton=skeleton, fps=fps))


def _features(frames=30, value=None, at=None):
    array = np.random.default_rng(frames).standard_normal((frames, 263)).astype(np.float32)
    if at is not None:
        array[at] = value
    return array


def _joints(frames=30, joints=22, value=None, at=None):
    array = np.random.default_rng(frames).standard_normal((frames, joints, 3)).astype(np.float32) * 0.3
    if at is not None:
        array[at] = value
    return array


MOTION_CASES = {
    # name: (motion, expected status, text the details must contain)
    "no kind": (common_pb2.Motion(), INVALID, "motions[0]: is empty; set either features or joints"),
    "rank 1": (_raw_features([263], b"\0" * 1052), INVALID, "features.shape: expected 2 dimensions"),
    "rank 5": (_raw_features([1, 1, 1, 1, 263], b"\0" * 1052), INVALID, "expected 2 dimensions"),
    "no shape": (_raw_features([], b""), INVALID, "features.shape: is empty"),
    "zero frames": (_raw_features([0, 263], b""), INVALID, "every axis needs at least one element"),
    "bytes short": (_raw_features([30, 263], b"\0" * 12), INVALID, "features.data: holds 12 bytes"),
    "overflowing shape": (_raw_features([2**32 - 1, 2**32 - 1], b"\0" * 8), INVALID, "needs 73786976"),
    "joints overflowing shape": (_raw_joints([2**31, 2**31, 2**31], b"\0" * 12), INVALID, "joints.joints.data"),
    "262 features": (features_message(np.zeros((30, 262), np.float32)), INVALID, "expected (T, 263)"),
    "nan": (features_message(_features(at=(3, 4), value=np.nan)), INVALID, "NaN or inf (first at frame 3, feature 4)"),
    "inf": (features_message(_features(at=(0, 0), value=np.inf)), INVALID, "NaN or inf"),
    "1e20": (features_message(_features(at=(5, 9), value=1e20)), INVALID, "holds 1e+20 at frame 5, feature 9"),
    "3e38": (features_message(_features(at=(1, 1), value=3e38)), INVALID, "values beyond 1e+06"),
    "too long": (features_message(np.zeros((601, 263), np.float32)), INVALID, "the limit is 600"),
    "one frame": (features_message(np.zeros((1, 263), np.float32)), INVALID, "has 1 frames, at least 2"),
    "unknown skeleton": (joints_message(_joints(), "smpl22'; drop", 20.0), INVALID, "unknown skeleton"),
    "wrong joint count": (joints_message(_joints(joints=21), "smpl22", 20.0), INVALID, "expected (T, 22, 3)"),
    "fps 0": (joints_message(_joints(), "smpl22", 0.0), INVALID, "joints.fps: must be a finite positive"),
    "fps negative": (joints_message(_joints(), "smpl22", -20.0), INVALID, "joints.fps"),
    "fps nan": (joints_message(_joints(), "smpl22", float("nan")), INVALID, "joints.fps"),
    "fps inf": (joints_message(_joints(), "smpl22", float("inf")), INVALID, "joints.fps"),
    "fps 1e-30": (joints_message(_joints(), "smpl22", 1e-30), INVALID, "frames at 20 fps, the limit is 600"),
    # A ~1 MB take at 0.2 fps would be 399,901 frames at 20 fps (19 s of work and 3.2 GB in the old service).
    "fps 0.2, 1 MB": (joints_message(_joints(frames=4000), "smpl22", 0.2), INVALID, "the limit is 600"),
    "too short at 20 fps": (joints_message(_joints(frames=3), "smpl22", 120.0), INVALID, "motion is too short"),
    "joints nan": (joints_message(_joints(at=(2, 5, 1), value=np.nan), "smpl22", 20.0), INVALID, "NaN or inf"),
    "joints 3e38": (joints_message(_joints(at=(2, 5, 1), value=3e38), "kit21", 20.0), INVALID, "expected (T, 21"),
    "kit joints 3e38": (joints_message(_joints(joints=21, at=(2, 5, 1), value=3e38), "kit21", 20.0), INVALID,
                        "kit21 positions are millimetres"),
    "degenerate pose": (joints_message(np.zeros((30, 22, 3), np.float32), "smpl22", 20.0), INVALID, "motions[0]"),
}


def _status(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture(scope="module")
def embedding_stub(torchscript_server):
    with grpc.insecure_channel(torchscript_server.target) as channel:
        yield embedding_pb2_grpc.EmbeddingServiceStub(channel)


@pytest.mark.parametrize("case", list(MOTION_CASES))
def test_hostile_motions_are_invalid_arguments_naming_the_field(embedding_stub, case):
    motion, code, text = MOTION_CASES[case]
    error = _status(embedding_stub.EmbedMotions, embedding_pb2.EmbedMotionsRequest(motions=[motion]), timeout=60)
    assert error.code() == code, (case, error.code(), error.details())
    assert text in error.details(), (case, error.details())


@pytest.mark.parametrize(("texts", "text"), [
    ([], "texts: is empty"), (["ok"] * 9, "texts: has 9 items, the limit is 8"),
    (["walk", " \t\n"], "texts[1]: is empty"),
    (["x" * 201], "texts[0]: has 201 characters, the limit is 200"),
])
def test_hostile_texts(embedding_stub, texts, text):
    error = _status(embedding_stub.EmbedTexts, embedding_pb2.EmbedTextsRequest(texts=texts), timeout=30)
    assert error.code() == INVALID and text in error.details()


@pytest.mark.parametrize("payload", [b"\x0a\x02\xff\xfe", b"\xff\xff\xff\xff\xff", b"\x0a\x80\x80\x80\x80\x10"])
def test_undecodable_request_bytes(torchscript_server, payload):
    with grpc.insecure_channel(torchscript_server.target) as channel:
        for method in ("/motion_retrieval.v1.EmbeddingService/EmbedTexts",
                       "/motion_retrieval.v1.EmbeddingService/EmbedMotions"):
            raw = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            error = _status(raw, payload, timeout=10)
            assert error.code() == INVALID and "request: not a valid motion_retrieval.v1." in error.details()


def test_the_service_still_serves_after_the_hostile_inputs(embedding_stub, torchscript_server):
    with MotionRetrievalClient(torchscript_server.target) as client:
        assert client.embed_texts(["walk"]).shape == (1, 256)
        assert client.embed_motions([_features()]).shape == (1, 256)


# -------------------------------------------------------------------------------------------- search and ingest
@pytest.fixture(scope="module")
def search_stub(search_server):
    with MotionRetrievalClient(search_server.target, timeout=60) as client:
        client.ingest([{"id": "seed", "dataset": "test", "features": _features(), "captions": ["a person walks"]}])
    with grpc.insecure_channel(search_server.target) as channel:
        yield search_pb2_grpc.SearchServiceStub(channel)


@pytest.mark.parametrize("motion_id", ["x\\", "x\\\\", "' or 1==1 or '", '" or id != "', "A" * 32, "0" * 31,
                                       "0" * 33, "é" * 32, "x" * 100_000, "id\x00null"])
def test_hostile_motion_ids(search_stub, motion_id):
    error = _status(search_stub.SimilarMotions, search_pb2.SimilarMotionsRequest(motion_id=motion_id), timeout=30)
    assert error.code() == INVALID and error.details().startswith("motion_id: "), error.details()
    error = _status(search_stub.DeleteMotions, search_pb2.DeleteMotionsRequest(ids=["0" * 32, motion_id]), timeout=30)
    assert error.code() == INVALID and error.details().startswith("ids[1]: "), error.details()


@pytest.mark.parametrize("name", ["x\\", 'a"b', "' or 1==1 or '", "name@0.0-10.0", "über", "x\\\\y"])
def test_delete_by_any_printable_name_is_answered(search_stub, name):
    response = search_stub.DeleteMotions(search_pb2.DeleteMotionsRequest(names=[name]), timeout=30)
    assert response.deleted == 0


@pytest.mark.parametrize(("names", "text"), [(["bad\x00name"], "names[0]: "), (["x" * 300], "the limit is 256"),
                                             ([""], "names[0]: is empty")])
def test_hostile_names(search_stub, names, text):
    error = _status(search_stub.DeleteMotions, search_pb2.DeleteMotionsRequest(names=names), timeout=30)
    assert error.code() == INVALID and text in error.details()


@pytest.mark.parametrize("request_", [
    search_pb2.SearchMotionsRequest(text="walk", filter=search_pb2.MotionFilter(dataset='x" or 1==1 or "')),
    search_pb2.SearchMotionsRequest(text="walk", filter=search_pb2.MotionFilter(tags=["a\\"])),
    search_pb2.SearchMotionsRequest(text="walk", filter=search_pb2.MotionFilter(min_duration=float("nan"))),
    search_pb2.SearchMotionsRequest(text="walk", filter=search_pb2.MotionFilter(source_prefix="\x00")),
    search_pb2.SearchMotionsRequest(text="walk", top_k=10**6),
    search_pb2.SearchMotionsRequest(text=""),
])
def test_hostile_searches(search_stub, request_):
    error = _status(search_stub.SearchMotions, request_, timeout=30)
    assert error.code() == INVALID, error.details()


def test_hostile_ingest_items_fail_alone(search_stub, search_server):
    good = {"id": "good-1", "dataset": "test", "features": _features(40), "captions": ["a person jumps"]}
    items = [
        good,
        {"id": "", "features": _features()},
        {"id": "ctl\x07", "features": _features()},
        {"id": "nan", "features": _features(at=(1, 2), value=np.nan)},
        {"id": "huge", "features": _features(at=(1, 2), value=3e38)},
        {"id": "slow-fps", "joints": _joints(frames=500), "skeleton": "smpl22", "fps": 0.2},
        {"id": "x\\", "dataset": "test", "features": _features(41), "captions": ["a person bows"]},  # a fine id
    ]
    with MotionRetrievalClient(search_server.target, timeout=60) as client:
        summary = client.ingest(items)
    assert (summary["received"], summary["accepted"], summary["failed"]) == (7, 2, 5), summary
    assert {e["index"] for e in summary["errors"]} == {1, 2, 3, 4, 5}
    assert all(e["message"].startswith(f"items[{e['index']}]") for e in summary["errors"])


# -------------------------------------------------------------------------------------------- non-finite outputs
class OverflowingEncoder(nn.Module):
    """Finite for ordinary motions, +inf for large-but-bounded features (as a real model can overflow)."""

    def __init__(self):
        super().__init__()
        self.mu = nn.Linear(263, 256)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = (x * mask.unsqueeze(-1).to(x.dtype)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)  # (B, 263)
        mu = self.mu(pooled) * torch.exp(pooled[:, :1] * 10.0)  # (B, 256): inf once feature 0 averages > ~9
        return mu, mu


@pytest.fixture(scope="module")
def overflow_server(tmp_path_factory):
    from tiny_models import export_tiny

    from motion_retrieval.export.towers import MotionTower
    from motion_retrieval.serving.repository import ServingOptions

    from .conftest import ServerThread, make_config  # noqa: TID252

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("overflow-repo")
    export_tiny(out, motion_tower=MotionTower(OverflowingEncoder(), np.zeros(263, np.float32),
                                              np.ones(263, np.float32)).eval(),
                created_from="tests/server", real_motions=[],
                options=ServingOptions(max_batch_size=16, preferred_batch_sizes=(16,), warmup_batch_sizes=(1,)))
    with ServerThread(make_config(out, milvus_uri=str(tmp_path_factory.mktemp("db") / "m.db"))) as server:
        yield server


def test_non_finite_embeddings_are_refused_by_index_and_never_stored(overflow_server):
    ordinary, overflowing = _features(), _features()
    overflowing[:, 0] = 100.0  # within every input bound; the model overflows on it
    with MotionRetrievalClient(overflow_server.target, timeout=60) as client:
        assert np.isfinite(client.embed_motions([ordinary])).all()
        error = _status(client.embed_motions, [ordinary, overflowing])
        assert error.code() == INVALID
        assert error.details().startswith("motions[1]: the model gives a non-finite embedding")
        error = _status(client.search_captions, overflowing)
        assert error.code() == INVALID and error.details().startswith("motion[0]: the model gives a non-finite")
        summary = client.ingest([{"id": "ok", "features": ordinary, "captions": ["a person walks"]},
                                 {"id": "overflow", "features": overflowing, "captions": ["a person runs"]}])
        assert (summary["accepted"], summary["failed"], summary["written"]) == (1, 1, 1), summary
        assert summary["errors"][0]["index"] == 1 and "non-finite embedding" in summary["errors"][0]["message"]
        assert client.collection_stats()["motion_rows"] == 1
        hits = client.similar_motions(ordinary, top_k=5)
        assert [h["name"] for h in hits] == ["ok"] and all(np.isfinite(h["score"]) for h in hits)
