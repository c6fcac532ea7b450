"""Schema, ingest, re-ingest, windows, the four searches, filters, delete, stats on Milvus Lite files."""

from __future__ import annotations

import numpy as np
import pytest
from milvus_testkit import ACTIONS, CORPUS, KeywordEmbedder, motion_features, npy_reader, write_motion

from motion_retrieval.errors import ConfigError, MotionDataError
from motion_retrieval_milvus import (
    CollectionMismatchError,
    IndexConfig,
    MilvusConfig,
    MilvusStoreError,
    MilvusUnavailableError,
    MotionEmbeddingFunction,
    MotionNotFoundError,
    MotionSearch,
    MotionStore,
    SearchFilter,
    collection_names,
    ingest_paths,
)
from motion_retrieval_milvus.schema import MODEL_ID_PROPERTY


def ingest(paths, store, embedder, **kw):
    kw.setdefault("progress", False)
    return ingest_paths([str(p) for p in paths], store, embedder, reader=npy_reader, **kw)


def test_collections_are_named_after_the_model_and_record_it(store):
    assert store.names == collection_names("test-model-v1")
    assert store.names.motions == "motions_test_model_v1"
    assert collection_names("m1", prefix="mocap-2024").captions == "mocap_2024_captions_m1"
    description = store.client.describe_collection(store.names.motions)
    assert description["properties"][MODEL_ID_PROPERTY] == "test-model-v1"
    assert description["enable_dynamic_field"] is False
    assert {f["name"] for f in description["fields"]} >= {"id", "embedding", "dataset", "source", "start_s", "end_s",
                                                           "duration_s", "fps", "num_frames", "captions", "tags",
                                                           "content_hash"}
    assert store.stats().index["kind"] == "FLAT"  # exact search on Lite by default


def test_a_collection_of_another_model_is_refused(lite_config, store):
    # "test-model_v1" sanitises to the same collection name as "test-model-v1": the recorded model id decides.
    with pytest.raises(CollectionMismatchError, match="built by model 'test-model-v1', not by 'test-model_v1'"):
        MotionStore.open(lite_config, "test-model_v1", store.dim)
    with pytest.raises(CollectionMismatchError, match="holds 16-d vectors, the model gives 8-d"):
        MotionStore.open(lite_config, "test-model-v1", 8)
    with pytest.raises(ConfigError, match="embedder is model 'other'"):
        MotionSearch(store, KeywordEmbedder(model_id="other"))
    with pytest.raises(MilvusStoreError, match="no collection 'motions_unseen' for model 'unseen'"):
        MotionStore.open(lite_config, "unseen", 16, create=False)


def test_ingest_windows_long_takes_and_reingest_changes_nothing(store, embedder, corpus_dir):
    summary = ingest([corpus_dir], store, embedder, batch_size=4)
    # 6 short clips + a 25 s take cut into 10 s windows every 5 s (0-10, 5-15, 10-20, 15-25).
    assert (summary.records, summary.windows, summary.ingested, summary.unchanged) == (7, 10, 10, 0)
    assert summary.captions == 10 and not summary.skipped and not summary.failed
    stats = store.stats()
    assert (stats.motions, stats.captions) == (10, 10)
    kick = sorted(store.get_motions(store.query_ids_of_name("kick_long")), key=lambda r: r["start_s"])
    assert [(round(r["start_s"], 3), round(r["end_s"], 3)) for r in kick] == [(0, 10), (5, 15), (10, 20), (15, 25)]
    assert all(r["num_frames"] == 200 and "window" in r["tags"] for r in kick)

    embedded_rows = embedder.calls["motion_rows"]
    again = ingest([corpus_dir], store, embedder, batch_size=4)
    assert (again.ingested, again.unchanged, again.captions) == (0, 10, 0)
    assert embedder.calls["motion_rows"] == embedded_rows  # nothing re-embedded
    assert (store.stats().motions, store.stats().captions) == (10, 10)


def test_changed_file_is_rewritten_in_place_with_its_new_captions(store, embedder, corpus_dir):
    ingest([corpus_dir], store, embedder)
    write_motion(corpus_dir, "walk_a", 0, 60, 0, ["a person strolls forward", "walking ahead"], ["locomotion"])
    summary = ingest([corpus_dir / "walk_a.npy"], store, embedder)
    assert (summary.ingested, summary.captions) == (1, 2)
    assert (store.stats().motions, store.stats().captions) == (10, 11)  # old caption gone, two new ones
    search = MotionSearch(store, embedder)
    assert search.text_to_captions("a person strolls forward", top_k=1)[0].text == "a person strolls forward"


