"""Certificates made by the tests: a CA, a server and a client certificate it signs, another CA.

Each is written as PEM files into a directory; nothing here is a secret worth keeping.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from testclient.tls import ClientTls

SERVER_NAMES = ("localhost",)
SERVER_ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its key, as PEM files."""

    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class Authority:
    """A CA: its certificate file, and what it needs to sign more."""

    cert: Path
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    def issue(self, directory: Path, name: str, *, server: bool) -> Issued:
        """A certificate for `name` (the server's: localhost and loopback addresses)."""
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            _builder(name, key, self.certificate.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            alternative: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_NAMES]
            alternative += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_ADDRESSES]
            builder = builder.add_extension(x509.SubjectAlternativeName(alternative), False)
        certificate = builder.sign(self.private_key, hashes.SHA256())
        return Issued(_write_cert(directory, name, certificate), _write_key(directory, name, key))


def authority(directory: Path, name: str) -> Authority:
    """A new self-signed CA called `name`, written into `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        _builder(name, key, subject)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return Authority(_write_cert(directory, name, certificate), certificate, key)


def _builder(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def _write_cert(directory: Path, name: str, certificate: x509.Certificate) -> Path:
    path = directory / f"{name}.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(directory: Path, name: str, key: ec.EllipticCurvePrivateKey) -> Path:
    path = directory / f"{name}.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


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


def make_pki(directory: Path) -> Pki:
    """Every certificate the tests use, written into `directory`."""
    ca, other = authority(directory, "kv-test-ca"), authority(directory, "other-ca")
    return Pki(
        ca=ca,
        server=ca.issue(directory, "server", server=True),
        rotated=ca.issue(directory, "rotated", server=True),
        client=ca.issue(directory, "client", server=False),
        other_ca=other,
        other_client=other.issue(directory, "other-client", server=False),
    )
