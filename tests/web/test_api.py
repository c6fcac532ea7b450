"""The page's HTTP/JSON API against the real service over gRPC (tiny model, Milvus Lite, search-only token): the hit
schema, paging, one hit per take, filters, previews, clips, captions, search by an uploaded file, and every refusal
as an HTTP status with a message that says what was wrong."""

from __future__ import annotations

import http.client
import io
import json
from urllib.parse import quote, urlencode, urlparse

import grpc
import numpy as np
import pytest

from motion_retrieval_server.client import MotionRetrievalClient
from motion_retrieval_web.app import create_app
from motion_retrieval_web.config import WebConfig
from motion_retrieval_web.previews import MAX_PREVIEW_BYTES, decode_preview
from tests.web.conftest import FULL, QUERY_LIMIT_FRAMES, SEARCH, Http, WebThread, long_take

HIT_KEYS = {"id", "name", "score", "start_s", "end_s", "duration_s", "dataset", "tags", "preview_url", "clip_url"}
QUERY = "a person walks forward"


def search(http: Http, **params) -> dict:
    return http.json("/api/search?" + urlencode({"text": QUERY, **params}, doseq=True))


def take_of(hit: dict) -> str:
    return hit["name"].split("@")[0]


# -- search -------------------------------------------------------------------------------------------------------
def test_search_returns_the_services_hits_in_the_one_schema(web_stack):
    body = search(web_stack.http, top_k=5)
    hits = body["hits"]
    assert len(hits) == 5
    for hit in hits:
        assert HIT_KEYS <= set(hit), HIT_KEYS - set(hit)
        assert hit["preview_url"] == f"/api/motions/{quote(hit['id'], safe='')}/preview"
        assert hit["clip_url"] == f"/api/motions/{quote(hit['id'], safe='')}/clip?format=bvh"
        assert hit["end_s"] > hit["start_s"] and hit["duration_s"] > 0
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    with MotionRetrievalClient(web_stack.service.target, token=SEARCH) as client:
        direct = client.search_motions(QUERY, top_k=5)
    assert [h["id"] for h in hits] == [h["id"] for h in direct]
    assert body["next_offset"] == 5
    assert body["query"]["text"] == QUERY


def test_paging_gives_every_hit_once_in_order(web_stack):
    whole = [h["id"] for h in search(web_stack.http, top_k=9)["hits"]]
    pages, offset = [], 0
    for _ in range(3):
        body = search(web_stack.http, top_k=3, offset=offset)
        pages += [h["id"] for h in body["hits"]]
        offset = body["next_offset"]
    assert pages == whole
    assert len(set(pages)) == 9
    last = search(web_stack.http, top_k=10, offset=10)  # 13 takes in all: a partial last page, no next one
    assert len(last["hits"]) == 3 and last["next_offset"] is None


def test_a_long_take_gives_one_hit_unless_every_window(web_stack):
    grouped = search(web_stack.http, top_k=20, dataset="takes")["hits"]
    assert [take_of(h) for h in grouped] == ["long_take"]
    windows = search(web_stack.http, top_k=20, dataset="takes", every_window=1)["hits"]
    assert len(windows) >= 10 and {take_of(h) for h in windows} == {"long_take"}
    assert len({(h["start_s"], h["end_s"]) for h in windows}) == len(windows)
    assert grouped[0]["id"] == windows[0]["id"]  # the take's hit is its best window
    everything = search(web_stack.http, top_k=20)["hits"]
    assert sum(take_of(h) == "long_take" for h in everything) == 1
    assert len({take_of(h) for h in everything}) == len(everything) == 13


def test_filters_by_dataset_tags_and_duration(web_stack):
    studio = search(web_stack.http, top_k=20, dataset="studio")["hits"]
    assert len(studio) == 6 and {h["dataset"] for h in studio} == {"studio"}
    tagged = search(web_stack.http, top_k=20, tag=["odd", "demo"])["hits"]
    assert {h["name"] for h in tagged} == {h["name"] for h in studio}
    assert search(web_stack.http, top_k=20, tag=["odd", "even"])["hits"] == []
    short = [r for r in web_stack.records if len(r["joints"]) / 20 <= 6.0]
    bounded = search(web_stack.http, top_k=20, max_s=6.0)["hits"]
    assert {h["name"] for h in bounded} == {r["id"] for r in short}
    assert all(h["duration_s"] >= 4.0 for h in search(web_stack.http, top_k=20, min_s=4.0)["hits"])


@pytest.mark.parametrize("params, needle", [
    ({"text": ""}, "text"),
    ({"text": QUERY, "top_k": 0}, "top_k"),
    ({"text": QUERY, "top_k": "many"}, "top_k"),
    ({"text": QUERY, "offset": -1}, "offset"),
    ({"text": QUERY, "min_s": 5, "max_s": 2}, "min_s"),
    ({"text": QUERY, "max_s": "long"}, "max_s"),
    ({"text": QUERY, "every_window": "perhaps"}, "every_window"),
])
def test_bad_search_parameters_are_refused_naming_the_parameter(web_stack, params, needle):
    status, _, body = web_stack.http.get("/api/search?" + urlencode(params))
    assert status == 422
    assert needle in json.loads(body)["error"]


