"""Header checks of the edge stage: browser security headers on every host, login cookies.

The fields are read the way browsers read them, not with a regex over a joined header:
list-valued fields by WHATWG Fetch "get, decode, and split" (RFC 9110 §5.3 combining), CSP by
CSP3 §2.2.1, and each ``Set-Cookie`` field on its own (RFC 6265bis §5.6) by the standard
library's Set-Cookie parser.
"""

from __future__ import annotations

import datetime
import re
import time
from dataclasses import dataclass
from http.cookiejar import parse_ns_headers

from checks.engine.net.http import HttpExchange
from checks.engine.registry import Context, check, every_host, url_targets
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import ProjectSpec
from checks.engine.waf import blocked_result

_ASCII_WS = " \t\n\f\r"
_NONE = "'none'"
_DIRECTIVE_NAME = re.compile(r"[a-z0-9-]+")  # CSP3 §2.2: directive-name = 1*( ALPHA / DIGIT / "-" )
REFERRER_POLICIES = (
    "no-referrer", "no-referrer-when-downgrade", "same-origin", "origin", "strict-origin",
    "origin-when-cross-origin", "strict-origin-when-cross-origin", "unsafe-url",
)
SECURITY_FIELDS = (
    "content-security-policy", "content-security-policy-report-only", "x-content-type-options",
    "x-frame-options", "referrer-policy",
)


def split_list(fields: list[str]) -> list[str]:
    """WHATWG Fetch "get, decode, and split": every field of one name combined with ", "
    (RFC 9110 §5.3) and split on commas outside double-quoted strings, each value stripped of
    spaces and tabs. ``["nosniff", 'a, "b,c"']`` → ``["nosniff", "a", '"b,c"']``; ``[]`` → ``[]``
    (Fetch's null: the header is absent). Empty values are kept: ``["a,,b"]`` → ``["a", "", "b"]``.
    """
    if not fields:
        return []
    values: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in ", ".join(fields):
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == ",":
            values.append("".join(current).strip(" \t"))
            current = []
        else:
            quoted = char == '"'
            current.append(char)
    values.append("".join(current).strip(" \t"))
    return values


def parse_policy(serialized: str) -> dict[str, list[str]]:
    """One serialized CSP (CSP3 §2.2.1) as {directive name (lower-case): value tokens}, in order.
    Empty and non-ASCII tokens are skipped; a repeated directive keeps its first occurrence;
    a name outside ``1*(ALPHA / DIGIT / "-")`` is dropped."""
    policy: dict[str, list[str]] = {}
    for token in serialized.split(";"):
        token = token.strip(_ASCII_WS)
        if not token or not token.isascii():
            continue
        name, *value = re.split(r"[ \t\n\f\r]+", token)
        name = name.lower()
        if _DIRECTIVE_NAME.fullmatch(name) and name not in policy:
            policy[name] = value
    return policy


def csp_policies(fields: list[str]) -> list[dict[str, list[str]]]:
    """CSP3 §2.2.2: the enforced policies of the ``Content-Security-Policy`` fields — each
    comma-separated serialized policy of every field (all are enforced), minus empty ones."""
    return [policy for serialized in split_list(fields) if (policy := parse_policy(serialized))]


@dataclass(frozen=True)
class HeaderVerdict:
    """One protection: ``name`` as the summary says it, ``state`` ``ok`` / ``missing`` /
    ``invalid`` (invalid counts as missing: browsers ignore it), ``detail`` for people."""

    name: str
    state: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def as_evidence(self) -> dict:
        return {"header": self.name, "verdict": self.state, "detail": self.detail}


def _judge_csp(response: HttpExchange, policies: list[dict[str, list[str]]]) -> HeaderVerdict:
    name = "Content-Security-Policy"
    if policies:
        directives = list(dict.fromkeys(d for p in policies for d in p))
        return HeaderVerdict(name, "ok", f"Content-Security-Policy: {', '.join(directives)}")
    if response.header_fields("content-security-policy"):
        return HeaderVerdict(name, "invalid", "no directive a browser can read (CSP3 §2.2.1)")
    if response.header_fields("content-security-policy-report-only"):
        return HeaderVerdict(name, "missing", "only Content-Security-Policy-Report-Only: it blocks nothing")
    return HeaderVerdict(name, "missing", "not sent")


