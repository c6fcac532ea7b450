"""Captions the way people write them, that never claim what the motion does not do, and the train/transfer
partition of everything they are made of."""

from __future__ import annotations

import re

import numpy as np
import pytest

from motion_retrieval.mirror import mirror_caption
from motion_retrieval.synth.actions import FAMILIES, families_for
from motion_retrieval.synth.captions import (
    _FRAMES,
    _SUBJECTS,
    _without_count,
    caption_clip,
    describe_action,
    templates_for,
)
from motion_retrieval.synth.phrasing import inflect
from motion_retrieval.synth.styles import NEUTRAL, STYLES, styles_for
from motion_retrieval.synth.templates import COUNT_FREE, EXTRAS, PHRASES, TEMPLATES
from motion_retrieval.synth.variants import partition

DIALECTS = ("humanml3d", "kitml")
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
            "thirteen", "fourteen", "fifteen", "sixteen")
_SLOW = ("slowly", "slow", "leisurely", "gently", "gentle", "no hurry", "unhurriedly")
_FAST = ("quickly", "fast", "briskly", "quick", "brisk", "rapidly", "hurriedly", "energetic")
# (family, form) whose side parameter does not change the motion enough to be told (a box carried in both hands).
_SIDE_UNTOLD = {("carry", "box"), ("sword", "chop"), ("idle", "shift_weight"), ("cheer", "arms_up"),
                ("cheer", "jump")}
_COUNT_UNTOLD = {"shake_head", "cheer"}
# Families whose captions may leave the count out: the gaits' count-free phrasings, and every action told with a
# "{times}" ("waves with the left hand" as well as "waves with the left hand twice").
_COUNT_OPTIONAL = set(COUNT_FREE) | {fam for fam, (hml, kit) in TEMPLATES.items()
                                     if any("{times}" in t for t in [*(hml or []), *(kit or [])])}


def test_inflect_turns_clause_verbs_into_base_and_ing_forms():
    assert inflect("walks forward slowly and then stops", "base") == "walk forward slowly and then stop"
    assert inflect("walks forward slowly and then stops", "ing") == "walking forward slowly and then stopping"
    assert inflect("is walking four steps forward", "base") == "are walking four steps forward"
    assert inflect("is walking four steps forward", "ing") == "walking four steps forward"
    assert inflect("slowly walks three steps", "ing") == "slowly walking three steps"
    assert inflect("bends down and picks up an object", "ing") == "bending down and picking up an object"
    assert inflect("does two squats, swinging the arms", "base") == "do two squats, swinging the arms"
    assert inflect("gets down on hands and knees and crawls", "ing") == "getting down on hands and knees and crawling"
    assert inflect("carries a box", "ing") == "carrying a box" and inflect("carries a box", "base") == "carry a box"
    assert inflect("jogs in place", "third") == "jogs in place"
    with pytest.raises(ValueError, match="verb form"):
        inflect("walks", "past")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_family_has_disjoint_train_and_transfer_wording(dialect):
    for fam in families_for(dialect):
        train, transfer = templates_for(fam.name, dialect, "train"), templates_for(fam.name, dialect, "transfer")
        assert train and transfer, fam.name
        if len(train) == 1 and train == transfer:  # one phrase slot: the phrase lists are partitioned instead
            slot = re.fullmatch(r"\{(\w+)\}", train[0]).group(1)
            _, hml, kit = PHRASES[slot]
            table = kit if dialect == "kitml" and kit is not None else hml
            for value, options in table.items():
                assert len(options) >= 3, (fam.name, value)
                assert not set(partition(options, "train")) & set(partition(options, "transfer"))
        else:
            assert len(train) >= 2 and not set(train) & set(transfer), fam.name


def _template_regex(template: str) -> re.Pattern:
    """A template as a pattern: literal words in order, any text (or none) where a slot was."""
    pieces = [re.escape(" ".join(piece.split())) for piece in re.split(r"\{[^}]*\}", template)]
    return re.compile(r"\s*.*?\s*".join(pieces))


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("variant", ("train", "transfer"))
def test_action_phrases_come_only_from_their_variants_templates(dialect, variant):
    rng = np.random.default_rng(11)
    for fam in families_for(dialect):
        templates = templates_for(fam.name, dialect, variant)
        templates += [_without_count(t) for t in templates if "{times}" in t]  # the count may be left out
        patterns = [_template_regex(t) for t in templates]
        for _ in range(6):
            phrase = describe_action(fam.name, fam.sample_params(rng, variant), rng, dialect, "the", variant,
                                     extras=False)
            assert any(p.fullmatch(phrase) for p in patterns), (fam.name, variant, phrase)


