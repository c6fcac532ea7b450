"""HumanML3D folders: caption lines, writers, the reader, caption crops, and every bad input."""

from __future__ import annotations

import numpy as np
import pytest

from motion_retrieval.data.humanml3d import (
    HumanML3DFolder,
    caption_frames,
    crop_to_caption,
    format_text_line,
    parse_text_line,
    read_captions,
    read_humanml3d,
    read_split,
    write_motion,
    write_split,
)
from motion_retrieval.data.record import Caption
from motion_retrieval.errors import MotionDataError

REAL_LINE = (
    "a man kicks something or someone with his left leg.#a/DET man/NOUN kick/VERB something/PRON or/CCONJ "
    "someone/PRON with/ADP his/DET left/ADJ leg/NOUN#0.0#0.0"
)


# ----------------------------------------------------------------------------------------------- caption lines
def test_parse_real_line_whole_clip():
    caption = parse_text_line(REAL_LINE, "texts/000000.txt", 1)
    assert caption.text == "a man kicks something or someone with his left leg."
    assert caption.tokens[:3] == ["a/DET", "man/NOUN", "kick/VERB"] and len(caption.tokens) == 10
    assert caption.whole_clip


def test_parse_segment_and_nan_times():
    caption = parse_text_line("he jumps.#he/PRON jump/VERB#1.5#3.25")
    assert (caption.start, caption.end) == (1.5, 3.25) and not caption.whole_clip
    assert parse_text_line("he jumps.#he/PRON jump/VERB#nan#nan").whole_clip  # Guo's loader reads nan as 0


def test_format_parse_round_trip_and_tokens_when_missing():
    caption = Caption("A person waves, then sits down.", start=0.5, end=2.0)
    line = format_text_line(caption)
    assert (
        line == "A person waves, then sits down.#a/OTHER person/OTHER waves/OTHER then/OTHER sits/OTHER "
        "down/OTHER#0.5#2.0"
    )
    back = parse_text_line(line)
    assert (back.text, back.start, back.end) == (caption.text, 0.5, 2.0)
    assert parse_text_line(format_text_line(parse_text_line(REAL_LINE))) == parse_text_line(REAL_LINE)


def test_caption_containing_hash_parses_from_the_right_but_is_not_written():
    assert parse_text_line("step #2 then stop#step/VERB#0#0").text == "step #2 then stop"
    with pytest.raises(MotionDataError, match="must not contain '#'"):
        format_text_line(Caption("step #2"))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("a person walks forward", "no '#' fields"),
        ("a person walks#a/DET#0.0", "3 '#' fields"),
        ("a person walks#a/DET#zero#1.0", "start time 'zero' is not a number"),
        ("a person walks#a/DET#3.0#1.0", "ends before it starts"),
        ("#a/DET#0.0#0.0", "empty caption"),
        ("walks#w/VERB#-1.0#2.0", "negative"),
    ],
)
def test_bad_caption_lines_name_file_and_line(line, problem):
    with pytest.raises(MotionDataError, match=problem) as info:
        parse_text_line(line, "texts/000123.txt", 7)
    assert str(info.value).startswith("texts/000123.txt:7: ")


def test_read_captions_skips_blank_lines_and_reports_the_bad_one(tmp_path):
    path = tmp_path / "000001.txt"
    path.write_text(f"{REAL_LINE}\n\n{REAL_LINE}\n", encoding="utf-8")
    assert len(read_captions(path)) == 2
    path.write_text(f"{REAL_LINE}\nno hash here\n", encoding="utf-8")
    with pytest.raises(MotionDataError, match=r"000001.txt:2: caption line has no '#'"):
        read_captions(path)


# ----------------------------------------------------------------------------------------------- writers
def test_write_motion_and_split_produce_the_published_layout(tmp_path, sample_joints, sample_features):
    write_motion(tmp_path, "000042", joints=sample_joints, features=sample_features, captions=[Caption("a walk")])
    write_split(tmp_path, "train", ["000042", "000042", "M000042"])
    assert np.load(tmp_path / "new_joints" / "000042.npy").shape == (170, 22, 3)
    assert np.load(tmp_path / "new_joint_vecs" / "000042.npy").dtype == np.float32
    assert (tmp_path / "texts" / "000042.txt").read_text() == "a walk#a/OTHER walk/OTHER#0.0#0.0\n"
    assert read_split(tmp_path, "train") == ["000042", "M000042"]  # duplicates dropped, order kept
    with pytest.raises(MotionDataError, match="joints must be"):
        write_motion(tmp_path, "bad", joints=np.zeros((10, 17, 3)))


# ----------------------------------------------------------------------------------------------- reader
def test_reads_the_real_sample_folder_in_place(humanml3d_sample, sample_joints, sample_features):
    records = read_humanml3d(humanml3d_sample)
    assert [r.id for r in records] == ["012314"]
    record = records[0]
    assert record.dataset == "humanml3d" and record.fps == 20.0 and record.captions == []
    np.testing.assert_array_equal(record.features, sample_features)
    np.testing.assert_array_equal(record.joints, sample_joints)
    assert record.source.endswith("new_joint_vecs/012314.npy")


