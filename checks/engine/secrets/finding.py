"""One secret found by the scanner, kept only in redacted form.

A finding never holds the secret: only a short prefix (at most 4 characters, enough for a
person to recognise ``sk_l…`` or ``AKIA…``) and the first 12 hex digits of the value's SHA-256,
so the same key found twice (in HEAD and in history, or in the next run) has the same
fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

PREFIX_CHARS = 4
HASH_HEX_DIGITS = 12

# detect-secrets plugin types that only ever belong on a server. In a client bundle they are
# blockers (issue 5, stage 3). The AWS plugin reports both the access key id (AKIA…, public
# on its own) and the 40-character secret access key under one type; only the secret counts.
_SERVER_ONLY_TYPES = {"Private Key"}
_STRIPE_SERVER_PREFIXES = ("sk_live_", "rk_live_")  # secret and restricted live keys
_AWS_KEY_ID_PREFIXES = ("A3T", "ABIA", "ACCA", "AKIA", "ASIA")


def redact(value: str) -> str:
    """``"sk_l...sha256:0123456789ab"``: a prefix of at most 4 characters (fewer for values
    shorter than 8, so at least half of a short value stays hidden) and a SHA-256 prefix."""
    shown = value[: min(PREFIX_CHARS, len(value) // 2)]
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:HASH_HEX_DIGITS]
    return f"{shown}...sha256:{digest}"


def is_server_only(rule: str, value: str) -> bool:
    """True for Stripe live secret/restricted keys, AWS secret access keys and private keys."""
    if rule in _SERVER_ONLY_TYPES:
        return True
    if rule == "Stripe Access Key":
        return value.startswith(_STRIPE_SERVER_PREFIXES)
    if rule == "AWS Access Key":
        return not value.startswith(_AWS_KEY_ID_PREFIXES)
    return False


@dataclass(frozen=True)
class Finding:
    """A secret's rule (the detect-secrets plugin type, e.g. ``"Stripe Access Key"``), its
    place (``file`` relative to the scanned root, 1-based ``line``, ``commit`` hex id for a
    history finding or ``""`` for the working tree), the redacted value and ``server_only``."""

    rule: str
    file: str
    line: int
    redacted: str
    server_only: bool
    commit: str = ""

    @classmethod
    def from_value(cls, rule: str, file: str, line: int, value: str, commit: str = "") -> Finding:
        """Build a finding from the raw value, which is redacted here and then dropped."""
        return cls(rule=rule, file=file, line=line, redacted=redact(value),
                   server_only=is_server_only(rule, value), commit=commit)

    def as_dict(self) -> dict:
        """JSON-ready: ``{"rule", "file", "line", "commit", "redacted", "server_only"}``."""
        return asdict(self)
