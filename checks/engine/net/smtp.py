"""SMTP submission through the outbound policy: how email.transactional sends its test mails.

stdlib ``smtplib`` speaks the protocol; this module only pins it to an address our resolver
returned and the policy allowed (as ``http.py`` and ``tls.py`` do), verifies the server's
certificate for the host name (RFC 9525, through the profile's trust), and turns every way a
session can fail into ``SmtpFailure`` with the phase and the server's own reply.

Security modes (``SmtpSettings.security``): ``starttls`` — plain connection upgraded with
STARTTLS before AUTH (RFC 3207; a server that does not offer it is a failure, never a silent
downgrade); ``tls`` — implicit TLS from the first byte (RFC 8314 §3); ``none`` — no TLS, and
then no password is sent (it would cross the network in clear).
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING

from checks.engine.net.dns import DnsClient, ResolveError
from checks.engine.net.profile import NetworkProfile
from checks.engine.text import first_few, printable

if TYPE_CHECKING:  # spec imports the email package, which imports this one
    from checks.engine.spec import SmtpSettings

EHLO_NAME = "audit.launchready.invalid"  # RFC 2606 .invalid: we receive no mail at this name
MAX_REPLY_CHARS = 300


class SmtpFailure(Exception):
    """A session that could not deliver. ``kind``: ``dns``, ``policy``, ``connect``,
    ``timeout``, ``tls``, ``auth``, ``refused`` (the server refused a sender, recipient or
    message) or ``protocol``; ``phase`` what was being done; ``reply`` the server's reply
    (``"535 5.7.8 …"``) when it gave one. ``str()`` is one sentence for a person."""

    def __init__(self, kind: str, phase: str, message: str, reply: str = "") -> None:
        super().__init__(message)
        self.kind, self.phase, self.reply = kind, phase, reply


@dataclass
class SmtpSession:
    """What one submission session did: where it connected, what the server said and which
    recipients it accepted; ``elapsed_ms`` from connect to QUIT."""

    host: str
    port: int
    security: str
    address: str = ""
    banner: str = ""
    tls_version: str | None = None
    extensions: list[str] = field(default_factory=list)
    authenticated_as: str = ""
    accepted: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    def as_evidence(self) -> dict:
        return {
            "host": self.host, "port": self.port, "security": self.security, "address": self.address,
            "banner": self.banner, "tls_version": self.tls_version, "extensions": self.extensions,
            "authenticated_as": self.authenticated_as, "accepted": self.accepted,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


class SmtpClient:
    """Sends messages through a project's submission server. Thread-safe."""

    def __init__(self, profile: NetworkProfile, dns: DnsClient) -> None:
        self.profile = profile
        self.dns = dns
        self.connections_opened = 0
        self._lock = threading.Lock()

    def send(self, settings: SmtpSettings, messages: list[EmailMessage], envelope_from: str) -> SmtpSession:
        """Submit ``messages`` in one session (as an app does), each to the addresses in its
        ``To`` header, with ``envelope_from`` as MAIL FROM. Returns the ``SmtpSession``; raises
        ``SmtpFailure`` at the first thing that fails (nothing after it is sent)."""
        session = SmtpSession(settings.host, settings.port, settings.security)
        started = time.monotonic()
        session.address = self._address(settings)
        smtp = self._connect(settings, session)
        try:
            self._secure_and_login(smtp, settings, session)
            for message in messages:
                self._submit(smtp, message, envelope_from, session)
            _quietly(smtp.quit)
        finally:
            smtp.close()
            session.elapsed_ms = (time.monotonic() - started) * 1000
        return session

    def _address(self, settings: SmtpSettings) -> str:
        try:
            addresses = self.dns.addresses(settings.host)
        except ResolveError as exc:
            raise SmtpFailure("dns", "resolve", f"cannot resolve the SMTP host: {exc}") from None
        port = self.profile.port(settings.port)
        refusals = []
        for address in addresses:
            refusal = self.profile.policy.refusal(address, port)
            if refusal is None:
                return address
            refusals.append(refusal)
        raise SmtpFailure("policy", "connect", first_few(refusals, separator="; "))

    def _connect(self, settings: SmtpSettings, session: SmtpSession) -> smtplib.SMTP:
        timeout_s = self.profile.connect_timeout_s
        context = self.profile.ssl_context()
        kind = _PinnedSMTP_SSL if settings.security == "tls" else _PinnedSMTP
        smtp = kind(session.address, timeout_s, context)
        phase = "TLS handshake" if settings.security == "tls" else "connect"
        try:
            port = self.profile.port(settings.port)
            code, banner = _guard(phase, lambda: smtp.connect(settings.host, port), smtp.timeout)
        finally:
            with self._lock:
                self.connections_opened += 1
        session.banner = _text(banner)
        if code != 220:
            smtp.close()
            reply = f"{code} {session.banner}"
            raise SmtpFailure("refused", "greeting", f"the server refused the session: {reply}", reply)
        smtp.timeout = self.profile.http_timeout_s
        if settings.security == "tls":
            session.tls_version = smtp.sock.version()
        return smtp

    def _secure_and_login(self, smtp: smtplib.SMTP, settings: SmtpSettings, session: SmtpSession) -> None:
        _guard("EHLO", smtp.ehlo, smtp.timeout)
        if settings.security == "starttls":
            if not smtp.has_extn("starttls"):
                offered = ", ".join(smtp.esmtp_features) or "nothing"
                raise SmtpFailure(
                    "tls", "STARTTLS", "the server does not offer STARTTLS: mail and the password would "
                    f"cross the network in clear (EHLO offered: {offered})",
                )
            _guard("STARTTLS", lambda: smtp.starttls(context=smtp.context), smtp.timeout)
            session.tls_version = smtp.sock.version()
            _guard("EHLO", smtp.ehlo, smtp.timeout)
        session.extensions = sorted(smtp.esmtp_features)
        if not settings.username:
            return
        if settings.security == "none":
            raise SmtpFailure("tls", "AUTH", "refusing to send the SMTP password without TLS: "
                              "choose STARTTLS or implicit TLS for this server")
        _guard("AUTH", lambda: smtp.login(settings.username, settings.password), smtp.timeout)
        session.authenticated_as = settings.username

    def _submit(self, smtp: smtplib.SMTP, message: EmailMessage, envelope_from: str,
                session: SmtpSession) -> None:
        recipients = [a.strip() for a in str(message["To"]).split(",")]
        submit = lambda: smtp.send_message(message, from_addr=envelope_from, to_addrs=recipients)  # noqa: E731
        _guard("MAIL", submit, smtp.timeout)
        session.accepted += recipients


