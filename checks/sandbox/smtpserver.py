"""The sandbox's mail side: the project's mail provider and our capture server, on aiosmtpd.

As in reality, a test mail takes two hops. The app (the check) submits it to its provider's
**submission server** (``SubmissionServer``, a scenario's ``smtp:``): STARTTLS (RFC 3207),
implicit TLS (RFC 8314) or plain, AUTH PLAIN/LOGIN (RFC 4954). The provider DKIM-signs it
(RFC 6376), rewrites the envelope sender to its return-path and delivers it from its outbound
address, giving its own name in EHLO, to the recipient's server: our **capture server**
(``CaptureServer``), which keeps it in the sandbox's mailbox with what only the receiving side
sees (``checks/engine/email/mailbox.py``).

Both serve aiosmtpd ``SMTP`` protocol instances with ``loop.create_server`` on the sandbox's
event loop; delivery between them is stdlib ``smtplib`` in a worker thread, bound to the
outbound address, so the capture server sees the address SPF must authorise.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hmac
import logging
import smtplib
import ssl
import warnings
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from email.utils import format_datetime

import dkim
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session, TLSSetupException
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from checks.engine.email.mailbox import MAX_MESSAGE_BYTES, CaptureHandler, Mailbox
from checks.sandbox.certs import ServedCert
from checks.sandbox.scenario import DkimSignSpec, SmtpServerSpec

CAPTURE_DOMAIN = "capture.launchready.test"
DELIVERY_TIMEOUT_S = 5.0  # one hop on loopback; stop() waits at most this for a delivery in flight
DKIM_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id")
TXT_STRING_OCTETS = 255  # RFC 1035 §3.3.14: one character-string
TLS_HANDSHAKE_TIMEOUT_S = 10

log = logging.getLogger(__name__)


class _AiosmtpdLogFilter(logging.Filter):
    """Drops two kinds of aiosmtpd log records: each line of an AUTH exchange (DEBUG, base64
    password included), and its warning on every connection that requires AUTH without its
    own STARTTLS (implicit TLS is encrypted from the start; ``none`` plays that fault)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName in ("challenge_auth", "_auth_interact"):
            return False
        return record.msg != "auth_required == True but auth_require_tls == False"


logging.getLogger("mail.log").addFilter(_AiosmtpdLogFilter())


class DkimSigner:
    """Signs as ``spec.domain`` with ``spec.selector`` and a fresh RSA key of ``spec.key_bits``.

    ``record_name`` / ``record``: where and what its public key is published
    (``v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>``, RFC 6376 §3.6.1).
    """

    def __init__(self, spec: DkimSignSpec) -> None:
        self.spec = spec
        key = rsa.generate_private_key(public_exponent=65537, key_size=spec.key_bits)
        # dkimpy reads PKCS#1 ("RSA PRIVATE KEY") PEM.
        self._private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.record = "v=DKIM1; k=rsa; p=" + base64.b64encode(public_der).decode("ascii")
        self.record_name = f"{spec.selector}._domainkey.{spec.domain}"

    def __repr__(self) -> str:
        return f"DkimSigner({self.record_name}, {self.spec.key_bits} bits)"

    def txt_strings(self) -> list[str]:
        """``record`` as one TXT RR's character-strings, each at most 255 octets."""
        return [self.record[i:i + TXT_STRING_OCTETS] for i in range(0, len(self.record), TXT_STRING_OCTETS)]

    def sign(self, message: bytes) -> bytes:
        """``message`` with a DKIM-Signature field on top (relaxed/relaxed, rsa-sha256, over
        ``DKIM_HEADERS``). Raises ``dkim.DKIMException`` for a message it cannot sign."""
        field = dkim.sign(
            message, self.spec.selector.encode("ascii"), self.spec.domain.encode("ascii"),
            self._private_pem, canonicalize=(b"relaxed", b"relaxed"), include_headers=list(DKIM_HEADERS),
        )
        return field + message


