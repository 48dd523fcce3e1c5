"""SPF record syntax (RFC 7208 §4.5, §4.6.1, §7.1, §12): record text → mechanisms, modifiers.

Parsing is strict, as §4.6 asks: a term anywhere in the record that breaks the ABNF of §12
makes the whole record a ``permerror``, even when an earlier term would have matched.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

VERSION = "v=spf1"
# §4.6.2: the qualifier of a directive and the result it gives when the mechanism matches.
QUALIFIER_RESULTS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
# §4.6.4: the terms that cost a DNS lookup (the "redirect" modifier is the other one).
DNS_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
# §7.2: macro letters of domain-specs; c, r and t are allowed only in explanation text (§7.3).
DOMAIN_MACRO_LETTERS = frozenset("slodiphv")
EXPLANATION_MACRO_LETTERS = DOMAIN_MACRO_LETTERS | frozenset("crt")
ALL_MACRO_LETTERS = EXPLANATION_MACRO_LETTERS

_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*)=(.*)", re.S)  # name "=" macro-string
_MECHANISM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9]*)(.*)", re.S)
_MACRO = re.compile(r"%\{([A-Za-z])([0-9]*)([rR]?)([.\-+,/_=]*)\}")
_TOPLABEL = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9]")
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"  # §12: decimal octet, no leading zero
_IP4 = re.compile(rf"{_QNUM}(?:\.{_QNUM}){{3}}")
_IP6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_DUAL_CIDR = re.compile(r"(.*?)(?:/([0-9]+))?(?://([0-9]+))?", re.S)  # shortest domain part
_CIDR = re.compile(r"(.*?)(?:/([0-9]+))?", re.S)


class SpfSyntaxError(ValueError):
    """Text that breaks RFC 7208's grammar; the message names the term and the rule."""


@dataclass(frozen=True)
class MacroExpand:
    """One ``%{…}`` of a macro-string (§7.1): letter, digit and reversal transformers,
    delimiters. ``letter`` keeps its case: upper case means URL-escape the value (§7.3)."""

    letter: str
    digits: int | None
    reverse: bool
    delimiters: str


# A token of a macro-string: one literal character, "%%" / "%_" / "%-" as the text they stand
# for (§7.1), or a ``MacroExpand``.
Token = tuple[str, str | MacroExpand]


@dataclass(frozen=True)
class Mechanism:
    """One directive (§4.6.2): qualifier, mechanism name (lower case) and argument.

    ``domain_spec`` is the target as written, unexpanded (``None``: the current domain);
    ``network`` the ip4/ip6 network; ``cidr4``/``cidr6`` the prefix lengths a/mx apply to the
    addresses they find (32 and 128 when none is written, §5.3).
    """

    text: str
    qualifier: str
    name: str
    domain_spec: str | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    cidr4: int = 32
    cidr6: int = 128

    @property
    def result(self) -> str:
        """What check_host() returns when this mechanism matches: pass, fail, softfail, neutral."""
        return QUALIFIER_RESULTS[self.qualifier]

    @property
    def queries_dns(self) -> bool:
        """True for the mechanisms that count toward the limit of 10 DNS lookups (§4.6.4)."""
        return self.name in DNS_MECHANISMS


@dataclass(frozen=True)
class Modifier:
    """A ``name=value`` term (§6): ``redirect``, ``exp`` or an unknown one (ignored, §6)."""

    text: str
    name: str
    value: str


@dataclass(frozen=True)
class SpfRecord:
    """A parsed record: its terms (mechanisms and modifiers) in the order written."""

    text: str
    terms: tuple[Mechanism | Modifier, ...]

    @property
    def mechanisms(self) -> list[Mechanism]:
        return [t for t in self.terms if isinstance(t, Mechanism)]

    @property
    def modifiers(self) -> list[Modifier]:
        return [t for t in self.terms if isinstance(t, Modifier)]

    @property
    def redirect(self) -> str | None:
        """The redirect= domain-spec, or ``None``."""
        return self._modifier("redirect")

    @property
    def exp(self) -> str | None:
        """The exp= domain-spec, or ``None``."""
        return self._modifier("exp")

    @property
    def all(self) -> Mechanism | None:
        """The first ``all`` mechanism: it ends evaluation, and makes redirect= ignored (§5.1)."""
        return next((m for m in self.mechanisms if m.name == "all"), None)

    def _modifier(self, name: str) -> str | None:
        return next((m.value for m in self.modifiers if m.name == name), None)


