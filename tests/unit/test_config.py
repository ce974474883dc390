"""Settings: defaults, parsing, and one clear error naming the variable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kv.bootstrap import read_settings
from kv.config import ConfigError, Settings
from kv.transports import TRANSPORTS


def test_defaults_follow_the_api_contract() -> None:
    settings = read_settings({})
    # Ports are the transports' own defaults (kv.transports.TRANSPORTS), not the class's.
    assert replace(settings, ports={}) == Settings()
    assert (settings.transports, settings.host) == (("http",), "0.0.0.0")
    # The contract's ports; a transport registered later brings its own.
    assert {name: settings.ports[name] for name in ("http", "grpc", "resp")} == {
        "http": 8080,
        "grpc": 50051,
        "resp": 6379,
    }
    assert (settings.access_log, settings.slow_request_seconds) == ("errors", 0.5)
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
            "KV_ACCESS_LOG": "ALL",
            "KV_SLOW_REQUEST_SECONDS": "0.25",
        }
    )
    assert settings.transports == ("http",)
    assert (settings.host, settings.ports["http"], settings.max_value_bytes) == (
        "127.0.0.1",
        9000,
        10,
    )
    assert (settings.access_log, settings.slow_request_seconds) == ("all", 0.25)
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
        ("KV_ACCESS_LOG", "some", "is not one of"),
        ("KV_SLOW_REQUEST_SECONDS", "-1", "out of range"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_settings({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert message in str(caught.value)


def test_every_transport_declares_its_own_port_setting() -> None:
    variables = [known.port.variable for known in TRANSPORTS.values()]
    assert len(set(variables)) == len(variables)
    environ = {known.port.variable: str(20000 + n) for n, known in enumerate(TRANSPORTS.values())}
    settings = read_settings(environ)
    assert dict(settings.ports) == {name: 20000 + n for n, name in enumerate(TRANSPORTS)}


def test_settings_cannot_be_changed() -> None:
    settings = read_settings({})
    with pytest.raises(TypeError):
        settings.ports["http"] = 1  # type: ignore[index]