def _judge_nosniff(response: HttpExchange) -> HeaderVerdict:
    """WHATWG Fetch "determine nosniff": only the first value of the combined list counts."""
    name = "X-Content-Type-Options: nosniff"
    values = split_list(response.header_fields("x-content-type-options"))
    if not values:
        return HeaderVerdict(name, "missing", "not sent")
    if values[0].lower() == "nosniff":
        return HeaderVerdict(name, "ok", "X-Content-Type-Options: nosniff")
    return HeaderVerdict(name, "invalid", f"the first value is {values[0]!r}, not nosniff")


def _judge_framing(response: HttpExchange, policies: list[dict[str, list[str]]]) -> HeaderVerdict:
    """CSP frame-ancestors wins over X-Frame-Options; X-Frame-Options (RFC 7034 §2.1) takes one
    value, so a combined list of different values is invalid."""
    name = "frame-ancestors or X-Frame-Options"
    ancestors = next((p["frame-ancestors"] for p in policies if "frame-ancestors" in p), None)
    if ancestors is not None:
        # An empty source list matches nothing: the same as 'none' (CSP3 §6.4.2).
        return HeaderVerdict(name, "ok", f"frame-ancestors {' '.join(ancestors) or _NONE}")
    values = split_list(response.header_fields("x-frame-options"))
    if not values:
        return HeaderVerdict(name, "missing", "neither CSP frame-ancestors nor X-Frame-Options")
    distinct = list(dict.fromkeys(v.upper() for v in values))
    if len(distinct) > 1:
        return HeaderVerdict(name, "invalid", f"X-Frame-Options has {len(distinct)} different values "
                             f"({', '.join(distinct)}); RFC 7034 §2.1 allows one")
    if distinct[0] in ("DENY", "SAMEORIGIN"):
        return HeaderVerdict(name, "ok", f"X-Frame-Options: {distinct[0]}")
    return HeaderVerdict(name, "invalid", f"X-Frame-Options {values[0]!r} protects nothing: "
                         "only DENY and SAMEORIGIN work (ALLOW-FROM is obsolete)")


def _judge_referrer(response: HttpExchange) -> HeaderVerdict:
    """W3C Referrer Policy §8.1: the last known token wins; unknown tokens are ignored."""
    name = "Referrer-Policy"
    fields = response.header_fields("referrer-policy")
    known = [v.lower() for v in split_list(fields) if v.lower() in REFERRER_POLICIES]
    if known:
        return HeaderVerdict(name, "ok", f"Referrer-Policy: {known[-1]}")
    if fields:
        return HeaderVerdict(name, "invalid", f"no known policy in {', '.join(fields)!r}")
    return HeaderVerdict(name, "missing", "not sent")


def judge_security_headers(response: HttpExchange) -> list[HeaderVerdict]:
    """The four protections of one response, in a fixed order: CSP, nosniff, framing, referrer."""
    policies = csp_policies(response.header_fields("content-security-policy"))
    return [_judge_csp(response, policies), _judge_nosniff(response),
            _judge_framing(response, policies), _judge_referrer(response)]


_ADVICE = {
    "Content-Security-Policy": "Content-Security-Policy (try it first as "
                               "Content-Security-Policy-Report-Only: default-src 'self')",
    "X-Content-Type-Options: nosniff": "X-Content-Type-Options: nosniff",
    "frame-ancestors or X-Frame-Options": "X-Frame-Options: DENY (or CSP frame-ancestors 'self')",
    "Referrer-Policy": "Referrer-Policy: strict-origin-when-cross-origin",
}


