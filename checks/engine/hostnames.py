"""Hostname validation: the one place user-typed names become DNS names."""

from __future__ import annotations

import ipaddress
import re

import idna

_LDH = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidHostname(ValueError):
    """A name that cannot be a DNS hostname; the message says why, for the user."""


def normalize_hostname(value: str) -> str:
    """Return ``value`` as a lower-case A-label hostname without a trailing dot.

    Rules: RFC 1035 §2.3.4 (labels 1–63 octets, name at most 253), RFC 952/1123 LDH labels,
    IDNA 2008 (RFC 5891) for non-ASCII. Raises ``InvalidHostname`` with the reason.
    """
    name = (value or "").strip().rstrip(".").lower()
    if not name:
        raise InvalidHostname("empty hostname")
    if _is_ip(name):
        raise InvalidHostname(f"{value!r} is an IP address, not a hostname")
    if "://" in name:
        raise InvalidHostname(f"{value!r} is a URL: give the host name only, like example.com")
    if any(ch.isspace() for ch in name):
        raise InvalidHostname(f"{value!r} contains a space")
    if "/" in name or ":" in name:
        raise InvalidHostname(f"{value!r} has a path or a port: give the host name only")
    if ".." in name or name.startswith("."):
        raise InvalidHostname(f"{value!r} has an empty label (two dots in a row)")
    try:
        name = idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidHostname(f"{value!r} is not a valid internationalised name: {exc}") from None
    if len(name) > 253:
        raise InvalidHostname(f"{value!r} is longer than 253 characters")
    labels = name.split(".")
    if len(labels) < 2:
        raise InvalidHostname(f"{value!r} has no domain part")
    for label in labels:
        if not _LDH.match(label):
            raise InvalidHostname(f"{value!r} has an invalid label {label!r}")
    return name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
