"""Stage 4, performance: the p95 of each critical endpoint under light concurrency.

The figure is the 95th percentile of the total time (request sent → last byte of the body)
of N requests (default 50) at concurrency C (default 5) over C keep-alive connections, after
one warm-up request per connection (``checks/engine/perf/probe.py``; percentile method in
``checks/engine/perf/stats.py``). The target is the endpoint's ``target_p95_ms`` (default 300
ms, the agency's launch baseline: no RFC sets one). Cache and payload checks of this stage
live in ``caching.py``.
"""

from __future__ import annotations

import math
import threading

from checks.engine.net.login import LoginFailed, log_in, login_form
from checks.engine.perf.probe import ProbeReport, ProbeRequest, ProbeSettings, run_probe
from checks.engine.perf.stats import percentiles
from checks.engine.registry import Context, check, url_targets
from checks.engine.result import Impact, Result, Stage
from checks.engine.runner import wait_for_quiet
from checks.engine.spec import EndpointSpec, ProjectSpec
from checks.engine.waf import blocked_result

# The endpoints members wait on at launch (DESIGN: login, feed, membership check, profile,
# content access).
PERF_KINDS = ("login", "feed", "membership", "profile", "content")
SAFE_METHODS = ("GET", "HEAD")  # sent N times; anything else could change the client's data
MAX_ERROR_SHARE = 0.10  # more failed requests than this and the p95 of the rest means nothing
WARN_SHARE = 0.90  # p95 over 90 % of the target: one busy day from failing
PERCENTILE_METHOD = "statistics.quantiles(method='inclusive'): linear interpolation, type 7"
SHOWN_ERRORS = 3
# One probe at a time in a process: five endpoints probed at once would put 25 connections on
# the app, not the 5 the figure claims. A unit waits at most this long for its turn.
_PROBING = threading.Lock()
PROBE_WAIT_S = 60.0
# And not while other checks of this process run (``runner.LOAD``): their threads would be in
# the figure. Past this wait the probe measures anyway and the evidence says how many ran.
QUIET_WAIT_S = 60.0


@url_targets
def critical_endpoints(project: ProjectSpec) -> list[str]:
    """Targets: the URL of each endpoint of a kind in ``PERF_KINDS``, once each."""
    return list(dict.fromkeys(e.url for e in project.endpoints if e.kind in PERF_KINDS))


def _endpoint(project: ProjectSpec, url: str) -> EndpointSpec:
    found = next((e for e in project.endpoints if e.url == url and e.kind in PERF_KINDS), None)
    return found or EndpointSpec("content", url)  # a direct call on a URL the project lacks


@check("performance.p95", stage=Stage.PERFORMANCE, impact=Impact.HIGH,
       title="p95 latency under the endpoint's target", targets=critical_endpoints, timeout_s=200.0,
       measures_latency=True)
