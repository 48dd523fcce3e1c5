"""HTTP checks of the edge stage: redirects to HTTPS, the canonical host, HSTS."""

from __future__ import annotations

from urllib.parse import urlsplit

from checks.engine.hsts import ONE_YEAR_S, parse_sts
from checks.engine.net.http import PERMANENT_CODES, RedirectChain
from checks.engine.parallel import parallel_map
from checks.engine.registry import Context, alternate_host, apex_only, check, every_host
from checks.engine.result import Impact, Result, Stage, worst_status
from checks.engine.waf import blocked_result

PROBE_PATH = "/launch-ready-probe?lr=1"
DEEP_PATH = "/launch-ready/deep/link?lr=1&from=http"  # a shared link into the site, with a query
MAX_REDIRECTS = 2


def _downgrade(chain: RedirectChain) -> int | None:
    """Index of the first hop that goes back to http:// after an https:// hop."""
    seen_https = False
    for index, hop in enumerate(chain.hops):
        scheme = urlsplit(hop.url).scheme
        if scheme == "https":
            seen_https = True
        elif seen_https:
            return index
    return None


def _broken_chain(chain: RedirectChain, start: str) -> Result | None:
    evidence = {"start": start, "chain": chain.as_evidence()}
    if chain.end == "loop":
        hops = f"{chain.redirects} hop" + ("s" if chain.redirects != 1 else "")
        return Result.fail(f"redirect loop after {hops} from {start}", evidence,
                           remediation="Fix the redirect rules so that every chain ends in a page.")
    if chain.end == "capped":
        return Result.fail(f"more than {len(chain.hops) - 1} redirects from {start}", evidence,
                           remediation="Collapse the redirects into one.")
    if chain.end == "bad_location":
        return Result.fail(f"redirect to an unusable Location {chain.final.header('location')!r}",
                           evidence, remediation="Redirect to an absolute https:// URL.")
    downgrade = _downgrade(chain)
    if downgrade is not None:
        return Result.fail(
            f"hop {downgrade} goes back to plain HTTP: {chain.hops[downgrade].url}", evidence,
            remediation="Every redirect after the first https:// hop must stay on https://.",
        )
    return _dead_end(chain, evidence)


def _dead_end(chain: RedirectChain, evidence: dict) -> Result | None:
    """A chain whose later hop got no answer: the target is gone (NXDOMAIN, port closed) →
    fail; the hop could not be made here (timeout, outbound policy, protocol) → error. A TLS
    failure is left to ``tls.certificate``: the redirect itself was right."""
    final = chain.final
    if chain.end != "error" or len(chain.hops) < 2 or final.error_kind == "tls":
        return None
    if final.error_kind in ("dns", "connect"):
        return Result.fail(
            f"the redirect leads to {final.url}, which does not answer: {final.error}", evidence,
            remediation="Point the redirect at a host that serves the site.",
        )
    return Result.error(f"could not follow the redirect to {final.url}: {final.error}", evidence)


@check(
    "http.https_redirect",
    stage=Stage.EDGE,
    impact=Impact.HIGH,
    title="HTTP redirects to HTTPS",
    targets=every_host,
)
def https_redirect(target: str, ctx: Context) -> Result:
    """``http://host/`` and a deep link ``http://host/launch-ready/deep/link?lr=1&from=http``
    redirect to ``https://``, keep the path and query, and never go back.

    Rules: RFC 6797 §7.2 (a request over plain HTTP should be redirected to HTTPS, to the
    same resource); no hop may downgrade to ``http://`` after an ``https://`` hop (an active
    attacker strips it); permanent codes 301/308 (RFC 9110 §15.4) so browsers remember. The
    length of the chain is ``http.redirect_hops``'s.
    - fail: content served over plain HTTP; a loop, more than 10 hops, a downgrade, a chain
      that never reaches https, or a redirect to a host that does not exist or refuses.
    - warn: the first redirect is temporary (302/303/307), or goes to another ``http://``
      URL first; the deep link arrives on https:// without its path or query; nothing listens
      on port 80.
    - pass: both start with a 301 or 308 to ``https://``, the deep link intact, and no later
      hop back to ``http://``.
    - error: a first request could not be made (DNS, policy, timeout), a WAF blocked the
      scanner (on the first hop, or on a later one before any https:// hop), or a later hop
      timed out or was refused by the outbound policy.
    The verdict is the worse of the two starts (fail, then error, then warn); the root's
    chain is ``evidence.chain``, the deep link's ``evidence.deep``. Metric: ``hops`` (root).
    """
    # Both at once: a slow site would otherwise cost the check twice its time.
    root, deep = parallel_map(lambda path: _to_https(ctx, target, f"http://{target}{path}"),
                              ("/", DEEP_PATH), name="https-redirect")
    worst = deep if worst_status([root.status, deep.status]) != root.status else root
    extra = {k: v for k, v in worst.evidence.items() if k not in ("start", "chain")}
    evidence = {"start": root.evidence["start"], "chain": root.evidence["chain"],
                "deep": deep.evidence, **extra}
    return Result(worst.status, worst.summary, evidence, worst.remediation, root.metrics)


