"""Bearer-token check: every call must carry ``authorization: Bearer <token>`` in its metadata, except the health
and reflection services, which probes and tooling reach without credentials. A refused call is answered from its
metadata alone: its message is never read, so unauthenticated callers cannot make the service hold their bytes.

Two scopes: the full-access token (``--auth-token-file``) opens every method; the search-only token
(``--search-token-file``, for the web page and other readers) opens only the methods in ``SEARCH_SCOPE_METHODS``
and gets PERMISSION_DENIED on the rest (IngestMotions, DeleteMotions, and any method added later until it is listed
here: the scope is an allowlist, so a new write method is never readable by accident)."""

from __future__ import annotations

import hmac
import logging

import grpc

log = logging.getLogger(__name__)

OPEN_SERVICE_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
AUTH_METADATA_KEY = "authorization"
_EMBEDDING = "/motion_retrieval.v1.EmbeddingService/"
_SEARCH = "/motion_retrieval.v1.SearchService/"
# What a search-only token may call: every read, nothing that writes or deletes.
SEARCH_SCOPE_METHODS = frozenset({
    f"{_EMBEDDING}EmbedTexts", f"{_EMBEDDING}EmbedMotions", f"{_EMBEDDING}GetModelInfo",
    f"{_SEARCH}SearchMotions", f"{_SEARCH}SearchCaptions", f"{_SEARCH}SimilarMotions", f"{_SEARCH}GetMotionPreview",
    f"{_SEARCH}GetMotionClip", f"{_SEARCH}GetCollectionStats",
})


def bearer_token(metadata) -> str | None:
    """The token of an ``authorization: Bearer <token>`` entry, or None."""
    for key, value in metadata or ():
        if key.lower() == AUTH_METADATA_KEY:
            scheme, _, token = str(value).partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str, open_prefixes: tuple[str, ...] = OPEN_SERVICE_PREFIXES,
                 search_token: str | None = None):
        """``token`` opens every method; ``search_token`` (optional) only those in SEARCH_SCOPE_METHODS."""
        self._token = token.encode()
        self._search_token = search_token.encode() if search_token else None
        self._open_prefixes = open_prefixes

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(self._open_prefixes):
            return handler
        token = bearer_token(handler_call_details.invocation_metadata)
        sent = token.encode() if token is not None else None
        if sent is not None and hmac.compare_digest(sent, self._token):
            return handler
        if sent is not None and self._search_token is not None and hmac.compare_digest(sent, self._search_token):
            if method in SEARCH_SCOPE_METHODS:
                return handler
            code = grpc.StatusCode.PERMISSION_DENIED
            message = (f"{method.rsplit('/', 1)[-1]} needs the full-access token; this token is search-only "
                       "(it opens embedding, search, previews, clips and stats)")
            log.warning("refused %s: search-only token", method)
        else:
            problem = "missing" if token is None else "invalid"
            code = grpc.StatusCode.UNAUTHENTICATED
            message = f"{problem} bearer token: send metadata 'authorization: Bearer <token>'"
            log.warning("refused %s: %s bearer token", method, problem)

        async def refuse(request_iterator, context):
            await context.abort(code, message)

        # A request-streaming handler that never reads: the request body is not received into memory before the
        # refusal (a unary handler would get the whole message, up to the size limit, deserialised first).
        if handler.unary_unary or handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(refuse, response_serializer=handler.response_serializer)
        return grpc.stream_stream_rpc_method_handler(refuse, response_serializer=handler.response_serializer)