def p95(target: str, ctx: Context) -> Result:
    """The endpoint's p95 (ms) over N requests at concurrency C stays under its target.

    What is sent: a personal endpoint (``EndpointSpec.is_personal``: feed, membership, profile
    by default) is measured logged in as the project's first test account
    (``net/login.py``: form, cookie or bearer); other endpoints without credentials. The
    login endpoint, when the first test account logs in by form, is measured as that form
    POST (checking the password is the login's real cost: PBKDF2, bcrypt or Argon2 are slow by
    design); otherwise its page is measured with GET. Only GET and HEAD are sent to the other
    endpoints.

    Sources: no RFC sets a latency target: the default 300 ms is the agency's launch baseline
    (``target_p95_ms`` per endpoint). Status classes per RFC 9110 §15 (2xx and 3xx answered,
    4xx refused the request, 5xx failed it); 429 Too Many Requests per RFC 6585 §4; form login
    as ``application/x-www-form-urlencoded`` (WHATWG URL, urlencoded serializer); percentiles
    per Hyndman & Fan (1996) type 7 (``checks/engine/perf/stats.py``).

    Probes run one at a time (a lock per process): several endpoints probed at once would put
    C connections each on the app, and the figure would not be "at concurrency C". And they
    wait (at most 60 s) until no other check runs in this process (``runner.wait_for_quiet``):
    mid-audit, our own threads add tens of ms to every answer. Still busy after that, the probe
    measures anyway and ``others_running`` in the evidence counts the checks it ran beside.

    Verdicts, in this order:

    - skipped: a non-login endpoint declared with a method other than GET or HEAD (N requests
      could change the client's data; it is not measured).
    - error: a personal endpoint and no test account ("needs a test account"); the login
      failed (``LoginFailed``'s reason); the probes of other endpoints held the lock for over
      60 s.
    - fail: every warm-up request was sent and none answered within the request timeout
      (``http_timeout_s``, 10 s), and the target is under it.
    - error: no request reached the endpoint (DNS, policy, connection or TLS failure: the
      reason); the first answer was a WAF or rate-limit block page (``waf.py``); the first
      answer was a 4xx other than 429 (what would be measured is an error page, not the
      endpoint); any measured request answered 429 (a rate limit stopped the probe: good in
      itself, but no p95 at this concurrency).
    - fail: more than 10 % of the N requests failed (5xx, timeout, reset, or not sent before
      the probe's deadline): the endpoint does not hold concurrency C.
    - fail: p95, rounded half up to the millisecond, over ``target_p95_ms``.
    - warn: p95 over 90 % of the target (one busy day from failing).
    - pass: otherwise. p95 is computed over the successful requests; up to 10 % failed ones
      are counted and named in the summary.

    Metrics: ``p50_ms``, ``p95_ms``, ``p99_ms`` (total time), ``ttfb_p95_ms``, ``connect_ms``
    and ``tls_ms`` (median over the connections opened; ``tls_ms`` only over HTTPS),
    ``requests`` (N sent and answered or failed, unsent included), ``errors``,
    ``concurrency``; ms rounded to 0.1. Evidence: what was sent, the settings, percentiles of
    total and time to first byte, each connection's address, connect and TLS time, status
    counts, failures by kind and the first few error messages.
    """
    endpoint = _endpoint(ctx.project, target)
    request, measured, account = _request(endpoint, ctx)
    if isinstance(request, Result):
        return request
    settings = ProbeSettings.from_profile(ctx.net.profile)
    others_running = wait_for_quiet(QUIET_WAIT_S)
    if not _PROBING.acquire(timeout=PROBE_WAIT_S):
        return Result.error(f"could not measure {endpoint.url}: the probes of other endpoints held the "
                            f"network for over {PROBE_WAIT_S:g} s; run the performance stage again",
                            {"url": endpoint.url})
    try:
        report = run_probe(ctx.net.profile, ctx.net.dns, request, settings)
    finally:
        _PROBING.release()
    evidence = _evidence(endpoint, report, measured, account)
    if others_running:
        evidence["others_running"] = others_running
    return _verdict(endpoint, report, evidence)


