"""Test helpers for the Milvus plugin tests: a deterministic embedder and a tiny motion corpus.

``KeywordEmbedder`` is a small, exact stand-in for the trained towers with the property the searches rely on:
a text embeds near the motions of the action it names. Texts are bags of known action words; a motion's action is
written into its features (frame-mean of feature 0 = action index), so "a person walks" ranks walking motions
first. It is used until a real exported model repository can be built in tests (see test_real_embedder.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motion_retrieval.data.record import Caption, MotionRecord
from motion_retrieval.errors import MotionDataError

ACTIONS = ["walk", "run", "jump", "wave", "sit", "kick"]
DIM = 16


class KeywordEmbedder:
    """Deterministic: action words -> their basis direction (+ a hash-seeded offset); motions -> their action."""

    def __init__(self, model_id: str = "test-model-v1", dim: int = DIM):
        self.model_id = model_id
        self.dim = dim
        self.calls = {"texts": 0, "motions": 0, "motion_rows": 0}

    def _direction(self, index: int) -> np.ndarray:
        vector = np.zeros(self.dim, np.float32)
        vector[index] = 1.0
        return vector

    def _jitter(self, seed_text: str, scale: float) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).normal(0, scale, self.dim).astype(np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.calls["texts"] += 1
        out = []
        for text in texts:
            vector = self._jitter(text, 0.05)
            for index, action in enumerate(ACTIONS):
                if action in text.lower():
                    vector += self._direction(index)
            out.append(vector / np.linalg.norm(vector))
        return np.stack(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)

    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        self.calls["motions"] += 1
        self.calls["motion_rows"] += len(motions)
        out = []
        for features in motions:
            action = int(round(float(features[:, 0].mean())))
            vector = self._direction(action % len(ACTIONS)) + self._jitter(features.tobytes().hex()[:64], 0.05)
            out.append(vector / np.linalg.norm(vector))
        return np.stack(out).astype(np.float32)


def motion_features(action: int, frames: int, seed: int) -> np.ndarray:
    """(frames, 263) features whose feature 0 encodes the action (what KeywordEmbedder reads)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(0, 0.1, (frames, 263)).astype(np.float32)
    features[:, 0] = action
    return features


def write_motion(folder: Path, name: str, action: int, frames: int, seed: int, captions: Sequence[str],
                 tags: Sequence[str] = ()) -> Path:
    """A motion file for ``npy_reader``: ``name.npy`` (frames, 263) + ``name.txt`` (captions, then #tags)."""
    path = folder / f"{name}.npy"
    np.save(path, motion_features(action, frames, seed))
    lines = list(captions) + ([f"#tags {' '.join(tags)}"] if tags else [])
    (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return path


def npy_reader(path, errors: list | None = None):
    """Reads what ``write_motion`` writes (a file or a folder of them); reports bad files in ``errors``."""
    path = Path(path)
    files = sorted(path.glob("*.npy")) if path.is_dir() else [path]
    for file in files:
        try:
            try:
                features = np.load(file)
            except (ValueError, OSError) as exc:
                raise MotionDataError(file, f"not a .npy array ({exc})") from exc
            if features.ndim != 2 or features.shape[1] != 263:
                raise MotionDataError(file, f"expected (T, 263) features, got {features.shape}")
        except MotionDataError as exc:
            if errors is None:
                raise
            errors.append(exc)
            continue
        captions, tags = [], []
        sidecar = file.with_suffix(".txt")
        if sidecar.exists():
            for line in sidecar.read_text().splitlines():
                if line.startswith("#tags "):
                    tags = line.split()[1:]
                elif line.strip():
                    captions.append(Caption(line.strip()))
        yield MotionRecord(id=file.stem, dataset="synthetic" if "kit" not in file.stem else "kitml", fps=20.0,
                           features=features, joints=None, captions=captions, source=str(file), tags=tags)


CORPUS = [
    # name, action, frames, captions, tags
    ("walk_a", 0, 60, ["a person walks forward"], ["locomotion"]),
    ("walk_b", 0, 120, ["someone walks slowly in a circle"], ["locomotion", "slow"]),
    ("run_a", 1, 80, ["a man runs fast"], ["locomotion", "fast"]),
    ("jump_a", 2, 40, ["a person jumps up"], ["athletic"]),
    ("wave_kit", 3, 50, ["a person waves with the right hand"], ["gesture"]),
    ("sit_a", 4, 100, ["a person sits down on a chair"], []),
    ("kick_long", 5, 500, ["a person kicks repeatedly"], ["athletic"]),  # 25 s: windowed into 4 windows
]


# ------------------------------------------------------------------------------------------------------------------
# A real exported model repository (tiny towers, real TorchScript export, real MiniLM tokenizer) for the tests that
# go through TorchScriptEmbedder: the CLI and the real-server integration tests.
# ------------------------------------------------------------------------------------------------------------------
def export_tiny_repository(out_dir: Path, seed: int = 0) -> Path:
    from tiny_models import export_tiny

    from motion_retrieval.serving.repository import ServingOptions

    # 32-d embeddings: the collections' vector dimension comes from the repository, not from a constant
    export_tiny(out_dir, seed, tower_dim=32, created_from="tests/milvus", real_motions=[motion_features(0, 50, 0)],
                options=ServingOptions(max_batch_size=16, preferred_batch_sizes=(4, 8, 16), warmup_batch_sizes=(1,)))
    return out_dir
