"""Fixtures of the service tests: a tiny real model repository (exported with the project's own export code), the
service running on loopback in a background thread, and a sync client."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import DIM, FEATURE_DIM, export_tiny
from torch import nn

from motion_retrieval.serving.repository import ServingOptions
from motion_retrieval_server.app import MotionRetrievalServer
from motion_retrieval_server.client import MotionRetrievalClient
from motion_retrieval_server.config import ServeConfig, ServiceLimits

SERVER_OPTIONS = ServingOptions(max_batch_size=16, preferred_batch_sizes=(4, 8, 16), max_queue_delay_microseconds=1000,
                                warmup_batch_sizes=(1,))


def export_tiny_repository(out: Path, seed: int = 0) -> Path:
    export_tiny(out, seed, created_from="tests/server", options=SERVER_OPTIONS, real_motions=[])
    return out


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory) -> Path:
    return export_tiny_repository(tmp_path_factory.mktemp("server-repo"))


@pytest.fixture(scope="session")
def other_repo(tmp_path_factory) -> Path:
    """A repository of another model (other weights, so another model id) with the same tensors as tiny_repo."""
    return export_tiny_repository(tmp_path_factory.mktemp("other-repo"), seed=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """MotionRetrievalServer on its own event loop in a daemon thread (the tests use the sync client)."""

    def __init__(self, config: ServeConfig, **server_options):
        """``server_options``: keyword arguments of MotionRetrievalServer beyond the config (``tracing``)."""
        self.config = config
        self.server_options = server_options
        self.loop = asyncio.new_event_loop()
        self.server: MotionRetrievalServer | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-server", daemon=True)

    def run(self, coro, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, wait_ready: bool = True) -> ServerThread:
        self._thread.start()

        async def start():
            self.server = MotionRetrievalServer(self.config, **self.server_options)
            await self.server.start()
            if wait_ready:
                await self.server.wait_ready()

        self.run(start())
        return self

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def stop(self, grace: float = 1.0) -> None:
        if self.server is not None:
            self.run(self.server.stop(grace))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def make_config(repo: Path, **overrides) -> ServeConfig:
    """Loopback, any free port, no metrics endpoint unless asked."""
    base = ServeConfig(model_repository=repo, host="127.0.0.1", port=0, metrics_port=0, workers=2,
                       limits=ServiceLimits(max_batch_size=8, max_frames=600, max_text_chars=200,
                                            max_message_bytes=4 * 1024 * 1024),
                       health_poll_s=0.2, shutdown_grace_s=1.0)
    return replace(base, **overrides)


@pytest.fixture(scope="module")
def torchscript_server(tiny_repo):
    with ServerThread(make_config(tiny_repo)) as server:
        yield server


@pytest.fixture(scope="module")
def search_server(tiny_repo, tmp_path_factory):
    """The service with SearchService over a fresh Milvus Lite file."""
    db = tmp_path_factory.mktemp("milvus") / "search.db"
    with ServerThread(make_config(tiny_repo, milvus_uri=str(db))) as server:
        yield server


@pytest.fixture()
def client(torchscript_server):
    with MotionRetrievalClient(torchscript_server.target, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="session")
def embedder(tiny_repo):
    """The in-process reference the service must agree with."""
    from motion_retrieval.inference.embedder import TorchScriptEmbedder

    return TorchScriptEmbedder(tiny_repo)


@pytest.fixture()
def start_server(tiny_repo):
    """``start_server(**config_overrides) -> ServerThread`` (started; ``tracing=`` goes to the server itself); every
    one is stopped after the test."""
    started = []

    def start(wait_ready: bool = True, **overrides) -> ServerThread:
        options = {"tracing": overrides.pop("tracing")} if "tracing" in overrides else {}
        server = ServerThread(make_config(overrides.pop("model_repository", tiny_repo), **overrides), **options)
        started.append(server)
        return server.start(wait_ready=wait_ready)

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture()
def features():
    """``features(frames, seed=0)`` -> random raw (frames, 263) float32 features."""

    def make(frames: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((frames, FEATURE_DIM)).astype(np.float32)

    return make


def smpl_to_kit21(smpl: np.ndarray) -> np.ndarray:
    """A KIT-21 array (millimetres) built from SMPL-22 joints (metres) through the inverse of the one-source entries
    of the KIT -> SMPL joint map; KIT's end joints (head top, toes) extend their parent a little."""
    from motion_retrieval.data.joint_maps import KIT21_TO_SMPL22
    from motion_retrieval.skeleton import KIT21

    kit = np.zeros((len(smpl), KIT21.num_joints, 3), dtype=np.float32)
    for smpl_index, source in enumerate(KIT21_TO_SMPL22.sources):
        if len(source) == 1:
            kit[:, KIT21.joint_index(source[0][0])] = smpl[:, smpl_index] * 1000.0
    for name in ("BUN", "LF", "RF"):
        k = KIT21.joint_index(name)
        kit[:, k] = kit[:, KIT21.parents[k]] + np.array([0.0, 50.0, 50.0], dtype=np.float32)
    return kit


@pytest.fixture(scope="session")
def smpl_joints(humanml3d_sample) -> np.ndarray:
    """The real HumanML3D take 012314: (170, 22, 3) metres, 20 fps."""
    return np.load(humanml3d_sample / "new_joints" / "012314.npy")


@pytest.fixture(scope="session")
def kit_joints(smpl_joints) -> np.ndarray:
    return smpl_to_kit21(smpl_joints)


class SlowMotionTower(nn.Module):
    """The motion tower's signature with a deliberately long computation (0.5-1 s on an idle machine), to test
    deadlines and that the event loop stays free while a batch runs."""

    def __init__(self, iterations: int = 1500):
        super().__init__()
        self.iterations = iterations
        self.weight = nn.Parameter(torch.eye(FEATURE_DIM) * 0.5, requires_grad=False)
        self.out = nn.Linear(FEATURE_DIM, DIM)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = motion * mask.unsqueeze(-1).to(motion.dtype)  # (B, F, 263)
        for _ in range(self.iterations):
            h = torch.tanh(h @ self.weight)  # (B, F, 263)
        return torch.nn.functional.normalize(self.out(h.mean(1)) + 1e-3, dim=-1)  # (B, 256)


@pytest.fixture(scope="session")
def slow_repo(tiny_repo, tmp_path_factory) -> Path:
    """The tiny repository with a motion_encoder/1/model.pt that takes about a second per call, described as the
    model it is (its own weights digest and model id: the service refuses a model.pt swapped under another id)."""
    import shutil
    from dataclasses import replace

    from motion_retrieval.export.identity import compute_model_id, weights_sha256
    from motion_retrieval.export.torchscript import load_torchscript, save_torchscript, torchscript_warnings_filtered
    from motion_retrieval.serving.repository import read_repository_info, write_repository_info

    out = tmp_path_factory.mktemp("slow-repo") / "repo"
    shutil.copytree(tiny_repo, out)
    with torchscript_warnings_filtered():
        scripted = torch.jit.script(SlowMotionTower().eval())
    save_torchscript(scripted, out / "motion_encoder" / "1" / "model.pt")
    info = read_repository_info(out)
    motion, text = load_torchscript(info.motion_model), load_torchscript(info.text_model)
    info = replace(info, weights_sha256={**info.weights_sha256, "motion_encoder": weights_sha256(motion)})
    write_repository_info(replace(info, model_id=compute_model_id([motion, text], info.model_description())))
    return out
