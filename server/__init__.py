"""The gRPC service of motion-retrieval: API code (api/), servicers, backends, client and the serve command."""
