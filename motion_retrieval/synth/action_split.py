"""The unseen-action split: whole action families that a ``seen`` corpus never contains.

The transfer variant (``variants.py``) holds out phrasings, bodies, tempos, styles and forms of actions training
has seen; this split holds out the actions themselves, to measure what real users mostly do: search for actions the
generator never made. A model trained on ``seen`` corpora is scored on clips of ``UNSEEN_FAMILIES`` next to clips
of seen families (``experiments/unseen_actions.py``, docs/EXPERIMENTS.md "Unseen actions").

The rule that chose the families: in each module of ``synth/actions/`` (locomotion, turns_jumps, lower_body,
exercise (upper body and sports), gestures, everyday), sort its families by name, leaving out the idle filler
("stands still"), and hold out the one at position ``i`` when ``i % 7 == 3``. Applied to the 80 families of
2026-12-06 it gives the ten below, which span locomotion, jumps, lower-body moves, sports, gestures and everyday
actions. The list is frozen, not recomputed: families added later are seen ones, so the split (and every figure
measured on it) stays the same as the catalogue grows.

The seen families they are compared with are ``CONTROL_FAMILIES``: the same rule one step over (``i % 7 == 4``),
ten seen families matching the held-out ones module by module. Retrieval among ten families is harder than among
sixty-six (every distractor is a close cousin), so the two groups must be equally dense for their ratio to measure
generalisation and not the size of the catalogue.
"""

from __future__ import annotations

from motion_retrieval.errors import ConfigError

__all__ = ["ACTION_SPLITS", "CONTROL_FAMILIES", "UNSEEN_FAMILIES", "check_action_split", "in_split"]

# all: every family (the default); seen: never a held-out family (train on these); unseen: only held-out families;
# control: only the matched seen families (the evaluation corpus that unseen is compared with).
ACTION_SPLITS: tuple[str, ...] = ("all", "seen", "unseen", "control")

UNSEEN_FAMILIES: tuple[str, ...] = (
    "jog_in_place", "stairs_down", "walk_diagonal",  # locomotion
    "jump_forward",  # turns_jumps
    "kick",  # lower_body
    "dance", "tennis_swing",  # exercise: upper body and sports
    "cheer", "raise_hand",  # gestures
    "phone_call",  # everyday
)

CONTROL_FAMILIES: tuple[str, ...] = (
    "limp", "stairs_up", "walk_toward",  # locomotion
    "jump_side",  # turns_jumps
    "knee_raise",  # lower_body
    "golf_swing", "throw",  # exercise: upper body and sports
    "cross_arms", "salute",  # gestures
    "pick_up",  # everyday
)


def check_action_split(split: str) -> str:
    if split not in ACTION_SPLITS:
        raise ConfigError(f"unknown action split {split!r}; choose one of {', '.join(ACTION_SPLITS)}")
    return split


def in_split(family: str, split: str, kind: str = "") -> bool:
    """Whether a corpus of action ``split`` may draw ``family``. The idle filler (``kind`` "idle": "... and then
    stands still") belongs to no split: it only ends sequences, so both may use it."""
    if check_action_split(split) == "all" or kind == "idle":
        return True
    if split == "control":
        return family in CONTROL_FAMILIES
    return (family in UNSEEN_FAMILIES) == (split == "unseen")
