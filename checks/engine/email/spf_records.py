"""SPF records and results (RFC 7208 §2.6, §4.3–§4.5, §4.6.4): what the evaluation reads
and what it reports — the limits, the results, the include tree, a domain's TXT records and
the SPF records among them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum

import dns.exception
import dns.name

from checks.engine.email.spf_syntax import is_spf_record
from checks.engine.net.dns import DnsAnswer, DnsClient

MAX_DNS_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
MAX_MX_RECORDS = 10
MAX_PTR_NAMES = 10
# The audit counts past the limits to report the real number, up to this hard stop: a hostile
# record must not make the audit send hundreds of queries.
WALK_LOOKUP_CAP = 40

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class SpfResult(StrEnum):
    """The results of check_host() (RFC 7208 §2.6)."""

    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    NEUTRAL = "neutral"
    NONE = "none"
    PERMERROR = "permerror"
    TEMPERROR = "temperror"


class PermError(Exception):
    """check_host() ends with ``permerror``; ``problem`` names the kind: ``multiple-records``,
    ``syntax``, ``lookup-limit``, ``void-limit``, ``mx-limit``, ``loop``, ``include-none`` or
    ``redirect-none``."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


class TempError(Exception):
    """check_host() ends with ``temperror``: a DNS lookup failed or timed out (§4.4, §5)."""


@dataclass
class SpfNode:
    """One record of the include tree: the apex's, or one reached by include / redirect."""

    domain: str
    via: str = "record"  # "record", "include" or "redirect"
    term: str | None = None  # the term that led here
    record: str | None = None
    dns_lookups: int = 0  # terms of this record that counted toward the limit of 10
    void_terms: list[str] = field(default_factory=list)
    children: list[SpfNode] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def nodes(self) -> list[SpfNode]:
        """This node and every node below it, depth first."""
        return [self, *(n for child in self.children for n in child.nodes())]

    def as_evidence(self) -> dict:
        data = {
            "domain": self.domain, "via": self.via, "term": self.term, "record": self.record,
            "dns_lookups": self.dns_lookups, "void_terms": self.void_terms, "notes": self.notes,
            "error": self.error, "includes": [c.as_evidence() for c in self.children],
        }
        return {k: v for k, v in data.items() if v not in (None, [])}


@dataclass
class SpfOutcome:
    """What one evaluation found.

    ``matched`` is the deciding term at the top level (``"include:_spf.example.net"``);
    ``explanation`` the exp= text of a fail (§6.2), ``None`` when there is none; ``problem``
    the ``PermError`` kind; ``summary`` one sentence on why.
    """

    result: SpfResult
    domain: str
    summary: str
    problem: str | None = None
    matched: str | None = None
    explanation: str | None = None
    dns_lookups: int = 0
    void_lookups: int = 0
    tree: SpfNode | None = None


@dataclass
class RecordLookup:
    """The TXT records of a domain and the SPF ones among them (§4.4, §4.5).

    ``txt`` keeps every RR as its list of character-strings; ``records`` are the SPF records,
    each RR's strings joined with nothing between them (§3.3), never one RR with another.
    ``error`` is set when the lookup failed (temperror); ``malformed`` when the name cannot be
    looked up at all (§4.3: result none).
    """

    domain: str
    txt: list[list[str]] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    answer: DnsAnswer | None = None
    error: str | None = None
    malformed: bool = False


def lookup_record(dns_client: DnsClient, domain: str) -> RecordLookup:
    """Ask for ``domain``'s TXT records and pick the SPF ones (§4.4, §4.5); never raises."""
    lookup = RecordLookup(domain)
    if not is_queryable(domain):
        lookup.malformed = True
        return lookup
    answer = lookup.answer = dns_client.query(domain, "TXT")
    if not answer.answered:
        lookup.error = failure(answer)
        return lookup
    lookup.txt = [list(strings) for strings in answer.records]
    lookup.records = [text for text in answer.texts if is_spf_record(text)]
    return lookup


def is_queryable(name: str) -> bool:
    """True when ``name`` can be asked for in DNS: labels of 1–63 octets, at most 253 in all
    (RFC 1035 §2.3.4); otherwise a target is treated as a name that does not exist."""
    name = name[:-1] if name.endswith(".") else name
    if not name or len(name) > 253 or any(not 0 < len(label) <= 63 for label in name.split(".")):
        return False
    try:
        dns.name.from_text(name)
    except (dns.exception.DNSException, ValueError):
        return False
    return True


def is_valid_domain(name: str) -> bool:
    """§4.3: a domain check_host() can start from: queryable, at least two labels, not an
    address literal. Anything else gives the result none."""
    name = name[:-1] if name.endswith(".") else name
    return is_queryable(name) and "." in name and not name.startswith("[")


def mx_hosts(answer: DnsAnswer) -> list[str]:
    """The exchanges of an MX answer, by preference; the null MX "." (RFC 7505) is left out."""
    pairs = []
    for text in answer.records:
        preference, _, host = str(text).partition(" ")
        host = host.strip().rstrip(".").lower()
        if host:
            pairs.append((int(preference), host))
    return [host for _, host in sorted(pairs)]


def failure(answer: DnsAnswer) -> str:
    """``TXT example.com: TIMEOUT (no answer from … within 3 s)``."""
    return f"{answer.rdtype} {answer.name}: {answer.rcode} ({answer.error or 'server failure'})"
