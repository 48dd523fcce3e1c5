"""Compose the handover from stored facts and results; render it to PDF (WeasyPrint, A4).

Everything comes from stored rows (the project, its endpoints and findings, one audit run's
``CheckResult``s): nothing here touches the network. Evidence is never dumped into the
document: only short, human facts are lifted out of it by name (a host's CNAME chain and
addresses, a certificate's ``notAfter``), so what a check recorded as proof — headers,
bodies, certificate serials — stays in the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import linebreaks
from django.utils.safestring import SafeString, mark_safe

from checks.dashboard import monitoring_charts
from checks.engine.email.testmails import KINDS
from checks.engine.registry import all_checks
from checks.engine.result import Stage, Status
from checks.engine.spec import INVALID_PROJECT
from checks.models import AuditRun, CheckResult
from checks.selectors import latest_finished_run, latest_mail_test, risk_list, untested
from handover.models import HandoverDocument
from handover.record_context import record_context, withheld
from launchready.charts import BarSeries, Chart, day_label, stacked_bar_chart
from projects.models import Finding, Project

# Lists lifted from evidence are capped so one odd record cannot fill pages.
MAX_LISTED = 8


@dataclass(frozen=True)
class HostFacts:
    """One host of the launch surface and what the audit's DNS and TLS checks answered.

    ``dns_status`` is the ``dns.resolves`` verdict (``None``: not checked in this run);
    ``cname_chain`` and ``addresses`` come from its evidence; ``dns_failure`` is its one-line
    summary when it did not pass. ``certificate_until`` is the leaf's ``notAfter`` (UTC).
    """

    name: str
    role: str
    dns_status: str | None = None
    cname_chain: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    more_addresses: int = 0
    dns_failure: str = ""
    certificate_status: str | None = None
    certificate_until: datetime | None = None
    certificate_expired: bool = False


@dataclass(frozen=True)
class StageRow:
    """Counts of one stage's results; ``audited`` is False when the run had no check in it."""

    number: int
    title: str
    passed: int = 0
    warned: int = 0
    failed: int = 0
    untested: int = 0
    not_applicable: int = 0

    @property
    def audited(self) -> bool:
        return bool(self.passed + self.warned + self.failed + self.untested + self.not_applicable)


@dataclass(frozen=True)
class RiskItem:
    """One entry of the risk list, in fix order (``number`` 1 … n)."""

    number: int
    impact: str
    status: str
    check_id: str
    check_title: str
    stage_title: str
    target: str
    summary: str
    remediation: str
    finding_status: str


@dataclass(frozen=True)
class UntestedItem:
    """A check that could not reach a verdict (status ``error``) and why."""

    check_id: str
    target: str
    reason: str


@dataclass(frozen=True)
class MailFacts:
    """One test mail as the capture server received it: ``kind`` (``password reset``),
    ``arrived``, ``delivery_ms``, the DKIM, SPF and DMARC verdicts in words, and a short
    excerpt of its headers (Received, From, Return-Path, the DKIM signature's tags without
    ``b=``) for the handover's mail evidence."""

    kind: str
    arrived: bool
    delivery_ms: float | None = None
    dkim: str = ""
    spf: str = ""
    dmarc: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class MailTest:
    """The email.transactional result: ``status``, ``summary``, the SMTP server used
    (``host:port``, security and TLS version; never the password), the run's id and its
    number within the project (what the page shows) and each mail's facts."""

    status: str
    summary: str
    server: str
    run_id: int
    run_number: int
    tested_at: datetime | None
    mails: list[MailFacts] = field(default_factory=list)


EVIDENCE_HEADERS = ("Received", "From", "Message-ID")


def mail_test(result: CheckResult | None) -> MailTest | None:
    """The facts of an ``email.transactional`` result (``None`` for none)."""
    if result is None:
        return None
    evidence = _mapping(result.evidence)
    smtp = _mapping(evidence.get("smtp"))
    server = f"{smtp.get('host', '?')}:{smtp.get('port', '?')}, {smtp.get('security', '?')}"
    if smtp.get("tls_version"):
        server += f" ({smtp['tls_version']})"
    mails = _mapping(evidence.get("mails"))
    # PostgreSQL's jsonb keeps keys in its own order, not the check's: show them in KINDS order.
    order = {kind: index for index, kind in enumerate(KINDS)}
    mails = dict(sorted(mails.items(), key=lambda item: order.get(item[0], len(order))))
    return MailTest(str(result.status), result.summary, server, result.run_id, result.run.number,
                    result.run.finished_at,
                    [_mail_facts(str(kind), _mapping(mail)) for kind, mail in mails.items()])


