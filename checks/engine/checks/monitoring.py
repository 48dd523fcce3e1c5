"""Stage 5, monitoring: will the founder learn of an outage before the members do, and do the
app's logs keep secrets and personal data out?

The facts come from the project's monitoring (``ProjectSpec.monitoring``: its monitors and
when each last succeeded, its alert channels, the redacted scan of a log sample), so these
checks touch no network. Each runs once per project, on the apex; a project whose caller gave
no monitoring facts (an engine caller, a scenario without ``monitoring:``) plans none.

Impact, by what the founder loses:

- high — no monitor on a critical endpoint, a monitor that has not succeeded lately, no alert
  channel proven to reach someone: an outage goes unseen until members complain; secrets in
  logs: whoever reads the logs (a log vendor, a support tool, a leaked export) can act as a
  member or as the app.
- medium — no health endpoint: monitors can only watch pages, which stay up while the
  database or a queue behind them is down.
"""

from __future__ import annotations

from checks.engine.loghygiene import KINDS, PERSONAL_KINDS, SECRET_KINDS, LogScan
from checks.engine.registry import Context, check
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import MonitorFacts, MonitoringFacts, ProjectSpec

# The endpoints every launch watches (DESIGN: homepage, auth, health, webhook), by endpoint kind.
CRITICAL_KINDS = ("homepage", "login", "health", "webhook")
# "Succeeded lately": within RECENT_MINUTES, or two intervals of a monitor probed less often.
RECENT_MINUTES = 15
LISTED_FINDINGS = 10  # redacted findings carried in evidence; the counts cover all of them
WHERE = "on the project's Monitoring page"


def monitoring_apex(project: ProjectSpec) -> list[str]:
    """Target: the apex, once per project that has monitoring facts."""
    return [project.apex] if project.monitoring is not None else []


def _facts(ctx: Context) -> MonitoringFacts:
    # monitoring_apex plans no unit without facts; a direct call still gets empty monitoring.
    return ctx.project.monitoring or MonitoringFacts()


@check("monitoring.monitors", stage=Stage.MONITORING, impact=Impact.HIGH,
       title="Critical endpoints monitored", targets=monitoring_apex)
def monitors(target: str, ctx: Context) -> Result:
    """An enabled uptime monitor watches each critical endpoint: the homepage, and the login,
    health and webhook endpoints the project declares. No RFC governs monitoring; this is the
    agency's launch rule.

    - pass: each of the four has an enabled monitor.
    - warn: every declared one is monitored, but the project declares no login, health or
      webhook endpoint (so it cannot be monitored: declare it if the app has one).
    - fail: a declared critical endpoint (or the homepage, always) has no enabled monitor.
    - error: never — the check reads the project's monitors, it fetches nothing.
    Evidence: ``{"monitored": [kinds], "missing": [kinds], "disabled": [kinds],
    "undeclared": [kinds], "monitors": n}``. Metrics: ``monitors``.
    """
    facts = _facts(ctx)
    declared = {e.kind for e in ctx.project.endpoints} | {"homepage"}
    enabled = {m.kind for m in facts.monitors if m.enabled}
    paused = {m.kind for m in facts.monitors if not m.enabled}
    monitored = [k for k in CRITICAL_KINDS if k in enabled]
    missing = [k for k in CRITICAL_KINDS if k not in enabled and (k in declared or k in paused)]
    undeclared = [k for k in CRITICAL_KINDS if k not in enabled and k not in missing]
    evidence = {"monitored": monitored, "missing": missing,
                "disabled": [k for k in missing if k in paused], "undeclared": undeclared,
                "monitors": len(facts.monitors)}
    metrics = {"monitors": len(facts.monitors)}
    if missing:
        words = ", ".join(f"{k} (disabled)" if k in paused else k for k in missing)
        return Result.fail(
            f"no enabled monitor on: {words}", evidence, metrics=metrics,
            remediation=f"Add a monitor for each critical endpoint {WHERE} (\"Add monitor\" offers the "
                        "project's endpoints, ticked, in one go), or enable the disabled ones.",
        )
    if undeclared:
        words = ", ".join(undeclared)
        return Result.warn(
            f"monitored: {', '.join(monitored)}; no {words} endpoint is declared to monitor",
            evidence, metrics=metrics,
            remediation=f"If the app has a {' or '.join(undeclared)} endpoint, add it to the project's "
                        f"endpoints and monitor it {WHERE}.",
        )
    return Result.passed(f"monitors watch the {', '.join(monitored)}", evidence, metrics=metrics)


