"""Findings: risks with a stable identity (project, check id, target), synced after each run."""

from __future__ import annotations

from checks.engine.result import Status
from projects.models import Finding

RISKY = (Status.FAIL.value, Status.WARN.value)


def findings_sync(run) -> None:
    """Open, verify or regress the project's findings from ``run``'s results.

    - a fail or warn with no finding opens one;
    - a fail or warn of a verified finding regresses it; of an open / fixed / regressed one
      refreshes it; an accepted one stays accepted;
    - a pass verifies an existing finding; ``error`` and ``skipped`` change nothing (the
      thing was not tested).
    """
    existing = {(f.check_id, f.target): f for f in Finding.objects.filter(project=run.project)}
    for result in run.results.all():
        finding = existing.get((result.check_id, result.target))
        if result.status in RISKY:
            if finding is None:
                Finding.objects.create(
                    project=run.project, check_id=result.check_id, target=result.target,
                    stage=result.stage, impact=result.impact, status=Finding.Status.OPEN,
                    last_result_status=result.status, summary=result.summary,
                    remediation=result.remediation, first_run=run, last_run=run,
                )
                continue
            if finding.status == Finding.Status.VERIFIED:
                finding.status = Finding.Status.REGRESSED
            _refresh(finding, result, run)
        elif result.status == Status.PASS and finding is not None:
            if finding.status != Finding.Status.VERIFIED:
                finding.status = Finding.Status.VERIFIED
            _refresh(finding, result, run)


def _refresh(finding: Finding, result, run) -> None:
    finding.last_result_status = result.status
    finding.summary = result.summary
    finding.remediation = result.remediation or finding.remediation
    finding.impact = result.impact
    finding.last_run = run
    finding.save()
