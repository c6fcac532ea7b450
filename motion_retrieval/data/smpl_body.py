"""The SMPL family's skeleton (SMPL, SMPL-H, SMPL-X share their first 22 joints): rest joints and forward kinematics.

Rest joints are where the body model puts its joints before any pose: ``J = J_regressor @ (v_template + shapedirs @
betas)`` (Loper et al., "SMPL: A Skinned Multi-Person Linear Model", SIGGRAPH Asia 2015, eq. 10; SMPL-H and SMPL-X
reuse it). The body-model files cannot ship with this project (their licence forbids redistribution), so without them
we use the mean shape (betas = 0) of the published SMPL models, ``J_regressor @ v_template``, below; with the user's
own model files (``load_body_model``) the subject's betas give exact joints.

Posed joints are SMPL's forward kinematics on its kinematic tree (``SMPL_PARENTS``): each joint's pose is an
axis-angle rotation relative to its parent, the root's (``root_orient``, AMASS's name) relative to the world, and
the root joint sits at its rest position plus ``trans``:
    G_0 = [R_0 | J_0],  G_j = G_parent(j) [R_j | J_j - J_parent(j)],  joint_j = G_j[:3, 3] + trans.
The 22 joints are SMPL-22 in HumanML3D's order (``motion_retrieval.skeleton.SMPL22``), in the model's frame: Y up,
facing +Z, the body's left on +X. AMASS's root orientation turns that into its capture world, which is Z up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motion_retrieval.errors import MotionDataError

NUM_JOINTS = 22
# SMPL's kintree_table restricted to the body (the same in SMPL-H and SMPL-X): parent of each SMPL-22 joint.
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

# Rest joint positions (metres, model frame: Y up, facing +Z, left on +X) of the published SMPL body models at their
# mean shape: J_regressor @ v_template of basicModel_m_lbs_10_207_0_v1.0.0 (male) and basicModel_f_lbs_10_207_0_v1.0.0
# (female) of the SMPL 1.0.0 release (smpl.is.tue.mpg.de), first 22 of the 24 joints. The male root
# (-0.00217368, -0.24078917, 0.02858379) is also the "SMPL root offset in mean shape" that AMASS/SMPL-H tooling adds
# to ``trans``. AMASS's SMPL-H models share SMPL's template mesh and joint regressor for the body.
SMPL_MALE_REST_JOINTS = np.array([
    [-0.00217368, -0.24078917, 0.02858379],   # pelvis
    [0.05640767, -0.32306921, 0.01091971],    # left_hip
    [-0.06248341, -0.33130245, 0.01504126],   # right_hip
    [0.00226577, -0.11638562, -0.00980143],   # spine1
    [0.09985910, -0.70953867, 0.01895671],    # left_knee
    [-0.10574003, -0.71499033, 0.01019822],   # right_knee
    [0.00675421, 0.02157077, 0.01701890],     # spine2
    [0.08506877, -1.13641306, -0.01847128],   # left_ankle
    [-0.08668449, -1.13503592, -0.02436345],  # right_ankle
    [0.00448962, 0.07760317, 0.01987394],     # spine3
    [0.12612313, -1.19669901, 0.10357114],    # left_foot
    [-0.12152436, -1.19714148, 0.10595984],   # right_foot
    [-0.00890056, 0.28923869, -0.01359363],   # neck
    [0.07619210, 0.19160286, 0.00097577],     # left_collar
    [-0.07846403, 0.19007550, -0.00383344],   # right_collar
    [0.00121265, 0.37817605, 0.03681623],     # head
    [0.19911348, 0.23680795, -0.01807023],    # left_shoulder
    [-0.19169234, 0.23692877, -0.01230551],   # right_shoulder
    [0.45444538, 0.22115892, -0.04101671],    # left_elbow
    [-0.45181985, 0.22255948, -0.04357424],   # right_elbow
    [0.72015463, 0.23385703, -0.04839145],    # left_wrist
    [-0.72092823, 0.22935320, -0.04960101],   # right_wrist
])
SMPL_FEMALE_REST_JOINTS = np.array([
    [-0.00087631, -0.21141872, 0.02782112],   # pelvis
    [0.07048489, -0.30100253, 0.01977493],    # left_hip
    [-0.06988833, -0.30037916, 0.02302543],   # right_hip
    [-0.00338452, -0.10816186, 0.00563598],   # spine1
    [0.10115381, -0.66521190, 0.01308602],    # left_knee
    [-0.10604072, -0.67102962, 0.01384011],   # right_knee
    [0.00019644, 0.01949579, 0.00392297],     # spine2
    [0.08959991, -1.04856032, -0.03041559],   # left_ankle
    [-0.09201208, -1.05466743, -0.02805149],  # right_ankle
    [0.00222362, 0.06856801, 0.03179018],     # spine3
    [0.11293758, -1.10320516, 0.08395453],    # left_foot
    [-0.11405530, -1.10107698, 0.08984822],   # right_foot
    [0.00026099, 0.27681120, -0.01797530],    # neck
    [0.07752190, 0.18634844, -0.00508464],    # left_collar
    [-0.07480920, 0.18417421, -0.01002048],   # right_collar
    [0.00377815, 0.33913339, 0.03222996],     # head
    [0.16283901, 0.21808746, -0.01237748],    # left_shoulder
    [-0.16401207, 0.21695904, -0.01982267],   # right_shoulder
    [0.41408632, 0.20612068, -0.03989592],    # left_elbow
    [-0.41000173, 0.20380668, -0.03998439],   # right_elbow
    [0.65210542, 0.21512755, -0.03985218],    # left_wrist
    [-0.65517855, 0.21242863, -0.04351591],   # right_wrist
])
# The gender-neutral models were fitted to both genders' scans; without the neutral file we take the midpoint of the
# two mean shapes: a body halfway between them, bone by bone. A file that names its gender (AMASS does) gets its own.
SMPL_NEUTRAL_REST_JOINTS = (SMPL_MALE_REST_JOINTS + SMPL_FEMALE_REST_JOINTS) / 2.0

GENDERS = ("male", "female", "neutral")
MODEL_TYPES = ("smpl", "smplh", "smplx")


def mean_rest_joints(gender: str = "neutral") -> np.ndarray:
    """(22, 3) mean-shape rest joints of ``gender`` ("male", "female"; anything else: "neutral"), metres."""
    table = {"male": SMPL_MALE_REST_JOINTS, "female": SMPL_FEMALE_REST_JOINTS}.get(gender, SMPL_NEUTRAL_REST_JOINTS)
    return table.copy()


def axis_angle_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues: (..., 3) axis-angle (radians, axis times angle) -> (..., 3, 3) rotation matrices."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)  # (..., 1)
    # Small angles: the axis is undefined, but sin(a)/a -> 1 and (1 - cos a)/a^2 -> 1/2 (Taylor), so no division.
    small = angle < 1e-8
    safe = np.where(small, 1.0, angle)
    a = np.where(small, 1.0 - angle**2 / 6.0, np.sin(safe) / safe)[..., None]  # (..., 1, 1)
    b = np.where(small, 0.5 - angle**2 / 24.0, (1.0 - np.cos(safe)) / safe**2)[..., None]  # (..., 1, 1)
    x, y, z = rotvec[..., 0], rotvec[..., 1], rotvec[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*rotvec.shape[:-1], 3, 3)  # (..., 3, 3)
    return np.eye(3) + a * k + b * (k @ k)


def forward_kinematics(rest_joints: np.ndarray, pose: np.ndarray, trans: np.ndarray | None = None) -> np.ndarray:
    """SMPL forward kinematics of the body.

    rest_joints: (22, 3) rest positions; pose: (T, 22, 3) axis-angle per joint, joint 0 the root orientation;
    trans: (T, 3) or None. Returns (T, 22, 3) posed joint positions (float64), in the frame ``pose[:, 0]`` rotates
    into (AMASS: its Z-up capture world).
    """
    rest = np.asarray(rest_joints, dtype=np.float64)
    local = axis_angle_to_matrix(pose)  # (T, 22, 3, 3)
    frames = local.shape[0]
    world = np.empty_like(local)  # (T, 22, 3, 3) rotation of each joint in the world
    positions = np.empty((frames, NUM_JOINTS, 3))  # (T, 22, 3)
    world[:, 0] = local[:, 0]
    positions[:, 0] = rest[0]
    for j in range(1, NUM_JOINTS):
        p = SMPL_PARENTS[j]
        world[:, j] = world[:, p] @ local[:, j]
        positions[:, j] = positions[:, p] + world[:, p] @ (rest[j] - rest[p])  # (T, 3)
    if trans is not None:
        positions += np.asarray(trans, dtype=np.float64)[:, None, :]
    return positions


@dataclass(frozen=True)
class BodyModel:
    """The parts of a SMPL-family model file that give rest joints: template, shape blend shapes, joint regressor."""

    path: str
    v_template: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, B)
    j_regressor: np.ndarray  # (J, V), J >= 22

    def rest_joints(self, betas: np.ndarray | None) -> np.ndarray:
        """(22, 3) rest joints of the subject with shape ``betas`` (its first B used; missing ones are 0)."""
        vertices = self.v_template
        if betas is not None and len(betas):
            count = min(len(betas), self.shapedirs.shape[2])
            vertices = vertices + self.shapedirs[:, :, :count] @ np.asarray(betas[:count], np.float64)  # (V, 3)
        return (self.j_regressor @ vertices)[:NUM_JOINTS]  # (22, 3)


_MODEL_KEYS = ("v_template", "shapedirs", "J_regressor")


def model_file_candidates(folder: Path, model_type: str, gender: str) -> list[Path]:
    """Where a model of ``model_type``/``gender`` may lie in ``folder``: AMASS's layout (``smplh/male/model.npz``)
    and the official release names (``SMPLX_NEUTRAL.npz``, ``SMPLH_FEMALE.npz``, ``SMPL_MALE.npz``)."""
    upper = model_type.upper()
    return [
        folder / model_type / gender / "model.npz",
        folder / gender / "model.npz",
        folder / f"{upper}_{gender.upper()}.npz",
        folder / model_type / f"{upper}_{gender.upper()}.npz",
    ]


def find_body_model(location: str | os.PathLike, model_type: str, gender: str) -> Path:
    """The model file for ``model_type``/``gender`` in ``location`` (a folder, or the file itself); the neutral
    model when the gender's own is not there."""
    location = Path(location)
    if location.is_file():
        return location
    if not location.is_dir():
        raise MotionDataError(location, "no such body-model folder or file (--body-model)")
    tried: list[Path] = []
    for g in dict.fromkeys((gender, "neutral")):
        for candidate in model_file_candidates(location, model_type, g):
            tried.append(candidate)
            if candidate.is_file():
                return candidate
    names = ", ".join(str(p.relative_to(location)) for p in tried)
    raise MotionDataError(location, f"no {model_type} body model for gender {gender!r}: looked for {names} (.npz "
                                    "model files as released; .pkl files are not read)")