class _Listener:
    """One TCP listener on the running loop; ``stop()`` also ends its open connections and
    their aiosmtpd session tasks, so nothing is pending when the sandbox's loop closes."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._protocols: weakref.WeakSet[asyncio.Protocol] = weakref.WeakSet()

    async def _listen(self, factory, ssl_context: ssl.SSLContext | None = None) -> None:
        """Listen on a free port of ``address``; ``factory(loop)`` makes each connection's protocol."""
        loop = asyncio.get_running_loop()

        def make() -> asyncio.Protocol:
            protocol = factory(loop)
            self._protocols.add(protocol)
            return protocol

        self._server = await loop.create_server(
            make, self.address, 0, ssl=ssl_context,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S if ssl_context else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = []
        for protocol in list(self._protocols):
            if protocol.transport is not None:
                protocol.transport.abort()
            # aiosmtpd runs each session as this task; it offers no public handle on it.
            task = getattr(protocol, "_handler_coroutine", None)
            if task is not None:
                task.cancel()
                tasks.append(task)
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


class _Silent(asyncio.Protocol):
    """Fault ``timeout``: takes the connection and never sends the 220 greeting."""

    transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class _Session(Session):
    # aiosmtpd sets the deprecated ``login_data`` on every successful AUTH, and the property
    # logs a deprecation warning each time; a plain attribute takes the value quietly.
    login_data = None


class _SubmissionSMTP(SMTP):
    """aiosmtpd's SMTP with a provider's ways: a delay before the greeting, AUTH refused when
    it has no users, and STARTTLS without TLS answered ``454 4.7.0`` (RFC 3207 §4)."""

    def __init__(self, handler, *, greeting_delay_s: float, offers_auth: bool, **options) -> None:
        self._greeting_delay_s = greeting_delay_s
        self._greeted = False
        self._offers_auth = offers_auth
        super().__init__(handler, **options)

    def _create_session(self) -> Session:
        return _Session(self.loop)

    async def push(self, status) -> None:
        if not self._greeted:  # the first reply is the greeting
            self._greeted = True
            await asyncio.sleep(self._greeting_delay_s)
        await super().push(status)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.tls_context is None:
            await self.push("454 4.7.0 TLS not available")
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        if not self._offers_auth:
            await self.push("502 5.5.1 AUTH not supported")
            return
        await super().smtp_AUTH(arg)


class SubmissionServer(_Listener):
    """The project's submission server on ``address`` (``port`` once started), as ``spec`` says.

    A message is answered ``250`` only once the capture server (``capture``, started first)
    took it; ``451 4.4.1`` with the capture server's reason when it refused or could not be
    reached; fault ``drop`` answers ``250`` and delivers nothing. ``delivered`` counts the
    messages relayed. Passwords are compared in constant time and never logged.
    """

    def __init__(self, spec: SmtpServerSpec, *, address: str, outbound_address: str,
                 certificate: ServedCert, capture: CaptureServer, signer: DkimSigner | None) -> None:
        super().__init__(address)
        self.spec = spec
        self.outbound_address = outbound_address
        self.capture = capture
        self.signer = signer
        self.delivered = 0
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(certificate.chain_path, certificate.key_path)
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sandbox-smtp")
        self._deliveries: set[Future] = set()

    async def start(self) -> None:
        await self._listen(self._protocol, self._tls if self.spec.security == "tls" else None)

    async def stop(self) -> None:
        """End the sessions, let deliveries in flight finish (the capture server is still up),
        then join the worker threads."""
        await super().stop()
        in_flight = [asyncio.wrap_future(f) for f in list(self._deliveries)]
        await asyncio.gather(*in_flight, return_exceptions=True)
        self._executor.shutdown(wait=True)

    def _protocol(self, loop: asyncio.AbstractEventLoop) -> asyncio.Protocol:
        spec = self.spec
        if spec.fault == "timeout":
            return _Silent()
        starttls = spec.security == "starttls" and spec.fault != "no_starttls"
        with warnings.catch_warnings():
            # aiosmtpd warns when AUTH is required without its own STARTTLS: with implicit TLS
            # the whole connection is encrypted, and with `none` plain AUTH is what is played.
            warnings.simplefilter("ignore", UserWarning)
            return _SubmissionSMTP(
                self, greeting_delay_s=spec.latency_ms / 1000, offers_auth=bool(spec.users),
                hostname=spec.host, ident="ESMTP sandbox", loop=loop,
                data_size_limit=MAX_MESSAGE_BYTES,
                tls_context=self._tls if starttls else None, require_starttls=starttls,
                authenticator=self._authenticate, auth_required=bool(spec.users),
                auth_require_tls=spec.security == "starttls",
            )

    def _authenticate(self, server, session, envelope, mechanism: str, auth_data) -> AuthResult:
        """aiosmtpd authenticator: a wrong login gets aiosmtpd's ``535 5.7.8`` (RFC 4954 §6)."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        expected = self.spec.users.get(auth_data.login.decode("utf-8", "replace"))
        ok = expected is not None and hmac.compare_digest(expected.encode("utf-8"), auth_data.password)
        return AuthResult(success=ok, handled=False)  # the password is not kept in the session

    async def handle_EHLO(self, server, session, envelope, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handle_EHLO hook
        if not self.spec.users:
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        return responses

    async def handle_exception(self, error: Exception) -> str:
        """A client that gives up its STARTTLS handshake is the client's doing (aiosmtpd then
        hangs up without a reply); anything else is a fault of this server, logged in full."""
        if not isinstance(error, TLSSetupException):
            log.exception("sandbox submission server: session failed")
        return "451 4.3.0 local error in processing"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.spec.fault == "drop":
            return "250 2.0.0 Ok: queued"
        message = self._received(session) + envelope.original_content
        if self.signer is not None:
            try:
                message = self.signer.sign(message)
            except dkim.DKIMException as exc:
                return f"554 5.6.0 cannot DKIM-sign this message: {_one_line(str(exc))}"
        try:
            refused = await self._deliver(self._return_path(envelope.mail_from), envelope.rcpt_tos, message)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
        except (smtplib.SMTPException, OSError) as exc:
            return f"451 4.4.1 delivery failed: {_reason(exc)}"
        if refused:
            reasons = "; ".join(f"<{r}> {_reply(code, text)}" for r, (code, text) in refused.items())
            return f"451 4.4.1 delivery failed: {reasons}"
        self.delivered += 1
        return "250 2.0.0 Ok: delivered"

    def _received(self, session) -> bytes:
        """The trace field this hop adds (RFC 5321 §4.4); ``with`` as RFC 3848 names it."""
        encrypted = self.spec.security == "tls" or session.ssl is not None
        protocol = "ESMTP" + ("S" if encrypted else "") + ("A" if session.authenticated else "")
        when = format_datetime(dt.datetime.now(dt.UTC))
        return (f"Received: from {session.host_name} ([{session.peer[0]}])\r\n"
                f"\tby {self.spec.host} with {protocol}; {when}\r\n").encode("ascii", "replace")

    def _return_path(self, mail_from: str | None) -> str:
        """The envelope sender towards the receiver: ``bounces+<local>=<domain>@<return_path>``
        like providers' return-paths; the null reverse-path stays null (RFC 5321 §4.5.5)."""
        if not self.spec.return_path or not mail_from:
            return mail_from or ""
        local, _, domain = mail_from.rpartition("@")
        tag = f"{local}={domain}" if local else domain
        return f"bounces+{tag}@{self.spec.return_path}"

    async def _deliver(self, mail_from: str, recipients: list[str], message: bytes) -> dict:
        # Like loop.run_in_executor, but keeping the executor's future so stop() can wait for
        # a delivery whose session was cancelled.
        future = self._executor.submit(self._send, mail_from, list(recipients), message)
        self._deliveries.add(future)
        future.add_done_callback(self._deliveries.discard)
        return await asyncio.wrap_future(future)

    def _send(self, mail_from: str, recipients: list[str], message: bytes) -> dict:
        """One transaction with the capture server, from the outbound address, in a worker
        thread. Returns the refused recipients; raises ``smtplib.SMTPException`` or ``OSError``."""
        with smtplib.SMTP(self.capture.address, self.capture.port, local_hostname=self.spec.helo,
                          timeout=DELIVERY_TIMEOUT_S, source_address=(self.outbound_address, 0)) as client:
            return client.sendmail(mail_from, recipients, message)


class CaptureServer(_Listener):
    """Our receiving server for ``CAPTURE_DOMAIN`` on ``address``: every message goes to
    ``mailbox`` with the connecting address, HELO name and envelope sender (``CaptureHandler``)."""

    def __init__(self, mailbox: Mailbox, address: str) -> None:
        super().__init__(address)
        self.handler = CaptureHandler(mailbox, CAPTURE_DOMAIN)

    async def start(self) -> None:
        await self._listen(lambda loop: SMTP(
            self.handler, hostname=CAPTURE_DOMAIN, ident="ESMTP capture", loop=loop,
            data_size_limit=MAX_MESSAGE_BYTES,
        ))


def _reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    return _one_line(str(exc) or type(exc).__name__)


def _reply(code: int, text: bytes | str) -> str:
    """A reply smtplib reported, as one line: ``550 5.1.1 <x@y>: ...``."""
    return _one_line(f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}")


def _one_line(text: str) -> str:
    """A reply's text is one line (RFC 5321 §4.2)."""
    return " ".join(text.split())
