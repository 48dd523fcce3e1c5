"""A Strict-Transport-Security parser per RFC 6797 §6.1.

Grammar (§6.1): ``[ directive ] *( ";" [ directive ] )``, a directive being
``token [ "=" ( token / quoted-string ) ]``. Directive names are case-insensitive
(§6.1 rule 3); each may appear only once (§6.1 rule 2); unknown directives are ignored
(§6.1 rule 4); ``max-age`` is required and is delta-seconds (§6.1.1);
``includeSubDomains`` takes no value (§6.1.2). ``preload`` is the hstspreload.org
convention, not part of the RFC. A value that breaks the grammar makes the whole field
invalid, and a browser then ignores it (§8.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"\Z')
_DIGITS = re.compile(r"^[0-9]+\Z")
ONE_YEAR_S = 31_536_000


@dataclass
class StsPolicy:
    """The parsed field: ``max_age_s`` (``None`` if absent), the flags, every directive seen
    (lower-case name → value), and ``error`` when the field is invalid."""

    max_age_s: int | None = None
    include_subdomains: bool = False
    preload: bool = False
    directives: dict[str, str | None] = field(default_factory=dict)
    error: str | None = None

    def as_evidence(self) -> dict:
        return {
            "max_age": self.max_age_s,
            "include_subdomains": self.include_subdomains,
            "preload": self.preload,
            **({"error": self.error} if self.error else {}),
        }


def _split(value: str) -> list[str]:
    """Split on ';' outside quoted-strings."""
    parts, current, quoted, escaped = [], [], False, False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def parse_sts(value: str) -> StsPolicy:
    """Parse one Strict-Transport-Security field value."""
    policy = StsPolicy()
    for raw in _split(value):
        directive = raw.strip(" \t")
        if not directive:
            continue
        name, has_value, val = directive.partition("=")
        name = name.strip(" \t")
        if not _TOKEN.match(name):
            policy.error = f"{directive!r} is not a valid directive"
            return policy
        key = name.lower()
        if key in policy.directives:
            policy.error = f"directive {name!r} appears more than once (RFC 6797 §6.1 rule 2)"
            return policy
        parsed: str | None = None
        if has_value:
            val = val.strip(" \t")
            quoted = _QUOTED.match(val)
            if quoted:
                parsed = re.sub(r"\\(.)", r"\1", quoted.group(1))
            elif _TOKEN.match(val):
                parsed = val
            else:
                policy.error = f"value {val!r} of {name!r} is neither a token nor a quoted-string"
                return policy
        policy.directives[key] = parsed
    return _interpret(policy)


def _interpret(policy: StsPolicy) -> StsPolicy:
    if "max-age" not in policy.directives:
        policy.error = "the required max-age directive is missing (RFC 6797 §6.1.1)"
        return policy
    max_age = policy.directives["max-age"]
    # delta-seconds is 1*DIGIT, ASCII digits only (str.isdigit() would accept "٣" or "²").
    if max_age is None or not _DIGITS.match(max_age):
        policy.error = f"max-age must be a number of seconds, not {max_age!r} (RFC 6797 §6.1.1)"
        return policy
    if policy.directives.get("includesubdomains", None) is not None:
        policy.error = "includeSubDomains takes no value (RFC 6797 §6.1.2)"
        return policy
    # Only a valid field sets the effective policy: an invalid one is ignored whole (§8.1).
    policy.max_age_s = int(max_age)
    policy.include_subdomains = "includesubdomains" in policy.directives
    policy.preload = "preload" in policy.directives
    return policy
