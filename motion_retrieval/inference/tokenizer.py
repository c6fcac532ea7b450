"""Captions -> padded token ids for the text tower, with the tokenizer.json that ships in the model repository.

The exported text tower contains the frozen language model but not its tokenizer (TorchScript cannot hold one), so
the service tokenises with the same ``tokenizer.json`` the model was trained with and sends ids + attention mask.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tokenizers

from motion_retrieval.errors import ConfigError, MotionDataError


class TextInputError(MotionDataError):
    """One text of a batch cannot be embedded. ``str()`` is ``"texts[INDEX]: problem"``."""

    def __init__(self, index: int, problem: str):
        self.index = index
        super().__init__(f"texts[{index}]", problem)


class TextTokenizer:
    """Batch tokeniser: texts -> (input_ids i64[B, L], attention_mask i64[B, L]), L = the longest in the batch.

    Texts longer than ``max_tokens`` (special tokens included) are truncated; the final [SEP] is kept.
    """

    def __init__(self, tokenizer_json_path: str | os.PathLike, max_tokens: int):
        path = os.fspath(tokenizer_json_path)
        if max_tokens < 3:
            raise ConfigError(f"{path}: max_tokens must be at least 3 (CLS, one word, SEP), got {max_tokens}")
        try:
            tokenizer = tokenizers.Tokenizer.from_file(path)
        except Exception as exc:  # tokenizers raises plain Exception subclasses for missing or malformed files
            raise ConfigError(f"{path}: cannot load the tokenizer ({exc})") from exc
        pad_token = "[PAD]"
        pad_id = tokenizer.token_to_id(pad_token)
        if pad_id is None:
            pad_id, pad_token = 0, tokenizer.id_to_token(0)
        # The shipped MiniLM tokenizer pads every text to 128; we pad to the longest text of the batch instead.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        self._tokenizer = tokenizer
        self.path = path
        self.max_tokens = max_tokens
        self.pad_id = pad_id

    def __call__(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return self.encode(texts)

    @staticmethod
    def validate(texts: Sequence[str]) -> None:
        """TextInputError naming the first text that is not a non-blank string."""
        if isinstance(texts, str):
            raise TypeError("expected a sequence of texts, not one string")
        if len(texts) == 0:
            raise MotionDataError("texts", "no texts given")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TextInputError(i, f"expected a string, got {type(text).__name__}")
            if not text.strip():
                raise TextInputError(i, "text is empty")

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        self.validate(texts)
        encodings = self._tokenizer.encode_batch(list(texts))
        input_ids = np.asarray([e.ids for e in encodings], dtype=np.int64)  # (B, L)
        attention_mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)  # (B, L)
        return input_ids, attention_mask
