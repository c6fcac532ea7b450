"""What a rig's joint names hint at: the body side and the body part. Hints only: topology and geometry decide.

Names are split into lower-case words at case changes, digits and separators (``"mixamorig:LeftUpLeg"`` ->
``["left", "up", "leg"]``, ``"Shoulder_L"`` -> ``["shoulder", "l"]``, ``"l_forearm"`` -> ``["l", "forearm"]``,
``"Bip01 R Thigh"`` -> ``["bip", "r", "thigh"]``), after dropping namespace prefixes (``mixamorig:``, ``|``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_LEFT_WORDS = {"left", "l", "lft", "lf"}
_RIGHT_WORDS = {"right", "r", "rgt", "rt"}
# Compound forms written in one word ("lupperarm", "rthigh") are split by the prefixes below.
_SIDE_PREFIXES = (("left", "left"), ("right", "right"))

# Part words: the first matching rule wins, so multi-word parts come before their single words.
_PART_RULES: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    ("twist", (("twist",), ("roll",), ("helper",), ("aux",), ("corrective",), ("bend",), ("share",))),
    ("end", (("end",), ("nub",), ("site",), ("tip",), ("top",))),
    ("finger", (("finger",), ("thumb",), ("index",), ("middle",), ("ring",), ("pinky",), ("little",), ("pinkie",),
                ("metacarpal",), ("carpal",))),
    ("forearm", (("fore", "arm"), ("forearm",), ("lower", "arm"), ("lowerarm",), ("elbow",), ("radius",),
                 ("ulna",))),
    ("upper_arm", (("up", "arm"), ("upper", "arm"), ("upperarm",), ("humerus",), ("arm",))),
    ("thigh", (("up", "leg"), ("upper", "leg"), ("upleg",), ("upperleg",), ("thigh",), ("femur",), ("hip",))),
    ("shin", (("lower", "leg"), ("lowerleg",), ("calf",), ("shin",), ("knee",), ("tibia",), ("leg",))),
    ("hand", (("hand",), ("wrist",), ("palm",))),
    ("toe", (("toe",), ("toes",), ("ball",))),
    ("foot", (("foot",), ("ankle",), ("heel",))),
    ("collar", (("clavicle",), ("collar",), ("scapula",), ("shoulder",))),
    ("head", (("head",), ("skull",))),
    ("neck", (("neck",),)),
    ("pelvis", (("hips",), ("pelvis",), ("root",))),
    ("spine", (("spine",), ("chest",), ("back",), ("torso",), ("abdomen",), ("waist",), ("belly",), ("thorax",))),
    ("face", (("jaw",), ("eye",), ("brow",), ("lip",), ("nose",), ("cheek",), ("tongue",), ("ear",), ("teeth",),
              ("mouth",), ("lid",))),
)


@lru_cache(maxsize=4096)
def _words(name: str) -> tuple[str, ...]:
    for separator in (":", "|"):
        name = name.rsplit(separator, 1)[-1]
    found: list[str] = []
    for chunk in re.split(r"[\s_.\-]+", name):
        found.extend(w.lower() for w in _CAMEL.findall(chunk))
    return tuple(found)


def words(name: str) -> list[str]:
    """Lower-case words of a joint name (namespace prefixes dropped)."""
    return list(_words(name))


@lru_cache(maxsize=4096)
def side_of(name: str) -> str | None:
    """``"left"``, ``"right"`` or None: the side a name declares (``Left*``, ``*_L``, ``l_*``, ``Bip01 L *``)."""
    ws = words(name)
    sides = set()
    for w in ws:
        if w in _LEFT_WORDS:
            sides.add("left")
        elif w in _RIGHT_WORDS:
            sides.add("right")
        else:
            for prefix, side in _SIDE_PREFIXES:
                if w.startswith(prefix) and len(w) > len(prefix):
                    sides.add(side)
    return sides.pop() if len(sides) == 1 else None


@lru_cache(maxsize=4096)
def part_of(name: str) -> str | None:
    """The body part a name suggests ("thigh", "upper_arm", "hand", "twist", "end", ...), or None."""
    ws = [w for w in words(name) if w not in _LEFT_WORDS and w not in _RIGHT_WORDS]
    stripped = [_strip_side_prefix(w) for w in ws]
    for part, patterns in _PART_RULES:
        for pattern in patterns:
            if _contains(stripped, pattern):
                return part
    return None


def chain_side(names: Sequence[str]) -> str | None:
    """The side most names of a limb chain declare, or None when they do not agree (or declare none)."""
    votes = [s for s in (side_of(n) for n in names) if s]
    if not votes:
        return None
    left = votes.count("left")
    right = votes.count("right")
    if left > 2 * right:
        return "left"
    if right > 2 * left:
        return "right"
    return None


def _strip_side_prefix(word: str) -> str:
    for prefix, _ in _SIDE_PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix):
            return word[len(prefix):]
    return word


def _contains(ws: list[str], pattern: tuple[str, ...]) -> bool:
    n = len(pattern)
    if n == 1:
        return pattern[0] in ws
    return any(tuple(ws[i : i + n]) == pattern for i in range(len(ws) - n + 1))
