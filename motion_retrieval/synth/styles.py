"""Styles: how a person moves, as a modifier on any action (a tired walk, a proud bow, an angry punch).

A ``Style`` changes tempo and amplitude of the whole take, its posture (slouch, chest out, head down, raised or
hunched shoulders, bent knees, arms held out), and the gait (arm swing, bounce, stride, lateral sway), and says how
captions may name it: adjectives ("a tired person"), adverbs ("someone proudly walks"), manner phrases ("..., in a
sad way"). A caption only names the style the motion was made with; the neutral style is never named.

Styles that change speed constrain the speed words of an action: a tired person never "walks quickly"
(``speeds``), and ``excludes`` lists families a style does not combine with. The last positions of ``STYLES``
follow the corpus-wide partition (``variants.partition``): styles at held-out positions appear only in the
``transfer`` corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

from motion_retrieval.synth.variants import partition

__all__ = ["NEUTRAL", "STYLES", "Style", "posture_offsets", "style_allows", "style_named", "styles_for"]

_ALL_SPEEDS = ("slow", "normal", "fast")


@dataclass(frozen=True)
class Style:
    name: str
    tempo: float = 1.0  # multiplies the take's tempo (> 1 faster)
    amp: float = 1.0  # multiplies movement amplitudes
    speeds: tuple[str, ...] = _ALL_SPEEDS  # speed labels an action may carry in this style
    excludes: tuple[str, ...] = ()  # families this style does not combine with
    # posture offsets (radians), held over the whole take
    slouch: float = 0.0  # + trunk bent forward, - chest out
    head_down: float = 0.0  # + head down, - chin up
    shrug: float = 0.0  # + shoulders raised
    hunch: float = 0.0  # + shoulders rolled forward, - pulled back
    knees: float = 0.0  # bent knees (a crouched, careful or heavy stance)
    arms_out: float = 0.0  # arms held away from the body
    elbows: float = 0.0  # extra elbow bend
    # gait
    arm_swing: float = 1.0  # arm swing amplitude factor
    bounce: float = 1.0  # vertical bounce factor (knee flexion in stance, push-off)
    stride: float = 1.0  # step length factor
    sway: float = 0.0  # lateral trunk sway in gait and while standing (radians)
    jitter: float = 0.0  # extra irregularity of timing and joint noise (nervous, drunk)
    # words (lower case); adjective and adverb lists follow the corpus partition
    adjectives: tuple[str, ...] = ()
    adverbs: tuple[str, ...] = ()
    manners: tuple[str, ...] = ()  # phrases that follow the verb phrase: "in a tired way"


NEUTRAL = Style("neutral")

# Order matters: positions 2, 5, 8, ... (variants.held_out) are the held-out styles of the transfer corpus.
STYLES: tuple[Style, ...] = (
    Style("energetic", tempo=1.15, amp=1.15, speeds=("normal", "fast"), slouch=-0.04, arm_swing=1.35, bounce=1.3,
          stride=1.06, adjectives=("energetic", "lively", "peppy"), adverbs=("energetically", "vigorously"),
          manners=("with a lot of energy", "full of energy", "in an energetic way")),
    Style("tired", tempo=0.8, amp=0.8, speeds=("slow", "normal"), slouch=0.14, head_down=0.25, hunch=0.08,
          knees=0.06, arm_swing=0.5, bounce=0.7, stride=0.92, elbows=-0.05,
          adjectives=("tired", "exhausted", "weary"), adverbs=("wearily", "tiredly"),
          manners=("as if exhausted", "looking tired", "in a tired way")),
    Style("drunk", tempo=0.85, amp=0.95, speeds=("slow", "normal"), excludes=("tiptoe", "balance", "march"),
          slouch=0.08, head_down=0.12, arms_out=0.12, arm_swing=1.2, sway=0.12, jitter=0.6, stride=0.95,
          adjectives=("drunk", "tipsy", "intoxicated"), adverbs=("drunkenly", "unsteadily"),
          manners=("as if drunk", "staggering like a drunk", "in a wobbly, drunken way")),
    Style("elderly", tempo=0.78, amp=0.75, speeds=("slow", "normal"), excludes=("sprint", "jumping_jacks", "spin"),
          slouch=0.18, head_down=0.1, hunch=0.1, knees=0.25, elbows=0.15, arm_swing=0.45, bounce=0.6, stride=0.8,
          adjectives=("elderly", "old", "aged"), adverbs=("feebly", "frailly"),
          manners=("like an old person", "as an elderly person would", "in the manner of an old person")),
    Style("childish", tempo=1.15, amp=1.1, speeds=("normal", "fast"), head_down=-0.05, arms_out=0.1, arm_swing=1.4,
          bounce=1.5, stride=0.9, sway=0.05, jitter=0.2, adjectives=("childish", "playful", "childlike"),
          adverbs=("playfully", "childishly"), manners=("like a child", "in a childish way", "like a little kid")),
    Style("stiff", tempo=0.95, amp=0.7, speeds=("slow", "normal"), slouch=-0.03, elbows=-0.1, arm_swing=0.15,
          bounce=0.5, stride=0.9, adjectives=("stiff", "rigid", "robotic"), adverbs=("stiffly", "rigidly"),
          manners=("like a robot", "with stiff limbs", "without bending much")),
    Style("proud", tempo=0.92, amp=1.05, slouch=-0.12, head_down=-0.15, hunch=-0.12, arm_swing=1.2, stride=1.08,
          adjectives=("proud", "confident", "self-assured"), adverbs=("proudly", "confidently"),
          manners=("with the chest out", "with the head held high", "in a proud way")),
    Style("sad", tempo=0.82, amp=0.75, speeds=("slow", "normal"), slouch=0.12, head_down=0.35, hunch=0.1,
          arm_swing=0.45, bounce=0.7, stride=0.9, adjectives=("sad", "unhappy", "gloomy"),
          adverbs=("sadly", "gloomily"), manners=("with the head hanging", "looking sad", "in a sad way")),
    Style("cautious", tempo=0.8, amp=0.85, speeds=("slow", "normal"), slouch=0.1, head_down=0.15, knees=0.35,
          arms_out=0.15, elbows=0.2, arm_swing=0.5, bounce=0.7, stride=0.82,
          adjectives=("cautious", "careful", "wary"), adverbs=("cautiously", "carefully"),
          manners=("very carefully", "with great care", "as if afraid of falling")),
    Style("angry", tempo=1.12, amp=1.15, speeds=("normal", "fast"), slouch=0.05, head_down=0.05, shrug=0.08,
          hunch=0.06, elbows=0.25, arm_swing=1.3, stride=1.05, jitter=0.1,
          adjectives=("angry", "furious", "mad"), adverbs=("angrily", "furiously"),
          manners=("in an angry way", "looking angry", "in a rage")),
    Style("happy", tempo=1.08, amp=1.1, speeds=("normal", "fast"), slouch=-0.04, head_down=-0.08, arm_swing=1.25,
          bounce=1.35, sway=0.03, adjectives=("happy", "cheerful", "joyful"), adverbs=("happily", "cheerfully"),
          manners=("in a happy way", "looking happy", "in a cheerful mood")),
    Style("lazy", tempo=0.8, amp=0.75, speeds=("slow", "normal"), slouch=0.1, head_down=0.1, hunch=0.06,
          arm_swing=0.6, bounce=0.6, stride=0.9, sway=0.03, adjectives=("lazy", "sluggish", "listless"),
          adverbs=("lazily", "sluggishly"), manners=("without much effort", "in a lazy way", "half-heartedly")),
    Style("relaxed", tempo=0.92, amp=0.95, slouch=0.03, elbows=0.05, arm_swing=0.9, sway=0.03,
          adjectives=("relaxed", "calm", "casual"), adverbs=("calmly", "casually"),
          manners=("in a relaxed way", "at ease", "in a casual manner")),
    Style("heavy", tempo=0.85, amp=0.9, speeds=("slow", "normal"), excludes=("tiptoe", "skip"), slouch=0.06,
          knees=0.2, arms_out=0.18, elbows=0.1, arm_swing=0.8, bounce=1.4, stride=0.9, sway=0.08,
          adjectives=("heavy", "large", "big"), adverbs=("heavily", "ponderously"),
          manners=("with heavy steps", "like a heavy person", "lumbering along")),
    Style("nervous", tempo=1.1, amp=0.8, slouch=0.06, head_down=0.05, shrug=0.1, hunch=0.08, elbows=0.2,
          arm_swing=0.6, stride=0.9, jitter=0.5, adjectives=("nervous", "anxious", "jittery"),
          adverbs=("nervously", "anxiously"), manners=("looking nervous", "in a nervous way", "as if anxious")),
    Style("sneaky", tempo=0.85, amp=0.9, speeds=("slow", "normal"), excludes=("jumping_jacks", "cheer"), slouch=0.18,
          head_down=0.05, knees=0.55, arms_out=0.1, elbows=0.5, arm_swing=0.35, bounce=0.6, stride=0.85,
          adjectives=("sneaky", "stealthy", "furtive"), adverbs=("sneakily", "stealthily"),
          manners=("trying not to be noticed", "like a thief", "in a sneaky way")),
)
_BY_NAME = {s.name: s for s in (NEUTRAL, *STYLES)}


def style_named(name: str) -> Style:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown style {name!r}; known: {', '.join(sorted(_BY_NAME))}") from None


def styles_for(variant: str) -> list[Style]:
    """The styles a ``variant`` corpus draws (besides the neutral style)."""
    return partition(STYLES, variant)


def style_allows(style: Style, family: str, params: dict) -> bool:
    """Whether ``family`` done with ``params`` is compatible with ``style`` (its speed words stay true)."""
    if family in style.excludes:
        return False
    speed = params.get("speed")
    return speed is None or speed in style.speeds


def posture_offsets(style: Style, scale: float = 1.0) -> dict[str, float]:
    """DOF offsets (radians) that hold the style's posture; bent knees keep the trunk over the feet."""
    if style is NEUTRAL:
        return {}
    out = {
        "spine_pitch": style.slouch, "neck_pitch": style.head_down,
        "l_collar_elev": style.shrug, "r_collar_elev": style.shrug,
        "l_collar_prot": style.hunch, "r_collar_prot": style.hunch,
        "l_sh_abd": style.arms_out, "r_sh_abd": style.arms_out,
        "l_elbow": style.elbows, "r_elbow": style.elbows,
    }
    if style.knees:
        for s in "lr":
            out[f"{s}_knee"] = style.knees
            out[f"{s}_hip_flex"] = 0.55 * style.knees
            out[f"{s}_ankle"] = -0.45 * style.knees
    return {k: scale * v for k, v in out.items() if v}