class _PinnedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` connecting to a given address while naming the host (for TLS)."""

    def __init__(self, address: str, timeout_s: float, context: ssl.SSLContext) -> None:
        self._pinned = address
        self.context = context
        super().__init__(local_hostname=EHLO_NAME, timeout=timeout_s)

    def _get_socket(self, host, port, timeout):
        self._host = host  # what starttls() verifies the certificate against (set by __init__ only)
        return socket.create_connection((self._pinned, port), timeout)


class _PinnedSMTP_SSL(_PinnedSMTP):
    """Implicit TLS (RFC 8314 §3): the handshake comes before the greeting."""

    def _get_socket(self, host, port, timeout):
        raw = super()._get_socket(host, port, timeout)
        try:
            return self.context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise


def _guard(phase: str, step, timeout_s: float):
    """Run one protocol step; every failure becomes ``SmtpFailure`` naming ``phase`` (and
    ``timeout_s``, the socket timeout the step ran under, when it timed out)."""
    try:
        return step()
    except smtplib.SMTPAuthenticationError as exc:
        reply = _reply(exc.smtp_code, exc.smtp_error)
        raise SmtpFailure("auth", phase, f"the server refused the login: {reply}", reply) from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = "; ".join(f"{rcpt}: {_reply(*answer)}" for rcpt, answer in exc.recipients.items())
        raise SmtpFailure("refused", "RCPT", f"the server refused a recipient: {refused}", refused) from None
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code == 500 and _text(exc.smtp_error) == "Line too long.":  # smtplib's, not the server's
            message = f"{phase}: the server sent a reply line over 8192 bytes"
            raise SmtpFailure("protocol", phase, message) from None
        reply = _reply(exc.smtp_code, exc.smtp_error)
        kind = "tls" if phase == "STARTTLS" else "refused"
        raise SmtpFailure(kind, phase, f"{phase} refused: {reply}", reply) from None
    except smtplib.SMTPNotSupportedError as exc:
        kind = "auth" if phase == "AUTH" else "protocol"
        raise SmtpFailure(kind, phase, f"{phase}: the server does not support it ({exc})") from None
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):
            raise SmtpFailure("timeout", phase, _silent(phase, timeout_s)) from None
        raise SmtpFailure("protocol", phase, f"{phase}: the server closed the connection ({exc})") from None
    except ssl.SSLCertVerificationError as exc:
        raise SmtpFailure("tls", phase, f"{phase}: certificate not trusted: {exc.verify_message}") from None
    except TimeoutError:
        raise SmtpFailure("timeout", phase, _silent(phase, timeout_s)) from None
    except ssl.SSLError as exc:
        raise SmtpFailure("tls", phase, f"{phase} failed: {exc.reason or exc}") from None
    except (smtplib.SMTPException, OSError) as exc:
        kind = "connect" if phase in ("connect", "TLS handshake") else "protocol"
        raise SmtpFailure(kind, phase, f"{phase} failed: {getattr(exc, 'strerror', None) or exc}") from None


def _silent(phase: str, timeout_s: float) -> str:
    return f"{phase}: no answer from the server within {timeout_s:g} s"


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {_text(text)}"[:MAX_REPLY_CHARS]


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return printable(" ".join(text.split()))[:MAX_REPLY_CHARS]


def _quietly(step) -> None:
    # QUIT after the messages were accepted: its failure changes nothing
    with contextlib.suppress(smtplib.SMTPException, OSError):
        step()