def test_bad_files_are_skipped_and_reported(store, embedder, corpus_dir):
    (corpus_dir / "broken.npy").write_bytes(b"not numpy at all")
    np.save(corpus_dir / "wrong_shape.npy", np.zeros((10, 12), np.float32))
    nan = motion_features(0, 30, 99)
    nan[3, 5] = np.nan
    np.save(corpus_dir / "nan.npy", nan)
    summary = ingest([corpus_dir, corpus_dir / "missing.npy"], store, embedder)
    reasons = {(item.source.rsplit("/", 1)[-1], item.record_id): item.reason for item in summary.skipped}
    assert "not a .npy array" in reasons[("broken.npy", None)]
    assert "(T, 263)" in reasons[("wrong_shape.npy", None)]
    assert reasons[("nan.npy", "nan")] == "features contains NaN or inf (first at frame 3, feature 5)"
    assert reasons[("missing.npy", None)] == "no such file or folder"
    nan_item = next(item for item in summary.skipped if item.record_id == "nan")
    assert isinstance(nan_item.index, int) and nan_item.source == str(corpus_dir / "nan.npy")
    assert summary.ingested == 10


def test_four_searches(store, embedder, corpus_dir):
    ingest([corpus_dir], store, embedder)
    search = MotionSearch(store, embedder)

    hits = search.text_to_motions("a person walks", top_k=3)
    assert [h.name for h in hits[:2]] == ["walk_a", "walk_b"] or [h.name for h in hits[:2]] == ["walk_b", "walk_a"]
    assert hits[0].score >= hits[1].score >= hits[2].score and hits[0].score > 0.9
    assert hits[0].captions and hits[0].dataset == "synthetic" and hits[0].source.endswith(".npy")

    captions = search.text_to_captions("a man runs fast", top_k=2)
    assert captions[0].text == "a man runs fast" and captions[0].score == pytest.approx(1.0, abs=1e-5)
    run_row = store.get_motions([captions[0].motion_id])[0]
    assert run_row["name"] == "run_a"

    jump = motion_features(ACTIONS.index("jump"), 40, 3)  # the very jump_a motion
    assert search.motion_to_captions(jump, top_k=1)[0].text == "a person jumps up"
    similar = search.motion_to_motions(jump, top_k=1)
    assert similar[0].name == "jump_a" and similar[0].score == pytest.approx(1.0, abs=1e-5)

    walk_id = search.text_to_motions("walk", top_k=1)[0].id
    by_id = search.motion_to_motions(walk_id, top_k=2)
    assert walk_id not in [h.id for h in by_id] and by_id[0].name.startswith("walk")
    with pytest.raises(MotionNotFoundError, match="no motion with id 'feedbeef'") as caught:
        search.motion_to_motions("feedbeef")
    assert isinstance(caught.value, MilvusStoreError) and caught.value.motion_id == "feedbeef"
    with pytest.raises(MotionDataError, match=r"motion: expected 263 features per frame, got 3"):
        search.motion_to_captions(np.zeros((10, 3)))
    with pytest.raises(MotionDataError, match="empty"):
        search.text_to_motions("   ")


def test_filters_on_lite(store, embedder, corpus_dir):
    ingest([corpus_dir], store, embedder)
    search = MotionSearch(store, embedder)
    names = lambda hits: sorted({h.name.split("@")[0] for h in hits})  # noqa: E731

    assert names(search.text_to_motions("wave", 20, SearchFilter(dataset="kitml"))) == ["wave_kit"]
    both = SearchFilter(dataset=["kitml", "synthetic"])
    assert names(search.text_to_motions("walk", 20, both)) == sorted(c[0] for c in CORPUS)
    long_hits = search.text_to_motions("kick", 20, SearchFilter(min_duration=5.5))
    assert {h.name.split("@")[0] for h in long_hits} == {"walk_b", "kick_long"}
    assert names(search.text_to_motions("x", 20, SearchFilter(max_duration=2.5))) == ["jump_a", "wave_kit"]
    assert names(search.text_to_motions("x", 20, SearchFilter(tags_any=["fast", "slow"]))) == ["run_a", "walk_b"]
    assert names(search.text_to_motions("x", 20, SearchFilter(tags_all=["locomotion", "slow"]))) == ["walk_b"]
    assert len(search.text_to_motions("x", 20, SearchFilter(fps=20.0), every_window=True)) == 10  # every window
    assert len(search.text_to_motions("x", 20, SearchFilter(fps=20.0))) == len(CORPUS)  # one hit per take
    assert search.text_to_motions("x", 20, SearchFilter(fps=30.0)) == []
    prefix = str(corpus_dir / "walk_")
    assert names(search.text_to_motions("x", 20, SearchFilter(source_prefix=prefix))) == ["walk_a", "walk_b"]
    # An injection attempt through the free-text field matches nothing instead of everything.
    assert search.text_to_motions("x", 20, SearchFilter(source_prefix='" or source != "')) == []
    assert search.text_to_motions("x", 20, SearchFilter(source_prefix=str(corpus_dir) + '" or id != "')) == []
    by_id = search.motion_to_motions(search.text_to_motions("run", 1)[0].id, 5, SearchFilter(tags_any=["athletic"]))
    assert names(by_id) == ["jump_a", "kick_long"]


