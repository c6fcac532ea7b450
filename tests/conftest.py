"""Shared test set-up: CPU only, one thread (CI has 2 cores), offline, the real-data fixtures of ../shared."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import torch  # noqa: E402

torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]
# Helper modules shared by the test folders (tiny_models.py): importable by name, which importlib mode does not do.
sys.path.insert(0, str(Path(__file__).resolve().parent))
# Real data files (one HumanML3D motion, three CMU BVH takes). They are read in place, never copied into the project.
SHARED_FIXTURES = Path(os.environ.get("MOTION_RETRIEVAL_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def humanml3d_sample() -> Path:
    """The real HumanML3D motion 012314 (joints, features, Mean/Std)."""
    path = SHARED_FIXTURES / "humanml3d-sample"
    if not (path / "new_joint_vecs" / "012314.npy").exists():
        pytest.skip(f"real HumanML3D fixture not found at {path} (set MOTION_RETRIEVAL_FIXTURES)")
    return path


@pytest.fixture(scope="session")
def cmu_bvh_dir() -> Path:
    """Three real CMU mocap takes in BVH (subject 131)."""
    path = SHARED_FIXTURES / "bvh-cmu"
    if not (path / "131_01.bvh").exists():
        pytest.skip(f"real CMU BVH fixture not found at {path} (set MOTION_RETRIEVAL_FIXTURES)")
    return path


@pytest.fixture(scope="session")
def shipped_repository(tmp_path_factory) -> Path:
    """The shipped default run (motion_retrieval/pretrained/default) exported into a temporary model repository,
    once per session: a checkout holds no model.pt files. tests/shipped/ proves it is what model_repository/
    describes, and scores it."""
    from motion_retrieval.export.repository import export_run

    out = tmp_path_factory.mktemp("shipped") / "model_repository"
    export_run(None, out)
    return out
