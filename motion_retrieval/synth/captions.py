"""Caption templates: what an action family did, in words, in the style of HumanML3D or of KIT-ML.

A template is a verb phrase in the third person with slots filled from the action's parameters, so every caption
states the side, count, speed and direction the motion really has:

- ``{side}`` / ``{other}``: left / right (the person's own side); ``{poss}``: their / his / the ...;
- ``{times}``: once / twice / three times; ``{n:noun}``: "three steps", "one squat" (count + noun, pluralised);
- ``{speed}``: an adverb phrase for slow / normal / fast (may be empty for normal); ``{pace}``: slow / steady / fast;
- ``{arms}``: "the left arm" / "both arms"; ``{clock}``: clockwise / counterclockwise (left = counterclockwise);
- ``{gait}``: walks / jogs.

Two dialects: ``humanml3d`` (lower case, "a person walks forward slowly and then stops.") and ``kitml`` (short,
capitalised, "A human walks 4 steps forward.", its own verbs and phrasings).
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["TEMPLATES", "caption_clip", "describe_action", "join_actions"]

# (humanml3d templates, kitml templates); kitml None = use the humanml3d ones.
TEMPLATES: dict[str, tuple[list[str], list[str] | None]] = {
    "walk": ([
        "walks forward {speed} for {n:step}",
        "takes {n:step} forward {speed}",
        "{speed} walks {n:step} straight ahead",
        "moves forward at a {pace} pace, taking {n:step}",
        "walks {n:step} forward {speed} and then stops",
    ], [
        "walks {n:step} forward {speed}",
        "goes {n:step} forward {speed}",
        "is walking {n:step} forward {speed}",
        "walks {speed} forward with {n:step}",
    ]),
    "walk_backward": ([
        "walks backwards {speed} for {n:step}",
        "takes {n:step} backward {speed}",
        "moves backwards {n:step} at a {pace} pace",
        "{speed} walks {n:step} in reverse",
    ], [
        "walks {n:step} backwards {speed}",
        "goes {n:step} backward {speed}",
        "is walking {n:step} backwards",
    ]),
    "jog": ([
        "jogs forward for {n:step}",
        "jogs {n:step} forward",
        "runs lightly forward for {n:step}",
        "jogs straight ahead, taking {n:step}",
    ], [
        "jogs {n:step} forward",
        "is jogging {n:step} forward",
        "jogs forward with {n:step}",
    ]),
    "run": ([
        "runs forward for {n:step}",
        "sprints {n:step} forward",
        "runs {n:step} straight ahead",
        "runs quickly forward, taking {n:step}",
    ], [
        "runs {n:step} forward",
        "is running {n:step} forward",
        "runs forward with {n:step}",
    ]),
    "sidestep": ([
        "side steps to the {side} {times}",
        "steps sideways to {poss} {side} {times}",
        "shuffles sideways to the {side} with {n:side step}",
        "moves sideways to the {side} for {n:step}",
    ], [
        "makes {n:step} to the {side}",
        "walks {n:step} sideways to the {side}",
        "goes {n:step} to the {side} side",
    ]),
    "walk_diagonal": ([
        "walks diagonally forward to the {side} for {n:step}",
        "turns slightly {side} and walks {n:step} forward",
        "walks {n:step} forward at an angle to the {side}",
    ], [
        "walks {n:step} diagonally to the {side}",
        "goes {n:step} forward and to the {side}",
        "walks diagonally {side} with {n:step}",
    ]),
    "walk_circle": ([
        "{gait} in a circle to the {side}",
        "{gait} around in a full circle {clock}",
        "{gait} a {clock} circle",
        "{gait} in a circle, turning {side} the whole way",
    ], [
        "{gait} in a circle to the {side}",
        "{gait} a full circle {clock}",
        "{gait} around in a {side} circle",
    ]),
    "walk_curve": ([
        "walks {n:step} in a curve to the {side}",
        "walks forward {n:step}, curving to the {side}",
        "takes {n:step} along an arc bending to {poss} {side}",
    ], [
        "walks {n:step} in a curve to the {side}",
        "walks a {side} curve with {n:step}",
        "goes {n:step} in a {side} curve",
    ]),
    "zigzag": ([
        "walks forward in a zigzag for {n:step}",
        "zigzags forward, taking {n:step}",
        "walks {n:step} forward in a zig zag pattern",
    ], [
        "walks {n:step} in a zigzag",
        "goes {n:step} forward in zigzag",
        "walks a zigzag line with {n:step}",
    ]),
    "tiptoe": ([
        "tiptoes forward for {n:step}",
        "walks {n:step} forward on {poss} tiptoes",
        "sneaks forward on tiptoes, taking {n:step}",
    ], [
        "walks {n:step} on tiptoes",
        "tiptoes {n:step} forward",
        "sneaks {n:step} forward",
    ]),
    "march": ([
        "marches in place for {n:step}",
        "marches on the spot, lifting the knees high for {n:step}",
        "lifts the knees high, marching in place for {n:step}",
    ], [
        "marches {n:step} on the spot",
        "is marching in place for {n:step}",
        "marches on the spot with {n:step}",
    ]),
    "skip": ([
        "skips forward for {n:step}",
        "skips happily forward, taking {n:step}",
        "does {n:skip} forward",
    ], None),
    "crawl": ([
        "gets down on hands and knees and crawls forward for {n:step}",
        "crawls forward on all fours, {n:step}",
        "kneels down and crawls forward for {n:step}",
    ], None),
    "stairs_up": ([
        "walks up {n:stair}",
        "climbs {n:step} up the stairs",
        "goes up a flight of {n:step}",
        "ascends {n:stair}",
    ], [
        "walks up {n:stair}",
        "goes upstairs with {n:step}",
        "climbs up {n:step}",
    ]),
    "stairs_down": ([
        "walks down {n:stair}",
        "goes down the stairs, taking {n:step}",
        "descends {n:stair}",
        "steps down {n:stair}",
    ], [
        "walks down {n:stair}",
        "goes downstairs with {n:step}",
        "climbs down {n:step}",
    ]),
    "limp": ([
        "limps forward {n:step} with an injured {side} leg",
        "walks {n:step} with a limp on the {side} leg",
        "limps {n:step} forward, keeping the {side} leg stiff",
    ], None),
    "jog_in_place": ([
        "jogs in place for {n:step}",
        "runs on the spot for {n:step}",
        "jogs on the spot, taking {n:step}",
    ], [
        "jogs on the spot for {n:step}",
        "is running in place for {n:step}",
        "runs {n:step} on the spot",
    ]),
    "turn": ([
        "{turn}",
    ], [
        "{turn}",
    ]),
    "spin": ([
        "spins around {times} to the {side}",
        "quickly spins {clock} {times}",
        "does {n:fast spin} to the {side}",
        "twirls around {times} to the {side}",
    ], None),
    "jump": ([
        "jumps in place {times}",
        "jumps up and down {times}",
        "does {n:jump} on the spot",
        "jumps straight up {times} with both feet",
    ], [
        "jumps {times}",
        "performs {n:jump} in place",
        "jumps up {times}",
    ]),
    "jump_forward": ([
        "jumps forward {times}",
        "does {n:forward jump}",
        "leaps forward {times}",
        "jumps ahead {times} with both feet",
    ], [
        "jumps forward {times}",
        "makes {n:jump} forward",
        "performs {n:forward jump}",
    ]),
    "jump_backward": ([
        "jumps backward {times}",
        "jumps back {times}",
        "does {n:backward jump}",
        "leaps backwards {times}",
    ], None),
    "jump_side": ([
        "jumps to the {side} {times}",
        "jumps sideways to the {side} {times}",
        "leaps {times} to {poss} {side}",
        "does {n:sideways jump} to the {side}",
    ], [
        "jumps to the {side} {times}",
        "makes {n:jump} to the {side}",
        "jumps {times} to the {side} side",
    ]),
    "jump_turn": ([
        "jumps and turns around to the {side} in the air",
        "jumps and spins 180 degrees to the {side}",
        "does a jumping half turn to the {side}",
    ], None),
    "hop": ([
        "hops on the {side} leg {times}",
        "hops {times} on {poss} {side} foot",
        "stands on the {side} foot and hops {times}",
        "does {n:hop} on the {side} leg",
    ], [
        "hops {times} on the {side} leg",
        "jumps on the {side} foot {times}",
        "hops on {poss} {side} leg {times}",
    ]),
    "jumping_jacks": ([
        "does {n:jumping jack}",
        "performs {n:jumping jack}",
        "jumps spreading the arms and legs {times}",
    ], None),
    "squat": ([
        "squats {times}",
        "does {n:squat}",
        "squats down and stands back up {times}",
        "bends the knees and squats {times}",
    ], [
        "does {n:squat}",
        "squats down {times}",
        "performs {n:squat}",
    ]),
    "lunge": ([
        "does {n:lunge} with the {side} leg",
        "lunges forward on the {side} leg {times}",
        "steps forward into a lunge with the {side} leg {times}",
    ], [
        "does {n:lunge} with the {side} leg",
        "lunges {times} with the {side} leg forward",
        "performs {n:lunge} on the {side} leg",
    ]),
    "sit_down": ([
        "sits down",
        "sits down on a chair",
        "bends the knees and sits down",
        "takes a seat",
    ], [
        "sits down",
        "sits down on a chair",
        "is sitting down",
    ]),
    "stand_up": ([
        "stands up from a chair",
        "gets up from sitting",
        "rises from a seated position",
        "stands up from sitting",
    ], [
        "stands up",
        "gets up from a chair",
        "stands up from a chair",
    ]),
    "kick": ([
        "{kick} with the {side} leg {times}",
        "{kick} {times} using {poss} {side} foot",
        "does {n:kick_noun} with the {side} leg",
    ], [
        "{kick} with the {side} foot {times}",
        "performs {n:kick_noun} with the {side} leg",
        "{kick} {times} with {poss} {side} leg",
    ]),
    "balance": ([
        "balances on the {side} leg",
        "stands on the {side} foot with the arms out",
        "lifts the {other} foot and balances on the {side} leg",
        "stands on one leg, the {side} one",
    ], [
        "balances on the {side} leg",
        "stands on the {side} foot",
        "is balancing on {poss} {side} leg",
    ]),
    "knee_raise": ([
        "raises the {side} knee {times}",
        "lifts the {side} knee up {times}",
        "brings the {side} knee up to the chest {times}",
        "does {n:knee raise} with the {side} leg",
    ], [
        "lifts the {side} knee {times}",
        "raises {poss} {side} knee {times}",
    ]),
    "kneel": ([
        "kneels down on the {side} knee",
        "gets down on the {side} knee",
        "goes down on one knee, the {side} one",
        "drops to the {side} knee",
    ], [
        "kneels down on the {side} knee",
        "goes down on {poss} {side} knee",
    ]),
    "calf_raise": ([
        "rises up onto the toes {times}",
        "stands on tiptoes {times}",
        "does {n:calf raise}",
        "lifts the heels off the ground {times}",
    ], [
        "stands on tiptoes {times}",
        "rises on the toes {times}",
    ]),
    "raise_arm": ([
        "{raise}",
    ], [
        "{raise}",
    ]),
    "wave": ([
        "waves with the {side} hand {times}",
        "waves {poss} {side} hand {times}",
        "raises the {side} hand and waves {times}",
        "waves hello {times} with the {side} hand",
    ], [
        "waves with the {side} hand {times}",
        "waves {times} with {poss} {side} hand",
        "is waving {poss} {side} hand {times}",
    ]),
    "clap": ([
        "claps {times}",
        "claps the hands {times}",
        "brings the hands together {times}",
        "claps {poss} hands together {times}",
    ], [
        "claps {times}",
        "claps the hands {times}",
        "is clapping {times}",
    ]),
    "punch": ([
        "punches with the {side} fist {times}",
        "throws {n:punch} with the {side} hand",
        "punches forward {times} with the {side} arm",
        "jabs {times} with the {side} hand",
    ], [
        "punches {times} with the {side} hand",
        "boxes with the {side} arm {times}",
        "makes {n:punch} with {poss} {side} hand",
    ]),
    "boxing": ([
        "boxes, throwing {n:punch}",
        "shadow boxes with {n:punch}",
        "throws {n:punch} with alternating hands",
        "practices boxing, throwing {n:punch}",
    ], [
        "boxes with {n:punch}",
        "is boxing, {n:punch}",
        "makes {n:punch} alternating the arms",
    ]),
    "throw": ([
        "throws something with the {side} hand",
        "throws a ball overhand with the {side} arm",
        "winds up and throws with the {side} hand",
        "makes a throwing motion with the {side} arm",
    ], [
        "throws something with the {side} hand",
        "throws a ball with the {side} hand",
        "is throwing with {poss} {side} arm",
    ]),
    "bow": ([
        "bows {times}",
        "bows forward {times}",
        "bends forward at the waist {times}",
        "does {n:bow}",
    ], [
        "bows {times}",
        "performs {n:bow}",
        "bows down {times}",
    ]),
    "stretch": ([
        "stretches both arms above the head",
        "reaches up high with both arms",
        "stretches upward with the arms over the head",
        "raises both arms overhead and stretches",
    ], [
        "stretches the arms up",
        "stretches upwards",
        "reaches up with both arms",
    ]),
    "side_bend": ([
        "bends to the {side} and then to the {other} {times}",
        "stretches sideways to the {side} and then to the {other}, {times}",
        "with arms up, leans to the {side} then to the {other} {times}",
    ], [
        "bends to the {side} and to the {other} {times}",
        "leans to the {side} and then to the {other} {times}",
    ]),
    "pick_up": ([
        "picks something up from the ground with the {side} hand",
        "bends down and picks up an object with the {side} hand",
        "reaches down to the floor with the {side} hand and picks something up",
        "picks up something with {poss} {side} hand",
    ], [
        "picks something up with the {side} hand",
        "lifts something from the ground with the {side} hand",
        "bends down and picks up something with {poss} {side} hand",
    ]),
    "golf_swing": ([
        "swings a golf club",
        "makes a golf swing",
        "plays golf, swinging the club",
        "takes a swing with a golf club",
    ], None),
    "dance": ([
        "{dance}",
    ], [
        "{dance}",
    ]),
    "arm_circles": ([
        "makes {n:circle} with {arms}",
        "circles {arms} {times}",
        "rotates {arms} in big circles {times}",
        "swings {arms} around in {n:circle}",
    ], [
        "makes {n:circle} with {arms}",
        "circles {arms} {times}",
        "rotates {arms} {times}",
    ]),
    "touch_toes": ([
        "bends down and touches the toes",
        "touches {poss} toes",
        "reaches down to touch the feet",
        "bends over to touch the toes",
    ], [
        "touches the toes",
        "bends down to the toes",
        "bends forward and touches the feet",
    ]),
    "drink": ([
        "drinks from a cup in the {side} hand",
        "lifts a cup to the mouth with the {side} hand and drinks",
        "takes a drink with the {side} hand",
        "brings the {side} hand to the mouth to drink",
    ], [
        "drinks with the {side} hand",
        "drinks something from a cup in the {side} hand",
        "is drinking with {poss} {side} hand",
    ]),
    "tennis_swing": ([
        "swings a tennis racket with the {side} hand",
        "hits a forehand with the {side} hand",
        "plays tennis, swinging with the {side} arm",
    ], None),
    "torso_twist": ([
        "twists the torso from side to side {times}",
        "rotates the upper body left and right {times}",
        "twists at the waist {times} with the arms out",
    ], [
        "twists the upper body {times}",
        "turns the torso left and right {times}",
        "rotates the hip {times}",
    ]),
    "violin": ([], [
        "plays the violin",
        "is playing the violin",
        "plays violin",
        "mimes playing a violin",
    ]),
    "guitar": ([], [
        "plays the guitar",
        "plays air guitar",
        "is playing guitar",
        "plays guitar",
    ]),
    "wipe": ([], [
        "wipes the table with the {side} hand",
        "cleans a surface with the {side} hand",
        "is wiping something with {poss} {side} hand",
    ]),
    "stir": ([], [
        "stirs something in a bowl with the {side} hand",
        "is stirring with the {side} hand",
        "stirs with {poss} {side} hand",
    ]),
    "stand": ([
        "stands still",
        "stops",
        "stands there",
        "waits",
    ], [
        "stands still",
        "stops",
        "stands",
    ]),
}

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve", "thirteen", "fourteen", "fifteen", "sixteen")
_IRREGULAR_PLURALS = {"punch": "punches", "kick_noun": "kicks", "stair": "stairs"}
_SPEED_ADVERBS = {
    "slow": ("slowly", "at a slow pace", "leisurely"),
    "normal": ("", "", "at a normal pace", "at a steady pace"),
    "fast": ("quickly", "fast", "briskly", "at a fast pace"),
}
_PACE = {"slow": ("slow", "leisurely"), "normal": ("normal", "steady", "moderate"), "fast": ("fast", "quick", "brisk")}
_SUBJECTS = {
    "humanml3d": (("a person", 6), ("a man", 2), ("the person", 2), ("someone", 2), ("a figure", 1),
                  ("a woman", 1), ("the man", 1), ("a human", 1)),
    "kitml": (("a person", 5), ("a human", 4), ("someone", 2), ("the person", 1), ("a man", 1)),
}
_POSSESSIVES = {"a man": ("his", "the"), "the man": ("his", "the"), "a woman": ("her", "the")}
_SLOT = re.compile(r"\{(\w+)(?::([\w ]+))?\}")


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


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


def _counted(n: int, noun: str, dialect: str, rng: np.random.Generator) -> str:
    if n == 1:
        word = {"kick_noun": "kick"}.get(noun, noun)
        return f"{'an' if word[0] in 'aeiou' else 'a'} {word}" if rng.random() < 0.5 else f"one {word}"
    plural = _IRREGULAR_PLURALS.get(noun, noun + "s")
    return f"{_number(n, dialect, rng)} {plural}"


def _turn_phrase(q: dict, rng: np.random.Generator, dialect: str) -> str:
    side, angle = q["side"], q["angle"]
    if angle == 90:
        options = ["turns {side}", "turns to the {side}", "turns 90 degrees to the {side}",
                   "makes a quarter turn to the {side}", "turns {side} on the spot"]
    elif angle == 180:
        options = ["turns around to the {side}", "turns 180 degrees to {poss} {side}",
                   "makes a half turn to the {side}", "turns around over the {side} shoulder"]
    else:
        options = ["turns all the way around to the {side}", "makes a full turn to the {side}",
                   "turns 360 degrees to the {side}", "turns in a full circle to the {side}"]
    if dialect == "kitml":
        options = {90: ["turns {side}", "turns {side} by 90 degrees", "turns to the {side}"],
                   180: ["turns around to the {side}", "turns 180 degrees to the {side}", "turns back over the {side}"],
                   360: ["turns 360 degrees to the {side}", "turns a full circle to the {side}"]}[angle]
    return _pick(rng, options).replace("{side}", side)


def _raise_phrase(q: dict, rng: np.random.Generator, dialect: str) -> str:
    arms = "both arms" if q["side"] == "both" else _pick(rng, (f"the {q['side']} arm", f"{{poss}} {q['side']} arm"))
    how = q["how"]
    options = {
        "forward": ["raises {arms} forward", "lifts {arms} straight out in front", "raises {arms} to the front",
                    "holds {arms} out in front and lowers it"],
        "side": ["raises {arms} out to the side", "lifts {arms} sideways to shoulder height",
                 "stretches {arms} out to the side and lowers it"],
        "up": ["raises {arms} above the head", "lifts {arms} up over the head", "puts {arms} up in the air"],
    }[how]
    if dialect == "kitml":
        options = {"forward": ["lifts {arms} forward", "raises {arms} to the front"],
                   "side": ["lifts {arms} to the side", "raises {arms} sideways"],
                   "up": ["raises {arms} up", "lifts {arms} over the head"]}[how]
    phrase = _pick(rng, options)
    if q["side"] == "both":
        phrase = phrase.replace("lowers it", "lowers them")
    return phrase.replace("{arms}", arms)


def _dance_phrase(q: dict, rng: np.random.Generator, dialect: str) -> str:
    if q["speed"] == "slow":
        options = ["dances slowly", "sways and dances slowly", "does a slow dance", "dances gently to a slow beat"]
    else:
        options = ["dances energetically", "dances to a fast beat", "dances quickly", "does an energetic dance"]
    if dialect == "kitml":
        options = ["dances slowly", "is dancing slowly"] if q["speed"] == "slow" else ["dances fast", "is dancing fast"]
    return _pick(rng, options)


def describe_action(family: str, params: dict, rng: np.random.Generator, dialect: str = "humanml3d",
                    possessive: str = "the") -> str:
    """One verb phrase (third person, no subject) for ``family`` done with ``params``."""
    hml, kit = TEMPLATES[family]
    templates = (kit if kit is not None else hml) if dialect == "kitml" else (hml or kit)
    template = _pick(rng, templates)
    special = {"turn": _turn_phrase, "raise": _raise_phrase, "dance": _dance_phrase}
    count = params.get("count", params.get("steps", 1))
    if family == "boxing":
        count = params["count"]

    def fill(match: re.Match) -> str:
        slot, noun = match.group(1), match.group(2)
        if slot == "n":
            noun = noun if noun != "kick_noun" else ("side kick" if params.get("style") == "side" else "kick_noun")
            if family == "turn":
                return str(count)
            return _counted(int(count), noun, dialect, rng)
        if slot in special:
            return special[slot](params, rng, dialect)
        if slot == "side":
            return params["side"]
        if slot == "other":
            return "right" if params["side"] == "left" else "left"
        if slot == "poss":
            return possessive
        if slot == "times":
            return _times(int(count), dialect, rng)
        if slot == "speed":
            return _pick(rng, _SPEED_ADVERBS[params.get("speed", "normal")])
        if slot == "pace":
            return _pick(rng, _PACE[params.get("speed", "normal")])
        if slot == "clock":
            return "clockwise" if params["side"] == "right" else _pick(rng, ("counterclockwise", "anticlockwise"))
        if slot == "gait":
            return "walks" if params.get("gait", "walk") == "walk" else "jogs"
        if slot == "arms":
            return "both arms" if params["side"] == "both" else f"the {params['side']} arm"
        if slot == "kick":
            return "kicks to the side" if params.get("style") == "side" else _pick(rng, ("kicks", "kicks forward"))
        raise KeyError(f"template slot {{{slot}}} of family {family!r} has no value")

    phrase = _SLOT.sub(fill, template)
    phrase = _SLOT.sub(fill, phrase)  # special phrases may contain {poss}
    return " ".join(phrase.split())


def join_actions(phrases: list[str], rng: np.random.Generator, dialect: str) -> str:
    """Verb phrases in temporal order, joined the way annotators write sequences."""
    if len(phrases) == 1:
        return phrases[0]
    if len(phrases) == 2:
        a, b = phrases
        if dialect == "kitml":
            pattern = _pick(rng, ("{a} and then {b}", "{a} and {b}", "{a}, then {b}"))
        else:
            pattern = _pick(rng, ("{a} and then {b}", "{a}, then {b}", "first {a}, then {b}", "{a} and {b}",
                                  "{a}, and after that {b}"))
        return pattern.format(a=a, b=b)
    head, last = ", ".join(phrases[:-1]), phrases[-1]
    if dialect == "kitml":
        return f"{head} and then {last}"
    pattern = _pick(rng, ("{head}, and then {last}", "first {head}, and finally {last}", "{head} and then {last}"))
    return pattern.format(head=head, last=last)


def caption_clip(actions: list[tuple[str, dict]], rng: np.random.Generator, dialect: str = "humanml3d") -> str:
    """One full caption for a clip made of ``actions`` (family, params) in order."""
    subjects, weights = zip(*_SUBJECTS[dialect])
    p = np.asarray(weights, dtype=np.float64)
    subject = subjects[int(rng.choice(len(subjects), p=p / p.sum()))]
    possessives = _POSSESSIVES.get(subject, ("their", "the", "his") if dialect == "humanml3d" else ("the", "his"))
    possessive = _pick(rng, possessives)
    phrases = [describe_action(f, q, rng, dialect, possessive) for f, q in actions]
    text = f"{subject} {join_actions(phrases, rng, dialect)}"
    if dialect == "kitml":
        text = text[0].upper() + text[1:]
        return text + ("." if rng.random() < 0.9 else "")
    if rng.random() < 0.15:
        text = text[0].upper() + text[1:]
    return text + ("." if rng.random() < 0.75 else "")
