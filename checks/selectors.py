"""Reads of audit results, shaped for pages, the CLI and the PDF."""

from __future__ import annotations

from checks.engine.result import Stage, Status
from checks.engine.risk import rank
from checks.models import AuditRun, CheckResult
from projects.models import Finding


def latest_finished_run(project) -> AuditRun | None:
    return project.runs.filter(state=AuditRun.State.DONE).first()


def risk_list(run: AuditRun) -> list[CheckResult]:
    """Fail and warn results of ``run`` in fix order (impact, reach, fail before warn)."""
    return rank(run.results.all(), run.project.spec())


def untested(run: AuditRun) -> list[CheckResult]:
    """Results that could not be tested (``error``), by stage and check."""
    return list(run.results.filter(status=Status.ERROR).order_by("stage", "check_id", "target"))


def passed(run: AuditRun) -> list[CheckResult]:
    """Results that passed, by stage, check and target: what a re-run must keep green."""
    return list(run.results.filter(status=Status.PASS).order_by("stage", "check_id", "target"))


def risk_summary(run: AuditRun) -> dict:
    """Counts per status, blockers left, and a per-stage pass/warn/fail table."""
    counts = {s.value: 0 for s in Status}
    stages: dict[str, dict[str, int]] = {}
    blockers = 0
    for result in run.results.all():
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


def findings_by_key(project) -> dict[tuple[str, str], Finding]:
    return {(f.check_id, f.target): f for f in project.findings.all()}
