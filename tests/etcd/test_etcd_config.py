"""KV_ETCD_* settings: parsed once, a malformed one stops kv-server with one line and status 2."""

from __future__ import annotations

import os
import subprocess

import pytest

from kv.bootstrap import read_settings
from kv.config import ConfigError
from tests.servers import script


def test_defaults_follow_the_api_contract() -> None:
    settings = read_settings({})
    assert settings.etcd_endpoints == ("localhost:2379",)
    assert settings.etcd_prefix == "/kv/"
    assert settings.etcd_timeout == 1.0


def test_a_comma_list_of_members_is_read_in_order_without_repeats() -> None:
    settings = read_settings(
        {
            "KV_STORE": "etcd",
            "KV_ETCD_ENDPOINTS": "etcd1:2379, 10.0.0.2:2379,[::1]:2379,etcd1:2379",
            "KV_ETCD_PREFIX": "/svc/a/",
            "KV_ETCD_TIMEOUT": "2.5",
        }
    )
    assert settings.store == "etcd"
    assert settings.etcd_endpoints == ("etcd1:2379", "10.0.0.2:2379", "[::1]:2379")
    assert settings.etcd_prefix == "/svc/a/"
    assert settings.etcd_timeout == 2.5


@pytest.mark.parametrize(
    "value", ["etcd1", "etcd1:", ":2379", "etcd1:0", "etcd1:70000", "etcd1:x", "http://e:2379", ","]
)
def test_a_malformed_member_list_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        read_settings({"KV_ETCD_ENDPOINTS": value})
    assert raised.value.variable == "KV_ETCD_ENDPOINTS"


def test_kv_server_refuses_a_malformed_member_list_with_one_line_and_status_2() -> None:
    env = {**os.environ, "KV_STORE": "etcd", "KV_ETCD_ENDPOINTS": "etcd1:2379,etcd2"}
    result = subprocess.run(
        [script("kv-server")], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "KV_ETCD_ENDPOINTS" in lines[0]
