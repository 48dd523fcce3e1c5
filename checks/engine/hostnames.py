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
    if not name.isascii():  # ASCII names need no IDNA mapping; the LDH rule below judges them
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
    if labels[-1].isdigit():
        # RFC 1123 §2.1 / WHATWG URL: a name whose last label is numeric is read as IPv4.
        raise InvalidHostname(f"{value!r} ends in a number, so browsers read it as an IP address")
    return name


def subdomain_label(value: str, apex: str) -> str:
    """The part of ``value`` under ``apex``: ``"app"`` for ``"app"`` or ``"app.example.com"``
    (people type either), ``"eu.app"`` for a deeper name. Raises ``InvalidHostname`` naming the
    host it would make under this apex, or when ``value`` is the apex itself."""
    label = (value or "").strip().rstrip(".").lower()
    if label == apex:
        raise InvalidHostname(f"{label!r} is the apex itself, not a subdomain")
    if label.endswith("." + apex):
        label = label[: -len(apex) - 1]
    normalize_hostname(f"{label}.{apex}")
    return label


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def dkim_selector(value: str) -> str:
    """A DKIM selector as lower-case A-labels: ``"s1"``, ``"2024a.eu"``. People paste the
    record's name too, so a trailing ``._domainkey`` (and anything after it) is dropped.

    RFC 6376 §3.1: a selector is one or more dot-separated sub-domains (LDH labels, RFC 5321
    §4.1.2). Raises ``InvalidHostname`` with the reason.
    """
    name = (value or "").strip().rstrip(".").lower().split("._domainkey", 1)[0]
    if not name:
        raise InvalidHostname("empty DKIM selector")
    suffix = ".selector.invalid"  # checked as a name under a placeholder: same label rules
    try:
        return normalize_hostname(name + suffix)[: -len(suffix)]
    except InvalidHostname:
        raise InvalidHostname(
            f"{value!r} is not a DKIM selector (labels of letters, digits and hyphens)"
        ) from None
