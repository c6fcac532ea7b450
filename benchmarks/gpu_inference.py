"""GPU throughput of the exported towers: REPO/{motion_encoder,text_encoder}/1/model.pt on one device.

A self-contained device script (torch + the standard library only; nothing of this project is imported, so it runs
wherever the model repository and a torch build are): loads the TorchScript files Triton serves, measures the motion
and text towers at batch 1/64/256 in float32 and half precision, checks half against float32 (cosine of the same
inputs' embeddings), and prints ONE JSON object. It keeps itself under ``--max-seconds`` (default 240 s).

    python benchmarks/gpu_inference.py --repo model_repository                 # on a GPU machine
    python benchmarks/gpu_inference.py --repo model_repository --device cpu    # anywhere (slow; for checking)

The text tower's model.pt holds the frozen MiniLM in float32 (about 92 MB). Where a transfer limit is smaller,
``--pack-half DIR`` writes a copy of the repository whose weights are stored in float16 (about 47 MB in all); the
benchmark loads such a copy back to float32 for the fp32 runs (same speed; weights rounded to half precision), and
says so in its output ("weights_stored": "fp16"). The copy also holds ``reference.pt``: inputs and the float32
embeddings this machine computed from the packed files; the benchmark recomputes them on the device and reports the
largest difference ("reference_check"), which proves the TorchScript files load and compute the same there (another
torch version, another device: a trace that had pinned the export machine's CPU would fail here).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

CLS_ID, SEP_ID = 101, 102  # BERT-family special tokens (all-MiniLM-L6-v2)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path("model_repository"), help="exported model repository")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:1, cpu ...")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp16"], choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--text-tokens", type=int, default=16, help="tokens per caption incl. [CLS]/[SEP]")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per measurement (after warm-up)")
    parser.add_argument("--max-seconds", type=float, default=240.0, help="skip what would not finish by then")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pack-half", type=Path, default=None, metavar="DIR",
                        help="write a float16-weights copy of --repo to DIR (for transfer) and exit")
    return parser.parse_args(argv)


def load(path: Path, device: torch.device) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():  # torch 2.13 deprecates torch.jit; Triton's libtorch backend still loads it
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.load` is deprecated", category=DeprecationWarning)
        return torch.jit.load(str(path), map_location=device).eval()


def pack_half(repo: Path, out: Path) -> dict:
    """A copy of ``repo`` with both model.pt files' floating weights stored as float16, plus motion_retrieval.json."""
    out.mkdir(parents=True, exist_ok=True)
    info = json.loads((repo / "motion_retrieval.json").read_text())
    info["weights_stored"] = "fp16"
    (out / "motion_retrieval.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    sizes = {}
    for tower in ("motion_encoder", "text_encoder"):
        target = out / tower / "1" / "model.pt"
        target.parent.mkdir(parents=True, exist_ok=True)
        model = load(repo / tower / "1" / "model.pt", torch.device("cpu")).half()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.save` is deprecated", category=DeprecationWarning)
            torch.jit.save(model, str(target))
        sizes[tower] = round(target.stat().st_size / 2**20, 1)
    generator = torch.Generator().manual_seed(1)
    reference = {
        "motion_encoder": motion_inputs(8, int(info["max_frames"]), int(info["feature_dim"]), "cpu", generator),
        "text_encoder": text_inputs(8, min(16, int(info["max_text_tokens"])), 30000, "cpu", generator),
    }
    saved = {}
    with torch.inference_mode():
        for tower, inputs in reference.items():
            model = load(out / tower / "1" / "model.pt", torch.device("cpu")).float()
            saved[tower] = {"inputs": list(inputs), "output": model(*inputs)}
    torch.save(saved, out / "reference.pt")
    return {"packed": str(out), "mib": sizes}


def reference_check(repo: Path, device: torch.device) -> dict:
    """Max |difference| between this device's fp32 embeddings and the packing machine's (reference.pt)."""
    saved = torch.load(repo / "reference.pt", map_location="cpu")
    result = {}
    with torch.inference_mode():
        for tower, data in saved.items():
            model = load(repo / tower / "1" / "model.pt", device).float()
            output = model(*(x.to(device) for x in data["inputs"])).float().cpu()
            result[tower] = float((output - data["output"]).abs().max())
    return result


def motion_inputs(batch: int, frames: int, features: int, device, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random raw features and realistic lengths (2-10 s clips at 20 fps, padded to ``frames``)."""
    motion = torch.randn(batch, frames, features, generator=generator)  # (B, F, 263)
    lengths = torch.randint(min(40, frames), frames + 1, (batch,), generator=generator)
    mask = torch.arange(frames)[None, :] < lengths[:, None]  # (B, F)
    return motion.to(device), mask.to(device)


def text_inputs(batch: int, tokens: int, vocab: int, device, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] words [SEP] [PAD]...: caption lengths vary from 4 tokens to ``tokens`` (a padded batch)."""
    ids = torch.randint(1000, vocab, (batch, tokens), generator=generator)  # (B, L)
    lengths = torch.randint(min(4, tokens), tokens + 1, (batch,), generator=generator)
    positions = torch.arange(tokens)[None, :]
    mask = (positions < lengths[:, None]).long()  # (B, L)
    ids = torch.where(positions == 0, torch.full_like(ids, CLS_ID), ids)
    ids = torch.where(positions == (lengths[:, None] - 1), torch.full_like(ids, SEP_ID), ids)
    return (ids * mask).to(device), mask.to(device)


def to_precision(inputs, precision: str):
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    return tuple(x.to(dtype) if x.is_floating_point() else x for x in inputs)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(model, inputs, device, seconds: float, autocast_dtype=None) -> dict:
    """Median and mean latency of one batch, after warm-up; at least 3 timed runs, then until ``seconds``."""

    def run():
        if autocast_dtype is not None:
            with torch.autocast(device_type=device.type, dtype=autocast_dtype):
                return model(*inputs)
        return model(*inputs)

    with torch.inference_mode():
        for _ in range(3):  # warm-up: the profiling executor optimises after the first runs
            out = run()
        synchronize(device)
        times = []
        start = time.perf_counter()
        while len(times) < 3 or time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            out = run()
            synchronize(device)
            times.append(time.perf_counter() - t0)
            if len(times) >= 2000:
                break
    batch = inputs[0].shape[0]
    median = statistics.median(times)
    return {"batch": batch, "runs": len(times), "ms_median": round(median * 1e3, 3),
            "ms_mean": round(statistics.fmean(times) * 1e3, 3), "samples_per_s": round(batch / median, 1),
            "output": out.float()}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.pack_half is not None:
        print(json.dumps(pack_half(args.repo, args.pack_half)))
        return 0
    started = time.perf_counter()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "CUDA is not available; pass --device cpu"}))
        return 1
    info = json.loads((args.repo / "motion_retrieval.json").read_text())
    frames, features = int(info["max_frames"]), int(info["feature_dim"])
    tokens = min(args.text_tokens, int(info["max_text_tokens"]))
    generator = torch.Generator().manual_seed(args.seed)
    summary = {
        "model_id": info["model_id"], "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "cuda": torch.version.cuda, "text_tokens": tokens, "results": [],
        "weights_stored": info.get("weights_stored", "fp32"),
        "half_vs_fp32": [],
    }
    if (args.repo / "reference.pt").is_file():
        summary["reference_check"] = reference_check(args.repo, device)
    towers = {
        "motion_encoder": lambda b: motion_inputs(b, frames, features, device, generator),
        "text_encoder": lambda b: text_inputs(b, tokens, 30000, device, generator),
    }
    for tower, make_inputs in towers.items():
        path = args.repo / tower / "1" / "model.pt"
        batches = {b: make_inputs(b) for b in args.batch_sizes}
        reference = {}
        for precision in args.precisions:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            model, mode = load(path, device).float(), "weights"  # .float(): a --pack-half copy computes in fp32
            if precision != "fp32":
                model = model.to(dtype=to_precision((torch.zeros(1),), precision)[0].dtype)
            for batch, inputs in batches.items():
                entry = {"tower": tower, "precision": precision}
                if time.perf_counter() - started > args.max_seconds:
                    summary["results"].append({**entry, "batch": batch, "skipped": "time budget spent"})
                    continue
                try:
                    result = measure(model, to_precision(inputs, precision), device, args.seconds)
                except RuntimeError as exc:
                    if precision == "fp32" or mode == "autocast":
                        summary["results"].append({**entry, "batch": batch, "error": str(exc).splitlines()[0]})
                        continue
                    # Half weights failed (a float32 constant inside the model): fall back to autocast.
                    model, mode = load(path, device).float(), "autocast"
                    dtype = to_precision((torch.zeros(1),), precision)[0].dtype
                    try:
                        result = measure(model, inputs, device, args.seconds, autocast_dtype=dtype)
                    except RuntimeError as exc2:
                        summary["results"].append({**entry, "batch": batch, "error": str(exc2).splitlines()[0]})
                        continue
                output = result.pop("output")
                entry.update(result, half_mode=mode if precision != "fp32" else None,
                             finite=bool(torch.isfinite(output).all()),
                             max_norm_error=round(float((output.norm(dim=-1) - 1).abs().max()), 6))
                if device.type == "cuda":
                    entry["peak_memory_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
                summary["results"].append(entry)
                if precision == "fp32":
                    reference[batch] = output
                elif batch in reference:
                    cosine = torch.nn.functional.cosine_similarity(output, reference[batch], dim=-1)
                    summary["half_vs_fp32"].append({"tower": tower, "precision": precision, "batch": batch,
                                                    "min_cosine": round(float(cosine.min()), 6)})
            del model
    speedups = []
    for row in summary["results"]:
        if row["precision"] != "fp32" and "samples_per_s" in row:
            base = next((r for r in summary["results"] if r["tower"] == row["tower"] and r["precision"] == "fp32"
                         and r.get("batch") == row["batch"] and "samples_per_s" in r), None)
            if base:
                speedups.append({"tower": row["tower"], "precision": row["precision"], "batch": row["batch"],
                                 "speedup_vs_fp32": round(row["samples_per_s"] / base["samples_per_s"], 2)})
    summary["speedups"] = speedups
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary, indent=1))
    failed = [r for r in summary["results"] if "error" in r or r.get("finite") is False]
    failed += [t for t, diff in summary.get("reference_check", {}).items() if not diff <= 1e-4]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
