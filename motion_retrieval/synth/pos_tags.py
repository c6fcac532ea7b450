"""A tiny part-of-speech tagger for the synthetic captions: HumanML3D's ``word/POS`` tokens without spaCy.

HumanML3D stores each caption with spaCy tokens, lemmatised and tagged with universal POS tags
(``a/DET man/NOUN kick/VERB something/PRON ...``, punctuation dropped). Our captions come from a closed set of
templates, so a lexicon plus two context rules reproduces that shape: a known verb form right after a determiner,
number or adjective is a noun ("does three squats"), otherwise a verb ("squats twice").
"""

from __future__ import annotations

import re

__all__ = ["known_word", "pos_tokens"]

_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")

_VERBS = (
    "alternate ascend balance bend bow box bring circle clap clean climb crawl curve dance descend do drink drop get "
    "go hit hold hop jab jog jump keep kick kneel lean leap lift limp lower lunge make march mime move perform pick "
    "play practice punch put raise reach rise rotate run shuffle sit skip sneak spin spread sprint squat stand step "
    "stir stop stretch sway swing take throw tiptoe touch turn twirl twist use wait walk wave whirl wind wipe zigzag"
).split()
_DOUBLED = {"run", "jog", "hop", "skip", "step", "clap", "sit", "stop", "drop", "spin", "put", "hit", "get",
            "zigzag", "jab", "box", "stir"}
_IRREGULAR_THIRD = {"do": "does", "go": "goes", "box": "boxes", "reach": "reaches", "punch": "punches",
                    "stretch": "stretches", "march": "marches", "practice": "practices"}
_IRREGULAR_GERUND = {"box": "boxing", "tiptoe": "tiptoeing"}


def _third(verb: str) -> str:
    if verb in _IRREGULAR_THIRD:
        return _IRREGULAR_THIRD[verb]
    return verb + ("es" if verb.endswith(("sh", "ch", "x", "s", "z", "o")) else "s")


def _gerund(verb: str) -> str:
    if verb in _IRREGULAR_GERUND:
        return _IRREGULAR_GERUND[verb]
    if verb in _DOUBLED:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


_VERB_FORMS: dict[str, str] = {}
for _v in _VERBS:
    _VERB_FORMS.update({_v: _v, _third(_v): _v, _gerund(_v): _v})

_CLOSED = {
    "DET": "a an the his her their both all each that this",
    "PRON": "someone something it them they he she one's",
    "ADP": "above along at by for from in into of off on onto over to with after before across behind",
    "CCONJ": "and or but",
    "AUX": "is are",
    "ADV": (
        "ahead around back backward backwards briskly diagonally down energetically forward gently happily high "
        "leisurely lightly once out overhand overhead quickly sideways slightly slowly still straight then there "
        "together twice up upstairs downstairs upward upwards first finally clockwise counterclockwise anticlockwise "
        "counter-clockwise anti-clockwise again fast"
    ),
    "ADJ": "big energetic full half injured left right moderate normal quick slow steady stiff upper whole seated air "
           "light brisk quarter",
    "NUM": "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen",
}
_POS: dict[str, str] = {w: pos for pos, words in _CLOSED.items() for w in words.split()}
_NOUN_LEMMAS = {"feet": "foot", "times": "time", "stairs": "stair", "steps": "step", "jacks": "jack",
                "punches": "punch", "lunges": "lunge", "squats": "squat", "kicks": "kick", "circles": "circle",
                "degrees": "degree", "hops": "hop", "jumps": "jump", "bows": "bow", "spins": "spin", "raises": "raise",
                "skips": "skip", "tiptoes": "tiptoe", "fours": "four", "knees": "knee", "toes": "toe", "hands": "hand",
                "arms": "arm", "legs": "leg", "heels": "heel", "bends": "bend", "twists": "twist"}
_NOUN_CONTEXT = {"DET", "NUM", "ADJ", "ADP"}


def _tag(word: str, previous: str | None, previous_word: str | None) -> tuple[str, str]:
    lower = word.lower()
    if lower.isdigit():
        return lower, "NUM"
    if lower in _VERB_FORMS:
        infinitive = previous_word == "to" and _VERB_FORMS[lower] == lower  # "to touch", "to drink"
        if infinitive or previous not in _NOUN_CONTEXT:
            return _VERB_FORMS[lower], "VERB"
    if lower in _POS:
        return lower, _POS[lower]
    if lower in _NOUN_LEMMAS:
        return _NOUN_LEMMAS[lower], "NOUN"
    if lower in _VERB_FORMS:  # a verb form used as a noun: "a throwing motion", "three squats"
        return _VERB_FORMS[lower], "NOUN"
    return lower, "NOUN"


def pos_tokens(text: str) -> list[str]:
    """HumanML3D-style ``lemma/UPOS`` tokens of a caption (punctuation dropped)."""
    tokens, previous, previous_word = [], None, None
    for word in _WORD.findall(text):
        lemma, pos = _tag(word, previous, previous_word)
        tokens.append(f"{lemma}/{pos}")
        previous, previous_word = pos, word.lower()
    return tokens


def known_word(word: str) -> bool:
    """Whether the lexicon knows ``word`` (every word our templates produce should be known)."""
    lower = word.lower()
    return lower.isdigit() or lower in _VERB_FORMS or lower in _POS or lower in _NOUN_LEMMAS or lower in _NOUNS


_NOUNS = set((
    "angle arc arm ball beat body bowl calf chair chest circle club cup curve dance drink figure fist flight floor "
    "foot forehand front golf ground guitar hand head height hello hip human jack jump kick knee leg limp line man "
    "motion mouth object pace pattern person place position punch racket seat shadow shoulder side spot squat stair "
    "step surface swing table tennis time toe torso turn violin waist way woman zag zig zigzag tiptoe lunge bow spin "
    "hop raise skip reverse"
).split())
