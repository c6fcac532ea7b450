"""The parametric action families of the synthetic corpus, one module per kind of action.

``core`` holds the registry (``FAMILIES``), the ``ActionContext`` a family builds in, and the shared building
blocks (gait with pelvis rotation and tilt, steps in place, counted repetitions). Importing this package registers
every family: locomotion, turns and jumps, lower-body exercise, upper-body exercise and sports, communicative
gestures, and everyday actions.
"""

from motion_retrieval.synth.actions import everyday, exercise, gestures, locomotion, lower_body, turns_jumps  # noqa: F401
from motion_retrieval.synth.actions.core import FAMILIES, ActionContext, Family, build_action, families_for

__all__ = ["ActionContext", "FAMILIES", "Family", "build_action", "families_for"]
