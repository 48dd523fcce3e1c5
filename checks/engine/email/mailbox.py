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
            self._messages[message.recipient.lower()] = message
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
        self._redis.set(self.PREFIX + message.recipient.lower(), message.to_json(), ex=TTL_S)

    def wait_for(self, recipients: list[str], timeout_s: float) -> dict[str, CapturedMessage]:
        keys = [self.PREFIX + r.lower() for r in recipients]
        deadline = time.monotonic() + timeout_s
        while True:
            found = {
                r.lower(): CapturedMessage.from_json(raw)
                for r, raw in zip(recipients, self._redis.mget(keys), strict=True) if raw is not None
            }
            if len(found) == len(keys) or time.monotonic() >= deadline:
                return found
            time.sleep(POLL_S)


class CaptureHandler:
    """aiosmtpd handler of the capture server: accepts mail for ``domain`` only and keeps each
    message in ``mailbox``, once per recipient.

    RCPT TO another domain → ``550 5.1.1``; a message over ``MAX_MESSAGE_BYTES`` → ``552 5.3.4``
    (RFC 5321 §4.2.3 codes).
    """

    def __init__(self, mailbox: Mailbox, domain: str) -> None:
        self.mailbox = mailbox
        self.domain = domain.lower().rstrip(".")

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        if address.rpartition("@")[2].lower().rstrip(".") != self.domain:
            return f"550 5.1.1 <{address}>: this server only takes mail for {self.domain}"
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
