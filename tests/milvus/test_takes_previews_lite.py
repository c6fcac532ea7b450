"""One hit per take, paging, stored previews and clips on a real Milvus Lite file.

Grouping is checked on both paths (Milvus Lite's grouping search, and the refetch-and-group fallback used for
servers without it) against a reference built from every window; pages must be disjoint and, joined, equal one
search of their total length. Previews: written at ingest, equal to the window's joints, removed by delete, filled
in for rows stored before the preview store was set. Clips: SMPL-22 BVH, joints .npy, and the source window of a
BVH take."""

from __future__ import annotations

import io

import numpy as np
import pytest
from milvus_testkit import KeywordEmbedder, motion_features

from motion_retrieval.data.bvh import parse_bvh
from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.features import features_to_joints
from motion_retrieval_milvus import IndexConfig, MilvusConfig, MotionSearch, MotionStore
from motion_retrieval_milvus.clips import ClipUnavailableError, PreviewNotFoundError, motion_clip, stored_preview
from motion_retrieval_milvus.ingest import ingest_paths, ingest_records
from motion_retrieval_milvus.preview_store import FilesystemPreviewStore, decode_preview, encode_preview
from motion_retrieval_milvus.search import best_per_take

TAKES = 12


def _take(i: int, frames: int, features: np.ndarray | None = None) -> MotionRecord:
    return MotionRecord(id=f"take{i:02d}", dataset="mocap", fps=20.0,
                        features=features if features is not None else motion_features(0, frames, seed=i),
                        joints=None, captions=[Caption(f"a person walks, take {i}")],
                        source=f"/data/takes/take{i:02d}.npy", tags=["walk"])


@pytest.fixture()
def real_features(humanml3d_sample) -> np.ndarray:
    return np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy").astype(np.float32)  # (169, 263)


@pytest.fixture()
def opened(tmp_path, real_features):
    """A Lite store with a preview folder holding 12 takes: two of 60 s (11 windows each), one real HumanML3D
    motion tiled to 30 s, the rest short."""
    embedder = KeywordEmbedder()
    previews = FilesystemPreviewStore(tmp_path / "previews")
    store = MotionStore.open(MilvusConfig(uri=str(tmp_path / "m.db")), embedder.model_id, embedder.dim,
                             index=IndexConfig(), previews=previews)
    real_take = np.concatenate([real_features] * 4)[:600]  # (600, 263): 30 s
    records = [_take(i, 1200 if i in (3, 7) else 80 + 20 * i, real_take if i == 5 else None) for i in range(TAKES)]
    summary = ingest_records(records, store, embedder)
    assert summary.ingested == summary.windows > TAKES
    yield store, MotionSearch(store, embedder), records
    store.close()


def _ids(hits):
    return [h.id for h in hits]


@pytest.mark.parametrize("server_grouping", [True, False], ids=["grouping-search", "fallback"])
def test_one_hit_per_take_is_each_takes_best_window(opened, server_grouping, monkeypatch):
    store, search, _ = opened
    store.supports_grouping = server_grouping
    asked = []
    search_motions = store.search_motions
    monkeypatch.setattr(store, "search_motions", lambda *a, **kw: asked.append(kw.get("group_by")) or
                        search_motions(*a, **kw))
    windows = search.text_to_motions("walk", 200, every_window=True)
    assert len(windows) == store.count(store.names.motions)  # every window is a hit of its own
    assert len({h.source for h in windows}) == TAKES < len(windows)
    asked.clear()
    hits = search.text_to_motions("walk", 50)
    # Milvus groups first where it can; rows are grouped here without it, or when it answers short (50 > 12).
    assert asked[0] == ("source" if server_grouping else None) and set(asked[1:]) <= {None}
    assert len(hits) == TAKES and len({h.source for h in hits}) == TAKES
    reference = [w for i, w in enumerate(windows) if w.source not in {x.source for x in windows[:i]}]
    assert _ids(hits) == _ids(reference)  # the best window of each take, takes in score order
    long_take = [h for h in hits if h.name.startswith("take03")]
    assert len(long_take) == 1 and long_take[0].score == max(w.score for w in windows if w.name.startswith("take03"))


@pytest.mark.parametrize("every_window", [False, True], ids=["per-take", "every-window"])
@pytest.mark.parametrize("server_grouping", [True, False], ids=["grouping-search", "fallback"])
def test_pages_are_disjoint_and_join_into_the_top_list(opened, server_grouping, every_window):
    store, search, _ = opened
    store.supports_grouping = server_grouping
    k = 3
    pages = [search.text_to_motions("walk", k, offset=page * k, every_window=every_window) for page in range(3)]
    joined = [h.id for page in pages for h in page]
    assert all(len(page) == k for page in pages)
    assert len(set(joined)) == 3 * k
    assert joined == _ids(search.text_to_motions("walk", 3 * k, every_window=every_window))
    past_the_end = search.text_to_motions("walk", k, offset=TAKES if not every_window else 500,
                                          every_window=every_window)
    assert past_the_end == []


