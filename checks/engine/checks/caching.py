"""Stage 4, caching safety: a personal answer is never kept by a shared cache, and static
assets are kept long enough. The cross-account test is in ``cross_account.py``, payload in
``payload.py``; both reuse the helpers here.

Header rules live in ``checks/engine/caching.py`` (RFC 9111). Personal endpoints are read
logged in with the project's test accounts (``checks/engine/net/login.py``). Every request to
a personal endpoint carries a distinct ``X-Launch-Ready-Probe`` header, so the audit's memo of
identical GETs sends each one; caches do not key on a field they are not told to ``Vary`` on.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from checks.engine.caching import DAY_S, cache_evidence, cache_hits, judge_personal, judge_static
from checks.engine.checks.content import HTML_TYPES, effective_content_type, html_pages
from checks.engine.checks.exposed import Findings, asset_urls, fetch_pages, same_site
from checks.engine.net.http import HttpExchange
from checks.engine.net.login import Credentials, LoginFailed, log_in
from checks.engine.registry import Context, check, url_targets
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import ProjectSpec, TestAccount
from checks.engine.text import first_few
from checks.engine.waf import blocked_result

PROBE_HEADER = "X-Launch-Ready-Probe"
MAX_ASSETS = 20  # static assets fetched per audit: a page may reference hundreds
ADD_ACCOUNT = "Add a test account to the project (form login, session cookie or bearer token)."
PERSONAL_FIX = (
    "Send Cache-Control: private, no-store (or private, no-cache) on every answer that depends "
    "on who is logged in (RFC 9111 §5.2.2.5, §5.2.2.7), and exclude the path from the CDN's "
    "cache rules. Vary: Cookie, Authorization is not enough: CDNs build their cache key from the URL "
    "and honour other Vary fields only when configured to (Cloudflare: a Cache Rule)."
)


def fresh(n: int | str) -> tuple[str, str]:
    """A request field that makes each read of a personal endpoint its own (see the module doc)."""
    return (PROBE_HEADER, str(n))


@url_targets
def personal_endpoints(project: ProjectSpec) -> list[str]:
    """Targets: the URL of each personal endpoint (``EndpointSpec.is_personal``) read with GET."""
    return list(dict.fromkeys(e.url for e in project.endpoints if e.is_personal and e.method == "GET"))


def preferred_host(project: ProjectSpec) -> list[str]:
    """Target: the preferred host (the site's static assets are judged once, there)."""
    return [project.preferred_host] if project.preferred_host else []


def log_in_as(ctx: Context, account: TestAccount) -> Credentials:
    """``net/login.py``'s ``log_in`` for this audit (raises ``LoginFailed``)."""
    return log_in(ctx.net, ctx.project, account)


def unreadable(url: str, response: HttpExchange, account: str, evidence: dict) -> Result | None:
    """``error`` when ``response`` is no member's answer: no answer, a WAF block, not 2xx."""
    if response.error:
        return Result.error(f"could not read {url} as test account {account!r}: {response.error}", evidence)
    if blocked := blocked_result(response, evidence):
        return blocked
    if not 200 <= (response.status or 0) < 300:
        return Result.error(
            f"{url} answered HTTP {response.status} to test account {account!r}, not the member's "
            "own data: its caching was not tested", evidence,
            remediation="Check the test account's login and that the endpoint's URL is right.",
        )
    return None


@check("performance.cache_personal", stage=Stage.PERFORMANCE, impact=Impact.BLOCKER,
       title="Personal answers are private and never served from a cache", targets=personal_endpoints,
       timeout_s=60.0)
def cache_personal(target: str, ctx: Context) -> Result:
    """A personal endpoint's answer, read twice logged in as the first test account, is
    ``private`` or ``no-store`` and does not come out of a cache.

    Rules (``checks/engine/caching.py: judge_personal``), judged on each answer:

    - fail: a sign of a cache hit — ``Age`` (RFC 9111 §5.1), ``CF-Cache-Status`` ``HIT``,
      ``STALE``, ``UPDATING`` or ``REVALIDATED``, ``X-Cache`` containing ``HIT``; or headers
      that let a shared cache store it: ``public`` (§5.2.2.9), ``s-maxage`` (§5.2.2.10),
      ``max-age`` > 0 or a future ``Expires`` (§4.2.1) without ``private`` / ``no-store``
      (§5.2.2.7, §5.2.2.5), ``must-revalidate`` on a request with ``Authorization`` (§3.5:
      a shared cache must not store such a response unless ``must-revalidate``, ``public``
      or ``s-maxage`` allows it). Judged on the headers even when the CDN answered
      ``DYNAMIC`` / ``BYPASS``: its cookie heuristic is what keeps it private, not the app
      (known trap CACHE-01). A qualified ``private="…"`` limits only the named fields.
    - warn: no ``Cache-Control`` (heuristic freshness, §4.2.2; CACHE-01c), or a
      ``Cache-Control`` that is neither ``private`` nor ``no-store`` (``no-cache``,
      ``max-age=0``: a shared cache may store it and revalidate).
    - error: no test account ("needs a test account"), the login failed, no answer, a WAF
      block, or a status other than 2xx (not the member's data).
    - pass: otherwise.

    Impact blocker: each fail means a shared cache may (or did) hand this member's data to
    the next visitor. Evidence: the caching fields of both answers (``Set-Cookie`` values
    redacted), the credentials' kind (``Cookie`` / ``Authorization``), never their values.
    """
    if not ctx.project.accounts:
        return Result.error(
            f"needs a test account: {target} is personal and is read logged in",
            {"url": target}, remediation=ADD_ACCOUNT,
        )
    account = ctx.project.accounts[0]
    evidence: dict = {"url": target, "account": account.label}
    try:
        credentials = log_in_as(ctx, account)
    except LoginFailed as exc:
        return Result.error(f"could not log in to read {target}: {exc}", evidence)
    sent = sorted({name for name, _ in credentials.headers})
    evidence["credentials"] = sent
    responses = [ctx.net.http.fetch(target, headers=(*credentials.headers, fresh(f"personal-{n}")))
                 for n in (1, 2)]
    evidence["responses"] = [{"status": r.status, "headers": cache_evidence(r.headers)} for r in responses]
    for response in responses:
        if problem := unreadable(target, response, account.label, evidence):
            return problem
    verdicts = [judge_personal(r.headers, authorization="Authorization" in sent) for r in responses]
    status = next((s for s in ("fail", "warn") if any(v[0] == s for v in verdicts)), "pass")
    reasons = list(dict.fromkeys(reason for _, found in verdicts for reason in found))
    evidence["reasons"] = reasons
    metrics = {"cache_hits": sum(bool(cache_hits(r.headers)) for r in responses)}
    if status == "pass":
        value = ", ".join(responses[0].header_fields("cache-control"))
        return Result.passed(f"{target} answers test account {account.label!r} with Cache-Control '{value}' "
                             "and was not served from a cache", evidence, metrics=metrics)
    summary = f"{target} (personal): {'; '.join(reasons)}"
    masked = [s for r in responses if (s := (r.header("cf-cache-status") or "").strip().upper())
              in ("DYNAMIC", "BYPASS", "MISS", "EXPIRED")]
    if status == "fail" and masked and not metrics["cache_hits"]:
        summary += (f"; only the CDN's own rules keep it out of its cache today "
                    f"(CF-Cache-Status: {masked[0]})")
    return Result(status, summary, evidence, remediation=PERSONAL_FIX, metrics=metrics)


def _assets(target: str, ctx: Context, found: Findings) -> list[str]:
    """Same-site scripts, stylesheets and images of the preferred host's root and the
    project's page endpoints (any host of the project), at most ``MAX_ASSETS``."""
    pages = fetch_pages(target, ctx, found)
    others = [u for u in html_pages(ctx.project) if urlsplit(u).hostname != target]
    for url in others:
        exchange = ctx.net.http.follow(url).final
        if exchange.error is None and exchange.status == 200:
            pages.append(exchange)
    urls: list[str] = []
    for page in pages:
        media = effective_content_type(page.header_fields("content-type")).split(";")[0].strip().lower()
        if media in HTML_TYPES:
            host = urlsplit(page.url).hostname or target
            urls += [u for u in asset_urls(page.body, page.url) if same_site(u, host, ctx.project.apex)]
    return list(dict.fromkeys(urls))[:MAX_ASSETS]


@check("performance.cache_static", stage=Stage.PERFORMANCE, impact=Impact.MEDIUM,
       title="Static assets cached for a day, fingerprinted ones immutable", targets=preferred_host,
       timeout_s=60.0)
def cache_static(target: str, ctx: Context) -> Result:
    """The same-site static assets the pages load are cached for at least a day.

    Assets: ``<script src>``, ``<link rel=stylesheet href>`` and ``<img src>`` of
    ``https://<preferred host>/`` and of the project's HTML page endpoints, on the project's
    own names (the host or under the apex), at most 20, each fetched anonymously with GET
    (redirects followed, body capped). Rules (``checks/engine/caching.py: judge_static``):

    - fail: an asset that cannot be cached (``no-store``, ``no-cache``, ``private``, or no
      freshness lifetime: no ``max-age`` or ``Expires``, RFC 9111 §4.2.1).
    - warn: a lifetime under one day (86400 s); a fingerprinted name (a content hash in the
      file name: ``app.3f9a1c.js``, ``index-BxY3kq9Z.js``) without ``immutable`` (RFC 8246);
      a ``Set-Cookie`` on an asset (Cloudflare does not cache a response that sets a cookie,
      Cloudflare docs "Default cache behavior"; known trap CACHE-01b).
    - error: a page or an asset could not be read (DNS, TLS, timeout, WAF block, non-2xx)
      and nothing failed.
    - skipped: the pages load no same-site asset.
    - pass: every asset cached a day or more, ``immutable`` when fingerprinted, no cookie.
    """
    found = Findings()
    urls = _assets(target, ctx, found)
    judged: list[dict] = []
    for url in urls:
        response = ctx.net.http.follow(url).final
        if response.error or not 200 <= (response.status or 0) < 300:
            found.untested.append({"url": url, "reason": response.error or f"HTTP {response.status}"})
            continue
        status, reasons, lifetime = judge_static(url, response.headers)
        judged.append({"url": url, "status": status, "lifetime_s": lifetime, "reasons": reasons,
                       "headers": cache_evidence(response.headers)})
    evidence = {"assets": judged, "untested": found.untested, "pages": found.checked}
    metrics = {"assets": len(judged), "short_lived": sum(1 for a in judged if (a["lifetime_s"] or 0) < DAY_S)}
    bad = [a for a in judged if a["status"] == "fail"]
    weak = [a for a in judged if a["status"] == "warn"]
    fix = ("Serve static assets with Cache-Control: public, max-age=31536000, immutable when the file "
           "name carries a content hash (max-age of a day or more otherwise), and never a Set-Cookie.")
    phrases = [f"{a['url']}: {', '.join(a['reasons'])}" for a in bad + weak]
    if bad:
        return Result.fail(first_few(phrases, separator="; "), evidence, remediation=fix, metrics=metrics)
    if found.untested or found.blocked:
        reasons = list(dict.fromkeys(u["reason"] for u in found.untested))
        return Result.error(f"could not test: {first_few(reasons, separator='; ')}", evidence,
                            metrics=metrics)
    if weak:
        return Result.warn(first_few(phrases, separator="; "), evidence, remediation=fix, metrics=metrics)
    if not judged:
        return Result.skipped(f"the pages of {target} load no same-site script, stylesheet or image",
                              evidence)
    return Result.passed(f"{len(judged)} static assets cached for a day or more, fingerprinted ones "
                         "immutable", evidence, metrics=metrics)
