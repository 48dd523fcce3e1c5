"""``Net``: one audit's view of the network (profile + shared DNS, HTTP, TLS and SMTP clients)."""

from __future__ import annotations

from checks.engine.net.dns import DnsClient
from checks.engine.net.http import HttpClient
from checks.engine.net.memo import Memo
from checks.engine.net.profile import DEFAULT_PROFILE, NetworkProfile
from checks.engine.net.smtp import SmtpClient
from checks.engine.net.tls import TlsClient


class Net:
    """Everything a check may use to reach the outside world. Thread-safe; close when done."""

    def __init__(self, profile: NetworkProfile = DEFAULT_PROFILE) -> None:
        self.profile = profile
        self.dns = DnsClient(profile)
        self.http = HttpClient(profile, self.dns)
        self.tls = TlsClient(profile, self.dns)
        self.smtp = SmtpClient(profile, self.dns)
        # Logins of test accounts, once per audit (``checks.engine.net.login.log_in``).
        self.logins = Memo()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Net:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def counters(self) -> dict[str, int]:
        """``dns_queries`` sent; ``connections_opened`` in all (HTTP, TLS probes, SMTP), and the
        parts as ``http_connections``, ``tls_probe_connections`` and ``smtp_connections``."""
        return {
            "dns_queries": self.dns.queries_sent,
            "connections_opened": (self.http.backend.connections_opened + self.tls.connections_opened
                                   + self.smtp.connections_opened),
            "http_connections": self.http.backend.connections_opened,
            "tls_probe_connections": self.tls.connections_opened,
            "smtp_connections": self.smtp.connections_opened,
        }
