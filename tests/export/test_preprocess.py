from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.errors import MotionDataError
from motion_retrieval.serving.inputs import TextInputError
from motion_retrieval.serving.motions import (
    MotionInputError,
    fit_to_max_frames,
    nearest_neighbour_indices,
    pad_motions,
    validate_motion,
)
from motion_retrieval.serving.tokenizer import TextTokenizer


def test_pad_motions_copies_pads_and_masks():
    rng = np.random.default_rng(0)
    short, full = rng.standard_normal((7, 263)), rng.standard_normal((200, 263))
    motion, mask = pad_motions([short, full])
    assert motion.shape == (2, 200, 263) and motion.dtype == np.float32
    assert mask.shape == (2, 200) and mask.dtype == bool
    np.testing.assert_array_equal(motion[0, :7], short.astype(np.float32))
    assert not motion[0, 7:].any() and mask[0].sum() == 7 and mask[1].all()


def test_long_motions_are_resampled_by_nearest_neighbour_keeping_both_ends():
    frames = np.arange(450, dtype=np.float32)[:, None] * np.ones((1, 263), dtype=np.float32)  # frame i holds i
    motion, mask = pad_motions([frames])
    assert mask.all()
    kept = motion[0, :, 0]
    assert kept[0] == 0 and kept[-1] == 449
    assert (np.diff(kept) >= 2).all() and (np.diff(kept) <= 3).all()  # 450 -> 200: every 2.25 frames
    np.testing.assert_array_equal(kept, nearest_neighbour_indices(450, 200))


def test_training_resamples_as_the_service_does():
    torch = pytest.importorskip("torch")
    for n in (7, 200, 201, 333, 1780):
        frames = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 263), dtype=np.float32)  # frame i holds i
        motion, mask = pad_motions([frames])
        fitted = fit_to_max_frames(frames)
        np.testing.assert_array_equal(motion[0, : mask[0].sum()], fitted)
        np.testing.assert_array_equal(fit_to_max_frames(torch.from_numpy(frames)).numpy(), fitted)


def test_real_fixture_motion_pads_without_change(humanml3d_sample):
    features = np.load(humanml3d_sample / "new_joint_vecs" / "012314.npy")
    motion, mask = pad_motions([features])
    assert mask[0].sum() == features.shape[0] == 170
    np.testing.assert_array_equal(motion[0, :170], features)


@pytest.mark.parametrize(
    "bad, problem",
    [
        (np.zeros((10, 262)), "expected 263 features per frame, got 262"),
        (np.zeros(263), "expected shape (T, 263)"),
        (np.zeros((1, 263)), "has 1 frames, at least 2 are needed"),
        (np.full((5, 263), np.nan), "NaN or inf"),
        (np.array([["a"] * 263] * 3), "expected numbers"),
    ],
)
def test_bad_motions_are_named_by_index(bad, problem):
    good = np.zeros((5, 263))
    with pytest.raises(MotionInputError) as caught:
        [validate_motion(m, i) for i, m in enumerate([good, good, bad])]
    assert caught.value.index == 2
    assert str(caught.value).startswith("motions[2]: ") and problem in str(caught.value)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, MotionDataError)


def test_inf_in_one_frame_names_the_frame():
    bad = np.zeros((20, 263))
    bad[13, 4] = np.inf
    with pytest.raises(MotionInputError, match=r"motions\[0\]: contains NaN or inf \(first at frame 13, feature 4\)"):
        validate_motion(bad, 0)


def test_no_motions_is_an_error():
    with pytest.raises(MotionDataError, match="no motions"):
        pad_motions([])


def test_tokenizer_pads_to_the_fixed_served_length(tokenizer_json):
    tokenizer = TextTokenizer(tokenizer_json, max_tokens=12)
    ids, mask = tokenizer.encode(["walk", "a person walks"])
    assert ids.shape == mask.shape == (2, 12)  # whatever the captions: Triton's batcher merges equal shapes only
    assert mask[0].tolist() == [1, 1, 1] + [0] * 9 and ids[0, 3:].tolist() == [0] * 9
    longest = TextTokenizer(tokenizer_json, max_tokens=12, fixed_length=False).encode(["walk", "a person walks"])
    assert longest[0].shape == (2, 5)
    np.testing.assert_array_equal(longest[0], ids[:, :5])


def test_tokenizer_pads_to_the_longest_and_truncates_keeping_sep(tokenizer_json):
    tokenizer = TextTokenizer(tokenizer_json, max_tokens=6, fixed_length=False)
    ids, mask = tokenizer.encode(["walk", "a person walks forward and then turns around"])
    assert ids.dtype == mask.dtype == np.int64 and ids.shape == mask.shape == (2, 6)
    assert mask[0].tolist() == [1, 1, 1, 0, 0, 0] and mask[1].all()
    assert ids[0, 0] == ids[1, 0] == 101 and ids[0, 2] == ids[1, -1] == 102  # [CLS] ... [SEP]
    assert ids[0, 3:].tolist() == [0, 0, 0]
    # Lowercasing comes from tokenizer.json's normaliser, as in training.
    np.testing.assert_array_equal(tokenizer.encode(["WALK"])[0], tokenizer.encode(["walk"])[0])


def test_tokenizer_refuses_empty_texts_by_index(tokenizer_json):
    tokenizer = TextTokenizer(tokenizer_json, max_tokens=16)
    with pytest.raises(TextInputError, match=r"texts\[1\]: text is empty") as caught:
        tokenizer.encode(["a person waves", "   "])
    assert caught.value.index == 1
    with pytest.raises(TextInputError, match=r"texts\[0\]: expected a string"):
        tokenizer.encode([None])
    with pytest.raises(TypeError):
        tokenizer.encode("one string")


def test_tokenizer_missing_file_is_a_config_error(tmp_path):
    from motion_retrieval.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot load the tokenizer"):
        TextTokenizer(tmp_path / "tokenizer.json", 16)
