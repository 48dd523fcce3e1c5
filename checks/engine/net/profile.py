"""``NetworkProfile``: what the sandbox and tests change about the network; nothing else does."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from checks.engine.net.policy import OutboundPolicy

if TYPE_CHECKING:
    from checks.engine.email.mailbox import Mailbox


@dataclass(frozen=True)
class NetworkProfile:
    """Where DNS goes, whom TLS trusts, which ports and networks are used.

    - ``nameservers`` / ``dns_port``: recursive resolvers to ask; empty = the system's.
    - ``extra_ca_pem``: a CA trusted in addition to the system store (the sandbox's test CA).
    - ``port_map``: ``{80: 18080, 443: 18443}`` — connect to the mapped port instead.
    - ``allowed_networks``: CIDRs the outbound policy lets through (never in production);
      ``allowed_ports``: the only ports allowed inside them (the sandbox's listeners).
    - timeouts in seconds, body cap in bytes.
    - ``cloudflare_ranges``: CIDRs taken as Cloudflare's proxy addresses; ``None`` = the
      published ranges shipped in ``data/cloudflare_ips.json``. Set by the sandbox and tests only.
    - ``mail_capture_domain`` / ``mailbox``: where email.transactional's test mails are sent
      and read back (``checks/engine/email/mailbox.py``); ``mail_wait_s`` how long it waits
      for them to arrive. No mailbox: the check reports ``error``. ``smtp_session_timeout_s``
      bounds one whole SMTP session (each read has ``http_timeout_s`` besides).
    - ``perf_requests`` / ``perf_concurrency`` / ``perf_warmup``: the p95 probe's measured
      requests (N), keep-alive connections (C) and uncounted warm-up requests on each
      connection (``checks/engine/perf/probe.py``); ``perf_deadline_s`` bounds one probe.
    """

    nameservers: tuple[str, ...] = ()
    dns_port: int = 53
    dns_timeout_s: float = 3.0
    extra_ca_pem: str | None = None
    port_map: dict[int, int] = field(default_factory=dict)
    allowed_networks: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()
    connect_timeout_s: float = 5.0
    http_timeout_s: float = 10.0
    max_body_bytes: int = 2_000_000
    max_redirects: int = 10
    user_agent: str = "LaunchReady/0.1 (+launch-readiness audit)"
    cloudflare_ranges: tuple[str, ...] | None = None
    mail_capture_domain: str = ""
    mailbox: Mailbox | None = field(default=None, compare=False)
    mail_wait_s: float = 60.0
    smtp_session_timeout_s: float = 60.0
    perf_requests: int = 50
    perf_concurrency: int = 5
    perf_warmup: int = 1
    perf_deadline_s: float = 60.0

    def __hash__(self) -> int:
        return hash((self.nameservers, self.dns_port, self.allowed_networks))

    @cached_property
    def policy(self) -> OutboundPolicy:
        return OutboundPolicy(tuple(self.allowed_networks), tuple(self.allowed_ports))

    def port(self, port: int) -> int:
        """The port to connect to for a URL's ``port``."""
        return self.port_map.get(port, port)

    def ssl_context(self, *, verify: bool = True) -> ssl.SSLContext:
        """A client context: system trust plus ``extra_ca_pem``; ``verify=False`` to inspect."""
        ctx = ssl.create_default_context()
        if self.extra_ca_pem:
            ctx.load_verify_locations(cadata=self.extra_ca_pem)
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


DEFAULT_PROFILE = NetworkProfile()
