"""Certificates for the sandbox's hosts, from a test CA made with trustme.

Each kind is one fault a TLS check must catch: ``expired``, ``not_yet_valid``,
``wrong_name``, ``self_signed`` (not from any CA) and ``leaf_only`` (issued by an
intermediate the server does not send). A mapping may also give ``san`` and ``days_left``,
and the leaf's ``key`` (``ec256`` default, ``rsa2048``, ``rsa1024``) and ``signature``
(``sha256`` default, ``sha1``): weak ones are still signed by the test CA, so the chain leads
to the trusted root and only the strength is at fault.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 80
DEFAULT_KEY = "ec256"
DEFAULT_SIGNATURE = "sha256"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass
class ServedCert:
    """Files an ``SSLContext.load_cert_chain`` takes: the chain as served and its key."""

    chain_path: Path
    key_path: Path


def is_weak(spec: dict) -> bool:
    """Whether the certificate ``spec`` asks for a key or signature OpenSSL 3 refuses to
    serve at its default security level (the server then needs ``@SECLEVEL=0``)."""
    return spec.get("key", DEFAULT_KEY) == "rsa1024" or spec.get("signature", DEFAULT_SIGNATURE) == "sha1"


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
        key_type = spec.get("key", DEFAULT_KEY)
        signature = spec.get("signature", DEFAULT_SIGNATURE)
        if kind == "self_signed":
            return self._self_signed(host, names, not_before, not_after, key_type, signature)
        issuer = self._intermediate_ca() if kind == "leaf_only" else self.ca
        if (key_type, signature) != (DEFAULT_KEY, DEFAULT_SIGNATURE):
            return self._custom_leaf(host, issuer, names, not_before, not_after, key_type, signature)
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

    def _custom_leaf(self, host, issuer: trustme.CA, names, not_before, not_after,
                     key_type: str, signature: str) -> ServedCert:
        """A leaf with the asked key and signature, signed by ``issuer``'s own key. Only the
        leaf is served: the root is the trust anchor, and a leaf of the intermediate CA is a
        ``leaf_only`` fault (its intermediate is never sent)."""
        issuer_key = serialization.load_pem_private_key(issuer.private_key_pem.bytes(), None)
        issuer_cert = x509.load_pem_x509_certificate(issuer.cert_pem.bytes())
        key = new_key(key_type)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Launch Ready sandbox")]))
            .issuer_name(issuer_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        )
        cert = sign(builder, issuer_key, signature)
        return self._write(host, cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def _self_signed(self, host, names, not_before, not_after, key_type: str = DEFAULT_KEY,
                     signature: str = DEFAULT_SIGNATURE) -> ServedCert:
        key = new_key(key_type)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        )
        cert = sign(builder, key, signature)
        return self._write(host, cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def _write(self, host: str, chain_pem: bytes, key_pem: bytes) -> ServedCert:
        chain_path = self.directory / f"{host}.chain.pem"
        key_path = self.directory / f"{host}.key.pem"
        chain_path.write_bytes(chain_pem)
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
        return ServedCert(chain_path, key_path)


def new_key(key_type: str) -> PrivateKey:
    """A fresh private key: ``ec256`` (P-256), ``rsa2048`` or ``rsa1024``."""
    if key_type == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type in ("rsa2048", "rsa1024"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    raise ValueError(f"unknown key type {key_type!r}")


def sign(builder: x509.CertificateBuilder, issuer_key: PrivateKey, signature: str) -> x509.Certificate:
    """``builder`` signed by ``issuer_key`` with ``signature`` (``sha256`` or ``sha1``).

    cryptography no longer signs with SHA-1, so a SHA-1 certificate is built with SHA-256,
    then its TBSCertificate gets the SHA-1 AlgorithmIdentifier and is signed again by hand
    (RFC 5280 §4.1: the ``signature`` field of the TBS and ``signatureAlgorithm`` match).
    """
    if signature == "sha256":
        return builder.sign(issuer_key, hashes.SHA256())
    if signature != "sha1":
        raise ValueError(f"unknown signature {signature!r}")
    tbs = _der_children(builder.sign(issuer_key, hashes.SHA256()).tbs_certificate_bytes)
    algorithm = _SHA1_RSA if isinstance(issuer_key, rsa.RSAPrivateKey) else _SHA1_ECDSA
    tbs[2 if tbs[0][0] == 0xA0 else 1] = algorithm  # after [0] version (if any) and serial
    tbs_der = _der(0x30, b"".join(tbs))
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        value = issuer_key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA1())
    else:
        value = issuer_key.sign(tbs_der, ec.ECDSA(hashes.SHA1()))
    return x509.load_der_x509_certificate(_der(0x30, tbs_der + algorithm + _der(0x03, b"\0" + value)))


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _der(tag: int, body: bytes) -> bytes:
    """One DER TLV (definite length, X.690 §8.1.3)."""
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + body


def _der_children(sequence: bytes) -> list[bytes]:
    """The TLVs inside one DER SEQUENCE, each kept whole."""
    body = _der_value(sequence, 0)[0]
    children, at = [], 0
    while at < len(body):
        _, end = _der_value(body, at)
        children.append(body[at:end])
        at = end
    return children


def _der_value(data: bytes, at: int) -> tuple[bytes, int]:
    """The value of the TLV at ``at`` and where the TLV ends."""
    size, at = data[at + 1], at + 2
    if size & 0x80:
        count = size & 0x7F
        size, at = int.from_bytes(data[at:at + count], "big"), at + count
    return data[at:at + size], at + size


# AlgorithmIdentifiers (RFC 3279 §2.2.1 and §2.2.3): sha1WithRSAEncryption has NULL parameters,
# ecdsa-with-SHA1 none.
_SHA1_RSA = _der(0x30, _der(0x06, bytes.fromhex("2A864886F70D010105")) + b"\x05\x00")
_SHA1_ECDSA = _der(0x30, _der(0x06, bytes.fromhex("2A8648CE3D0401")))
