"""Cloudflare checks of the edge stage: is each host behind Cloudflare's proxy, and does an
origin answer for a proxied host directly.

Sources:
- Cloudflare, "Proxy status" (https://developers.cloudflare.com/dns/proxy-status/): a proxied
  A/AAAA/CNAME record is answered with Cloudflare's anycast addresses and its HTTP(S) traffic
  passes through Cloudflare (WAF, DDoS protection, cache); a DNS-only record is answered with
  the origin's own address, which exposes it.
- Cloudflare, "Cloudflare IP addresses" — the published ranges, shipped in
  ``data/cloudflare_ips.json`` with their date (``checks.engine.cloudflare``).
- Cloudflare, "Cloudflare HTTP headers"
  (https://developers.cloudflare.com/fundamentals/reference/http-headers/): ``CF-RAY`` on
  every response through the proxy; RFC 9110 §10.2.4: ``Server`` names the software of the
  server that answered, ``cloudflare`` on Cloudflare's edge.
- Cloudflare, "Protect your origin server"
  (https://developers.cloudflare.com/fundamentals/security/protect-your-origin-server/):
  DNS-only records on the same machine (mail, ftp, a forgotten subdomain) reveal the origin,
  which should accept HTTP(S) from Cloudflare's ranges only.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.engine.cloudflare import CloudflareRanges, ranges_for
from checks.engine.email.mx import parse_mx
from checks.engine.names import matching_name
from checks.engine.net.dns import ResolveError
from checks.engine.net.tls import TlsProbe
from checks.engine.parallel import parallel_map
from checks.engine.registry import Context, check, every_host
from checks.engine.result import Impact, Result, Stage
from checks.engine.text import first_few

# Names under the apex that often point straight at the origin (cPanel hosts, mail on the web
# server, a staging copy): the names origin-finding tools try first.
ORIGIN_LABELS = ("origin", "direct", "direct-connect", "mail", "ftp", "cpanel", "staging", "dev")
MAX_MX_TARGETS = 5
# Addresses probed per host: a hostile zone listing thousands must not turn the audit into a scan.
MAX_CANDIDATES = 20
LOOKUP_WORKERS = 8


def _resolve(ctx: Context, host: str) -> tuple[list[str], str | None]:
    """``(addresses, None)``, or ``([], why)`` when the name has none (memoised DNS)."""
    try:
        return ctx.net.dns.addresses(host), None
    except ResolveError as exc:
        return [], str(exc)


def _resolve_all(ctx: Context, names: list[str]) -> dict[str, tuple[list[str], str | None]]:
    """``_resolve`` for every name at once: a name that times out costs one timeout, not one each."""
    results = parallel_map(lambda name: _resolve(ctx, name), names, max_workers=LOOKUP_WORKERS, name="edge")
    return dict(zip(names, results, strict=True))


def _proxied_hosts(ctx: Context, ranges: CloudflareRanges) -> list[str]:
    """The project's hosts with at least one address in Cloudflare's ranges."""
    resolved = _resolve_all(ctx, ctx.project.hosts)
    return [h for h, (addresses, _) in resolved.items() if any(ranges.contains(a) for a in addresses)]


def _not_cloudflare_project(evidence: dict) -> Result:
    return Result.skipped(
        "not a Cloudflare project: no host of the project resolves into Cloudflare's ranges", evidence
    )


def _address_evidence(addresses: list[str], ranges: CloudflareRanges) -> list[dict]:
    rows = []
    for address in addresses:
        network = ranges.network_of(address)
        rows.append({"address": address, "cloudflare": network is not None,
                     "range": str(network) if network else None})
    return rows


# ---------------------------------------------------------------------------------------------
# edge.cloudflare


@check(
    "edge.cloudflare",
    stage=Stage.EDGE,
    impact=Impact.MEDIUM,
    title="Behind Cloudflare's proxy",
    targets=every_host,
)
def cloudflare(target: str, ctx: Context) -> Result:
    """In a project that uses Cloudflare, the host is proxied (orange cloud), not DNS-only.

    Two signals: every A/AAAA address of the host (after CNAMEs) lies in Cloudflare's published
    ranges (Cloudflare, "Proxy status": a proxied record answers with Cloudflare's anycast
    addresses, a DNS-only record with the origin's), and ``https://host/`` answers with
    Cloudflare's headers, ``CF-RAY`` or ``Server: cloudflare`` (RFC 9110 §10.2.4).
    - pass: every address in the ranges and Cloudflare's headers on the response.
    - warn: no address in the ranges while another host of the project has one (DNS-only: the
      origin is exposed and gets no WAF or DDoS protection); some addresses in the ranges and
      some not (part of the traffic bypasses Cloudflare); addresses in the ranges but no
      Cloudflare header; Cloudflare's headers from addresses outside the ranges (stale range
      data, a bring-your-own-IP or China-network address, or an origin that sends them).
    - fail: never: Cloudflare's proxy is a shield the project chose, not a requirement of the
      web, so a host left outside it is a warning.
    - skipped: no host of the project resolves into the ranges — not a Cloudflare project.
    - error: the host has no address; its addresses are all in the ranges but its HTTPS
      response could not be read (so the headers could not be compared).
    Evidence: each address with ``cloudflare`` true/false and its range, the ``Server`` and
    ``CF-RAY`` values, and the range data's source, date and age in days.
    Metrics: ``addresses``, ``addresses_in_ranges``.
    """
    ranges = ranges_for(ctx.net.profile)
    evidence: dict = {"host": target, "ranges": ranges.as_evidence()}
    proxied = _proxied_hosts(ctx, ranges)
    evidence["proxied_hosts"] = proxied
    if not proxied:
        return _not_cloudflare_project(evidence)
    addresses, failure = _resolve(ctx, target)
    if failure:
        return Result.error(f"could not test: {failure}", evidence)
    evidence["addresses"] = _address_evidence(addresses, ranges)
    inside = [a for a in addresses if ranges.contains(a)]
    outside = [a for a in addresses if not ranges.contains(a)]
    metrics = {"addresses": len(addresses), "addresses_in_ranges": len(inside)}
    response = ctx.net.http.fetch(f"https://{target}/")
    server, ray = response.header("server"), response.header("cf-ray")
    evidence["headers"] = {"server": server, "cf-ray": ray}
    evidence["response"] = response.as_evidence()
    cloudflare_headers = ray is not None or (server or "").strip().lower() == "cloudflare"
    if inside and outside:
        return Result.warn(
            f"{target} resolves both into Cloudflare's ranges ({first_few(inside)}) and outside "
            f"them ({first_few(outside)}): part of its traffic bypasses Cloudflare",
            evidence, metrics=metrics,
            remediation=(f"Give every A/AAAA record of {target} the same proxy status: remove the "
                         f"records for {first_few(outside)}, or proxy them in Cloudflare's DNS."),
        )
    if outside:
        return _outside(target, outside, proxied, cloudflare_headers, evidence, metrics)
    if response.error:
        return Result.error(
            f"could not test: {target} resolves into Cloudflare's ranges, but its HTTPS response "
            f"could not be read ({response.error})", evidence,
        )
    if not cloudflare_headers:
        return Result.warn(
            f"{target} resolves into Cloudflare's ranges ({first_few(inside)}), but its response "
            f"lacks Cloudflare's headers (Server: {server or 'none'}, no CF-RAY)",
            evidence, metrics=metrics,
            remediation=(f"Check in Cloudflare's DNS that {target} is proxied and that nothing (a "
                         "Worker, a Transform Rule) strips CF-RAY; an address in Cloudflare's ranges "
                         "that answers without it is not Cloudflare's proxy."),
        )
    shown = f"CF-RAY {ray}" if ray else f"Server: {server}"
    return Result.passed(
        f"{target} is proxied by Cloudflare: {first_few(inside)} in its ranges, {shown}",
        evidence, metrics=metrics,
    )


def _outside(target, outside, proxied, cloudflare_headers, evidence, metrics) -> Result:
    """Every address outside the ranges: DNS-only, or Cloudflare's headers from elsewhere."""
    if cloudflare_headers:
        return Result.warn(
            f"{target} answers with Cloudflare's headers but resolves outside Cloudflare's "
            f"published ranges ({first_few(outside)})", evidence, metrics=metrics,
            remediation=("Refresh the range data (manage.py refresh_cloudflare_ranges) if it is "
                         "old; otherwise find out who answers for the host: a bring-your-own-IP or "
                         "China-network address, or an origin that sends Cloudflare's headers itself."),
        )
    return Result.warn(
        f"{target} is DNS-only: it resolves to {first_few(outside)}, outside Cloudflare's ranges, "
        f"while {proxied[0]} is proxied; its traffic reaches the origin without Cloudflare's WAF "
        "and DDoS protection", evidence, metrics=metrics,
        remediation=(f"Turn the proxy on (orange cloud) for the A/AAAA/CNAME records of {target} in "
                     "Cloudflare's DNS. If it serves something Cloudflare cannot proxy (mail, SSH), "
                     "serve that from another address than the web origin's."),
    )


