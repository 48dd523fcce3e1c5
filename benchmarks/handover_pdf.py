"""The handover PDF of a busy project: render time, size and pages.

Seeds one project ("Harbour Club", eight hosts, four critical endpoints) with 60 findings —
every launch impact; open, in progress, fixed (claimed), verified, regressed and accepted;
summaries and remediations written as the checks write them — and 30 days of history: one
full audit a day, each with a result for every unit of the project's real audit plan, so the
"Open risks per audit" chart has 30 bars and the latest audit lists every finding not yet
verified — plus 30 days of monitoring for its four critical endpoints (hourly roll-ups for 30
days, raw probes every 60 s for the last 24 hours, one incident), so the uptime and p95 charts
are drawn from real rows, and a full handover record (deploy steps, secret locations, access
map, owners, the five runbook entries, both sign-offs).

Then the PDF is rendered with ``handover.services.handover_render`` (cold: the first render
in this process, which imports WeasyPrint and loads fonts), three more times (warm), and read
back with pypdf (pages, and the chart's words as a check that the render is the real one).

Targets: the cold render under 3 s and the PDF under 1 MB (1,000,000 bytes). Prints one
``name: value unit`` line per figure, the cold render time last; exits 1 when a target is
missed or the PDF misses what was seeded, 2 when the database cannot be prepared.

Database: the one ``DATABASE_URL`` names when set — everything is seeded inside one
transaction that is rolled back at the end, so that database is left as it was; otherwise a
new SQLite file in a temporary directory, migrated first (``make bench`` needs no PostgreSQL).

``.venv/bin/python benchmarks/handover_pdf.py``
"""

from __future__ import annotations

import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DAYS = 30
FINDINGS = 60
TARGET_MS = 3000
TARGET_BYTES = 1_000_000
WARM_RENDERS = 3
APEX = "harbour-club.test"
SUBDOMAINS = ["www", "app", "api", "admin", "auth", "status", "cdn", "media"]
ENDPOINTS = [
    ("login", "POST", f"https://auth.{APEX}/login"),
    ("api", "GET", f"https://api.{APEX}/v1/members/me"),
    ("webhook", "POST", f"https://api.{APEX}/hooks/stripe"),
    ("health", "GET", f"https://app.{APEX}/healthz"),
]
# Final lifecycle states of the 60 findings (how many of each): the history is built to match.
STATES = [("open", 20), ("in_progress", 8), ("fixed", 6), ("verified", 14), ("regressed", 6), ("accepted", 6)]
IMPACT_QUOTAS = {"blocker": 6, "high": 20, "medium": 18, "low": 16}
NOT_APPLICABLE = ("edge.cloudflare", "edge.origin_exposure", "email.transactional")

