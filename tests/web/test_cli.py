"""``motion-retrieval web`` refuses bad settings with one line naming what to fix, before listening."""

from __future__ import annotations

import pytest

from motion_retrieval.cli import main


@pytest.mark.parametrize("argv, needle", [
    (["web"], "--server HOST:PORT"),
    (["web", "--server", "localhost"], "HOST:PORT"),
    (["web", "--server", "localhost:50051", "--token-file", "/no/such/token"], "/no/such/token"),
    (["web", "--server", "localhost:50051", "--port", "70000"], "--port 70000"),
    (["web", "--server", "localhost:50051", "--deadline", "0"], "deadline"),
    (["web", "--server", "localhost:50051", "--server-ca", "/no/such/ca.pem"], "/no/such/ca.pem"),
])
def test_bad_settings_are_one_line_errors(argv, needle, capsys, monkeypatch):
    monkeypatch.delenv("MOTION_RETRIEVAL_WEB_SERVER", raising=False)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err


def test_an_empty_token_file_is_refused(tmp_path, capsys):
    token = tmp_path / "token"
    token.write_text("\n")
    assert main(["web", "--server", "localhost:50051", "--token-file", str(token)]) == 1
    assert "empty" in capsys.readouterr().err
