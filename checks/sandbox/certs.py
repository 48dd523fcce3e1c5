"""Certificates for the sandbox's hosts, from a test CA made with trustme.

Each kind is one fault a TLS check must catch: ``expired``, ``not_yet_valid``,
``wrong_name``, ``self_signed`` (not from any CA) and ``leaf_only`` (issued by an
intermediate the server does not send). A mapping may also give ``san`` and ``days_left``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 80


@dataclass
class ServedCert:
    """Files an ``SSLContext.load_cert_chain`` takes: the chain as served and its key."""

    chain_path: Path
    key_path: Path


class CertificateFactory:
    """Issues certificates from one test CA; files live in ``directory``."""

    def __init__(self, directory: Path, now: dt.datetime | None = None) -> None:
        self.ca = trustme.CA(organization_name="Launch Ready sandbox CA")
        self._intermediate: trustme.CA | None = None
        self.directory = directory
        self.now = now or dt.datetime.now(dt.UTC)

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem.bytes().decode("ascii")

    def issue(self, host: str, spec: dict) -> ServedCert:
        kind = spec.get("kind", "valid")
        names = [str(n) for n in spec.get("san", [])] or [host]
        if kind == "wrong_name":
            names = [str(n) for n in spec.get("san", [])] or [f"wrong-host.{host}.invalid"]
        not_before, not_after = self._validity(kind, spec)
        if kind == "self_signed":
            return self._self_signed(host, names, not_before, not_after)
        issuer = self._intermediate_ca() if kind == "leaf_only" else self.ca
        leaf = issuer.issue_cert(*names, not_before=not_before, not_after=not_after)
        chain = leaf.cert_chain_pems[:1] if kind == "leaf_only" else leaf.cert_chain_pems
        return self._write(host, b"".join(b.bytes() for b in chain), leaf.private_key_pem.bytes())

    def _validity(self, kind: str, spec: dict) -> tuple[dt.datetime, dt.datetime]:
        day = dt.timedelta(days=1)
        if kind == "expired":
            return self.now - 100 * day, self.now - 3 * day
        if kind == "not_yet_valid":
            return self.now + 5 * day, self.now + 95 * day
        days_left = spec.get("days_left", VALID_DAYS)
        return self.now - 10 * day, self.now + float(days_left) * day

    def _intermediate_ca(self) -> trustme.CA:
        if self._intermediate is None:
            self._intermediate = self.ca.create_child_ca()
        return self._intermediate

    def _self_signed(self, host, names, not_before, not_after) -> ServedCert:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return self._write(host, cert.public_bytes(serialization.Encoding.PEM), key_pem)

    def _write(self, host: str, chain_pem: bytes, key_pem: bytes) -> ServedCert:
        chain_path = self.directory / f"{host}.chain.pem"
        key_path = self.directory / f"{host}.key.pem"
        chain_path.write_bytes(chain_pem)
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
        return ServedCert(chain_path, key_path)
