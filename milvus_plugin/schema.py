"""Explicit collection schemas: one pair of collections (motions, captions) per model id.

A vector only means something next to the model that produced it, so every collection is named after the model id
(``motions_<model_id>``, ``captions_<model_id>``, with an optional prefix) and records the id and dimension in its
properties; opening a collection built by another model is refused (``CollectionMismatchError``). Dynamic fields are
off: every filterable value is a typed scalar column (filters on JSON fields are far slower: docs/BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from pymilvus import CollectionSchema, DataType, MilvusClient

from motion_retrieval.errors import ConfigError
from motion_retrieval_milvus.errors import CollectionMismatchError

SCHEMA_VERSION = "1"
MODEL_ID_PROPERTY = "motion_retrieval.model_id"
DIM_PROPERTY = "motion_retrieval.dim"
KIND_PROPERTY = "motion_retrieval.kind"
SCHEMA_VERSION_PROPERTY = "motion_retrieval.schema_version"

ID_MAX_LENGTH = 64
NAME_MAX_LENGTH = 256
DATASET_MAX_LENGTH = 64
SOURCE_MAX_LENGTH = 2048
CAPTIONS_MAX_LENGTH = 8192  # all captions of a motion, one per line
CAPTION_MAX_LENGTH = 2048
TAG_MAX_LENGTH = 64
MAX_TAGS = 32
HASH_MAX_LENGTH = 64
_NAME_LIMIT = 255  # Milvus collection names: letters, digits, underscores; at most 255 characters

# The scalar columns of the motions collection, with the Python type a filter value must have.
MOTION_SCALAR_FIELDS: dict[str, DataType] = {
    "name": DataType.VARCHAR,
    "dataset": DataType.VARCHAR,
    "source": DataType.VARCHAR,
    "start_s": DataType.FLOAT,
    "end_s": DataType.FLOAT,
    "duration_s": DataType.FLOAT,
    "fps": DataType.FLOAT,
    "num_frames": DataType.INT64,
    "captions": DataType.VARCHAR,
    "tags": DataType.ARRAY,
    "content_hash": DataType.VARCHAR,
}
MOTION_OUTPUT_FIELDS = list(MOTION_SCALAR_FIELDS)
CAPTION_OUTPUT_FIELDS = ["text", "motion_id", "dataset"]
VECTOR_FIELD = "embedding"


@dataclass(frozen=True)
class IndexConfig:
    """The vector index. ``kind="auto"`` is exact search (FLAT) on Milvus Lite and HNSW on a server.

    Vectors are L2-normalised (the towers return unit mu), so COSINE and IP rank alike; COSINE keeps scores in
    [-1, 1] even if a caller stores an unnormalised vector.
    """

    kind: str = "auto"  # "auto" | "FLAT" | "HNSW"
    metric: str = "COSINE"  # "COSINE" | "IP"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    search_ef: int = 64  # HNSW ef at search time; raised to top_k when smaller

    def __post_init__(self):
        if self.kind.upper() not in ("AUTO", "FLAT", "HNSW"):
            raise ConfigError(f"index kind {self.kind!r} is not one of auto, FLAT, HNSW")
        if self.metric.upper() not in ("COSINE", "IP"):
            raise ConfigError(f"index metric {self.metric!r} is not one of COSINE, IP (vectors are unit-norm)")
        if not (2 <= self.hnsw_m <= 2048) or self.hnsw_ef_construction < 1 or self.search_ef < 1:
            raise ConfigError(f"HNSW parameters out of range: M={self.hnsw_m}, efConstruction="
                              f"{self.hnsw_ef_construction}, ef={self.search_ef}")

    def resolved_kind(self, lite: bool) -> str:
        kind = self.kind.upper()
        if kind == "AUTO":
            return "FLAT" if lite else "HNSW"
        return kind

    def index_params(self, client: MilvusClient, lite: bool):
        params = client.prepare_index_params()
        kind = self.resolved_kind(lite)
        extra = {"M": self.hnsw_m, "efConstruction": self.hnsw_ef_construction} if kind == "HNSW" else {}
        params.add_index(VECTOR_FIELD, index_type=kind, metric_type=self.metric.upper(), params=extra)
        return params

    def search_params(self, lite: bool, top_k: int) -> dict:
        params: dict = {"metric_type": self.metric.upper()}
        if self.resolved_kind(lite) == "HNSW":
            params["params"] = {"ef": max(self.search_ef, top_k)}
        return params


@dataclass(frozen=True)
class CollectionNames:
    motions: str
    captions: str


def sanitize_name(text: str) -> str:
    """A Milvus-legal name part: letters, digits and underscores."""
    cleaned = re.sub(r"[^0-9A-Za-z_]", "_", text)
    return cleaned or "_"


def collection_names(model_id: str, prefix: str = "") -> CollectionNames:
    """``[prefix_]motions_<model_id>`` and ``[prefix_]captions_<model_id>``, sanitised and length-limited."""
    if not model_id:
        raise ConfigError("an empty model id cannot name a collection")
    head = f"{sanitize_name(prefix)}_" if prefix else ""
    if head and not re.match(r"[A-Za-z_]", head):
        head = f"c_{head}"  # names must start with a letter or underscore
    model_part = sanitize_name(model_id)

    def build(kind: str) -> str:
        name = f"{head}{kind}_{model_part}"
        return name[:_NAME_LIMIT]

    return CollectionNames(motions=build("motions"), captions=build("captions"))


def _properties(kind: str, model_id: str, dim: int) -> dict[str, str]:
    return {
        MODEL_ID_PROPERTY: model_id,
        DIM_PROPERTY: str(dim),
        KIND_PROPERTY: kind,
        SCHEMA_VERSION_PROPERTY: SCHEMA_VERSION,
    }


def motions_schema(model_id: str, dim: int) -> CollectionSchema:
    schema = MilvusClient.create_schema(
        auto_id=False, enable_dynamic_field=False, description=f"motion windows embedded by model {model_id}"
    )
    # id: stable across re-ingests (hash of source + window, see ingest.motion_key), so upsert is idempotent.
    schema.add_field("id", DataType.VARCHAR, max_length=ID_MAX_LENGTH, is_primary=True)
    schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("name", DataType.VARCHAR, max_length=NAME_MAX_LENGTH)  # the record id, "131_01@w3"
    schema.add_field("dataset", DataType.VARCHAR, max_length=DATASET_MAX_LENGTH)
    schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_MAX_LENGTH)
    schema.add_field("start_s", DataType.FLOAT)
    schema.add_field("end_s", DataType.FLOAT)
    schema.add_field("duration_s", DataType.FLOAT)
    schema.add_field("fps", DataType.FLOAT)
    schema.add_field("num_frames", DataType.INT64)
    schema.add_field("captions", DataType.VARCHAR, max_length=CAPTIONS_MAX_LENGTH)  # one caption per line
    schema.add_field(
        "tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_TAGS, max_length=TAG_MAX_LENGTH
    )
    schema.add_field("content_hash", DataType.VARCHAR, max_length=HASH_MAX_LENGTH)
    return schema


def captions_schema(model_id: str, dim: int) -> CollectionSchema:
    schema = MilvusClient.create_schema(
        auto_id=False, enable_dynamic_field=False, description=f"captions embedded by model {model_id}"
    )
    schema.add_field("id", DataType.VARCHAR, max_length=ID_MAX_LENGTH, is_primary=True)
    schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("text", DataType.VARCHAR, max_length=CAPTION_MAX_LENGTH)
    schema.add_field("motion_id", DataType.VARCHAR, max_length=ID_MAX_LENGTH)
    schema.add_field("dataset", DataType.VARCHAR, max_length=DATASET_MAX_LENGTH)
    return schema


def expected_fields(kind: str) -> set[str]:
    schema = motions_schema("x", 2) if kind == "motions" else captions_schema("x", 2)
    return {f.name for f in schema.fields}


def create_collection(client: MilvusClient, name: str, kind: str, model_id: str, dim: int, index: IndexConfig,
                      lite: bool) -> None:
    schema = motions_schema(model_id, dim) if kind == "motions" else captions_schema(model_id, dim)
    # pymilvus waits for the index with AllocTimestamp, which the in-process Lite server does not implement: it logs
    # a traceback through grpc's server logger and pymilvus carries on. Keep that noise off the user's terminal.
    grpc_server_log = logging.getLogger("grpc._server")
    previous = grpc_server_log.level
    if lite:
        grpc_server_log.setLevel(logging.CRITICAL)
    try:
        _create(client, name, schema, kind, model_id, dim, index, lite)
    finally:
        grpc_server_log.setLevel(previous)


def _create(client: MilvusClient, name: str, schema: CollectionSchema, kind: str, model_id: str, dim: int,
            index: IndexConfig, lite: bool) -> None:
    client.create_collection(
        name,
        schema=schema,
        index_params=index.index_params(client, lite),
        properties=_properties(kind, model_id, dim),
        # Session: a client sees its own writes, and searches do not wait for the server's time tick as Strong does
        # (two orders of magnitude slower on 2.3.5: docs/BENCHMARKS.md). Reads that must see every writer (resume
        # checks, counts)
        # ask for Strong themselves (store.py).
        consistency_level="Session",
    )


def check_collection(description: dict, name: str, kind: str, model_id: str, dim: int) -> None:
    """Refuse a collection made by another model, with another dimension, or with another schema."""
    props = description.get("properties") or {}
    stored_model = props.get(MODEL_ID_PROPERTY)
    if stored_model is None:
        raise CollectionMismatchError(
            f"collection {name!r} exists but was not created by motion-retrieval (no {MODEL_ID_PROPERTY} property); "
            "use another --collection prefix or drop it"
        )
    if stored_model != model_id:
        raise CollectionMismatchError(
            f"collection {name!r} was built by model {stored_model!r}, not by {model_id!r}: its vectors are not "
            "comparable; search it with that model, or use another --collection prefix for this one"
        )
    fields = {f["name"]: f for f in description.get("fields", [])}
    vector = fields.get(VECTOR_FIELD) or {}
    stored_dim = int(vector.get("params", {}).get("dim", -1))
    if stored_dim != dim:
        raise CollectionMismatchError(f"collection {name!r} holds {stored_dim}-d vectors, the model gives {dim}-d")
    missing = sorted(expected_fields(kind) - set(fields))
    if missing or props.get(KIND_PROPERTY, kind) != kind:
        raise CollectionMismatchError(
            f"collection {name!r} does not have the {kind} schema of this version (missing fields: {missing}); "
            "ingest into a new collection prefix"
        )
