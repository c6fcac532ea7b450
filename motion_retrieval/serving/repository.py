"""REPO/motion_retrieval.json, the description of an exported model repository: written once by ``export``, read by
the service, the client-side tools, the Triton mirrors and the Milvus plugin (never re-derived elsewhere).

```
REPO/motion_retrieval.json              this description (written last: it marks a complete export)
REPO/<model>/config.pbtxt               Triton config, CPU variant (KIND_CPU): the safe default
REPO/<model>/configs/gpu.pbtxt          GPU variant (KIND_GPU), picked by `tritonserver --model-config-name=gpu`
REPO/<model>/warmup/<input>             model_warmup inputs (raw little-endian bytes)
REPO/<model>/1/model.pt                 TorchScript tower (built by export, not committed)
REPO/text_encoder/tokenizer.json        the service tokenises with it
```
``model_id`` names the model everywhere (Milvus collections, Triton config parameters, responses); it is a content
hash of both towers' weights and the model description. ``weights_sha256`` holds a digest of each tower's tensors,
so that a model.pt swapped after export is refused when it is loaded (motion_retrieval.export.identity).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from motion_retrieval.errors import ConfigError
from motion_retrieval.serving.tensors import MOTION_MODEL, TEXT_MODEL

FORMAT_VERSION = 2
INFO_FILE = "motion_retrieval.json"
REPOSITORY_DIR = "model_repository"  # what `motion-retrieval export` writes in the working folder by default
REPOSITORY_ENV = "MOTION_RETRIEVAL_MODEL_REPOSITORY"  # set by the Helm chart and the server image
# A source checkout's export (`make export` builds it beside the packages); absent from an installed wheel.
CHECKOUT_REPOSITORY = Path(__file__).resolve().parents[2] / REPOSITORY_DIR
CONFIG_FILE = "config.pbtxt"
GPU_CONFIG = "gpu"  # REPO/<model>/configs/gpu.pbtxt; Triton: --model-config-name=gpu
CONFIGS_DIR = "configs"
MODEL_FILE = "model.pt"
PROGRAM_FILE = "model.pt2"
TOKENIZER_FILE = "tokenizer.json"
VERSION = "1"
WARMUP_DIR = "warmup"
MODELS = (MOTION_MODEL, TEXT_MODEL)
# Triton config parameters that bind a served model to this description (checked by the service and the mirrors).
MODEL_ID_PARAMETER = "motion_retrieval_model_id"
WEIGHTS_PARAMETER = "motion_retrieval_weights_sha256"
MODEL_ID_PATTERN = re.compile(r"mr-[0-9a-f]{12}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ServingOptions:
    """How Triton serves both towers (dynamic batching, instances, warmup). Stored in the description so that the
    local mirrors and the service reproduce it; the instance kind is not an option: both variants are written."""

    max_batch_size: int = 256  # the paper's evaluation batch; one request may carry up to this many samples
    preferred_batch_sizes: tuple[int, ...] = (16, 64, 256)
    max_queue_delay_microseconds: int = 2000  # how long the dynamic batcher waits to fill a batch
    instance_count: int = 1
    warmup_batch_sizes: tuple[int, ...] = (1, 64)  # warm allocators / kernels before the model reports ready
    gpu_config: bool = True  # also write configs/gpu.pbtxt (off for towers whose TorchScript is pinned to the CPU)

    def __post_init__(self):
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if any(not 1 <= b <= self.max_batch_size for b in self.preferred_batch_sizes + self.warmup_batch_sizes):
            raise ValueError(f"preferred/warmup batch sizes must lie in [1, {self.max_batch_size}]")
        if self.instance_count < 1:
            raise ValueError(f"instance_count must be >= 1, got {self.instance_count}")
        if self.max_queue_delay_microseconds < 0:
            raise ValueError("max_queue_delay_microseconds must be >= 0")

    def to_json(self) -> dict:
        return {
            "max_batch_size": self.max_batch_size,
            "preferred_batch_sizes": list(self.preferred_batch_sizes),
            "max_queue_delay_microseconds": self.max_queue_delay_microseconds,
            "instance_count": self.instance_count,
            "warmup_batch_sizes": list(self.warmup_batch_sizes),
            "gpu_config": self.gpu_config,
        }

    @classmethod
    def from_json(cls, data: dict) -> ServingOptions:
        return cls(
            max_batch_size=int(data["max_batch_size"]),
            preferred_batch_sizes=tuple(int(b) for b in data["preferred_batch_sizes"]),
            max_queue_delay_microseconds=int(data["max_queue_delay_microseconds"]),
            instance_count=int(data["instance_count"]),
            warmup_batch_sizes=tuple(int(b) for b in data.get("warmup_batch_sizes", ())),
            gpu_config=bool(data.get("gpu_config", True)),
        )


@dataclass(frozen=True)
class RepositoryInfo:
    """REPO/motion_retrieval.json, read back (:func:`read_repository_info`)."""

    path: Path  # the repository folder
    model_id: str  # "mr-<12 hex>": content hash of the towers' weights and the model description
    dim: int  # embedding width (256)
    max_frames: int  # frames per motion the motion tower takes (200)
    feature_dim: int  # values per frame (263)
    max_text_tokens: int  # token ids per caption the text tower takes (captions are truncated / padded to it)
    text_backbone: str  # the frozen language model inside the text tower
    stats_dataset: str  # whose mean/std normalise motions inside the motion tower
    created_from: str  # the run directory it was exported from
    serving: ServingOptions  # what config.pbtxt says about batching; local mirrors reproduce it
    torch_version: str  # torch that wrote model.pt (Triton's libtorch must load it: docs/ARCHITECTURE.md)
    weights_sha256: dict[str, str]  # tower -> digest of its tensors (motion_retrieval.export.identity)
    torchscript: dict[str, str] = field(default_factory=dict)  # tower -> "script" | "trace"
    format_version: int = FORMAT_VERSION

    def model_file(self, model: str) -> Path:
        return self.path / model / VERSION / MODEL_FILE

    @property
    def motion_model(self) -> Path:
        return self.model_file(MOTION_MODEL)

    @property
    def text_model(self) -> Path:
        return self.model_file(TEXT_MODEL)

    @property
    def tokenizer(self) -> Path:
        return self.path / TEXT_MODEL / TOKENIZER_FILE

    def config_file(self, model: str, variant: str | None = None) -> Path:
        """config.pbtxt (``variant`` None: the CPU default) or configs/<variant>.pbtxt."""
        if variant is None:
            return self.path / model / CONFIG_FILE
        return self.path / model / CONFIGS_DIR / f"{variant}.pbtxt"

    def model_description(self) -> dict:
        """What, besides the weights, the model id hashes: everything that changes the vectors of an input."""
        return {
            "dim": self.dim, "max_frames": self.max_frames, "feature_dim": self.feature_dim,
            "max_text_tokens": self.max_text_tokens, "text_backbone": self.text_backbone,
            "stats_dataset": self.stats_dataset, "format_version": self.format_version,
        }

    def to_json(self) -> dict:
        return {
            **self.model_description(), "model_id": self.model_id, "created_from": self.created_from,
            "serving": self.serving.to_json(), "torch_version": self.torch_version,
            "weights_sha256": dict(self.weights_sha256), "torchscript": dict(self.torchscript),
        }


def default_model_repository(environ: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None) -> Path:
    """The model repository every command uses when none is named (``--model-repository``). In this order:

    1. ``$MOTION_RETRIEVAL_MODEL_REPOSITORY``, when set;
    2. ``./model_repository``, when it holds an export (``motion_retrieval.json``);
    3. the source checkout's ``model_repository/`` (``make export``), when it holds one;
    4. ``./model_repository`` (where ``export`` writes), whose absence the command then reports.
    """
    environ = os.environ if environ is None else environ
    if environ.get(REPOSITORY_ENV, "").strip():
        return Path(environ[REPOSITORY_ENV].strip())
    here = Path(REPOSITORY_DIR) if cwd is None else Path(cwd) / REPOSITORY_DIR
    for candidate in (here, CHECKOUT_REPOSITORY):
        if (candidate / INFO_FILE).is_file():
            return candidate
    return here


def write_repository_info(info: RepositoryInfo) -> Path:
    """Write ``info`` to INFO_FILE in its repository (export only; last, as the marker of a complete export)."""
    path = info.path / INFO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n")
    return path


def read_repository_info(repo: str | os.PathLike, require_models: bool = True) -> RepositoryInfo:
    """REPO/motion_retrieval.json as a RepositoryInfo; ConfigError naming the file and what is wrong or missing.

    ``require_models``: the model.pt files must be there too (False for a service that only tokenises and talks to
    Triton, which reads the model files itself).
    """
    repo = Path(repo)
    path = repo / INFO_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: not found; is {repo} a model repository written by `motion-retrieval export`?")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path}: format_version {data.get('format_version')!r}; this code reads {FORMAT_VERSION}: "
                          "re-export the repository with `motion-retrieval export`")
    try:
        info = RepositoryInfo(
            path=repo, model_id=str(data["model_id"]), dim=int(data["dim"]), max_frames=int(data["max_frames"]),
            feature_dim=int(data["feature_dim"]), max_text_tokens=int(data["max_text_tokens"]),
            text_backbone=str(data["text_backbone"]), stats_dataset=str(data["stats_dataset"]),
            created_from=str(data["created_from"]), serving=ServingOptions.from_json(data["serving"]),
            torch_version=str(data["torch_version"]),
            weights_sha256={str(k): str(v) for k, v in dict(data["weights_sha256"]).items()},
            torchscript={str(k): str(v) for k, v in dict(data.get("torchscript", {})).items()},
            format_version=int(data["format_version"]),
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: missing key {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not MODEL_ID_PATTERN.fullmatch(info.model_id):
        raise ConfigError(f"{path}: model_id {info.model_id!r} is not 'mr-' followed by 12 hex digits")
    for model in MODELS:
        if not _DIGEST.fullmatch(info.weights_sha256.get(model, "")):
            raise ConfigError(f"{path}: weights_sha256 has no 64-hex digest for {model!r}")
    needed = [info.tokenizer] + ([info.motion_model, info.text_model] if require_models else [])
    for file in needed:
        if not file.is_file():
            hint = " (model.pt files are built by `motion-retrieval export`, `make export`)" if (
                file.name == MODEL_FILE) else ""
            raise ConfigError(f"{file}: missing from the model repository{hint}")
    return info
