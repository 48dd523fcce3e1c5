"""email.spf: the apex's SPF record, read as receivers read it (RFC 7208).

The evaluation lives in ``checks/engine/email/spf.py``; this module turns what it finds into
one verdict. Impact HIGH, like the other mail records: a broken SPF record sends password
resets and invites to spam (a ``permerror`` is treated as a failed check by most receivers,
and DMARC then rests on DKIM alone), but the app itself still runs.
"""

from __future__ import annotations

from checks.engine.email.findings import Finding, headline, worst
from checks.engine.email.providers import Senders, custom_senders, mail_providers, provider_senders
from checks.engine.email.spf import check_host, lookup_record, walk_record
from checks.engine.email.spf_records import (
    MAX_DNS_LOOKUPS,
    MAX_VOID_LOOKUPS,
    WALK_LOOKUP_CAP,
    SpfNode,
    SpfOutcome,
    SpfResult,
)
from checks.engine.email.spf_syntax import Mechanism, SpfSyntaxError, parse_record
from checks.engine.net.dns import DnsClient
from checks.engine.registry import Context, apex_only, check
from checks.engine.result import Impact, Result, Stage, Status


@check(
    "email.spf",
    stage=Stage.EMAIL,
    impact=Impact.HIGH,
    title="SPF record valid and authorising the senders",
    targets=apex_only,
    quick=True,
)
def spf(target: str, ctx: Context) -> Result:
    """The apex's SPF record (RFC 7208), evaluated through the whole include tree the way a
    receiver evaluates it for an address that no mechanism matches; then check_host() for the
    project's sending provider's networks and custom IPs.

    - fail: no SPF record (result none); more than one ``v=spf1`` record (permerror, §4.5);
      a syntax error anywhere in the tree (permerror, §4.6, §12); more than 10 DNS-querying
      terms — include, a, mx, ptr, exists, redirect — counted as §4.6.4 counts them (the real
      total is reported, up to 40); more than 2 void lookups (NOERROR-nodata or NXDOMAIN,
      one per term, §4.6.4); an include or redirect loop; an include or redirect to a name
      with no SPF record (§5.2, §6.1); an mx with more than 10 MX records (§4.6.4); a
      pass-qualified ``all``, ip4/ip6 ``/0`` or a/mx ``/0`` that lets any host send (§5.1);
      the provider's sending networks or the custom IPs not given ``pass`` by check_host().
    - warn: exactly 2 void lookups (at the limit: one more is a permerror); ``?all`` or no
      ``all`` and no ``redirect`` (hosts not listed get neutral, §4.7, which protects nothing);
      a ``ptr`` mechanism (§5.5: SHOULD NOT be used).
    - pass: otherwise. ``~all`` passes like ``-all``: it is what Google documents, and with
      DMARC the receiver acts on DMARC, while ``-all`` lets receivers that check SPF first
      reject mail before DKIM could rescue it (RFC 7489 §10.1).
    - error: a DNS failure or timeout while reading a record (temperror, §4.4, §5), unless a
      fail was already proven.
    Evidence: the TXT records as received (strings unjoined), the record, its terms, the
    include tree with each record's lookups and void terms, ``dns_lookups``,
    ``void_lookups``, and each sender's addresses with their check_host() result.
    Metrics: ``dns_lookups``, ``void_lookups``.
    """
    dns_client = ctx.net.dns
    lookup = lookup_record(dns_client, target)
    evidence: dict = {"domain": target, "txt_records": lookup.txt, "spf_records": lookup.records}
    if lookup.error:
        return Result.error(f"could not test: {lookup.error}", evidence)
    if not lookup.records:
        return Result.fail(
            f"{target} has no SPF record: receivers get none and cannot tell its senders from forgers",
            evidence, remediation=f"Publish one TXT record at {target}: {_suggested_record(ctx)}.",
        )
    if len(lookup.records) > 1:
        return Result.fail(
            f"{target} has {len(lookup.records)} SPF records: receivers give permerror (RFC 7208 §4.5)",
            evidence, remediation="Merge them into one v=spf1 record: two are a permanent error.",
        )
    walk = walk_record(dns_client, target)
    evidence.update(_walk_evidence(walk))
    findings = _record_findings(walk)
    if walk.result not in (SpfResult.PERMERROR, SpfResult.TEMPERROR):
        sender_findings, evidence["senders"] = _sender_findings(dns_client, walk, ctx)
        findings += sender_findings
    metrics = {"dns_lookups": walk.dns_lookups, "void_lookups": walk.void_lookups}
    status = worst(findings)
    if status is Status.PASS:
        return Result.passed(_pass_summary(walk, evidence.get("senders", [])), evidence, metrics=metrics)
    remediation = " ".join(dict.fromkeys(f.fix for f in findings if f.status is status))
    return Result(status, headline(findings), evidence, remediation=remediation, metrics=metrics)


