"""The TLS and etcd-connection settings: read from the environment, refused with the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from kv.bootstrap import read_settings
from kv.config import ConfigError
from testclient.config import ClientSettings
from testclient.environment import ConfigError as ClientConfigError
from tests.tls.certificates import Pki


def test_tls_and_etcd_connection_settings_are_read(pki: Pki) -> None:
    settings = read_settings(
        {
            "KV_TLS_CERT_FILE": str(pki.server.cert),
            "KV_TLS_KEY_FILE": str(pki.server.key),
            "KV_TLS_CLIENT_CA_FILE": str(pki.ca.cert),
            "KV_ETCD_TLS_CA_FILE": "/etc/etcd/ca.pem",
            "KV_ETCD_TLS_CERT_FILE": "/etc/etcd/kv.pem",
            "KV_ETCD_TLS_KEY_FILE": "/etc/etcd/kv-key.pem",
            "KV_ETCD_USER": "kv",
            "KV_ETCD_PASSWORD": "s3cret",
        }
    )
    assert (settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file) == (
        pki.server.cert,
        pki.server.key,
        pki.ca.cert,
    )
    assert settings.etcd_tls_ca_file == Path("/etc/etcd/ca.pem")
    assert (settings.etcd_tls_cert_file, settings.etcd_tls_key_file) == (
        Path("/etc/etcd/kv.pem"),
        Path("/etc/etcd/kv-key.pem"),
    )
    assert (settings.etcd_user, settings.etcd_password) == ("kv", "s3cret")
    assert "s3cret" not in repr(settings)


def test_without_tls_variables_nothing_is_encrypted() -> None:
    settings = read_settings({})
    assert settings.tls_cert_file is None
    assert settings.etcd_tls_ca_file is None
    assert settings.etcd_user is None


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"KV_TLS_CERT_FILE": "a.crt"}, "KV_TLS_KEY_FILE"),
        ({"KV_TLS_KEY_FILE": "a.key"}, "KV_TLS_CERT_FILE"),
        ({"KV_TLS_CLIENT_CA_FILE": "ca.crt"}, "KV_TLS_CLIENT_CA_FILE"),
        ({"KV_ETCD_TLS_CERT_FILE": "a.crt"}, "KV_ETCD_TLS_KEY_FILE"),
        ({"KV_ETCD_TLS_KEY_FILE": "a.key"}, "KV_ETCD_TLS_CERT_FILE"),
        ({"KV_ETCD_USER": "kv"}, "KV_ETCD_PASSWORD"),
        ({"KV_ETCD_PASSWORD": "pw"}, "KV_ETCD_USER"),
    ],
)
def test_a_half_set_pair_names_the_missing_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_settings(environ)
    assert caught.value.variable == variable


def test_the_clients_read_their_tls_files(pki: Pki) -> None:
    settings = ClientSettings.from_env(
        {
            "KV_TLS_CA_FILE": str(pki.ca.cert),
            "KV_TLS_CLIENT_CERT_FILE": str(pki.client.cert),
            "KV_TLS_CLIENT_KEY_FILE": str(pki.client.key),
        }
    )
    assert settings.tls == pki.trusting(pki.client)
    assert settings.tls.grpc_secure
    assert not ClientSettings.from_env({}).tls.grpc_secure


@pytest.mark.parametrize(
    ("names", "variable"),
    [
        ({"KV_TLS_CLIENT_CERT_FILE": "client"}, "KV_TLS_CLIENT_KEY_FILE"),
        ({"KV_TLS_CLIENT_KEY_FILE": "client-key"}, "KV_TLS_CLIENT_CERT_FILE"),
        ({"KV_TLS_CA_FILE": "missing"}, "KV_TLS_CA_FILE"),
        ({"KV_TLS_CA_FILE": "client-key"}, "KV_TLS_CA_FILE"),
        (
            {"KV_TLS_CLIENT_CERT_FILE": "client", "KV_TLS_CLIENT_KEY_FILE": "other-key"},
            "KV_TLS_CLIENT_CERT_FILE",
        ),
    ],
)
def test_the_clients_refuse_unusable_tls_files(
    pki: Pki, names: dict[str, str], variable: str
) -> None:
    files = {
        "client": pki.client.cert,
        "client-key": pki.client.key,
        "other-key": pki.other_client.key,
        "missing": pki.ca.cert.with_name("missing.crt"),
    }
    with pytest.raises(ClientConfigError) as caught:
        ClientSettings.from_env({name: str(files[key]) for name, key in names.items()})
    assert caught.value.variable == variable
