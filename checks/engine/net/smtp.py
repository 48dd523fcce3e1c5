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

import base64
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
# One reply may span lines (250-…); a hostile server could send them without end. RFC 5321
# §4.5.3.1.5 caps a reply line at 512 octets; an EHLO reply of a real server has ~15 lines.
MAX_REPLY_LINES = 100
MAX_REPLY_BYTES = 64_000
MAX_EXTENSIONS = 40


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
        ``SmtpFailure`` at the first thing that fails (nothing after it is sent).

        The whole session is bounded by ``NetworkProfile.smtp_session_timeout_s``: a server that
        trickles its replies a byte at a time is cut off then (each read alone has its own
        timeout, which such a server never trips). The password, and the base64 forms AUTH sends
        it in, are scrubbed from any reply a failure quotes."""
        session = SmtpSession(settings.host, settings.port, settings.security)
        started = time.monotonic()
        try:
            session.address = self._address(settings)
            kind = _PinnedSMTP_SSL if settings.security == "tls" else _PinnedSMTP
            smtp = kind(session.address, self.profile.connect_timeout_s, self.profile.ssl_context())
            deadline = _Deadline(smtp, self.profile.smtp_session_timeout_s)
            try:
                self._connect(smtp, settings, session)
                deadline.check("connect")  # a greeting cut short still parses as a reply
                self._secure_and_login(smtp, settings, session)
                for message in messages:
                    self._submit(smtp, message, envelope_from, session)
                _quietly(smtp.quit)
            except SmtpFailure as failure:
                raise deadline.explain(failure) from None
            finally:
                deadline.cancel()
                smtp.close()
        except SmtpFailure as failure:
            raise _scrubbed(failure, settings) from None
        finally:
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

    def _connect(self, smtp: smtplib.SMTP, settings: SmtpSettings, session: SmtpSession) -> None:
        phase = "TLS handshake" if settings.security == "tls" else "connect"
        try:
            port = self.profile.port(settings.port)
            code, banner = _guard(phase, lambda: smtp.connect(settings.host, port), smtp.timeout)
        finally:
            with self._lock:
                self.connections_opened += 1
        session.banner = _text(banner)
        if code != 220:
            reply = f"{code} {session.banner}"
            raise SmtpFailure("refused", "greeting", f"the server refused the session: {reply}", reply)
        smtp.timeout = self.profile.http_timeout_s
        smtp.sock.settimeout(smtp.timeout)  # the socket keeps the connect timeout otherwise
        if settings.security == "tls":
            session.tls_version = smtp.sock.version()

    def _secure_and_login(self, smtp: smtplib.SMTP, settings: SmtpSettings, session: SmtpSession) -> None:
        _guard("EHLO", smtp.ehlo, smtp.timeout)
        if settings.security == "starttls":
            if not smtp.has_extn("starttls"):
                offered = first_few([_text(x)[:40] for x in smtp.esmtp_features], shown=8) or "nothing"
                raise SmtpFailure(
                    "tls", "STARTTLS", "the server does not offer STARTTLS: mail and the password would "
                    f"cross the network in clear (EHLO offered: {offered})",
                )
            _guard("STARTTLS", lambda: smtp.starttls(context=smtp.context), smtp.timeout)
            session.tls_version = smtp.sock.version()
            _guard("EHLO", smtp.ehlo, smtp.timeout)
        session.extensions = [_text(x)[:40] for x in sorted(smtp.esmtp_features)[:MAX_EXTENSIONS]]
        if not settings.username:
            return
        if settings.security == "none":
            raise SmtpFailure("tls", "AUTH", "refusing to send the SMTP password without TLS: "
                              "choose STARTTLS or implicit TLS for this server")
        _guard("AUTH", lambda: _login(smtp, settings.username, settings.password), smtp.timeout)
        session.authenticated_as = settings.username

    def _submit(self, smtp: smtplib.SMTP, message: EmailMessage, envelope_from: str,
                session: SmtpSession) -> None:
        recipients = [a.strip() for a in str(message["To"]).split(",")]
        submit = lambda: smtp.send_message(message, from_addr=envelope_from, to_addrs=recipients)  # noqa: E731
        _guard("MAIL", submit, smtp.timeout)
        session.accepted += recipients


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH PLAIN in UTF-8 (RFC 4616 §2) when offered — smtplib encodes its AUTH as ASCII and
    would fail on a non-ASCII password; else smtplib's choice (CRAM-MD5, LOGIN)."""
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        smtp.login(username, password)
        return
    response = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", "PLAIN " + response)
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, reply)


