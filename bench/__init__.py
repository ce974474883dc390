"""`make bench`: kv-server against the bare framework ceilings and etcd, on loopback."""
