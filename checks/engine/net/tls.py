"""TLS handshakes that keep what a browser sees: the chain as served and the verdict of
OpenSSL's path validation against the profile's trust store.

A first handshake verifies the chain (system trust plus the profile's extra CA, hostname
left to the check, which matches names per RFC 9525). When verification fails, a second
handshake without verification fetches the certificates for evidence.
"""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from checks.engine.net.dns import DnsClient, ResolveError
from checks.engine.net.memo import Memo
from checks.engine.net.profile import NetworkProfile
from checks.engine.text import first_few

_DER = 2  # _ssl.ENCODING_DER

# Protocol versions as ``SSLSocket.version()`` names them, oldest first.
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_PINNED = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_BUILT_WITH = {"TLSv1": ssl.HAS_TLSv1, "TLSv1.1": ssl.HAS_TLSv1_1,
               "TLSv1.2": ssl.HAS_TLSv1_2, "TLSv1.3": ssl.HAS_TLSv1_3}
# Errors OpenSSL raises on our side before any byte is sent: this client cannot offer the version
# (OpenSSL built or configured without it), which says nothing about the server.
_CLIENT_LIMITS = ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "UNSUPPORTED_SSL_VERSION")


@dataclass
class CertInfo:
    """The fields of one X.509 certificate that checks and evidence use (times in UTC)."""

    subject: str
    issuer: str
    san_dns: list[str]
    san_ip: list[str]
    not_before: datetime
    not_after: datetime
    serial_hex: str
    sha256: str
    key_type: str
    key_bits: int | None
    signature_algorithm: str | None
    signature_hash: str | None = None  # "sha256", "sha1", "md5"; None for Ed25519 / unknown

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer

    @classmethod
    def from_der(cls, der: bytes) -> CertInfo:
        cert = x509.load_der_x509_certificate(der)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            san_dns = san.get_values_for_type(x509.DNSName)
            san_ip = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            san_dns, san_ip = [], []
        key_type, key_bits = _key(cert)
        try:
            sig = cert.signature_algorithm_oid._name
        except Exception:  # an unknown OID has no name; evidence still wants the rest
            sig = None
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            san_dns=san_dns,
            san_ip=san_ip,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            serial_hex=format(cert.serial_number, "x"),
            sha256=hashlib.sha256(der).hexdigest(),
            key_type=key_type,
            key_bits=key_bits,
            signature_algorithm=sig,
            signature_hash=_signature_hash(cert),
        )

    def as_evidence(self) -> dict:
        data = asdict(self)
        data["not_before"] = self.not_before.strftime("%Y-%m-%dT%H:%M:%SZ")
        data["not_after"] = self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        return data


def _signature_hash(cert: x509.Certificate) -> str | None:
    """The digest the issuer signed with (also for RSASSA-PSS, whose hash is a parameter)."""
    try:
        algorithm = cert.signature_hash_algorithm
    except (UnsupportedAlgorithm, ValueError):  # an OID this build of cryptography does not know
        return None
    return algorithm.name if algorithm is not None else None


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, None


@dataclass
class TlsProbe:
    """A TLS handshake with ``host``: the chain served (leaf first), OpenSSL's verdict on it
    (``verified``, ``verify_code``, ``verify_message``), protocol, cipher, timing; or
    ``error`` (and ``error_kind``: ``dns``, ``policy``, ``connect``, ``tls``, ``timeout``)."""

    host: str
    port: int
    address: str | None = None
    protocol: str | None = None
    cipher: str | None = None
    chain: list[CertInfo] = field(default_factory=list)
    verified: bool | None = None
    verify_code: int | None = None
    verify_message: str | None = None
    elapsed_ms: float = 0.0
    error: str | None = None
    error_kind: str | None = None

    @property
    def leaf(self) -> CertInfo | None:
        return self.chain[0] if self.chain else None


@dataclass
class VersionAnswer:
    """Whether ``host`` completes a handshake pinned to one protocol ``version`` (``TLSv1`` …
    ``TLSv1.3``).

    ``accepted``: ``True`` (``detail`` = the cipher agreed), ``False`` (refused: ``detail`` = the
    alert or error the server's answer caused), or ``None`` when not tested: ``error_kind`` is
    ``client`` (this client cannot offer the version), ``dns``, ``policy``, ``connect`` or
    ``timeout``, with ``detail`` the reason. ``connected``: the TCP connection was made (so an
    error is about this handshake, not about reaching the host). ``elapsed_ms`` in milliseconds.
    """

    host: str
    port: int
    version: str
    address: str | None = None
    accepted: bool | None = None
    detail: str | None = None
    error_kind: str | None = None
    connected: bool = False
    elapsed_ms: float = 0.0


