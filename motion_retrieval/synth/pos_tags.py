"""A tiny part-of-speech tagger for the synthetic captions: HumanML3D's ``word/POS`` tokens without spaCy.

HumanML3D stores each caption with spaCy tokens, lemmatised and tagged with universal POS tags
(``a/DET man/NOUN kick/VERB something/PRON ...``, punctuation dropped). Our captions come from a closed set of
templates, so a lexicon plus two context rules reproduces that shape: a known verb form right after a determiner,
number or adjective is a noun ("does three squats"), otherwise a verb ("squats twice").
"""

from __future__ import annotations

import re

__all__ = ["base_of_third", "gerund", "known_word", "pos_tokens"]

_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")

_VERBS = (
    "alternate ascend balance bend bow box bring circle clap clean climb crawl curve dance descend do drink drop get "
    "go hit hold hop jab jog jump keep kick kneel lean leap lift limp lower lunge make march mime move perform pick "
    "play practice punch put raise reach rise rotate run shuffle sit skip sneak spin spread sprint squat stand step "
    "stir stop stretch sway swing take throw tiptoe touch turn twirl twist use wait walk wave whirl wind wipe zigzag "
    "answer applaud ask back beckon begin bob bounce break burst call carry celebrate check cheer chop clasp come "
    "continue creep cross crouch cup curl cut dash drag drift duck end extend face fall favor fence fight finish flop "
    "fold follow gesture give glance grab greet grip head hurry invite lace lead let look lumber notice pirouette "
    "pivot place point present pull pump push race remain rest return rock roll rub salute say scan scratch search see "
    "shake shift shout shove show shrug signal sip slash slump stab stagger start stay strike stroll sweep talk thrust "
    "tilt toss try tuck weave yell hang nod stretch"
).split()
_DOUBLED = {"run", "jog", "hop", "skip", "step", "clap", "sit", "stop", "drop", "spin", "put", "hit", "get",
            "zigzag", "jab", "box", "stir", "nod", "chop", "stab", "shrug", "sip", "flop", "wag", "bob", "grab",
            "drag", "strum", "dip", "tap", "pat", "swim", "trot", "cup", "grip", "scan", "squat", "begin"}
_IRREGULAR_THIRD = {"do": "does", "go": "goes", "box": "boxes", "reach": "reaches", "punch": "punches",
                    "stretch": "stretches", "march": "marches", "practice": "practices", "have": "has"}
_IRREGULAR_GERUND = {"box": "boxing", "tiptoe": "tiptoeing", "lie": "lying"}
_IRREGULAR_PAST = {"hold": "held", "bend": "bent", "see": "seen", "show": "shown", "take": "taken", "give": "given",
                   "throw": "thrown", "fall": "fallen", "get": "got", "put": "put", "let": "let", "cut": "cut",
                   "spread": "spread", "hit": "hit", "make": "made", "keep": "kept", "lead": "led", "stand": "stood",
                   "sit": "sat", "come": "come", "go": "gone", "run": "run", "swing": "swung", "strike": "struck",
                   "bring": "brought", "break": "broken", "begin": "begun", "wind": "wound", "sweep": "swept",
                   "creep": "crept", "fight": "fought", "lean": "leaned", "leap": "leaped", "hang": "hung",
                   "say": "said"}


def _third(verb: str) -> str:
    if verb in _IRREGULAR_THIRD:
        return _IRREGULAR_THIRD[verb]
    if verb.endswith("y") and verb[-2:-1] not in ("a", "e", "i", "o", "u"):
        return verb[:-1] + "ies"
    return verb + ("es" if verb.endswith(("sh", "ch", "x", "s", "z", "o")) else "s")


def gerund(verb: str) -> str:
    """The -ing form of a base-form verb of the lexicon's spelling rules ("jog" -> "jogging")."""
    if verb in _IRREGULAR_GERUND:
        return _IRREGULAR_GERUND[verb]
    if verb in _DOUBLED:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith(("ee", "ye")):
        return verb[:-1] + "ing"
    return verb + "ing"


def _past(verb: str) -> str:
    if verb in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[verb]
    if verb in _DOUBLED:
        return verb + verb[-1] + "ed"
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in ("a", "e", "i", "o", "u"):
        return verb[:-1] + "ied"
    return verb + "ed"