# What a failing check says and what to do, per check id ({target} is the unit's target).
WORDING = {
    "tls.certificate": ("{target}: certificate expired 3 days ago (2026-11-27)",
                        "Renew the certificate and automate renewal (ACME, e.g. Let's Encrypt); alert "
                        "21 days before notAfter."),
    "dns.resolves": ("{target}: does not exist (NXDOMAIN) at all 2 authoritative nameservers",
                     "Add an A/AAAA (or CNAME) record for {target} at the DNS provider, or remove the host "
                     "from the launch surface."),
    "http.hsts": ("{target}: no Strict-Transport-Security header on the HTTPS response",
                  "Send Strict-Transport-Security: max-age=31536000; includeSubDomains on every HTTPS "
                  "response (start with a short max-age, raise it after a week)."),
    "http.https_redirect": ("{target}: http:// answers 200 with the page instead of redirecting to https://",
                            "Redirect every plain-HTTP request to https:// with a 301 at the edge, "
                            "before the app."),
    "tls.protocols": ("{target}: accepts TLS 1.0 and TLS 1.1",
                      "Turn off TLS 1.0 and 1.1 at the load balancer; keep TLS 1.2 and 1.3 (every "
                      "supported browser has them)."),
    "tls.key_strength": ("{target}: RSA key of 1024 bits",
                         "Reissue the certificate with an ECDSA P-256 or RSA 2048-bit key."),
    "dns.caa": ("{target}: CAA allows only digicert.com but the certificate is from Let's Encrypt",
                "Add CAA 0 issue \"letsencrypt.org\" (or drop the old CA's record) so renewals are "
                "not refused."),
    "dns.dangling_cname": ("{target}: CNAME to harbour-old.herokuapp.com, which no longer exists "
                           "(takeover risk)",
                           "Delete the CNAME or point it at a resource you own today."),
    "dns.authoritative": ("{target}: ns2 answers 203.0.113.7, ns1 answers 203.0.113.9",
                          "Make every authoritative nameserver serve the same zone (check zone transfers)."),
    "dns.ttl": ("{target}: TTL 86400 s: a cutover would take a day to reach everyone",
                "Lower the TTL to 300 s a day before launch; raise it again after."),
    "http.security_headers": ("{target}: missing Content-Security-Policy and X-Content-Type-Options",
                              "Add Content-Security-Policy (start with default-src 'self'), "
                              "X-Content-Type-Options: nosniff and Referrer-Policy."),
    "http.redirect_hops": ("{target}: 3 redirects before the page (http → https → www → /home)",
                           "Redirect straight to the final https://www URL in one hop."),
    "http.canonical_redirect": ("{target}: redirects with 302 (temporary) to the canonical host",
                                "Use a 301 to the canonical host so search engines keep one address."),
    "http.canonical_host": ("{target}: both the apex and www serve pages", "Pick www as canonical; redirect "
                            "the apex to it with a 301."),
    "http.hsts_preload": ("{target}: HSTS max-age 300 s is too short for the preload list",
                          "Raise max-age to 31536000 with includeSubDomains and preload, then submit."),
    "http.login_cookies": ("{target}: session cookie without Secure and SameSite",
                           "Set the session cookie Secure; HttpOnly; SameSite=Lax."),
    "http.mixed_content": ("{target}: 4 scripts and 2 images load over http://",
                           "Load every subresource over https:// (or protocol-relative) and add "
                           "upgrade-insecure-requests to the CSP."),
    "email.spf": ("{target}: SPF ends in ?all and does not include the mail provider",
                  "Publish v=spf1 include:_spf.mailprovider.example -all."),
    "email.dkim": ("{target}: no DKIM key at selector s1", "Publish the provider's DKIM public key at "
                   "s1._domainkey and turn signing on."),
    "email.dmarc": ("{target}: DMARC p=none with no rua: spoofed mail is delivered and unreported",
                    "Publish v=DMARC1; p=quarantine; rua=mailto:dmarc@{target}; move to p=reject after "
                    "two clean weeks."),
    "email.mx": ("{target}: MX points at mail.{target}, which has no address", "Point MX at the mail "
                 "provider's hosts or publish a null MX (0 .) if the domain receives no mail."),
}


def line(name: str, value: float, unit: str) -> None:
    text = f"{value:.0f}" if unit in ("ms", "count", "bytes") else f"{value:.1f}"
    print(f"{name}: {text} {unit}", flush=True)


