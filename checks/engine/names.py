"""Certificate name matching per RFC 9525 (which obsoletes RFC 6125).

- Only subjectAltName entries count; the subject CN is never used (RFC 9525 §6.3).
- A wildcard is allowed only as the complete left-most label (``*.example.com``) and matches
  exactly one label: never the parent ``example.com`` and never ``a.b.example.com``
  (RFC 9525 §6.3; RFC 6125 §6.4.3). Partial-label wildcards (``w*.example.com``) match
  nothing.
- Comparison is case-insensitive on A-labels (RFC 9525 §6.3, RFC 5890).
"""

from __future__ import annotations

import ipaddress


def name_matches(host: str, pattern: str) -> bool:
    """Does the SAN dNSName ``pattern`` cover ``host``?"""
    host = host.lower().rstrip(".")
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        parent = pattern[2:]
        if "*" in parent or "." not in parent:
            return False
        first, _, rest = host.partition(".")
        return bool(first) and rest == parent
    if "*" in pattern:
        return False
    return host == pattern


def matching_name(host: str, san_dns: list[str], san_ip: list[str] | None = None) -> str | None:
    """The SAN entry that covers ``host`` (a hostname or IP literal), or ``None``."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return next((s for s in san_ip or [] if ipaddress.ip_address(s) == ip), None)
    return next((s for s in san_dns if name_matches(host, s)), None)