def _record_findings(walk: SpfOutcome) -> list[Finding]:
    findings = []
    if walk.result is SpfResult.PERMERROR:
        findings.append(_permerror(walk))
    elif walk.result is SpfResult.TEMPERROR:
        findings.append(Finding(
            Status.ERROR, f"could not test: {walk.summary}",
            "Check that the domain's DNS servers answer for every name the record includes.",
        ))
    for domain, mechanism in _open_to_any_host(walk.tree):
        findings.append(Finding(
            Status.FAIL,
            f"{_where(mechanism.text, domain, walk)} lets any host on the internet send as {walk.domain}",
            f"Replace {mechanism.text} with ~all or -all and list the real senders.",
        ))
    if walk.result is not SpfResult.PERMERROR and walk.void_lookups == MAX_VOID_LOOKUPS:
        terms = ", ".join(_where(t, n.domain, walk) for n in walk.tree.nodes() for t in n.void_terms)
        findings.append(Finding(
            Status.WARN,
            f"{MAX_VOID_LOOKUPS} void lookups, at the limit of {MAX_VOID_LOOKUPS} ({terms} found no "
            "records): one more is a permerror (RFC 7208 §4.6.4)",
            "Remove the terms that point at names with no records.",
        ))
    if walk.result is SpfResult.NEUTRAL:
        default = f"{walk.matched}:" if walk.matched else "no all and no redirect:"
        findings.append(Finding(
            Status.WARN,
            f"{default} hosts not listed get neutral, which protects nothing (RFC 7208 §4.7)",
            "End the record with ~all or -all.",
        ))
    for domain, mechanism in _evaluated_terms(walk.tree):
        if mechanism.name == "ptr":
            findings.append(Finding(
                Status.WARN, f"{_where(mechanism.text, domain, walk)}: ptr is slow and unreliable and "
                "SHOULD NOT be used (RFC 7208 §5.5)",
                "Replace ptr with ip4/ip6 (or a/mx) terms for the hosts that send.",
            ))
    return findings


def _permerror(walk: SpfOutcome) -> Finding:
    """One fail issue for the walk's permerror, with the totals the walk counted."""
    if walk.problem == "lookup-limit":
        capped = walk.dns_lookups > WALK_LOOKUP_CAP
        count = f"more than {WALK_LOOKUP_CAP}" if capped else str(walk.dns_lookups)
        return Finding(
            Status.FAIL,
            f"{count} DNS lookups, over the limit of {MAX_DNS_LOOKUPS}: receivers give permerror "
            "(RFC 7208 §4.6.4)",
            f"Cut the DNS-querying terms (include, a, mx, ptr, exists, redirect) to {MAX_DNS_LOOKUPS} or "
            "fewer: drop includes of services no longer used, write ip4/ip6 instead of a/mx.",
        )
    if walk.problem == "void-limit":
        terms = ", ".join(_where(t, n.domain, walk) for n in walk.tree.nodes() for t in n.void_terms)
        return Finding(
            Status.FAIL,
            f"{walk.void_lookups} void lookups, over the limit of {MAX_VOID_LOOKUPS} ({terms} found no "
            "records): receivers give permerror (RFC 7208 §4.6.4)",
            "Remove the terms that point at names with no records.",
        )
    fixes = {
        "loop": "Remove the include or redirect that leads back to a record already being evaluated.",
        "syntax": "Correct the record's syntax (RFC 7208 §12).",
        "include-none": "Remove the include of a name that publishes no SPF record, or correct its name.",
        "redirect-none": "Point redirect= at a name that publishes an SPF record.",
        "multiple-records": "Merge the included name's records into one v=spf1 record.",
        "mx-limit": "Use ip4/ip6 terms instead of an mx term for a domain with more than 10 MX records.",
    }
    return Finding(
        Status.FAIL, f"{walk.summary}: receivers give permerror",
        fixes.get(walk.problem, "Correct the record."),
    )


