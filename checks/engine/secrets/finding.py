"""One secret found by the scanner, kept only in redacted form.

A finding never holds the secret: only a short prefix (at most 4 characters, enough for a
person to recognise ``sk_l…`` or ``AKIA…``) and the first 12 hex digits of the value's SHA-256,
so the same key found twice (in HEAD and in history, or in the next run) has the same
``fingerprint`` — ``"<rule id>:<24 hex digits of the value's SHA-256>"`` — which is what an
agency accepts (``HardeningFacts.accepted_secrets``) and what SARIF's partialFingerprints carry.

``level``: ``leak`` — a credential that works for whoever holds it (fail); ``review`` — a
string a person must look at but which is not a leak by itself (a Google browser API key, an
AWS access key ID without its secret, a high-entropy string no rule names): warn.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

PREFIX_CHARS = 4
HASH_HEX_DIGITS = 12
FINGERPRINT_HEX_DIGITS = 24
LEAK = "leak"
REVIEW = "review"
LEVELS = (LEAK, REVIEW)


def redact(value: str) -> str:
    """``"sk_l...sha256:0123456789ab"``: a prefix of at most 4 characters (fewer for values
    shorter than 8, so at least half of a short value stays hidden) and a SHA-256 prefix."""
    shown = value[: min(PREFIX_CHARS, len(value) // 2)]
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:HASH_HEX_DIGITS]
    return f"{shown}...sha256:{digest}"


def rule_id(rule: str) -> str:
    """A stable id from a rule name: ``"Stripe Access Key"`` → ``"stripe-access-key"``."""
    return re.sub(r"[^a-z0-9]+", "-", rule.lower()).strip("-")


def fingerprint(rule: str, value: str) -> str:
    """``"stripe-access-key:<24 hex>"``: the rule and the value's SHA-256, never the value.
    The place is left out on purpose: accepting a key covers it in HEAD, history and bundle."""
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:FINGERPRINT_HEX_DIGITS]
    return f"{rule_id(rule)}:{digest}"


@dataclass(frozen=True)
class SecretFinding:
    """A secret's ``rule`` (a detect-secrets plugin type such as ``"Stripe Access Key"``, or one
    of ours: ``"AWS Access Key"`` for a key ID with its secret, ``"Private Key"``, ``"Google
    API Key"`` …), its place (``file`` relative to the scanned root or the name given to
    ``scan_text``, 1-based ``line``, 0-based character ``offset`` in the text, ``commit`` hex
    id for a history finding or ``""``), the ``redacted`` value, ``level`` (``leak`` or
    ``review``), ``server_only`` (a key that must never reach a browser), ``fingerprint`` and a
    ``note`` for a person (why a review finding is not a leak)."""

    rule: str
    file: str
    line: int
    redacted: str
    server_only: bool
    fingerprint: str
    level: str = LEAK
    note: str = ""
    offset: int = 0
    commit: str = ""

    @classmethod
    def from_value(cls, rule: str, file: str, line: int, value: str, *, level: str = LEAK,
                   server_only: bool = False, note: str = "", offset: int = 0,
                   commit: str = "") -> SecretFinding:
        """Build a finding from the raw value, which is redacted and hashed here, then dropped."""
        return cls(rule=rule, file=file, line=line, redacted=redact(value), server_only=server_only,
                   fingerprint=fingerprint(rule, value), level=level, note=note, offset=offset,
                   commit=commit)

    @property
    def is_leak(self) -> bool:
        return self.level == LEAK

    def as_dict(self) -> dict:
        """JSON-ready: ``{"rule", "file", "line", "redacted", "server_only", "fingerprint",
        "level", "note", "offset", "commit"}``."""
        return asdict(self)


Finding = SecretFinding  # the name the CLI and older callers import
