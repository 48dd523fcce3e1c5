"""Celery tasks of projects: thin — take ids, call services."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from projects import deploys


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def deploy_smoke(event_id: int) -> None:
    """The smoke test of one recorded deploy; claimed once (a redelivered task does nothing)."""
    try:
        deploys.smoke_execute(event_id)
    except SoftTimeLimitExceeded:
        deploys.smoke_timed_out(event_id)