def _side_count_speed_stated(family: str, params: dict, text: str) -> None:
    words = re.findall(r"[a-z0-9-]+", text.lower())
    side = params.get("side")
    if side in ("left", "right") and (family, params.get("form")) not in _SIDE_UNTOLD:
        clock = {"clockwise"} if side == "right" else {"counterclockwise", "anticlockwise", "counter-clockwise"}
        assert side in words or clock & set(words), (family, params, text)  # a turning sense tells the side too
    if side == "both":
        assert "both" in words, (family, params, text)
    count = params.get("count", params.get("steps"))
    if count is not None and family not in _COUNT_UNTOLD:
        told = {_NUMBERS[count], str(count)} | ({"once"} if count == 1 else set()) | (
            {"twice"} if count == 2 else set()) | ({"a", "an"} if count == 1 else set())
        if family in _COUNT_OPTIONAL and not told & set(words):  # a count-free phrasing states no count at all
            # ("hops on one leg, the left one" names a leg, not a count)
            uncounted = set(re.findall(r"[a-z0-9-]+", re.sub(r"\bone (leg|foot)\b|\b(left|right) one\b", "",
                                                             text.lower())))
            assert not (set(_NUMBERS) | {"once", "twice"}) & uncounted and not re.search(r"\d", text), (
                family, params, text)
        else:
            assert told & set(words), (family, params, text)
    speed = params.get("speed")
    if speed in ("slow", "fast"):
        vocabulary = _SLOW if speed == "slow" else _FAST
        assert any(w in text.lower() for w in vocabulary), (family, params, text)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("variant", ("train", "transfer"))
def test_captions_state_side_count_and_speed_in_every_sentence_shape(dialect, variant):
    rng = np.random.default_rng(3)
    styles = [NEUTRAL, *styles_for(variant)]
    for fam in families_for(dialect):
        for i in range(12):
            params = fam.sample_params(rng, variant)
            text = caption_clip([(fam.name, params)], rng, dialect, styles[i % len(styles)], variant)
            _side_count_speed_stated(fam.name, params, text)
            mirrored = mirror_caption(text)
            if params.get("side") in ("left", "right"):
                flipped = dict(params, side="right" if params["side"] == "left" else "left")
                _side_count_speed_stated(fam.name, flipped, mirrored)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_gaits_are_also_captioned_without_a_step_count(dialect):
    """People search for "a person walks forward", not for a step count: a gait's captions sometimes leave it out,
    in both variants, and otherwise state it."""
    rng = np.random.default_rng(5)
    for variant in ("train", "transfer"):
        for family in ("walk", "run", "sprint"):
            fam = FAMILIES[family]
            counted = free = 0
            for _ in range(60):
                params = fam.sample_params(rng, variant)
                words = set(re.findall(r"[a-z0-9]+", describe_action(family, params, rng, dialect, "the", variant,
                                                                     extras=False).lower()))
                told = {_NUMBERS[params["steps"]], str(params["steps"])} & words
                counted += bool(told)
                free += not told
            assert counted > 10 and free > 5, (dialect, variant, family, counted, free)


def _family_vocabulary(family: str) -> str:
    text = " ".join(" ".join(t) for t in TEMPLATES[family] if t)
    for table in (PHRASES, EXTRAS):
        for slot, (_, hml, kit) in table.items():
            if slot == family or f"{{{slot}" in text or f":{slot}}}" in text:
                for t in (hml, kit or {}):
                    text += " " + " ".join(" ".join(v) for v in t.values())
    return text.lower()


def test_captions_name_the_style_now_and_then_and_never_a_style_the_motion_lacks():
    rng = np.random.default_rng(4)
    mentioned = 0
    for i in range(600):
        fam = families_for("humanml3d")[i % len(families_for("humanml3d"))]
        style = STYLES[i % len(STYLES)] if i % 3 else NEUTRAL
        variant = "transfer" if style in styles_for("transfer") else "train"
        text = caption_clip([(fam.name, fam.sample_params(rng, variant))], rng, "humanml3d", style, variant).lower()
        own = _family_vocabulary(fam.name)
        for other in STYLES:
            words = [w for w in (*other.adjectives, *other.adverbs, *other.manners) if w not in own]
            found = [w for w in words if re.search(rf"\b{re.escape(w)}\b", text)]
            if other is style:
                mentioned += bool(found)
            else:
                assert not found, (style.name, other.name, text)
    assert 60 < mentioned < 300  # styled clips say so in some of their captions, not all