def _mail_facts(kind: str, mail: dict) -> MailFacts:
    if not mail.get("arrived"):
        return MailFacts(kind.replace("_", " "), False)
    spf, dkim, dmarc = (_mapping(mail.get(key)) for key in ("spf", "dkim", "dmarc"))
    signatures = [_mapping(s) for s in dkim.get("signatures") or []]
    pairs = [(str(p[0]), str(p[1])) for p in mail.get("headers") or [] if isinstance(p, list) and len(p) == 2]
    headers = [("Return-Path", f"<{mail.get('mail_from', '')}>")]
    headers += [(name, value) for name, value in pairs if name in EVIDENCE_HEADERS]
    headers += [(name, _without_b(value)) for name, value in pairs if name.lower() == "dkim-signature"]
    verdicts = [f"{s.get('result')} (d={s.get('d')}, s={s.get('s')})" for s in signatures]
    return MailFacts(
        kind=kind.replace("_", " "), arrived=True, delivery_ms=mail.get("delivery_ms"),
        dkim=", ".join(verdicts) or "unsigned",
        spf=f"{spf.get('result')} for {mail.get('peer_ip')} at {spf.get('domain')}",
        dmarc=f"{dmarc.get('result')} (p={dmarc.get('p') or 'none'})" if dmarc else "no From domain",
        headers=headers[:MAX_LISTED],
    )


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _without_b(signature: str) -> str:
    """A DKIM-Signature's tags without the signature itself (``b=``): what a reader checks."""
    tags = [tag.strip() for tag in str(signature).split(";")]
    return "; ".join(tag for tag in tags if tag and not tag.replace(" ", "").startswith("b="))


def handover_context(project: Project, run: AuditRun | None, generated_at: datetime | None = None) -> dict:
    """Everything the handover template shows, as plain values.

    Keys: ``project``, ``agency``, ``run`` (or ``None``: no finished audit yet),
    ``generated_at``, ``hosts`` (list of ``HostFacts``), ``endpoints``, ``stages`` (seven
    ``StageRow``s), ``totals`` (a ``StageRow`` of the whole run), ``blockers`` (failing
    blocker count), ``risks`` (``RiskItem``s), ``untested`` (``UntestedItem``s),
    ``rollback_notes`` (safe HTML, empty when none were written), ``mail_test`` (a
    ``MailTest`` of the newest transactional mail test, which may come from a later "Send test
    mails" run than ``run``, or ``None``), ``charts`` (``launchready.charts.Chart``s: see
    ``handover_charts``), and the handover record's parts (``handover.record_context``:
    ``deploy_steps``, ``monitoring_links``, ``secret_locations``, ``access_map``,
    ``area_owners``, ``runbook``, ``sign_off``; secret-looking values withheld).
    """
    results = list(run.results.all()) if run is not None else []
    stages = stage_rows(results)
    return {
        "project": project,
        "agency": project.agency,
        "run": run,
        "generated_at": generated_at or timezone.now(),
        "hosts": host_facts(project, results),
        "endpoints": list(project.endpoints.all()),
        "stages": stages,
        "totals": _total(stages),
        "blockers": sum(r.status == Status.FAIL and r.impact == "blocker" for r in results),
        "risks": risk_items(project, run) if run is not None else [],
        "untested": untested_items(run) if run is not None else [],
        "rollback_notes": rollback_html(withheld(project.rollback_notes)),
        "mail_test": mail_test(latest_mail_test(project)),
        "charts": handover_charts(project, run),
        **record_context(project),  # the handover record's parts: see its docstring
    }


# The risk history's layers, bottom up: impact, legend label, colour (the PDF's), fill pattern.
IMPACT_LAYERS = (
    ("blocker", "Blockers", "#b42318", "solid"),
    ("high", "High", "#d9480f", "stripes"),
    ("medium", "Medium", "#b7791f", "dots"),
    ("low", "Low", "#3a6ea5", "lines"),
)
RISK_HISTORY_RUNS = 60


def handover_charts(project: Project, run: AuditRun | None) -> list[Chart]:
    """The handover's charts, in the order printed (``templates/handover/_charts.html`` draws
    each one): open risks per audit up to ``run``, then, for a project with monitors, its
    uptime per day (30 days) and p95 latency per hour (24 hours) as of now
    (``checks.dashboard.monitoring_charts``)."""
    return [risk_history_chart(project, until=run), *monitoring_charts(project)]


