"""In-process backend (the embedded default): the exported TorchScript towers run in this process, on a small
thread pool, so the event loop keeps accepting calls, answering health checks and enforcing deadlines while a batch
is being encoded (torch releases the GIL inside its kernels)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from motion_retrieval.serving.repository import RepositoryInfo
from motion_retrieval_server.backends.base import BackendUnavailable, EmbeddingBackend, load_repository_info
from motion_retrieval_server.tracing import span

log = logging.getLogger(__name__)


class TorchScriptBackend(EmbeddingBackend):
    name = "torchscript"

    def __init__(self, model_repository: Path, *, workers: int = 2, torch_threads: int | None = None, metrics=None):
        """``torch_threads``: intra-op threads of every encoder call (torch.set_num_threads, process-wide: this
        backend owns the process's torch); None keeps torch's default."""
        self._repository = Path(model_repository)
        self._torch_threads = torch_threads
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="encoder")
        self._metrics = metrics
        self._info: RepositoryInfo | None = None
        self._embedder = None
        self._start_error: Exception | None = None

    @property
    def info(self) -> RepositoryInfo:
        if self._info is None:
            raise BackendUnavailable("the model is still loading")
        return self._info

    async def start(self) -> None:
        from motion_retrieval.inference.embedder import TorchScriptEmbedder

        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        if self._torch_threads is not None:
            import torch  # deferred: torch comes with the embedder this method loads anyway

            torch.set_num_threads(self._torch_threads)
        try:
            info = load_repository_info(self._repository, require_models=True)
            # Loading the text tower (MiniLM inside) takes seconds: off the loop, so health answers NOT_SERVING.
            # The embedder refuses towers whose weights are not the ones the description names.
            self._embedder = await loop.run_in_executor(self._executor, TorchScriptEmbedder, self._repository)
        except Exception as exc:
            self._start_error = exc
            raise
        self._info = info
        log.info("torchscript backend: %s loaded from %s in %.1f s (%s torch threads per call)", info.model_id,
                 self._repository, time.perf_counter() - start, self._torch_threads or "default")

    async def is_ready(self) -> bool:
        return self._embedder is not None

    async def embed_texts(self, texts: Sequence[str], timeout: float) -> np.ndarray:
        return await self._run("text_encoder", "embed_checked_texts", list(texts), timeout)

    async def embed_motions(self, motions: Sequence[np.ndarray], timeout: float) -> np.ndarray:
        return await self._run("motion_encoder", "embed_checked_motions", list(motions), timeout)

    async def _run(self, encoder: str, method: str, items: list, timeout: float) -> np.ndarray:
        if self._embedder is None:
            if self._start_error is not None:
                raise BackendUnavailable(f"the model failed to load: {self._start_error}")
            raise BackendUnavailable("the model is still loading; retry when health reports SERVING")
        fn = getattr(self._embedder, method)
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        # A batch that outlives the deadline keeps its worker thread until it finishes (torch cannot be interrupted),
        # but the caller gets DEADLINE_EXCEEDED on time.
        with span("torchscript.embed", **{"encoder": encoder, "batch_size": len(items)}):
            embeddings = await asyncio.wait_for(loop.run_in_executor(self._executor, fn, items), timeout)
        if self._metrics is not None:
            self._metrics.backend_latency.labels(backend=self.name, encoder=encoder).observe(
                time.perf_counter() - start)
        return np.asarray(embeddings, dtype=np.float32)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._embedder = None