def is_spf_record(text: str) -> bool:
    """True when ``text`` (one TXT RR, its strings joined) is an SPF record: it begins with
    exactly ``v=spf1`` (any case) followed by a space or the end (§4.5)."""
    return text[:6].lower() == VERSION and (len(text) == 6 or text[6] == " ")


def parse_record(text: str) -> SpfRecord:
    """Parse an SPF record (§12 ABNF). Raises ``SpfSyntaxError`` for the first term that breaks
    the grammar, a non-ASCII character (§3.1), or redirect=/exp= given twice (§6)."""
    if not is_spf_record(text):
        raise SpfSyntaxError(f"{text[:40]!r} does not begin with {VERSION}")
    if not text.isascii():
        bad = next(ch for ch in text if not ch.isascii())
        raise SpfSyntaxError(f"non-ASCII character {bad!r}: records are 7-bit ASCII (RFC 7208 §3.1)")
    terms: list[Mechanism | Modifier] = []
    for term in text[len(VERSION):].split(" "):  # §12: terms are separated by 1*SP, nothing else
        if not term:
            continue
        modifier = _MODIFIER.fullmatch(term)
        if modifier:
            terms.append(_modifier(term, modifier.group(1).lower(), modifier.group(2)))
        else:
            terms.append(parse_mechanism(term))
    for name in ("redirect", "exp"):
        if sum(1 for t in terms if isinstance(t, Modifier) and t.name == name) > 1:
            raise SpfSyntaxError(f"{name}= appears more than once (RFC 7208 §6)")
    return SpfRecord(text, tuple(terms))


def _modifier(term: str, name: str, value: str) -> Modifier:
    if name in ("redirect", "exp"):
        check_domain_spec(value, term)  # §6.1, §6.2: a domain-spec, never empty
    else:
        macro_tokens(value, ALL_MACRO_LETTERS, term)  # unknown-modifier = name "=" macro-string
    return Modifier(term, name, value)


def parse_mechanism(term: str) -> Mechanism:
    """One directive (§4.6.2, §5). Raises ``SpfSyntaxError`` naming the term and the rule."""
    match = _MECHANISM.fullmatch(term)
    if not match:
        raise SpfSyntaxError(f"{term!r} is neither a mechanism nor a modifier")
    qualifier, name, rest = match.group(1) or "+", match.group(2).lower(), match.group(3)
    if name not in MECHANISMS:
        raise SpfSyntaxError(f"unknown mechanism {name!r} in {term!r}")
    if name == "all":
        if rest:
            raise SpfSyntaxError(f"{term!r}: 'all' takes no argument (RFC 7208 §5.1)")
        return Mechanism(term, qualifier, name)
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"{term!r}: {name} needs ':' and a domain (RFC 7208 §5.2, §5.7)")
        check_domain_spec(rest[1:], term)
        return Mechanism(term, qualifier, name, domain_spec=rest[1:])
    if name == "ptr":
        if rest and not rest.startswith(":"):
            raise SpfSyntaxError(f"{term!r}: ptr takes only ':' and a domain (RFC 7208 §5.5)")
        if rest:
            check_domain_spec(rest[1:], term)
        return Mechanism(term, qualifier, name, domain_spec=rest[1:] or None)
    if name in ("a", "mx"):
        domain, cidr4, cidr6 = _DUAL_CIDR.fullmatch(rest).groups()
        if domain and not domain.startswith(":"):
            raise SpfSyntaxError(f"{term!r}: expected ':' and a domain, or '/' and a prefix length")
        if domain:
            check_domain_spec(domain[1:], term)
        return Mechanism(
            term, qualifier, name, domain_spec=domain[1:] or None,
            cidr4=_prefix(cidr4, 32, 32, term), cidr6=_prefix(cidr6, 128, 128, term),
        )
    return _ip_mechanism(term, qualifier, name, rest)


