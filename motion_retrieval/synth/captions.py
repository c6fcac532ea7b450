"""Captions: what a clip's actions did, in words, the way people write them, in the style of HumanML3D or KIT-ML.

A caption is built from parts, each drawn from a list (``templates.py`` for the actions, this module for the rest):

- a verb phrase per action from its family's templates, slots filled from the action's parameters, so it states
  exactly the side, count, speed and direction the motion has, except that a third of the captions of a repeated
  action leave its count out ("waves with the left hand"), as people search; now and then a phrase naming the form;
- a sentence frame: "a person waves ...", "a man is waving ...", "they wave ...", casual queries such as "guy
  waving his left hand twice" or "person walks forward", "the video shows someone waving ...", "a person who ...";
  the frame sets the verb form (``phrasing.inflect``);
- a subject (a person, someone, a man, a woman, the figure, a guy ...), joins for sequences ("and then", "before
  turning ..."), sometimes a long description with how the take starts and ends;
- sometimes the person's style: an adjective ("a tired man"), an adverb ("someone proudly walks ...") or a manner
  phrase ("..., in a sad way"); only the style the motion was made with, never the neutral one.

Two dialects: ``humanml3d`` (lower case, varied frames, "a person walks forward slowly and then stops.") and
``kitml`` (short, capitalised, "A human walks 4 steps forward."). Every list is partitioned for the transfer
corpus (``variants.partition``): the ``train`` variant never produces a held-out template, frame, subject, join,
synonym or style word; the ``transfer`` variant describes actions only with held-out templates and phrases, and
mixes held-out subjects, frames, joins and synonyms into its wording (``_mixed``). Lists of fewer than three items
hold nothing out and are shared.
"""

from __future__ import annotations

import re

import numpy as np

from motion_retrieval.synth.actions import FAMILIES
from motion_retrieval.synth.phrasing import inflect
from motion_retrieval.synth.styles import NEUTRAL, Style, styles_for
from motion_retrieval.synth.templates import COUNT_FREE, EXTRAS, PHRASES, TEMPLATES
from motion_retrieval.synth.variants import check_variant, partition

__all__ = ["TEMPLATES", "caption_clip", "describe_action", "join_actions", "templates_for"]

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve", "thirteen", "fourteen", "fifteen", "sixteen")
_SPEED_ADVERBS = {
    "slow": ("slowly", "at a slow pace", "leisurely", "gently", "in no hurry", "unhurriedly"),
    "normal": ("", "", "at a normal pace", "at a steady pace"),
    "fast": ("quickly", "fast", "briskly", "at a fast pace", "rapidly", "hurriedly"),
}
_PACE = {"slow": ("slow", "leisurely", "gentle"), "normal": ("normal", "steady", "moderate"),
         "fast": ("fast", "quick", "brisk")}
_COUNTER_CLOCKWISE = ("counterclockwise", "anticlockwise", "counter-clockwise")