def test_the_services_own_refusal_passes_through(web_stack):
    status, _, body = web_stack.http.get("/api/search?" + urlencode({"text": "x" * 400}))  # over max_text_chars
    answer = json.loads(body)
    assert status == 422 and answer["code"] == "INVALID_ARGUMENT"
    assert "200" in answer["error"]  # the service's message names its limit


# -- one motion: similar, preview, clips, captions ------------------------------------------------------------------
@pytest.fixture(scope="module")
def top_hit(web_stack) -> dict:
    return search(web_stack.http, top_k=1, dataset="synth")["hits"][0]


def test_similar_motions_leave_the_motion_itself_out(web_stack, top_hit):
    body = web_stack.http.json(f"/api/motions/{top_hit['id']}/similar?top_k=4")
    assert len(body["hits"]) == 4 and top_hit["id"] not in {h["id"] for h in body["hits"]}
    assert all(HIT_KEYS <= set(h) for h in body["hits"])


def test_preview_is_compact_and_is_the_windows_motion(web_stack, top_hit):
    status, headers, raw = web_stack.http.get(top_hit["preview_url"])
    assert status == 200 and len(raw) <= 50_000
    preview = json.loads(raw)
    joints = decode_preview(preview)  # (T, 22, 3)
    assert joints.shape == (preview["frames"], 22, 3) and preview["parents"][0] == -1
    with MotionRetrievalClient(web_stack.service.target, token=SEARCH) as client:
        stored = client.motion_preview(top_hit["id"])
    step = int(round(stored["fps"] / preview["fps"]))
    np.testing.assert_allclose(joints, stored["joints"][::step], atol=1e-3)  # int16 millimetres
    assert preview["start_s"] == pytest.approx(top_hit["start_s"], abs=1e-3)


def test_preview_of_the_long_take_fits_the_budget(web_stack):
    hit = search(web_stack.http, top_k=1, dataset="takes")["hits"][0]
    status, _, raw = web_stack.http.get(hit["preview_url"])
    assert status == 200 and len(raw) <= MAX_PREVIEW_BYTES


def test_clips_download_as_files_our_readers_read(web_stack, top_hit, tmp_path):
    from motion_retrieval.data.load import read_file

    status, headers, data = web_stack.http.get(top_hit["clip_url"])
    assert status == 200
    assert headers["content-disposition"].startswith("attachment; filename=")
    assert headers["content-disposition"].split('"')[1].endswith(".bvh")
    (tmp_path / "hit.bvh").write_bytes(data)
    record = read_file(tmp_path / "hit.bvh", compute_features=False)
    status, _, npy = web_stack.http.get(top_hit["clip_urls"]["npy"])
    assert status == 200
    joints = np.load(io.BytesIO(npy), allow_pickle=False)  # (T, 22, 3) at 20 fps
    assert joints.shape[1:] == (22, 3) and abs(len(joints) - record.num_frames) <= 1
    assert "source" not in top_hit["clip_urls"]  # the source was an .npy: no source BVH to cut
    status, _, body = web_stack.http.get(top_hit["clip_url"].replace("format=bvh", "format=source"))
    assert status == 409 and json.loads(body)["code"] == "FAILED_PRECONDITION"
    status, _, body = web_stack.http.get(top_hit["clip_url"].replace("format=bvh", "format=fbx"))
    assert status == 422 and "format" in json.loads(body)["error"]


def test_unknown_motion_ids_are_404(web_stack):
    for path in ("preview", "clip?format=bvh", "similar", "captions"):
        status, _, body = web_stack.http.get(f"/api/motions/{'0' * 32}/{path}")
        assert status == 404, (path, body)
        assert json.loads(body)["code"] == "NOT_FOUND"


def test_captions_describe_the_motion(web_stack, top_hit):
    body = web_stack.http.json(f"/api/motions/{top_hit['id']}/captions?top_k=3")
    captions = body["captions"]
    assert 1 <= len(captions) <= 3
    stored = {c for r in web_stack.records for c in r["captions"]}
    assert all(c["text"] in stored for c in captions)
    assert [c["score"] for c in captions] == sorted((c["score"] for c in captions), reverse=True)


# -- search by an uploaded motion ---------------------------------------------------------------------------------
def _npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def test_an_uploaded_npy_finds_the_same_motion_first(web_stack):
    record = web_stack.records[3]
    status, body = web_stack.http.upload("/api/search/motion?top_k=3", "query.npy", _npy_bytes(record["joints"]))
    assert status == 200, body
    assert body["hits"][0]["name"] == record["id"]
    assert body["query"]["file"] == "query.npy"
    assert body["query"]["used_s"] == pytest.approx(len(record["joints"]) / 20, abs=0.1)