# ---------------------------------------------------------------------------------------------
# edge.origin_exposure


@dataclass
class _Candidate:
    name: str
    source: str  # "the host itself", "project host", "common origin name", "MX of <apex>"
    address: str
    outcome: str = ""
    exposed: bool = False

    def as_evidence(self) -> dict:
        return {"name": self.name, "source": self.source, "address": self.address,
                "outcome": self.outcome, "exposed": self.exposed}


@check(
    "edge.origin_exposure",
    stage=Stage.EDGE,
    impact=Impact.MEDIUM,
    title="Origin not reachable around Cloudflare",
    targets=every_host,
)
def origin_exposure(target: str, ctx: Context) -> Result:
    """No address outside Cloudflare answers for a proxied host with a certificate naming it.

    An origin that answers anyone lets an attacker skip Cloudflare's WAF and DDoS protection by
    connecting to it directly (Cloudflare, "Protect your origin server"). Candidate origin
    addresses, outside Cloudflare's ranges: the host's own (a record left DNS-only next to
    proxied ones), those of the project's other hosts (DNS-only ones often point at the
    origin), of common origin names under the apex (``origin.``, ``direct.``,
    ``direct-connect.``, ``mail.``, ``ftp.``, ``cpanel.``, ``staging.``, ``dev.``) and of the
    apex's MX targets (first five) — at most 20 addresses, so a hostile zone cannot make this a
    scan, dealt one name at a time (each name's first address, then each one's second), so
    decoys listed under one name cannot crowd out the others. Each is asked for a TLS handshake
    on port 443 with SNI = the host, through the outbound policy; a certificate that names the
    host (RFC 9525 §6.3) gives the origin away, whether it verifies (RFC 5280 §6) or not (a
    Cloudflare Origin CA or self-signed certificate: a client that skips verification still
    reaches the site around the shield).
    - warn: a candidate answers for the host with a certificate naming it: the origin is exposed.
    - pass: none does (refused, silent, another host's certificate, or not a public address); the
      evidence lists every name looked up and every address tried with its outcome, and the
      summary says how many addresses the cap left untried.
    - fail: never: an answering origin is a way around the shield, which the warning names.
    - skipped: the host has no address in Cloudflare's ranges (DNS-only: nothing is hidden), or
      no host of the project has (not a Cloudflare project).
    - error: the host has no address.
    Metrics: ``candidates`` (addresses tried), ``exposed``.
    """
    ranges = ranges_for(ctx.net.profile)
    evidence: dict = {"host": target, "ranges": ranges.as_evidence()}
    if not _proxied_hosts(ctx, ranges):
        return _not_cloudflare_project(evidence)
    addresses, failure = _resolve(ctx, target)
    if failure:
        return Result.error(f"could not test: {failure}", evidence)
    evidence["addresses"] = _address_evidence(addresses, ranges)
    if not any(ranges.contains(a) for a in addresses):
        return Result.skipped(f"{target} is DNS-only (not behind Cloudflare): no origin to hide", evidence)
    candidates, lookups, left_out = _candidates(target, ctx, ranges)
    evidence["names"] = lookups
    if left_out:
        evidence["left_out"] = left_out
    _probe_all(target, ctx, candidates)
    evidence["candidates"] = [c.as_evidence() for c in candidates]
    exposed = [c for c in candidates if c.exposed]
    metrics = {"candidates": len(candidates), "exposed": len(exposed)}
    if exposed:
        first = exposed[0]
        more = f" (and {len(exposed) - 1} more)" if len(exposed) > 1 else ""
        return Result.warn(
            f"origin exposed: {first.name} ({first.address}) {first.outcome}{more}",
            evidence, metrics=metrics,
            remediation=(f"Let the origin accept HTTP(S) from Cloudflare's ranges only (firewall, "
                         "or Authenticated Origin Pulls), or reach it through Cloudflare Tunnel; then "
                         f"move it to a new address, since {first.address} is known. Proxy or remove "
                         "the DNS-only records that point at it."),
        )
    if not candidates:
        return Result.passed(
            f"no candidate origin address for {target}: its own records, the project's other "
            "hosts, the common origin names and the apex's MX targets have none outside "
            "Cloudflare's ranges",
            evidence, metrics=metrics,
        )
    untried = (f" ({left_out} more address{'es were' if left_out > 1 else ' was'} not tried: at most "
               f"{MAX_CANDIDATES} are)" if left_out else "")
    return Result.passed(
        f"no origin found: none of {len(candidates)} candidate addresses answers for {target} "
        f"with a certificate naming it{untried}", evidence, metrics=metrics,
    )


