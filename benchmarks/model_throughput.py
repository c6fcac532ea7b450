"""Model throughput: training samples/s of the presets, and inference motions/s and texts/s at batch 1 and 64.

Training steps run the full objective (forward, every ``*_loss`` term, backward, AdamW step) on random batches of the
preset's training batch size, with clip lengths drawn between 2 and 10 s (40-200 frames, padded to the longest) and
16-token captions; the CCCL hand-off is mid-way (both teacher and cross-consistency terms active). Inference embeds
full 200-frame motions (``embed_motion``) and captions through the text head (``embed_text`` on token states);
``--with-lm`` adds the frozen language model (tokenise + MiniLM + head), i.e. what serving a text costs.
Random data: throughput does not depend on the values. Compare presets within one run (the machine is shared).

    python -m benchmarks.model_throughput                             # cpu vs paper presets on the CPU
    python -m benchmarks.model_throughput --device cuda --steps 30    # on a GPU
    python -m benchmarks.model_throughput --presets cpu --with-lm --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

WORDS = "a person walks forward then turns around and waves with the right hand slowly".split()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device, repeats: int) -> float:
    """Seconds per call, after one warm-up call."""
    fn()
    _sync(device)
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (time.perf_counter() - started) / repeats


def _batch(model, batch_size: int, device: torch.device, generator: torch.Generator, tokens: int = 16) -> dict:
    config = model.config
    frames = config.motion.max_frames
    lengths = torch.randint(min(40, frames), frames + 1, (batch_size,), generator=generator)
    longest = int(lengths.max())
    motion = torch.randn(batch_size, longest, config.motion.feature_dim, generator=generator)  # (B, T, 263)
    mask = torch.arange(longest)[None, :] < lengths[:, None]  # (B, T)
    states = torch.randn(batch_size, tokens, config.text.backbone_dim, generator=generator)  # (B, L, D)
    text_mask = torch.ones(batch_size, tokens, dtype=torch.bool)  # (B, L)
    teacher = torch.nn.functional.normalize(torch.randn(batch_size, config.text.backbone_dim, generator=generator),
                                            dim=-1)  # (B, D)
    batch = {"motion": motion, "motion_mask": mask, "text_states": states, "text_mask": text_mask, "teacher": teacher}
    return {k: v.to(device) for k, v in batch.items()}


def training_throughput(preset: str, device: torch.device, steps: int, batch_size: int | None) -> dict:
    from motion_retrieval.models.factory import create_model
    from motion_retrieval.training.config import train_preset
    from motion_retrieval.training.trainer import sum_losses

    torch.manual_seed(0)
    model = create_model(preset).to(device).train()
    batch_size = batch_size or train_preset(preset).batch_size
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    generator = torch.Generator().manual_seed(0)
    batches = [_batch(model, batch_size, device, generator) for _ in range(min(steps, 4))]
    epoch = (model.config.loss.cccl_start_epoch + model.config.loss.cccl_end_epoch) // 2
    state = {"i": 0}

    def step() -> None:
        batch = batches[state["i"] % len(batches)]
        state["i"] += 1
        loss = sum_losses(model(batch, epoch))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    seconds = _timed(step, device, steps)
    return {"preset": preset, "batch": batch_size, "step_s": seconds, "samples_per_s": batch_size / seconds,
            "parameters": model.parameter_counts()["total"]}


@torch.no_grad()
def inference_throughput(preset: str, device: torch.device, repeats: int, with_lm: bool) -> dict:
    from motion_retrieval.models.factory import create_model

    model = create_model(preset).to(device).eval()
    config = model.config
    out: dict = {"preset": preset}
    generator = torch.Generator().manual_seed(1)
    for batch_size in (1, 64):
        motion = torch.randn(batch_size, config.motion.max_frames, config.motion.feature_dim,
                             generator=generator).to(device)  # (B, 200, 263)
        mask = torch.ones(batch_size, config.motion.max_frames, dtype=torch.bool, device=device)  # (B, 200)
        seconds = _timed(lambda m=motion, k=mask: model.embed_motion(m, k), device, repeats)
        out[f"motions_per_s@{batch_size}"] = batch_size / seconds
        states = torch.randn(batch_size, 16, config.text.backbone_dim, generator=generator).to(device)  # (B, L, D)
        text_mask = torch.ones(batch_size, 16, dtype=torch.bool, device=device)  # (B, L)
        seconds = _timed(lambda s=states, k=text_mask: model.embed_text(s, k), device, repeats)
        out[f"texts_per_s@{batch_size}(head)"] = batch_size / seconds
    if with_lm:
        from motion_retrieval.models.text_backbone import shared_backbone

        backbone = shared_backbone(config.text.backbone).to(device)
        for batch_size in (1, 64):
            texts = [" ".join(WORDS[(i % 5):]) for i in range(batch_size)]

            def embed(texts=texts) -> None:
                ids, attention = backbone.tokenize(texts, config.text.max_tokens)
                states = backbone.token_states(ids.to(device), attention.to(device))  # (B, L, D)
                model.embed_text(states, attention.to(device).bool())

            out[f"texts_per_s@{batch_size}(lm+head)"] = batch_size / _timed(embed, device, repeats)
    return out


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available here")
    if args.threads:
        torch.set_num_threads(args.threads)
    report: dict = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "training": [], "inference": []}
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
    for preset in args.presets:
        report["training"].append(training_throughput(preset, device, args.steps, args.batch_size))
        report["inference"].append(inference_throughput(preset, device, args.repeats, args.with_lm))
    if len(args.presets) > 1:
        base, other = report["training"][0], report["training"][1]
        report["ratio_training_samples_per_s"] = {f"{other['preset']}/{base['preset']}":
                                                  other["samples_per_s"] / base["samples_per_s"]}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["cpu", "paper"])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per preset (after one warm-up)")
    parser.add_argument("--repeats", type=int, default=3, help="timed inference calls per batch size")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch (default: the preset's)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--with-lm", action="store_true", help="also time texts through the frozen LM + head")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    where = report.get("gpu") or f"{report['threads']} threads"
    print(f"device {report['device']} ({where}), torch {report['torch']}")
    for row in report["training"]:
        print(f"train  {row['preset']:>6}: batch {row['batch']:3d}, {row['step_s'] * 1000:9.1f} ms/step, "
              f"{row['samples_per_s']:9.1f} samples/s ({row['parameters']:,} parameters)")
    for row in report["inference"]:
        figures = ", ".join(f"{k} {v:.1f}" for k, v in row.items() if k != "preset")
        print(f"infer  {row['preset']:>6}: {figures}")
    for key, value in report.get("ratio_training_samples_per_s", {}).items():
        print(f"ratio  training samples/s {key}: {value:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
