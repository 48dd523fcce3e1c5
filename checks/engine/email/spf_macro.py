"""SPF macro expansion (RFC 7208 §7): ``%{ir}.%{v}._spf.%{d2}`` → a domain name or a text."""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from checks.engine.email.spf_syntax import (
    DOMAIN_MACRO_LETTERS,
    EXPLANATION_MACRO_LETTERS,
    MacroExpand,
    macro_tokens,
)

MAX_DOMAIN_LENGTH = 253  # RFC 7208 §7.3, after RFC 1035 §2.3.4
IP_LETTERS = frozenset("icpv")  # the macros whose value depends on the connecting address


@dataclass(frozen=True)
class MacroContext:
    """The values macros stand for in one check_host() call (§7.3).

    ``ip`` is ``None`` when no address is being checked (the audit's reading of a record);
    ``validated_name`` computes %{p} on demand, since it costs DNS queries (§7.3).
    """

    sender: str
    domain: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    helo: str
    validated_name: Callable[[], str] | None = None
    receiver: str = "unknown"

    @property
    def local_part(self) -> str:
        return self.sender.rpartition("@")[0]

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


def uses_ip_macros(spec: str) -> bool:
    """True when ``spec`` has a macro whose value depends on the connecting address (i, c, p,
    v): without an address such a name cannot be known."""
    return any(
        kind == "macro" and value.letter.lower() in IP_LETTERS
        for kind, value in macro_tokens(spec, EXPLANATION_MACRO_LETTERS, spec)
    )


def expand_domain(spec: str, ctx: MacroContext) -> str:
    """Expand a domain-spec into the name to look up: macros replaced, the trailing dot dropped,
    and labels removed from the left until it fits in 253 characters (§7.3). Raises
    ``SpfSyntaxError`` for a macro-string that breaks §7.1."""
    name = _expand(spec, ctx, DOMAIN_MACRO_LETTERS, spaces=False)
    name = name[:-1] if name.endswith(".") else name
    while len(name) > MAX_DOMAIN_LENGTH and "." in name:
        name = name.split(".", 1)[1]
    return name


def expand_explanation(text: str, ctx: MacroContext) -> str:
    """Expand an explanation string (§6.2: explain-string, where c, r and t are allowed and
    spaces are text). Raises ``SpfSyntaxError``; the caller then ignores the exp= (§6.2)."""
    return _expand(text, ctx, EXPLANATION_MACRO_LETTERS, spaces=True)


def _expand(text: str, ctx: MacroContext, letters: frozenset[str], *, spaces: bool) -> str:
    out = []
    for kind, value in macro_tokens(text, letters, text, spaces=spaces):
        out.append(_macro(value, ctx) if kind == "macro" else value)
    return "".join(out)


def _macro(macro: MacroExpand, ctx: MacroContext) -> str:
    """One macro (§7.3): split on the delimiters (default '.'), reverse if asked, keep the
    rightmost N parts, join with '.'; an upper-case letter URL-escapes the result."""
    value = _value(macro.letter.lower(), ctx)
    parts = re.split("[" + re.escape(macro.delimiters or ".") + "]", value)
    if macro.reverse:
        parts.reverse()
    if macro.digits is not None and macro.digits < len(parts):
        parts = parts[-macro.digits:]
    joined = ".".join(parts)
    return quote(joined, safe="") if macro.letter.isupper() else joined


def _value(letter: str, ctx: MacroContext) -> str:
    ip = ctx.ip
    if letter in "icv" and ip is None:
        return "unknown"  # only reached for text no one will look up (see uses_ip_macros)
    values: dict[str, Callable[[], str]] = {
        "s": lambda: ctx.sender,
        "l": lambda: ctx.local_part,
        "o": lambda: ctx.sender_domain,
        "d": lambda: ctx.domain,
        "h": lambda: ctx.helo,
        "r": lambda: ctx.receiver,
        "t": lambda: str(int(time.time())),
        "v": lambda: "in-addr" if ip.version == 4 else "ip6",
        "c": lambda: str(ip),
        # §7.3: IPv4 dotted; IPv6 as dot-separated nibbles, 32 of them (upper case, as the
        # RFC's own example and the RFC 7208 test suite write them).
        "i": lambda: str(ip) if ip.version == 4 else ".".join(ip.exploded.replace(":", "").upper()),
        "p": lambda: ctx.validated_name() if ctx.validated_name else "unknown",
    }
    return values[letter]()