def test_both_grouping_paths_agree_and_similar_leaves_out_the_query_take(opened):
    store, search, _ = opened
    store.supports_grouping = True
    served = search.text_to_motions("walk", TAKES)
    query = served[0]
    similar = search.motion_to_motions(query.id, 5)
    store.supports_grouping = False
    assert _ids(search.text_to_motions("walk", TAKES)) == _ids(served)
    assert _ids(search.motion_to_motions(query.id, 5)) == _ids(similar)
    assert query.source not in {h.source for h in similar} and len(similar) == 5
    windows = search.motion_to_motions(query.id, 5, every_window=True)
    assert query.id not in _ids(windows) and len(windows) == 5


def test_best_per_take_keeps_the_first_row_of_each_source():
    rows = [{"id": i, "entity": {"source": s}} for i, s in enumerate("aabcab")]
    assert [r["id"] for r in best_per_take(rows)] == [0, 2, 3]


def test_every_row_has_a_preview_of_its_window(opened, real_features):
    store, search, records = opened
    for hit in search.text_to_motions("walk", 200, every_window=True):
        preview = stored_preview(store, hit.id)
        assert preview.fps == 20.0 and preview.joints.shape == (hit.num_frames, 22, 3)
        assert (preview.name, preview.start_s, preview.end_s) == (hit.name, hit.start_s, hit.end_s)
        if hit.name.startswith("take05"):  # the real motion: the window's own joints, to float16's step
            first = int(round(hit.start_s * 20))
            window = np.concatenate([real_features] * 4)[:600][first:first + hit.num_frames]
            np.testing.assert_allclose(preview.joints, features_to_joints(window), atol=2e-3)
    assert preview.at_fps(10.0).joints.shape[0] == (hit.num_frames + 1) // 2


def test_the_stored_form_is_compact_and_round_trips(real_features):
    from motion_retrieval_milvus.preview_store import preview_of_features

    preview = preview_of_features("0" * 32, "x", 0.0, 10.0, np.concatenate([real_features] * 2)[:200])
    data = encode_preview(preview)
    assert len(data) < 200 * 22 * 3 * 2 + 200 * 3 * 4 + 1024  # float16 offsets + float32 root + framing
    back = decode_preview(data, "test")
    np.testing.assert_allclose(back.joints, preview.joints, atol=2e-3)
    with pytest.raises(Exception, match="not a stored preview"):
        decode_preview(b"garbage", "where")


def test_delete_removes_previews(opened):
    store, search, _ = opened
    ids = [h.id for h in search.text_to_motions("walk", 200, every_window=True) if h.name.startswith("take03")]
    assert store.previews.missing(ids) == set()
    assert store.delete_motions(ids) == len(ids)
    assert store.previews.missing(ids) == set(ids)
    with pytest.raises(PreviewNotFoundError, match="no stored preview"):
        stored_preview(store, ids[0])


def test_reingest_gives_rows_stored_without_previews_their_previews(tmp_path):
    embedder = KeywordEmbedder()
    config = MilvusConfig(uri=str(tmp_path / "m.db"))
    records = [_take(i, 300) for i in range(3)]
    with MotionStore.open(config, embedder.model_id, embedder.dim) as store:
        ingest_records(records, store, embedder)
        ids = [h.id for h in MotionSearch(store, embedder).text_to_motions("walk", 50, every_window=True)]
        with pytest.raises(PreviewNotFoundError, match="without a preview store"):
            stored_preview(store, ids[0])
    previews = FilesystemPreviewStore(tmp_path / "previews")
    with MotionStore.open(config, embedder.model_id, embedder.dim, previews=previews) as store:
        summary = ingest_records(records, store, embedder)
        assert summary.ingested == 0 and summary.unchanged == len(ids)  # nothing re-embedded or rewritten
        assert previews.missing(ids) == set()


def test_clips_in_every_format(opened):
    store, search, _ = opened
    hit = next(h for h in search.text_to_motions("walk", 50) if h.name.startswith("take05"))
    preview = stored_preview(store, hit.id)
    bvh = motion_clip(store, hit.id, "smpl22_bvh")
    assert bvh.media_type == "application/x-bvh" and bvh.filename.endswith(".bvh")
    assert bvh.filename.startswith("take05")
    path = store.previews.root / "clip.bvh"
    path.write_bytes(bvh.data)
    motion = parse_bvh(path)
    assert motion.fps == 20.0 and motion.num_frames == len(preview.joints) and len(motion.joints) == 22
    npy = motion_clip(store, hit.id, "joints_npy")
    assert npy.media_type == "application/x-npy"
    np.testing.assert_array_equal(np.load(io.BytesIO(npy.data)), preview.joints)
    with pytest.raises(ClipUnavailableError, match="not a BVH"):
        motion_clip(store, hit.id, "source_bvh")
    with pytest.raises(ValueError, match="unknown clip format"):
        motion_clip(store, hit.id, "fbx")
    with pytest.raises(ValueError, match="not a motion row id"):
        motion_clip(store, "../../etc/passwd", "smpl22_bvh")


