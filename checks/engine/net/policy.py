"""The outbound-address policy (SSRF guard).

Users type hostnames and URLs into this product; it must never become a way into its own
network. An address is allowed only when it is globally routable unicast, or inside a
network the ``NetworkProfile`` explicitly allows (the sandbox's loopback block).
Embedded IPv4 forms (IPv4-mapped, 6to4, Teredo, NAT64) are judged by the IPv4 inside.
Sources: RFC 6890 (special-purpose registries), RFC 4291 §2.5.5.2, RFC 3056, RFC 4380, RFC 6052.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_IETF_PROTOCOL = ipaddress.ip_network("192.0.0.0/24")  # RFC 6890; is_global lags on 3.11
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
)


class OutboundRefused(Exception):
    """The policy refused an address; ``str(exc)`` names the address and the reason."""


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or ``None`` when it is."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        reason = refusal_reason(inner)
        return f"embeds {inner}, which is {reason}" if reason else None
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata range)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared address space (carrier-grade NAT)"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local (deprecated private range)"
    if any(ip in net for net in _DOCUMENTATION if net.version == ip.version):
        return "documentation range (RFC 5737, RFC 3849, RFC 9637)"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global or ip in _IETF_PROTOCOL:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class OutboundPolicy:
    """Decides whether the engine may connect to an address.

    ``allowed_networks`` are exceptions (CIDR strings) — the sandbox allows its own loopback
    block; production allows none. ``allowed_ports``, when given, narrow the exception to
    those ports: on Linux every 127/8 address reaches a service bound to 0.0.0.0, so the
    sandbox's block must not open the machine's other loopback services.
    """

    allowed_networks: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()

    def refusal(self, address: str, port: int | None = None) -> str | None:
        """``None`` when allowed, else a sentence naming the address and the reason.
        ``port`` is the port actually connected to (after the profile's port map)."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        for network in self.allowed_networks:
            if ip in ipaddress.ip_network(network, strict=False):
                if self.allowed_ports and port is not None and port not in self.allowed_ports:
                    ports = ", ".join(str(p) for p in self.allowed_ports)
                    return (f"outbound policy refused {address} port {port}: "
                            f"only ports {ports} are allowed there")
                return None
        reason = refusal_reason(ip)
        if reason is None:
            return None
        return f"outbound policy refused {address}: {reason}"

    def check(self, address: str, port: int | None = None) -> None:
        """Raise ``OutboundRefused`` unless ``address`` (and ``port``) is allowed."""
        refusal = self.refusal(address, port)
        if refusal:
            raise OutboundRefused(refusal)
