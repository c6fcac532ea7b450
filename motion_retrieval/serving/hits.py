"""The one hit schema: what a search returns, whoever answers it (the Milvus plugin in this process, or the gRPC
service through the client).

``search --json`` prints ``to_json()`` of these classes in both modes, the client returns the same dictionaries, and
the Milvus plugin builds them from its rows, so a script written against one mode reads the other unchanged.
Motion hits: ``id, name, score, start_s, end_s, duration_s, dataset, tags, source, fps, captions, num_frames``;
caption hits: ``id, text, score, motion_id, dataset``. Times are seconds, rounded to 0.1 ms: they are stored as
float32, and ``1.2`` comes back as ``1.2000000476837158`` otherwise.

Light on purpose (standard library only): the ``[client]`` extra imports it. The converters from protobuf messages
read fields by name, so this module needs neither protobuf nor the generated code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SECONDS_DECIMALS = 4


def seconds(value: Any) -> float:
    """A stored time (float32, or None for unset) as seconds with the precision that means anything."""
    return round(float(value or 0.0), SECONDS_DECIMALS)


@dataclass
class MotionHit:
    """A motion (or a window of a take) found by a search."""

    id: str  # the stored row id (a blake2b-128 hex digest); DeleteMotions / --motion-id take it
    name: str  # the record id as ingested; windows of a long take carry the take's id plus their span
    score: float  # cosine similarity, higher is closer
    start_s: float  # seconds into the source take that the hit covers
    end_s: float
    duration_s: float
    dataset: str
    tags: list[str] = field(default_factory=list)
    source: str = ""  # the file the motion came from, as ingested
    fps: float = 0.0  # frame rate of the source take
    captions: list[str] = field(default_factory=list)
    num_frames: int = 0  # frames of the window in the source take

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> MotionHit:
        return cls(**obj)

    @classmethod
    def from_message(cls, message: Any) -> MotionHit:
        """From a ``motion_retrieval.v1.MotionHit`` (its fields are ``start``, ``end``, ``duration``)."""
        return cls(
            id=message.id, name=message.name, score=float(message.score), start_s=seconds(message.start),
            end_s=seconds(message.end), duration_s=seconds(message.duration), dataset=message.dataset,
            tags=list(message.tags), source=message.source, fps=seconds(message.fps),
            captions=list(message.captions), num_frames=int(message.num_frames),
        )


@dataclass
class CaptionHit:
    """A stored caption found by a search, with the motion it describes."""

    id: str  # the stored caption row id
    text: str
    score: float  # cosine similarity, higher is closer
    motion_id: str  # the row id of the motion the caption describes (a MotionHit.id)
    dataset: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CaptionHit:
        return cls(**obj)

    @classmethod
    def from_message(cls, message: Any) -> CaptionHit:
        """From a ``motion_retrieval.v1.CaptionHit``."""
        return cls(id=message.id, text=message.text, score=float(message.score), motion_id=message.motion_id,
                   dataset=message.dataset)
