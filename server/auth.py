"""Bearer-token check: every call must carry ``authorization: Bearer <token>`` in its metadata, except the health
and reflection services, which probes and tooling reach without credentials. A refused call is answered from its
metadata alone: its message is never read, so unauthenticated callers cannot make the service hold their bytes."""

from __future__ import annotations

import hmac
import logging

import grpc

log = logging.getLogger(__name__)

OPEN_SERVICE_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
AUTH_METADATA_KEY = "authorization"


def bearer_token(metadata) -> str | None:
    """The token of an ``authorization: Bearer <token>`` entry, or None."""
    for key, value in metadata or ():
        if key.lower() == AUTH_METADATA_KEY:
            scheme, _, token = str(value).partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str, open_prefixes: tuple[str, ...] = OPEN_SERVICE_PREFIXES):
        self._token = token.encode()
        self._open_prefixes = open_prefixes

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(self._open_prefixes):
            return handler
        token = bearer_token(handler_call_details.invocation_metadata)
        if token is not None and hmac.compare_digest(token.encode(), self._token):
            return handler
        problem = "missing" if token is None else "invalid"
        log.warning("refused %s: %s bearer token", method, problem)

        async def refuse(request_iterator, context):
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"{problem} bearer token: send metadata 'authorization: Bearer <token>'",
            )

        # A request-streaming handler that never reads: the request body is not received into memory before the
        # refusal (a unary handler would get the whole message, up to the size limit, deserialised first).
        if handler.unary_unary or handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(refuse, response_serializer=handler.response_serializer)
        return grpc.stream_stream_rpc_method_handler(refuse, response_serializer=handler.response_serializer)
