"""Alert deliveries: one per channel, incident and kind, sent with retries and back-off.

The formats live in ``checks/monitoring/channels/`` (email, Slack, Discord), behind one
``send(channel, message)``; this module decides *what* is sent *when*.

**Sending**: a delivery is created ``pending`` with ``next_attempt_at`` = now and sent by a
task as soon as the incident's transaction commits; the monitor tick also hands out every
pending delivery whose ``next_attempt_at`` has come (retries, and first sends whose task was
lost). Each attempt is *claimed* once — by the task, or by the tick before it queues the
task with the attempt's number — with a conditional UPDATE (``pending`` and due →
``attempts`` +1, ``next_attempt_at`` = now + ``LEASE_S``), so two tasks never send one
attempt and a task holding an attempt that was taken over (its lease ran out) sends nothing. A failed
attempt waits ``backoff_s(attempts)`` — 10, 20, 40, 80, 160 s (``10·2^(n−1)``, at least a
429's ``Retry-After``, at most 1 h) — and after ``MAX_ATTEMPTS`` (6, about 5 minutes in all)
the delivery is ``failed``. A permanent failure (see ``channels``) fails it at once. A worker
that dies after the receiver took the message but before ``sent`` was written makes the next
attempt (after the lease) send it again: delivery is at least once; every other path sends
it once. ``last_error`` holds the reason, redacted, never a webhook URL.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from checks.models import AlertChannel, AlertDelivery, Incident
from checks.monitoring import channels
from checks.monitoring.channels import PermanentFailure, RetryableFailure
from checks.monitoring.message import message_for
from launchready.redaction import redact

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 10
BACKOFF_MAX_S = 3600
LEASE_S = 60  # a claimed attempt that has not finished by then is tried again
DUE_BATCH = 200  # deliveries one tick hands out at most


def backoff_s(attempts: int, retry_after_s: float | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: ``10·2^(attempts−1)``
    (10, 20, 40, 80, 160 …), at least ``retry_after_s``, at most ``BACKOFF_MAX_S``."""
    delay = BACKOFF_BASE_S * 2 ** max(0, attempts - 1)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return float(min(delay, BACKOFF_MAX_S))


# --- creating and handing out deliveries -------------------------------------------------


def create_deliveries(incident: Incident, kind: str) -> list[int]:
    """Pending deliveries of ``kind`` (``down`` / ``up``) for ``incident``, at most one per
    channel (the constraint; existing ones are kept, not repeated); ids of the new ones.
    ``down`` goes to every enabled channel of the project; ``up`` only to channels that had
    the incident's ``down`` alert (a recovery nobody was told about is no news)."""
    targets = AlertChannel.objects.filter(project_id=incident.project_id, enabled=True)
    if kind == AlertDelivery.Kind.UP:
        targets = targets.filter(deliveries__incident=incident, deliveries__kind=AlertDelivery.Kind.DOWN)
    now = timezone.now()
    mine = AlertDelivery.objects.filter(incident=incident, kind=kind)
    existing = set(mine.values_list("channel_id", flat=True))
    rows = [
        AlertDelivery(channel_id=c, incident=incident, kind=kind, next_attempt_at=now)
        for c in targets.values_list("id", flat=True).distinct() if c not in existing
    ]
    AlertDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    created = mine.filter(channel_id__in=[r.channel_id for r in rows], state=AlertDelivery.State.PENDING)
    return list(created.values_list("id", flat=True))


def dispatch(delivery_ids: list[int]) -> None:
    """Send these deliveries once the current transaction commits: a Celery task each with
    ``REDIS_URL``, else a thread of this process."""
    if not delivery_ids:
        return
    if settings.REDIS_URL:
        from checks.tasks import alert_send

        for delivery_id in delivery_ids:
            alert_send.delay_on_commit(delivery_id)
    else:
        ids = list(delivery_ids)
        transaction.on_commit(lambda: [_pool().submit(_send_inprocess, i) for i in ids])