def test_delete_motions_and_sources(store, embedder, corpus_dir):
    ingest([corpus_dir], store, embedder)
    run_id = MotionSearch(store, embedder).text_to_motions("run", 1)[0].id
    assert store.delete_motions([run_id, "not-there"]) == 1
    assert (store.stats().motions, store.stats().captions) == (9, 9)
    assert store.delete_source(str(corpus_dir / "kick_long.npy")) == 4
    assert (store.stats().motions, store.stats().captions) == (5, 5)
    assert MotionSearch(store, embedder).text_to_captions("a man runs fast", 1)[0].text != "a man runs fast"
    summary = ingest([corpus_dir], store, embedder)  # re-ingest brings exactly the deleted rows back
    assert (summary.ingested, summary.unchanged) == (5, 5)
    assert store.stats().motions == 10


def test_hnsw_on_lite_and_persistence(tmp_path, embedder, corpus_dir):
    config = MilvusConfig(uri=str(tmp_path / "hnsw.db"))
    index = IndexConfig(kind="HNSW", hnsw_m=8, hnsw_ef_construction=64, search_ef=32)
    with MotionStore.open(config, embedder.model_id, embedder.dim, index=index) as store:
        ingest([corpus_dir], store, embedder)
        assert store.stats().index == {"kind": "HNSW", "metric": "COSINE", "M": 8, "efConstruction": 64, "ef": 32}
        first = MotionSearch(store, embedder).text_to_motions("jump", 1)[0].name
    assert first == "jump_a"


def test_embedding_function_is_pymilvus_model_shaped(embedder):
    function = MotionEmbeddingFunction(embedder)
    queries = function.encode_queries(["walk", "run"])
    documents = function.encode_documents([motion_features(0, 20, 1)])
    assert function.dim == 16 and len(queries) == 2 and queries[0].shape == (16,)
    assert float(queries[0] @ documents[0]) > 0.9 and float(queries[1] @ documents[0]) < 0.2
    assert np.allclose(function(["walk"])[0], queries[0])


def test_unreachable_and_bad_uris_name_the_uri():
    with pytest.raises(MilvusUnavailableError, match=r"Milvus at 'http://127.0.0.1:1' is unavailable.*running"):
        MotionStore.open(MilvusConfig(uri="http://127.0.0.1:1", timeout=2), "m", 4)
    with pytest.raises(MilvusUnavailableError, match="does not exist"):
        MotionStore.open(MilvusConfig(uri="/no/such/folder/x.db"), "m", 4)
    with pytest.raises(MilvusUnavailableError, match="must end in '.db'"):
        MotionStore.open(MilvusConfig(uri="./motions.sqlite"), "m", 4)
    assert MilvusConfig(uri="http://user:secret@host:19530").describe() == "http://***@host:19530"