def test_captions_come_in_the_shapes_people_write():
    rng = np.random.default_rng(5)
    texts = []
    for i in range(400):
        fams = families_for("humanml3d")
        fam = fams[i % len(fams)]
        texts.append(caption_clip([(fam.name, fam.sample_params(rng))], rng, "humanml3d"))
    casual = [t for t in texts if re.match(r"(person|man|woman|guy|someone|figure|human) \w+ing\b", t)]
    assert len(casual) > 20  # "guy waving his left hand twice", "someone jogging forward for six steps"
    assert any(t.lower().startswith("they ") for t in texts)
    assert any(" is " in t and "ing " in t for t in texts)
    assert any(re.search(r"\b(a woman|the figure|a guy|someone)\b", t) for t in texts)
    lengths = [len(t.split()) for t in texts]
    assert min(lengths) <= 5 and max(lengths) >= 18  # short queries and long descriptions
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_train_captions_never_use_held_out_subjects_or_frames(dialect):
    rng = np.random.default_rng(6)
    held_subjects = [f"{d} {n}".strip() for d, n, _ in partition(_SUBJECTS[dialect], "transfer")]
    held_frames = [p.split("{")[0].strip() for p, *_ in partition(_FRAMES[dialect], "transfer") if
                   not p.startswith("{")]
    fams = families_for(dialect)
    seen_transfer = set()
    for i in range(500):
        fam = fams[i % len(fams)]
        text = caption_clip([(fam.name, fam.sample_params(rng))], rng, dialect).lower()
        for words in held_subjects + held_frames:
            assert not re.search(rf"(^|\s){re.escape(words.lower())}\b", text), (words, text)
        transfer = caption_clip([(fam.name, fam.sample_params(rng, "transfer"))], rng, dialect, NEUTRAL,
                                "transfer").lower()
        seen_transfer |= {w for w in held_subjects if re.search(rf"(^|\s){re.escape(w.lower())}\b", transfer)}
    assert seen_transfer  # and the transfer captions do use them


def test_training_never_samples_held_out_forms_and_transfer_prefers_them():
    rng = np.random.default_rng(7)
    for fam in FAMILIES.values():
        if not fam.forms:
            continue
        held = set(fam.forms_for("transfer"))
        train_forms = {fam.sample_params(rng, "train")["form"] for _ in range(40)}
        assert train_forms <= set(fam.forms_for("train")) and not train_forms & held, fam.name
        if held:
            transfer_forms = [fam.sample_params(rng, "transfer")["form"] for _ in range(40)]
            assert sum(f in held for f in transfer_forms) > 20, fam.name


@pytest.mark.parametrize("dialect", DIALECTS)
def test_repeated_actions_are_also_captioned_without_a_count(dialect):
    """As with the gaits: "a person kicks", "waves with the left hand" are how people search. An action told with
    "{times}" sometimes leaves the count out, in both variants, with no stray comma, and otherwise states it."""
    rng = np.random.default_rng(9)
    for variant in ("train", "transfer"):
        for family in ("wave", "kick", "jump", "clap", "bow"):
            fam = FAMILIES[family]
            counted = free = 0
            for _ in range(60):
                params = fam.sample_params(rng, variant)
                phrase = describe_action(family, params, rng, dialect, "the", variant, extras=False)
                words = set(re.findall(r"[a-z0-9]+", phrase.lower()))
                count = int(params.get("count", 1))
                told = {_NUMBERS[count], str(count)} | ({"once"} if count == 1 else set()) | (
                    {"twice"} if count == 2 else set()) | ({"a", "an"} if count == 1 else set())
                if told & words:
                    counted += 1
                else:
                    free += 1
                    assert not (set(_NUMBERS) | {"once", "twice"}) & words, (family, phrase)
                assert not re.search(r"\s,|,\s*,|,$", phrase), phrase
            # (a variant whose templates all count with a noun, "does two kicks", always states it)
            uncountable = not any("{times}" in t for t in templates_for(family, dialect, variant))
            assert counted > 20 and (free > 5 or uncountable and free == 0), (dialect, variant, family, counted, free)
