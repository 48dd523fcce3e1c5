"""The capture mailbox: where the test mails of ``email.transactional`` arrive.

The check sends four messages through the project's SMTP server to addresses of the capture
domain (``lr-<token>-<kind>@<capture domain>``); the provider delivers them to our capture
server (``CaptureHandler`` behind aiosmtpd), which keeps each one with what only the
receiving side can see — the connecting address, its HELO name and the envelope sender — so
the check can judge SPF, DKIM and DMARC the way a receiver does.

Two stores with one interface: ``MemoryMailbox`` (the sandbox: capture server and check run
in one process) and ``RedisMailbox`` (production: ``manage.py mail_capture`` runs the server,
audit workers anywhere read the store). Messages expire after ``TTL_S``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import asdict, dataclass
from typing import Protocol

from checks.engine.email.testmails import KINDS, is_capture_address

MAX_MESSAGE_BYTES = 1_000_000  # a test mail is a few kB; anything larger is refused at DATA
TTL_S = 3600
POLL_S = 0.2


@dataclass(frozen=True)
class CapturedMessage:
    """One message as the capture server received it.

    ``recipient``: the RCPT TO address it was kept for (lower-case); ``peer_ip``: the address
    that connected (the provider's outbound server); ``helo``: the name it gave in EHLO/HELO;
    ``mail_from``: the envelope sender ("" for the null reverse-path); ``data``: the message
    bytes as received; ``received_at``: Unix time in seconds.
    """

    recipient: str
    peer_ip: str
    helo: str
    mail_from: str
    data: bytes
    received_at: float

    def to_json(self) -> str:
        fields = asdict(self)
        fields["data"] = base64.b64encode(self.data).decode("ascii")
        return json.dumps(fields)

    @classmethod
    def from_json(cls, text: str | bytes) -> CapturedMessage:
        fields = json.loads(text)
        fields["data"] = base64.b64decode(fields["data"])
        return cls(**fields)


class Mailbox(Protocol):
    """Keeps captured messages by recipient and hands them to the check that waits for them."""

    def deliver(self, message: CapturedMessage) -> None: ...

    def wait_for(self, recipients: list[str], timeout_s: float) -> dict[str, CapturedMessage]:
        """The messages of ``recipients`` that arrived before ``timeout_s`` seconds passed
        (returns as soon as all have); recipients with no message are absent."""
        ...


class MemoryMailbox:
    """A mailbox in this process's memory (thread-safe); the sandbox's."""

    def __init__(self) -> None:
        self._messages: dict[str, CapturedMessage] = {}
        self._arrived = threading.Condition()

    def deliver(self, message: CapturedMessage) -> None:
        with self._arrived:
            self._messages.setdefault(message.recipient.lower(), message)  # the first one stays
            self._arrived.notify_all()

    def wait_for(self, recipients: list[str], timeout_s: float) -> dict[str, CapturedMessage]:
        wanted = [r.lower() for r in recipients]
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while not all(r in self._messages for r in wanted):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            return {r: self._messages[r] for r in wanted if r in self._messages}


class RedisMailbox:
    """A mailbox in Redis (``redis_url``), shared by the capture server and every worker."""

    PREFIX = "launchready:capture:"

    def __init__(self, redis_url: str) -> None:
        import redis  # installed with celery[redis]; imported here so the engine needs it only in production

        self._redis = redis.Redis.from_url(redis_url)

    def deliver(self, message: CapturedMessage) -> None:
        # nx: the first message to an address is the test's; a later one cannot replace it.
        self._redis.set(self.PREFIX + message.recipient.lower(), message.to_json(), ex=TTL_S, nx=True)

    def wait_for(self, recipients: list[str], timeout_s: float) -> dict[str, CapturedMessage]:
        missing = [r.lower() for r in recipients]
        found: dict[str, CapturedMessage] = {}
        deadline = time.monotonic() + timeout_s
        while True:
            answers = self._redis.mget([self.PREFIX + r for r in missing])  # only those not yet read
            arrived = zip(missing, answers, strict=True)
            found.update({r: CapturedMessage.from_json(raw) for r, raw in arrived if raw})
            missing = [r for r in missing if r not in found]
            if not missing or time.monotonic() >= deadline:
                return found
            time.sleep(POLL_S)


class CaptureHandler:
    """aiosmtpd handler of the capture server: accepts mail for the test addresses of ``domain``
    only (``testmails.is_capture_address``) and keeps each message in ``mailbox``, once per
    recipient. The server faces the internet: what it keeps is bounded.

    RCPT TO any other address → ``550 5.1.1``, except ``postmaster`` (RFC 5321 §4.5.1: it must
    be accepted; nothing is kept for it); more than ``MAX_RECIPIENTS`` in one transaction →
    ``452 4.5.3`` (§4.5.3.1.10); a message over ``MAX_MESSAGE_BYTES`` → ``552 5.3.4``.
    """

    MAX_RECIPIENTS = len(KINDS)

    def __init__(self, mailbox: Mailbox, domain: str) -> None:
        self.mailbox = mailbox
        self.domain = domain.lower().rstrip(".")

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        local, _, domain = address.lower().rpartition("@")
        if local == "postmaster" and domain.rstrip(".") == self.domain:
            return "250 2.1.5 OK"  # accepted as RFC 5321 requires; not a test mail, not kept
        if not is_capture_address(address, self.domain):
            return f"550 5.1.1 <{address}>: no such test address at {self.domain}"
        if len(envelope.rcpt_tos) >= self.MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        if len(data) > MAX_MESSAGE_BYTES:
            return f"552 5.3.4 message larger than {MAX_MESSAGE_BYTES} bytes"
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        now = time.time()
        for recipient in envelope.rcpt_tos:
            self.mailbox.deliver(CapturedMessage(
                recipient=recipient.lower(), peer_ip=peer, helo=session.host_name or "",
                mail_from=envelope.mail_from or "", data=data, received_at=now,
            ))
        return "250 2.0.0 kept"
