"""serve --torch-threads: the in-process backend runs every encoder call with that many torch threads."""

from __future__ import annotations

import asyncio

import numpy as np
import torch

from motion_retrieval_server.backends.torchscript import TorchScriptBackend


def test_encoder_calls_run_with_the_configured_torch_threads(tiny_repo):
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2  # not the default, whatever the machine's cores
    backend = TorchScriptBackend(tiny_repo, workers=1, torch_threads=wanted)

    async def run():
        await backend.start()
        try:
            # The thread count an encoder call actually sees (the encoder threads, not this one).
            seen = await asyncio.get_running_loop().run_in_executor(backend._executor, torch.get_num_threads)
            vectors = await backend.embed_texts(["a person walks forward"], timeout=30)
            return seen, vectors
        finally:
            await backend.close()

    try:
        seen, vectors = asyncio.run(run())
        assert seen == wanted
        assert vectors.shape[0] == 1 and np.isfinite(vectors).all()
    finally:
        torch.set_num_threads(before)  # the setting is process-wide: leave the other tests theirs