def _request(endpoint: EndpointSpec, ctx: Context) -> tuple[ProbeRequest | Result, str, str | None]:
    """What to send N times, how to say it in the evidence, and the account used; or the
    ``Result`` that ends the check before measuring."""
    account = ctx.project.accounts[0] if ctx.project.accounts else None
    if endpoint.kind != "login" and endpoint.method not in SAFE_METHODS:
        return Result.skipped(
            f"not measured: {endpoint.method} {endpoint.url} may change data, and the probe sends "
            f"it {ctx.net.profile.perf_requests} times; only GET and HEAD endpoints are measured",
            {"url": endpoint.url, "method": endpoint.method}), "", None
    if endpoint.is_personal and account is None:
        return Result.error(
            f"needs a test account: {endpoint.url} ({endpoint.kind}) is personal and is measured "
            "logged in; none is set, so it could not be measured as a member",
            {"url": endpoint.url, "kind": endpoint.kind},
            remediation="Add a test account to the project (form login, session cookie or bearer token).",
        ), "", None
    if endpoint.kind == "login":
        if account is not None and account.login == "form" and account.secret and not account.problem:
            return _login_form(endpoint, ctx, account)
        return ProbeRequest(endpoint.url), "GET of the login page (no form test account)", None
    if not endpoint.is_personal:
        return ProbeRequest(endpoint.url, endpoint.method), endpoint.method, None
    try:
        credentials = log_in(ctx.net, ctx.project, account)
    except LoginFailed as exc:
        return Result.error(f"could not log in to measure {endpoint.url}: {exc}",
                            {"url": endpoint.url, "account": account.label}), "", account.label
    request = ProbeRequest(endpoint.url, endpoint.method, credentials.headers)
    return request, f"{endpoint.method} as test account {account.label!r}", account.label


def _login_form(endpoint: EndpointSpec, ctx: Context, account) -> tuple[ProbeRequest | Result, str, str]:
    """The login form POST, once checked to log in (so N answers are N real password checks,
    not N refusals)."""
    try:
        log_in(ctx.net, ctx.project, account)
    except LoginFailed as exc:
        return Result.error(f"could not measure the login: {exc}",
                            {"url": endpoint.url, "account": account.label}), "", account.label
    # The form as net/login.py sends it: the page's hidden fields and cookies, the form type.
    form = login_form(ctx.net, ctx.project, account)
    request = ProbeRequest(form.url, "POST", form.headers, form.body)
    return request, f"POST of the login form as test account {account.label!r}", account.label


def _verdict(endpoint: EndpointSpec, report: ProbeReport, evidence: dict) -> Result:
    n, c = report.settings.requests, report.settings.concurrency
    if not report.answered and _all_timed_out(endpoint, report):
        return Result.fail(
            f"no answer within {report.settings.timeout_s:g} s to any of the {len(report.warmup)} "
            f"warm-up requests (concurrency {c}): p95 is over the {endpoint.target_p95_ms} ms target",
            evidence, remediation="The endpoint does not answer in time even once: find what it waits on.")
    if not report.answered:
        first = next((s for s in report.warmup if s.error), None)
        reason = first.error if first else "no request was sent"
        return Result.error(f"could not measure {endpoint.url}: {reason}", evidence)
    if blocked := blocked_result(report.first, evidence):
        return blocked
    status = report.first.status or 0
    if 400 <= status < 500 and status != 429:
        who = f" to test account {evidence['account']!r}" if evidence.get("account") else ""
        return Result.error(
            f"could not measure {endpoint.url}: it answered HTTP {status}{who}, so the probe "
            "would time an error page", evidence)
    failures = report.failures()
    metrics = _metrics(report)
    if "HTTP 429" in failures:
        return Result.error(
            f"could not measure {endpoint.url}: rate-limited (HTTP 429 to {failures['HTTP 429']} of "
            f"{n} requests at concurrency {c})", evidence, metrics=metrics,
            remediation="Allow the Launch Ready scanner past the rate limit for the audit, then re-run.")
    if report.errors > MAX_ERROR_SHARE * n:
        return Result.fail(
            f"{report.errors} of {n} requests failed at concurrency {c} ({_failure_text(failures)})",
            evidence, metrics=metrics,
            remediation=("The endpoint does not hold light concurrency: read the server's errors "
                         "for these requests, check worker and database connection limits."))
    p95_ms = math.floor(report.total_percentiles()["p95"] + 0.5)  # half up: 300.5 is over 300
    target = endpoint.target_p95_ms
    shape = f"({n} requests{_errors_note(report)}, concurrency {c})"
    if p95_ms > target:
        return Result.fail(
            f"p95 {p95_ms} ms over the {target} ms target {shape}", evidence, metrics=metrics,
            remediation=(f"Bring p95 under {target} ms at concurrency {c}: find what the slow "
                         f"requests wait on (p99 {metrics['p99_ms']:g} ms), add the missing "
                         "database indexes, cache per-member data on the server, move work off "
                         "the request."))
    if p95_ms > WARN_SHARE * target:
        return Result.warn(f"p95 {p95_ms} ms within 10% of the {target} ms target {shape}",
                           evidence, metrics=metrics,
                           remediation="Little headroom: a busier day will cross the target.")
    return Result.passed(f"p95 {p95_ms} ms under the {target} ms target {shape}", evidence, metrics=metrics)


