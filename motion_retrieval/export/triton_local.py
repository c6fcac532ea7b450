"""The real ``tritonserver`` binary bundled in the nvidia-pytriton wheel, serving an exported model repository.

That build has only the Python backend (no libtorch), so the repository is served through generated mirrors: a
temporary repository with the same model names, tensors, max_batch_size and dynamic batching, whose ``model.py``
(triton_python_model.py) torch.jit.load()s the original model.pt. Clients cannot tell the difference, and the
embeddings are the ones the libtorch backend would compute from the same files.

Every path comes from the running interpreter (ENVIRONMENT.md "Triton, locally"): the backend stub links
libpython3.X, so LD_LIBRARY_PATH starts with sysconfig's LIBDIR (otherwise Debian's older libpython loads and model
load fails), and the stub finds this virtual environment through PATH (PYTHONPATH is ignored).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from motion_retrieval.errors import ConfigError, MotionRetrievalError
from motion_retrieval.export.triton_config import model_config, python_mirror_config, render_config
from motion_retrieval.serving.repository import MODELS, VERSION, WARMUP_DIR, read_repository_info

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_MIRROR_MODEL_SOURCE = Path(__file__).with_name("triton_python_model.py")


class TritonError(MotionRetrievalError):
    """The local tritonserver could not be found, started or made ready."""


@dataclass(frozen=True)
class TritonInstallation:
    binary: Path  # pytriton/tritonserver/bin/tritonserver
    python_backend: Path  # pytriton/tritonserver/backends/python (libtriton_python.so + utils)
    stub: Path  # python_backend_stubs/<py>/triton_python_backend_stub, for this interpreter's version
    libs: Path  # site-packages/nvidia_pytriton.libs (the binary's bundled shared libraries)

    def environment(self) -> dict[str, str]:
        """The server's environment: this interpreter's libpython and the venv first on the search paths."""
        env = dict(os.environ)
        libdir = sysconfig.get_config_var("LIBDIR") or ""
        library_path = [p for p in (libdir, str(self.libs), env.get("LD_LIBRARY_PATH", "")) if p]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(library_path)
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
        return env


def find_tritonserver() -> TritonInstallation:
    """Locate the bundled tritonserver of nvidia-pytriton in this interpreter's site-packages."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonError("the nvidia-pytriton package is not installed (pip install 'motion-retrieval[triton]')")
    package = Path(next(iter(spec.submodule_search_locations)))
    server = package / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    install = TritonInstallation(
        binary=server / "bin" / "tritonserver",
        python_backend=server / "backends" / "python",
        stub=server / "python_backend_stubs" / version / "triton_python_backend_stub",
        libs=package.parent / "nvidia_pytriton.libs",
    )
    for path in (install.binary, install.python_backend / "libtriton_python.so", install.stub, install.libs):
        if not path.exists():
            raise TritonError(f"{path}: missing from the nvidia-pytriton installation (Python {version})")
    return install


def build_backend_dir(install: TritonInstallation, dest: Path) -> Path:
    """``dest/python/`` with the Python backend library, its utils and the stub for this Python version."""
    python_dir = dest / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for source in (install.python_backend / "libtriton_python.so",
                   install.python_backend / "triton_python_backend_utils.py", install.stub):
        shutil.copy2(source, python_dir / source.name)
    return dest


def write_python_mirror(repo: str | os.PathLike, dest: str | os.PathLike, num_threads: int | None = None) -> Path:
    """A Python-backend mirror of the exported repository ``repo`` in ``dest``: the CPU config of each model (same
    names, tensors, batching, warmup and model id parameter) run by triton_python_model.py, which refuses a model.pt
    whose weights do not match the description."""
    info = read_repository_info(repo)
    dest = Path(dest)
    for name in MODELS:
        model_dir = dest / name
        (model_dir / VERSION).mkdir(parents=True, exist_ok=True)
        mirror = python_mirror_config(model_config(info, name, "cpu"), str(info.model_file(name).resolve()),
                                      info.weights_sha256[name], num_threads)
        (model_dir / "config.pbtxt").write_text(render_config(mirror))
        shutil.copyfile(_MIRROR_MODEL_SOURCE, model_dir / VERSION / "model.py")
        warmup = Path(repo) / name / WARMUP_DIR
        if warmup.is_dir():
            shutil.copytree(warmup, model_dir / WARMUP_DIR, dirs_exist_ok=True)
        elif mirror.model_warmup:
            raise ConfigError(f"{warmup}: missing (config.pbtxt names model_warmup input files)")
    return dest


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class TritonUrls:
    grpc: str  # "127.0.0.1:PORT" (tritonclient.grpc url)
    http: str  # "127.0.0.1:PORT" (tritonclient.http url)
    metrics: str  # "http://127.0.0.1:PORT/metrics"

    def to_json(self) -> dict:
        return {"grpc": self.grpc, "http": self.http, "metrics": self.metrics}


