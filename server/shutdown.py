"""The process side of SIGTERM: a hard exit deadline, and a second signal that ends the process at once.

The service drains within its grace period (app), but a process can still be held up after that: encoder
batches already running on worker threads cannot be interrupted (torch), and the interpreter joins those threads at
exit. Kubernetes sends SIGKILL after its own grace period; a process that ends on its own, on time, with its last log
lines written, is better. :class:`ExitDeadline` is a daemon thread armed when shutdown begins: if the process is
still there ``seconds`` later it flushes the logs and ends it (exit status 0 when the gRPC server itself had already
stopped and only uninterruptible computations were left behind, 1 otherwise). When the server stops in time,
:meth:`ExitDeadline.exit_now` ends the process right there, so the interpreter's teardown adds nothing either.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

log = logging.getLogger(__name__)


def _flush_and_exit(status: int) -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


class ExitDeadline:
    """``deadline = ExitDeadline(12.0).arm()`` ... ``deadline.exit_now()`` once the server has drained."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self) -> ExitDeadline:
        self._due = time.monotonic() + self.seconds
        self._thread = threading.Thread(target=self._run, name="exit-deadline", daemon=True)
        self._thread.start()
        return self

    def exit_now(self) -> None:
        """The server has drained and released Milvus, the backend and the metrics port: end the process now, exit
        status 0. Not left to the interpreter, whose teardown is unbounded: it joins encoder threads still inside a
        torch call, then runs torch's and gRPC core's destructors (long enough on a busy machine to overrun the
        grace period, with the deadline thread already unable to run; docs/BENCHMARKS.md, SIGTERM)."""
        self._stopped.set()
        _flush_and_exit(0)

    def _run(self) -> None:
        while True:
            left = self._due - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 0.1))
        stopped = self._stopped.is_set()
        if stopped:  # the interpreter is joining worker threads whose callers were already answered or cancelled
            log.warning("exiting with encoder work still running on worker threads (%.1f s after shutdown began)",
                        self.seconds)
        else:
            log.error("shutdown overran its deadline of %.1f s (the server had not finished stopping); exiting now",
                      self.seconds)
        _flush_and_exit(0 if stopped else 1)


def force_exit_on_second_signal(signum: int) -> None:
    """A second SIGTERM/SIGINT while draining: the operator wants the process gone now."""
    log.warning("second signal %d during shutdown: exiting now", signum)
    _flush_and_exit(1)
