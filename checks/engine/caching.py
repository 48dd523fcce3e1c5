"""Reading HTTP caching from response headers (RFC 9111), for stage 4's caching checks.

Plain functions over header fields: ``cache_control`` parses the directives, ``judge_personal``
says whether a shared cache may store (or did serve) a response that belongs to one member,
``judge_static`` whether a static asset is cached long enough, and ``fingerprinted`` whether an
asset's file name carries a content hash. No network, no Django.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

DAY_S = 86_400  # stage 4's floor for a static asset's freshness lifetime
# CF-Cache-Status values meaning the answer came out of Cloudflare's cache (Cloudflare docs,
# "Cloudflare cache responses"): HIT, and a stale or revalidated copy served from it.
CF_FROM_CACHE = ("HIT", "STALE", "UPDATING", "REVALIDATED")
CACHE_HEADERS = ("Cache-Control", "Expires", "Vary", "Age", "CF-Cache-Status", "X-Cache", "Set-Cookie")
# RFC 9110 §5.6.2 token, §5.6.4 quoted-string: directive = token [ "=" ( token / quoted-string ) ]
_DIRECTIVE = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,\s]*))?\s*(?:,|$)')
# A content hash in a file name, as bundlers write it: webpack "[name].[contenthash].js" (hex,
# 20 by default, often cut to 6–8), Rollup/Vite "[name]-[hash].js" (8 base64url characters).
# A name segment (split on "." "-" "_") is a hash when it is 6+ hex digits with a digit in it,
# or 8+ letters and digits mixing upper case, lower case and digits (Vite's "BxY3kq9Z").
_HEX_HASH = re.compile(r"^(?=[0-9a-f]*[0-9])[0-9a-f]{6,}$")
_B64_HASH = re.compile(r"^(?=.*[0-9])(?=.*[a-z])(?=.*[A-Z])[A-Za-z0-9]{8,}$")
_SEGMENTS = re.compile(r"[.\-_~]")


def cache_control(fields: list[str]) -> dict[str, str | None]:
    """The directives of every ``Cache-Control`` field (RFC 9111 §5.2; several fields are one
    comma-separated list, RFC 9110 §5.3), names lower-cased, values unquoted (``None`` when a
    directive has no argument). A repeated directive keeps its first value. Unparseable
    pieces are skipped."""
    directives: dict[str, str | None] = {}
    for value in fields:
        for match in _DIRECTIVE.finditer(value):
            if not match.group(1):
                continue
            name, argument = match.group(1).lower(), match.group(2)
            if argument is not None and argument.startswith('"'):
                argument = re.sub(r"\\(.)", r"\1", argument[1:-1])
            directives.setdefault(name, argument)
    return directives


def seconds(value: str | None) -> int | None:
    """A delta-seconds argument (RFC 9111 §1.2.2) as an int; ``None`` when not a number."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def freshness_s(directives: dict[str, str | None], expires: str | None, date: str | None, *,
                shared: bool) -> int | None:
    """The explicit freshness lifetime (RFC 9111 §4.2.1): ``s-maxage`` (shared caches only),
    then ``max-age``, then ``Expires`` minus ``Date``; ``None`` when none is given. An
    ``Expires`` that is not a date counts as already expired (0, §5.3)."""
    for name in (("s-maxage", "max-age") if shared else ("max-age",)):
        if name in directives and (value := seconds(directives[name])) is not None:
            return value
    if expires is None:
        return None
    try:
        until = parsedate_to_datetime(expires)
        now = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError):
        return 0
    if until is None or now is None or until.tzinfo is None or now.tzinfo is None:
        return 0
    return max(0, int((until - now).total_seconds()))


def is_private(directives: dict[str, str | None]) -> bool:
    """``no-store`` (RFC 9111 §5.2.2.5) or an unqualified ``private`` (§5.2.2.7). A qualified
    ``private="Set-Cookie"`` limits only the named fields: the body stays shareable."""
    return "no-store" in directives or ("private" in directives and not directives["private"])


def cache_hits(headers: list[tuple[str, str]]) -> list[str]:
    """The signs that a response came out of a cache, as ``"Name: value"``: an ``Age`` field
    (RFC 9111 §5.1: the response was not generated or validated by the origin for this
    request), ``CF-Cache-Status`` among ``CF_FROM_CACHE``, an ``X-Cache`` naming a hit
    (CloudFront "Hit from cloudfront", Fastly "HIT, MISS", Varnish "HIT")."""
    signs = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "age" and value.strip():
            signs.append(f"Age: {value.strip()}")
        elif lowered == "cf-cache-status" and value.strip().upper() in CF_FROM_CACHE:
            signs.append(f"CF-Cache-Status: {value.strip()}")
        elif lowered == "x-cache" and "hit" in value.lower():
            signs.append(f"X-Cache: {value.strip()}")
    return signs


