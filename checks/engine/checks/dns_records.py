"""DNS record checks of the edge stage: dangling CNAMEs (subdomain takeover) and CAA.

Both read reference data from ``checks/engine/data/`` (each file names its source and date):
``takeover_providers.json`` (suffixes of providers that let anyone claim a free name) and
``caa_issuers.json`` (a certificate issuer's organisation → the CAA identifiers of its CA).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from checks.engine.names import matching_name
from checks.engine.net.dns import DnsAnswer, DnsClient, describe_failure
from checks.engine.net.tls import TlsProbe
from checks.engine.registry import Context, check, every_host
from checks.engine.result import Impact, Result, Stage

DATA = Path(__file__).resolve().parent.parent / "data"

# RFC 8659 §4.1: bit 0 of the flags octet (value 128) is the Issuer Critical Flag.
CRITICAL_FLAG = 128
# Property tags a CA is expected to understand: RFC 8659 §4.2-4.4 (issue, issuewild, iodef),
# RFC 9495 §3 (issuemail) and the CA/Browser Forum Baseline Requirements Appendix A
# (contactemail, contactphone). Tags match case-insensitively (RFC 8659 §4.1).
KNOWN_TAGS = frozenset({"issue", "issuewild", "iodef", "issuemail", "contactemail", "contactphone"})


# ---------------------------------------------------------------------------------------------
# Reference data


@dataclass(frozen=True)
class Provider:
    """A hosting provider that hands out names under ``suffixes`` to whoever asks first.

    ``status`` is the can-i-take-over-xyz verdict (``Vulnerable`` or ``Edge case``); ``claim``
    says how someone else would claim a free name there.
    """

    name: str
    status: str
    suffixes: tuple[str, ...]
    claim: str


@cache
def _data(filename: str) -> dict:
    return json.loads((DATA / filename).read_text(encoding="utf-8"))


@cache
def takeover_providers() -> tuple[Provider, ...]:
    """The providers of ``data/takeover_providers.json``, in file order."""
    return tuple(
        Provider(p["provider"], p["status"], tuple(s.lower() for s in p["suffixes"]), p["claim"])
        for p in _data("takeover_providers.json")["providers"]
    )


def claimable_provider(name: str) -> tuple[Provider, str] | None:
    """``(provider, suffix)`` when ``name`` lies strictly below one of a takeover provider's
    suffixes, else ``None``. A suffix label may be a shell pattern matching one label
    (``s3-website-*.amazonaws.com``); comparison ignores case and a trailing dot."""
    labels = name.lower().rstrip(".").split(".")
    for provider in takeover_providers():
        for suffix in provider.suffixes:
            pattern = suffix.split(".")
            # Strictly below: the provider's own apex is not a name anyone can claim.
            if len(labels) > len(pattern) and all(
                fnmatchcase(label, want) for label, want in zip(labels[-len(pattern):], pattern, strict=True)
            ):
                return provider, suffix
    return None


@cache
def _issuer_table() -> dict[str, tuple[str, tuple[str, ...]]]:
    table = {}
    for issuer in _data("caa_issuers.json")["issuers"]:
        for org in issuer["organizations"]:
            table[org.casefold()] = (issuer["name"], tuple(issuer["identifiers"]))
    return table


def issuer_organizations(issuer: str) -> list[str]:
    """The organisation (O) values of an RFC 4514 distinguished name; ``[]`` when it has none
    or cannot be parsed."""
    try:
        name = x509.Name.from_rfc4514_string(issuer)
    except ValueError:
        return []
    return [str(a.value) for a in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def caa_identifiers(issuer: str) -> tuple[str | None, list[str]]:
    """``(CA name, CAA identifiers)`` for a certificate issuer given as an RFC 4514 string,
    looked up by its organisation in ``data/caa_issuers.json``; ``(None, [])`` when unknown."""
    table = _issuer_table()
    for org in issuer_organizations(issuer):
        if org.casefold() in table:
            ca, identifiers = table[org.casefold()]
            return ca, list(identifiers)
    return None, []


# ---------------------------------------------------------------------------------------------
# dns.dangling_cname


@check(
    "dns.dangling_cname",
    stage=Stage.EDGE,
    impact=Impact.HIGH,
    title="No dangling CNAME (subdomain takeover)",
    targets=every_host,
)
def dangling_cname(target: str, ctx: Context) -> Result:
    """A CNAME at the host leads to a name that exists.

    The A query's RCODE describes the last name of the CNAME chain (RFC 6604 §3; chains per
    RFC 1034 §3.6.2), so NXDOMAIN with a CNAME in the answer means the chain's target is gone.
    - pass: the host is a CNAME whose chain ends at a name that exists (addresses or not).
    - fail: the target is NXDOMAIN and lies under a provider that lets anyone claim a free
      name (``data/takeover_providers.json``, after can-i-take-over-xyz): subdomain takeover
      risk; evidence gives record type, target, ``target_status`` NXDOMAIN and the provider.
    - warn: the target is NXDOMAIN elsewhere: a stale record, not a provable takeover.
    - skipped: the host is not a CNAME.
    - error: SERVFAIL, REFUSED, timeout or a CNAME loop: the chain could not be followed.
    """
    answer = ctx.net.dns.query(target, "A")
    chain = answer.cname_chain
    evidence: dict = {"host": target, "cname_chain": chain, "query": answer.as_evidence()}
    if not answer.answered:
        return Result.error(f"could not test: {describe_failure(target, [answer])}", evidence)
    if not chain:
        return Result.skipped(f"{target} is not a CNAME", evidence)
    last = chain[-1]
    evidence.update(record_type="CNAME", target=last, target_status=answer.rcode)
    if answer.rcode != "NXDOMAIN":
        evidence["addresses"] = answer.records
        path = " → ".join([target, *chain])
        if answer.records:
            return Result.passed(f"{path} → {', '.join(answer.records)}", evidence)
        return Result.passed(f"{path}: the target exists (it has no A record)", evidence)
    found = claimable_provider(last)
    if found is None:
        return Result.warn(
            f"stale record: {target} is a CNAME to {last}, which does not exist (NXDOMAIN)", evidence,
            remediation=(
                f"Remove the CNAME record of {target}, or point it at a name that exists. "
                f"{last} is not under a provider known to let anyone claim names, so no takeover "
                "is shown; whoever holds its domain could still serve content on your host."
            ),
        )
    provider, suffix = found
    evidence.update(
        provider=provider.name, provider_suffix=suffix, provider_status=provider.status,
        claim=provider.claim, source=_data("takeover_providers.json")["source"],
    )
    return Result.fail(
        f"subdomain takeover risk: {target} is a CNAME to {last} ({provider.name}), "
        "which does not exist (NXDOMAIN)", evidence,
        remediation=(
            f"Remove the CNAME record of {target} today, or re-create {last} at {provider.name} "
            f"under your own account. Until then anyone who can {provider.claim} controls what "
            f"{target} serves: pages, scripts and cookies under your domain."
        ),
    )


# ---------------------------------------------------------------------------------------------
# dns.caa


@dataclass
class CaaProperty:
    """One CAA record (RFC 8659 §4.1): ``flags`` (0-255), ``tag`` (lower-cased), ``value``;
    for ``issue`` / ``issuewild`` (§4.2) ``issuer`` is the issuer-domain-name (``""`` = no CA
    may issue) and ``parameters`` the ``key=value`` pairs after ``;``."""

    flags: int
    tag: str
    value: str
    issuer: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def critical(self) -> bool:
        return bool(self.flags & CRITICAL_FLAG)

    def as_evidence(self) -> dict:
        data = {"flags": self.flags, "tag": self.tag, "value": self.value}
        if self.issuer is not None:
            data.update(issuer=self.issuer, parameters=self.parameters)
        return data


_CAA_TEXT = re.compile(r'^(\d+)\s+([A-Za-z0-9]+)\s+"(.*)"$', re.DOTALL)
_ESCAPE = re.compile(r"\\(\d{3}|.)", re.DOTALL)


def parse_caa(text: str) -> CaaProperty:
    """A CAA record from its presentation form (``0 issue "letsencrypt.org; a=b"``, RFC 8659
    §4.1.1). Raises ``ValueError`` when ``text`` is not of that form."""
    match = _CAA_TEXT.match(text.strip())
    if match is None:
        raise ValueError(f"not a CAA record: {text!r}")
    flags, tag = int(match[1]), match[2].lower()
    if flags > 255:
        raise ValueError(f"CAA flags {flags} do not fit one octet")
    value = _ESCAPE.sub(lambda m: chr(int(m[1])) if m[1].isdigit() else m[1], match[3])
    prop = CaaProperty(flags, tag, value)
    if tag in ("issue", "issuewild"):
        prop.issuer, prop.parameters = _issue_value(value)
    return prop


def _issue_value(value: str) -> tuple[str, dict[str, str]]:
    """RFC 8659 §4.2: ``[issuer-domain-name] [";" parameters]``; an empty name (``;`` alone or
    nothing) authorises no CA. Parameters are ``tag=value`` separated by ``;``."""
    name, _, rest = value.partition(";")
    parameters = {}
    for part in rest.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep and key.strip():
            parameters[key.strip().lower()] = val.strip()
    return name.strip().lower(), parameters


@dataclass
class CaaLookup:
    """The relevant CAA RRset of RFC 8659 §3: ``found_at`` the first name, climbing from the
    host towards the root, whose CAA query returned records (``None``: none anywhere);
    ``answers`` every query asked; ``failed`` the answer that stopped the climb, if any."""

    names: list[str]
    answers: list[DnsAnswer]
    found_at: str | None = None
    records: list[str] = field(default_factory=list)
    failed: DnsAnswer | None = None


def relevant_caa(dns: DnsClient, name: str) -> CaaLookup:
    """Climb from ``name`` to its top-level label (RFC 8659 §3: up to but not including the
    root), asking for CAA at each; CNAMEs are followed by the query itself, as §3 requires.
    Stops at the first name with records, or at the first query without a verdict."""
    labels = name.lower().rstrip(".").split(".")
    names = [".".join(labels[i:]) for i in range(len(labels))]
    lookup = CaaLookup(names=names, answers=[])
    for candidate in names:
        answer = dns.query(candidate, "CAA")
        lookup.answers.append(answer)
        if not answer.answered:
            lookup.failed = answer
            return lookup
        if answer.records:
            lookup.found_at, lookup.records = candidate, list(answer.records)
            return lookup
    return lookup


@check(
    "dns.caa",
    stage=Stage.EDGE,
    impact=Impact.MEDIUM,
    title="CAA allows the CA that issues the certificate",
    targets=every_host,
)
def caa(target: str, ctx: Context) -> Result:
    """The CAA records that govern the host let its current CA renew the certificate.

    The relevant RRset is the first one found climbing from the host towards the root
    (RFC 8659 §3); for a wildcard certificate ``*.X`` that covers the host it is X's, and
    ``issuewild`` replaces ``issue`` when present (RFC 8659 §4.3). The served certificate's
    issuer organisation maps to CAA identifiers through ``data/caa_issuers.json``.
    - pass: an ``issue`` property names the served issuer's CA; or records restrict issuance
      but the served issuer could not be read (TLS failed), which the summary says.
    - warn: no CAA record anywhere, or none with ``issue`` (any CA may issue, RFC 8659 §4.2);
      the served issuer is not in the table, so it could not be compared.
    - fail: the served issuer is not allowed (renewal would be refused); ``issue ";"`` allows
      no CA at all (RFC 8659 §4.2); a critical property with an unknown tag (flag 128), for
      which every CA must refuse to issue (RFC 8659 §4.5).
    - error: a CAA query failed (SERVFAIL, REFUSED, timeout).
    """
    probe = ctx.net.tls.probe(target)
    leaf = probe.leaf if probe.error is None else None
    matched = matching_name(target, leaf.san_dns, leaf.san_ip) if leaf else None
    wildcard = bool(matched and matched.startswith("*."))
    lookup = relevant_caa(ctx.net.dns, matched[2:] if wildcard else target)
    evidence = _caa_evidence(target, probe, matched, wildcard, lookup)
    if lookup.failed is not None:
        failed = lookup.failed
        return Result.error(f"could not test: {describe_failure(failed.name, [failed])}", evidence)
    if lookup.found_at is None:
        return Result.warn(
            f"no CAA record for {lookup.names[0]} or its parents: any CA may issue"
            + _not_compared(probe), evidence, remediation=_add_caa(target, evidence),
        )
    properties = [parse_caa(text) for text in lookup.records]
    evidence["records"] = [p.as_evidence() for p in properties]
    return _judge(target, lookup.found_at, properties, wildcard, probe, evidence)


def _judge(target, found_at, properties, wildcard, probe, evidence) -> Result:
    where = f"CAA at {found_at}"
    critical = [p for p in properties if p.critical and p.tag not in KNOWN_TAGS]
    if critical:
        return Result.fail(
            f"{where} has a critical property '{critical[0].tag}' that CAs do not know: "
            "every CA must refuse to issue", evidence,
            remediation=(
                f"Remove the critical flag (128) from the '{critical[0].tag}' CAA record of {found_at}."
            ),
        )
    tag = "issuewild" if wildcard and any(p.tag == "issuewild" for p in properties) else "issue"
    granting = [p for p in properties if p.tag == tag]
    allowed = sorted({p.issuer for p in granting if p.issuer})
    evidence.update(property=tag, allowed=allowed)
    if not granting:
        return Result.warn(
            f"{where} has no {tag} property: any CA may issue" + _not_compared(probe), evidence,
            remediation=_add_caa(target, evidence),
        )
    if not allowed:
        return Result.fail(
            f"{where} allows no CA to issue ({tag} \";\"): renewal would be refused", evidence,
            remediation=_allow(found_at, tag, evidence),
        )
    names = ", ".join(allowed)
    if evidence["served_issuer"] is None:
        return Result.passed(f"{where} allows only {names}" + _not_compared(probe), evidence)
    ca, identifiers = evidence["issuer_ca"], evidence["issuer_identifiers"]
    if not identifiers:
        return Result.warn(
            f"{where} allows only {names}; the served certificate's issuer "
            f"({evidence['served_issuer']}) is not in the CAA table, so it could not be compared",
            evidence,
        )
    granted = sorted(set(identifiers) & set(allowed))
    if granted:
        return Result.passed(
            f"{where} allows {', '.join(granted)}, the served certificate's CA ({ca})", evidence
        )
    return Result.fail(
        f"{where} allows only {names}: {ca} ({', '.join(identifiers)}), which issued the served "
        "certificate, would be refused at renewal", evidence, remediation=_allow(found_at, tag, evidence),
    )


def _caa_evidence(target: str, probe: TlsProbe, matched, wildcard: bool, lookup: CaaLookup) -> dict:
    leaf = probe.leaf if probe.error is None else None
    ca, identifiers = caa_identifiers(leaf.issuer) if leaf else (None, [])
    evidence = {
        "host": target,
        "relevant_name": lookup.found_at,
        "names_queried": [a.name for a in lookup.answers],
        "records": [],
        "served_issuer": leaf.issuer if leaf else None,
        "issuer_ca": ca,
        "issuer_identifiers": identifiers,
        "certificate_name": matched,
        "wildcard": wildcard,
        "queries": [a.as_evidence() for a in lookup.answers],
    }
    if leaf is None:
        evidence["tls_error"] = probe.error or "no certificate served"
    return evidence


def _not_compared(probe: TlsProbe) -> str:
    if probe.error is None and probe.leaf is not None:
        return ""
    return f"; the served issuer could not be compared ({probe.error or 'no certificate served'})"


def _add_caa(target: str, evidence: dict) -> str:
    ids = evidence["issuer_identifiers"]
    issuer = ids[0] if ids else "<your CA's CAA identifier>"
    return (
        f"Add a CAA record at the apex that names the CA you use, e.g. `0 issue \"{issuer}\"`, so "
        f"that no other CA may issue certificates for {target}."
    )


def _allow(found_at: str, tag: str, evidence: dict) -> str:
    ids = evidence["issuer_identifiers"]
    if ids:
        return (
            f"Add `0 {tag} \"{ids[0]}\"` to the CAA records of {found_at} before the certificate "
            f"expires, or move to a CA the records allow."
        )
    return f"Add a `0 {tag}` CAA record for your CA to {found_at} before the certificate expires."