def risk_history_chart(project: Project, *, until: AuditRun | None = None,
                       narrow: tuple[int, int] | None = None) -> Chart:
    """Open risks per finished full audit of ``project``, oldest first: one stacked bar per run
    (its fail and warn results counted by launch impact, blockers at the bottom).

    Only runs in state done of the whole launch surface count: a quick audit or a run of a few
    checks ("Send test mails", ``check_ids`` set) tests a subset, so its low counts would read
    as fixes. ``until`` stops the history at that run (a PDF from an older audit shows no later
    ones); at most the newest ``RISK_HISTORY_RUNS``. Two queries. ``narrow`` also renders the
    phone layout (``launchready.charts.NARROW``). No such run → the "No data yet" chart.
    """
    runs = project.runs.filter(state=AuditRun.State.DONE, check_ids=[], quick=False)
    if until is not None:
        runs = runs.filter(pk__lte=until.pk)
    # project_id too: the related manager reads it on every row (deferred: one query each).
    newest = runs.order_by("-finished_at", "-id").only(
        "id", "project_id", "number", "finished_at", "created_at")
    runs = list(newest[:RISK_HISTORY_RUNS])
    runs.reverse()
    risks = CheckResult.objects.filter(run__in=[r.pk for r in runs], status__in=(Status.FAIL, Status.WARN))
    counts = {(row["run_id"], row["impact"]): row["n"]
              for row in risks.values("run_id", "impact").annotate(n=Count("id"))}
    moments = [timezone.localtime(r.finished_at or r.created_at) for r in runs]
    layers = [BarSeries(impact, [counts.get((r.pk, impact), 0) for r in runs], label, colour, pattern)
              for impact, label, colour, pattern in IMPACT_LAYERS]
    return stacked_bar_chart(
        "Open risks per audit", [f"#{r.number} · {day_label(m)}" for r, m in zip(runs, moments, strict=True)],
        layers, chart_id="risk-history", narrow=narrow,
        # Two audits of one day differ by their number; the date joins it where the bars leave room.
        category_noun="audit", compact_labels=[f"#{r.number}" for r in runs],
        category_labels=[f"#{r.number}, {m.day} {m:%b %Y}" for r, m in zip(runs, moments, strict=True)],
        summary="Failing and warning checks of each full audit, by launch impact.",
        empty_message="The history starts with the first finished full audit.",
    )


def host_facts(project: Project, results: list[CheckResult]) -> list[HostFacts]:
    """The apex, each subdomain and each endpoint-only host, with their DNS and TLS answers."""
    try:
        spec = project.spec(facts=False)
    except INVALID_PROJECT:  # a project that cannot be audited still gets its facts written down
        return [HostFacts(name=project.apex_domain, role="apex")]
    # "Expired" is said as of the audit, the moment the results describe.
    as_of = max((r.created_at for r in results), default=None) or timezone.now()
    dns = {r.target: r for r in results if r.check_id == "dns.resolves"}
    tls = {r.target: r for r in results if r.check_id == "tls.certificate"}
    subdomains = {f"{label}.{spec.apex}" for label in spec.subdomains}
    facts = []
    for host in spec.hosts:
        role = "apex" if host == spec.apex else ("subdomain" if host in subdomains else "endpoint host")
        if host == spec.preferred_host:
            role += ", canonical"
        facts.append(HostFacts(name=host, role=role, **_dns_facts(dns.get(host)),
                               **_certificate_facts(tls.get(host), as_of)))
    return facts


def _dns_facts(result: CheckResult | None) -> dict:
    if result is None:
        return {}
    evidence = result.evidence if isinstance(result.evidence, dict) else {}
    chain = _strings(evidence.get("cname_chain"))
    addresses = _strings(evidence.get("addresses"))
    return {
        "dns_status": result.status,
        "cname_chain": chain[:MAX_LISTED],
        "addresses": addresses[:MAX_LISTED],
        "more_addresses": max(0, len(addresses) - MAX_LISTED),
        "dns_failure": "" if result.status == Status.PASS else reason(result.summary),
    }