def judge_personal(headers: list[tuple[str, str]], *, authorization: bool) -> tuple[str, list[str]]:
    """``(status, reasons)`` for a response that is one member's own data, fetched logged in.

    - fail: served from a cache (``cache_hits``); or shared-cacheable: ``public``
      (RFC 9111 §5.2.2.9), ``s-maxage`` (§5.2.2.10), ``max-age`` over 0 or an ``Expires`` in
      the future (§4.2.1), ``must-revalidate`` on a request with ``Authorization``
      (§3.5 lets a shared cache store it) — each unless ``private`` or ``no-store``
      (§5.2.2.7, §5.2.2.5). Judged on the headers, not on what the CDN did this time: a
      ``CF-Cache-Status: DYNAMIC`` or ``BYPASS`` only means its cookie heuristic skipped it.
    - warn: no ``Cache-Control`` at all (a cache may use heuristic freshness, §4.2.2), or a
      ``Cache-Control`` that is neither ``private`` nor ``no-store`` (``no-cache``,
      ``max-age=0``: a shared cache may store it and revalidate, §5.2.2.4).
    - pass: ``private`` or ``no-store``, and no sign of a cache hit.
    """
    reasons: list[tuple[int, str]] = []
    if signs := cache_hits(headers):
        reasons.append((0, f"served from a cache ({', '.join(signs)})"))
    fields = [v for k, v in headers if k.lower() == "cache-control"]
    directives = cache_control(fields)
    value = ", ".join(fields)
    if not is_private(directives):
        shared = _shared_cacheable(directives, headers, authorization)
        if shared:
            reasons.append((0, f"Cache-Control '{value}' lets shared caches store it ({shared})"
                            if fields else f"shared caches may store it ({shared})"))
        elif not fields:
            reasons.append((1, "no Cache-Control: caches may apply heuristic freshness (RFC 9111 §4.2.2)"))
        else:
            reasons.append((1, f"Cache-Control '{value}' is neither private nor no-store: "
                               "a shared cache may store it and revalidate"))
    if not reasons:
        return "pass", []
    worst = min(level for level, _ in reasons)
    return ("fail" if worst == 0 else "warn"), [text for _, text in sorted(reasons, key=lambda r: r[0])]


def _shared_cacheable(directives: dict[str, str | None], headers: list[tuple[str, str]],
                      authorization: bool) -> str:
    """Why a shared cache may store this response (``""``: it may not say so explicitly)."""
    why = []
    if "public" in directives:
        why.append("public")
    if "s-maxage" in directives:
        why.append(f"s-maxage={directives['s-maxage']}")
    max_age = seconds(directives.get("max-age"))
    if max_age:
        why.append(f"max-age={max_age} without private")
    expires = next((v for k, v in headers if k.lower() == "expires"), None)
    date = next((v for k, v in headers if k.lower() == "date"), None)
    explicit = max_age is not None or "s-maxage" in directives
    if not explicit and expires is not None and freshness_s({}, expires, date, shared=True):
        why.append("Expires in the future")
    if authorization and "must-revalidate" in directives and not why:
        why.append("must-revalidate with Authorization")
    return ", ".join(why)


def fingerprinted(url: str) -> bool:
    """The file name carries a content hash (``_HEX_HASH`` or ``_B64_HASH`` as one of its
    ``.``/``-``/``_`` segments, the extension aside): ``app.3f9a1c.js``,
    ``index-BxY3kq9Z.js``, ``main.8a3f09d2e1b4c5a6f7e8.css``. ``jquery-3.7.1.min.js`` is not."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return any(_HEX_HASH.match(s) or _B64_HASH.match(s) for s in _SEGMENTS.split(stem))


def judge_static(url: str, headers: list[tuple[str, str]]) -> tuple[str, list[str], int | None]:
    """``(status, reasons, lifetime_s)`` for a static asset (script, stylesheet, image).

    - fail: not cacheable at all: ``no-store``, ``no-cache``, ``private`` (no CDN may keep
      it), or no freshness lifetime (``max-age``, ``Expires``) or a lifetime of 0.
    - warn: a lifetime under one day (``DAY_S``); a fingerprinted name (``fingerprinted``)
      without ``immutable`` (RFC 8246: the browser revalidates it on reload otherwise); a
      ``Set-Cookie`` on it (Cloudflare does not cache a response that sets a cookie —
      Cloudflare docs, "Default cache behavior" — and another cache may hand the cookie to
      everyone).
    - pass: cached for a day or more, ``immutable`` when fingerprinted, no ``Set-Cookie``.
    """
    directives = cache_control([v for k, v in headers if k.lower() == "cache-control"])
    expires = next((v for k, v in headers if k.lower() == "expires"), None)
    date = next((v for k, v in headers if k.lower() == "date"), None)
    lifetime = freshness_s(directives, expires, date, shared=False)
    reasons: list[tuple[int, str]] = []
    blocking = [d for d in ("no-store", "no-cache", "private") if d in directives]
    if blocking:
        reasons.append((0, f"not cacheable ({', '.join(blocking)})"))
    elif not lifetime:
        reasons.append((0, "no freshness lifetime (no max-age or Expires)" if lifetime is None
                        else "a freshness lifetime of 0 s"))
    elif lifetime < DAY_S:
        reasons.append((1, f"cached {lifetime} s, under a day ({DAY_S} s)"))
    if fingerprinted(url) and "immutable" not in directives and not blocking:
        reasons.append((1, "fingerprinted name without immutable"))
    if any(k.lower() == "set-cookie" for k, _ in headers):
        reasons.append((1, "Set-Cookie on a static asset (Cloudflare then bypasses its cache)"))
    if not reasons:
        return "pass", [], lifetime
    worst = min(level for level, _ in reasons)
    return ("fail" if worst == 0 else "warn"), [t for _, t in sorted(reasons, key=lambda r: r[0])], lifetime


def cache_evidence(headers: list[tuple[str, str]]) -> list[list[str]]:
    """The caching-related fields of a response as ``[name, value]`` pairs (``CACHE_HEADERS``);
    a ``Set-Cookie`` keeps only the cookie's name, never its value."""
    wanted = {h.lower() for h in CACHE_HEADERS}
    out = []
    for name, value in headers:
        if name.lower() not in wanted:
            continue
        if name.lower() == "set-cookie":
            value = value.split("=", 1)[0].strip() + "=[redacted]"
        out.append([name, value])
    return out