def load_body_model(path: str | os.PathLike) -> BodyModel:
    """A SMPL / SMPL-H / SMPL-X ``.npz`` model file (never a pickle: ``allow_pickle=False``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in _MODEL_KEYS if k not in archive.files]
            if missing:
                raise MotionDataError(path, f"not a SMPL-family model file: no {', '.join(missing)} (has "
                                            f"{', '.join(sorted(archive.files)[:12])})")
            v_template = np.asarray(archive["v_template"], np.float64)
            shapedirs = np.asarray(archive["shapedirs"], np.float64)
            j_regressor = np.asarray(archive["J_regressor"], np.float64)
    except MotionDataError:
        raise
    except (OSError, ValueError, EOFError) as exc:  # a pickled (object) array, a broken zip, a missing file
        raise MotionDataError(path, f"cannot read the body model ({type(exc).__name__}: {exc})") from None
    vertices = v_template.shape[0] if v_template.ndim == 2 else -1
    if v_template.ndim != 2 or v_template.shape[1] != 3:
        raise MotionDataError(path, f"v_template must be (V, 3), got {v_template.shape}")
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (vertices, 3):
        raise MotionDataError(path, f"shapedirs must be ({vertices}, 3, B), got {shapedirs.shape}")
    if j_regressor.ndim != 2 or j_regressor.shape[1] != vertices or j_regressor.shape[0] < NUM_JOINTS:
        raise MotionDataError(path, f"J_regressor must be (J >= {NUM_JOINTS}, {vertices}), got {j_regressor.shape}")
    if not (np.isfinite(v_template).all() and np.isfinite(shapedirs).all() and np.isfinite(j_regressor).all()):
        raise MotionDataError(path, "the body model holds non-finite values")
    return BodyModel(str(path), v_template, shapedirs, j_regressor)