_VERB_FORMS: dict[str, str] = {}
_THIRD_FORMS: dict[str, str] = {}
for _v in _VERBS:
    _VERB_FORMS.update({_v: _v, _third(_v): _v, gerund(_v): _v})
    _THIRD_FORMS[_third(_v)] = _v
_PAST_FORMS = {_past(_v): _v for _v in _VERBS}  # participles: "arms crossed", "a bent elbow", "can be seen"


def base_of_third(word: str) -> str | None:
    """The base form of a third-person-singular verb form of the lexicon ("walks" -> "walk"), else None."""
    return _THIRD_FORMS.get(word.lower())

_CLOSED = {
    "DET": "a an the his her their both all each that this some no",
    "PRON": "someone something it them they he she one's we who somebody",
    "ADP": "above along at by for from in into of off on onto over to with after before across behind about as "
           "against below beside between through toward towards like without",
    "SCONJ": "if while",
    "PART": "not",
    "INTJ": "yes goodbye",
    "CCONJ": "and or but",
    "AUX": "is are be can would",
    "ADV": (
        "ahead around back backward backwards briskly diagonally down energetically forward gently happily high "
        "leisurely lightly once out overhand overhead quickly sideways slightly slowly still straight then there "
        "together twice up upstairs downstairs upward upwards first finally clockwise counterclockwise anticlockwise "
        "counter-clockwise anti-clockwise again fast afterwards angrily anxiously away briefly calmly carefully "
        "casually cautiously cheerfully childishly completely confidently deeply drunkenly eagerly feebly frailly "
        "furiously gloomily half-heartedly halfway hard heavily here hurriedly lazily loudly only ponderously proudly "
        "quietly rapidly rigidly sadly shallowly sluggishly sneakily stealthily stiffly theatrically tiredly too "
        "unhurriedly unsteadily very vigorously wearily well forth forwards playfully fully next much closer "
        "nervously"
    ),
    "ADJ": "big energetic full half injured left right moderate normal quick slow steady stiff upper whole seated air "
           "light brisk quarter afraid aged angry anxious bouncy calm careful casual cautious cheerful childish "
           "childlike confident drunk drunken elderly exhausted far free furious furtive gloomy good great happy heavy "
           "imaginary intoxicated jittery joyful large lazy lively listless little long low mad military neutral old "
           "open other peppy playful possible proud relaxed rigid robotic round sad self-assured short sluggish small "
           "smooth sneaky stealthy tipsy tired top total unhappy upright wary weary wobbly underhand sidearm disco "
           "straight wavy nervous underarm gentle upright",
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
    if lower in _PAST_FORMS:
        return _PAST_FORMS[lower], "VERB"
    if lower.endswith("s") and lower[:-1] in _NOUNS:
        return lower[:-1], "NOUN"
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
    return (lower.isdigit() or lower in _VERB_FORMS or lower in _POS or lower in _NOUN_LEMMAS or lower in _NOUNS
            or lower in _PAST_FORMS or (lower.endswith("s") and lower[:-1] in _NOUNS))


_NOUNS = set((
    "angle arc arm ball beat body bowl calf chair chest circle club cup curve dance drink figure fist flight floor "
    "foot forehand front golf ground guitar hand head height hello hip human jack jump kick knee leg limp line man "
    "motion mouth object pace pattern person place position punch racket seat shadow shoulder side spot squat stair "
    "step surface swing table tennis time toe torso turn violin waist way woman zag zig zigzag tiptoe lunge bow spin "
    "hop raise skip reverse agreement answer bag ball belly bottle brow care celebration character chin child class "
    "clip couple dancer distance ear ease effort elbow energy face fencing finger flourish forearm forehead gesture "
    "glass goodbye guy heart hook idea individual joy kid lap limb load loop lot manner middle moment momentum mood "
    "movement music palm path performer phone pivot pocket pose pot question rage rest robot rope roundhouse sack "
    "salute shrug sip sky speed stance star student subject sweep sword thief thigh triumph uppercut video watch "
    "water weight wrist hurry cross call cheer pump push pull rock scan shout sweep"
).split())
