"""TorchScript for the serving towers: script (or trace), then prove the result equals eager before anyone saves it.

Triton's libtorch backend loads TorchScript, so it stays our served format even though torch 2.13 deprecates
``torch.jit``; the deprecation warnings are filtered here, exactly, where we call it (see ENVIRONMENT.md).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motion_retrieval.errors import ConfigError
from motion_retrieval.serving.motions import pad_motions

log = logging.getLogger(__name__)

# torch 2.13: "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`." and the same for
# trace / trace_method / save / load. Nothing else is silenced.
_DEPRECATION_MESSAGE = r"`torch\.jit\.(script|trace|trace_method|save|load)` is deprecated\. Please switch to `torch\."

# Real HumanML3D-style captions: the verification must cover real vocabulary, lengths and padding, not only noise.
VERIFICATION_CAPTIONS = (
    "a person walks forward, turns around and walks back.",
    "someone jumps up twice.",
    "a man kicks with his right leg",
    "the person raises both arms above the head, then lowers them slowly and sits down on a chair.",
    "waving",
)
# Embeddings are unit vectors; scripted and eager agree to float rounding (exactly, in practice).
VERIFY_ATOL = 1e-5


@contextlib.contextmanager
def torchscript_warnings_filtered() -> Iterator[None]:
    """Silence exactly torch 2.13's TorchScript deprecation warnings inside the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATION_MESSAGE, category=DeprecationWarning)
        yield


def default_real_motion_paths() -> list[Path]:
    """The real HumanML3D fixture motion when this checkout sits beside ../shared/fixtures (or the env var points)."""
    root = os.environ.get("MOTION_RETRIEVAL_FIXTURES")
    base = Path(root) if root else Path(__file__).resolve().parents[3] / "shared" / "fixtures"
    path = base / "humanml3d-sample" / "new_joint_vecs" / "012314.npy"
    return [path] if path.is_file() else []