# (determiner, noun, weight); the possessive follows the noun.
_SUBJECTS = {
    "humanml3d": (
        ("a", "person", 6.0), ("", "someone", 2.5), ("an", "individual", 1.0), ("a", "man", 2.5),
        ("the", "person", 2.0), ("a", "character", 1.0), ("a", "woman", 1.5), ("a", "human", 1.0),
        ("the", "subject", 1.0), ("the", "figure", 1.0), ("a", "guy", 1.0), ("", "somebody", 1.0),
        ("a", "figure", 1.0), ("the", "man", 1.0), ("this", "person", 1.0), ("the", "woman", 0.7),
        ("the", "human", 0.5), ("a", "performer", 1.0),
    ),
    "kitml": (
        ("a", "person", 5.0), ("a", "human", 4.0), ("the", "person", 1.0), ("", "someone", 2.0), ("a", "man", 1.0),
        ("the", "human", 1.0), ("", "human", 0.6), ("a", "subject", 0.5), ("the", "subject", 0.5),
    ),
}
_POSSESSIVES = {"man": ("his", "the"), "guy": ("his", "the"), "woman": ("her", "the")}
# (pattern, verb form of the action phrases, subject kind, weight). {S}: subject, {B}: bare noun, {VP}: actions.
_FRAMES = {
    "humanml3d": (
        ("{S} {VP}", "third", "subject", 10.0),
        ("{S} is {VP}", "ing", "subject", 2.0),
        ("in this clip, {S} {VP}", "third", "subject", 1.0),
        ("{B} {VP}", "ing", "bare", 2.5),
        ("they {VP}", "base", "they", 1.0),
        ("the video shows {S} {VP}", "ing", "subject", 1.0),
        ("{S} who {VP}", "third", "subject", 0.7),
        ("{B} {VP}", "third", "bare", 1.2),
        ("we see {S} {VP}", "ing", "subject", 1.0),
        ("{S} can be seen {VP}", "ing", "subject", 0.6),
        ("here {S} {VP}", "third", "subject", 0.5),
        ("a clip of {S} {VP}", "ing", "subject", 1.0),
        ("{S} is shown {VP}", "ing", "subject", 0.5),
    ),
    "kitml": (
        ("{S} {VP}", "third", "subject", 10.0),
        ("{S} is {VP}", "ing", "subject", 2.0),
        ("{B} {VP}", "ing", "bare", 1.0),
        ("{B} {VP}", "third", "bare", 0.8),
    ),
}
_JOIN2 = {
    "humanml3d": ("{a} and then {b}", "{a}, then {b}", "{a} before {b_ing}", "first {a}, then {b}", "{a} and {b}",
                  "{a}, and after that {b}", "{a}, and then {b}", "{a} and afterwards {b}", "{a} and next {b}"),
    "kitml": ("{a} and then {b}", "{a} and {b}", "{a} before {b_ing}", "{a}, then {b}"),
}
_JOIN3 = {
    "humanml3d": ("{head}, and then {last}", "first {head}, and finally {last}", "{head}, before finally {last_ing}",
                  "{head} and then {last}", "{head}, then {last}"),
    "kitml": ("{head} and then {last}", "{head}, then {last}", "{head} and finally {last}"),
}
_STARTS = {
    "standing": ("stands still for a moment", "starts in a standing position", "begins standing upright",
                 "stands with the arms at the sides", "stands up straight", "waits a moment"),
    "seated": ("sits on a chair", "starts out sitting down", "is seated at the start"),
}
_ENDS = {
    "standing": ("comes to a rest", "stands still again", "returns to an upright standing pose",
                 "ends standing still", "finishes in a neutral stance"),
    "seated": ("stays seated", "remains sitting", "ends up sitting on the chair"),
    "kneeling": ("stays down on one knee", "remains kneeling", "ends on one knee"),
    "floor": ("stays down on the floor", "remains on all fours", "ends up on the floor"),
}
_SLOT = re.compile(r"\{(\w+)(?::([\w ]+))?(?:\|(\w+))?\}")
_STYLE_MENTION = {"humanml3d": 0.4, "kitml": 0.2}
_EXTRA_MENTION = {"humanml3d": 0.3, "kitml": 0.15}
_LONG_FORM = {"humanml3d": 0.12, "kitml": 0.04}
# Share of a repeated action's captions that leave its ``{times}`` out ("waves with the left hand", "a person
# kicks"), as people search. Why: when every gait caption stated a step count, the text tower placed plain gait
# queries far from all locomotion, and count-free gait phrasings (templates.COUNT_FREE) fixed that; this does the
# same for every other action told with "once" / "twice" / "three times".
_UNCOUNTED = 1 / 3


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _pool(options, variant: str, held: bool = False) -> list:
    """What ``variant`` may draw from ``options``: all of them for something only the transfer corpus has (a
    held-out form or style); otherwise the variant's part, or the whole list when it is too short to split."""
    options = list(options)
    if held:
        return options
    return partition(options, variant) or options


def _mixed(rng: np.random.Generator, options, variant: str, p_held: float) -> list:
    """For the wording around the action (subjects, frames, joins, synonyms): training draws its part of the list;
    transfer draws the held-out part with probability ``p_held`` and otherwise the training part, so transfer
    captions are not all made of rare frames and subjects while training still never sees a held-out one."""
    options = list(options)
    part = "transfer" if variant == "transfer" and rng.random() < p_held else "train"
    return partition(options, part) or options


def _weighted(rng: np.random.Generator, items, variant: str, p_held: float):
    """One of ``items`` (tuples whose last field is a weight), drawn as ``_mixed`` does."""
    pool = _mixed(rng, items, variant, p_held)
    w = np.array([item[-1] for item in pool], dtype=np.float64)
    return pool[int(rng.choice(len(pool), p=w / w.sum()))]


def templates_for(family: str, dialect: str, variant: str = "train") -> list[str]:
    """The templates ``variant`` captions of ``family`` in ``dialect`` are made from: a strict partition, except
    for a family whose only template is one phrase slot (``{turn}``): its phrase lists are partitioned instead.
    A gait's count-free phrasings (``COUNT_FREE``) are partitioned the same way and added to its list."""
    hml, kit = TEMPLATES[family]
    templates = (kit if kit is not None else hml) if dialect == "kitml" else (hml or kit)
    if len(templates) == 1:
        return list(templates)
    return partition(templates, variant) + partition(COUNT_FREE.get(family, []), variant)