def _candidates(target: str, ctx: Context, ranges: CloudflareRanges):
    """``(candidates, lookups, left_out)``: the addresses to try (first name per address, at
    most ``MAX_CANDIDATES``), every name looked up with its addresses or failure, and how many
    addresses were left out by the cap.

    The places are dealt round the names: each name's first address, then each one's second,
    and so on; a name listing many addresses (decoys that refuse) cannot crowd the others out."""
    apex = ctx.project.apex
    # The host's own records come first: one outside the ranges next to proxied ones points
    # straight at the origin.
    sources = {target: "the host itself"}
    sources.update({h: "project host" for h in ctx.project.hosts if h != target})
    for label in ORIGIN_LABELS:
        sources.setdefault(f"{label}.{apex}", "common origin name")
    for name in _mx_targets(ctx, apex):
        sources.setdefault(name, f"MX of {apex}")
    resolved = _resolve_all(ctx, list(sources))
    lookups, queues, seen = {}, {}, set()
    for name, (addresses, failure) in resolved.items():
        found = {"error": failure} if failure else {"addresses": addresses}
        lookups[name] = {"source": sources[name], **found}
        queues[name] = []
        for address in addresses:
            if not ranges.contains(address) and address not in seen:
                seen.add(address)
                queues[name].append(address)
    dealt = [(name, queue[i]) for i in range(max(map(len, queues.values()), default=0))
             for name, queue in queues.items() if i < len(queue)]
    candidates = [_Candidate(name, sources[name], address) for name, address in dealt[:MAX_CANDIDATES]]
    return candidates, lookups, max(0, len(dealt) - MAX_CANDIDATES)