def trace_module(module: nn.Module, example_inputs: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule:
    """Trace ``module`` (strict=False: transformers return dicts/tuples). The caller verifies the trace.

    Trace on a padded batch: transformers pick their attention-mask path from the data, and the padded path is the
    one that is right for every batch. TracerWarnings (Python bools taken from tensors inside transformers) are
    silenced because ``verify_same`` checks the trace on other batch sizes, lengths and paddings instead.
    """
    module.eval()
    with torchscript_warnings_filtered(), warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return torch.jit.trace(module, example_inputs, strict=False, check_trace=False)


def to_torchscript(module: nn.Module, example_inputs: tuple[torch.Tensor, ...]) -> tuple[torch.jit.ScriptModule, str]:
    """Script ``module``; when its code is not scriptable, trace it on ``example_inputs``. Returns (module, method).

    Scripting keeps every shape dynamic; a trace is only accepted after :func:`verify_same` on other shapes.
    """
    module.eval()
    try:
        with torchscript_warnings_filtered():
            return torch.jit.script(module), "script"
    except Exception as exc:  # torch.jit.frontend errors have no common base class
        log.info("%s does not script (%s); tracing it instead", type(module).__name__, str(exc).splitlines()[0])
    return trace_module(module, example_inputs), "trace"


def save_torchscript(module: torch.jit.ScriptModule, path: str | os.PathLike) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with torchscript_warnings_filtered():
        torch.jit.save(module, os.fspath(path))


def load_torchscript(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    if not Path(path).is_file():
        raise ConfigError(f"{path}: TorchScript model not found")
    try:
        with torchscript_warnings_filtered():
            module = torch.jit.load(os.fspath(path), map_location=device)
    except RuntimeError as exc:
        raise ConfigError(f"{path}: not a loadable TorchScript model ({str(exc).splitlines()[0]})") from exc
    return module.eval()


def check_finite_weights(module: nn.Module, what: str) -> None:
    """Refuse a tower whose parameters or buffers hold NaN/inf (a diverged or corrupt run)."""
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ConfigError(f"{what}: weight {name!r} contains NaN or inf; refusing to export a broken model")


def pinned_devices(module: torch.jit.ScriptModule) -> list[str]:
    """Devices written into the TorchScript code as constants (a trace records ``device=x.device`` as the device
    it ran on). A model with any cannot run anywhere else, e.g. CPU-traced code on Triton's GPU instances."""
    found = set()
    for submodule in module.modules():
        code = getattr(submodule, "code", "") if isinstance(submodule, torch.jit.ScriptModule) else ""
        found.update(re.findall(r'torch\.device\("([^"]+)"\)', code))
    return sorted(found)


@dataclass
class Verification:
    """How a TorchScript tower was checked against its eager module."""

    method: str  # "script" or "trace"
    cases: int  # input batches compared
    max_abs_diff: float


def verify_same(
    eager: nn.Module, scripted: torch.jit.ScriptModule, cases: Sequence[tuple[torch.Tensor, ...]], what: str
) -> float:
    """Run both on every case; ConfigError unless outputs are finite, unit-norm and equal. Returns max |diff|."""
    worst = 0.0
    with torch.no_grad():
        for inputs in cases:
            shape = tuple(inputs[0].shape)
            expected = eager(*inputs)
            try:
                actual = scripted(*inputs)
            except RuntimeError as exc:  # e.g. a trace that baked the example's shapes in
                raise ConfigError(f"{what}: TorchScript fails on input {shape} where eager works "
                                  f"({str(exc).splitlines()[0]}); refusing to export") from exc
            if actual.shape != expected.shape:
                raise ConfigError(f"{what}: TorchScript output shape {tuple(actual.shape)} != eager "
                                  f"{tuple(expected.shape)} for input {shape}; refusing to export")
            if not torch.isfinite(expected).all() or not torch.isfinite(actual).all():
                raise ConfigError(f"{what}: NaN or inf embeddings for input {shape}; refusing to export")
            diff = float((actual - expected).abs().max())
            worst = max(worst, diff)
            if diff > VERIFY_ATOL:
                raise ConfigError(f"{what}: TorchScript differs from eager by {diff:.3g} (> {VERIFY_ATOL}) for input "
                                  f"{shape}; refusing to export")
    return worst


def motion_verification_cases(
    max_frames: int, feature_dim: int, mean: np.ndarray, std: np.ndarray, real_motions: Sequence[np.ndarray] = (),
    seed: int = 0,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of 1 and several: random motions around the dataset statistics, of varied lengths, plus real ones.

    Lengths cover short, full (= max_frames) and longer-than-max (resampled) clips, so padding and masking are
    exercised; the real motions come raw, exactly as a client would send them.
    """
    rng = np.random.default_rng(seed)
    lengths = [max(2, max_frames // 5), max_frames, max_frames + 37, 2, max(2, max_frames // 2)]
    randoms = [(mean + std * rng.standard_normal((n, feature_dim))).astype(np.float32) for n in lengths]
    batches = [randoms[:1], randoms]
    real = [np.asarray(m, dtype=np.float32) for m in real_motions]
    if real:
        batches += [real[:1], real + randoms[:3]]
    return [tuple(torch.from_numpy(a) for a in pad_motions(b, max_frames, feature_dim)) for b in batches]


def text_verification_cases(
    tokenizer, captions: Sequence[str] = VERIFICATION_CAPTIONS
) -> list[tuple[torch.Tensor, ...]]:
    """Batches of 1 and several real captions (padded to the longest: the mask path is exercised)."""
    batches = [list(captions[:1]), list(captions), list(captions[1:3])]
    return [tuple(torch.from_numpy(a) for a in tokenizer.encode(b)) for b in batches]


def script_and_verify(
    tower: nn.Module, cases: Sequence[tuple[torch.Tensor, ...]], what: str, reference: nn.Module | None = None
) -> tuple[torch.jit.ScriptModule, Verification]:
    """Refuse NaN weights, convert ``tower`` to TorchScript, verify it on ``cases``; nothing is written here.

    ``reference`` is the eager module the result must equal (default ``tower`` itself); the text tower passes the
    one with the eager language model, so that the traced language model inside ``tower`` is checked too.
    """
    tower = tower.float().eval()
    reference = tower if reference is None else reference.float().eval()
    check_finite_weights(tower, what)
    scripted, method = to_torchscript(tower, cases[-1])
    worst = verify_same(reference, scripted, cases, what)
    log.info("%s: %s matches eager on %d batches (max |diff| %.2g)", what, method, len(cases), worst)
    return scripted, Verification(method=method, cases=len(cases), max_abs_diff=worst)


def export_program(tower: nn.Module, example_inputs: tuple[torch.Tensor, ...], what: str) -> bytes:
    """A torch.export (.pt2) program of ``tower`` with a dynamic batch dimension, verified against eager, as bytes.

    Optional beside TorchScript (which stays the served format). Modules with data-dependent Python control flow
    (e.g. input checks that raise) cannot be captured; that is a ConfigError naming the cause.
    """
    batch = torch.export.Dim("batch", min=1, max=4096)
    shapes = tuple({0: batch} for _ in example_inputs)
    try:
        program = torch.export.export(tower.eval(), example_inputs, dynamic_shapes=shapes)
    except Exception as exc:  # torch.export raises several unrelated error types
        cause = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ConfigError(f"{what}: torch.export cannot capture it ({cause}); export without --torch-export "
                          "(TorchScript is the served format)") from exc
    with torch.no_grad():
        expected, actual = tower(*example_inputs), program.module()(*example_inputs)
    if not torch.allclose(expected, actual, rtol=0, atol=VERIFY_ATOL):
        raise ConfigError(f"{what}: the torch.export program differs from eager; refusing to write it")
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()
