"""Reads of audit results, shaped for pages, the CLI and the PDF."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Case, F, IntegerField, Value, When, Window
from django.db.models.functions import RowNumber

from checks.engine.registry import Check, all_checks
from checks.engine.result import Stage, Status
from checks.engine.risk import rank
from checks.engine.spec import INVALID_PROJECT
from checks.models import AuditRun, CheckResult
from projects.models import Finding


def latest_finished_run(project) -> AuditRun | None:
    """The newest finished audit of the whole launch surface: a run of a few checks only (such
    as "Send test mails") is not an audit of the project and would hide the others' results."""
    return project.runs.filter(state=AuditRun.State.DONE, check_ids=[]).first()


def latest_full_runs(project_ids: list[int]) -> dict[int, dict]:
    """``{project id: {id, state, created_at, finished_at}}`` of each project's newest full audit
    (any state; a "Send test mails" run says nothing of the launch as a whole), for projects
    the caller got from ``projects.access``: one query, a window function numbering each
    project's runs newest first."""
    newest = Window(RowNumber(), partition_by=[F("project_id")],
                    order_by=[F("created_at").desc(), F("id").desc()])
    rows = (AuditRun.objects.filter(project_id__in=project_ids, check_ids=[]).annotate(n=newest).filter(n=1)
            .values("project_id", "id", "state", "created_at", "finished_at"))
    return {row["project_id"]: row for row in rows}


def latest_mail_test(project) -> CheckResult | None:
    """The newest ``email.transactional`` result that tested something (not skipped), from a
    full audit or a "Send test mails" run, whichever finished last."""
    return (
        CheckResult.objects.filter(run__project=project, run__state=AuditRun.State.DONE,
                                   check_id="email.transactional")
        .exclude(status=Status.SKIPPED).select_related("run").order_by("-run__finished_at", "-run_id").first()
    )


def risk_list(run: AuditRun) -> list[CheckResult]:
    """Fail and warn results of ``run`` in fix order (impact, reach, fail before warn)."""
    return rank(run.results.all(), run.project.spec(facts=False))


# Stages sort by their number (audit … handover), not by name ("handover" < "hardening").
STAGE_ORDER = Case(*(When(stage=s.value, then=Value(s.number)) for s in Stage), output_field=IntegerField())


def untested(run: AuditRun) -> list[CheckResult]:
    """Results that could not be tested (``error``), by stage, check and target."""
    return list(run.results.filter(status=Status.ERROR).order_by(STAGE_ORDER, "check_id", "target"))


def ordered_results(run: AuditRun) -> list[CheckResult]:
    """Every result of ``run`` by stage, check and target, in one query (the order
    ``untested`` uses)."""
    return list(run.results.order_by(STAGE_ORDER, "check_id", "target"))


def split_untested_passed(results: Iterable[CheckResult]) -> tuple[list[CheckResult], list[CheckResult]]:
    """``(untested, passed)`` of ``results``, each in the order given: the risk list shows the
    passed ones as what a re-run must keep green."""
    results = list(results)
    return ([r for r in results if r.status == Status.ERROR], [r for r in results if r.status == Status.PASS])


def risk_summary(run: AuditRun, rows: Iterable | None = None) -> dict:
    """Counts per status, blockers left, and a per-stage pass/warn/fail table; from ``rows``
    (anything with ``stage``, ``impact`` and ``status``) when given, else ``run``'s results."""
    counts = {s.value: 0 for s in Status}
    stages: dict[str, dict[str, int]] = {}
    blockers = 0
    for result in run.results.all() if rows is None else rows:
        counts[result.status] += 1
        row = stages.setdefault(result.stage, {s.value: 0 for s in Status})
        row[result.status] += 1
        if result.status == Status.FAIL and result.impact == "blocker":
            blockers += 1
    return {
        "counts": counts,
        "blockers": blockers,
        "stages": [{"stage": Stage(s).title, "number": Stage(s).number, **c}
                   for s, c in sorted(stages.items(), key=lambda kv: Stage(kv[0]).number)],
    }


def edge_matrix(run: AuditRun, hosts: list[str] | None = None) -> dict:
    """The edge stage of ``run`` as a hosts × checks matrix, for the project page.

    Returns ``{"checks": [Check, ...], "rows": [{"host": str, "cells": [CheckResult | None, ...]}]}``:
    one column per registered edge check whose targets are hosts (stage order, then id, so new
    checks appear by themselves; checks of endpoint URLs stay on the risk list), one row per
    host that has an edge result in ``run``, in the order of the
    project's ``spec().hosts``; hosts the run checked but the project no longer lists (it was
    edited since) come last, by name. ``cells[i]`` is the result of ``checks[i]`` on that host,
    or ``None`` when the check did not run there (``http.canonical_redirect`` runs only on the
    alternate host). ``hosts`` is the project's host order when the caller already has it.
    One query for the results; ``evidence`` and ``metrics`` are deferred.
    """
    checks: list[Check] = [c for c in all_checks() if c.stage == Stage.EDGE and c.per_host]
    column = {c.id: i for i, c in enumerate(checks)}
    results = (run.results.filter(stage=Stage.EDGE, check_id__in=list(column))
               .defer("evidence", "metrics"))
    by_host: dict[str, list[CheckResult | None]] = {}
    for result in results:
        cells = by_host.setdefault(result.target, [None] * len(checks))
        cells[column[result.check_id]] = result
    order = {host: i for i, host in enumerate(_spec_hosts(run) if hosts is None else hosts)}
    ordered = sorted(by_host, key=lambda h: (h not in order, order.get(h, 0), h))
    return {"checks": checks, "rows": [{"host": h, "cells": by_host[h]} for h in ordered]}


def _spec_hosts(run: AuditRun) -> list[str]:
    """The project's hosts in audit order; empty when its domains are no longer valid."""
    try:
        return run.project.spec(facts=False).hosts
    except INVALID_PROJECT:
        return []


def findings_by_key(project) -> dict[tuple[str, str], Finding]:
    # first_run: a card names the audit that first saw the finding by its number.
    return {(f.check_id, f.target): f for f in project.findings.select_related("owner", "first_run")}
