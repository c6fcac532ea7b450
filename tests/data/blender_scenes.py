"""FBX files the tests write themselves with Blender (run as a script in a child process: bpy stays out of pytest).

``python blender_scenes.py roundtrip OUT.fbx TAKE.bvh [OUT_ZUP_M.fbx]``: the BVH take through Blender's BVH importer
(at the file's own frame rate) and FBX exporter, with a light in the scene (Blender 5.0's FBX importer fails on
lights unless the worker tolerates them); the second file, if asked for, declares Z up and metres (unit scale 100:
its numbers are the take's units / 100), so that reading it right depends on the file's declarations.

``python blender_scenes.py transformed OUT.fbx TAKE.bvh``: the take with its armature object scaled 2x and turned
90 degrees about the vertical at object level (the bones untouched), as rigs imported at another scale often are.

``python blender_scenes.py choices OUT.fbx FIRST.bvh SECOND.bvh``: one character armature with two takes (the
first BVH's action is the active one, the second's is a second take) and a second, smaller armature (a two-bone
prop with one animated bone), so that the reader has an armature and a take to choose.
"""

from __future__ import annotations

import sys


def _import_bvh(bpy, path: str):
    before = set(bpy.data.objects)
    bpy.ops.import_anim.bvh(filepath=path, update_scene_fps=True, update_scene_duration=True)
    return next(o for o in bpy.data.objects if o not in before and o.type == "ARMATURE")


def roundtrip(out: str, bvh: str, out_zup_metres: str | None = None) -> None:
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    _import_bvh(bpy, bvh)
    light = bpy.data.objects.new("Lamp", bpy.data.lights.new("Lamp", type="POINT"))
    bpy.context.scene.collection.objects.link(light)
    common = dict(object_types={"ARMATURE", "LIGHT"}, add_leaf_bones=False, bake_anim=True,
                  bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False)
    bpy.ops.export_scene.fbx(filepath=out, **common)
    if out_zup_metres:
        bpy.ops.export_scene.fbx(filepath=out_zup_metres, axis_up="Z", axis_forward="Y",
                                 apply_scale_options="FBX_SCALE_UNITS", **common)


def transformed(out: str, bvh: str) -> None:
    import math

    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    armature = _import_bvh(bpy, bvh)
    armature.scale = (2.0, 2.0, 2.0)
    armature.rotation_euler = (0.0, 0.0, math.radians(90.0))
    bpy.ops.export_scene.fbx(filepath=out, object_types={"ARMATURE"}, add_leaf_bones=False, bake_anim=True,
                             bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False)


def choices(out: str, first: str, second: str) -> None:
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    character = _import_bvh(bpy, first)
    other = _import_bvh(bpy, second)  # the same rig (one CMU subject): its action fits the character's bones
    main_action, second_action = character.animation_data.action, other.animation_data.action
    second_action.use_fake_user = True
    bpy.data.objects.remove(other)
    character.name = "Performer"
    character.animation_data.action = main_action

    prop_data = bpy.data.armatures.new("PropRig")
    prop = bpy.data.objects.new("Prop", prop_data)
    bpy.context.scene.collection.objects.link(prop)
    bpy.context.view_layer.objects.active = prop
    bpy.ops.object.mode_set(mode="EDIT")
    base = prop_data.edit_bones.new("PropBase")
    base.head, base.tail = (3.0, 0.0, 0.0), (3.0, 0.0, 0.5)
    tip = prop_data.edit_bones.new("PropTip")
    tip.head, tip.tail, tip.parent = (3.0, 0.0, 0.5), (3.0, 0.0, 1.0), base
    bpy.ops.object.mode_set(mode="OBJECT")
    scene = bpy.context.scene
    for frame, angle in ((scene.frame_start, 0.0), (scene.frame_end, 1.0)):
        prop.pose.bones["PropTip"].rotation_mode = "XYZ"
        prop.pose.bones["PropTip"].rotation_euler = (angle, 0.0, 0.0)
        prop.pose.bones["PropTip"].keyframe_insert("rotation_euler", frame=frame)
    bpy.ops.export_scene.fbx(filepath=out, object_types={"ARMATURE"}, add_leaf_bones=False, bake_anim=True,
                             bake_anim_use_all_actions=True, bake_anim_use_nla_strips=False)


if __name__ == "__main__":
    task, *args = sys.argv[1:]
    {"roundtrip": roundtrip, "transformed": transformed, "choices": choices}[task](*args)