def _to_https(ctx: Context, target: str, start: str) -> Result:
    """The verdict for one start URL; evidence ``{"start", "chain"}``."""
    chain = ctx.net.http.follow(start)
    first = chain.hops[0]
    evidence = {"start": start, "chain": chain.as_evidence()}
    metrics = {"hops": chain.redirects}
    if first.error:
        if first.error_kind == "connect" and "refused" in first.error.lower():
            return Result.warn(
                f"nothing answers on port 80 of {target}: visitors typing the bare name get an error",
                evidence, remediation=f"Answer on port 80 with a 301 to https://{target}/.",
            )
        return Result.error(f"could not test: {first.error}", evidence)
    if blocked := blocked_result(first, evidence):
        return blocked
    if not first.is_redirect:
        return Result.fail(
            f"{start} answers {first.status} over plain HTTP instead of redirecting to https://",
            evidence,
            remediation=f"Answer every http:// request with a 301 to https://{target}/ (same path).",
        )
    broken = _broken_chain(chain, start)
    if broken:
        return broken
    arrival = next((h for h in chain.hops if urlsplit(h.url).scheme == "https"), None)
    if arrival is None and (blocked := blocked_result(chain.final, evidence)):
        return blocked  # a later plain-HTTP hop blocked us: where it would lead is unknown
    if arrival is None:
        return Result.fail(f"the redirects from {start} never reach https://", evidence,
                           remediation=f"Redirect to https://{target}/.")
    if urlsplit(first.location).scheme != "https":
        return Result.warn(
            f"the first redirect goes to {first.location}, another plain-HTTP URL", evidence,
            metrics=metrics, remediation=f"Redirect straight to https://{target}/ first.",
        )
    if first.status not in PERMANENT_CODES:
        return Result.warn(
            f"{start} redirects with a temporary {first.status}", evidence, metrics=metrics,
            remediation="Use 301 (or 308) so that browsers and search engines remember it.",
        )
    if _path_and_query(arrival.url) != _path_and_query(start):
        return Result.warn(
            f"path or query lost: {start} arrives on https:// as {arrival.url}", evidence,
            metrics=metrics,
            remediation="Keep the path and query string in the redirect to https:// "
                        "(Location: https://<host>$request_uri), so shared deep links still work.",
        )
    return Result.passed(f"{start} → {first.status} → {first.location}", evidence, metrics=metrics)


@check(
    "http.redirect_hops",
    stage=Stage.EDGE,
    impact=Impact.LOW,
    title="At most two redirects",
    targets=every_host,
)
def redirect_hops(target: str, ctx: Context) -> Result:
    """``http://host/`` reaches its page in at most two redirects (to https://, then to the
    canonical host). Each redirect is one more round trip before the first byte, on every
    visit without a cached 301 (RFC 9110 §15.4: a client follows each one as a new request);
    a longer chain is a registrar's forwarder or a rule stacked on a rule.
    - warn: more than two redirects.
    - pass: two or fewer.
    - fail: never: loops, downgrades and dead ends are ``http.https_redirect``'s findings.
    - skipped: the chain does not end in a page (a loop, a bad Location, a host that does not
      exist or refuses, a TLS failure): ``http.https_redirect`` or ``tls.certificate`` says why.
    - error: a hop timed out or was refused by the outbound policy (could not be counted).
    Metric: ``hops``.
    """
    start = f"http://{target}/"
    chain = ctx.net.http.follow(start)
    evidence = {"start": start, "chain": chain.as_evidence()}
    metrics = {"hops": chain.redirects}
    if chain.end == "error" and chain.final.error_kind in ("timeout", "policy"):
        return Result.error(f"could not test: {chain.final.error}", evidence)
    if chain.end != "final":
        ending = chain.final.error or chain.end.replace("_", " ")
        return Result.skipped(f"the redirects from {start} do not end in a page ({ending})", evidence)
    path = "→".join(urlsplit(h.url).hostname or "" for h in chain.hops)
    if chain.redirects > MAX_REDIRECTS:
        return Result.warn(
            f"{start} takes {chain.redirects} redirects ({path}); at most {MAX_REDIRECTS} are needed",
            evidence, metrics=metrics,
            remediation=f"Redirect http://{target}/ straight to the final https:// URL in one hop.",
        )
    return Result.passed(f"{start} reaches {chain.final.url} in {chain.redirects} "
                         f"redirect{'s' if chain.redirects != 1 else ''}", evidence, metrics=metrics)


