"""The asyncio client against the real service over loopback: the blocking client's answers, the same retry policy,
errors as gRPC status codes, ingest from an async generator."""

from __future__ import annotations

import asyncio
import json

import grpc
import numpy as np
import pytest

from motion_retrieval_server.aio_client import AsyncMotionRetrievalClient
from motion_retrieval_server.client import MotionRetrievalClient
from motion_retrieval_server.retry import RetryPolicy

CAPTIONS = ["a person walks forward", "someone jumps twice", "waving with the left hand"]


def test_async_embeddings_equal_the_blocking_clients(torchscript_server, features, smpl_joints):
    motions = [features(40, 1), features(200, 2), features(260, 3)]

    async def run():
        async with AsyncMotionRetrievalClient(torchscript_server.target) as client:
            texts, moved, joints, info, empty = await asyncio.gather(
                client.embed_texts(CAPTIONS), client.embed_motions(motions), client.embed_joints(smpl_joints),
                client.model_info(), client.embed_texts([]))
            return texts, moved, joints, info, empty, await client.model_id(), await client.dim()

    texts, moved, joints, info, empty, model_id, dim = asyncio.run(run())
    with MotionRetrievalClient(torchscript_server.target) as client:
        np.testing.assert_array_equal(texts, client.embed_texts(CAPTIONS))
        np.testing.assert_array_equal(moved, client.embed_motions(motions))
        np.testing.assert_array_equal(joints, client.embed_joints(smpl_joints))
        assert info == client.model_info() and (model_id, dim) == (client.model_id, client.dim)
    assert texts.shape == (3, dim) and texts.dtype == np.float32 and empty.shape == (0, dim)


def test_async_batches_beyond_the_server_limit_are_split(torchscript_server):
    texts = [f"a person walks {i} steps" for i in range(19)]  # the test server takes 8 per request

    async def run():
        async with AsyncMotionRetrievalClient(torchscript_server.target) as client:
            return await client.embed_texts(texts)

    with MotionRetrievalClient(torchscript_server.target) as client:
        np.testing.assert_allclose(asyncio.run(run()), client.embed_texts(texts), atol=1e-6)


def test_async_errors_are_status_codes_naming_the_problem(torchscript_server):
    async def run():
        async with AsyncMotionRetrievalClient(torchscript_server.target) as client:
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await client.embed_texts(["fine", ""])
            with pytest.raises(TypeError, match="sequence of texts"):
                await client.embed_texts("one string")
            return bad.value

    error = asyncio.run(run())
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "texts[1]" in error.details()


def test_async_search_ingest_delete_and_stats(search_server, features):
    async def records():
        for i, caption in enumerate(["a person walks forward", "a person jumps twice"]):
            yield {"id": f"async{i}", "dataset": "humanml3d", "features": features(60, 10 + i), "captions": [caption],
                   "tags": ["async"], "source": f"/data/async{i}.npy"}

    async def run():
        async with AsyncMotionRetrievalClient(search_server.target, timeout=120) as client:
            summary = await client.ingest(records())
            hits = await client.search_motions("a person jumps", top_k=5, filters={"tags": ["async"]})
            captions = await client.search_captions(features(60, 11), top_k=2)
            similar = await client.similar_motions(motion_id=hits[0]["id"], top_k=2, filters={"tags": ["async"]})
            stats = await client.collection_stats()
            deleted = await client.delete(names=["async0", "async1"])
            after = await client.search_motions("a person jumps", top_k=5, filters={"tags": ["async"]})
            return summary, hits, captions, similar, stats, deleted, after

    summary, hits, captions, similar, stats, deleted, after = asyncio.run(run())
    assert summary["accepted"] == 2 and summary["failed"] == 0
    with MotionRetrievalClient(search_server.target) as client:
        assert client.search_motions("a person jumps", top_k=5, filters={"tags": ["async"]}) == after == []
    assert {h["name"] for h in hits} == {"async0", "async1"}
    assert {c["text"] for c in captions} == {"a person walks forward", "a person jumps twice"}
    assert similar and {h["name"] for h in similar} <= {"async0", "async1"}
    assert stats["motion_rows"] >= 2 and deleted == 2


def test_both_clients_carry_the_same_retry_policy(torchscript_server):
    """The policy is the channel's service config; with retry=None the channel has retries off."""
    policy = RetryPolicy(max_attempts=4, initial_backoff_s=0.05)

    async def run():
        async with AsyncMotionRetrievalClient(torchscript_server.target, retry=policy) as client:
            assert client.retry == policy
            return await client.embed_texts(["walk"])

    assert asyncio.run(run()).shape[0] == 1
    from motion_retrieval_server.client import channel_arguments

    options = dict(channel_arguments(policy, None))
    assert json.loads(options["grpc.service_config"]) == policy.service_config()
    assert dict(channel_arguments(None, None))["grpc.enable_retries"] == 0
    with MotionRetrievalClient(torchscript_server.target) as client:
        assert client.retry == RetryPolicy()  # on by default
