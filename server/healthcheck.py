"""Exit 0 when a motion-retrieval service reports SERVING on grpc.health.v1, 1 otherwise.

Used where a native gRPC probe cannot go: the container image's HEALTHCHECK, and Kubernetes probes when the port
speaks TLS (kubelet's gRPC probes are plaintext only).

    python -m motion_retrieval_server.healthcheck [--target HOST:PORT] [--service NAME] [--tls-ca FILE]
        [--server-name NAME] [--timeout S]

``--service liveness`` for a liveness probe (SERVING while the process is up and not shutting down), the default
``""`` for readiness (the backend, and Milvus when configured, are ready); see motion_retrieval_server.health.
"""

from __future__ import annotations

import argparse
import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(target: str, *, service: str = "", tls_ca: str | None = None, server_name: str | None = None,
          timeout: float = 3.0) -> str:
    """The status name the server reports for ``service`` ("SERVING", "NOT_SERVING", ...)."""
    if tls_ca:
        with open(tls_ca, "rb") as handle:
            credentials = grpc.ssl_channel_credentials(root_certificates=handle.read())
        options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
        channel = grpc.secure_channel(target, credentials, options=options)
    else:
        channel = grpc.insecure_channel(target)
    with channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def main(argv: list[str] | None = None) -> int:
    port = os.environ.get("MOTION_RETRIEVAL_PORT", "50051")
    parser = argparse.ArgumentParser(prog="python -m motion_retrieval_server.healthcheck",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=f"localhost:{port}",
                        help="HOST:PORT (default: localhost:$MOTION_RETRIEVAL_PORT)")
    parser.add_argument("--service", default="",
                        help="health service name: '' = readiness of the whole server (default), 'liveness' = the "
                             "process is up, or a gRPC service name")
    parser.add_argument("--tls-ca", default=None, help="PEM file of the CA (or self-signed cert) to trust; enables TLS")
    parser.add_argument("--server-name", default=None, help="name to verify in the server's certificate")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds")
    args = parser.parse_args(argv)
    try:
        status = check(args.target, service=args.service, tls_ca=args.tls_ca, server_name=args.server_name,
                       timeout=args.timeout)
    except (grpc.RpcError, OSError) as exc:
        print(f"unhealthy: {args.target}: {exc}", file=sys.stderr)
        return 1
    print(status)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
