"""Does Triton's dynamic batcher merge text requests of different lengths? Direct Triton calls, before and after.

Before (issue 12): the text model took ``[-1]`` token dims and the service padded each request to its longest
caption, so concurrent single-caption requests had different shapes and the batcher merged only equal lengths (the
Python-backend mirror pads inside a batch, but only requests the batcher already put together). Now the dims are
fixed (``max_text_tokens``) and every request has the same shape. This sends the same concurrent single-caption
requests to the bundled tritonserver serving the repository both ways and reports executions per inference
(Triton's own statistics), wall time and requests/s, with the ratio in one run.

    python -m benchmarks.triton_batching [--repository model_repository] [--requests 64] [--threads 2]

Needs a repository with model.pt files (`make export`) and the bundled tritonserver (nvidia-pytriton).
"""

from __future__ import annotations

import argparse
import json
import queue
import time
from pathlib import Path

import numpy as np

CAPTIONS = [
    "walk", "a person jumps", "someone waves with the left hand", "a man kicks with his right leg while turning",
    "run", "the person raises both arms above the head, then lowers them slowly and sits down on a chair",
    "a person bows", "jumping jacks", "a woman walks in a circle and stops",
    "a person crawls forward on hands and knees",
    "sit", "someone throws a ball with the right hand, then catches it again",
]


def variable_dims(mirror: Path) -> None:
    """The text model as it was before: [-1] token dims (warmup keeps its concrete dims)."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    path = mirror / "text_encoder" / "config.pbtxt"
    config = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
    for tensor in config.input:
        tensor.dims[:] = [-1]
    path.write_text(text_format.MessageToString(config))


def run(repository: Path, fixed: bool, requests: int, threads: int) -> dict:
    import tritonclient.grpc as grpcclient

    from motion_retrieval.export.triton_local import LocalTriton
    from motion_retrieval.serving.repository import read_repository_info
    from motion_retrieval.serving.tokenizer import TextTokenizer

    info = read_repository_info(repository)
    tokenizer = TextTokenizer(info.tokenizer, info.max_text_tokens, fixed_length=fixed)
    singles = [tokenizer.encode([CAPTIONS[i % len(CAPTIONS)]]) for i in range(requests)]
    with LocalTriton(repository, num_threads=threads, mirror_hook=None if fixed else variable_dims) as triton:
        client = grpcclient.InferenceServerClient(triton.urls.grpc)

        def inputs(ids, mask):
            tensors = []
            for name, array in (("INPUT_IDS__0", ids), ("ATTENTION_MASK__1", mask)):
                tensor = grpcclient.InferInput(name, list(array.shape), "INT64")
                tensor.set_data_from_numpy(array)
                tensors.append(tensor)
            return tensors

        for single in singles[:4]:  # warm
            client.infer("text_encoder", inputs(*single))
        before = client.get_inference_statistics("text_encoder", as_json=True)["model_stats"][0]
        answers: queue.Queue = queue.Queue()
        start = time.perf_counter()
        for single in singles:
            client.async_infer("text_encoder", inputs(*single),
                               lambda result=None, error=None: answers.put(error or result.as_numpy("EMBEDDING__0")))
        results = [answers.get(timeout=600) for _ in singles]
        wall = time.perf_counter() - start
        after = client.get_inference_statistics("text_encoder", as_json=True)["model_stats"][0]
        client.close()
    errors = [str(r) for r in results if not isinstance(r, np.ndarray)]
    inferences = int(after.get("inference_count", 0)) - int(before.get("inference_count", 0))
    executions = int(after.get("execution_count", 0)) - int(before.get("execution_count", 0))
    return {"dims": f"[{info.max_text_tokens}]" if fixed else "[-1]", "requests": requests, "errors": len(errors),
            "inferences": inferences, "executions": executions,
            "mean_batch": round(inferences / max(executions, 1), 2), "wall_s": round(wall, 3),
            "requests_per_s": round(requests / wall, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per model instance")
    args = parser.parse_args(argv)
    before = run(args.repository, fixed=False, requests=args.requests, threads=args.threads)
    after = run(args.repository, fixed=True, requests=args.requests, threads=args.threads)
    summary = {"before_variable_dims": before, "after_fixed_dims": after,
               "executions_ratio": round(before["executions"] / max(after["executions"], 1), 2),
               "throughput_ratio": round(after["requests_per_s"] / max(before["requests_per_s"], 1e-9), 2)}
    print(json.dumps(summary, indent=2))
    return 0 if not (before["errors"] or after["errors"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
