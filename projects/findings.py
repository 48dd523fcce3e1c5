"""Findings: risks with a stable identity (project, check id, target), synced after each run.

What an audit does to a finding (``findings_sync``; people's changes are in
``projects.finding_services``). Every status change is a ``FindingEvent`` with ``actor`` None
(an audit) and the ``run``:

=============================  ===================  =====================================
finding before                 result fail / warn   result pass
=============================  ===================  =====================================
none                           opened (``open``)    nothing (nothing was ever wrong)
open, in progress, regressed   stays; refreshed     ``verified``
fixed (claimed by a person)    ``open``: the        ``verified``: the claim is proven
                               re-run still fails,
                               the claim is
                               disproved
verified                       ``regressed``        stays
accepted, until not passed     stays (quiet)        ``verified`` (the risk is gone)
accepted, ``accepted_until``   ``open``: the        ``verified``
before the run's day           acceptance expired
=============================  ===================  =====================================

``error`` (could not be tested) and ``skipped`` change nothing: the thing was not tested, so
neither a claim nor an acceptance is proven or disproved by it.

"Refreshed" means the finding takes the run's summary, remediation, impact and verdict
(``last_result_status``) and ``last_run`` — so the page always shows the latest evidence.

A run of some checks only (``AuditRun.check_ids``, e.g. "Send test mails") has results for
those checks alone, so it touches only their findings.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from checks.engine.result import Status
from projects.models import Finding, FindingEvent, Project

RISKY = (Status.FAIL.value, Status.WARN.value)
S = Finding.Status


@transaction.atomic
def findings_sync(run, *, today: date | None = None) -> None:
    """Open, verify, regress or reopen the project's findings from ``run``'s results (see the
    module's table). ``today`` (default: the current date in ``TIME_ZONE``) decides whether an
    acceptance has expired: it lasts through ``accepted_until`` and ends the day after.

    Idempotent and ordered: a finding whose ``last_run`` is this run or a later one is left
    alone, so syncing a run twice adds no event and an older run that finishes late does not
    undo what a newer one found.
    """
    today = today or timezone.localdate()
    # One sync per project at a time: two runs finishing together must not both open a finding.
    Project.objects.select_for_update().filter(pk=run.project_id).first()
    existing = {(f.check_id, f.target): f for f in Finding.objects.filter(project_id=run.project_id)}
    for result in run.results.all():
        finding = existing.get((result.check_id, result.target))
        if finding is not None and finding.last_run_id is not None and finding.last_run_id >= run.pk:
            continue
        if result.status in RISKY:
            if finding is None:
                _open(run, result)
            else:
                _on_risk(finding, result, run, today)
        elif result.status == Status.PASS and finding is not None:
            _on_pass(finding, result, run)


def _open(run, result) -> Finding:
    finding = Finding.objects.create(
        project_id=run.project_id, check_id=result.check_id, target=result.target,
        stage=result.stage, impact=result.impact, status=S.OPEN,
        last_result_status=result.status, summary=result.summary,
        remediation=result.remediation, first_run=run, last_run=run,
    )
    FindingEvent.objects.create(
        finding=finding, run=run, kind=FindingEvent.Kind.OPENED, to_status=S.OPEN,
        text=f"Audit #{run.number}: {result.status}: {result.summary}",
    )
    return finding


def _on_risk(finding: Finding, result, run, today: date) -> None:
    """A fail or warn of an existing finding."""
    status = finding.status
    if status == S.VERIFIED:
        _change(finding, run, S.REGRESSED, f"Audit #{run.number} fails again: {result.summary}")
    elif status == S.FIXED:
        _change(finding, run, S.OPEN, f"Claimed fixed, but audit #{run.number} still fails: {result.summary}")
    elif status == S.ACCEPTED and finding.accepted_until is not None and finding.accepted_until < today:
        until = finding.accepted_until
        finding.accepted_reason, finding.accepted_until = "", None
        _change(finding, run, S.OPEN,
                f"The acceptance expired on {until:%Y-%m-%d} and audit #{run.number} still fails: "
                f"{result.summary}")
    _refresh(finding, result, run)


def _on_pass(finding: Finding, result, run) -> None:
    if finding.status != S.VERIFIED:
        if finding.status == S.ACCEPTED:
            finding.accepted_reason, finding.accepted_until = "", None
        _change(finding, run, S.VERIFIED, f"Audit #{run.number} passed: {result.summary}")
    _refresh(finding, result, run)


def _change(finding: Finding, run, to_status: str, text: str) -> None:
    """Record an audit's status change (saved with the refresh that follows)."""
    FindingEvent.objects.create(
        finding=finding, run=run, kind=FindingEvent.Kind.STATUS,
        from_status=finding.status, to_status=to_status, text=text,
    )
    finding.status = to_status


def _refresh(finding: Finding, result, run) -> None:
    finding.last_result_status = result.status
    finding.summary = result.summary
    finding.remediation = result.remediation or finding.remediation
    finding.impact = result.impact
    finding.last_run = run
    finding.save()


HISTORY_RUNS = 30
SPARK_W, SPARK_H, SPARK_PAD = 120, 28, 3


def finding_history(finding: Finding, *, limit: int = HISTORY_RUNS) -> dict:
    """Before and after: the finding's result at each finished run of its project that tested
    its check on its target (the last ``limit``, oldest first), read from the stored results.

    Returns ``{"rows": [{"run": AuditRun, "status": str, "summary": str,
    "values": [number | None, …]}], "metrics": [{"name": str, "first": number, "last": number,
    "points": str}]}``: one column per numeric metric any of those results carries (in the
    order they first appear), ``values[i]`` that run's value of ``metrics[i]`` (``None``
    when it has none, e.g. the run could not test), and ``points`` an SVG polyline of the
    values (``SPARK_W`` × ``SPARK_H``, higher is up; "" for fewer than two values).
    """
    from checks.models import AuditRun, CheckResult

    results = list(
        CheckResult.objects.filter(
            run__project_id=finding.project_id, run__state=AuditRun.State.DONE,
            check_id=finding.check_id, target=finding.target,
        ).select_related("run").defer("evidence").order_by("-run_id")[:limit]
    )[::-1]
    names: list[str] = []
    for result in results:
        names += [k for k, v in (result.metrics or {}).items() if _number(v) and k not in names]
    rows = [
        {"run": r.run, "status": r.status, "summary": r.summary,
         "values": [v if _number(v := (r.metrics or {}).get(name)) else None for name in names]}
        for r in results
    ]
    metrics = []
    for i, name in enumerate(names):
        column = [row["values"][i] for row in rows]
        present = [v for v in column if v is not None]
        metrics.append({"name": name, "first": present[0], "last": present[-1],
                        "points": sparkline_points(column)})
    return {"rows": rows, "metrics": metrics}


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def sparkline_points(values: list[float | None]) -> str:
    """``"x,y x,y …"`` for an SVG ``polyline`` in a ``SPARK_W`` × ``SPARK_H`` box: one x step
    per value (gaps for ``None`` are skipped, keeping the time axis), the lowest value at the
    bottom and the highest at the top; a flat line in the middle when all are equal. "" for
    fewer than two values."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(v for _, v in known), max(v for _, v in known)
    step = (SPARK_W - 2 * SPARK_PAD) / (len(values) - 1)
    span = SPARK_H - 2 * SPARK_PAD

    def y(v: float) -> float:
        return SPARK_H / 2 if high == low else SPARK_PAD + span * (high - v) / (high - low)

    return " ".join(f"{SPARK_PAD + i * step:.1f},{y(v):.1f}" for i, v in known)
