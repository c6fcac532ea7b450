"""gRPC servicers: EmbeddingService (embedding.py) and SearchService (search.py)."""