def _held_form(family: str, params: dict) -> bool:
    """Whether ``params`` use a form only the transfer corpus has."""
    form = params.get("form")
    return form is not None and form in FAMILIES[family].forms_for("transfer")


def _without_count(template: str) -> str:
    """``template`` with its ``{times}`` left out and the commas it leaves behind dropped: "waves goodbye with
    {hand}, {times}" -> "waves goodbye with {hand}". Spaces, and a space before a comma ("{kick} , using"), are
    tidied with every phrase at the end of ``describe_action``."""
    return re.sub(r",(\s*,)+", ",", template.replace("{times}", "")).rstrip(", ")


def _number(n: int, dialect: str, rng: np.random.Generator) -> str:
    if dialect == "kitml" and n > 1 and rng.random() < 0.4:
        return str(n)  # KIT-ML annotators often write digits ("walks 4 steps")
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def _times(n: int, dialect: str, rng: np.random.Generator) -> str:
    if n == 1:
        return "once"
    if n == 2 and (dialect == "humanml3d" or rng.random() < 0.3):
        return _pick(rng, ("twice", "twice", "two times"))
    return f"{_number(n, dialect, rng)} times"


def _plural(noun: str) -> str:
    if " to " in noun:  # "kick to the side" -> "kicks to the side"
        head, rest = noun.split(" to ", 1)
        return f"{_plural(head)} to {rest}"
    return noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")


def _counted(n: int, noun: str, dialect: str, rng: np.random.Generator) -> str:
    if n == 1:
        return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}" if rng.random() < 0.5 else f"one {noun}"
    return f"{_number(n, dialect, rng)} {_plural(noun)}"


def _phrase_options(slot: str, params: dict, dialect: str) -> list[str]:
    key, hml, kit = PHRASES[slot]
    table = kit if dialect == "kitml" and kit is not None else hml
    try:
        return list(table[params[key]])
    except KeyError:
        raise KeyError(f"phrase slot {{{slot}}} has no words for {key}={params.get(key)!r}") from None


def describe_action(family: str, params: dict, rng: np.random.Generator, dialect: str = "humanml3d",
                    possessive: str = "the", variant: str = "train", extras: bool = True) -> str:
    """One verb phrase (third person, no subject) for ``family`` done with ``params``."""
    forms = FAMILIES[family].forms
    if forms and "form" not in params:  # as build_action: a family's first form is its plain one
        params = dict(params, form=forms[0])
    templates = templates_for(family, dialect, check_variant(variant))
    if not templates:
        raise ValueError(f"family {family!r} has no {variant} caption templates in the {dialect} dialect")
    held = _held_form(family, params)
    count = int(params.get("count", params.get("steps", 1)))
    side = params.get("side")

    def fill(match: re.Match) -> str:
        slot, noun, form = match.group(1), match.group(2), match.group(3)
        if slot == "n":
            if noun in PHRASES:
                noun = _pick(rng, _pool(_phrase_options(noun, params, dialect), variant, held))
            return _counted(count, noun, dialect, rng)
        if slot in PHRASES:
            phrase = _pick(rng, _pool(_phrase_options(slot, params, dialect), variant, held))
            phrase = _SLOT.sub(fill, phrase)
            return inflect(phrase, form) if form else phrase
        if slot == "side":
            return side
        if slot == "other":
            return "right" if side == "left" else "left"
        if slot == "toward":
            return params["toward"]
        if slot == "poss":
            return possessive
        if slot == "times":
            return _times(count, dialect, rng)
        if slot == "speed":
            return _pick(rng, _mixed(rng, _SPEED_ADVERBS[params.get("speed", "normal")], variant, 0.6))
        if slot == "pace":
            return _pick(rng, _mixed(rng, _PACE[params.get("speed", "normal")], variant, 0.6))
        if slot == "clock":
            return "clockwise" if side == "right" else _pick(rng, _mixed(rng, _COUNTER_CLOCKWISE, variant, 0.6))
        if slot == "gait":
            return "walks" if params.get("gait", "walk") == "walk" else "jogs"
        if slot == "arms":
            return "both arms" if side == "both" else f"the {side} arm"
        if slot == "hand":
            return "both hands" if side == "both" else f"the {side} hand"
        if slot == "my_hand":
            return "both hands" if side == "both" else f"{possessive} {side} hand"
        if slot == "arm_s":
            return "arms" if side == "both" else "arm"
        if slot == "it":
            return "them" if side == "both" else "it"
        raise KeyError(f"template slot {{{slot}}} of family {family!r} has no value")

    template = _pick(rng, templates)
    if "{times}" in template and rng.random() < _UNCOUNTED:
        template = _without_count(template)
    phrase = _SLOT.sub(fill, template)
    if extras and family in EXTRAS and rng.random() < _EXTRA_MENTION[dialect]:
        key, hml, kit = EXTRAS[family]
        table = kit if dialect == "kitml" and kit is not None else hml
        options = [o for o in _pool(table.get(params.get(key), ()), variant, held) if o]
        if options:
            extra = _SLOT.sub(fill, _pick(rng, options))
            phrase += (" " if extra.startswith("and ") or rng.random() < 0.5 else ", ") + extra
    return re.sub(r"\s+,", ",", " ".join(phrase.split()))  # an empty slot before a comma: "takes a bow, once"