def prepare_database() -> tempfile.TemporaryDirectory | None:
    """Django set up on DATABASE_URL, or on a new migrated SQLite file (its directory returned
    so it lives as long as the run)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchready.settings")
    workdir = None
    if not os.environ.get("DATABASE_URL"):
        workdir = tempfile.TemporaryDirectory(prefix="lr-bench-")
        os.environ["SQLITE_PATH"] = str(Path(workdir.name) / "bench.sqlite3")
    import django

    django.setup()
    if workdir is not None:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    return workdir


def wording(check, target: str) -> tuple[str, str]:
    summary, remediation = WORDING.get(check.id, (
        f"{{target}}: {check.title.lower()}: not yet",
        f"Record it in the project's handover ({check.title.lower()}) and re-run the audit.",
    ))
    return summary.format(target=target), remediation.format(target=target)


def finding_plan(units) -> list[dict]:
    """60 units of the plan and their story, drawn from a seeded generator (the same every run):
    ``first_day`` it fails (most from day 0; a tenth appear later, as a new subdomain or a
    deploy brings them), ``fixed_day`` from which verified and regressed ones pass,
    ``regressed_day`` from which a regressed one fails again, and its final ``state``."""
    from checks.engine.result import Impact

    rng = random.Random(2026)
    applicable = [u for u in units if u.check.id not in NOT_APPLICABLE]
    chosen = []
    for impact, quota in IMPACT_QUOTAS.items():
        pool = [u for u in applicable if u.check.impact == impact and u not in chosen]
        chosen += rng.sample(pool, min(quota, len(pool)))
    rest = [u for u in applicable if u not in chosen]  # a plan short of one impact: fill from the others
    chosen += rng.sample(rest, min(FINDINGS - len(chosen), len(rest)))
    states = [state for state, n in STATES for _ in range(n)]
    rng.shuffle(states)
    stories = []
    for unit, state in zip(chosen, states, strict=False):
        first_day = 0 if rng.random() < 0.9 else rng.randrange(2, DAYS - 6)
        fixed_day = regressed_day = None
        if state in ("verified", "regressed"):
            fixed_day = rng.randrange(first_day + 2, DAYS - 3)
        if state == "regressed":
            regressed_day = rng.randrange(fixed_day + 1, DAYS)
        impact = Impact(unit.check.impact)
        stories.append({
            "unit": unit, "state": state, "first_day": first_day, "fixed_day": fixed_day,
            "regressed_day": regressed_day,
            "status": "fail" if impact in (Impact.BLOCKER, Impact.HIGH) or rng.random() < 0.3 else "warn",
        })
    return stories


def failing(story: dict, day: int) -> bool:
    if day < story["first_day"]:
        return False
    if story["fixed_day"] is not None and day >= story["fixed_day"]:
        return story["regressed_day"] is not None and day >= story["regressed_day"]
    return True


def seed():
    """The project, its 30 daily audits and 60 findings; returns ``(project, latest run, results)``."""
    from checks.engine.runner import plan
    from checks.models import AuditRun, CheckResult
    from projects.models import Agency, Endpoint, Finding, Project

    agency = Agency.objects.create(name="Northwind Digital (benchmark)", slug=f"bench-{time.time_ns()}")
    project = Project.objects.create(
        agency=agency, name="Harbour Club", client_name="Harbour Club Ltd", apex_domain=APEX,
        preferred_host=f"www.{APEX}", subdomains=SUBDOMAINS, dkim_selectors=["s1"],
        rollback_notes="Roll back with `fly releases rollback` to the previous image; then run "
                       "`python manage.py migrate members 0042` only if the release changed the schema.",
    )
    for kind, method, url in ENDPOINTS:
        Endpoint.objects.create(project=project, kind=kind, url=url, method=method)
    units = plan(project.spec())
    stories = finding_plan(units)
    story_of = {(s["unit"].check.id, s["unit"].target): s for s in stories}
    first = datetime.now(UTC).replace(hour=7, minute=30, second=0, microsecond=0) - timedelta(days=DAYS)
    runs, results = [], 0
    for day in range(DAYS):
        moment = first + timedelta(days=day)
        run = AuditRun.objects.create(project=project, state=AuditRun.State.DONE, planned_count=len(units))
        AuditRun.objects.filter(pk=run.pk).update(created_at=moment, started_at=moment,
                                                  finished_at=moment + timedelta(seconds=41))
        rows = [_result(run, unit, story_of.get((unit.check.id, unit.target)), day) for unit in units]
        CheckResult.objects.bulk_create(rows)
        results += len(rows)
        runs.append(run)
    Finding.objects.bulk_create(_finding(project, s, runs) for s in stories)
    _seed_monitoring(project, first + timedelta(days=DAYS))
    _seed_handover_record(project)
    latest = AuditRun.objects.get(pk=runs[-1].pk)
    return project, latest, results, stories


def _seed_monitoring(project, now: datetime) -> None:
    """A monitor per critical endpoint: 30 days of hourly roll-ups (one bad hour a week), 24
    hours of raw probes every 60 s, and one closed incident."""
    from checks.models import Incident, Monitor, Probe, ProbeRollup

    rng = random.Random(7)
    for endpoint in project.endpoints.all():
        monitor = Monitor.objects.create(
            project=project, endpoint=endpoint, name=endpoint.kind, url=endpoint.url,
            method="GET", state=Monitor.State.UP, last_probe_at=now,
        )
        hour0 = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=DAYS)
        ProbeRollup.objects.bulk_create(
            ProbeRollup(monitor=monitor, hour=hour0 + timedelta(hours=h), probes=60,
                        ok_probes=55 if h % 168 == 100 else 60, latency_p50_ms=80 + rng.random() * 40,
                        latency_p95_ms=180 + rng.random() * 120, latency_max_ms=400 + rng.random() * 300)
            for h in range(DAYS * 24)
        )
        Probe.objects.bulk_create(
            Probe(monitor=monitor, at=now - timedelta(minutes=m), due_at=now - timedelta(minutes=m),
                  ok=True, status_code=200, latency_ms=60 + rng.random() * 200)
            for m in range(24 * 60)
        )
        Incident.objects.create(monitor=monitor, project=project, opened_at=now - timedelta(days=3, hours=2),
                                closed_at=now - timedelta(days=3, hours=1, minutes=52), reason="status 503")


def _seed_handover_record(project) -> None:
    from handover.models import AccessEntry, AreaOwner, HandoverRecord, RunbookEntry, SecretLocation
    from handover.runbook_defaults import STARTERS

    HandoverRecord.objects.create(
        project=project, deploy_steps="Merge to main; CI builds the image and runs `fly deploy`.",
        monitoring_links="Dashboard https://status.harbour.example\nLogs https://logs.harbour.example",
        consultant_signed_at=datetime.now(UTC), founder_signed_at=datetime.now(UTC),
    )
    for name in ("Stripe live key", "Postmark server token", "Database URL", "Django SECRET_KEY", "S3 keys"):
        SecretLocation.objects.create(project=project, name=name, store="1Password — Harbour vault",
                                      path=f"Production/{name}", who_can_access="Founders, lead consultant")
    for system in ("Fly.io", "Cloudflare", "GitHub", "Postmark", "Stripe", "AWS", "Sentry", "Registrar"):
        AccessEntry.objects.create(project=project, system=system, url=f"https://{system.lower()}.example",
                                   owner="Ada (founder)", people_with_access="Ada, Ben, agency", mfa="on")
    for area in ("Infrastructure", "Payments", "Email", "Content"):
        AreaOwner.objects.create(project=project, area=area, owner="Ada", contact="ada@harbour.example")
    for position, starter in enumerate(STARTERS):
        RunbookEntry.objects.create(project=project, key=starter.key, title=starter.title,
                                    steps=starter.steps, position=position)


def _result(run, unit, story: dict | None, day: int):
    from checks.models import CheckResult

    check, target = unit.check, unit.target
    status, summary, remediation, evidence, metrics = "pass", f"{target}: ok", "", {}, {}
    if check.id in NOT_APPLICABLE:
        status, summary = "skipped", f"{target}: not applicable"
    elif story is not None and failing(story, day):
        status = story["status"]
        summary, remediation = wording(check, target)
    if check.id == "dns.resolves" and status == "pass":
        evidence = {"addresses": [f"203.0.113.{10 + len(target) % 40}", "2001:db8::10"], "cname_chain": []}
    if check.id == "tls.certificate":
        days_left = 60 - day if status == "pass" else -3
        evidence = {"not_after": (date.today() + timedelta(days=days_left)).strftime("%Y-%m-%dT12:00:00Z")}
        metrics = {"days_left": days_left}
    return CheckResult(run=run, check_id=check.id, stage=str(check.stage), impact=str(check.impact),
                       target=target, status=status, summary=summary, remediation=remediation,
                       evidence=evidence, metrics=metrics, duration_ms=40 + len(target))


def _finding(project, story: dict, runs):
    from projects.models import Finding

    unit, state = story["unit"], story["state"]
    summary, remediation = wording(unit.check, unit.target)
    accepted = state == "accepted"
    return Finding(
        project=project, check_id=unit.check.id, target=unit.target, stage=str(unit.check.stage),
        impact=str(unit.check.impact), status=state,
        last_result_status="pass" if state == "verified" else story["status"],
        summary=summary, remediation=remediation, first_run=runs[story["first_day"]], last_run=runs[-1],
        due_date=date.today() + timedelta(days=7) if state in ("open", "in_progress") else None,
        accepted_reason="The admin host is behind the office VPN until the SSO migration in Q1."
        if accepted else "",
        accepted_until=date.today() + timedelta(days=90) if accepted else None,
    )


def measure(project, run) -> dict:
    """Wall and CPU ms of ``handover_render``: ``cold_ms``/``cold_cpu_ms`` (the first render in
    the process), ``warm_ms``/``warm_cpu_ms`` (lists), and the ``pdf``. CPU time says what the
    render costs when other processes share the machine and stretch the wall time."""
    from handover.services import handover_render

    figures: dict = {"warm_ms": [], "warm_cpu_ms": []}
    for attempt in range(1 + WARM_RENDERS):
        wall, cpu = time.perf_counter(), time.process_time()
        pdf = handover_render(project, run)
        wall_ms, cpu_ms = (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000
        if attempt == 0:
            figures.update(cold_ms=wall_ms, cold_cpu_ms=cpu_ms, pdf=pdf)
        else:
            figures["warm_ms"].append(wall_ms)
            figures["warm_cpu_ms"].append(cpu_ms)
    return figures


class Rollback(Exception):
    """Raised to undo the seeding on the caller's database."""


