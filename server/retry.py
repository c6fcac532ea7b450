"""The clients' retry policy, as a gRPC service config: grpc-core retries a refused call inside the call's deadline,
waiting the server's ``grpc-retry-pushback-ms`` when the refusal carries one (the service's admission gate sends it
with every RESOURCE_EXHAUSTED), else an exponential backoff with full jitter (gRPC retry design A6).

Without it, callers that retry in a loop come back at once after a refusal, and under overload the service spends
the CPU its encoders need on refusing them. Only calls with one request message are retried: the ingest stream is
not replayed (a client restarts ingest, which is idempotent, by itself).

    MotionRetrievalClient(target)                                   # RetryPolicy() by default
    MotionRetrievalClient(target, retry=RetryPolicy(max_attempts=3))
    MotionRetrievalClient(target, retry=None)                       # no retries
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from motion_retrieval_server.api import embedding_pb2, search_pb2

SERVICES = (embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"],
            search_pb2.DESCRIPTOR.services_by_name["SearchService"])
MAX_ATTEMPTS_CAP = 5  # grpc-core's limit: larger values are silently lowered to it


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # attempts per call, the first included (2..5); all of them inside the call's deadline
    initial_backoff_s: float = 0.1  # first wait without pushback: uniform in (0, initial_backoff_s]
    max_backoff_s: float = 1.0  # cap of the exponential backoff
    backoff_multiplier: float = 2.0
    retryable_codes: tuple[str, ...] = ("RESOURCE_EXHAUSTED", "UNAVAILABLE")  # gRPC status names
    # Request bytes kept for replay, per call and per channel: a call whose request is bigger is sent once (the
    # service refuses under overload before reading the message, so large motion batches are worth keeping).
    buffer_bytes_per_call: int = 16 * 1024 * 1024
    buffer_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        if not 2 <= self.max_attempts <= MAX_ATTEMPTS_CAP:
            raise ValueError(f"max_attempts must be 2..{MAX_ATTEMPTS_CAP} (gRPC's limit), got {self.max_attempts}")
        if not 0 < self.initial_backoff_s <= self.max_backoff_s:
            raise ValueError(f"backoffs must satisfy 0 < initial_backoff_s <= max_backoff_s, got "
                             f"{self.initial_backoff_s} and {self.max_backoff_s}")
        if self.backoff_multiplier < 1:
            raise ValueError(f"backoff_multiplier must be at least 1, got {self.backoff_multiplier}")
        if not self.retryable_codes:
            raise ValueError("retryable_codes must name at least one status code")
        unknown = [c for c in self.retryable_codes if c not in grpc.StatusCode.__members__ or c == "OK"]
        if unknown:
            raise ValueError(f"retryable_codes: unknown gRPC status codes {unknown}")

    def service_config(self, services: tuple[ServiceDescriptor, ...] = SERVICES) -> dict:
        """The gRPC service config: this policy on every method of ``services`` with a single request message."""
        names = [{"service": s.full_name, "method": m.name} for s in services for m in s.methods
                 if not m.client_streaming]
        return {"methodConfig": [{"name": names, "retryPolicy": {
            "maxAttempts": self.max_attempts,
            "initialBackoff": f"{self.initial_backoff_s:.3f}s",
            "maxBackoff": f"{self.max_backoff_s:.3f}s",
            "backoffMultiplier": self.backoff_multiplier,
            "retryableStatusCodes": list(self.retryable_codes),
        }}]}


def channel_options(retry: RetryPolicy | None) -> list[tuple[str, object]]:
    """Channel arguments that turn ``retry`` on (or retries off for None)."""
    if retry is None:
        return [("grpc.enable_retries", 0)]
    return [("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(retry.service_config())),
            ("grpc.per_rpc_retry_buffer_size", retry.buffer_bytes_per_call),
            ("grpc.retry_buffer_size", retry.buffer_bytes)]
