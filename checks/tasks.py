"""Celery tasks: thin — take ids, call services. Soft and hard limits on every task."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from checks import services
from checks.models import StageRun

STAGE_SOFT_LIMIT_S = 240
STAGE_HARD_LIMIT_S = 300


@shared_task(acks_late=True, soft_time_limit=30, time_limit=60)
def audit_run(run_id: int) -> None:
    """Claim the run, then fan out one task per stage."""
    if not services.audit_claim(run_id):
        return
    stages = list(StageRun.objects.filter(run_id=run_id).values_list("stage", flat=True))
    if not stages:
        services.audit_finalize(run_id)
    for stage in stages:
        audit_stage.delay(run_id, stage)


@shared_task(acks_late=True, soft_time_limit=STAGE_SOFT_LIMIT_S, time_limit=STAGE_HARD_LIMIT_S)
def audit_stage(run_id: int, stage: str) -> None:
    """Run one stage; idempotent (results are keyed on run, check and target)."""
    try:
        services.stage_execute(run_id, stage)
    except SoftTimeLimitExceeded:
        services.audit_fail(run_id, f"the {stage} stage ran out of time ({STAGE_SOFT_LIMIT_S} s)")
    except Exception as exc:
        services.audit_fail(run_id, f"the {stage} stage failed: {type(exc).__name__}: {exc}")
        raise


@shared_task(soft_time_limit=50, time_limit=60)
def sweep_stale_audits() -> int:
    return services.sweep_stale_audits()
