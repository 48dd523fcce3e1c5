"""DMARC policy records (RFC 7489): found, read and judged, with their report addresses.

Discovery (RFC 7489 §6.6.3): the TXT records at ``_dmarc.<domain>``; those that do not begin
with ``v=DMARC1`` are discarded; several left means no DMARC at all; none left sends the
receiver to ``_dmarc.<organisational domain>``. The organisational domain (RFC 7489 §3.2) is
the registrable domain by the Public Suffix List, read with ``publicsuffixlist`` from the copy
the package bundles (the whole list, private section included; no network at run time; the
list is as fresh as the installed package). DMARCbis (draft-ietf-dmarc-dmarcbis, the revision that
obsoletes RFC 7489 and RFC 9091) finds it with a DNS tree walk instead; for a domain one label under a public
suffix both give the same name, and receivers still follow RFC 7489 widely, so we keep the PSL.

The TXT strings of one RR are joined with nothing between them, then read as a tag=value
list (the syntax of RFC 6376 §3.2, which RFC 7489 §6.4 reuses) by dkimpy's
``dkim.util.parse_tag_value``, through our ``email.dkim.parse_tags``. Tags (RFC 7489 §6.3,
with DMARCbis where it is final):
- ``v=DMARC1`` first; ``p`` (none / quarantine / reject) required by RFC 7489 (DMARCbis reads
  a missing ``p`` as ``none``); ``sp`` and ``np`` (RFC 9091, DMARCbis) take the same values;
  after ``v`` the order is free (DMARCbis);
- ``adkim`` / ``aspf``: ``r`` or ``s``; ``pct``: 0-100 (DMARCbis removes it and ignores it);
  ``t``: ``y`` / ``n`` (DMARCbis: testing); ``psd``: ``y`` / ``n`` / ``u`` (DMARCbis);
- ``rua`` / ``ruf``: comma-separated ``mailto:`` URIs, each with an optional ``!size``;
  ``fo``: ``0`` / ``1`` / ``d`` / ``s`` separated by ``:``; ``rf``: ``afrf``; ``ri``: seconds;
- unknown tags are ignored (RFC 7489 §6.3, DMARCbis): listed, not judged.

A report address whose organisational domain differs from the policy's must be authorised by
a TXT record beginning ``v=DMARC1`` at ``<policy domain>._report._dmarc.<address domain>``
(RFC 7489 §7.1), or receivers send it nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from urllib.parse import unquote

from publicsuffixlist import PublicSuffixList

from checks.engine.email.dkim import parse_tags
from checks.engine.email.findings import Finding, headline, worst
from checks.engine.hostnames import InvalidHostname, normalize_hostname
from checks.engine.net.dns import DnsAnswer, DnsClient, describe_failure
from checks.engine.result import Result, Status

POLICIES = ("none", "quarantine", "reject")
_VERSION = re.compile(r"^[vV][ \t]*=[ \t]*DMARC1[ \t]*(;|$)")  # RFC 7489 §6.4 dmarc-version
_URI = re.compile(r"^(?P<uri>[^!]+?)(?:!(?P<size>\d+[kmgtKMGT]?))?$")  # RFC 7489 §6.4 dmarc-uri


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # parses the bundled list once per process


def organisational_domain(name: str) -> str:
    """The registrable domain of ``name`` by the Public Suffix List (RFC 7489 §3.2): the
    public suffix plus one label. A name whose last label no rule names (``.test``) counts
    that label as its suffix (the list's ``*`` default rule). ``name`` itself when it is a
    public suffix."""
    name = name.lower().rstrip(".")
    return _psl().privatesuffix(name) or name


def psl_version() -> str:
    """The ``publicsuffixlist`` package version, which dates its bundled list."""
    return version("publicsuffixlist")


def is_dmarc_record(text: str) -> bool:
    """True when ``text`` begins with ``v=DMARC1`` (RFC 7489 §6.4: the value is case-sensitive)."""
    return bool(_VERSION.match(text.strip()))


@dataclass
class Discovery:
    """Where the policy was looked for and found (RFC 7489 §6.6.3).

    ``found_at`` is the domain whose ``_dmarc`` name gave the records (``None``: none);
    ``records`` the ``v=DMARC1`` records there, ``discarded`` the other TXT records seen;
    ``failed`` the answer that stopped the search (SERVFAIL, timeout)."""

    domain: str
    organisational: str
    answers: list[DnsAnswer] = field(default_factory=list)
    found_at: str | None = None
    records: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    failed: DnsAnswer | None = None


def discover(dns: DnsClient, domain: str) -> Discovery:
    """The DMARC records of ``domain``: at ``_dmarc.<domain>``, else at
    ``_dmarc.<organisational domain>``; never raises for DNS failures."""
    found = Discovery(domain, organisational_domain(domain))
    for candidate in dict.fromkeys([domain, found.organisational]):
        answer = dns.query(f"_dmarc.{candidate}", "TXT")
        found.answers.append(answer)
        if not answer.answered:
            found.failed = answer
            return found
        texts = answer.texts
        records = [t for t in texts if is_dmarc_record(t)]
        found.discarded += [t for t in texts if not is_dmarc_record(t)]
        if records:
            found.found_at, found.records = candidate, records
            return found
    return found


@dataclass
class ReportUri:
    """One ``rua`` / ``ruf`` entry: ``uri`` as written; ``address`` and ``domain`` when it is a
    usable ``mailto:`` URI; ``problem`` says why it is not."""

    tag: str
    uri: str
    address: str | None = None
    domain: str | None = None
    size_limit: str | None = None
    problem: str | None = None
    external: bool = False
    authorisation_name: str | None = None
    authorised: bool | None = None

    def as_evidence(self) -> dict:
        data = {"tag": self.tag, "uri": self.uri, "address": self.address, "domain": self.domain,
                "external": self.external}
        if self.size_limit:
            data["size_limit"] = self.size_limit
        if self.problem:
            data["problem"] = self.problem
        if self.external:
            data.update(authorisation_name=self.authorisation_name, authorised=self.authorised)
        return data


def parse_report_uris(tag: str, value: str) -> list[ReportUri]:
    """The URIs of a ``rua`` / ``ruf`` value (RFC 7489 §6.4: comma-separated, each with an
    optional ``!size``). Only ``mailto:`` is usable: RFC 7489 §7.1 defines no other transport
    and DMARCbis's reporting documents keep only mailto."""
    uris = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        entry = ReportUri(tag, part)
        match = _URI.match(part)
        uri = match["uri"].strip() if match else part
        entry.size_limit = match["size"] if match else None
        if not uri.lower().startswith("mailto:"):
            entry.problem = "not a mailto: URI"
        else:
            address = unquote(uri[len("mailto:"):].split("?", 1)[0]).strip()
            local, at, host = address.rpartition("@")
            try:
                entry.domain = normalize_hostname(host) if at and local else None
            except InvalidHostname:
                entry.domain = None
            if entry.domain is None:
                entry.problem = "not a mail address"
            else:
                entry.address = f"{local}@{entry.domain}"
        uris.append(entry)
    return uris


@dataclass
class Policy:
    """A DMARC record read: ``tags`` (names lower-cased) and ``findings`` about its syntax and
    values; ``reports`` the ``rua`` then ``ruf`` URIs; ``ignored`` the unknown tags."""

    text: str
    tags: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    reports: list[ReportUri] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def rua(self) -> list[ReportUri]:
        return [r for r in self.reports if r.tag == "rua"]




def _percent(value: str) -> bool:
    return value.isdigit() and len(value) <= 3 and int(value) <= 100  # RFC 7489 §6.4: 1*3DIGIT


def _seconds(value: str) -> bool:
    return value.isdigit() and int(value) < 2**32  # RFC 7489 §6.4: 32-bit unsigned


# Value rules: tag → (allowed values or a test, list separator or None, status when broken).
# Tags that steer the policy fail when unreadable; reporting details only warn.
_VALUES: dict[str, tuple[tuple[str, ...] | Callable[[str], bool], str | None, Status]] = {
    "p": (POLICIES, None, Status.FAIL),
    "sp": (POLICIES, None, Status.FAIL),
    "np": (POLICIES, None, Status.FAIL),
    "adkim": (("r", "s"), None, Status.FAIL),
    "aspf": (("r", "s"), None, Status.FAIL),
    "pct": (_percent, None, Status.FAIL),
    "t": (("y", "n"), None, Status.FAIL),
    "psd": (("y", "n", "u"), None, Status.WARN),
    "fo": (("0", "1", "d", "s"), ":", Status.WARN),
    "rf": (("afrf",), ":", Status.WARN),
    "ri": (_seconds, None, Status.WARN),
}
KNOWN_TAGS = frozenset({"v", "rua", "ruf", *_VALUES})


def read_policy(text: str) -> Policy:
    """Read one ``v=DMARC1`` record against the tag rules of the module docstring; never raises."""
    policy = Policy(text)
    try:
        tags = {tag.lower(): value for tag, value in parse_tags(text).items()}
    except ValueError as exc:
        policy.findings.append(Finding(Status.FAIL, f"not a tag=value list (RFC 7489 §6.4): {exc}"))
        return policy
    policy.tags = tags
    for tag, value in tags.items():
        if tag not in KNOWN_TAGS:
            policy.ignored.append(tag)
        elif tag in _VALUES and not _valid(tag, value):
            status = _VALUES[tag][2]
            policy.findings.append(Finding(status, f"{tag}={value} is not a valid value (RFC 7489 §6.3)"))
    if "p" not in tags:
        policy.findings.append(Finding(
            Status.FAIL, "no p= tag: RFC 7489 §6.3 requires it (DMARCbis receivers read p=none)",
        ))
    for tag in ("rua", "ruf"):
        if tag in tags:
            policy.reports += parse_report_uris(tag, tags[tag])
    return policy


def _valid(tag: str, value: str) -> bool:
    allowed, separator, _ = _VALUES[tag]
    items = value.lower().split(separator) if separator else [value.lower()]
    items = [item.strip() for item in items]
    if callable(allowed):
        return all(allowed(item) for item in items)
    return all(item in allowed for item in items)


def authorise_reports(dns: DnsClient, policy_domain: str, reports: list[ReportUri]) -> list[DnsAnswer]:
    """Mark each report URI outside ``policy_domain``'s organisational domain as authorised or
    not by ``<policy_domain>._report._dmarc.<address domain>`` (RFC 7489 §7.1); returns the
    answers asked. A URI whose answer failed keeps ``authorised = None``."""
    answers = []
    own = organisational_domain(policy_domain)
    for report in reports:
        if report.domain is None or organisational_domain(report.domain) == own:
            continue
        report.external = True
        report.authorisation_name = f"{policy_domain}._report._dmarc.{report.domain}"
        answer = dns.query(report.authorisation_name, "TXT")
        answers.append(answer)
        if answer.answered:
            report.authorised = any(is_dmarc_record(t) for t in answer.texts)
    return answers


def check_dmarc(dns: DnsClient, domain: str) -> Result:
    """The verdict on the DMARC policy that governs mail from ``domain``.

    - fail: no record at ``_dmarc.<domain>`` nor at the organisational domain's; several
      ``v=DMARC1`` records at one name (RFC 7489 §6.6.3: no DMARC is applied); a record that
      does not parse; ``p`` missing or invalid; ``sp``, ``np``, ``adkim``, ``aspf``, ``pct`` or
      ``t`` invalid; a report address at another organisational domain without its
      authorisation record (RFC 7489 §7.1).
    - warn: the policy that applies to ``domain`` is ``none`` (``sp`` when the record is the
      organisational domain's and has one); ``sp=none`` under an enforcing ``p``; ``pct``
      below 100; ``t=y``; no usable ``rua`` address; a report URI that is not a mail address;
      ``psd``, ``fo``, ``rf`` or ``ri`` invalid.
    - error: a query failed (SERVFAIL, timeout) and nothing above failed.
    - pass: an enforcing policy (quarantine or reject) with aggregate reports going somewhere.
    """
    found = discover(dns, domain)
    evidence: dict = {
        "domain": domain,
        "organisational_domain": found.organisational,
        "psl": f"publicsuffixlist {psl_version()}",
        "names_queried": [a.name for a in found.answers],
        "found_at": f"_dmarc.{found.found_at}" if found.found_at else None,
        "records": found.records,
        "discarded": found.discarded,
    }
    if found.failed is not None:
        evidence["queries"] = [a.as_evidence() for a in found.answers]
        failed = found.failed
        return Result.error(f"could not test: {describe_failure(failed.name, [failed])}", evidence)
    if found.found_at is None:
        evidence["queries"] = [a.as_evidence() for a in found.answers]
        where = " or ".join(f"_dmarc.{d}" for d in dict.fromkeys([domain, found.organisational]))
        return Result.fail(
            f"no DMARC record at {where}", evidence, remediation=_publish(domain),
        )
    if len(found.records) > 1:
        evidence["queries"] = [a.as_evidence() for a in found.answers]
        return Result.fail(
            f"{len(found.records)} DMARC records at _dmarc.{found.found_at}: receivers apply no "
            "DMARC policy (RFC 7489 §6.6.3)", evidence,
            remediation=f"Merge them into one TXT record at _dmarc.{found.found_at} and delete the others.",
        )
    policy = read_policy(found.records[0])
    answers = authorise_reports(dns, found.found_at, policy.reports)
    findings = [*policy.findings, *_policy_findings(domain, found, policy)]
    evidence.update(
        record=policy.text,
        tags=policy.tags,
        ignored_tags=policy.ignored,
        policy=policy.tags.get("p"),
        subdomain_policy=policy.tags.get("sp"),
        effective_policy=_effective(domain, found, policy),
        reports=[r.as_evidence() for r in policy.reports],
        findings=[f.as_evidence() for f in findings],
        queries=[a.as_evidence() for a in [*found.answers, *answers]],
    )
    status = worst(findings)
    if status is Status.PASS:
        return Result.passed(_pass_summary(domain, found, policy), evidence)
    if status is Status.ERROR:
        return Result.error(f"could not test: {headline(findings)}", evidence)
    return Result(status, headline(findings), evidence, _remediation(found, policy, findings))


def _effective(domain: str, found: Discovery, policy: Policy) -> str | None:
    """The policy a receiver applies to ``domain``: ``p``, or ``sp`` when the record is the
    organisational domain's and ``domain`` is below it (RFC 7489 §6.3)."""
    if found.found_at != domain and policy.tags.get("sp", "").lower() in POLICIES:
        return policy.tags["sp"].lower()
    p = policy.tags.get("p", "").lower()
    return p if p in POLICIES else None


def _policy_findings(domain: str, found: Discovery, policy: Policy) -> list[Finding]:
    tags = policy.tags
    findings = []
    effective = _effective(domain, found, policy)
    if effective == "none":
        tag = "sp" if found.found_at != domain and "sp" in tags else "p"
        findings.append(Finding(
            Status.WARN, f"{tag}=none: receivers deliver mail that fails DMARC as usual (monitoring only)",
        ))
    elif found.found_at == domain and tags.get("sp", "").lower() == "none":
        findings.append(Finding(
            Status.WARN, f"sp=none: mail from subdomains of {domain} that fails DMARC is delivered as usual",
        ))
    pct = tags.get("pct", "100").strip()
    if pct.isdigit() and int(pct) < 100:
        findings.append(Finding(
            Status.WARN, f"pct={int(pct)}: receivers that follow RFC 7489 apply the policy to only "
            f"{int(pct)}% of failing mail (DMARCbis drops pct)",
        ))
    if tags.get("t", "").strip().lower() == "y":
        findings.append(Finding(Status.WARN, "t=y: testing mode, receivers relax the policy (DMARCbis)"))
    for report in policy.reports:
        findings += _report_findings(report, found.found_at)
    if not any(r.address for r in policy.rua):
        findings.append(Finding(
            Status.WARN, "no rua address: nobody receives aggregate reports, so spoofing and "
            "unauthenticated senders go unseen (RFC 7489 §7.2)",
        ))
    return findings


def _report_findings(report: ReportUri, policy_domain: str) -> list[Finding]:
    if report.problem:
        return [Finding(Status.WARN, f"{report.tag} {report.uri}: {report.problem}")]
    if not report.external or report.authorised:
        return []
    if report.authorised is None:
        return [Finding(Status.ERROR, f"{report.tag} {report.uri}: the authorisation lookup of "
                        f"{report.authorisation_name} failed")]
    return [Finding(
        Status.FAIL, f"{report.tag} {report.uri} is not authorised: no v=DMARC1 record at "
        f"{report.authorisation_name}, so receivers send it no reports (RFC 7489 §7.1)",
    )]


def _pass_summary(domain: str, found: Discovery, policy: Policy) -> str:
    effective = _effective(domain, found, policy)
    tag = "sp" if found.found_at != domain and "sp" in policy.tags else "p"
    where = f"_dmarc.{found.found_at}"
    if found.found_at != domain:
        where += f" (the organisational domain of {domain})"
    addresses = ", ".join(r.address for r in policy.rua if r.address)
    return f"DMARC {tag}={effective} at {where}; aggregate reports to {addresses}"


def _publish(domain: str) -> str:
    return (
        f"Publish one TXT record at _dmarc.{domain}: start with "
        f"\"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}\", read the reports for a few "
        "weeks, then move to p=quarantine and p=reject once every sender passes."
    )


def _remediation(found: Discovery, policy: Policy, findings: list[Finding]) -> str:
    steps = []
    unauthorised = [r for r in policy.reports if r.external and r.authorised is False]
    for report in unauthorised:
        steps.append(
            f"Ask the operator of {report.domain} to publish TXT \"v=DMARC1\" at "
            f"{report.authorisation_name}, or send {report.tag} reports to an address at "
            f"{organisational_domain(found.found_at or '')}"
        )
    if any(f.status is Status.FAIL for f in policy.findings):
        steps.append(
            f"Fix the record at _dmarc.{found.found_at}: v=DMARC1 first, then "
            "p=none|quarantine|reject and valid values for the other tags (RFC 7489 §6.3)"
        )
    if _effective(found.domain, found, policy) == "none" or policy.tags.get("sp", "").lower() == "none":
        steps.append(
            "Once the aggregate reports show every legitimate sender passing SPF or DKIM aligned, "
            "move to p=quarantine, then p=reject"
        )
    if any("pct=" in f.text for f in findings):
        steps.append("Remove pct (or set pct=100) so the policy covers all failing mail")
    if any(f.text.startswith("t=y") for f in findings):
        steps.append("Remove t=y once the policy is final")
    if not any(r.address for r in policy.rua):
        steps.append(f"Add rua=mailto:dmarc-reports@{found.organisational} (or your DMARC report service)")
    return ". ".join(steps) + "." if steps else ""
