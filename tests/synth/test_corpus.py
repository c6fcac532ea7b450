"""The written corpus: real folder layout, readers load it, determinism, mirrors, splits, captions, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from motion_retrieval.cli import main
from motion_retrieval.data.humanml3d import parse_text_line, read_humanml3d, read_split
from motion_retrieval.data.kitml import read_kitml
from motion_retrieval.errors import ConfigError
from motion_retrieval.synth.actions import families_for
from motion_retrieval.synth.captions import caption_clip
from motion_retrieval.synth.corpus import CorpusConfig, generate_corpus
from motion_retrieval.synth.pos_tags import known_word, pos_tokens
from motion_retrieval.synth.styles import NEUTRAL, STYLES
from motion_retrieval.synth.variants import VARIANTS

N = 6


@pytest.fixture(scope="module")
def hml_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "hml"
    generate_corpus(out, "humanml3d", n=N, seed=3)
    return out


@pytest.fixture(scope="module")
def kit_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "kit"
    generate_corpus(out, "kitml", n=N, seed=3)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path, hml_corpus):
    again = tmp_path / "again"
    generate_corpus(again, "humanml3d", n=N, seed=3)
    assert _files(again) == _files(hml_corpus)
    other = tmp_path / "other"
    generate_corpus(other, "humanml3d", n=N, seed=4)
    a, b = _files(hml_corpus), _files(other)
    assert a.keys() == b.keys()
    assert a["new_joints/000000.npy"] != b["new_joints/000000.npy"]
    assert a["texts/000000.txt"] != b["texts/000000.txt"] or a["new_joints/000001.npy"] != b["new_joints/000001.npy"]


@pytest.mark.parametrize("dialect, joints, dim, digits", [("humanml3d", 22, 263, 6), ("kitml", 21, 251, 5)])
def test_layout_shapes_ids_and_units(request, dialect, joints, dim, digits):
    root = request.getfixturevalue("hml_corpus" if dialect == "humanml3d" else "kit_corpus")
    ids = read_split(root, "all")
    assert len(ids) == 2 * N
    originals = [i for i in ids if not i.startswith("M")]
    assert all(re.fullmatch(rf"\d{{{digits}}}", i) for i in originals)
    assert {"M" + i for i in originals} == {i for i in ids if i.startswith("M")}
    scale = 1000.0 if dialect == "kitml" else 1.0
    for motion_id in ids:
        j = np.load(root / "new_joints" / f"{motion_id}.npy")
        f = np.load(root / "new_joint_vecs" / f"{motion_id}.npy")
        assert j.dtype == np.float32 and f.dtype == np.float32
        assert j.shape[1:] == (joints, 3) and f.shape == (j.shape[0] - 1, dim)
        fps = 20.0 if dialect == "humanml3d" else 12.5
        assert 2.0 <= j.shape[0] / fps <= 10.0
        assert np.isfinite(j).all() and np.isfinite(f).all()
        assert 0.7 * scale < j[0, 0, 1] < 1.2 * scale  # pelvis height of an adult, in metres or millimetres
        lines = (root / "texts" / f"{motion_id}.txt").read_text().splitlines()
        captions = [parse_text_line(line) for line in lines]
        assert len(captions) >= 3 and len({c.text for c in captions}) == len(captions)
        assert all(c.tokens and c.start == 0.0 and c.end == 0.0 for c in captions)
    mean, std = np.load(root / "Mean.npy"), np.load(root / "Std.npy")
    assert mean.shape == std.shape == (dim,) and (std > 0).all()


def test_kit_captions_are_capitalised_kit_style(kit_corpus):
    texts = [parse_text_line(line).text for p in (kit_corpus / "texts").glob("*.txt")
             for line in p.read_text().splitlines()]
    assert all(t[0].isupper() for t in texts)
    assert not any(t.lower().startswith(("a figure", "a woman")) for t in texts)  # HumanML3D-only subjects


def test_mirrors_share_the_split_and_swap_sides(hml_corpus):
    splits = {name: set(read_split(hml_corpus, name)) for name in ("train", "val", "test")}
    assert not (splits["train"] & splits["val"]) and not (splits["train"] & splits["test"])
    for name, ids in splits.items():
        assert all(("M" + i in ids) for i in ids if not i.startswith("M")), name
    assert set(read_split(hml_corpus, "train_val")) == splits["train"] | splits["val"]
    for motion_id in read_split(hml_corpus, "all"):
        if motion_id.startswith("M"):
            continue
        j = np.load(hml_corpus / "new_joints" / f"{motion_id}.npy")
        m = np.load(hml_corpus / "new_joints" / f"M{motion_id}.npy")
        np.testing.assert_allclose(m[:, 1, 0], -j[:, 2, 0], atol=1e-5)  # mirrored left hip = -x of the right hip
        text = (hml_corpus / "texts" / f"{motion_id}.txt").read_text()
        mirrored = (hml_corpus / "texts" / f"M{motion_id}.txt").read_text()
        assert text.count("left") == mirrored.count("right") and text.count("right") == mirrored.count("left")


def test_split_fractions_are_about_80_5_15(tmp_path):
    config = CorpusConfig(n=40, seed=0)
    from motion_retrieval.synth.corpus import _split_of

    labels = _split_of(config.n, config.seed, config.split_fractions)
    assert (labels.count("train"), labels.count("val"), labels.count("test")) == (32, 2, 6)


def test_readers_load_both_dialects_with_finite_features(hml_corpus, kit_corpus):
    hml = read_humanml3d(hml_corpus)
    kit = read_kitml(kit_corpus)
    assert len(hml) == len(kit) == 2 * N
    for record in hml + kit:
        assert record.features.shape[1] == 263 and np.isfinite(record.features).all()
        assert len(record.captions) >= 3
        assert record.split in ("train", "val", "test")


def test_manifest_records_every_clip_and_its_actions(hml_corpus):
    manifest = json.loads((hml_corpus / "synth.json").read_text())
    assert manifest["skeleton"] == "smpl22" and manifest["config"]["seed"] == 3
    assert sorted(manifest["actions"]) == [f"{i:06d}" for i in range(N)]
    for actions in manifest["actions"].values():
        assert 1 <= len(actions) <= 3 and all(name in manifest["families"] for name, _ in actions)


@pytest.mark.parametrize("dialect", ("humanml3d", "kitml"))
def test_every_caption_word_is_in_the_tagger_lexicon(dialect):
    rng = np.random.default_rng(0)
    styles = [NEUTRAL, *STYLES]
    for variant in VARIANTS:
        for fam in families_for(dialect):
            for i in range(15):
                actions = [(fam.name, fam.sample_params(rng, variant)), ("turn", {"side": "left", "angle": 90})]
                text = caption_clip(actions, rng, dialect, styles[i % len(styles)], variant)
                unknown = [w for w in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", text) if not known_word(w)]
                assert not unknown, f"{fam.name}: {text!r} has unknown words {unknown}"
                assert len(pos_tokens(text)) == len(re.findall(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*", text))


def test_captions_state_the_parameters():
    rng = np.random.default_rng(0)
    counted = 0
    for _ in range(20):  # a repetition's count is stated, or left out (as people search), never wrong
        text = caption_clip([("hop", {"side": "right", "count": 3})], rng, "humanml3d")
        assert "right" in text and "left" not in text and not re.search(r"\b(two|twice|four|once)\b", text)
        counted += "three" in text
        text = caption_clip([("punch", {"side": "left", "count": 2})], rng, "kitml")
        assert "left" in text and not re.search(r"\b(three|once|one|3)\b", text)
        counted += "twice" in text or "two" in text or "2" in text
        text = caption_clip([("walk", {"speed": "slow", "steps": 4}), ("sit_down", {})], rng, "humanml3d")
        second = re.search(r"\b(sit\w*|seat\w*|chair)\b", text).start()  # words: "position" holds "sit"
        first = re.search(r"\b(walk\w*|stroll\w*|step\w*|forward|ahead)\b", text).start()
        assert first < second, text  # a sequence is told in order
    assert counted >= 20


def test_pos_tokens_look_like_humanml3d():
    assert pos_tokens("A man kicks with his left leg twice.") == [
        "a/DET", "man/NOUN", "kick/VERB", "with/ADP", "his/DET", "left/ADJ", "leg/NOUN", "twice/ADV"]
    assert pos_tokens("the person does three squats") == ["the/DET", "person/NOUN", "do/VERB", "three/NUM",
                                                          "squat/NOUN"]


def test_bad_configs_and_non_empty_output_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="dialect"):
        CorpusConfig(dialect="amass")
    with pytest.raises(ConfigError, match="n must be"):
        CorpusConfig(n=0)
    with pytest.raises(ConfigError, match="split_fractions"):
        CorpusConfig(split_fractions=(0.5, 0.5, 0.5))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        generate_corpus(tmp_path / "busy", n=1)


def test_cli_writes_a_corpus_and_prints_one_json_object(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["synth", "--out", str(out), "--dialect", "kitml", "--n", "2", "--seed", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["motions"] == 4 and result["dialect"] == "kitml" and result["families"] >= 30
    assert result["seconds_per_1000_clips"] > 0
    assert (out / "new_joint_vecs" / "00000.npy").is_file() and (out / "M00001.npy").exists() is False
    assert main(["synth", "--out", str(out), "--n", "1"]) == 1  # refuses a non-empty folder
    assert "not empty" in capsys.readouterr().err


@pytest.mark.parametrize("variant", ("train", "transfer"))
def test_a_smaller_corpus_is_a_prefix_of_a_larger_one(tmp_path, variant):
    small, large = tmp_path / "small", tmp_path / "large"
    generate_corpus(small, "humanml3d", n=3, seed=8, variant=variant)
    generate_corpus(large, "humanml3d", n=5, seed=8, variant=variant)
    for motion_id in ("000000", "000001", "000002", "M000002"):
        for folder, ext in (("new_joints", "npy"), ("new_joint_vecs", "npy"), ("texts", "txt")):
            a = (small / folder / f"{motion_id}.{ext}").read_bytes()
            assert a == (large / folder / f"{motion_id}.{ext}").read_bytes(), (motion_id, folder)


def test_transfer_corpus_is_deterministic_recorded_and_made_of_held_out_parts(tmp_path):
    from motion_retrieval.synth.styles import styles_for

    a, b, train = tmp_path / "a", tmp_path / "b", tmp_path / "train"
    summary = generate_corpus(a, "kitml", n=6, seed=2, variant="transfer")
    generate_corpus(b, "kitml", n=6, seed=2, variant="transfer")
    generate_corpus(train, "kitml", n=6, seed=2)
    assert _files(a) == _files(b) and summary.variant == "transfer"
    assert _files(a)["new_joints/00000.npy"] != _files(train)["new_joints/00000.npy"]
    manifest = json.loads((a / "synth.json").read_text())
    assert manifest["variant"] == manifest["config"]["variant"] == "transfer"
    held = {s.name for s in styles_for("transfer")} | {"neutral"}
    assert set(manifest["styles"].values()) <= held and sorted(manifest["styles"]) == sorted(manifest["actions"])
    assert json.loads((train / "synth.json").read_text())["variant"] == "train"
    assert len(read_kitml(a)) == 12
    with pytest.raises(ConfigError, match="variant"):
        CorpusConfig(variant="test")


def test_cli_writes_a_transfer_corpus(tmp_path, capsys):
    out = tmp_path / "transfer"
    assert main(["synth", "--out", str(out), "--n", "2", "--variant", "transfer", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["variant"] == "transfer" and result["motions"] == 4
    assert json.loads((out / "synth.json").read_text())["variant"] == "transfer"
