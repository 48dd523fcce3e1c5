"""Audit lifecycle: start, claim, run a stage, finalize, sweep. Tasks and the CLI call these.

Work that must happen once is claimed with a conditional UPDATE (act only if one row
changed), so retried tasks and parallel workers never run or finish a run twice.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Count
from django.utils import timezone

from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.engine.result import Outcome, Stage
from checks.engine.runner import plan, run_units
from checks.engine.spec import INVALID_PROJECT
from checks.models import AuditRun, CheckResult, StageRun
from checks.network import network_for
from checks.sandbox import ScenarioError
from projects.findings import findings_sync

log = logging.getLogger(__name__)


def audit_start(
    *, project, user=None, quick: bool = False, dispatch: bool = True, check_ids: list[str] | None = None
) -> AuditRun:
    """Queue an audit of ``project``; its stages start once the transaction commits.
    ``check_ids``: run only these checks (``None`` or empty: all).

    Raises ``InvalidHostname`` or ``InvalidMailSetting`` when the project cannot be audited as
    stored, ``ValueError`` for a check id that is not registered.
    """
    check_ids = list(dict.fromkeys(check_ids or []))
    unknown = sorted(set(check_ids) - {c.id for c in all_checks()})
    if unknown:
        raise ValueError(f"no such check: {', '.join(unknown)}")
    # secrets: a stored password no key opens is refused here, with the reason, not later
    # in the worker.
    units = plan(project.spec(secrets=True), quick=quick, check_ids=check_ids or None)
    with transaction.atomic():
        run = AuditRun.objects.create(
            project=project, created_by=user, quick=quick, check_ids=check_ids, planned_count=len(units)
        )
        stages = sorted({u.check.stage for u in units}, key=lambda s: s.number)
        StageRun.objects.bulk_create(
            StageRun(run=run, stage=s, planned_count=sum(u.check.stage is s for u in units))
            for s in stages
        )
        if dispatch:
            _dispatch(run.pk)
    return run


def _dispatch(run_id: int) -> None:
    """Celery on Redis when configured, else the in-process pool; either after commit."""
    if settings.REDIS_URL:
        from checks.tasks import audit_run

        audit_run.delay_on_commit(run_id)
    else:
        transaction.on_commit(lambda: _inprocess_pool().submit(_inprocess, run_id))


_pool: ThreadPoolExecutor | None = None


def _inprocess_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(settings.AUDIT_INPROCESS_WORKERS, thread_name_prefix="audit")
    return _pool


def _inprocess(run_id: int) -> None:
    try:
        audit_execute(run_id)
    except Exception:
        log.exception("audit %s failed", run_id)
    finally:
        # An idle pool thread would otherwise keep its connection open indefinitely
        # (close_old_connections keeps a fresh one for CONN_MAX_AGE and is not called again).
        connections.close_all()


def audit_claim(run_id: int) -> bool:
    """queued → running, once. True for the one caller that claimed it."""
    now = timezone.now()
    claimed = AuditRun.objects.filter(pk=run_id, state=AuditRun.State.QUEUED).update(
        state=AuditRun.State.RUNNING, started_at=now, heartbeat_at=now
    )
    return claimed == 1


def audit_execute(run_id: int) -> None:
    """Claim and run every stage in this process (stages in parallel), then finalize."""
    if not audit_claim(run_id):
        return
    stages = list(StageRun.objects.filter(run_id=run_id).values_list("stage", flat=True))
    run = AuditRun.objects.select_related("project").get(pk=run_id)
    try:
        with network_for(run.project):  # one sandbox for every stage of the run
            if len(stages) <= 1:
                for stage in stages:
                    stage_execute(run_id, stage)
            else:
                with ThreadPoolExecutor(len(stages), thread_name_prefix="stage") as pool:
                    for future in [pool.submit(_stage_thread, run_id, s) for s in stages]:
                        future.result()
    except ScenarioError as exc:
        audit_fail(run_id, str(exc))
        return
    except Exception as exc:  # never leave a run "running": it ends, with the reason
        log.exception("audit %s failed", run_id)
        audit_fail(run_id, f"the audit failed: {type(exc).__name__}: {exc}")
        return
    if not stages:
        audit_finalize(run_id)


def _stage_thread(run_id: int, stage: str) -> None:
    try:
        stage_execute(run_id, stage)
    finally:
        connections.close_all()  # this thread ends here; its connections must not outlive it


def stage_execute(run_id: int, stage: str) -> None:
    """Run the units of one stage not yet recorded (so a retried task resumes), writing each
    result as its check ends; the last stage to finish finalizes the run."""
    run = AuditRun.objects.select_related("project").filter(pk=run_id).first()
    if run is None or run.state != AuditRun.State.RUNNING:
        return  # finished, swept or deleted meanwhile: a redelivered task has nothing to do
    StageRun.objects.filter(run=run, stage=stage, started_at=None).update(started_at=timezone.now())
    try:
        spec = run.project.spec(secrets=True)  # the one place the SMTP password is decrypted
    except INVALID_PROJECT as exc:
        audit_fail(run_id, f"the project cannot be audited: {exc}")
        return
    done = set(CheckResult.objects.filter(run=run, stage=stage).values_list("check_id", "target"))
    wanted = plan(spec, stages=[Stage(stage)], quick=run.quick, check_ids=run.check_ids or None)
    units = [u for u in wanted if u.key not in done]
    with network_for(run.project) as profile, Net(profile) as net:
        run_units(units, Context(net, spec), lambda outcome: result_record(run, outcome))
    finished = StageRun.objects.filter(run=run, stage=stage, finished_at=None).update(
        finished_at=timezone.now()
    )
    if finished and not StageRun.objects.filter(run=run, finished_at=None).exists():
        audit_finalize(run_id)


def result_record(run: AuditRun, outcome: Outcome) -> CheckResult:
    """Store one outcome (idempotent on run, check and target) and touch the heartbeat."""
    data = outcome.as_dict()
    defaults = {
        "stage": data["stage"],
        "impact": data["impact"],
        "status": data["status"],
        "summary": data["summary"],
        "evidence": data["evidence"],
        "remediation": data["remediation"],
        "metrics": data["metrics"],
        "duration_ms": outcome.duration_ms,
    }
    try:
        with transaction.atomic():
            result = _store(run, outcome, defaults)
    except DatabaseError as exc:
        # Keep the verdict; drop only what the database refused, and say so.
        log.warning("result %s %s: evidence refused by the database: %s", outcome.check_id,
                    outcome.target, exc)
        defaults.update(evidence={"storage_error": f"{type(exc).__name__}: {str(exc)[:300]}"},
                        summary=defaults["summary"][:2000], remediation=defaults["remediation"][:2000])
        result = _store(run, outcome, defaults)
    AuditRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    return result


def _store(run: AuditRun, outcome: Outcome, defaults: dict) -> CheckResult:
    result, _ = CheckResult.objects.update_or_create(
        run=run, check_id=outcome.check_id, target=outcome.target, defaults=defaults
    )
    return result


def audit_finalize(run_id: int) -> bool:
    """running → done, once: sync the project's findings from this run's results."""
    with transaction.atomic():
        finished = AuditRun.objects.filter(pk=run_id, state=AuditRun.State.RUNNING).update(
            state=AuditRun.State.DONE, finished_at=timezone.now()
        )
        if finished:
            findings_sync(AuditRun.objects.select_related("project").get(pk=run_id))
    return finished == 1


def audit_fail(run_id: int, reason: str) -> bool:
    """Finish an unfinished run as ``error`` with ``reason``."""
    return AuditRun.objects.filter(
        pk=run_id, state__in=[AuditRun.State.QUEUED, AuditRun.State.RUNNING]
    ).update(state=AuditRun.State.ERROR, error=reason, finished_at=timezone.now()) == 1


def sweep_stale_audits(*, now=None) -> int:
    """Finish as ``error`` every run whose worker died (no heartbeat for AUDIT_STALE_AFTER_S)
    and every run still queued after twice that. Returns how many were swept."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.AUDIT_STALE_AFTER_S)
    running = AuditRun.objects.filter(state=AuditRun.State.RUNNING, heartbeat_at__lt=stale).update(
        state=AuditRun.State.ERROR, finished_at=now,
        error="the worker running this audit stopped answering; start the audit again",
    )
    queued = AuditRun.objects.filter(
        state=AuditRun.State.QUEUED,
        created_at__lt=now - timedelta(seconds=2 * settings.AUDIT_STALE_AFTER_S),
    ).update(
        state=AuditRun.State.ERROR, finished_at=now,
        error="no worker picked this audit up; is the Celery worker running?",
    )
    return running + queued


def run_progress(run: AuditRun) -> dict:
    """``{state, done, planned, percent, stages: [{stage, title, done, planned}]}``."""
    # Polled every ~0.7 s by the project page: count in the database, not row by row here.
    counts = dict(
        CheckResult.objects.filter(run=run).values_list("stage").annotate(n=Count("id")).order_by()
    )
    done = sum(counts.values())
    planned = max(run.planned_count, done)
    return {
        "state": run.state,
        "done": done,
        "planned": planned,
        "percent": 100 if run.finished else (round(100 * done / planned) if planned else 0),
        "error": run.error,
        "stages": [
            {"stage": s.stage, "title": Stage(s.stage).title, "done": counts.get(s.stage, 0),
             "planned": s.planned_count}
            for s in run.stages.all()
        ],
    }