def join_actions(phrases: list[str], rng: np.random.Generator, dialect: str, variant: str = "train",
                 form: str = "third") -> str:
    """Third-person verb phrases in temporal order, put in verb ``form`` and joined the way annotators write
    sequences ("walks forward and then turns left", "walking forward before turning left")."""
    if len(phrases) == 1:
        return inflect(phrases[0], form)
    done = [inflect(p, form) for p in phrases]
    if len(phrases) == 2:
        pattern = _pick(rng, _mixed(rng, _JOIN2[dialect], variant, 0.5))
        return pattern.format(a=done[0], b=done[1], b_ing=inflect(phrases[1], "ing"))
    pattern = _pick(rng, _mixed(rng, _JOIN3[dialect], variant, 0.5))
    return pattern.format(head=", ".join(done[:-1]), last=done[-1], last_ing=inflect(phrases[-1], "ing"))


def _style_words(style: Style, kind: str, variant: str) -> list[str]:
    held = style in styles_for("transfer")
    return [w for w in _pool(getattr(style, kind), variant, held) if w]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption_clip(actions: list[tuple[str, dict]], rng: np.random.Generator, dialect: str = "humanml3d",
                 style: Style = NEUTRAL, variant: str = "train") -> str:
    """One full caption for a clip made of ``actions`` (family, params) in order, performed in ``style``."""
    check_variant(variant)
    det, noun, _ = _weighted(rng, _SUBJECTS[dialect], variant, 0.6)
    pattern, form, kind, _ = _weighted(rng, _FRAMES[dialect], variant, 0.35)
    if kind == "they":
        possessive = "their"
    else:
        choices = _POSSESSIVES.get(noun, ("their", "the", "his") if dialect == "humanml3d" else ("the", "his"))
        possessive = _pick(rng, choices)
    phrases = [describe_action(f, q, rng, dialect, possessive, variant) for f, q in actions]
    if rng.random() < _LONG_FORM[dialect] * (2 if len(actions) > 1 else 1):
        first, last = FAMILIES[actions[0][0]], FAMILIES[actions[-1][0]]
        if first.start in _STARTS and rng.random() < 0.7:
            phrases.insert(0, _pick(rng, _mixed(rng, _STARTS[first.start], variant, 0.5)))
        if last.end in _ENDS and actions[-1][0] != "stand":
            phrases.append(_pick(rng, _mixed(rng, _ENDS[last.end], variant, 0.5)))
    vp = join_actions(phrases, rng, dialect, variant, form)

    subject = f"{det} {noun}".strip()
    bare = noun
    if style is not NEUTRAL and rng.random() < _STYLE_MENTION[dialect]:
        ways = []
        if kind in ("subject", "bare") and (det or kind == "bare") and noun not in ("someone", "somebody"):
            ways.append("adjectives")
        ways += ["adverbs", "manners"]
        way = _pick(rng, ways)
        words = _style_words(style, way, variant)
        if words:
            word = _pick(rng, words)
            if way == "adjectives":
                subject = f"{_article(word) if det in ('a', 'an') else det} {word} {noun}".strip()
                bare = f"{word} {noun}"
            elif way == "adverbs":
                vp = f"{vp[:3]}{word} {vp[3:]}" if vp.startswith("is ") else f"{word} {vp}"
            else:
                vp = f"{vp}{_pick(rng, (', ', ' '))}{word}"
    text = pattern.replace("{S}", subject).replace("{B}", bare).replace("{VP}", vp)
    text = " ".join(text.split())
    if dialect == "kitml":
        text = text[0].upper() + text[1:]
        return text + ("." if rng.random() < 0.9 else "")
    if kind == "bare":  # a search-box query: lower case, rarely a full stop
        return text + ("." if rng.random() < 0.2 else "")
    if rng.random() < 0.15:
        text = text[0].upper() + text[1:]
    return text + ("." if rng.random() < 0.75 else "")
