"""The gRPC client the web app holds: the project's client (channel, token, deadline, filters) with the queries the
page makes answered as the one hit schema (motion_retrieval.serving.hits), and the two motion queries sent as
SMPL-22 joints (an uploaded file, a stored hit's clip) so that the service converts them with its own feature
pipeline and the web process stays light (a quarter of the bytes of 263-d features, no feature code per request)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from motion_retrieval.errors import ConfigError
from motion_retrieval.serving.hits import CaptionHit, MotionHit
from motion_retrieval_server.api import search_pb2
from motion_retrieval_server.client import MotionRetrievalClient, filter_message, joints_message
from motion_retrieval_web.config import WebConfig


def read_token_file(path: Path) -> str:
    """The bearer token in ``path`` (surrounding whitespace dropped); ConfigError naming the file otherwise."""
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the token file ({exc.strerror})") from None
    if not token:
        raise ConfigError(f"{path}: the token file is empty")
    return token


class ServiceClient(MotionRetrievalClient):
    """MotionRetrievalClient whose searches return MotionHit / CaptionHit; every call carries the deadline."""

    def search_hits(self, text: str, *, top_k: int, offset: int = 0, every_window: bool = False,
                    filters: Mapping[str, Any] | None = None) -> list[MotionHit]:
        request = search_pb2.SearchMotionsRequest(text=text, top_k=top_k, filter=filter_message(filters),
                                                  offset=offset, every_window=every_window)
        return [MotionHit.from_message(h) for h in self._call(self._search.SearchMotions, request).hits]

    def similar_hits(self, *, motion_id: str | None = None, joints: np.ndarray | None = None, fps: float = 20.0,
                     top_k: int, offset: int = 0, every_window: bool = False,
                     filters: Mapping[str, Any] | None = None) -> list[MotionHit]:
        """Motions closest to the stored row ``motion_id`` or to (T, 22, 3) SMPL-22 ``joints`` (metres, Y up) at
        ``fps``: exactly one of them."""
        if (motion_id is None) == (joints is None):
            raise ValueError("give exactly one of motion_id and joints")
        request = search_pb2.SimilarMotionsRequest(top_k=top_k, filter=filter_message(filters), offset=offset,
                                                   every_window=every_window)
        if joints is not None:
            request.motion.CopyFrom(joints_message(joints, "smpl22", fps))
        else:
            request.motion_id = motion_id
        return [MotionHit.from_message(h) for h in self._call(self._search.SimilarMotions, request).hits]

    def serving_status(self, timeout: float = 2.0) -> str:
        """The service's readiness on grpc.health.v1 ("SERVING", "NOT_SERVING", ...), over this client's channel."""
        response = health_pb2_grpc.HealthStub(self._channel).Check(health_pb2.HealthCheckRequest(service=""),
                                                                   timeout=timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def caption_hits(self, joints: np.ndarray, fps: float, top_k: int) -> list[CaptionHit]:
        """Stored captions closest to (T, 22, 3) SMPL-22 ``joints`` at ``fps`` (each distinct text once)."""
        request = search_pb2.SearchCaptionsRequest(motion=joints_message(joints, "smpl22", fps), top_k=top_k)
        return [CaptionHit.from_message(h) for h in self._call(self._search.SearchCaptions, request).hits]


def connect(config: WebConfig) -> ServiceClient:
    """The client for ``config.server`` with the token from ``config.token_file`` and the per-call deadline."""
    token = read_token_file(config.token_file) if config.token_file is not None else None
    if config.tls_ca is not None and not Path(config.tls_ca).is_file():
        raise ConfigError(f"{config.tls_ca}: no such CA certificate file (--server-ca)")
    return ServiceClient(config.server, token=token, tls_ca=config.tls_ca, timeout=config.deadline_s,
                         server_name=config.server_name)
