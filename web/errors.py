"""The service's refusals as HTTP statuses, each with the service's own message, so a caller of the API reads the
same reason a gRPC caller would."""

from __future__ import annotations

import grpc

# The gRPC codes a caller can act on and the HTTP status that says the same thing.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


class ApiError(Exception):
    """A request the API refuses: an HTTP status and a message that says what was wrong."""

    def __init__(self, status: int, message: str, code: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code  # the gRPC status name when the refusal came from the service


def from_rpc_error(exc: grpc.RpcError) -> ApiError:
    """An ApiError for a failed gRPC call: mapped status (502 for codes with no better meaning) and its details."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    status = HTTP_STATUS.get(code, 502)
    if code == grpc.StatusCode.UNAVAILABLE:
        details = f"the search service is unavailable ({details})"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        details = f"the search service did not answer in time ({details})"
    return ApiError(status, details or code.name, code.name)