@check("monitoring.monitors_recent", stage=Stage.MONITORING, impact=Impact.HIGH,
       title="Monitors succeeded lately", targets=monitoring_apex)
def monitors_recent(target: str, ctx: Context) -> Result:
    """Each enabled monitor's last successful probe is recent: within ``RECENT_MINUTES`` (15)
    minutes, or two of its intervals when it is probed less often than every 7.5 minutes. A
    monitor that has not succeeded lately watches something that is down, or is not running.
    No RFC governs monitoring.

    - pass: every enabled monitor succeeded within its window.
    - fail: one never succeeded, or its last success is older (each listed with its age).
    - skipped: no enabled monitor (``monitoring.monitors`` fails for that).
    - error: never — the check reads the stored probes, it probes nothing.
    Evidence: ``{"monitors": [{kind, url, last_ok_age_s, window_s, ok}]}``. Metrics:
    ``stale_monitors``, and ``oldest_ok_age_s`` when each has succeeded once.
    """
    enabled = [m for m in _facts(ctx).monitors if m.enabled]
    if not enabled:
        return Result.skipped("no enabled monitor to judge")
    rows = [_recent_row(m) for m in enabled]
    stale = [r for r in rows if not r["ok"]]
    ages = [r["last_ok_age_s"] for r in rows]
    metrics = {"stale_monitors": len(stale)}
    if None not in ages:
        metrics["oldest_ok_age_s"] = round(max(ages), 1)
    evidence = {"monitors": rows}
    if stale:
        words = "; ".join(f"{_name(r)}: {_age_words(r['last_ok_age_s'])}" for r in stale)
        return Result.fail(
            f"{_n(len(stale), 'monitor')} of {len(rows)} not successful lately — {words}", evidence,
            metrics=metrics,
            remediation=f"Open the monitors {WHERE}: fix what they watch if it is down, or their "
                        "URL, expected status or keyword if the monitor itself is wrong.",
        )
    return Result.passed(f"each of the {_n(len(rows), 'enabled monitor')} succeeded within its window",
                         evidence, metrics=metrics)


def _recent_row(monitor: MonitorFacts) -> dict:
    window_s = max(RECENT_MINUTES * 60, 2 * monitor.interval_s)
    age = monitor.last_ok_age_s
    return {"kind": monitor.kind, "url": monitor.url, "window_s": window_s,
            "last_ok_age_s": None if age is None else round(age, 1),
            "ok": age is not None and age <= window_s}


def _name(row: dict) -> str:
    return row["kind"] or row["url"]


def _age_words(age_s: float | None) -> str:
    if age_s is None:
        return "never succeeded"
    if age_s < 120:
        return f"last success {age_s:.0f} s ago"
    if age_s < 2 * 3600:
        return f"last success {age_s / 60:.0f} min ago"
    return f"last success {age_s / 3600:.1f} h ago"


@check("monitoring.alert_test", stage=Stage.MONITORING, impact=Impact.HIGH,
       title="An alert channel delivered a test alert", targets=monitoring_apex)
def alert_test(target: str, ctx: Context) -> Result:
    """Alerts reach a human: an enabled alert channel (email, Slack or Discord webhook) has
    delivered a test alert ("Send test alert"). An alert channel never tested may point at a
    typo'd address or a revoked webhook. No RFC governs alerting.

    - pass: at least one enabled channel delivered a test alert.
    - fail: no enabled channel; or channels, none of which delivered a test alert.
    - error: never — the check reads the stored deliveries, it sends nothing.
    Evidence: ``{"channels": n, "tested": n}``. Metrics: the same.
    """
    facts = _facts(ctx)
    evidence = {"channels": facts.alert_channels, "tested": facts.alert_channels_tested}
    metrics = dict(evidence)
    if not facts.alert_channels:
        return Result.fail(
            "no alert channel: an outage alerts nobody", evidence, metrics=metrics,
            remediation=f"Add an alert channel {WHERE} (an email address, a Slack or Discord "
                        "webhook) and press \"Send test alert\".",
        )
    if not facts.alert_channels_tested:
        return Result.fail(
            f"none of the {_n(facts.alert_channels, 'alert channel')} has delivered a test alert",
            evidence, metrics=metrics,
            remediation=f"Press \"Send test alert\" on each channel {WHERE} and check that it arrives.",
        )
    return Result.passed(
        f"{facts.alert_channels_tested} of {_n(facts.alert_channels, 'alert channel')} delivered a "
        "test alert", evidence, metrics=metrics,
    )