def main() -> int:
    try:
        workdir = prepare_database()
    except Exception as exc:  # noqa: BLE001 — any failure to reach or migrate the database
        print(f"cannot prepare the database: {exc}", file=sys.stderr)
        return 2
    from django.db import transaction
    from pypdf import PdfReader

    from handover.services import risk_history_chart

    figures: dict = {}
    try:
        with transaction.atomic():
            started = time.perf_counter()
            project, run, results, stories = seed()
            figures["seed_ms"] = (time.perf_counter() - started) * 1000
            figures["bars"] = len(risk_history_chart(project, until=run).table_rows)
            figures.update(measure(project, run))
            figures["results"], figures["stories"] = results, stories
            raise Rollback
    except Rollback:
        pass
    finally:
        if workdir is not None:
            workdir.cleanup()

    pdf = figures["pdf"]
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    risks = sum(1 for s in figures["stories"] if s["state"] != "verified")
    problems = []
    if figures["bars"] != DAYS:
        problems.append(f"the risk chart has {figures['bars']} bars, not {DAYS}")
    if f"{DAYS} audits from #" not in text:
        problems.append("the PDF does not hold the risk chart's summary")
    for words in ("Uptime per day", "p95 latency per hour", "Site down", "Stripe live key"):
        if words not in text:
            problems.append(f"the PDF does not hold {words!r} (monitoring charts, handover record)")
    for story in figures["stories"]:
        unit = story["unit"]
        if story["state"] != "verified" and wording(unit.check, unit.target)[0][:40] not in text:
            problems.append(f"the PDF misses the finding {unit.check.id} {unit.target}")
            break
    for problem in problems:
        print(f"# {problem}", file=sys.stderr)
    size = len(pdf)
    line("findings", len(figures["stories"]), "count")
    line("risks_listed", risks, "count")
    line("audit_runs", DAYS, "count")
    line("check_results", figures["results"], "count")
    line("chart_bars", figures["bars"], "count")
    line("seed", figures["seed_ms"], "ms")
    line("pdf_pages", len(reader.pages), "count")
    line("pdf_size", size, "bytes")
    line("pdf_size_kb", size / 1000, "kB")
    line("render_warm_median", statistics.median(figures["warm_ms"]), "ms")
    line("render_warm_cpu_median", statistics.median(figures["warm_cpu_ms"]), "ms")
    line("render_cold_cpu", figures["cold_cpu_ms"], "ms")
    line("handover_pdf_render", figures["cold_ms"], "ms")
    missed = figures["cold_ms"] >= TARGET_MS or size >= TARGET_BYTES
    if figures["cold_ms"] >= TARGET_MS:
        print(f"# target missed: render {figures['cold_ms']:.0f} ms >= {TARGET_MS} ms", file=sys.stderr)
    if size >= TARGET_BYTES:
        print(f"# target missed: {size} bytes >= {TARGET_BYTES}", file=sys.stderr)
    return 1 if missed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