def _ip_mechanism(term: str, qualifier: str, name: str, rest: str) -> Mechanism:
    """ip4 / ip6 (§5.6): ':' network [ '/' prefix ]; no dual prefix, no leading zeros."""
    if not rest.startswith(":"):
        raise SpfSyntaxError(f"{term!r}: {name} needs ':' and an address (RFC 7208 §5.6)")
    address, prefix = _CIDR.fullmatch(rest[1:]).groups()
    if name == "ip4":
        if not _IP4.fullmatch(address):
            raise SpfSyntaxError(f"{term!r}: {address!r} is not an IPv4 address (RFC 7208 §5.6)")
        length = _prefix(prefix, 32, 32, term)
    else:
        try:
            if not address or not set(address) <= _IP6_CHARS:
                raise ValueError(address)
            ipaddress.IPv6Address(address)
        except ValueError:
            raise SpfSyntaxError(f"{term!r}: {address!r} is not an IPv6 address (RFC 7208 §5.6)") from None
        length = _prefix(prefix, 128, 128, term)
    network = ipaddress.ip_network(f"{address}/{length}", strict=False)
    return Mechanism(term, qualifier, name, network=network)


def _prefix(text: str | None, default: int, most: int, term: str) -> int:
    """A CIDR prefix length (§5.6 ABNF: no leading zero, at most 32 / 128)."""
    if text is None:
        return default
    if (len(text) > 1 and text[0] == "0") or int(text) > most:
        raise SpfSyntaxError(f"{term!r}: /{text} is not a prefix length from 0 to {most} (RFC 7208 §5.6)")
    return int(text)


def check_domain_spec(spec: str, term: str) -> list[Token]:
    """Validate a domain-spec (§7.1): a macro-string of domain macros ending in a macro or in
    ``"." toplabel ["."]``, where a toplabel is not all digits and does not begin or end with
    '-'. Returns its tokens; raises ``SpfSyntaxError``."""
    if not spec:
        raise SpfSyntaxError(f"{term!r}: the domain is empty")
    tokens = macro_tokens(spec, DOMAIN_MACRO_LETTERS, term)
    if tokens[-1][0] != "literal":
        return tokens  # domain-end = macro-expand
    tail = ""
    for kind, value in reversed(tokens):
        if kind != "literal":
            break
        tail = value + tail
    tail = tail[:-1] if tail.endswith(".") else tail
    if "." not in tail or not _TOPLABEL.fullmatch(tail.rsplit(".", 1)[1]):
        raise SpfSyntaxError(
            f"{term!r}: {spec!r} does not end in a valid top-level label (RFC 7208 §7.1)"
        )
    return tokens


def macro_tokens(text: str, letters: frozenset[str], term: str, *, spaces: bool = False) -> list[Token]:
    """Split a macro-string (§7.1) into tokens: ``("literal", ch)``, ``("escape", text)`` for
    ``%%`` ``%_`` ``%-``, ``("macro", MacroExpand)``. Literals are visible ASCII but '%'
    (and SP when ``spaces``, for explanation text); macro letters must be in ``letters``; a
    digit transformer must not be zero (§7.3). Raises ``SpfSyntaxError``."""
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            follower = text[index + 1:index + 2]
            if follower in ("%", "_", "-"):
                tokens.append(("escape", {"%": "%", "_": " ", "-": "%20"}[follower]))
                index += 2
                continue
            match = _MACRO.match(text, index)
            if not match:
                raise SpfSyntaxError(f"{term!r}: invalid macro at {text[index:index + 6]!r} (RFC 7208 §7.1)")
            letter, digits, reverse, delimiters = match.groups()
            if letter.lower() not in letters:
                raise SpfSyntaxError(f"{term!r}: macro letter {letter!r} is not allowed here (RFC 7208 §7.2)")
            if digits and int(digits) == 0:
                raise SpfSyntaxError(f"{term!r}: a macro's digit transformer must not be 0 (RFC 7208 §7.3)")
            count = int(digits) if digits else None
            tokens.append(("macro", MacroExpand(letter, count, bool(reverse), delimiters)))
            index = match.end()
            continue
        if not ("\x21" <= char <= "\x7e" or (spaces and char == " ")):
            raise SpfSyntaxError(f"{term!r}: character {char!r} is not allowed (RFC 7208 §7.1)")
        tokens.append(("literal", char))
        index += 1
    return tokens