def _all_timed_out(endpoint: EndpointSpec, report: ProbeReport) -> bool:
    """Every warm-up request was sent and got no answer within the timeout, and the target is
    under that timeout: the p95 is then surely over the target."""
    timed_out = [s for s in report.warmup if s.error_kind == "timeout"]
    return bool(timed_out) and len(timed_out) == len(report.warmup) and \
        endpoint.target_p95_ms < report.settings.timeout_s * 1000


def _errors_note(report: ProbeReport) -> str:
    return "" if not report.errors else f", {report.errors} error{'s' if report.errors > 1 else ''}"


def _failure_text(failures: dict[str, int]) -> str:
    return ", ".join(f"{kind} ×{count}" for kind, count in failures.items())


def _median(values: list[float]) -> float | None:
    return round(percentiles(values)["p50"], 1) if values else None


def _metrics(report: ProbeReport) -> dict[str, float | int]:
    total, ttfb = report.total_percentiles(), report.ttfb_percentiles()
    metrics: dict[str, float | int] = {f"{k}_ms": round(v, 1) for k, v in total.items()}
    if ttfb:
        metrics["ttfb_p95_ms"] = round(ttfb["p95"], 1)
    connect = _median([c.connect_ms for c in report.connections])
    tls = _median([c.tls_ms for c in report.connections if c.tls_ms is not None])
    if connect is not None:
        metrics["connect_ms"] = connect
    if tls is not None:
        metrics["tls_ms"] = tls
    metrics.update(requests=len(report.samples) + report.unsent, errors=report.errors,
                   concurrency=report.settings.concurrency)
    return metrics


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in values.items()}


def _evidence(endpoint: EndpointSpec, report: ProbeReport, measured: str, account: str | None) -> dict:
    ok = report.ok_samples
    statuses: dict[str, int] = {}
    for sample in report.samples:
        if sample.status is not None:
            statuses[str(sample.status)] = statuses.get(str(sample.status), 0) + 1
    evidence = {
        "url": endpoint.url, "kind": endpoint.kind, "measured": measured,
        "target_p95_ms": endpoint.target_p95_ms, "settings": report.settings.as_evidence(),
        "percentile_method": PERCENTILE_METHOD,
        "total_ms": _rounded(report.total_percentiles()),
        "ttfb_ms": _rounded(report.ttfb_percentiles()),
        "fastest_ms": round(min(s.total_ms for s in ok), 1) if ok else None,
        "slowest_ms": round(max(s.total_ms for s in ok), 1) if ok else None,
        "statuses": dict(sorted(statuses.items())),
        "failures": report.failures(),
        "first_errors": [s.error for s in report.samples if s.error and not s.ok][:SHOWN_ERRORS]
                        or [s.error for s in report.warmup if s.error][:SHOWN_ERRORS],
        "connections": [c.as_evidence() for c in report.connections],
        "body_bytes_max": max((s.body_bytes for s in report.samples), default=0),
        "truncated": sum(s.truncated for s in report.samples),
        "deadline_reached": report.deadline_reached,
        "elapsed_ms": round(report.elapsed_ms, 1),
    }
    if account:
        evidence["account"] = account
    return evidence