@check("monitoring.health_endpoint", stage=Stage.MONITORING, impact=Impact.MEDIUM,
       title="Health endpoint declared", targets=monitoring_apex)
def health_endpoint(target: str, ctx: Context) -> Result:
    """The project declares a health endpoint (kind ``health``): a URL that answers 200 only
    when the app and what it depends on (database, queue) work, so a monitor sees an outage
    that pages served from a cache hide. No RFC governs health endpoints.

    - pass: at least one endpoint of kind ``health``.
    - fail: none.
    - error: never — the check reads the project's endpoints.
    Evidence: ``{"health_endpoints": [urls]}``.
    """
    urls = [e.url for e in ctx.project.endpoints if e.kind == "health"]
    if urls:
        return Result.passed(f"health endpoint: {urls[0]}", {"health_endpoints": urls})
    return Result.fail(
        "no health endpoint is declared", {"health_endpoints": []},
        remediation="Add a /health route that checks the database and queue and answers 200 only "
                    "when they work, declare it as an endpoint of kind health, and monitor it.",
    )


@check("monitoring.log_hygiene", stage=Stage.MONITORING, impact=Impact.HIGH,
       title="Logs carry no secrets or personal data", targets=monitoring_apex)
def log_hygiene(target: str, ctx: Context) -> Result:
    """A sample of the app's logs carries no secrets — bearer tokens (RFC 6750 §2.1, §2.3),
    JSON Web Tokens (RFC 7519), API keys, passwords in URLs (RFC 3986 §3.2.1) — and no
    personal data (email addresses, phone numbers). What each detector looks for is in
    ``checks/engine/loghygiene.py``. Findings are redacted: a short prefix and a keyed hash.

    - pass: nothing found in the sample.
    - warn: personal data only (GDPR Art. 5(1)(c), data minimisation: logs keep what they need).
    - fail: a secret.
    - error: no log sample was given, so the logs could not be judged.
    Evidence: ``{"lines": n, "size_bytes": n, "counts": {kind: n}, "findings": [{kind, line,
    redacted, detector}]}`` (at most ``LISTED_FINDINGS``). Metrics: ``secrets``,
    ``personal_data``, ``lines``.
    """
    scan: LogScan | None = _facts(ctx).log_scan
    if scan is None:
        return Result.error(
            "could not test: no log sample was given",
            remediation=f"Paste or upload a few thousand lines of the app's production logs {WHERE}.",
        )
    evidence = {"lines": scan.lines, "size_bytes": scan.size_bytes, "counts": dict(scan.counts),
                "findings": [f.as_dict() for f in scan.findings[:LISTED_FINDINGS]]}
    metrics = {"secrets": scan.secrets, "personal_data": scan.personal, "lines": scan.lines}
    if scan.secrets:
        return Result.fail(
            f"the log sample carries {_kinds(scan, SECRET_KINDS)}"
            + (f" and {_kinds(scan, PERSONAL_KINDS)}" if scan.personal else ""),
            evidence, metrics=metrics,
            remediation="Rotate every token and key that reached the logs, then stop logging them: "
                        "log the request without its Authorization header and query string, and add a "
                        "filter to the app's logger that masks tokens, keys and passwords.",
        )
    if scan.personal:
        return Result.warn(
            f"the log sample carries {_kinds(scan, PERSONAL_KINDS)}", evidence, metrics=metrics,
            remediation="Log a member id instead of the email address or phone number, or mask them "
                        "in the app's logger: logs are kept longer and read by more people than the "
                        "database.",
        )
    return Result.passed(f"no secrets or personal data in {_n(scan.lines, 'line')} of log sample",
                         evidence, metrics=metrics)


PLURALS = {"jwt": "JSON Web Tokens", "bearer_token": "bearer tokens", "password_in_url": "passwords in URLs",
           "api_key": "API keys or secrets", "email": "email addresses", "phone": "phone numbers"}


def _kinds(scan: LogScan, kinds: tuple[str, ...]) -> str:
    """``"2 JSON Web Tokens, 1 password in a URL"``: the counts of ``kinds`` found."""
    return ", ".join(f"{n} {KINDS[kind] if n == 1 else PLURALS[kind]}"
                     for kind, n in scan.counts if kind in kinds)


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
