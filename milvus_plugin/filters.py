"""Search filters: a typed ``SearchFilter`` compiled to a Milvus expression with placeholders + ``filter_params``.

User values never go into the expression text by string formatting. Servers that support filter templating
(Milvus >= 2.5) get the template and the parameters as they are. Milvus Lite 3.2.2 and Milvus 2.3.5 reject
templates (both checked), so for them ``CompiledFilter.render`` inlines each parameter as a literal that has been
validated by type and escaped strictly: numbers must be finite numbers, dataset names and tags must match a
conservative character set (a quote, backslash or bracket in them is refused as an injection attempt), and the
free-text source prefix is quoted with every ``\\`` and ``"`` escaped and control characters refused.

The source prefix is a string range (``source >= p and source < p'``, ``p'`` = ``p`` with its last character
incremented), not ``like``: it needs no wildcard escaping (Lite's ``like`` has none) and ``_`` / ``%`` in paths
stay literal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from motion_retrieval_milvus.errors import FilterError

_TOKEN = re.compile(r"^[\w.+\-:@/ ]{1,64}$")  # dataset names and tags: no quotes, brackets, backslashes
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_SOURCE_PREFIX = 2048
FPS_TOLERANCE = 0.01  # fps is stored as float32: compare within a tolerance, never with ==
MAX_VALUES = 64


@dataclass(frozen=True)
class CompiledFilter:
    """A filter expression with ``{name}`` placeholders and the values that fill them."""

    template: str
    params: dict[str, Any]

    def render(self) -> str:
        """The expression with each placeholder replaced by a validated, escaped literal (no templating)."""

        def literal(match: re.Match) -> str:
            name = match.group(1)
            if name not in self.params:
                raise FilterError(f"filter template names {{{name}}} but no value was given for it")
            return _literal(self.params[name])

        return _PLACEHOLDER.sub(literal, self.template)

    def for_backend(self, templating: bool) -> tuple[str, dict[str, Any]]:
        """(expression, filter_params) to hand to pymilvus for a backend with or without filter templating."""
        if not self.template:
            return "", {}
        return (self.template, dict(self.params)) if templating else (self.render(), {})


@dataclass(frozen=True)
class SearchFilter:
    """Restrict motion searches. Every field is optional; set fields are combined with AND.

    ``dataset``: one name or several (any of them); ``min_duration``/``max_duration``: seconds of the window;
    ``fps``: frame rate of the stored arrays; ``tags_any``/``tags_all``: the motion has at least one / all of these
    tags; ``source_prefix``: the source path starts with this string (sources are stored as absolute paths).
    """

    dataset: str | tuple[str, ...] | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    fps: float | None = None
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    source_prefix: str | None = None

    def __post_init__(self):
        if self.dataset is not None:
            datasets = (self.dataset,) if isinstance(self.dataset, str) else self.dataset
            object.__setattr__(self, "dataset", _tokens("dataset", datasets) or None)
        for name in ("min_duration", "max_duration", "fps"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _non_negative_number(name, value))
        if self.min_duration is not None and self.max_duration is not None and self.min_duration > self.max_duration:
            raise FilterError(f"min_duration ({self.min_duration}) is larger than max_duration ({self.max_duration})")
        object.__setattr__(self, "tags_any", _tokens("tags_any", self.tags_any))
        object.__setattr__(self, "tags_all", _tokens("tags_all", self.tags_all))
        if self.source_prefix is not None:
            object.__setattr__(self, "source_prefix", _source_prefix(self.source_prefix))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> SearchFilter:
        """From a JSON-like mapping (gRPC, CLI, HTTP); unknown keys are refused by name."""
        if values is None:
            return cls()
        if not isinstance(values, Mapping):
            raise FilterError(f"a filter must be a mapping of field names to values, got {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise FilterError(f"unknown filter field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**{k: v for k, v in values.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == ():
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @property
    def is_empty(self) -> bool:
        return not self.to_dict()

    def compile(self) -> CompiledFilter:
        clauses: list[str] = []
        params: dict[str, Any] = {}

        def param(value: Any) -> str:
            name = f"p{len(params)}"
            params[name] = value
            return f"{{{name}}}"

        if self.dataset:
            if len(self.dataset) == 1:
                clauses.append(f"dataset == {param(self.dataset[0])}")
            else:
                clauses.append(f"dataset in {param(list(self.dataset))}")
        if self.min_duration is not None:
            clauses.append(f"duration_s >= {param(self.min_duration)}")
        if self.max_duration is not None:
            clauses.append(f"duration_s <= {param(self.max_duration)}")
        if self.fps is not None:
            low, high = self.fps - FPS_TOLERANCE, self.fps + FPS_TOLERANCE
            clauses.append(f"(fps >= {param(low)} and fps <= {param(high)})")
        if self.tags_any:
            clauses.append(f"array_contains_any(tags, {param(list(self.tags_any))})")
        if self.tags_all:
            clauses.append(f"array_contains_all(tags, {param(list(self.tags_all))})")
        if self.source_prefix:
            upper = _prefix_upper_bound(self.source_prefix)
            clauses.append(f"(source >= {param(self.source_prefix)} and source < {param(upper)})")
        return CompiledFilter(" and ".join(clauses), params)


def ids_filter(ids: Sequence[str], field: str = "id") -> CompiledFilter:
    """``field in [ids]`` for our own keys (hex digests), still passed as parameters."""
    for value in ids:
        if not isinstance(value, str) or not re.fullmatch(r"[\w.:@\-]{1,256}", value):
            raise FilterError(f"{field} {value!r} is not a valid motion id")
    return CompiledFilter(f"{field} in {{ids}}", {"ids": list(ids)})


def prefix_filter(field: str, prefix: str) -> CompiledFilter:
    """``field`` starts with ``prefix``, as a string range (no wildcards to escape)."""
    prefix = _source_prefix(prefix)
    bounds = {"lo": prefix, "hi": _prefix_upper_bound(prefix)}
    return CompiledFilter(f"({field} >= {{lo}} and {field} < {{hi}})", bounds)


def equals_filter(field: str, value: str) -> CompiledFilter:
    """``field == value`` for an internal string column (source path, motion id), escaped like a source prefix."""
    return CompiledFilter(f"{field} == {{value}}", {"value": _source_prefix(value)})


def _tokens(name: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    if not isinstance(values, (list, tuple)):
        raise FilterError(f"filter {name} must be a string or a list of strings, got {type(values).__name__}")
    if len(values) > MAX_VALUES:
        raise FilterError(f"filter {name} has {len(values)} values, at most {MAX_VALUES} are allowed")
    out = []
    for value in values:
        if not isinstance(value, str):
            raise FilterError(f"filter {name} must hold strings, got {type(value).__name__} {value!r}")
        if not _TOKEN.match(value):
            raise FilterError(
                f"filter {name} value {value!r} is not allowed: use 1-64 letters, digits, spaces or . + - : @ / _ "
                "(quotes, brackets and backslashes are refused)"
            )
        out.append(value)
    return tuple(out)


def _non_negative_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(f"filter {name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise FilterError(f"filter {name} must be a finite number >= 0, got {value!r}")
    return number


def _source_prefix(value: Any) -> str:
    if not isinstance(value, str):
        raise FilterError(f"filter source_prefix must be a string, got {type(value).__name__}")
    if not value or len(value) > MAX_SOURCE_PREFIX:
        raise FilterError(f"filter source_prefix must have 1-{MAX_SOURCE_PREFIX} characters")
    if _CONTROL.search(value):
        raise FilterError(f"filter source_prefix {value!r} contains control characters")
    if ord(value[-1]) >= 0x10FFFF:
        raise FilterError("filter source_prefix cannot end with U+10FFFF")
    return value


def _prefix_upper_bound(prefix: str) -> str:
    # Every string that starts with `prefix` sorts in [prefix, upper); code-point order equals UTF-8 byte order,
    # so Lite (Python str order) and the server (byte order) agree.
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # skip the surrogate block: not encodable
        following = 0xE000
    return prefix[:-1] + chr(following)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        raise FilterError("booleans are not filter values here")
    if isinstance(value, (int, float)):
        number = float(value)
        if not math.isfinite(number):
            raise FilterError(f"filter number {value!r} is not finite")
        return repr(int(value)) if isinstance(value, int) else f"{number:.6f}"
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise FilterError(f"filter value {value!r} contains control characters")
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise FilterError(f"filter value of type {type(value).__name__} is not supported")
