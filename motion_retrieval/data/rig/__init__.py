"""Any humanoid rig onto SMPL-22: known rigs by their explicit maps, others found from topology and motion.

- naming.py       what joint names hint at (side, body part)
- topology.py     the body plan of a hierarchy (pelvis, legs, spine, chest, arms, neck/head) or a refusal
- orientation.py  up / forward / left from the motion; proper rotations to Y-up
- mapping.py      ``map_rig``: limbs fitted along the plan (once per file header), sides decided per take, units;
                  the typed ``RigMapping`` result
"""

from motion_retrieval.data.rig.mapping import RigMapping, joint_map_to_json, map_rig
from motion_retrieval.data.rig.orientation import Orientation
from motion_retrieval.data.rig.topology import BodyPlan, Hierarchy, RigError, find_body

__all__ = ["BodyPlan", "Hierarchy", "Orientation", "RigError", "RigMapping", "find_body", "joint_map_to_json",
           "map_rig"]
