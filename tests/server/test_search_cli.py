"""`motion-retrieval search --server` against a secured service: token from a file or the environment (never the
command line), TLS with a CA file, and refusals reported as one actionable line instead of a gRPC traceback."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from motion_retrieval.cli import main
from motion_retrieval_server.client import MotionRetrievalClient

TOKEN = "cli-secret-token"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not found")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_search_server_with_token_file_env_and_tls(start_server, certificate, tmp_path, capsys, monkeypatch):
    cert, key = certificate
    server = start_server(auth_token=TOKEN, tls_cert=cert, tls_key=key, milvus_uri=str(tmp_path / "m.db"))
    target = f"localhost:{server.server.port}"
    rng = np.random.default_rng(0)
    with MotionRetrievalClient(target, token=TOKEN, tls_ca=cert, timeout=60) as client:
        client.ingest([{"id": "walk1", "dataset": "test", "features": rng.standard_normal((40, 263)).astype("f4"),
                        "captions": ["a person walks"]}])
    monkeypatch.delenv("MOTION_RETRIEVAL_SERVER_TOKEN", raising=False)

    code, _, err = _run(capsys, "search", "--text", "walk", "--server", target, "--server-ca", cert)
    assert code == 1 and "Traceback" not in err
    assert err.strip().count("\n") == 0, err  # one line
    assert "refused the call (UNAUTHENTICATED" in err and "--server-token-file" in err

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    code, out, _ = _run(capsys, "search", "--text", "walk", "--server", target, "--server-ca", cert,
                        "--server-token-file", token_file, "--json")
    assert code == 0 and [h["name"] for h in json.loads(out)["hits"]] == ["walk1"]

    monkeypatch.setenv("MOTION_RETRIEVAL_SERVER_TOKEN", TOKEN)
    code, out, _ = _run(capsys, "search", "--text", "walk", "--server", target, "--server-ca", cert, "--json")
    assert code == 0 and json.loads(out)["hits"]

    code, _, err = _run(capsys, "search", "--text", "walk", "--server", target)  # plaintext to a TLS service
    assert code == 1 and "UNAVAILABLE" in err and "--server-ca" in err and "Traceback" not in err
    code, _, err = _run(capsys, "search", "--text", "walk", "--server", target, "--server-token-file",
                        tmp_path / "missing")
    assert code == 1 and "cannot read the token file" in err
