"""Generated gRPC code of the public API (package ``motion_retrieval.v1``); regenerate with ``make proto``.

Import the modules directly (``from motion_retrieval_server.api import embedding_pb2``); this package imports nothing itself so that
the generator can run when the generated files are missing or stale.
"""