def _sender_findings(
    dns_client: DnsClient, walk: SpfOutcome, ctx: Context
) -> tuple[list[Finding], list[dict]]:
    """check_host() for each sender's addresses; fail when one does not get pass."""
    domain = walk.domain
    included = {node.domain.lower() for node in walk.tree.nodes()}
    groups: list[Senders] = []
    provider = mail_providers().get(ctx.project.mail_provider)
    if provider:
        groups.append(provider_senders(dns_client, provider))
    if ctx.project.mail_sending_ips:
        groups.append(custom_senders(ctx.project.mail_sending_ips))
    findings, evidence = [], []
    for group in groups:
        results = {
            ip: str(check_host(dns_client, ip, domain, f"postmaster@{domain}", domain).result)
            for ip in group.addresses
        }
        evidence.append({
            "sender": group.label, "include": group.include, "source": group.source,
            "networks": group.networks, "results": results, "error": group.error,
        })
        if group.error:
            findings.append(Finding(
                Status.ERROR, f"could not test {group.label}'s addresses: {group.error}",
                f"Check {group.include}: the provider's record could not be read.",
            ))
            continue
        refused = {ip: result for ip, result in results.items() if result != "pass"}
        if refused:
            ip, result = next(iter(refused.items()))
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            if group.include and group.include.lower() not in included:
                more += f"; the record does not include {group.include}"
            fix = (f"Add include:{group.include} to the record, before the all." if group.include
                   else "Add ip4/ip6 terms for the project's sending IPs, before the all.")
            findings.append(Finding(
                Status.FAIL, f"{group.label} not authorised: {ip} gets {result}{more}", fix,
            ))
    return findings, [{k: v for k, v in e.items() if v not in (None, [])} for e in evidence]


def _open_to_any_host(tree: SpfNode) -> list[tuple[str, Mechanism]]:
    """Terms that give pass to every address: +all, ip4/ip6 /0, a/mx /0 (§5.1, §5.3, §5.6),
    in records reached only through pass-qualified includes (a "-include" of such a record
    fails everyone instead)."""
    found = []
    for domain, mechanism in _evaluated_terms(tree, pass_path_only=True):
        if mechanism.qualifier != "+":
            continue
        prefix_zero = (mechanism.network is not None and mechanism.network.prefixlen == 0) or (
            mechanism.name in ("a", "mx") and 0 in (mechanism.cidr4, mechanism.cidr6)
        )
        if mechanism.name == "all" or prefix_zero:
            found.append((domain, mechanism))
    return found


def _evaluated_terms(node: SpfNode, *, pass_path_only: bool = False) -> list[tuple[str, Mechanism]]:
    """(domain, mechanism) for every mechanism a receiver evaluates: those up to the first
    ``all`` of each record in the tree."""
    if pass_path_only and node.via == "include" and node.term and node.term[0] in "-~?":
        return []
    terms = []
    record = _parsed(node.record)
    for mechanism in record.mechanisms if record else []:
        terms.append((node.domain, mechanism))
        if mechanism.name == "all":
            break
    for child in node.children:
        terms += _evaluated_terms(child, pass_path_only=pass_path_only)
    return terms


def _where(term: str, domain: str, walk: SpfOutcome) -> str:
    """``term``, with the record it is in when that is not the apex's own."""
    return term if domain == walk.domain else f"{term} in {domain}"


def _parsed(text: str | None):
    try:
        return parse_record(text) if text else None
    except SpfSyntaxError:
        return None


def _walk_evidence(walk: SpfOutcome) -> dict:
    record = _parsed(walk.tree.record)
    terms = [
        {
            "term": t.text,
            "type": "mechanism" if isinstance(t, Mechanism) else "modifier",
            "dns_lookup": (t.queries_dns if isinstance(t, Mechanism) else t.name == "redirect"),
        }
        for t in (record.terms if record else [])
    ]
    return {
        "record": walk.tree.record,
        "terms": terms,
        "result": str(walk.result),
        "default": walk.matched,
        "problem": walk.problem,
        "dns_lookups": walk.dns_lookups,
        "void_lookups": walk.void_lookups,
        "include_tree": walk.tree.as_evidence(),
    }


def _pass_summary(walk: SpfOutcome, senders: list[dict]) -> str:
    text = (
        f"valid SPF record: {walk.dns_lookups} of {MAX_DNS_LOOKUPS} DNS lookups, "
        f"{walk.void_lookups} void, hosts not listed get {walk.result} ({walk.matched})"
    )
    for sender in senders:
        tested = len(sender.get("results", {}))
        text += f"; {sender['sender']} authorised ({tested} address{'' if tested == 1 else 'es'} tested)"
    return text


def _suggested_record(ctx: Context) -> str:
    provider = mail_providers().get(ctx.project.mail_provider)
    return provider.record if provider else "v=spf1 include:<your mail provider's include> ~all"
