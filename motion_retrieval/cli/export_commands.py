"""``motion-retrieval export`` (trained run -> Triton model repository) and ``motion-retrieval triton`` (serve it
locally with the bundled tritonserver)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from motion_retrieval.cli import print_json
from motion_retrieval.serving.repository import REPOSITORY_DIR, ServingOptions, default_model_repository


def register(subparsers) -> None:
    export = subparsers.add_parser(
        "export", help="export a trained run to a Triton model repository (TorchScript, verified against eager)",
        description="Script both towers of a trained run, verify them against eager on random and real inputs, and "
                    "write REPO/{motion_encoder,text_encoder}/{config.pbtxt,configs/gpu.pbtxt,1/model.pt}, the "
                    "tokenizer and REPO/motion_retrieval.json. config.pbtxt runs the models on CPU instances; "
                    "Triton picks the GPU variant with --model-config-name=gpu. Nothing is written unless "
                    "verification passes.",
    )
    export.add_argument("--run", type=Path, default=None, help="run directory (default: the shipped default model)")
    export.add_argument("--out", type=Path, default=Path(REPOSITORY_DIR),
                        help=f"model repository to write (default: ./{REPOSITORY_DIR})")
    export.add_argument("--stats-dataset", default=None,
                        help="whose statistics normalise motions inside the model (default: the run's first dataset)")
    export.add_argument("--no-gpu-config", action="store_true",
                        help="write only the CPU config (for towers whose TorchScript is pinned to the CPU)")
    export.add_argument("--configs-only", action="store_true",
                        help="only rewrite the configs and warmup files of the exported repository --out from its "
                             "motion_retrieval.json (no run, no model files needed)")
    export.add_argument("--max-batch-size", type=int, default=None, help="max_batch_size of both models (default 256)")
    export.add_argument("--torch-export", action="store_true",
                        help="also write motion_encoder/1/model.pt2 (torch.export program; not served)")
    export.add_argument("--json", action="store_true", help="print one JSON object")
    export.set_defaults(func=_export)

    triton = subparsers.add_parser(
        "triton", help="serve a model repository with the bundled tritonserver (local / CI)",
        description="Run the real tritonserver binary of nvidia-pytriton on 127.0.0.1, serving the repository's "
                    "model.pt files through generated Python-backend mirrors (same names, tensors and batching). "
                    "Waits until ready, prints the endpoints and runs until SIGTERM or Ctrl-C.",
    )
    triton.add_argument("--model-repository", type=Path, default=None, metavar="DIR",
                        help="exported model repository (default: $MOTION_RETRIEVAL_MODEL_REPOSITORY, else "
                             "./model_repository, else the source checkout's)")
    triton.add_argument("--grpc-port", type=int, default=None, help="gRPC port (default: a free port)")
    triton.add_argument("--http-port", type=int, default=None, help="HTTP port (default: a free port)")
    triton.add_argument("--metrics-port", type=int, default=None, help="metrics port (default: a free port)")
    triton.add_argument("--num-threads", type=int, default=None, help="torch threads per model instance")
    triton.add_argument("--ready-timeout", type=float, default=180.0, help="seconds to wait for readiness")
    triton.add_argument("--log-file", type=Path, default=None, help="write the server's log here (kept after exit)")
    triton.add_argument("--json", action="store_true", help="print the endpoints as one JSON object")
    triton.set_defaults(func=_triton)


def _export(args: argparse.Namespace) -> int:
    if args.configs_only:
        # deferred: export needs torch ([train] extra)
        from motion_retrieval.export.repository import regenerate_configs

        files = regenerate_configs(args.out)
        if args.json:
            print_json({"repository": str(args.out), "files": [str(f) for f in files]})
        else:
            print(f"rewrote {len(files)} config and warmup files in {args.out}")
        return 0
    from motion_retrieval.export.repository import export_run  # deferred: export needs torch ([train] extra)

    options = ServingOptions(gpu_config=not args.no_gpu_config)
    if args.max_batch_size is not None:
        options = ServingOptions(
            max_batch_size=args.max_batch_size,
            preferred_batch_sizes=tuple(b for b in options.preferred_batch_sizes if b <= args.max_batch_size),
            max_queue_delay_microseconds=options.max_queue_delay_microseconds,
            warmup_batch_sizes=tuple(b for b in options.warmup_batch_sizes if b <= args.max_batch_size),
            gpu_config=options.gpu_config,
        )
    result = export_run(args.run, args.out, stats_dataset=args.stats_dataset, options=options,
                        write_program=args.torch_export, progress=True)
    if args.json:
        print_json(result.to_json())
    else:
        info = result.info
        print(f"exported {info.model_id} ({info.dim}-d, {info.max_frames} frames, {info.text_backbone}, "
              f"torch {info.torch_version}) from {info.created_from} to {info.path}")
        for file in result.files:
            print(f"  {file}")
    return 0


class _Stop(BaseException):
    """Raised by the SIGTERM/SIGINT handler to leave the serving loop (not an Exception: nothing may swallow it)."""


def _raise_stop(signum, frame):
    raise _Stop(signum)


def _triton(args: argparse.Namespace) -> int:
    from motion_retrieval.export.triton_local import LocalTriton  # deferred: needs tritonclient + nvidia-pytriton

    repository = args.model_repository or default_model_repository()
    server = LocalTriton(repository, args.grpc_port, args.http_port, args.metrics_port, num_threads=args.num_threads,
                         log_path=args.log_file)
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        server.wait_ready(args.ready_timeout)
        endpoints = {**server.urls.to_json(), "pid": server.pid, "model_id": server.info.model_id,
                     "models": ["motion_encoder", "text_encoder"]}
        if args.json:
            print_json(endpoints)
        else:
            print(f"tritonserver ready (pid {server.pid}), serving {server.info.model_id} from {server.repo}")
            print(f"  gRPC     {endpoints['grpc']}\n  HTTP     {endpoints['http']}\n  metrics  {endpoints['metrics']}")
            print("Ctrl-C or SIGTERM stops it.", flush=True)
        while True:
            code = server.wait(timeout=1.0)
            if code is not None:
                print(f"error: tritonserver exited on its own with code {code}:\n{server.log_tail()}", file=sys.stderr)
                return 1
    except _Stop:
        return 0
    finally:
        for sig in previous:  # a second signal must not interrupt the clean stop below
            signal.signal(sig, signal.SIG_IGN)
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
