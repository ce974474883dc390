"""kv: a small key-value service with JSON/REST and gRPC transports over one domain core."""
