"""The network layer: every outbound connection of an audit goes through here.

``Net`` bundles a ``NetworkProfile`` with the DNS, HTTP and TLS clients of one audit, so
that answers are shared between checks and no query or fetch is sent twice.
"""

from checks.engine.net.dns import DnsAnswer, DnsClient
from checks.engine.net.http import HttpClient, HttpExchange
from checks.engine.net.policy import OutboundPolicy, OutboundRefused
from checks.engine.net.profile import DEFAULT_PROFILE, NetworkProfile
from checks.engine.net.session import Net
from checks.engine.net.tls import TlsClient, TlsProbe

__all__ = [
    "DEFAULT_PROFILE",
    "DnsAnswer",
    "DnsClient",
    "HttpClient",
    "HttpExchange",
    "Net",
    "NetworkProfile",
    "OutboundPolicy",
    "OutboundRefused",
    "TlsClient",
    "TlsProbe",
]
