"""SearchService when no Milvus is configured: every call answers FAILED_PRECONDITION saying how to enable it.
(Kept apart from search.py so that a service without --milvus never imports pymilvus.)"""

from __future__ import annotations

import grpc

from motion_retrieval_server.api import search_pb2_grpc

DISABLED_MESSAGE = (
    "search is disabled on this server: start it with --milvus URI (a Milvus server URL such as http://host:19530 "
    "or a Milvus Lite file ending in .db), or set MOTION_RETRIEVAL_MILVUS_URI"
)


class DisabledSearchServicer(search_pb2_grpc.SearchServiceServicer):
    """Registered when no Milvus is configured, so callers get an actionable status instead of UNIMPLEMENTED."""

    async def _refuse(self, request_or_iterator, context):
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, DISABLED_MESSAGE)

    SearchMotions = SearchCaptions = SimilarMotions = IngestMotions = DeleteMotions = GetCollectionStats = _refuse
    GetMotionPreview = GetMotionClip = _refuse