_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(2, thread_name_prefix="alert")
    return _executor


def _send_inprocess(delivery_id: int) -> None:
    try:
        send(delivery_id)
    except Exception:
        log.exception("alert delivery %s failed", delivery_id)
    finally:
        connections.close_all()


def due_ids(now: datetime | None = None, limit: int = DUE_BATCH) -> list[int]:
    """Pending deliveries whose next attempt has come, oldest first."""
    now = now or timezone.now()
    return list(
        AlertDelivery.objects.filter(state=AlertDelivery.State.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit]
    )


def hand_out(now: datetime | None = None, limit: int = DUE_BATCH) -> list[tuple[int, int]]:
    """Claim the next attempt of every due pending delivery (oldest first, at most ``limit``):
    ``[(delivery id, attempt number), …]`` for ``alert_send`` tasks."""
    now = now or timezone.now()
    claimed = ((delivery_id, claim(delivery_id, now)) for delivery_id in due_ids(now, limit))
    return [(delivery_id, attempt) for delivery_id, attempt in claimed if attempt is not None]


def claim(delivery_id: int, now: datetime | None = None) -> int | None:
    """Claim the next attempt of a pending, due delivery: the attempt's number, or ``None``
    when it is not pending, not due, or another worker took it (one conditional UPDATE)."""
    now = now or timezone.now()
    updated = AlertDelivery.objects.filter(
        pk=delivery_id, state=AlertDelivery.State.PENDING, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=LEASE_S))
    if not updated:
        return None
    return AlertDelivery.objects.values_list("attempts", flat=True).get(pk=delivery_id)


# --- sending -------------------------------------------------------------------------------


def send(delivery_id: int, attempt: int | None = None) -> str | None:
    """Make one attempt of a delivery — ``attempt``, already claimed by the tick, or else the
    next one, claimed here. Returns the state afterwards (``sent``; ``pending`` with the next
    attempt scheduled; ``failed``), or ``None`` when there was nothing to send (not due,
    already sent, or the attempt was taken over)."""
    if attempt is None:
        attempt = claim(delivery_id)
        if attempt is None:
            return None
    elif not AlertDelivery.objects.filter(
        pk=delivery_id, state=AlertDelivery.State.PENDING, attempts=attempt
    ).exists():
        return None
    related = AlertDelivery.objects.select_related("channel__project", "incident__monitor")
    delivery = related.get(pk=delivery_id)
    try:
        channels.send(delivery.channel, message_for(delivery))
    except PermanentFailure as exc:
        return _finish(delivery, attempt, AlertDelivery.State.FAILED, str(exc))
    except RetryableFailure as exc:
        if attempt >= MAX_ATTEMPTS:
            return _finish(delivery, attempt, AlertDelivery.State.FAILED, f"{exc} (after {attempt} attempts)")
        return _finish(delivery, attempt, AlertDelivery.State.PENDING, str(exc),
                       retry_in_s=backoff_s(attempt, exc.retry_after_s))
    return _finish(delivery, attempt, AlertDelivery.State.SENT, "")


def _finish(delivery: AlertDelivery, attempt: int, state: str, error: str, retry_in_s: float = 0) -> str:
    now = timezone.now()
    fields: dict = {"state": state, "last_error": redact(error)[:500]}
    if state == AlertDelivery.State.SENT:
        fields["sent_at"] = now
    if state == AlertDelivery.State.PENDING:
        fields["next_attempt_at"] = now + timedelta(seconds=retry_in_s)
    # Only the holder of this attempt writes its result (a lease taken over does not).
    AlertDelivery.objects.filter(
        pk=delivery.pk, attempts=attempt, state=AlertDelivery.State.PENDING
    ).update(**fields)
    if state == AlertDelivery.State.SENT and delivery.kind == AlertDelivery.Kind.TEST:
        AlertChannel.objects.filter(pk=delivery.channel_id).update(last_test_ok_at=now)
    return state
