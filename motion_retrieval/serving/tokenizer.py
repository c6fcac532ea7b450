"""Captions -> token ids for the text tower, with the tokenizer.json that ships in the model repository.

The exported text tower contains the frozen language model but not its tokenizer (TorchScript cannot hold one), so
the service tokenises with the same ``tokenizer.json`` the model was trained with and sends ids + attention mask.
Served requests are padded to a fixed ``max_tokens`` (the text model's input dims are fixed), so that Triton's
dynamic batcher can merge requests whatever their caption lengths; in-process embedding may pad to the longest
text of the batch instead (``fixed_length=False``), which gives the same vectors with less work on a CPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tokenizers

from motion_retrieval.errors import ConfigError, MotionDataError
from motion_retrieval.serving.inputs import TextInputError


class TextTokenizer:
    """Batch tokeniser: texts -> (input_ids i64[B, L], attention_mask i64[B, L]).

    ``L`` is ``max_tokens`` (``fixed_length=True``, the served contract) or the longest text of the batch. Texts
    longer than ``max_tokens`` (special tokens included) are truncated; the final [SEP] is kept.
    """

    def __init__(self, tokenizer_json_path: str | os.PathLike, max_tokens: int, fixed_length: bool = True):
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
        # The shipped MiniLM tokenizer pads every text to 128: replace its padding with ours.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token, length=max_tokens if fixed_length else None)
        self._tokenizer = tokenizer
        self.path = path
        self.max_tokens = max_tokens
        self.fixed_length = fixed_length
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

    def encode(self, texts: Sequence[str], validated: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``validated``: the caller has already checked ``texts`` (the service checks every request once)."""
        if not validated:
            self.validate(texts)
        encodings = self._tokenizer.encode_batch(list(texts))
        input_ids = np.asarray([e.ids for e in encodings], dtype=np.int64)  # (B, L)
        attention_mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)  # (B, L)
        return input_ids, attention_mask
