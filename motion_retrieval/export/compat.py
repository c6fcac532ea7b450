"""Does another torch load and run what export wrote? The libtorch check of a model repository.

Triton's PyTorch backend runs the libtorch of the NGC PyTorch container of the same YY.MM release (Triton's
pytorch_backend README), and TorchScript loads forward only (a file from an older torch in a newer libtorch), so a
repository must be checked against the oldest torch the deployment claims to support. This runs both towers of
``REPO`` on fixed inputs here, then in ``--python OTHER`` (any interpreter with torch: a venv with another torch,
or ``docker run -v REPO:/repo nvcr.io/nvidia/pytorch:YY.MM-py3 python ...`` via a wrapper script), and compares:

    python -m motion_retrieval.export.compat model_repository --python /opt/torch-2.10/bin/python

The other side runs a self-contained script (torch only: ``torch.jit.load`` and a forward per tower), so nothing of
this project needs to be installed there. Exit code 0 when both towers load there and agree within ``--atol``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from motion_retrieval.export.torchscript import load_torchscript
from motion_retrieval.serving.motions import pad_motions
from motion_retrieval.serving.repository import read_repository_info
from motion_retrieval.serving.tensors import MOTION_MODEL, TEXT_MODEL
from motion_retrieval.serving.tokenizer import TextTokenizer

CAPTIONS = ["a person walks forward and sits down", "jump", "someone waves with the left hand, then bows"]

# Runs in the other interpreter: torch only.
_REMOTE = r"""
import json, sys, warnings
import torch
warnings.simplefilter("ignore")
inputs = torch.load(sys.argv[1])
out = {"torch": torch.__version__, "outputs": {}, "errors": {}}
for name, args in inputs["towers"].items():
    try:
        model = torch.jit.load(inputs["files"][name], map_location="cpu").eval()
        with torch.no_grad():
            out["outputs"][name] = model(*args).float().tolist()
    except Exception as exc:
        out["errors"][name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
print(json.dumps(out))
"""


@dataclass
class CompatReport:
    repository: str
    exported_with: str  # torch_version of motion_retrieval.json
    checked_with: str  # torch of the other interpreter
    max_abs_diff: dict[str, float]
    errors: dict[str, str]
    ok: bool


def check_repository(repo: str | os.PathLike, python: str, atol: float = 1e-4, timeout: float = 600.0) -> CompatReport:
    """Run both towers of ``repo`` here and in ``python``; a report of whether the other torch loads and agrees."""
    info = read_repository_info(repo)
    generator = torch.Generator().manual_seed(0)
    motions = [(torch.randn(n, info.feature_dim, generator=generator) * 0.5).numpy() for n in (40, info.max_frames)]
    motion, mask = (torch.from_numpy(a) for a in pad_motions(motions, info.max_frames, info.feature_dim))
    ids, attention = (torch.from_numpy(a) for a in TextTokenizer(info.tokenizer, info.max_text_tokens).encode(
        CAPTIONS))
    towers = {MOTION_MODEL: (motion, mask), TEXT_MODEL: (ids, attention)}
    expected = {}
    for name, args in towers.items():
        with torch.no_grad():
            expected[name] = load_torchscript(info.model_file(name))(*args).float()
    with tempfile.TemporaryDirectory(prefix="mr-compat-") as tmp:
        inputs = Path(tmp) / "inputs.pt"
        torch.save({"towers": towers, "files": {n: str(info.model_file(n).resolve()) for n in towers}}, inputs)
        script = Path(tmp) / "check.py"
        script.write_text(_REMOTE)
        result = subprocess.run([python, str(script), str(inputs)], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0 or not result.stdout.strip():
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return CompatReport(str(repo), info.torch_version, "?", {}, {"python": f"{python} failed: {tail}"}, False)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    diffs = {name: float((torch.tensor(values) - expected[name]).abs().max())
             for name, values in answer["outputs"].items()}
    errors = dict(answer["errors"])
    for name, diff in diffs.items():
        if not diff <= atol:
            errors[name] = f"differs from the exporting torch by {diff:.3g} (> {atol})"
    return CompatReport(str(repo), info.torch_version, answer["torch"], diffs, errors,
                        ok=not errors and set(diffs) == set(towers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motion_retrieval.export.compat", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repository", type=Path, help="exported model repository (with its model.pt files)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with the torch to check against")
    parser.add_argument("--atol", type=float, default=1e-4, help="largest allowed difference of the embeddings")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = check_repository(args.repository, args.python, args.atol)
    if args.json:
        print(json.dumps(asdict(report), sort_keys=True))
    else:
        verdict = "loads and agrees" if report.ok else "FAILS"
        print(f"{report.repository} (exported with torch {report.exported_with}) on torch {report.checked_with}: "
              f"{verdict}")
        for name, diff in report.max_abs_diff.items():
            print(f"  {name}: max |diff| {diff:.2g}")
        for name, error in report.errors.items():
            print(f"  {name}: {error}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