def _path_and_query(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path or "/", parts.query


@check(
    "http.canonical_redirect",
    stage=Stage.EDGE,
    impact=Impact.MEDIUM,
    title="One canonical host",
    targets=alternate_host,
)
def canonical_redirect(target: str, ctx: Context) -> Result:
    """The other one of apex / www sends visitors to the preferred host in one hop.

    Starts at ``https://<target>/launch-ready-probe?lr=1`` and expects one permanent
    redirect (RFC 9110 §15.4.2 / §15.4.9) to the same path and query on the preferred host.
    - fail: serves pages itself; nothing answers on its port 443; never reaches the preferred
      host; loop; more than 10 hops; a downgrade to http:// (RFC 6797 §7.2); a hop whose host
      does not exist or refuses the connection.
    - warn: more than one hop; path or query lost; temporary redirect code.
    - pass: one 301 or 308 straight to the same path and query on the preferred host.
    - error: the first request could not be made; a WAF blocked the scanner on the first hop,
      or on a later one before the preferred host was reached.
    Metric: ``hops``.
    """
    preferred = ctx.project.preferred_host
    start = f"https://{target}{PROBE_PATH}"
    expected = f"https://{preferred}{PROBE_PATH}"
    chain = ctx.net.http.follow(start)
    first = chain.hops[0]
    evidence = {"start": start, "expected": expected, "chain": chain.as_evidence()}
    if first.error_kind == "connect" and "refused" in first.error.lower():
        return Result.fail(
            f"nothing answers on https://{target}/ (connection refused): "
            f"visitors get an error, not {preferred}",
            evidence,
            remediation=f"Serve {target} over HTTPS and redirect it to https://{preferred} with a 301.",
        )
    if first.error:
        return Result.error(f"could not test: {first.error}", evidence)
    if blocked := blocked_result(first, evidence):
        return blocked
    if not first.is_redirect:
        return Result.fail(
            f"{target} answers {first.status} itself instead of redirecting to {preferred}",
            evidence, remediation=f"Redirect every path of {target} to https://{preferred} with a 301.",
        )
    broken = _broken_chain(chain, start)
    if broken:
        return broken
    arrival = next((i for i, h in enumerate(chain.hops) if urlsplit(h.url).hostname == preferred), None)
    if arrival is None and (blocked := blocked_result(chain.final, evidence)):
        return blocked  # a later hop (a forwarder) blocked us: where it would lead is unknown
    if arrival is None:
        failed = f" ({chain.final.error})" if chain.final.error else ""
        return Result.fail(
            f"{start} ends at {chain.final.url}{failed}, not on {preferred}", evidence,
            remediation=f"Redirect {target} to https://{preferred} (same path) with a 301.",
        )
    hops = arrival
    evidence["hops"] = hops
    metrics = {"hops": hops}
    landed = chain.hops[arrival].url
    path = "→".join(urlsplit(h.url).hostname or "" for h in chain.hops[: arrival + 1])
    if hops > 1:
        return Result.warn(
            f"{target} reaches {preferred} in {hops} hops ({path})", evidence, metrics=metrics,
            remediation=f"Redirect {target} straight to https://{preferred} (same path) with one 301.",
        )
    if landed != expected:
        return Result.warn(
            f"path or query lost: {start} lands on {landed}", evidence, metrics=metrics,
            remediation="Keep the path and query string in the redirect target.",
        )
    if first.status not in PERMANENT_CODES:
        return Result.warn(
            f"{target} redirects with a temporary {first.status}", evidence, metrics=metrics,
            remediation="Use 301 (or 308) for the canonical-host redirect.",
        )
    return Result.passed(f"{target} → {first.status} → {landed}", evidence, metrics=metrics)


@check(
    "http.hsts",
    stage=Stage.EDGE,
    impact=Impact.HIGH,
    title="HSTS policy",
    targets=every_host,
)
def hsts(target: str, ctx: Context) -> Result:
    """``https://host/`` sends a valid Strict-Transport-Security policy of at least a year.

    Parsed per RFC 6797 §6.1 (see ``checks.engine.hsts``). When several fields are sent the
    browser uses only the first (RFC 6797 §8.1); a server must send one (§7.1).
    - fail: no field; the first field invalid (so ignored); ``max-age=0`` (deletes the policy).
    - warn: ``max-age`` under 31536000 s; more than one field.
    - pass: one valid field with ``max-age`` of at least one year.
    - error: no HTTPS response (TLS failure, DNS, timeout) — a browser ignores HSTS then.
    Metric: ``max_age_s``.
    """
    url = f"https://{target}/"
    response = ctx.net.http.fetch(url)
    if response.error:
        return Result.error(f"could not test: {response.error}", {"url": url, **response.as_evidence()})
    fields = response.header_fields("strict-transport-security")
    evidence: dict = {"url": url, "status": response.status, "fields": fields}
    if blocked := blocked_result(response, evidence):
        return blocked
    remediation = (f"Send one header on every HTTPS response of {target}: "
                   "Strict-Transport-Security: max-age=31536000; includeSubDomains")
    if not fields:
        return Result.fail(f"{url} sends no Strict-Transport-Security header", evidence,
                           remediation=remediation)
    policy = parse_sts(fields[0])
    evidence["effective"] = policy.as_evidence()
    if policy.error:
        return Result.fail(
            f"the Strict-Transport-Security header is invalid, so browsers ignore it: {policy.error}",
            evidence, remediation=remediation,
        )
    metrics = {"max_age_s": policy.max_age_s}
    if policy.max_age_s == 0:
        return Result.fail("max-age=0 tells browsers to forget the HSTS policy", evidence,
                           metrics=metrics, remediation=remediation)
    warnings = []
    if len(fields) > 1:
        warnings.append(
            f"{len(fields)} Strict-Transport-Security fields; browsers use only the first "
            f"(max-age={policy.max_age_s}, includeSubDomains "
            f"{'on' if policy.include_subdomains else 'off'})"
        )
    if policy.max_age_s < ONE_YEAR_S:
        warnings.append(f"max-age={policy.max_age_s} is under one year ({ONE_YEAR_S} s)")
    if warnings:
        evidence["warnings"] = warnings
        return Result.warn(warnings[0], evidence, metrics=metrics, remediation=remediation)
    flags = ", includeSubDomains" if policy.include_subdomains else ""
    flags += ", preload" if policy.preload else ""
    return Result.passed(f"max-age={policy.max_age_s} ({policy.max_age_s // 86400} days){flags}",
                         evidence, metrics=metrics)


@check(
    "http.hsts_preload",
    stage=Stage.EDGE,
    impact=Impact.LOW,
    title="HSTS preload eligible",
    targets=apex_only,
)
def hsts_preload(target: str, ctx: Context) -> Result:
    """The apex meets the HSTS preload list's submission requirements (hstspreload.org).

    Requirements: ``http://apex/`` first redirects to ``https://apex/`` on the same host
    (RFC 6797 §7.2); ``https://apex/`` — the response itself, even when it is a redirect —
    sends a valid Strict-Transport-Security field (RFC 6797 §6.1, first field only, §8.1) with
    ``max-age`` of at least 31536000, ``includeSubDomains`` and ``preload``.
    - pass: every requirement met.
    - warn: one or more unmet (each listed): preloading is optional, but without it the first
      visit of every browser can be stripped to HTTP.
    - fail: never — the HSTS policy itself is judged by ``http.hsts``.
    - error: no answer over HTTPS (TLS failure, DNS, timeout).
    """
    response = ctx.net.http.fetch(f"https://{target}/")
    if response.error:
        return Result.error(f"could not test: {response.error}", {"url": f"https://{target}/"})
    if blocked := blocked_result(response, {"url": f"https://{target}/"}):
        return blocked
    fields = response.header_fields("strict-transport-security")
    policy = parse_sts(fields[0]) if fields else None
    first = ctx.net.http.follow(f"http://{target}/").hops[0]
    unmet = []
    if first.error or not first.is_redirect or first.location != f"https://{target}/":
        seen = first.error or (first.location if first.is_redirect else f"answers {first.status}")
        unmet.append(f"http://{target}/ must redirect to https://{target}/ first ({seen})")
    if policy is None or policy.error:
        unmet.append("a valid Strict-Transport-Security header on https://" + target + "/")
    else:
        if policy.max_age_s < ONE_YEAR_S:
            unmet.append(f"max-age of at least {ONE_YEAR_S} (is {policy.max_age_s})")
        if not policy.include_subdomains:
            unmet.append("includeSubDomains")
        if not policy.preload:
            unmet.append("the preload directive")
    evidence = {
        "hsts_fields": fields,
        "effective": policy.as_evidence() if policy else None,
        "http_first_hop": first.as_evidence(),
        "unmet": unmet,
    }
    if unmet:
        return Result.warn(
            f"{target} is not eligible for HSTS preload: needs {unmet[0]}"
            + (f" (and {len(unmet) - 1} more)" if len(unmet) > 1 else ""),
            evidence,
            remediation=(f"Redirect http://{target}/ to https://{target}/ first, send "
                         "Strict-Transport-Security: max-age=63072000; includeSubDomains; preload "
                         "on it, then submit the domain at hstspreload.org."),
        )
    return Result.passed(f"{target} meets the HSTS preload requirements", evidence)
