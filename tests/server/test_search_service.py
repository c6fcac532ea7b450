"""SearchService over a real Milvus Lite file: streaming ingest (idempotent, per-item errors), the three searches
with typed filters, delete, stats — through the gRPC client."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from motion_retrieval_server.client import MotionRetrievalClient


def _record(features, id, dataset="humanml3d", captions=("a person walks",), tags=(), source=""):
    return {"id": id, "dataset": dataset, "features": features, "captions": list(captions), "tags": list(tags),
            "source": source or f"/data/{dataset}/{id}.npy"}


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(3)

    def motion(frames):
        return rng.standard_normal((frames, 263)).astype(np.float32)

    return [
        _record(motion(60), "walk1", captions=["a person walks forward", "someone strolls"], tags=["locomotion"]),
        _record(motion(120), "jump1", captions=["a person jumps twice"], tags=["jump"]),
        _record(motion(80), "kick1", dataset="kitml", captions=["a man kicks"], tags=["kick", "martial"]),
        _record(motion(500), "long1", dataset="bvh", captions=["a long dance"], tags=["dance"]),  # 25 s: windows
    ]


@pytest.fixture(scope="module")
def ingested(search_server, corpus):
    with MotionRetrievalClient(search_server.target, timeout=120) as client:
        return client.ingest(corpus)


def test_ingest_summary(ingested):
    assert ingested["received"] == 4 and ingested["accepted"] == 4 and ingested["failed"] == 0
    assert ingested["windows"] > 4  # the 25 s take became overlapping windows
    assert ingested["written"] == ingested["windows"] and ingested["unchanged"] == 0
    assert ingested["caption_rows"] >= 5


def test_reingest_is_a_no_op_and_bad_items_are_reported_by_index(search_server, corpus, ingested):
    nan = corpus[0]["features"].copy()
    nan[5, 9] = np.inf
    stream = [corpus[0], _record(nan, "broken"), corpus[1], {**_record(corpus[1]["features"], ""), "id": ""}]
    with MotionRetrievalClient(search_server.target, timeout=120) as client:
        summary = client.ingest(stream)
        stats = client.collection_stats()
    assert (summary["received"], summary["accepted"], summary["failed"]) == (4, 2, 2)
    assert summary["written"] == 0 and summary["unchanged"] == 2
    errors = {e["index"]: e for e in summary["errors"]}
    assert errors[1]["id"] == "broken"
    assert errors[1]["message"] == "items[1].motion.features: contains NaN or inf (first at frame 5, feature 9)"
    assert errors[3]["message"].startswith("items[3].id: is empty")
    assert stats["motion_rows"] == ingested["windows"]


def test_search_motions_scores_are_cosines_in_order(search_server, ingested, corpus, embedder):
    query = "a person walks forward"
    with MotionRetrievalClient(search_server.target) as client:
        hits = client.search_motions(query, top_k=5, filters={"dataset": "humanml3d"})
    text = embedder.embed_texts([query])[0]  # (256,)
    motions = embedder.embed_motions([corpus[0]["features"], corpus[1]["features"]])  # walk1, jump1
    expected = sorted(zip(motions @ text, ["walk1", "jump1"]), reverse=True)
    assert [h["name"] for h in hits] == [name for _, name in expected]
    np.testing.assert_allclose([h["score"] for h in hits], [score for score, _ in expected], atol=1e-4)


def test_similar_motions_finds_the_same_motion_first(search_server, ingested, corpus):
    with MotionRetrievalClient(search_server.target) as client:
        hits = client.similar_motions(corpus[1]["features"], top_k=2)
        assert hits[0]["name"] == "jump1" and hits[0]["score"] > 0.999
        assert hits[0]["dataset"] == "humanml3d" and hits[0]["captions"] == ["a person jumps twice"]
        by_id = client.similar_motions(motion_id=hits[0]["id"], top_k=3)
    assert hits[0]["id"] not in [h["id"] for h in by_id]  # the query row itself is left out


def test_search_captions_ranks_stored_captions_by_cosine(search_server, ingested, corpus, embedder):
    with MotionRetrievalClient(search_server.target) as client:
        hits = client.search_captions(corpus[2]["features"], top_k=3)
        every = client.search_captions(corpus[2]["features"], top_k=10)
        rows = client.search_captions(corpus[2]["features"], top_k=ingested["caption_rows"], keep_duplicates=True)
    captions = sorted({c for record in corpus for c in record["captions"]})
    motion = embedder.embed_motions([corpus[2]["features"]])[0]
    score = dict(zip(captions, embedder.embed_texts(captions) @ motion))  # caption -> cosine to the motion
    got = [h["score"] for h in hits]
    assert len(hits) == 3 and got == sorted(got, reverse=True)
    np.testing.assert_allclose(got, [score[h["text"]] for h in hits], atol=1e-4)
    assert hits[0]["text"] == max(captions, key=score.get)
    assert all(score[c] <= got[-1] + 1e-4 for c in captions if c not in {h["text"] for h in hits})
    # Each text once by default, although "a long dance" is stored once per window of the 25 s take.
    assert sorted(h["text"] for h in every) == captions
    assert [h["text"] for h in every] == sorted(captions, key=score.get, reverse=True)
    assert len(rows) == ingested["caption_rows"] and [h["text"] for h in rows].count("a long dance") > 1


def test_typed_filters(search_server, ingested):
    with MotionRetrievalClient(search_server.target) as client:
        kit = client.search_motions("kick", top_k=10, filters={"dataset": "kitml"})
        assert [h["name"] for h in kit] == ["kick1"]
        tagged = client.search_motions("kick", top_k=10, filters={"tags": ["kick", "martial"]})
        assert [h["name"] for h in tagged] == ["kick1"]
        any_tag = client.search_motions("x", top_k=10, filters={"tags_any": ["jump", "kick"]})
        assert sorted(h["name"] for h in any_tag) == ["jump1", "kick1"]
        long = client.search_motions("dance", top_k=20, filters={"min_duration": 7.0})
        assert long and all(h["dataset"] == "bvh" and h["duration_s"] >= 7.0 for h in long)
        prefix = client.search_motions("walk", top_k=10, filters={"source_prefix": "/data/humanml3d/"})
        assert sorted(h["name"] for h in prefix) == ["jump1", "walk1"]
        with pytest.raises(grpc.RpcError) as caught:
            client.search_motions("walk", filters={"dataset": 'x" or id != "'})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("filter: ")


def test_bad_search_requests(search_server, ingested):
    with MotionRetrievalClient(search_server.target) as client:
        for call, code, detail in [
            (lambda: client.search_motions("", top_k=3), grpc.StatusCode.INVALID_ARGUMENT, "text: is empty"),
            (lambda: client.search_motions("walk", top_k=5000), grpc.StatusCode.INVALID_ARGUMENT,
             "top_k: is 5000, the limit is 1000 (Limits.max_top_k)"),
            (lambda: client.similar_motions(motion_id="0" * 32), grpc.StatusCode.NOT_FOUND,
             f"motion_id: no motion with id {'0' * 32!r} in collection 'motions_{ingested_model(client)}'"),
            (lambda: client.similar_motions(motion_id="nope"), grpc.StatusCode.INVALID_ARGUMENT,
             "motion_id: 'nope' is not a motion row id (32 lowercase hex characters, as MotionHit.id)"),
            (lambda: client.delete([]), grpc.StatusCode.INVALID_ARGUMENT, "ids: is empty; give ids or names to delete"),
        ]:
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == code
            if detail:
                assert caught.value.details() == detail


def ingested_model(client) -> str:
    return client.model_id.replace("-", "_")


def test_delete_by_name_removes_every_window(search_server, ingested, corpus):
    with MotionRetrievalClient(search_server.target, timeout=60) as client:
        before = client.collection_stats()
        long_rows = len(client.search_motions("dance", top_k=50, filters={"dataset": "bvh"}, every_window=True))
        assert client.delete(names=["long1"]) == long_rows
        after = client.collection_stats()
        assert after["motion_rows"] == before["motion_rows"] - long_rows
        assert client.search_motions("dance", top_k=50, filters={"dataset": "bvh"}) == []
        # Put it back for the tests that follow (module-scoped collection).
        assert client.ingest([corpus[3]])["written"] == long_rows