class TlsClient:
    """Handshakes with hosts through the outbound policy; one probe per host per audit.

    ``offerable``: the protocol versions this client can offer, from how Python's OpenSSL was
    built; a version outside it is reported as not tested, never as refused.
    """

    def __init__(self, profile: NetworkProfile, dns: DnsClient) -> None:
        self.profile = profile
        self.dns = dns
        self.offerable = frozenset(v for v in TLS_VERSIONS if _BUILT_WITH[v])
        self._memo = Memo()
        self._versions = Memo()
        self._contexts = Memo()
        self._count_lock = threading.Lock()
        self.connections_opened = 0

    def probe(self, host: str, port: int = 443, *, address: str | None = None) -> TlsProbe:
        """A verifying handshake with ``host`` (SNI), once per audit per (host, port, address).

        ``address`` pins the connection to that address instead of the host's own (asking
        "does this address answer for ``host``?"); it still goes through the outbound policy,
        and a refusal is reported as ``error_kind`` ``policy``."""
        return self._memo.get((host, port, address), lambda: self._probe(host, port, address))

    def accepts(self, host: str, version: str, port: int = 443) -> VersionAnswer:
        """A handshake with ``host`` offering only ``version`` (one of ``TLS_VERSIONS``), once
        per audit. Old versions are offered with OpenSSL's security level 0 so that a server
        accepting them is observed (RFC 8996 §2-§3 forbid them; the check needs to see them).
        The certificate is not verified here: ``probe`` judges it."""
        if version not in _PINNED:
            raise ValueError(f"unknown TLS version {version!r} (known: {', '.join(TLS_VERSIONS)})")
        return self._versions.get((host, port, version), lambda: self._accepts(host, version, port))

    def _accepts(self, host: str, version: str, port: int) -> VersionAnswer:
        answer = VersionAnswer(host=host, port=port, version=version)
        if version not in self.offerable:
            answer.error_kind, answer.detail = "client", "this client cannot offer it"
            return answer
        started = time.monotonic()
        try:
            answer.address = self._address(host, port)
            answer.detail = self._pinned_handshake(answer, version)
            answer.accepted = True
        except _Refused as exc:
            answer.accepted, answer.detail = False, str(exc)
        except _ProbeError as exc:
            answer.error_kind, answer.detail = exc.kind, str(exc)
        answer.elapsed_ms = (time.monotonic() - started) * 1000
        return answer

    def _pinned_handshake(self, answer: VersionAnswer, version: str) -> str | None:
        """The cipher agreed; raises ``_Refused`` (the server said no) or ``_ProbeError``."""
        context = self._contexts.get(("pinned", version), lambda: self._pinned_context(version))
        address = answer.address
        raw = self._connect(address, answer.port)
        answer.connected = True
        try:
            with context.wrap_socket(raw, server_hostname=answer.host) as tls:
                return (tls.cipher() or (None,))[0]
        except TimeoutError:
            timeout = self.profile.connect_timeout_s
            raise _ProbeError(
                "timeout", f"TLS handshake with {address} timed out after {timeout:g} s"
            ) from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            raise _Refused("the server hung up during the handshake, without an alert") from None
        except ssl.SSLError as exc:
            if exc.reason in _CLIENT_LIMITS:
                raise _ProbeError("client", f"this client cannot offer it ({_ssl_text(exc)})") from None
            raise _Refused(_ssl_text(exc)) from None
        except OSError as exc:  # reset or closed mid-handshake: the server hung up on this version
            raise _Refused(f"connection closed during the handshake ({exc.strerror or exc})") from None
        finally:
            raw.close()

    def _pinned_context(self, version: str) -> ssl.SSLContext:
        context = self.profile.ssl_context(verify=False)
        # OpenSSL 3 refuses TLS 1.0/1.1 at security level 1 and up (SHA-1 signatures).
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():  # Python deprecates the old versions; we only observe them
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = _PINNED[version]
            context.maximum_version = _PINNED[version]
        return context

    def _connect(self, address: str, port: int) -> socket.socket:
        timeout = self.profile.connect_timeout_s
        try:
            raw = socket.create_connection((address, self.profile.port(port)), timeout=timeout)
        except TimeoutError:
            raise _ProbeError(
                "timeout", f"no TCP answer from {address}:{port} within {timeout:g} s"
            ) from None
        except OSError as exc:
            raise _ProbeError("connect", f"{address}:{port}: {exc.strerror or exc}") from None
        with self._count_lock:
            self.connections_opened += 1
        return raw

    def _probe(self, host: str, port: int, pinned: str | None = None) -> TlsProbe:
        probe = TlsProbe(host=host, port=port)
        started = time.monotonic()
        try:
            address = self._address(host, port) if pinned is None else self._allowed(pinned, port)
            probe.address = address
            self._handshake(probe, address, verify=True)
        except _ProbeError as exc:
            probe.error_kind, probe.error = exc.kind, str(exc)
        probe.elapsed_ms = (time.monotonic() - started) * 1000
        return probe

    def _address(self, host: str, port: int) -> str:
        try:
            addresses = self.dns.addresses(host)
        except ResolveError as exc:
            raise _ProbeError("dns", str(exc)) from None
        refusals = []
        for address in addresses:
            refusal = self.profile.policy.refusal(address, self.profile.port(port))
            if refusal is None:
                return address
            refusals.append(refusal)
        raise _ProbeError("policy", first_few(refusals, separator="; "))  # a name may have thousands

    def _allowed(self, address: str, port: int) -> str:
        refusal = self.profile.policy.refusal(address, self.profile.port(port))
        if refusal:
            raise _ProbeError("policy", refusal)
        return address

    def _context(self, verify: bool) -> ssl.SSLContext:
        """One context per kind per client: loading the trust store costs tens of ms of CPU,
        and a context is safe to share between threads once configured."""
        return self._contexts.get(verify, lambda: self._new_context(verify))

    def _new_context(self, verify: bool) -> ssl.SSLContext:
        context = self.profile.ssl_context(verify=verify)
        context.check_hostname = False  # names are matched by the check, per RFC 9525
        # No floor of our own: OpenSSL's security level sets it (TLS 1.2 with OpenSSL 3), as in
        # a browser; ``accepts`` is what observes the older versions.
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        return context

    def _handshake(self, probe: TlsProbe, address: str, *, verify: bool) -> None:
        context = self._context(verify)
        timeout = self.profile.connect_timeout_s
        raw = self._connect(address, probe.port)
        try:
            with context.wrap_socket(raw, server_hostname=probe.host) as tls:
                probe.protocol = tls.version()
                probe.cipher = (tls.cipher() or (None,))[0]
                probe.chain = _served_chain(tls)
                if verify:
                    probe.verified = True
        except ssl.SSLCertVerificationError as exc:
            probe.verified = False
            probe.verify_code = exc.verify_code
            probe.verify_message = exc.verify_message
            self._handshake(probe, address, verify=False)
        except TimeoutError:
            raise _ProbeError(
                "timeout", f"TLS handshake with {address} timed out after {timeout:g} s"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            raise _ProbeError("tls", f"TLS handshake with {address} failed: {exc}") from None
        finally:
            raw.close()


def _served_chain(tls: ssl.SSLSocket) -> list[CertInfo]:
    # get_unverified_chain() is public from Python 3.13; on 3.11 it lives on the C object.
    getter = getattr(tls, "get_unverified_chain", None) or getattr(
        getattr(tls, "_sslobj", None), "get_unverified_chain", None
    )
    if getter is not None:
        ders = [c if isinstance(c, bytes) else c.public_bytes(_DER) for c in getter() or []]
    else:
        ders = [tls.getpeercert(binary_form=True)]
    return [CertInfo.from_der(der) for der in ders if der]


class _ProbeError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Refused(Exception):
    """The server answered the handshake with an alert or hung up: the version is refused."""


_SSL_NOISE = re.compile(r"^\[SSL: [A-Z0-9_]+\] | \(_ssl\.c:\d+\)$")


def _ssl_text(exc: ssl.SSLError) -> str:
    """OpenSSL's words for an error, without the reason code and C source location:
    ``tlsv1 alert protocol version``."""
    text = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else str(exc)
    return _SSL_NOISE.sub("", text).strip() or str(exc.reason or exc)
