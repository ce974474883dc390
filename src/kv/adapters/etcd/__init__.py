"""The etcd storage engine (KV_STORE=etcd): kv-server replicas over one etcd cluster."""

from kv.adapters.etcd.store import EtcdStore

__all__ = ["EtcdStore"]
