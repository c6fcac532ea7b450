"""Motion-tower throughput of a preset as it is exported (TorchScript MotionTower), on a GPU, from code.

Builds the preset's motion tower with random weights (throughput does not depend on their values), wraps it in the
serving ``MotionTower`` (normalisation inside), scripts it as ``export`` does, and measures motions/s at the given
batch sizes in float32, float16 and bfloat16, for full 200-frame clips and for realistic lengths (2-10 s, what the
encoders see after the batch-wide crop of trailing padding). Half precision is checked against float32 on the same
inputs (cosine of the embeddings; NaN counts as a failure). Prints ONE JSON object.

    python -m benchmarks.gpu_towers --presets paper cpu --device cuda
    python -m benchmarks.gpu_towers --presets tiny --device cpu --seconds 0.2      # a quick check anywhere
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import torch


def build(preset: str, device: torch.device) -> tuple[torch.jit.ScriptModule, int]:
    """The scripted tower and its frame count (``motion.max_frames``)."""
    from motion_retrieval.export.towers import MotionTower
    from motion_retrieval.models.config import get_preset
    from motion_retrieval.models.retrieval import build_motion_encoder

    config = get_preset(preset)
    encoder = build_motion_encoder(config.motion, config.latent.dim).eval()
    tower = MotionTower(encoder, torch.zeros(263), torch.ones(263)).eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return torch.jit.script(tower).to(device), config.motion.max_frames


def inputs(batch: int, frames: int, full: bool, device: torch.device, generator: torch.Generator):
    motion = torch.randn(batch, frames, 263, generator=generator).to(device)  # (B, F, 263)
    if full:
        lengths = torch.full((batch,), frames)
    else:
        lengths = torch.randint(min(40, frames), frames + 1, (batch,), generator=generator)  # 2-10 s at 20 fps
    mask = (torch.arange(frames)[None] < lengths[:, None]).to(device)  # (B, F)
    return motion, mask


def throughput(model, motion, mask, dtype: torch.dtype, seconds: float) -> float:
    device = motion.device
    model = model.to(dtype)
    motion = motion.to(dtype)
    with torch.inference_mode():
        for _ in range(3):
            model(motion, mask)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            model(motion, mask)
            count += 1
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - started
    return count * motion.shape[0] / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["paper", "cpu", "cpu-motpp"])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per measurement")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "results": []}
    for preset in args.presets:
        model, frames = build(preset, device)
        for full in (True, False):
            for batch in args.batch_sizes:
                motion, mask = inputs(batch, frames, full, device, generator)
                with torch.inference_mode():
                    reference = model.float()(motion, mask).float()  # (B, 256)
                row = {"preset": preset, "batch": batch, "lengths": f"{frames} frames" if full else "2-10 s"}
                for name, dtype in dtypes.items():
                    row[f"{name}_motions_per_s"] = round(throughput(model, motion, mask, dtype, args.seconds))
                    if name != "fp32":
                        with torch.inference_mode():
                            out = model.to(dtype)(motion.to(dtype), mask).float()
                        cosine = torch.nn.functional.cosine_similarity(out, reference, dim=-1)
                        row[f"{name}_min_cosine"] = None if torch.isnan(cosine).any() else round(float(cosine.min()), 5)
                report["results"].append(row)
                print(json.dumps(row), file=sys.stderr)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
