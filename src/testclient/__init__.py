"""The test client: scenarios that prove a KV service right, over HTTP or gRPC."""