def _certificate_facts(result: CheckResult | None, as_of: datetime) -> dict:
    if result is None:
        return {}
    not_after = result.evidence.get("not_after") if isinstance(result.evidence, dict) else None
    until = None
    if isinstance(not_after, str):
        try:
            until = datetime.strptime(not_after, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            until = None
    return {
        "certificate_status": result.status,
        "certificate_until": until,
        "certificate_expired": until is not None and until <= as_of,
    }


def reason(summary: str) -> str:
    """A could-not-test summary without its ``could not test:`` lead (the heading says it)."""
    lead = "could not test:"
    return summary[len(lead):].strip() if summary.lower().startswith(lead) else summary


def _strings(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def stage_rows(results: list[CheckResult]) -> list[StageRow]:
    """One row per stage (all seven, in order) with its pass / warn / fail / untested counts."""
    counts: dict[str, dict[str, int]] = {s.value: {t.value: 0 for t in Status} for s in Stage}
    for result in results:
        if result.stage in counts and result.status in counts[result.stage]:
            counts[result.stage][result.status] += 1
    return [
        StageRow(
            number=stage.number, title=stage.title,
            passed=counts[stage][Status.PASS], warned=counts[stage][Status.WARN],
            failed=counts[stage][Status.FAIL], untested=counts[stage][Status.ERROR],
            not_applicable=counts[stage][Status.SKIPPED],
        )
        for stage in Stage
    ]


def _total(rows: list[StageRow]) -> StageRow:
    return StageRow(
        number=0, title="All stages",
        passed=sum(r.passed for r in rows), warned=sum(r.warned for r in rows),
        failed=sum(r.failed for r in rows), untested=sum(r.untested for r in rows),
        not_applicable=sum(r.not_applicable for r in rows),
    )


def risk_items(project: Project, run: AuditRun) -> list[RiskItem]:
    """The run's fail and warn results in fix order, each with its finding's status now."""
    titles = {c.id: c.title for c in all_checks()}
    findings = {(f.check_id, f.target): f for f in project.findings.all()}
    items = []
    for number, result in enumerate(risk_list(run), 1):
        finding: Finding | None = findings.get((result.check_id, result.target))
        items.append(RiskItem(
            number=number,
            impact=result.impact,
            status=result.status,
            check_id=result.check_id,
            check_title=titles.get(result.check_id, ""),
            stage_title=Stage(result.stage).title,
            target=result.target,
            summary=result.summary,
            remediation=result.remediation,
            finding_status=finding.get_status_display() if finding else "not tracked",
        ))
    return items


_CODE = re.compile(r"`([^`<>\n]+)`")


def rollback_html(notes: str) -> SafeString:
    """The rollback notes as HTML: paragraphs and line breaks as typed, `commands` as code.

    The text is escaped before any markup is added, so the notes cannot inject HTML.
    """
    notes = notes.strip()
    if not notes:
        return mark_safe("")
    html = linebreaks(notes, autoescape=True)
    return mark_safe(_CODE.sub(r"<code>\1</code>", html))  # escaped by linebreaks above


def untested_items(run: AuditRun) -> list[UntestedItem]:
    """The run's ``error`` results (could not be tested), by stage, check and target."""
    return [UntestedItem(r.check_id, r.target, reason(r.summary)) for r in untested(run)]


def handover_html(project: Project, run: AuditRun | None, generated_at: datetime | None = None) -> str:
    """The handover as one self-contained HTML page (its print stylesheet inline)."""
    return render_to_string("handover/handover.html", handover_context(project, run, generated_at))


def handover_render(project: Project, run: AuditRun | None, generated_at: datetime | None = None) -> bytes:
    """The handover PDF of ``project`` as of ``run`` (A4, WeasyPrint); ``run`` may be None.

    Rendering never fetches anything: the page has no external resources, and the URL
    fetcher refuses every URL in case a stored string ever carried one into the markup.
    """
    # Imported here: WeasyPrint loads Pango and friends, which only this path needs.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    class OfflineFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            raise ValueError(f"the handover fetches nothing: {url[:80]}")

    return HTML(string=handover_html(project, run, generated_at), url_fetcher=OfflineFetcher()).write_pdf()


def handover_create(*, project: Project, user=None, run: AuditRun | None = None) -> HandoverDocument:
    """Render and keep a new handover PDF from ``run`` (default: the latest finished run).

    Raises ``ValueError`` when ``run`` belongs to another project.
    """
    if run is not None and run.project_id != project.pk:
        raise ValueError(f"audit #{run.pk} is not an audit of project {project.pk}")
    run = run or latest_finished_run(project)
    generated_at = timezone.now()
    pdf = handover_render(project, run, generated_at)
    document = HandoverDocument.objects.create(
        project=project, run=run, pdf=pdf, size_bytes=len(pdf), created_by=user
    )
    # The document's date is the one printed on its cover (the render takes a second or two).
    HandoverDocument.objects.filter(pk=document.pk).update(created_at=generated_at)
    document.created_at = generated_at
    return document
