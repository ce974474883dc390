"""Certificates for the TLS tests, made once per session, and a server's own copy to rotate."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testclient.tls import ClientTls
from tests.tls.certificates import Authority, Issued, authority


@dataclass(frozen=True, slots=True)
class Pki:
    """A CA with a server certificate, another server certificate (the rotation) and a
    client certificate; another CA with a client certificate of its own."""

    ca: Authority
    server: Issued
    rotated: Issued
    client: Issued
    other_ca: Authority
    other_client: Issued

    def trusting(self, client: Issued | None = None) -> ClientTls:
        """A client that trusts the CA, presenting `client`'s certificate if given."""
        if client is None:
            return ClientTls(self.ca.cert)
        return ClientTls(self.ca.cert, client.cert, client.key)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, other = authority(directory, "kv-test-ca"), authority(directory, "other-ca")
    return Pki(
        ca=ca,
        server=ca.issue(directory, "server", server=True),
        rotated=ca.issue(directory, "rotated", server=True),
        client=ca.issue(directory, "client", server=False),
        other_ca=other,
        other_client=other.issue(directory, "other-client", server=False),
    )


@pytest.fixture
def served_files(pki: Pki, tmp_path: Path) -> Issued:
    """The server certificate and key copied where a test may overwrite them."""
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copyfile(pki.server.cert, cert)
    shutil.copyfile(pki.server.key, key)
    return Issued(cert, key)


def tls_settings(files: Issued, client_ca: Path | None = None) -> dict[str, Any]:
    """The server settings that serve `files` (and demand a certificate `client_ca` signed)."""
    return {"tls_cert_file": files.cert, "tls_key_file": files.key, "tls_client_ca_file": client_ca}
