"""Fixtures of the web tests: the real gRPC service (tiny model, Milvus Lite, a full-access and a search-only token)
with a small ingested corpus, and the web app served by uvicorn on loopback with the search-only token."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from tests.server.conftest import ServerThread, export_tiny_repository, free_port, make_config

FULL, SEARCH = "web-tests-full-token", "web-tests-search-token"
LONG_TAKE_S = 60.0
QUERY_LIMIT_FRAMES = 1300  # the service's Limits.max_frames in these tests: 65 s at 20 fps


def synth_clips(n: int, seed: int = 11) -> list:
    """``n`` procedural clips: (T, 22, 3) SMPL-22 joints at 20 fps with their captions."""
    from motion_retrieval.synth.corpus import generate_clip

    rng = np.random.default_rng(seed)
    return [generate_clip(rng) for _ in range(n)]


def long_take(seconds: float = LONG_TAKE_S, seed: int = 12) -> np.ndarray:
    """A continuous take of ``seconds``: procedural clips chained, each moved to start where the last one ended."""
    parts, frames, rng_seed = [], 0, seed
    while frames < seconds * 20:
        for clip in synth_clips(4, rng_seed):
            joints = clip.joints.copy()
            if parts:
                shift = parts[-1][-1, 0] - joints[0, 0]
                joints[:, :, [0, 2]] += shift[[0, 2]]
            parts.append(joints)
            frames += len(joints)
        rng_seed += 1
    return np.concatenate(parts)[: int(seconds * 20)]  # (1200, 22, 3)


def corpus() -> list[dict]:
    """Twelve short clips in two datasets with tags, and one 60 s take in a dataset of its own."""
    records = []
    for i, clip in enumerate(synth_clips(12)):
        records.append({"id": f"clip{i:02d}", "dataset": "synth" if i % 2 == 0 else "studio", "joints": clip.joints,
                        "skeleton": "smpl22", "fps": clip.fps, "captions": clip.captions,
                        "source": f"/data/clip{i:02d}.npy", "tags": ["even"] if i % 2 == 0 else ["odd", "demo"]})
    records.append({"id": "long_take", "dataset": "takes", "joints": long_take(), "skeleton": "smpl22",
                    "fps": 20.0, "captions": ["a person moves about for a minute"], "source": "/data/long_take.npy",
                    "tags": ["long"]})
    return records


class WebThread:
    """The web app under uvicorn on loopback, in a daemon thread."""

    def __init__(self, app, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="on"))
        self._thread = threading.Thread(target=self.server.run, name="test-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WebThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web app did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(10)


@dataclass
class Http:
    """A tiny HTTP client over urllib (no third-party client in the test path)."""

    base: str

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60.0) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def get(self, path: str) -> tuple[int, dict, bytes]:
        return self.request("GET", path)

    def json(self, path: str, expect: int = 200) -> dict:
        status, _, body = self.get(path)
        assert status == expect, f"GET {path}: {status} {body[:300]!r}"
        return json.loads(body)

    def upload(self, path: str, filename: str, data: bytes, field: str = "file") -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        status, _, answer = self.request("POST", path, body,
                                         {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return status, json.loads(answer)


@dataclass
class WebStack:
    service: ServerThread
    web: WebThread
    http: Http
    records: list[dict]
    search_token_file: Path


@pytest.fixture(scope="session")
def web_repo(tmp_path_factory) -> Path:
    return export_tiny_repository(tmp_path_factory.mktemp("web-repo"))


@pytest.fixture(scope="module")
def web_stack(web_repo, tmp_path_factory):
    """The service (full + search-only tokens, Milvus Lite) with the corpus ingested, and the page's app in front of
    it holding the search-only token."""
    from motion_retrieval_server.client import MotionRetrievalClient
    from motion_retrieval_web.app import create_app
    from motion_retrieval_web.config import WebConfig

    folder = tmp_path_factory.mktemp("web-stack")
    records = corpus()
    limits = replace(make_config(web_repo).limits, max_frames=QUERY_LIMIT_FRAMES)  # takes up to 65 s in one message
    config = make_config(web_repo, auth_token=FULL, search_token=SEARCH, milvus_uri=str(folder / "m.db"),
                         limits=limits)
    with ServerThread(config) as service:
        with MotionRetrievalClient(service.target, token=FULL, timeout=300) as admin:
            summary = admin.ingest(records)
        assert summary["failed"] == 0, summary["errors"]
        token_file = folder / "search.token"
        token_file.write_text(SEARCH + "\n")
        web_config = WebConfig(server=service.target, token_file=token_file, deadline_s=30.0,
                           max_upload_bytes=2 * 1024 * 1024)
        with WebThread(create_app(web_config)) as web:
            yield WebStack(service=service, web=web, http=Http(web.url), records=records,
                           search_token_file=token_file)