def _mx_targets(ctx: Context, apex: str) -> list[str]:
    """The apex's MX exchange names, lowest preference first, at most ``MAX_MX_TARGETS``; a null
    MX (RFC 7505, exchange ".") names nothing."""
    targets = []
    for record in ctx.net.dns.query(apex, "MX").records:
        try:
            targets.append(parse_mx(str(record)))
        except ValueError:
            continue
    return [t.host for t in sorted(targets, key=lambda t: t.preference) if not t.null][:MAX_MX_TARGETS]


def _probe_all(target: str, ctx: Context, candidates: list[_Candidate]) -> None:
    """Handshake with every candidate at once (each pinned to its address, SNI = ``target``)."""
    probes = parallel_map(lambda c: ctx.net.tls.probe(target, address=c.address), candidates,
                          max_workers=MAX_CANDIDATES, name="origin")
    for candidate, probe in zip(candidates, probes, strict=True):
        candidate.exposed, candidate.outcome = _judge(target, probe)


def _judge(target: str, probe: TlsProbe) -> tuple[bool, str]:
    """``(exposed, outcome)`` for one pinned handshake."""
    if probe.error:
        if probe.error_kind == "policy":
            return False, f"not tried: {probe.error}"
        return False, f"no answer for {target}: {probe.error}"
    leaf = probe.leaf
    if leaf is None:
        return False, "no certificate served"
    matched = matching_name(target, leaf.san_dns, leaf.san_ip)
    if probe.verified and matched:
        return True, f"answers for {target} with a valid certificate"
    if matched:
        # A Cloudflare Origin CA or self-signed certificate is not publicly trusted, but it
        # names the host: anyone who skips certificate checks reaches the site around the shield.
        return True, (f"answers for {target} with a certificate that names it but does not verify "
                      f"({probe.verify_message or 'untrusted'})")
    names = ", ".join(leaf.san_dns[:5]) or "no DNS names"
    return False, f"answers with a certificate for {names}, not {target}"
