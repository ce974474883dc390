"""Generated client code for etcd's v3 API (`make codegen`; do not edit).

Made from proto/kv/etcdpb/, a subset of etcd's own protos (Apache-2.0,
LICENSE and the list of changes beside them). Used by kv.adapters.etcd.
"""
