"""MX records: where mail to a domain goes (RFC 5321 §5.1), or that none is accepted (RFC 7505).

- An MX target is a host name: it must resolve to addresses (RFC 5321 §5.1) and must not be an
  alias, since the name in an MX record "must not be an alias" (RFC 2181 §10.3; RFC 5321 §5.1
  lets a sender follow one but many MTAs refuse). An IP address written as the target is a
  name of numeric labels, not an address (RFC 5321 §5.1 forbids literals there).
- A null MX — a single ``0 .`` — says the domain accepts no mail (RFC 7505 §3); it must be the
  only MX of the name (RFC 7505 §3).
- No MX at all: RFC 5321 §5.1 delivers to the domain's own A/AAAA ("implicit MX"). Legal, but
  for a launch it sends members' replies and bounces to a web server that does not speak SMTP,
  and receivers that check the sender's domain see nothing declared; so with an address it is
  a warning (publish MX, or a null MX if the domain takes no mail), without one a failure:
  mail to the domain cannot be delivered at all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from checks.engine.email.findings import Finding, headline, worst
from checks.engine.net.dns import DnsAnswer, DnsClient, describe_failure
from checks.engine.result import Result, Status


@dataclass
class MxTarget:
    """One MX record: ``preference`` and ``host`` (``"."`` for a null MX), and what its
    target gave: ``addresses``, ``cname_chain``, ``findings``."""

    preference: int
    host: str
    addresses: list[str] = field(default_factory=list)
    cname_chain: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def null(self) -> bool:
        return self.host == "."

    def as_evidence(self) -> dict:
        data = {"preference": self.preference, "host": self.host, "addresses": self.addresses}
        if self.cname_chain:
            data["cname_chain"] = self.cname_chain
        if self.findings:
            data["findings"] = [f.as_evidence() for f in self.findings]
        return data


def parse_mx(text: str) -> MxTarget:
    """An MX record from its text form (``10 mx1.example.com.``); the root name stays ``"."``.
    Raises ``ValueError`` when ``text`` is not of that form."""
    preference, host = text.split()
    host = host.lower()
    return MxTarget(int(preference), host if host == "." else host.rstrip("."))


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def resolve_target(dns: DnsClient, target: MxTarget) -> list[DnsAnswer]:
    """Resolve one non-null target (A and AAAA at once) and record what is wrong with it."""
    if _ip_literal(target.host):
        target.findings.append(Finding(
            Status.FAIL, f"MX {target.host} is an IP address, not a host name (RFC 5321 §5.1)",
        ))
        return []
    answers = dns.address_answers(target.host)
    target.cname_chain = answers[0].cname_chain
    target.addresses = [r for a in answers for r in a.records]
    if target.cname_chain:
        target.findings.append(Finding(
            Status.FAIL, f"MX {target.host} is a CNAME to {target.cname_chain[-1]}: an MX target "
            "must not be an alias (RFC 2181 §10.3)",
        ))
    if target.addresses:
        return answers
    if not all(a.answered for a in answers):
        target.findings.append(Finding(Status.ERROR, describe_failure(target.host, answers)))
    else:
        target.findings.append(Finding(
            Status.FAIL, f"MX {describe_failure(target.host, answers)}: mail cannot be delivered there",
        ))
    return answers


def check_mx(dns: DnsClient, domain: str) -> Result:
    """The verdict on ``domain``'s MX records.

    - pass: every target resolves and none is an alias; or a lone null MX (the summary says the
      domain receives no mail).
    - warn: no MX, but the domain has an address (implicit MX, RFC 5321 §5.1).
    - fail: a target that is a CNAME, an IP literal, or does not resolve; a null MX next to
      other MX records or with a preference other than 0 (RFC 7505 §3); no MX and no address;
      the domain does not exist.
    - error: the MX query, or a target's address queries, failed (SERVFAIL, timeout) and
      nothing above failed.
    """
    answer = dns.query(domain, "MX")
    evidence: dict = {"domain": domain, "mx": [], "queries": [answer.as_evidence()]}
    if not answer.answered:
        return Result.error(f"could not test: {describe_failure(domain, [answer])}", evidence)
    if answer.rcode == "NXDOMAIN":
        return Result.fail(f"{domain} does not exist (NXDOMAIN)", evidence, remediation=_publish(domain))
    try:
        targets = sorted((parse_mx(str(r)) for r in answer.records), key=lambda t: (t.preference, t.host))
    except ValueError:
        return Result.fail(f"unreadable MX records at {domain}: {answer.records}", evidence)
    if not targets:
        return _implicit(dns, domain, evidence)
    findings = _null_findings(targets)
    answers = []
    for target in targets:
        if not target.null:
            answers += resolve_target(dns, target)
            findings += target.findings
    evidence["mx"] = [t.as_evidence() for t in targets]
    evidence["queries"] += [a.as_evidence() for a in answers]
    evidence["findings"] = [f.as_evidence() for f in findings]
    metrics = {"mx_records": len(targets)}
    status = worst(findings)
    if status is Status.PASS:
        return Result.passed(_summary(domain, targets), evidence, metrics=metrics)
    if status is Status.ERROR:
        return Result.error(f"could not test: {headline(findings)}", evidence, metrics=metrics)
    return Result(status, headline(findings), evidence, _fix(domain, targets), metrics)


def _null_findings(targets: list[MxTarget]) -> list[Finding]:
    nulls = [t for t in targets if t.null]
    if not nulls:
        return []
    if len(targets) > 1:
        return [Finding(Status.FAIL, "a null MX (\".\") next to other MX records: it must be the only "
                        "one (RFC 7505 §3)")]
    if nulls[0].preference != 0:
        return [Finding(Status.FAIL, f"a null MX must have preference 0, not {nulls[0].preference} "
                        "(RFC 7505 §3)")]
    return []


def _implicit(dns: DnsClient, domain: str, evidence: dict) -> Result:
    answers = dns.address_answers(domain)
    addresses = [r for a in answers for r in a.records]
    evidence.update(implicit_mx=addresses, queries=evidence["queries"] + [a.as_evidence() for a in answers])
    if addresses:
        return Result.warn(
            f"no MX record: mail to {domain} goes to its address {', '.join(addresses)} (implicit MX, "
            "RFC 5321 §5.1)", evidence, remediation=_publish(domain),
        )
    if not all(a.answered for a in answers):
        return Result.error(f"could not test: {describe_failure(domain, answers)}", evidence)
    return Result.fail(
        f"no MX record and no address: mail to {domain} cannot be delivered (RFC 5321 §5.1)",
        evidence, remediation=_publish(domain),
    )


def _summary(domain: str, targets: list[MxTarget]) -> str:
    if targets[0].null:
        return f"null MX (RFC 7505): {domain} declares that it receives no mail"
    parts = [f"{t.preference} {t.host} ({', '.join(t.addresses)})" for t in targets]
    return f"MX of {domain}: {'; '.join(parts)}"


def _publish(domain: str) -> str:
    return (
        f"Publish the MX records your mail provider gives you for {domain}; if the domain receives "
        f"no mail, publish a null MX instead (one record: {domain}. MX 0 .) so senders fail fast."
    )


def _fix(domain: str, targets: list[MxTarget]) -> str:
    steps = []
    if any(t.cname_chain for t in targets):
        steps.append("Point each MX at the host's canonical name (the CNAME's target), not at an alias")
    if any(t.findings and not t.cname_chain for t in targets):
        steps.append(f"Point each MX of {domain} at a host name that has A or AAAA records")
    if any(t.null for t in targets) and len(targets) > 1:
        steps.append("Keep either the null MX (no mail) or the real MX records, not both")
    elif any(t.null for t in targets):
        steps.append(f"Publish the null MX with preference 0: {domain}. MX 0 .")
    return ". ".join(steps) + "."