def test_an_uploaded_bvh_searches_and_long_files_are_cut_to_the_query_limit(web_stack):
    from motion_retrieval.data.bvh_write import smpl22_bvh

    joints = long_take(80.0, seed=40)
    status, body = web_stack.http.upload("/api/search/motion?top_k=5&every_window=1", "take.bvh",
                                         smpl22_bvh(joints, 20.0).encode())
    assert status == 200, body
    assert len(body["hits"]) == 5
    assert body["query"]["duration_s"] == pytest.approx(80.0, abs=0.2)
    assert body["query"]["used_s"] == pytest.approx(QUERY_LIMIT_FRAMES / 20, abs=0.1)  # the service's max_frames


@pytest.mark.parametrize("filename, data, status, needle", [
    ("notes.txt", b"hello", 415, "notes.txt"),
    ("broken.bvh", b"HIERARCHY\nROOT Hips\n{\n", 422, "broken.bvh"),
    ("noise.npy", b"\x93NUMPY garbage", 422, "noise.npy"),
    ("empty.npz", b"", 422, "empty"),
])
def test_bad_uploads_are_refused_with_the_reason(web_stack, filename, data, status, needle):
    got, body = web_stack.http.upload("/api/search/motion", filename, data)
    assert got == status, body
    assert needle in body["error"]


def test_uploads_that_are_not_multipart_or_miss_the_field_are_refused(web_stack):
    status, _, body = web_stack.http.request("POST", "/api/search/motion", b"{}", {"Content-Type": "application/json"})
    assert status == 415 and "multipart" in json.loads(body)["error"]
    status, body = web_stack.http.upload("/api/search/motion", "a.bvh", b"x", field="motion")
    assert status == 422 and "'file'" in body["error"]


def test_an_upload_over_the_limit_is_refused_before_it_is_read(web_stack):
    limit = 2 * 1024 * 1024
    url = urlparse(web_stack.web.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    # Declared too large: refused on the headers, the body is never sent.
    connection.putrequest("POST", "/api/search/motion")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(limit * 50))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "limit" in json.loads(response.read())["error"]
    connection.close()
    # Chunked, no length: refused as soon as the bytes pass the limit.
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    chunks = (b"x" * 65536 for _ in range(limit // 65536 + 2))  # just over: the unread rest fits socket buffers
    connection.request("POST", "/api/search/motion", body=chunks, encode_chunked=True,
                       headers={"Content-Type": "multipart/form-data; boundary=x"})
    response = connection.getresponse()
    assert response.status == 413
    connection.close()


# -- tokens, the service down, health ------------------------------------------------------------------------------
def test_the_pages_token_searches_but_cannot_ingest_or_delete(web_stack):
    client = web_stack.web.server.config.app.state.api.client  # the very client the app holds
    assert client.search_motions(QUERY, top_k=1)
    record = web_stack.records[0]
    for call in (lambda: client.ingest([record]), lambda: client.delete(names=[record["id"]])):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with MotionRetrievalClient(web_stack.service.target, token=FULL) as admin:
        assert admin.collection_stats()["motion_rows"] >= 13  # nothing was deleted
    for method, path in (("DELETE", "/api/motions/x"), ("POST", "/api/motions"), ("PUT", "/api/search")):
        status, _, _ = web_stack.http.request(method, path, b"")
        assert status in (404, 405)


def test_without_the_token_the_services_refusal_is_401(web_stack):
    config = WebConfig(server=web_stack.service.target, deadline_s=10.0)
    with WebThread(create_app(config)) as web:
        status, _, body = Http(web.url).get("/api/search?text=walk")
    assert status == 401 and json.loads(body)["code"] == "UNAUTHENTICATED"


def test_service_down_is_503_with_the_reason_and_the_page_still_loads():
    from tests.server.conftest import free_port

    config = WebConfig(server=f"127.0.0.1:{free_port()}", deadline_s=2.0)
    with WebThread(create_app(config)) as web:
        http = Http(web.url)
        status, _, body = http.get("/api/search?text=walk")
        assert status == 503 and "unavailable" in json.loads(body)["error"]
        assert http.get("/readyz")[0] == 503
        assert http.json("/healthz") == {"status": "ok"}
        status, headers, page = http.get("/")
        assert status == 200 and b"<canvas" in page
        assert "default-src 'self'" in headers["content-security-policy"]


def test_a_service_that_does_not_answer_is_504(tmp_path):
    import socket

    with socket.socket() as silent:  # accepts connections and never speaks HTTP/2
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = WebConfig(server=f"127.0.0.1:{silent.getsockname()[1]}", deadline_s=1.0)
        with WebThread(create_app(config)) as web:
            status, _, body = Http(web.url).get("/api/search?text=walk")
    assert status == 504, body
    assert json.loads(body)["code"] == "DEADLINE_EXCEEDED" and "in time" in json.loads(body)["error"]


def test_health_and_static_files(web_stack):
    assert web_stack.http.json("/readyz") == {"status": "serving"}
    status, headers, script = web_stack.http.get("/static/app.js")
    assert status == 200 and b"requestAnimationFrame" in script
    config = web_stack.http.json("/api/config")
    assert config["max_upload_bytes"] == 2 * 1024 * 1024
    assert config["max_query_s"] == pytest.approx(QUERY_LIMIT_FRAMES / 20)
