"""Code generated from proto/kv/v1/kv.proto by `make codegen`; do not edit by hand."""