class _Deadline:
    """Cuts a session off after ``limit_s`` seconds by shutting its socket down, which ends any
    read in progress; ``explain`` words a failure caused by that as a timeout."""

    def __init__(self, smtp: smtplib.SMTP, limit_s: float) -> None:
        self.limit_s = limit_s
        self.fired = False
        self._smtp = smtp
        self._timer = threading.Timer(limit_s, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        self.fired = True
        with contextlib.suppress(OSError, AttributeError):
            self._smtp.sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()

    def check(self, phase: str) -> None:
        """Raise the timeout now if the deadline cut ``phase`` short."""
        if self.fired:
            raise SmtpFailure("timeout", phase, f"{phase}: the session took over {self.limit_s:g} s")

    def explain(self, failure: SmtpFailure) -> SmtpFailure:
        if not self.fired:
            return failure
        message = f"{failure.phase}: the session took over {self.limit_s:g} s"
        return SmtpFailure("timeout", failure.phase, message)


def _scrubbed(failure: SmtpFailure, settings: SmtpSettings) -> SmtpFailure:
    """``failure`` without the password in any form AUTH sent it (some servers quote the
    command they refuse)."""
    if not settings.password:
        return failure
    user, password = settings.username.encode(), settings.password.encode()
    secrets = [settings.password] + [
        base64.b64encode(raw).decode("ascii") for raw in (password, b"\0" + user + b"\0" + password)
    ]

    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "[redacted]")
        return text

    return SmtpFailure(failure.kind, failure.phase, clean(str(failure)), clean(failure.reply))


class _BoundedReader:
    """The socket's file for smtplib, counting one reply's lines and bytes (``reset`` per
    reply): past ``MAX_REPLY_LINES`` or ``MAX_REPLY_BYTES`` it raises ``ReplyTooLong``."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.reset()

    def reset(self) -> None:
        self.lines = self.bytes = 0

    def readline(self, limit: int = -1) -> bytes:
        line = self.raw.readline(limit)
        self.lines += 1
        self.bytes += len(line)
        if self.lines > MAX_REPLY_LINES or self.bytes > MAX_REPLY_BYTES:
            raise ReplyTooLong(f"a reply over {MAX_REPLY_LINES} lines or {MAX_REPLY_BYTES} bytes")
        return line

    def close(self) -> None:
        self.raw.close()


class ReplyTooLong(OSError):
    """A server reply longer than any real server sends."""


class _PinnedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` connecting to a given address while naming the host (for TLS), its
    replies bounded (``_BoundedReader``)."""

    def __init__(self, address: str, timeout_s: float, context: ssl.SSLContext) -> None:
        self._pinned = address
        self.context = context
        super().__init__(local_hostname=EHLO_NAME, timeout=timeout_s)

    def _get_socket(self, host, port, timeout):
        self._host = host  # what starttls() verifies the certificate against (set by __init__ only)
        return socket.create_connection((self._pinned, port), timeout)

    def getreply(self):
        if self.file is None:  # smtplib drops its file after STARTTLS; ours is made here
            self.file = _BoundedReader(self.sock.makefile("rb"))
        self.file.reset()
        return super().getreply()


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
        if isinstance(exc.__context__, ReplyTooLong):  # smtplib wraps our reader's refusal
            raise SmtpFailure("protocol", phase, f"{phase}: the server sent {exc.__context__}") from None
        if "timed out" in str(exc):
            raise SmtpFailure("timeout", phase, _silent(phase, timeout_s)) from None
        raise SmtpFailure("protocol", phase, f"{phase}: the server closed the connection ({exc})") from None
    except ssl.SSLCertVerificationError as exc:
        raise SmtpFailure("tls", phase, f"{phase}: certificate not trusted: {exc.verify_message}") from None
    except TimeoutError:
        raise SmtpFailure("timeout", phase, _silent(phase, timeout_s)) from None
    except ssl.SSLError as exc:
        if exc.reason == "WRONG_VERSION_NUMBER":  # a plain-text greeting where TLS was expected
            raise SmtpFailure("tls", phase, f"{phase} failed: the server did not answer with TLS; it may "
                              "expect STARTTLS (usually port 587) rather than implicit TLS") from None
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
