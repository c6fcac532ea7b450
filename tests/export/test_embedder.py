from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from motion_retrieval.errors import ConfigError
from motion_retrieval.inference.embedder import Embedder, TorchScriptEmbedder
from motion_retrieval.serving.inputs import TextInputError
from motion_retrieval.serving.motions import MotionInputError, pad_motions

CAPTIONS = ["a person walks forward and sits down", "jump", "someone waves with the left hand, then bows"]


@pytest.fixture(scope="module")
def embedder(tiny_repo):
    return TorchScriptEmbedder(tiny_repo, batch_size=2)


@pytest.fixture(scope="module")
def motions(humanml3d_sample):
    real = np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")
    rng = np.random.default_rng(0)
    return [real, real[:37], np.concatenate([real, real[::-1], real]), (real[:60] + rng.normal(0, 0.1, (60, 263)))]


def test_it_is_an_embedder_with_the_repository_identity(embedder, tiny_repo):
    import json

    assert isinstance(embedder, Embedder)
    info = json.loads((tiny_repo / "motion_retrieval.json").read_text())
    assert (embedder.model_id, embedder.dim, embedder.max_frames) == (info["model_id"], 256, 200)


def test_embeddings_equal_the_eager_towers(embedder, make_towers, motions):
    motion_tower, text_tower = make_towers(0)
    with torch.no_grad():
        motion, mask = (torch.from_numpy(a) for a in pad_motions(motions))
        expected_motion = motion_tower(motion, mask).numpy()
        ids, attention = (torch.from_numpy(a) for a in embedder.tokenizer.encode(CAPTIONS))
        expected_text = text_tower(ids, attention).numpy()
    got = embedder.embed_motions(motions)
    assert got.shape == (4, 256) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected_motion, rtol=0, atol=1e-6)
    np.testing.assert_allclose(embedder.embed_texts(CAPTIONS), expected_text, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_a_sample_embeds_the_same_alone_and_in_any_chunk(embedder, motions):
    together = embedder.embed_motions(motions)  # chunks of 2
    for i, motion in enumerate(motions):
        np.testing.assert_allclose(embedder.embed_motions([motion])[0], together[i], rtol=0, atol=1e-6)
    texts = embedder.embed_texts(CAPTIONS)
    np.testing.assert_allclose(embedder.embed_texts(CAPTIONS[2:])[0], texts[2], rtol=0, atol=1e-6)


def test_concurrent_calls_from_threads_agree(embedder, motions):
    expected_motion, expected_text = embedder.embed_motions(motions), embedder.embed_texts(CAPTIONS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(embedder.embed_motions, motions) for _ in range(4)]
        futures += [pool.submit(embedder.embed_texts, CAPTIONS) for _ in range(4)]
        results = [f.result() for f in futures]
    for got in results[:4]:
        np.testing.assert_array_equal(got, expected_motion)
    for got in results[4:]:
        np.testing.assert_array_equal(got, expected_text)


def test_bad_inputs_name_the_item_before_any_work(embedder, motions):
    with pytest.raises(MotionInputError, match=r"motions\[3\]: expected 263 features per frame, got 12"):
        embedder.embed_motions(motions[:3] + [np.zeros((40, 12))])
    with pytest.raises(TextInputError, match=r"texts\[2\]: text is empty"):
        embedder.embed_texts(CAPTIONS[:2] + [""])
    with pytest.raises(TypeError):
        embedder.embed_texts("one string")
    assert embedder.embed_texts([]).shape == (0, 256) and embedder.embed_motions([]).shape == (0, 256)


def test_a_repository_without_models_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"motion_retrieval.json: not found"):
        TorchScriptEmbedder(tmp_path)
