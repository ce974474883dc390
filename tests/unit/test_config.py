"""Settings: defaults, parsing, and one clear error naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from kv.bootstrap import read_settings
from kv.config import ConfigError, Settings


def test_defaults_follow_the_api_contract() -> None:
    settings = read_settings({})
    assert settings == Settings()
    assert (settings.transports, settings.host, settings.http_port, settings.grpc_port) == (
        ("http",),
        "0.0.0.0",
        8080,
        50051,
    )
    assert settings.resp_port == 6379
    assert read_settings({"TRANSPORT": "resp,http"}).transports == ("resp", "http")
    assert (settings.store, settings.data_dir, settings.max_value_bytes) == (
        "memory",
        Path("./data"),
        1024 * 1024,
    )


def test_values_are_parsed() -> None:
    settings = read_settings(
        {
            "TRANSPORT": " HTTP , http ",
            "KV_HOST": "127.0.0.1",
            "KV_HTTP_PORT": "9000",
            "KV_MAX_VALUE_BYTES": "10",
            "KV_LOG_LEVEL": "debug",
            "KV_IDLE_TIMEOUT": "2.5",
            "KV_SQLITE_INTEGRITY_CHECK": "yes",
        }
    )
    assert settings.transports == ("http",)
    assert (settings.host, settings.http_port, settings.max_value_bytes) == ("127.0.0.1", 9000, 10)
    assert (settings.log_level, settings.idle_timeout) == ("DEBUG", 2.5)
    assert settings.sqlite_integrity_check


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TRANSPORT", "carrier-pigeon", "is not a comma list of"),
        ("TRANSPORT", ",", "is not a comma list of"),
        ("KV_HTTP_PORT", "70000", "out of range"),
        ("KV_HTTP_PORT", "eighty", "is not an integer"),
        ("KV_GRPC_PORT", "0", "out of range"),
        ("KV_RESP_PORT", "65536", "out of range"),
        ("KV_STORE", "floppy", "is not one of"),
        ("KV_MAX_VALUE_BYTES", "0", "out of range"),
        ("KV_LOG_LEVEL", "loud", "is not one of"),
        ("KV_IDLE_TIMEOUT", "soon", "is not a number"),
        ("KV_SQLITE_INTEGRITY_CHECK", "maybe", "is not a boolean"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_settings({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert message in str(caught.value)
