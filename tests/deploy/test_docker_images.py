"""The container images cannot be built here (no Docker engine): check them by construction — every file they
copy exists, they run as non-root, and every command they run is one our CLI accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def stages(path: Path) -> dict[str, list[tuple[str, str]]]:
    result, current = {}, None
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            current = rest.split(" AS ")[-1].strip() if " AS " in rest else rest
            result[current] = []
        elif current is not None:
            result[current].append((keyword, rest))
    return result


def test_the_images_exist():
    assert {p.name for p in DOCKERFILES} == {"server.Dockerfile", "model.Dockerfile", "web.Dockerfile"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copied_sources_exist_and_are_not_ignored(dockerfile):
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    for keyword, rest in instructions(dockerfile):
        if keyword != "COPY" or "--from=" in rest:
            continue
        sources = [s for s in shlex.split(rest) if not s.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile.name} copies {source}, which does not exist"
            assert source not in ignored, f"{dockerfile.name} copies {source}, which .dockerignore drops"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_multi_stage_and_runtime_stages_are_non_root(dockerfile):
    all_stages = stages(dockerfile)
    assert len(all_stages) >= 2, "build tools must stay in a build stage"
    for name, body in all_stages.items():
        if name in {"build", "export"}:
            continue
        users = [rest for keyword, rest in body if keyword == "USER"]
        assert users and not users[-1].startswith(("0", "root")), f"stage {name} runs as root"
        assert not any(keyword == "RUN" and "pip install" in rest for keyword, rest in body), name


def test_server_image_runs_our_cli_and_health_check():
    from motion_retrieval.cli import build_parser

    body = stages(DOCKER / "server.Dockerfile")["runtime"]
    entrypoint = yaml.safe_load(next(rest for keyword, rest in body if keyword == "ENTRYPOINT"))
    command = yaml.safe_load(next(rest for keyword, rest in body if keyword == "CMD"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["motion-retrieval"] and "motion-retrieval" in scripts
    args = build_parser().parse_args(command)
    assert args.command == "serve"
    healthcheck = next(rest for keyword, rest in body if keyword == "HEALTHCHECK")
    assert '"motion_retrieval_server.healthcheck"' in healthcheck
    import motion_retrieval_server.healthcheck

    with pytest.raises(SystemExit) as excinfo:
        motion_retrieval_server.healthcheck.main(["--help"])
    assert excinfo.value.code == 0


def test_web_image_runs_our_cli_without_the_model_stack():
    from motion_retrieval.cli import build_parser

    body = stages(DOCKER / "web.Dockerfile")["runtime"]
    command = yaml.safe_load(next(rest for keyword, rest in body if keyword == "CMD"))
    args = build_parser().parse_args([*command, "--server", "service:50051"])
    assert args.command == "web" and args.port == 8080 and args.host == "0.0.0.0"
    install = next(rest for keyword, rest in stages(DOCKER / "web.Dockerfile")["build"]
                   if keyword == "RUN" and "pip install" in rest)
    assert '".[web]"' in install and "torch" not in install
    healthcheck = next(rest for keyword, rest in body if keyword == "HEALTHCHECK")
    assert "/healthz" in healthcheck and ":8080/" in healthcheck


def test_model_image_export_command_matches_the_cli_and_the_chart():
    from motion_retrieval.cli import build_parser

    export_stage = stages(DOCKER / "model.Dockerfile")["export"]
    run = next(rest for keyword, rest in export_stage if keyword == "RUN" and "motion-retrieval export" in rest)
    words = shlex.split(run.replace("${RUN_DIR:+--run \"$RUN_DIR\"}", ""))
    args = build_parser().parse_args(words[words.index("export"):])
    assert args.command == "export"
    values = yaml.safe_load((ROOT / "deploy/helm/motion-retrieval/values.yaml").read_text())
    assert words[-1] == values["modelRepository"]["image"]["path"] == "/model_repository"


def test_health_check_answers_unhealthy_when_nothing_listens():
    import socket

    import motion_retrieval_server.healthcheck

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert motion_retrieval_server.healthcheck.main(["--target", f"127.0.0.1:{port}", "--timeout", "0.5"]) == 1