def test_source_clip_of_a_bvh_take_keeps_its_rig_and_rate(tmp_path, cmu_bvh_dir):
    embedder = KeywordEmbedder()
    previews = FilesystemPreviewStore(tmp_path / "previews")
    with MotionStore.open(MilvusConfig(uri=str(tmp_path / "m.db")), embedder.model_id, embedder.dim,
                          previews=previews) as store:
        summary = ingest_paths([cmu_bvh_dir / "131_02.bvh"], store, embedder, progress=False)  # 10.4 s: 2 windows
        assert summary.ingested == 2
        hits = MotionSearch(store, embedder).text_to_motions("walk", 10, every_window=True)
        source = parse_bvh(cmu_bvh_dir / "131_02.bvh")
        for hit in hits:
            clip = motion_clip(store, hit.id, "source_bvh")
            assert clip.filename.endswith("_source.bvh")
            path = tmp_path / clip.filename
            path.write_bytes(clip.data)
            cut = parse_bvh(path)
            assert cut.names == source.names and cut.frame_time == source.frame_time
            first = int(round(hit.start_s * source.fps))
            assert cut.num_frames == int(round(hit.end_s * source.fps)) - first
            np.testing.assert_array_equal(cut.values, source.values[first:first + cut.num_frames])
            assert parse_bvh(_write(tmp_path, motion_clip(store, hit.id, "smpl22_bvh").data)).fps == 20.0


def test_source_clip_needs_file_provenance_or_the_source_root(tmp_path, cmu_bvh_dir):
    """A row ingested from records (as the service does) names a BVH path: it is read only under source_root."""
    from motion_retrieval.data.bvh import read_bvh

    embedder = KeywordEmbedder()
    root = tmp_path / "data"
    root.mkdir()
    take = root / "131_03.bvh"
    take.write_bytes((cmu_bvh_dir / "131_03.bvh").read_bytes())
    record = read_bvh(take)
    record.source = str(take)
    with MotionStore.open(MilvusConfig(uri=str(tmp_path / "m.db")), embedder.model_id, embedder.dim,
                          previews=FilesystemPreviewStore(tmp_path / "previews")) as store:
        ingest_records([record], store, embedder)
        hit = MotionSearch(store, embedder).text_to_motions("walk", 1)[0]
        with pytest.raises(ClipUnavailableError, match="not ingested from a file"):
            motion_clip(store, hit.id, "source_bvh")
        with pytest.raises(ClipUnavailableError, match="not ingested from a file"):
            motion_clip(store, hit.id, "source_bvh", source_root=tmp_path / "elsewhere")
        assert parse_bvh(_write(tmp_path, motion_clip(store, hit.id, "source_bvh", source_root=root).data)).fps == 120


def _write(folder, data: bytes):
    path = folder / "written.bvh"
    path.write_bytes(data)
    return path


def test_a_take_holding_the_nearest_rows_does_not_hide_the_others(tmp_path):
    """Milvus Lite's grouping search answers with fewer groups than asked when one take holds the nearest rows
    (here: one group for ten); the short answer is completed by grouping here."""
    from motion_retrieval_milvus.store import MotionRow

    rng = np.random.default_rng(0)
    query = rng.standard_normal(16).astype(np.float32)

    def row(i: int, source: str, vector: np.ndarray) -> MotionRow:
        return MotionRow(id=f"{i:032x}", embedding=vector / np.linalg.norm(vector), name=source, dataset="mocap",
                         source=source, start_s=0.0, end_s=10.0, duration_s=10.0, fps=20.0, num_frames=200,
                         captions=[], tags=[], content_hash=str(i))

    near = [row(i, "big", query + 0.01 * rng.standard_normal(16).astype(np.float32)) for i in range(600)]
    others = [row(1000 + i, f"take{i}", rng.standard_normal(16).astype(np.float32)) for i in range(20)]
    with MotionStore.open(MilvusConfig(uri=str(tmp_path / "m.db")), "test-model-v1", 16) as store:
        store.upsert_motions(near + others)
        store.flush()
        search = MotionSearch(store)
        hits = search.motions_by_vector(query, 10)
        assert len(hits) == 10 and len({h.source for h in hits}) == 10 and hits[0].source == "big"
        store.supports_grouping = False
        assert _ids(search.motions_by_vector(query, 10)) == _ids(hits)