@check(
    "http.security_headers",
    stage=Stage.EDGE,
    impact=Impact.LOW,
    title="Browser security headers",
    targets=every_host,
)
def security_headers(target: str, ctx: Context) -> Result:
    """``https://host/`` sends the headers that make browsers defend the page.

    Rules: a Content-Security-Policy (W3C CSP3 §2.2.1; Report-Only does not count); the first
    X-Content-Type-Options value is ``nosniff`` (WHATWG Fetch "determine nosniff"); framing
    refused by CSP ``frame-ancestors`` or ``X-Frame-Options: DENY``/``SAMEORIGIN`` (RFC 7034
    §2.1 — different values combined are invalid and count as missing); a known
    Referrer-Policy token (W3C Referrer Policy §8.1). Repeated fields are combined as one list
    (RFC 9110 §5.3).
    - pass: all four present and valid.
    - warn: any missing or invalid; the summary names each one (never fail: defence in depth).
    - skipped: ``https://host/`` is a redirect, which shows no page (its target host is judged).
    - fail: never.
    - error: no HTTPS response (DNS, TLS, timeout, outbound policy).
    """
    url = f"https://{target}/"
    response = ctx.net.http.fetch(url)
    if response.error:
        return Result.error(f"could not test: {response.error}", {"url": url, **response.as_evidence()})
    if blocked := blocked_result(response, {"url": url, "status": response.status}):
        return blocked
    if response.is_redirect:
        return Result.skipped(f"{url} redirects to {response.location}: it shows no page",
                              {"url": url, "status": response.status, "location": response.location})
    verdicts = judge_security_headers(response)
    evidence = {
        "url": url,
        "status": response.status,
        "fields": [[k, v] for k, v in response.headers if k.lower() in SECURITY_FIELDS],
        "verdicts": [v.as_evidence() for v in verdicts],
    }
    missing = [v.name for v in verdicts if not v.ok]
    if missing:
        return Result.warn(
            f"{url} lacks {', '.join(missing)}", evidence,
            remediation=f"Send on every page of {target}: " + "; ".join(_ADVICE[m] for m in missing) + ".",
        )
    return Result.passed("; ".join(v.detail for v in verdicts), evidence)


# Login cookies

SESSION_WORDS = ("session", "sid", "token", "auth")
CSRF_WORDS = ("csrf", "xsrf")  # XSRF-TOKEN: Angular's and axios's name for the same thing
NAMELESS = "(no name)"


@dataclass(frozen=True)
class SetCookie:
    """One ``Set-Cookie`` field: the cookie's name, its attributes (names lower-case, in
    order; ``expires`` as epoch seconds or ``None``) and the raw attribute text for evidence.
    The value is never kept: it may be a session secret."""

    name: str
    attributes: tuple[tuple[str, str | float | None], ...]
    attribute_text: str

    def has(self, attribute: str) -> bool:
        return any(name == attribute for name, _ in self.attributes)

    def last(self, attribute: str) -> str | float | None:
        """The last value of ``attribute`` (RFC 6265bis §5.7: the last one counts), or ``None``."""
        values = [value for name, value in self.attributes if name == attribute]
        return values[-1] if values else None


def parse_set_cookie(field: str) -> SetCookie:
    """One ``Set-Cookie`` field value, parsed per RFC 6265bis §5.6 by
    ``http.cookiejar.parse_ns_headers`` (split on ``;``, attribute names case-insensitive,
    unknown attributes kept). ``http.cookies.SimpleCookie`` is not used: it drops the whole
    field on an unknown flag (``Partitioned``) and reads ``Priority=High`` as a second cookie.
    A cookie with an empty name (``=x``), which browsers keep, is named ``(no name)``."""
    parsed = parse_ns_headers([field]) or parse_ns_headers([NAMELESS + field.lstrip(" \t")])
    pairs = parsed[0] if parsed else [(NAMELESS, None)]
    name = pairs[0][0]
    # The stdlib appends version=0 to every cookie; RFC 6265bis has no Version attribute.
    attributes = tuple((k.lower(), v) for k, v in pairs[1:] if k.lower() != "version")
    return SetCookie(name, attributes, field.partition(";")[2].strip(" \t"))


