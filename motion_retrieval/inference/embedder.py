"""In-process embedding over an exported model repository: ``TorchScriptEmbedder`` runs the very model.pt files
Triton serves, in this process, so that embeddings are identical whichever backend computes them.

It implements the Embedder protocol of the serving contract (motion_retrieval.serving.embedding); inputs are checked
and preprocessed by the contract's code, and the towers are checked against the repository's description when they
are loaded (a model.pt swapped after export is refused).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

import numpy as np
import torch

from motion_retrieval.export.identity import verify_towers
from motion_retrieval.export.torchscript import load_torchscript
from motion_retrieval.serving.embedding import Embedder
from motion_retrieval.serving.inputs import check_embeddings
from motion_retrieval.serving.motions import pad_motions, validate_motion
from motion_retrieval.serving.repository import RepositoryInfo, read_repository_info
from motion_retrieval.serving.tensors import MOTION_MODEL, TEXT_MODEL
from motion_retrieval.serving.tokenizer import TextTokenizer

log = logging.getLogger(__name__)

__all__ = ["Embedder", "TorchScriptEmbedder"]


class TorchScriptEmbedder:
    """Embeds with REPO/{motion_encoder,text_encoder}/1/model.pt in this process.

    Inputs are validated whole before any computation (errors name the item index), then embedded in chunks of
    ``batch_size``; an input the model turns into a non-finite vector is refused by index. Safe to call from several
    threads: each tower runs one batch at a time (torch already spreads a batch over the cores), and the tokenizer is
    read-only after construction. Texts are padded to the longest of each chunk (no batcher to please here), which
    gives the vectors of the served fixed-length tensors.
    """

    def __init__(self, repo_dir: str | os.PathLike, device: str = "cpu", batch_size: int = 64):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.info: RepositoryInfo = read_repository_info(repo_dir)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self._motion_model = load_torchscript(self.info.motion_model, self.device)
        self._text_model = load_torchscript(self.info.text_model, self.device)
        verify_towers(self.info, {MOTION_MODEL: self._motion_model, TEXT_MODEL: self._text_model})
        self.tokenizer = TextTokenizer(self.info.tokenizer, self.info.max_text_tokens, fixed_length=False)
        self._motion_lock = threading.Lock()
        self._text_lock = threading.Lock()
        log.info("loaded %s from %s on %s", self.info.model_id, self.info.path, self.device)

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @property
    def dim(self) -> int:
        return self.info.dim

    @property
    def max_frames(self) -> int:
        return self.info.max_frames

    @property
    def feature_dim(self) -> int:
        return self.info.feature_dim

    def embed_texts(self, texts: Sequence[str], validated: bool = False) -> np.ndarray:
        """``validated``: the caller has already checked every text (the service checks each request once)."""
        if isinstance(texts, str):
            raise TypeError("embed_texts() takes a sequence of texts, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not validated:
            self.tokenizer.validate(texts)  # every text, before any computation (errors name the index)
        return check_embeddings(self.embed_checked_texts(texts), "texts")  # (N, dim)

    def embed_checked_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts already checked: (N, dim) vectors as the model gives them, finite or not (the caller decides)."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            input_ids, attention_mask = self.tokenizer.encode(texts[start : start + self.batch_size], validated=True)
            chunks.append(self._run(self._text_model, self._text_lock, input_ids, attention_mask))  # (b, dim)
        return np.concatenate(chunks)  # (N, dim)

    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        if len(motions) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        checked = [validate_motion(m, i, self.feature_dim) for i, m in enumerate(motions)]
        return check_embeddings(self.embed_checked_motions(checked), "motions")  # (N, dim)

    def embed_checked_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        """Motions already checked by ``motion_retrieval.serving.motions.validate_motion`` (float32 (T, 263)):
        (N, dim) vectors as the model gives them, finite or not (the caller decides)."""
        if len(motions) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        for start in range(0, len(motions), self.batch_size):
            motion, mask = pad_motions(motions[start : start + self.batch_size], self.max_frames, self.feature_dim)
            chunks.append(self._run(self._motion_model, self._motion_lock, motion, mask))  # (b, dim)
        return np.concatenate(chunks)  # (N, dim)

    def _run(self, model, lock: threading.Lock, *arrays: np.ndarray) -> np.ndarray:
        tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in arrays]
        with lock, torch.inference_mode():
            return model(*tensors).float().cpu().numpy()  # (b, dim)