def test_folder_with_splits_captions_and_mirrors(make_humanml3d):
    root = make_humanml3d()
    folder = HumanML3DFolder(root)
    assert folder.ids() == ["000001", "000002", "M000001"]
    train = read_humanml3d(root, "train")
    assert [r.id for r in train] == ["000001", "000002"] and {r.split for r in train} == {"train"}
    test = read_humanml3d(root, "test")
    assert test[0].id == "M000001" and test[0].tags == ["mirrored"]
    everything = read_humanml3d(root)
    assert {r.id: r.split for r in everything} == {"000001": "train", "000002": "train", "M000001": "test"}
    record = everything[0]
    assert len(record.captions) == 2 and record.captions[1].start == 1.0 and record.captions[1].end == 4.5


def test_missing_split_file_is_an_error_naming_it(make_humanml3d):
    root = make_humanml3d()
    with pytest.raises(MotionDataError, match="split file for 'train_val' not found") as info:
        read_humanml3d(root, "train_val")
    assert info.value.path.endswith("train_val.txt")


def test_folder_with_only_new_joints_gets_features_computed(make_humanml3d, sample_features):
    root = make_humanml3d(with_features=False)
    record = HumanML3DFolder(root).load("000001")
    assert record.features.shape == (169, 263)  # features of frame t use joints t and t + 1
    assert record.source.endswith("new_joints/000001.npy")
    # The published features of the same motion: the pipeline's faithfulness is features.py's golden test; here we
    # check that the reader wired it up (root height and joint positions agree closely).
    np.testing.assert_allclose(record.features[:, 3:67], sample_features[:169, 3:67], atol=1e-2)
    assert HumanML3DFolder(root).load("000001", compute_missing=False).features is None


def test_not_a_humanml3d_folder(tmp_path):
    with pytest.raises(MotionDataError, match="neither new_joint_vecs/ nor new_joints/"):
        HumanML3DFolder(tmp_path)


def _break(root, kind: str) -> str:
    """Damage motion 000002 of a HumanML3D folder in one way; returns the expected problem."""
    vecs, joints = root / "new_joint_vecs" / "000002.npy", root / "new_joints" / "000002.npy"
    if kind == "truncated":
        data = vecs.read_bytes()
        vecs.write_bytes(data[: len(data) // 2])
        return "cannot read .npy"
    if kind == "non-numeric":
        np.save(vecs, np.array([["a", "b"]] * 3))
        return "non-numeric array"
    if kind == "nan":
        features = np.load(vecs)
        features[5:8, 10] = np.nan
        np.save(vecs, features)
        return r"3 frame\(s\) with NaN/inf values \(frames 5, 6, 7\)"
    if kind == "wrong-joints":
        np.save(joints, np.zeros((40, 21, 3), np.float32))
        return r"joints must have shape \(T, 22, 3\)"
    if kind == "wrong-dim":
        np.save(vecs, np.zeros((40, 251), np.float32))
        return r"features must have shape \(T, 263\)"
    if kind == "caption":
        (root / "texts" / "000002.txt").write_text("a person walks without fields\n")
        return "000002.txt:1: caption line has no '#'"
    if kind == "missing":
        vecs.unlink()
        joints.unlink()
        return "no motion file for id '000002'"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["truncated", "non-numeric", "nan", "wrong-joints", "wrong-dim", "caption", "missing"])
def test_bad_clip_is_reported_and_the_rest_read(make_humanml3d, kind):
    root = make_humanml3d()
    problem = _break(root, kind)
    with pytest.raises(MotionDataError, match=problem):
        HumanML3DFolder(root).load("000002")
    errors: list[MotionDataError] = []
    records = read_humanml3d(root, "train", errors=errors)
    assert [r.id for r in records] == ["000001"]
    assert len(errors) == 1 and "000002" in str(errors[0])


# ----------------------------------------------------------------------------------------------- caption crops
def test_crop_to_caption_uses_guos_frame_rule(make_humanml3d, sample_features):
    record = HumanML3DFolder(make_humanml3d()).load("000001")
    whole, segment = record.captions
    assert crop_to_caption(record, whole).features is record.features  # whole clip: the motion itself
    cropped = crop_to_caption(record, segment)  # 1.0 .. 4.5 s -> frames [20, 90)
    assert caption_frames(segment, record.num_frames) == (20, 90)
    np.testing.assert_array_equal(cropped.features, sample_features[20:90])
    assert cropped.joints.shape == (70, 22, 3)
    assert (cropped.start, cropped.end) == (1.0, 4.5)
    assert cropped.id == "000001@1000-4500"
    assert cropped.captions == [Caption(segment.text, segment.tokens, 0.0, 0.0)]


def test_crop_outside_the_motion_is_an_error(make_humanml3d):
    record = HumanML3DFolder(make_humanml3d()).load("000001")
    with pytest.raises(MotionDataError, match="outside the 8.50 s motion"):
        crop_to_caption(record, Caption("late", start=20.0, end=30.0))