def _deletes(cookie: SetCookie) -> bool:
    """The field removes the cookie: Max-Age ≤ 0 (RFC 6265bis §5.6.2, wins over Expires) or an
    Expires date in the past (§5.6.1)."""
    max_ages = [v for n, v in cookie.attributes if n == "max-age" and isinstance(v, str)
                and re.fullmatch(r"-?[0-9]+", v)]  # an invalid Max-Age is ignored, not the last
    if max_ages:
        return int(max_ages[-1]) <= 0
    raw = [v.strip() for k, _, v in (a.partition("=") for a in cookie.attribute_text.split(";"))
           if k.strip().lower() == "expires"]
    expires = cookie_date(raw[-1]) if raw else None
    return expires is not None and expires <= time.time()


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def cookie_date(text: str) -> float | None:
    """An Expires value as epoch seconds, by RFC 6265bis §5.1.1's algorithm (which browsers
    follow): the first time, day, month and year tokens; a two-digit year 70–99 is 19xx and
    00–69 is 20xx; ``None`` when the date is not one (the attribute is then ignored)."""
    found: dict[str, int | tuple[int, int, int]] = {}
    for token in re.split(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+", text):
        if "time" not in found and (m := re.fullmatch(r"(\d{1,2}):(\d{1,2}):(\d{1,2})\D*", token)):
            found["time"] = tuple(int(g) for g in m.groups())
        elif "day" not in found and (m := re.fullmatch(r"(\d{1,2})\D*", token)):
            found["day"] = int(m.group(1))
        elif "month" not in found and token[:3].lower() in _MONTHS:
            found["month"] = _MONTHS.index(token[:3].lower()) + 1
        elif "year" not in found and (m := re.fullmatch(r"(\d{2,4})\D*", token)):
            year = int(m.group(1))
            found["year"] = year + (1900 if 70 <= year <= 99 else 2000 if year <= 69 else 0)
    if len(found) < 4 or found["year"] < 1601 or not 1 <= found["day"] <= 31:
        return None
    hour, minute, second = found["time"]
    try:
        moment = datetime.datetime(found["year"], found["month"], found["day"], hour, minute, second,
                                   tzinfo=datetime.UTC)
    except ValueError:
        return None
    return moment.timestamp()


def is_session_like(name: str) -> bool:
    """A name that says session, sid, token or auth, but not csrf / xsrf (a CSRF token is read by
    the page's script on purpose, so HttpOnly would break it)."""
    lowered = name.lower()
    return not any(w in lowered for w in CSRF_WORDS) and any(w in lowered for w in SESSION_WORDS)


def judge_cookie(cookie: SetCookie) -> tuple[list[str], list[str]]:
    """``(problems, warnings)``: problems fail (no Secure, RFC 6265bis §4.1.2.5; no HttpOnly on a
    session-like cookie, §4.1.2.6), warnings warn (no valid SameSite, §4.1.2.7 / §5.6.7;
    ``SameSite=None`` without Secure, which browsers reject, §5.7)."""
    secure = cookie.has("secure")
    problems = [] if secure else ["no Secure"]
    if is_session_like(cookie.name) and not cookie.has("httponly"):
        problems.append("no HttpOnly")
    samesite = cookie.last("samesite")
    samesite = samesite.lower() if isinstance(samesite, str) else None
    warnings = []
    if samesite not in ("strict", "lax", "none"):
        warnings.append("no SameSite")
    elif samesite == "none" and not secure:
        warnings.append("SameSite=None without Secure")
    return problems, warnings


def _cookie_evidence(cookie: SetCookie) -> dict:
    """``{name, attributes, verdict, problems}``; verdict ``pass``/``warn``/``fail``/``deletes``."""
    deletes = _deletes(cookie)
    problems, warnings = ([], []) if deletes else judge_cookie(cookie)
    verdict = "deletes" if deletes else "fail" if problems else "warn" if warnings else "pass"
    return {"name": cookie.name, "attributes": cookie.attribute_text, "verdict": verdict,
            "problems": problems + warnings}


@url_targets
def login_endpoints(project: ProjectSpec) -> list[str]:
    """Targets: the URL of each login endpoint."""
    return list(dict.fromkeys(e.url for e in project.endpoints if e.kind == "login"))


def _why_none(response: HttpExchange, cookies: list[dict]) -> str:
    if cookies:
        return f"; it only deletes {', '.join(c['name'] for c in cookies)}"
    return f" (it redirects to {response.location})" if response.is_redirect else ""


def _of(part: list, whole: list, verb_one: str, verb_many: str) -> tuple[str, str]:
    """``1 of 2 cookies … is`` / ``2 of 2 cookies … are`` / ``1 of 1 cookie … is``."""
    noun = "cookie" if len(whole) == 1 else "cookies"
    return f"{len(part)} of {len(whole)} {noun}", verb_one if len(part) == 1 else verb_many


def _listing(cookies: list[dict]) -> str:
    return ", ".join(f"{c['name']} ({', '.join(c['problems'])})" for c in cookies)


@check(
    "http.login_cookies",
    stage=Stage.EDGE,
    impact=Impact.MEDIUM,
    title="Login cookies are Secure, HttpOnly and SameSite",
    targets=login_endpoints,
)
def login_cookies(target: str, ctx: Context) -> Result:
    """Every cookie the login page sets (a GET, no credentials sent) carries the flags that
    keep it off plain HTTP and away from scripts and cross-site requests.

    Each ``Set-Cookie`` field is parsed on its own (RFC 6265bis §5.6); a field that deletes a
    cookie (Max-Age ≤ 0 or an Expires in the past) stores nothing and is not judged. Cookie
    values are never put in the evidence.
    - fail: a cookie without Secure (RFC 6265bis §4.1.2.5); a session-like cookie (name with
      session, sid, token or auth, not csrf or xsrf) without HttpOnly (§4.1.2.6).
    - warn: a cookie without a valid SameSite (§4.1.2.7), or ``SameSite=None`` without Secure.
    - pass: every cookie is fine.
    - skipped: the response sets no cookie (or only deletes cookies).
    - error: the login URL could not be fetched.
    """
    response = ctx.net.http.fetch(target)
    if response.error:
        return Result.error(f"could not test: {response.error}", {"url": target, **response.as_evidence()})
    cookies = [_cookie_evidence(parse_set_cookie(f)) for f in response.header_fields("set-cookie")]
    evidence: dict = {"url": target, "status": response.status, "cookies": cookies}
    if blocked := blocked_result(response, evidence):
        return blocked
    if response.is_redirect:
        evidence["location"] = response.location
    judged = [c for c in cookies if c["verdict"] != "deletes"]
    if not judged:
        return Result.skipped(f"{target} sets no cookie{_why_none(response, cookies)}", evidence)
    failed = [c for c in judged if c["verdict"] == "fail"]
    if failed:
        counted, verb = _of(failed, judged, "is", "are")
        return Result.fail(
            f"{counted} from {target} {verb} unsafe: {_listing(failed)}", evidence,
            remediation="Give every cookie Secure and SameSite=Lax, and every session cookie HttpOnly: "
                        "Set-Cookie: sessionid=…; Path=/; Secure; HttpOnly; SameSite=Lax",
        )
    warned = [c for c in judged if c["verdict"] == "warn"]
    if warned:
        counted, verb = _of(warned, judged, "lacks", "lack")
        return Result.warn(
            f"{counted} from {target} {verb} a safe SameSite: {_listing(warned)}",
            evidence, remediation="Add SameSite=Lax (or Strict) to every cookie; SameSite=None needs Secure.",
        )
    names = ", ".join(c["name"] for c in judged)
    return Result.passed(f"{len(judged)} cookie{'s' if len(judged) != 1 else ''} from {target}, "
                         f"all Secure with SameSite, session cookies HttpOnly: {names}", evidence)
