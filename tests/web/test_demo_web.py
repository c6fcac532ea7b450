"""``motion-retrieval demo --web`` starts the real ``motion-retrieval web`` process in front of the demo's service
and hands it back once the page answers; a port already taken is reported with what to pass."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from motion_retrieval_server.demo import DemoConfig, DemoError, start_web
from tests.server.conftest import ServerThread, free_port, make_config


@pytest.fixture(scope="module")
def open_service(web_repo, tmp_path_factory):
    """The service as the demo runs it: loopback, no token, Milvus Lite."""
    db = tmp_path_factory.mktemp("demo-web") / "m.db"
    with ServerThread(make_config(web_repo, milvus_uri=str(db))) as server:
        yield server


def test_the_demo_page_answers_in_front_of_the_service(open_service, tmp_path):
    config = DemoConfig(out_dir=tmp_path, web_port=free_port())
    web, url = start_web(config, open_service.target)
    try:
        assert url == f"http://127.0.0.1:{config.web_port}/"
        with urllib.request.urlopen(url + "api/search?text=a+person+walks", timeout=30) as response:
            assert json.loads(response.read())["hits"] == []  # an empty collection, but a real search
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"Motion search" in response.read()
    finally:
        web.stop()
    assert web.proc.poll() is not None


def test_a_taken_port_is_reported(open_service, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        config = DemoConfig(out_dir=tmp_path, web_port=taken.getsockname()[1])
        with pytest.raises(DemoError, match="--web-port"):
            start_web(config, open_service.target)
