"""One canonical host, used consistently: where every way of typing the site lands."""

from __future__ import annotations

from urllib.parse import urlsplit

from checks.engine.checks.content import canonical_links
from checks.engine.net.http import HttpExchange
from checks.engine.parallel import parallel_map
from checks.engine.registry import Context, apex_only, check
from checks.engine.result import Impact, Result, Stage
from checks.engine.waf import blocked_result


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}"


def start_urls(ctx: Context, apex: str) -> list[str]:
    """``http://`` and ``https://`` of the apex, and of ``www`` when the project has it."""
    hosts = [apex] + ([f"www.{apex}"] if f"www.{apex}" in ctx.project.hosts else [])
    return [f"{scheme}://{host}/" for host in hosts for scheme in ("http", "https")]


@check(
    "http.canonical_host",
    stage=Stage.EDGE,
    impact=Impact.MEDIUM,
    title="One canonical host, used consistently",
    targets=apex_only,
)
def canonical_host(target: str, ctx: Context) -> Result:
    """Every way of typing the site lands on the same ``https://`` origin, that origin is the
    project's canonical host, and its page does not name another one as canonical.

    Starts at ``http://`` and ``https://`` of the apex and of ``www`` (when the project has
    it) and follows each redirect chain to the page it ends on. One site on two origins splits
    cookies, sessions, HSTS and search ranking (RFC 6454 §3.2: the origin is the scheme, host
    and port); the page's declared canonical (``<link rel=canonical>``, RFC 6596 §3, or a
    ``Link`` field, RFC 8288 §3) tells search engines which one is real.
    - fail: the start URLs end on different origins (each listed).
    - warn: they agree, but on another host than the project's canonical host (the project
      setting or the redirects are wrong); the landing page declares a canonical URL on
      another origin.
    - pass: every start URL that reaches a page lands on ``https://<canonical host>``, which
      declares no other origin as canonical.
    - error: fewer than two start URLs reach a page (nothing to compare), or a WAF blocked
      the scanner. A start URL that errors, loops or is refused is left out and listed in
      ``evidence.unreached``: ``http.https_redirect`` and ``http.canonical_redirect`` judge it.
    """
    landings: dict[str, HttpExchange] = {}
    unreached: dict[str, str] = {}
    starts = start_urls(ctx, target)
    # All at once: four slow pages one after another would outlast the check's time limit.
    chains = parallel_map(ctx.net.http.follow, starts, name="canonical")
    for start, chain in zip(starts, chains, strict=True):
        if chain.end == "final" and not chain.final.error:
            landings[start] = chain.final
        else:
            unreached[start] = chain.final.error or chain.end.replace("_", " ")
    evidence: dict = {
        "landings": {start: page.url for start, page in landings.items()},
        "unreached": unreached,
        "canonical_host": ctx.project.preferred_host,
    }
    for page in landings.values():
        if blocked := blocked_result(page, evidence):
            return blocked
    if len(landings) < 2:
        return Result.error(
            f"could not test: only {len(landings)} of {len(landings) + len(unreached)} start URLs "
            "reach a page", evidence,
        )
    origins = sorted({_origin(page.url) for page in landings.values()})
    if len(origins) > 1:
        where = "; ".join(f"{start} → {_origin(page.url)}" for start, page in landings.items())
        return Result.fail(
            f"visitors land on {len(origins)} origins: {where}", evidence,
            remediation=(f"Pick https://{ctx.project.preferred_host} and answer every other "
                         "start with a 301 to it, same path."),
        )
    landing = origins[0]
    declared = sorted({_origin(url) for page in landings.values() for url in canonical_links(page)})
    evidence["declared_canonical"] = declared
    if urlsplit(landing).hostname != ctx.project.preferred_host:
        return Result.warn(
            f"every start lands on {landing}, but the project's canonical host is "
            f"{ctx.project.preferred_host}", evidence,
            remediation=("Set the project's canonical host to the one the site uses, or change "
                         f"the redirects to end on https://{ctx.project.preferred_host}."),
        )
    others = [origin for origin in declared if origin != landing]
    if others:
        return Result.warn(
            f"visitors land on {landing}, but its page declares {others[0]} as canonical",
            evidence,
            remediation=f"Point rel=canonical at {landing} (same path) on every page.",
        )
    return Result.passed(f"all {len(landings)} start URLs land on {landing}", evidence)
