"""A minimal reader of binary FBX node trees, written from the format's published layout, so that tests can check
what Blender reports (frame rate, take range) against the file's own records instead of against Blender itself.

Binary FBX: a 27-byte header (``Kaydara FBX Binary  \\0``, 0x1A 0x00, uint32 version), then node records: end
offset, property count, property bytes (uint32 each, uint64 from version 7500), a name (uint8 length), typed
properties, nested records, and an all-zero record closing each nested list.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

KTIME_PER_SECOND = 46_186_158_000  # FBX time unit
# GlobalSettings TimeMode -> frames per second (FBX SDK's FbxTime::EMode; 14 is "custom": CustomFrameRate)
TIME_MODES = {1: 120.0, 2: 100.0, 3: 60.0, 4: 50.0, 5: 48.0, 6: 30.0, 7: 30.0, 8: 29.97, 9: 29.97, 10: 25.0,
              11: 24.0, 12: 1000.0, 13: 23.976, 15: 96.0, 16: 72.0, 17: 59.94, 18: 119.88}
_SCALARS = {b"Y": "<h", b"C": "<?", b"I": "<i", b"F": "<f", b"D": "<d", b"L": "<q"}
_ARRAYS = {b"f": "f", b"d": "d", b"l": "q", b"i": "i", b"b": "?"}


@dataclass
class Node:
    name: str
    props: list
    children: list[Node] = field(default_factory=list)

    def find(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)

    def find_all(self, name: str) -> list[Node]:
        return [c for c in self.children if c.name == name]

    def properties70(self) -> dict:
        """``{name: value}`` of a Properties70 child (P records: name, type, label, flags, value...)."""
        block = self.find("Properties70")
        if block is None:
            return {}
        return {p.props[0]: (p.props[4] if len(p.props) == 5 else p.props[4:]) for p in block.find_all("P")}


def read_fbx_tree(path: str | Path) -> tuple[int, Node]:
    """(version, root node) of a binary FBX file."""
    data = Path(path).read_bytes()
    if not data.startswith(b"Kaydara FBX Binary  \x00"):
        raise ValueError(f"{path}: not a binary FBX file")
    version = struct.unpack_from("<I", data, 23)[0]
    wide = version >= 7500
    root = Node("", [])
    offset = 27
    while True:
        node, offset = _read_node(data, offset, wide)
        if node is None:
            break
        root.children.append(node)
    return version, root


def _read_node(data: bytes, offset: int, wide: bool):
    fmt, size = ("<QQQ", 24) if wide else ("<III", 12)
    end, count, _ = struct.unpack_from(fmt, data, offset)
    if end == 0:
        return None, offset + size + 1
    offset += size
    name_length = data[offset]
    name = data[offset + 1 : offset + 1 + name_length].decode("utf-8", "replace")
    offset += 1 + name_length
    props = []
    for _ in range(count):
        value, offset = _read_property(data, offset)
        props.append(value)
    node = Node(name, props)
    while offset < end:
        child, offset = _read_node(data, offset, wide)
        if child is None:
            break
        node.children.append(child)
    return node, end


def _read_property(data: bytes, offset: int):
    kind = data[offset : offset + 1]
    offset += 1
    if kind in _SCALARS:
        fmt = _SCALARS[kind]
        return struct.unpack_from(fmt, data, offset)[0], offset + struct.calcsize(fmt)
    if kind in _ARRAYS:
        length, encoding, stored = struct.unpack_from("<III", data, offset)
        raw = data[offset + 12 : offset + 12 + stored]
        raw = zlib.decompress(raw) if encoding == 1 else raw
        return list(struct.unpack(f"<{length}{_ARRAYS[kind]}", raw)), offset + 12 + stored
    if kind in (b"S", b"R"):
        length = struct.unpack_from("<I", data, offset)[0]
        raw = data[offset + 4 : offset + 4 + length]
        return (raw.decode("utf-8", "replace") if kind == b"S" else raw), offset + 4 + length
    raise ValueError(f"unknown FBX property type {kind!r} at byte {offset - 1}")


def frame_rate(root: Node) -> float:
    settings = root.find("GlobalSettings").properties70()
    mode = int(settings.get("TimeMode", 0))
    return float(settings["CustomFrameRate"]) if mode == 14 else TIME_MODES[mode]


def take_ranges(root: Node) -> dict[str, tuple[int, int]]:
    """``{take name: (LocalStart, LocalStop)}`` in FBX time units, from the AnimationStack objects."""
    out = {}
    for stack in root.find("Objects").find_all("AnimationStack"):
        name = stack.props[1].split("\x00")[0]
        props = stack.properties70()
        out[name] = (int(props.get("LocalStart", 0)), int(props.get("LocalStop", 0)))
    return out


def frames_in_take(path: str | Path, take: str | None = None) -> tuple[int, float]:
    """(frames of the take's LocalStart..LocalStop range, inclusive; frames per second) as the file records them."""
    _, root = read_fbx_tree(path)
    fps = frame_rate(root)
    ranges = take_ranges(root)
    start, stop = ranges[take] if take is not None else next(iter(ranges.values()))
    return round((stop - start) / KTIME_PER_SECOND * fps) + 1, fps
