"""``.npy`` and ``.npz`` files read defensively: header first, checked against the real size, then the data.

``np.load`` trusts the header: a 100-byte ``.npy`` declaring 2^40 elements makes it try to allocate terabytes
(``_ArrayMemoryError``), and an ``.npz`` member can be a pickled object array. Here every array's header is parsed
first, its dtype must be numeric (or a string array where names are expected; never objects, so never pickles), its
size must fit the limit, and the bytes the header promises must be in the file (for an ``.npz`` member: in its
declared uncompressed size) before anything is allocated. Every failure is a MotionDataError naming the file.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from motion_retrieval.data.limits import DEFAULT_LIMITS, TakeLimits, check_file_size
from motion_retrieval.errors import MotionDataError

NUMERIC = "fiu"  # float, signed and unsigned integer dtypes
TEXT = "US"  # unicode and byte strings (joint names, units, skeleton names)
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError,
                KeyError)


def _header(fp: BinaryIO, where: str, path) -> tuple[tuple[int, ...], np.dtype, bool]:
    """(shape, dtype, fortran_order) of the .npy stream at ``fp``; the stream is left at the first data byte."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            shape, fortran, dtype = np.lib.format._read_array_header(fp, version)  # noqa: SLF001 (v3: utf-8 names)
    except _READ_ERRORS as exc:
        raise MotionDataError(path, f"cannot read .npy{where} ({exc})") from None
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise MotionDataError(path, f"cannot read .npy{where}: bad shape {shape!r} in its header")
    return tuple(shape), dtype, bool(fortran)


def _check(shape, dtype: np.dtype, available: int, kinds: str, where: str, path, limits: TakeLimits) -> int:
    """The array's byte size, once its dtype and size are acceptable and the data is all there."""
    if dtype.hasobject or dtype.kind == "O":
        raise MotionDataError(
            path, f"{where.strip(' :') or 'the array'} is a pickled object array, which is never loaded; save numbers "
                  "as a numeric array and names as a string array"
        )
    if dtype.kind not in kinds:
        expected = "numeric" if kinds == NUMERIC else "text" if kinds == TEXT else "numeric or text"
        label = "non-numeric array" if kinds == NUMERIC else f"not a {expected} array"
        raise MotionDataError(path, f"{label}{where} (dtype {dtype})")
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if nbytes > limits.max_array_bytes:
        raise MotionDataError(
            path, f"array{where} of shape {shape} needs {nbytes:,} bytes, over the limit of "
                  f"{limits.max_array_bytes:,} bytes"
        )
    if nbytes > available:
        raise MotionDataError(
            path, f"cannot read .npy{where}: truncated, the header declares shape {shape} ({nbytes:,} bytes) but "
                  f"only {max(available, 0):,} bytes of data follow"
        )
    return nbytes


def _read_data(fp: BinaryIO, shape, dtype: np.dtype, fortran: bool, nbytes: int, where: str, path) -> np.ndarray:
    buffer = bytearray(nbytes)
    view = memoryview(buffer)
    got = 0
    try:
        while got < nbytes:
            n = fp.readinto(view[got:])
            if not n:
                break
            got += n
    except _READ_ERRORS as exc:
        raise MotionDataError(path, f"cannot read .npy{where} ({exc})") from None
    if got < nbytes:
        raise MotionDataError(path, f"cannot read .npy{where}: truncated, {got:,} of {nbytes:,} data bytes")
    array = np.frombuffer(buffer, dtype=dtype)
    return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)


def npy_header(path: str | os.PathLike, limits: TakeLimits = DEFAULT_LIMITS) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) that an .npy file declares, without reading its data."""
    path = Path(path)
    check_file_size(path, limits)
    with _open(path) as fp:
        _refuse_archive(fp, path)
        shape, dtype, _ = _header(fp, "", path)
    return shape, dtype


def read_npy(path: str | os.PathLike, limits: TakeLimits = DEFAULT_LIMITS, kinds: str = NUMERIC) -> np.ndarray:
    """One array from an .npy file, checked as the module says."""
    path = Path(path)
    size = check_file_size(path, limits)
    with _open(path) as fp:
        _refuse_archive(fp, path)
        shape, dtype, fortran = _header(fp, "", path)
        nbytes = _check(shape, dtype, size - fp.tell(), kinds, "", path, limits)
        return _read_data(fp, shape, dtype, fortran, nbytes, "", path)


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")  # noqa: SIM115 (returned to a with block)
    except FileNotFoundError:
        raise MotionDataError(path, "file not found") from None
    except OSError as exc:
        raise MotionDataError(path, f"cannot read the file: {exc}") from None


def _refuse_archive(fp: BinaryIO, path) -> None:
    if fp.read(2) == b"PK":
        raise MotionDataError(path, "expected one array (.npy), found an archive")
    fp.seek(0)


class NpzArchive:
    """An .npz opened for reading array by array (``with NpzArchive(path) as archive: archive.read("joints")``)."""

    def __init__(self, path: str | os.PathLike, limits: TakeLimits = DEFAULT_LIMITS):
        self.path = Path(path)
        self.limits = limits
        check_file_size(self.path, limits)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise MotionDataError(self.path, "file not found") from None
        except _READ_ERRORS as exc:
            raise MotionDataError(self.path, f"cannot read .npz ({exc})") from None
        self._members = {
            info.filename[:-4]: info for info in self._zip.infolist() if info.filename.endswith(".npy")
        }

    @property
    def files(self) -> list[str]:
        return list(self._members)

    def __contains__(self, key: str) -> bool:
        return key in self._members

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def header(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        with self._open(key) as fp:
            shape, dtype, _ = _header(fp, f" member {key!r}", self.path)
        return shape, dtype

    def read(self, key: str, kinds: str = NUMERIC) -> np.ndarray:
        info = self._members[key]
        where = f" member {key!r}"
        with self._open(key) as fp:
            shape, dtype, fortran = _header(fp, where, self.path)
            nbytes = _check(shape, dtype, info.file_size - fp.tell(), kinds, where, self.path, self.limits)
            return _read_data(fp, shape, dtype, fortran, nbytes, where, self.path)

    def _open(self, key: str) -> BinaryIO:
        try:
            return self._zip.open(self._members[key])
        except _READ_ERRORS as exc:
            raise MotionDataError(self.path, f"cannot read .npz member {key!r} ({exc})") from None
