"""Hostile motion files (issue 11, items 3 and 5): every one fails alone with a MotionDataError naming the file and
the problem, before any large allocation or resampling; the good files beside them are read."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pytest

from motion_retrieval.data.limits import TakeLimits
from motion_retrieval.data.load import load_path, read_file
from motion_retrieval.data.mocap import read_mocap
from motion_retrieval.errors import MotionDataError


def _npy_bytes(header: dict, payload: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + payload


def _npz(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)


def _array_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _bvh(frames: int | str, frame_time: float | str, rows: list[str], offset: str = "0 0 0", joints: int = 1) -> str:
    hierarchy = ["HIERARCHY", "ROOT j0", "{", f"  OFFSET {offset}", "  CHANNELS 3 Xposition Yposition Zposition"]
    for k in range(1, joints):
        hierarchy += [f"JOINT j{k}", "{", "  OFFSET 0 1 0", "  CHANNELS 1 Xrotation"]
    hierarchy += ["End Site", "{", "OFFSET 0 1 0", "}"] + ["}"] * joints
    return "\n".join([*hierarchy, "MOTION", f"Frames: {frames}", f"Frame Time: {frame_time}", *rows]) + "\n"


def hostile_files(folder, sample_joints) -> dict[str, str]:
    """Write every hostile file into ``folder``; returns {file name: the problem its error must state}."""
    f8 = "<f8"
    problems = {}

    def npy(name, data: bytes, problem):
        (folder / name).write_bytes(data)
        problems[name] = problem

    npy("huge_header.npy", _npy_bytes({"descr": f8, "fortran_order": False, "shape": (2**40, 22, 3)}, b"\0" * 64),
        r"take too long: 1099511627776 frames at 20 fps last .* the limit is 3,600 s")
    npy("lying_header.npy", _npy_bytes({"descr": f8, "fortran_order": False, "shape": (10_000, 22, 3)}, b"\0" * 64),
        r"truncated, the header declares shape \(10000, 22, 3\) \(5,280,000 bytes\) but only 64 bytes of data")
    npy("pickle.npy", _array_bytes(sample_joints.astype(object), allow_pickle=True),
        "pickled object array, which is never loaded")
    npy("text.npy", _array_bytes(np.full((10, 22, 3), "a")), r"non-numeric array \(dtype <U1\)")
    npy("complex.npy", _array_bytes(np.zeros((10, 22, 3), np.complex64)), "non-numeric array")
    npy("garbage.npy", b"\x93NUMPX" + b"\xff" * 100, r"cannot read \.npy")
    npy("empty.npy", b"", r"cannot read \.npy")
    npy("no_frames.npy", _array_bytes(np.zeros((0, 22, 3))), "too short")
    npy("flat.npy", _array_bytes(np.zeros((30, 66))), r"must have shape \(T, J, 3\), got \(30, 66\)")
    npy("many_joints.npy", _array_bytes(np.zeros((2, 5000, 3), np.float32)), "5000 joints is over the limit of 1024")
    nan = sample_joints.copy()
    nan[7, 3, 1] = np.nan
    npy("nan.npy", _array_bytes(nan), r"1 frame\(s\) with NaN/inf values \(frames 7\)")

    joints = _array_bytes(sample_joints)

    def npz(name, members, problem):
        _npz(folder / name, {"joints": joints, **members})
        problems[name] = problem

    npz("names_pickle.npz", {"joint_names": _array_bytes(np.array(["a"] * 22, dtype=object), allow_pickle=True)},
        "member 'joint_names' is a pickled object array")
    npz("fps_pickle.npz", {"fps": _array_bytes(np.array([30.0], dtype=object), allow_pickle=True)},
        "member 'fps' is a pickled object array")
    npz("fps_twenty.npz", {"fps": _array_bytes(np.array("twenty"))}, "fps must be a number, got 'twenty'")
    npz("fps_zero.npz", {"fps": _array_bytes(np.array(0.0))}, "fps must be a finite positive number, got 0.0")
    npz("fps_nan.npz", {"fps": _array_bytes(np.array(np.nan))}, "fps must be a finite positive number, got nan")
    npz("fps_tiny.npz", {"fps": _array_bytes(np.array(1e-30))}, "fps 1e-30 fps is below the limit of 1 fps")
    npz("fps_two.npz", {"fps": _array_bytes(np.array([30.0, 60.0]))}, "'fps' must be one number")
    npz("units_parsecs.npz", {"units": _array_bytes(np.array("parsecs"))}, "unknown units 'parsecs'")
    npz("up_sideways.npz", {"up": _array_bytes(np.array("sideways"))}, "unknown up axis 'sideways'")
    npz("names_count.npz", {"joint_names": _array_bytes(np.array(["a", "b"]))}, "2 joint names for 22 joints")
    npz("parents_cycle.npz", {"joint_names": _array_bytes(np.array([f"j{i}" for i in range(22)])),
                              "parents": _array_bytes(np.array([-1] + [(i + 1) % 21 + 1 for i in range(21)]))},
        "the parent indices form a cycle")
    npz("huge_member.npz", {"fps": _npy_bytes({"descr": f8, "fortran_order": False, "shape": (2**40,)})},
        r"array member 'fps' of shape \(1099511627776,\) needs 8,796,093,022,208 bytes, over the limit")
    _npz(folder / "endless.npz", {"joints": _npy_bytes({"descr": f8, "fortran_order": False,
                                                        "shape": (2**31, 22, 3)})})
    problems["endless.npz"] = r"take too long: 2147483648 frames at 20 fps"
    _npz(folder / "slow_take.npz", {"joints": joints, "fps": _array_bytes(np.array(0.04))})
    problems["slow_take.npz"] = "below the limit of 1 fps"
    (folder / "not_a_zip.npz").write_bytes(b"PK\x03\x04 not really")
    problems["not_a_zip.npz"] = r"cannot read \.npz"

    def bvh(name, text, problem):
        (folder / name).write_text(text) if isinstance(text, str) else (folder / name).write_bytes(text)
        problems[name] = problem

    rows3 = ["0 0 0"] * 3
    bvh("frame_time_2000.bvh", _bvh(3, 2000, rows3), "frame rate 0.0005 fps is below the limit of 1 fps")
    bvh("hours.bvh", _bvh(8000, 0.5, ["0 0 0"] * 8000),
        r"take too long: 8000 frames at 2 fps last 4,000 s \(79,991 frames at 20 fps\); the limit is 3,600 s "
        r"\(72,001 frames at 20 fps\)")
    bvh("negative_frames.bvh", _bvh(-5, 0.03, rows3), "Frames must be at least 1, got -5")
    bvh("nan_frame_time.bvh", _bvh(3, "nan", rows3), "Frame Time must be a finite positive number")
    bvh("nan_offset.bvh", _bvh(3, 0.03, rows3, offset="nan 0 0"), "OFFSET is not finite")
    bvh("inf_values.bvh", _bvh(3, 0.03, ["0 0 0", "1e400 0 0", "0 0 0"]), r"1 frame\(s\) with NaN/inf")
    bvh("binary.bvh", b"\x00\xff\xfe" * 100, "cannot read BVH file")
    bvh("too_many_joints.bvh", _bvh(2, 0.03, ["0 0 0" + " 0" * 1999] * 2, joints=2000),
        "2000 joints is over the limit of 1024")
    bvh("deep_chain.bvh", _bvh(5, 0.03, [f"0 0 {k}" + f" {k}" * 999 for k in range(5)], joints=1000),
        "not a humanoid: a single chain of 1000 joints")
    return problems


def test_every_hostile_file_fails_alone_and_says_why(tmp_path, sample_joints, cmu_bvh_dir):
    folder = tmp_path / "hostile"
    folder.mkdir()
    problems = hostile_files(folder, sample_joints)
    assert len(problems) >= 23
    np.save(folder / "good.npy", sample_joints)
    np.save(folder / "good_fortran.npy", np.asfortranarray(sample_joints))
    (folder / "good.bvh").write_bytes((cmu_bvh_dir / "131_03.bvh").read_bytes())
    errors: list[MotionDataError] = []
    records = list(load_path(folder, errors=errors, compute_features=False))
    assert sorted(r.id for r in records) == ["good", "good", "good_fortran"]
    np.testing.assert_allclose(records[-1].joints, records[-2].joints)  # Fortran order read as such
    reported = {e.path.rsplit("/", 1)[-1].split(":")[0]: e for e in errors}
    assert sorted(reported) == sorted(problems)
    for name, problem in problems.items():
        assert reported[name].path.startswith(str(folder / name)), name
        assert re.search(problem, reported[name].problem), (name, reported[name].problem)


def test_take_limits_are_checked_before_resampling_and_can_be_raised(tmp_path, sample_joints):
    long = np.repeat(sample_joints[:2], 2000, axis=0)  # 4000 frames
    np.save(tmp_path / "long.npy", long)
    with pytest.raises(MotionDataError, match=r"last 3,999 s .* the limit is 3,600 s \(72,001 frames at 20 fps\)"):
        read_mocap(tmp_path / "long.npy", fps=1.0)
    with pytest.raises(MotionDataError, match="frame rate 0.2 fps is below the limit of 1 fps"):
        read_mocap(tmp_path / "long.npy", fps=0.2)  # 0.2 fps: 100 frames at 20 fps per recorded frame
    raised = read_file(tmp_path / "long.npy", fps=1.0, compute_features=False, limits=TakeLimits(max_seconds=4000))
    assert len(raised.joints) == 79_981  # (4000 - 1) s at 20 fps: what the raised limit allows


def test_readers_never_load_pickles_even_when_numpy_would(tmp_path, sample_joints):
    _npz(tmp_path / "p.npz", {"positions": _array_bytes(sample_joints.astype(object), allow_pickle=True)})
    with pytest.raises(MotionDataError, match="member 'positions' is a pickled object array"):
        read_mocap(tmp_path / "p.npz")


def test_array_headers_are_checked_against_the_limit_and_the_file_before_allocating(tmp_path):
    from motion_retrieval.data.humanml3d import load_features

    (tmp_path / "f.npy").write_bytes(_npy_bytes({"descr": "<f4", "fortran_order": False, "shape": (2**40, 263)}))
    with pytest.raises(MotionDataError, match=r"needs 1,156,686,232,420,352 bytes, over the limit of 1,073,741,824"):
        load_features(tmp_path / "f.npy")
    (tmp_path / "g.npy").write_bytes(_npy_bytes({"descr": "<f4", "fortran_order": False, "shape": (1000, 263)}))
    with pytest.raises(MotionDataError, match=r"truncated, the header declares shape \(1000, 263\) \(1,052,000 b"):
        load_features(tmp_path / "g.npy")
