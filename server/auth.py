"""Bearer-token check: every call must carry ``authorization: Bearer <token>`` in its metadata, except the health
and reflection services, which probes and tooling reach without credentials."""

from __future__ import annotations

import hmac
import logging

import grpc

from server.interceptors import replace_behaviour

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

        async def refuse(request_or_iterator, context):
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"{problem} bearer token: send metadata 'authorization: Bearer <token>'",
            )

        return replace_behaviour(handler, refuse)