def test_a_reader_failing_in_an_unplanned_way_fails_only_its_path(store, embedder, tmp_path):
    """One bad file never fails more than itself: a reader that raises something other than MotionDataError (a
    header asking for 2^40 elements, a pickled array, fps "twenty") ends its own path only, reported with the cause."""
    folders = []
    for name in ("before", "memory", "pickle", "fps", "after"):
        folder = tmp_path / name
        folder.mkdir()
        write_motion(folder, name, ACTIONS.index("walk"), 30, len(folders), [f"a person walks ({name})"])
        folders.append(folder)
    failures = {"memory": MemoryError("Unable to allocate 8.00 TiB for an array"),
                "pickle": ValueError("Object arrays cannot be loaded when allow_pickle=False"),
                "fps": TypeError("could not convert string to float: 'twenty'")}

    def reader(path, errors=None):
        if path.name in failures:
            raise failures[path.name]
        yield from npy_reader(path, errors=errors)

    summary = ingest_paths([str(f) for f in folders], store, embedder, reader=reader, progress=False)
    assert summary.ingested == 2 and {h.name for h in MotionSearch(store, embedder).text_to_motions("walk")} == {
        "before", "after"}
    reasons = {item.source.rsplit("/", 1)[-1]: item.reason for item in summary.skipped}
    assert reasons == {"memory": "unreadable (MemoryError: Unable to allocate 8.00 TiB for an array)",
                       "pickle": "unreadable (ValueError: Object arrays cannot be loaded when allow_pickle=False)",
                       "fps": "unreadable (TypeError: could not convert string to float: 'twenty')"}


def test_previews_read_only_files_the_plugin_ingested(store, embedder, corpus_dir, tmp_path):
    """A stored source is only a string (a gRPC client chooses it): previews open a file only for rows that
    ingest_paths read from it, and only if it is still a regular motion file."""
    import os
    from types import SimpleNamespace

    from motion_retrieval.data.record import Caption, MotionRecord
    from motion_retrieval_milvus.ingest import FILE_ORIGIN, ingest_records
    from motion_retrieval_milvus.previews import preview_source

    ingest([corpus_dir / "walk_a.npy"], store, embedder)
    secret = corpus_dir / "run_a.npy"  # a real motion file, but this row did not come from reading it
    record = MotionRecord(id="claimed", dataset="grpc", fps=20.0, features=motion_features(1, 30, 7), joints=None,
                          captions=[Caption("a man runs fast")], source=str(secret))
    ingest_records([record], store, embedder)
    search = MotionSearch(store, embedder)
    claimed = [h for h in search.text_to_motions("runs", top_k=5) if h.name == "claimed"]
    with pytest.raises(MotionDataError, match="no hit could be previewed: #1 .*not ingested from a file by this "
                                              "plugin"):
        search.render_previews(claimed, tmp_path / "claimed.png")
    assert not (tmp_path / "claimed.png").exists()
    walk = [h for h in search.text_to_motions("walks", top_k=5) if h.name == "walk_a"]
    assert search.render_previews(walk, tmp_path / "walk.png").stat().st_size > 1000

    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    for source, reason in [(str(fifo), "not a regular file"), ("relative/walk.npy", "not an absolute path"),
                           ("/etc/passwd", "not an absolute path of a motion file"),
                           (str(tmp_path / "gone.npy"), "cannot be read")]:
        with pytest.raises(MotionDataError, match=reason):
            preview_source(SimpleNamespace(id="x", source=source), FILE_ORIGIN + "0" * 32)


def test_caption_searches_give_each_text_once_fetching_past_copies(store, embedder, tmp_path):
    # 12 jumps share one sentence (one of them as "A person jumps up.", the same sentence): without collapsing, the
    # top 8 rows are all that sentence, so finding 3 distinct texts takes a second, larger fetch.
    for i in range(12):
        write_motion(tmp_path, f"jump_{i}", ACTIONS.index("jump"), 30, 100 + i,
                     ["A person jumps up." if i == 5 else "a person jumps up"])
    write_motion(tmp_path, "jump_high", ACTIONS.index("jump"), 30, 200, ["a person jumps up high"])
    write_motion(tmp_path, "walk", ACTIONS.index("walk"), 30, 201, ["a person walks"])
    ingest([tmp_path], store, embedder)
    search = MotionSearch(store, embedder)
    jump = motion_features(ACTIONS.index("jump"), 30, 100)

    rows = search.motion_to_captions(jump, top_k=8, distinct=False)
    assert [h.text for h in rows] == ["a person jumps up"] * 8

    hits = search.motion_to_captions(jump, top_k=3)
    assert [h.text for h in hits] == ["a person jumps up", "a person jumps up high", "a person walks"]
    assert hits[0].score == rows[0].score and hits[0].score >= hits[1].score >= hits[2].score
    assert [h.text for h in search.motion_to_captions(jump, top_k=10)] == [h.text for h in hits]  # all there is
    everything = search.motion_to_captions(jump, top_k=20, distinct=False)
    assert len(everything) == 14 and "A person jumps up." in {h.text for h in everything}
