"""Runs inside a child process with Blender's ``bpy`` module: import one file, write what it animates to an .npz.

Never imported by the main process (blender.py starts it as ``python -m motion_retrieval.data.blender_worker``):
bpy is large, keeps global state between imports, and a crash inside Blender's C code ends the process that
loaded it. Only the standard library and numpy are imported here besides bpy, so the child starts fast.

Tasks:
- ``fbx IN OUT.npz [--take NAME] [--armature NAME]``: Blender's FBX importer, then per frame of the take's
  frame range the world-space head of every bone of one armature (the one with the most animated bones unless
  named), in Blender's world: metres as the file declares its unit scale, Z up, the armature object's own transform
  (and any parent's) applied.
- ``bvh IN OUT.npz``: Blender's BVH importer (at the file's own frame rate), the same arrays; what other code
  uses to check that a BVH it wrote opens in Blender.

A problem the file has (no skeleton, no animation, not an FBX, an unknown take) ends the process with exit code
``EXIT_FILE_PROBLEM`` and one stdout line ``ERROR_MARKER + json {"kind": ..., "message": ...}``; anything else
is a crash for the parent to report.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys

import numpy as np

ERROR_MARKER = "motion-retrieval-blender-error: "
EXIT_FILE_PROBLEM = 3
_BONE_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]')


class FileProblem(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def _fail(kind: str, message: str) -> FileProblem:
    return FileProblem(kind, message)


# ------------------------------------------------------------------------------------------------------ scene
def _empty_scene(bpy) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _scene_fps(bpy) -> float:
    render = bpy.context.scene.render
    return float(render.fps) / float(render.fps_base)


def _armatures(bpy) -> list:
    return [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]


def _fcurves(action, slot) -> list:
    """The F-curves an action holds for one slot (Blender 4.4+ layered actions), or all of them (older actions)."""
    if hasattr(action, "layers") and len(action.layers):
        curves = []
        for layer in action.layers:
            for strip in layer.strips:
                bag = strip.channelbag(slot) if slot is not None else None
                if bag is not None:
                    curves.extend(bag.fcurves)
        return curves
    return list(getattr(action, "fcurves", []))


def _animated_bones(action, slot, bone_names: set[str]) -> set[str]:
    bones = set()
    for curve in _fcurves(action, slot):
        match = _BONE_PATH.match(curve.data_path)
        if match:
            name = match.group(1).replace('\\"', '"').replace("\\\\", "\\")
            if name in bone_names:
                bones.add(name)
    return bones


def _slot_for(action, obj):
    """The slot of ``action`` meant for ``obj`` (FBX imports make one per object, named after it), else its first."""
    slots = list(getattr(action, "slots", []))
    if not slots:
        return None
    for slot in slots:
        if getattr(slot, "identifier", "") == "OB" + obj.name or getattr(slot, "name_display", "") == obj.name:
            return slot
    return slots[0]


def _takes_of(bpy, armature) -> list:
    """The actions made for this armature: the FBX importer names them ``"<object>|<take>"``; the assigned one first."""
    assigned = armature.animation_data.action if armature.animation_data else None
    takes = [a for a in bpy.data.actions if a.name.startswith(armature.name + "|")]
    if assigned is not None:
        takes = [assigned] + [a for a in takes if a != assigned]
    return takes


def _take_name(armature, action) -> str:
    prefix = armature.name + "|"
    return action.name[len(prefix):] if action.name.startswith(prefix) else action.name


def _assign(armature, action) -> None:
    if armature.animation_data is None:
        armature.animation_data_create()
    armature.animation_data.action = action
    slot = _slot_for(action, armature)
    if slot is not None and hasattr(armature.animation_data, "action_slot"):
        armature.animation_data.action_slot = slot


def _choose(bpy, path: str, armature_name: str | None, take: str | None):
    """(armature, action, animated bone count, every armature's name, every take name of the chosen armature)."""
    armatures = _armatures(bpy)
    if not armatures:
        kinds = sorted({o.type.lower() for o in bpy.context.scene.objects})
        found = f"it holds {', '.join(kinds)} objects only" if kinds else "it holds no objects"
        raise _fail("no_skeleton", f"no skeleton: the FBX has no armature (bones) to read motion from; {found}")
    if armature_name is not None:
        named = [a for a in armatures if a.name == armature_name]
        if not named:
            raise _fail("unknown_armature", f"no armature named {armature_name!r}; the file has "
                                            f"{', '.join(repr(a.name) for a in armatures)}")
        armatures = named
    candidates = []  # (animated bones, armature, action)
    for armature in armatures:
        bone_names = {b.name for b in armature.data.bones}
        for action in _takes_of(bpy, armature):
            bones = _animated_bones(action, _slot_for(action, armature), bone_names)
            candidates.append((len(bones), armature, action))
    every_take = list(candidates)
    if take is not None:
        picked = [c for c in candidates if take in (c[2].name, _take_name(c[1], c[2]))]
        if not picked:
            names = sorted({_take_name(a, act) for _, a, act in candidates})
            raise _fail("unknown_take", f"no take named {take!r}; the file has "
                                        f"{', '.join(repr(n) for n in names) if names else 'no takes'}")
        candidates = picked
    animated = [c for c in candidates if c[0] > 0]
    if not animated:
        bones = sum(len(a.data.bones) for a in armatures)
        raise _fail("no_animation", f"skeleton without animation: {len(armatures)} armature(s) with {bones} bones, "
                                    "but no take animates any bone")
    # the armature with the most animated bones; its assigned (active) take first, as _takes_of lists them
    best = max(animated, key=lambda c: c[0])
    count, armature, action = best
    takes = [_take_name(armature, act) for _, a, act in every_take if a == armature]
    takes.remove(_take_name(armature, action))
    takes.insert(0, _take_name(armature, action))  # the one read first
    return armature, action, count, [a.name for a in _armatures(bpy)], takes


def _bone_order(armature) -> list:
    """Bones with every parent before its children (roots in file order, then depth first)."""
    order = []

    def visit(bone):
        order.append(bone)
        for child in bone.children:
            visit(child)

    for bone in armature.data.bones:
        if bone.parent is None:
            visit(bone)
    return order


def _frame_range(action, scene) -> tuple[int, int]:
    """The frames between the action's first and last keys (BVH takes, FBX takes that declare no range)."""
    start, end = (float(v) for v in action.frame_range)
    if not (math.isfinite(start) and math.isfinite(end)):
        start, end = float(scene.frame_start), float(scene.frame_end)
    return int(round(start)), int(round(end))


def _declared_take_ranges(path: str) -> dict[str, tuple[int, int]]:
    """``{take name: (LocalStart, LocalStop) in FBX time units}`` as the file's animation stacks declare them.

    Blender's importer keys the actions but drops the stacks' own ranges, and a take's range may reach past its
    last key (a held pose at the end); read with the importer's own parser. Empty when the file declares none.
    """
    from io_scene_fbx import parse_fbx  # deferred: Blender's own modules exist only in its Python
    from io_scene_fbx.import_fbx import elem_find_first, elem_find_iter, elem_name_ensure_class

    root, _ = parse_fbx.parse(path)
    objects = elem_find_first(root, b"Objects")
    ranges = {}
    for stack in elem_find_iter(objects, b"AnimationStack") if objects is not None else ():
        props = elem_find_first(stack, b"Properties70")
        values = {}
        for prop in elem_find_iter(props, b"P") if props is not None else ():
            if prop.props[0] in (b"LocalStart", b"LocalStop") and len(prop.props) > 4:
                values[prop.props[0]] = int(prop.props[4])
        if values.get(b"LocalStop", 0) > values.get(b"LocalStart", 0):
            ranges[elem_name_ensure_class(stack, b"AnimStack")] = (values.get(b"LocalStart", 0), values[b"LocalStop"])
    return ranges


def _fbx_ktime(path: str) -> int:
    with open(path, "rb") as f:
        header = f.read(27)
    version = int.from_bytes(header[23:27], "little")
    return 141_120_000 if version >= 8000 else 46_186_158_000  # FBX time units a second (fbx_utils.FBX_KTIME_V7/8)


def _take_range(path: str, take_name: str, action, scene) -> tuple[int, int]:
    """The take's frames: its declared LocalStart..LocalStop when the file has one, else its keys' range.

    Frames as the importer places keys: FBX time x the scene's (integer) frame rate, plus 1.
    """
    try:
        declared = _declared_take_ranges(path)
    except Exception:  # noqa: BLE001 (a range we cannot read is not a reason to refuse the take)
        declared = {}
    # action names are "<object>|<stack>" or "<object>|<stack>|<layer>", and stack names may hold "|" themselves
    stack = take_name if take_name in declared else max(
        (name for name in declared if take_name.startswith(name + "|")), key=len, default=None)
    if stack is None:
        return _frame_range(action, scene)
    start, stop = declared[stack]
    per_tick = scene.render.fps / _fbx_ktime(path)
    return int(round(start * per_tick)) + 1, int(round(stop * per_tick)) + 1


def _sample(bpy, armature, bones, start: int, end: int) -> np.ndarray:
    """(T, J, 3) world-space bone heads for frames start..end inclusive."""
    scene = bpy.context.scene
    out = np.empty((end - start + 1, len(bones), 3), dtype=np.float64)
    pose = armature.pose.bones
    order = np.array([pose.find(b.name) for b in bones])  # pose.bones index of each bone in our order
    heads = np.empty(len(pose) * 3, dtype=np.float32)
    for t, frame in enumerate(range(start, end + 1)):
        scene.frame_set(frame)
        world = np.array(armature.matrix_world, dtype=np.float64)  # (4, 4) the object's own transform this frame
        pose.foreach_get("head", heads)  # every bone's head in armature space, one call
        local = heads.reshape(-1, 3)[order].astype(np.float64)  # (J, 3)
        out[t] = local @ world[:3, :3].T + world[:3, 3]
    return out


def _tolerate_light_settings(bpy) -> None:
    """Let the FBX importer go on past lights it cannot set up.

    Blender 5.0's importer sets ``light.cycles.cast_shadow``, which the ``bpy`` module build does not have, and so
    fails on every file with a light (Blender 2.9x exports include one by default). Lights never move bones: such a
    light becomes a plain point light and the import continues.
    """
    from io_scene_fbx import import_fbx  # deferred: Blender's own modules exist only in its Python

    original = import_fbx.blen_read_light
    if getattr(original, "_motion_retrieval_tolerant", False):
        return

    def read_light(fbx_tmpl, fbx_obj, settings):
        try:
            return original(fbx_tmpl, fbx_obj, settings)
        except AttributeError:
            return bpy.data.lights.new(name="FBX light", type="POINT")

    read_light._motion_retrieval_tolerant = True
    import_fbx.blen_read_light = read_light


# ------------------------------------------------------------------------------------------------------ tasks
def read_fbx(path: str, take: str | None, armature_name: str | None, max_seconds: float, max_joints: int) -> dict:
    import bpy  # deferred: bpy exists only inside Blender ([fbx] extra)

    _empty_scene(bpy)
    _tolerate_light_settings(bpy)
    try:
        result = bpy.ops.import_scene.fbx(filepath=path, use_anim=True, automatic_bone_orientation=False,
                                          ignore_leaf_bones=False)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        message = " ".join(lines)
        if "ascii" in message.lower():
            raise _fail("unsupported", "ASCII FBX is not supported by Blender's importer; save it as binary FBX "
                                       f"(Blender said: {message})") from None
        if "Traceback" in message:  # the importer's own Python failed: name the exception, not the whole stack
            last = next((line for line in reversed(lines) if not line.startswith("Location:")), message)
            raise _fail("importer", f"Blender's FBX importer failed on this file ({last})") from None
        raise _fail("corrupt", f"not a readable FBX file (Blender's importer said: {message})") from None
    if "FINISHED" not in result:
        raise _fail("corrupt", f"Blender's FBX importer did not finish ({', '.join(sorted(result))})")
    armature, action, animated, armatures, takes = _choose(bpy, path, armature_name, take)
    _assign(armature, action)
    scene = bpy.context.scene
    fps = _scene_fps(bpy)
    start, end = _take_range(path, _take_name(armature, action), action, scene)
    bones = _bone_order(armature)
    if len(bones) > max_joints:
        raise _fail("limits", f"{len(bones)} bones is over the limit of {max_joints}")
    if fps > 0 and (end - start) / fps > max_seconds:
        raise _fail("limits", f"take too long: {end - start + 1} frames at {fps:g} fps; the limit is "
                              f"{max_seconds:g} s")
    positions = _sample(bpy, armature, bones, start, end)
    index = {b.name: i for i, b in enumerate(bones)}
    return {
        "positions": positions,
        "names": np.array([b.name for b in bones]),
        "parents": np.array([index[b.parent.name] if b.parent else -1 for b in bones], dtype=np.int64),
        "fps": np.float64(fps),
        "frame_start": np.int64(start),
        "frame_end": np.int64(end),
        "armature": np.array(armature.name),
        "take": np.array(_take_name(armature, action)),
        "armatures": np.array(armatures),
        "takes": np.array(takes),
        "animated_bones": np.int64(animated),
    }


def read_bvh(path: str) -> dict:
    import bpy  # deferred: bpy exists only inside Blender ([fbx] extra)

    _empty_scene(bpy)
    try:
        bpy.ops.import_anim.bvh(filepath=path, update_scene_fps=True, update_scene_duration=True)
    except (RuntimeError, ValueError, IndexError, KeyError) as exc:  # the BVH importer raises whatever it meets
        raise _fail("corrupt", f"Blender's BVH importer refused the file ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())})") from None
    armatures = _armatures(bpy)
    if not armatures or armatures[0].animation_data is None or armatures[0].animation_data.action is None:
        raise _fail("no_animation", "Blender's BVH importer made no animated armature")
    armature = armatures[0]
    action = armature.animation_data.action
    start, end = _frame_range(action, bpy.context.scene)
    bones = _bone_order(armature)
    index = {b.name: i for i, b in enumerate(bones)}
    return {
        "positions": _sample(bpy, armature, bones, start, end),
        "names": np.array([b.name for b in bones]),
        "parents": np.array([index[b.parent.name] if b.parent else -1 for b in bones], dtype=np.int64),
        "fps": np.float64(_scene_fps(bpy)),
        "frame_start": np.int64(start),
        "frame_end": np.int64(end),
        "armature": np.array(armature.name),
        "take": np.array(action.name),
        "armatures": np.array([a.name for a in armatures]),
        "takes": np.array([action.name]),
        "animated_bones": np.int64(len(bones)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motion_retrieval.data.blender_worker")
    parser.add_argument("task", choices=("fbx", "bvh"))
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--take")
    parser.add_argument("--armature")
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    parser.add_argument("--max-joints", type=int, default=1024)
    args = parser.parse_args(argv)
    try:
        if args.task == "fbx":
            arrays = read_fbx(args.input, args.take, args.armature, args.max_seconds, args.max_joints)
        else:
            arrays = read_bvh(args.input)
    except FileProblem as problem:
        sys.stdout.flush()
        print(ERROR_MARKER + json.dumps({"kind": problem.kind, "message": problem.message}), flush=True)
        return EXIT_FILE_PROBLEM
    with open(args.output, "wb") as out:
        np.savez(out, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
