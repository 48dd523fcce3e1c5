"""Celery tasks: thin — take ids, call services. Soft and hard limits on every task."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from checks import services
from checks.models import StageRun
from checks.monitoring import alerts, scheduler

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


# --- Monitoring (checks/monitoring/) ---------------------------------------------------------
# The tick is cheap and frequent; a tick not taken in time expires (settings). Probe batches
# are idempotent (a due time already recorded is skipped), so acks_late redelivers them safely
# after a worker dies; alert sends claim each attempt, so a duplicate task sends nothing.


@shared_task(soft_time_limit=20, time_limit=30)
def monitor_tick() -> None:
    scheduler.tick()


@shared_task(acks_late=True, soft_time_limit=90, time_limit=120)
def monitor_probe(claims: list[list]) -> None:
    """Probe one batch: ``[[monitor id, due_at ISO, claimed_at ISO], …]``."""
    scheduler.run_batch([scheduler.Claim.from_json(c) for c in claims])


@shared_task(acks_late=True, soft_time_limit=30, time_limit=45)
def alert_send(delivery_id: int, attempt: int | None = None) -> None:
    """One attempt of a delivery: ``attempt`` when the tick claimed it, else claimed here."""
    alerts.send(delivery_id, attempt)
