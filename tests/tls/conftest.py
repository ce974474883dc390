"""Certificates for the TLS tests, made once per session, and a server's own copy to rotate."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.tls.certificates import Issued, Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


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