class LocalTriton:
    """The bundled tritonserver on loopback, serving ``repo`` through Python-backend mirrors.

    ``with LocalTriton(repo) as triton: ...`` starts it on free ports, waits until every model is ready and stops
    it (SIGTERM, then SIGKILL of its process group after ``stop_timeout``), leaving no process behind.
    """

    def __init__(
        self,
        repo: str | os.PathLike,
        grpc_port: int | None = None,
        http_port: int | None = None,
        metrics_port: int | None = None,
        *,
        num_threads: int | None = None,
        stop_timeout: float = 15.0,
        log_path: str | os.PathLike | None = None,
        mirror_hook: Callable[[Path], None] | None = None,
    ):
        self.repo = Path(repo)
        self.info = read_repository_info(self.repo)
        self.grpc_port, self.http_port, self.metrics_port = grpc_port, http_port, metrics_port
        self.num_threads = num_threads
        self.stop_timeout = stop_timeout
        self._log_path = Path(log_path) if log_path is not None else None  # None: a file in the temporary folder
        self._mirror_hook = mirror_hook  # called with the mirror repository before the server starts (benchmarks)
        self._process: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._log_file = None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> LocalTriton:
        if self._process is not None:
            raise TritonError("this LocalTriton is already started")
        install = find_tritonserver()
        self._workdir = Path(tempfile.mkdtemp(prefix="motion-retrieval-triton-"))
        mirror = write_python_mirror(self.repo, self._workdir / "models", self.num_threads)
        if self._mirror_hook is not None:
            self._mirror_hook(mirror)
        backends = build_backend_dir(install, self._workdir / "backends")
        self.grpc_port = self.grpc_port or free_port()
        self.http_port = self.http_port or free_port()
        self.metrics_port = self.metrics_port or free_port()
        command = [
            str(install.binary),
            f"--model-repository={mirror}",
            f"--backend-directory={backends}",
            f"--grpc-address={HOST}", f"--grpc-port={self.grpc_port}",
            f"--http-address={HOST}", f"--http-port={self.http_port}",
            "--allow-metrics=true", f"--metrics-address={HOST}", f"--metrics-port={self.metrics_port}",
            # Shared-memory regions are named by this prefix: unique, so that servers running side by side
            # (other tests, other users) never collide.
            f"--backend-config=python,shm-region-prefix-name=mr{uuid.uuid4().hex[:12]}_",
            "--exit-on-error=true",
            "--strict-readiness=true",
            "--log-verbose=0",
        ]
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        log.info("starting %s", " ".join(command))
        self._process = subprocess.Popen(
            command, env=install.environment(), cwd=self._workdir, stdin=subprocess.DEVNULL,
            stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the backend stubs can be cleaned up with it
        )
        atexit.register(self.stop)
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the server and every model report ready; TritonError (with its log) if it dies or times out."""
        if self._process is None:
            raise TritonError("not started")
        deadline = time.monotonic() + timeout
        url = f"http://{self.urls.http}/v2/health/ready"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise TritonError(f"tritonserver exited with code {self._process.returncode}: {self.log_errors()}")
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                with urllib.request.urlopen(url, timeout=2.0) as response:
                    if response.status == 200:
                        log.info("tritonserver ready (pid %d): %s", self.pid, self.urls.to_json())
                        return
            time.sleep(0.2)
        raise TritonError(f"tritonserver not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM the server, SIGKILL its process group if it lingers; remove the mirror. Returns its exit code."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        code = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    log.warning("tritonserver (pid %d) ignored SIGTERM for %.0f s; killing it", process.pid,
                                self.stop_timeout)
                    _kill_group(process.pid)
                    process.wait()
            code = process.returncode
            _kill_group(process.pid)  # stubs that outlived their server (they share its process group)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return code

    def __enter__(self) -> LocalTriton:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def urls(self) -> TritonUrls:
        if self.grpc_port is None:
            raise TritonError("ports are chosen by start()")
        return TritonUrls(grpc=f"{HOST}:{self.grpc_port}", http=f"{HOST}:{self.http_port}",
                          metrics=f"http://{HOST}:{self.metrics_port}/metrics")

    @property
    def log_path(self) -> Path:
        if self._log_path is not None:
            return self._log_path
        if self._workdir is None:
            raise TritonError("not started")
        return self._workdir / "tritonserver.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, TritonError):
            return "(no log)"

    def log_errors(self) -> str:
        """The model-load failures and error lines of the log (its tail when there are none), whitespace squeezed."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except (OSError, TritonError):
            return "(no log)"
        wanted = [" ".join(line.replace("|", " ").split()) for line in lines
                  if "UNAVAILABLE" in line or line.startswith(("E1", "E0", "error:"))]
        return "\n".join(wanted) if wanted else self.log_tail()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the server process to exit on its own; its exit code, or None on timeout."""
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of the process group we created for the server (never anything else)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
