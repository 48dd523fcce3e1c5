"""Scheduling: the tick claims due monitors, batches probe them, the results are recorded.

**Claim** (``claim_due``): one statement moves each due monitor's ``next_due_at`` one
interval ahead and returns the time it was due::

    WITH due AS (SELECT id, next_due_at FROM checks_monitor
                 WHERE enabled AND next_due_at <= now
                   AND <its project is not in the Sandbox agency>
                 ORDER BY next_due_at LIMIT n
                 FOR UPDATE SKIP LOCKED)
    UPDATE checks_monitor m SET next_due_at = <due + interval, or now + interval when that
                                               is already past>
    FROM due WHERE m.id = due.id RETURNING m.id, due.next_due_at

Two ticks at once (two beat processes) get disjoint sets — a row locked by one is skipped by
the other, and once committed it is no longer due. A monitor that fell behind (workers
stopped) is probed once, not once per missed interval, and keeps its phase otherwise. Other
databases (SQLite, the embedded default) claim row by row with a conditional UPDATE
(``WHERE next_due_at = <what was read>``), which is as exclusive, only slower.

Monitors of projects in the Sandbox agency (``projects.services.SANDBOX_AGENCY``) are never
claimed. ``manage.py audit --scenario`` syncs a scenario's project there, monitors included,
as facts for its audit's monitoring checks; nobody can see that agency, so probing them would
start sandboxes in the worker, forever, for no one. They keep their ``enabled`` flag (the
checks read it) and simply stay due. A sandbox project of any other agency (the demo's, in
Northwind Digital, that ``make serve`` seeds) is probed as any project is.

**Probe** (``run_batch``): a batch of claims is probed concurrently (``probe_all``), grouped
by network (the production profile, or a sandbox's). Before probing, a claim is dropped when
its monitor was probed for that due time already (``last_probe_at >= due_at``: a redelivered
task) or when it waited in the queue longer than its interval (the next claim of the same
monitor is under way), or when the monitor was disabled or deleted meanwhile.

**Record** (``record_outcomes``): in one transaction holding the monitors' rows (``SELECT …
FOR UPDATE``, in id order), the same ``last_probe_at >= due_at`` test drops an outcome a
concurrent duplicate already recorded — so one due time gives at most one ``Probe``, one
state change and one set of alerts — then probes are inserted, states stepped, incidents
opened or closed with their events, and alert deliveries created and dispatched on commit.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from checks.models import Incident, IncidentEvent, Monitor, Probe
from checks.monitoring import alerts
from checks.monitoring.incidents import CHANGE_KINDS, FLAP_WINDOW, Action, Facts, decide, retry_after_s, step
from checks.monitoring.network import profile_for, profile_key
from checks.monitoring.probe import DEFAULT_CONCURRENCY, ProbeOutcome, ProbeTarget, failed, probe_all
from checks.sandbox import ScenarioError
from projects.services import SANDBOX_AGENCY

log = logging.getLogger(__name__)

CLAIM_LIMIT = 2000  # monitors one tick claims at most
BATCH_SIZE = 50  # monitors per probe task


@dataclass(frozen=True)
class Claim:
    """A monitor handed out for the time it fell due (``due_at``) at ``claimed_at`` (UTC)."""

    monitor_id: int
    due_at: datetime
    claimed_at: datetime

    def as_json(self) -> list:
        """``[id, due_at ISO 8601, claimed_at ISO 8601]``: a task argument."""
        return [self.monitor_id, self.due_at.isoformat(), self.claimed_at.isoformat()]

    @classmethod
    def from_json(cls, data: list) -> Claim:
        return cls(int(data[0]), datetime.fromisoformat(data[1]), datetime.fromisoformat(data[2]))


# The NOT EXISTS sub-select locks nothing: FOR UPDATE applies to the rows of the FROM list.
_CLAIM_SQL = """
WITH due AS (
    SELECT id, next_due_at FROM checks_monitor AS mon
    WHERE enabled AND next_due_at <= %(now)s
      AND NOT EXISTS (
          SELECT 1 FROM projects_project AS p JOIN projects_agency AS a ON a.id = p.agency_id
          WHERE p.id = mon.project_id AND a.slug = %(sandbox)s
      )
    ORDER BY next_due_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE checks_monitor AS m
SET next_due_at = CASE
    WHEN due.next_due_at + m.interval_s * interval '1 second' > %(now)s
        THEN due.next_due_at + m.interval_s * interval '1 second'
    ELSE %(now)s + m.interval_s * interval '1 second'
END
FROM due
WHERE m.id = due.id
RETURNING m.id, due.next_due_at
"""


def claim_due(*, now: datetime | None = None, limit: int = CLAIM_LIMIT) -> list[Claim]:
    """Claim up to ``limit`` enabled monitors whose ``next_due_at`` is at or before ``now``,
    most overdue first, leaving out the Sandbox agency's (see the module docstring); each is
    moved to its next due time."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, {"now": now, "limit": limit, "sandbox": SANDBOX_AGENCY[0]})
            rows = cursor.fetchall()
        return sorted((Claim(row[0], row[1], now) for row in rows), key=lambda c: (c.due_at, c.monitor_id))
    return _claim_row_by_row(now, limit)


def _claim_row_by_row(now: datetime, limit: int) -> list[Claim]:
    claims = []
    rows = (Monitor.objects.filter(enabled=True, next_due_at__lte=now)
            .exclude(project__agency__slug=SANDBOX_AGENCY[0])
            .order_by("next_due_at", "id").values_list("id", "next_due_at", "interval_s")[:limit])
    for monitor_id, due_at, interval_s in rows:
        following = due_at + timedelta(seconds=interval_s)
        if following <= now:
            following = now + timedelta(seconds=interval_s)
        if Monitor.objects.filter(pk=monitor_id, next_due_at=due_at).update(next_due_at=following):
            claims.append(Claim(monitor_id, due_at, now))
    return claims


def batches(claims: list[Claim], size: int = BATCH_SIZE) -> list[list[Claim]]:
    """``claims`` cut into lists of at most ``size``, in order."""
    return [claims[i:i + size] for i in range(0, len(claims), size)]


def tick(now: datetime | None = None) -> tuple[int, int]:
    """What the beat runs: claim the due monitors and send them to ``monitor_probe`` tasks in
    batches; hand out the alert deliveries whose next attempt has come. Returns ``(monitors
    claimed, deliveries handed out)``."""
    from checks.tasks import alert_send, monitor_probe

    claims = claim_due(now=now)
    for batch in batches(claims):
        monitor_probe.delay([c.as_json() for c in batch])
    handed = alerts.hand_out(now)
    for delivery_id, attempt in handed:
        alert_send.delay(delivery_id, attempt)
    return len(claims), len(handed)


# --- probing a batch -------------------------------------------------------------------------


def targets_for(
    claims: list[Claim], now: datetime | None = None
) -> tuple[list[ProbeTarget], dict[int, Monitor]]:
    """The probe targets of ``claims`` that are still to be probed (see the module docstring
    for what is dropped), and their monitors (with projects) by id."""
    now = now or timezone.now()
    by_id = {c.monitor_id: c for c in claims}
    monitors = {m.pk: m for m in Monitor.objects.filter(pk__in=by_id, enabled=True).select_related("project")}
    targets = []
    for monitor_id, claim in by_id.items():
        monitor = monitors.get(monitor_id)
        if monitor is None:
            continue
        if monitor.last_probe_at is not None and monitor.last_probe_at >= claim.due_at:
            continue  # this due time was probed already (a redelivered task)
        if (now - claim.claimed_at).total_seconds() > monitor.interval_s:
            log.warning("monitor %s: batch waited %.0f s in the queue; slot skipped",
                        monitor_id, (now - claim.claimed_at).total_seconds())
            continue
        targets.append(ProbeTarget(
            monitor_id=monitor_id, url=monitor.url, method=monitor.method, timeout_s=monitor.timeout_s,
            expected_status=monitor.expected_status, keyword=monitor.keyword, due_at=claim.due_at,
        ))
    return targets, monitors


def probe_targets(targets: list[ProbeTarget], monitors: dict[int, Monitor], *,
                  concurrency: int = DEFAULT_CONCURRENCY) -> list[ProbeOutcome]:
    """Probe ``targets`` concurrently, each through its project's network; a target whose
    network cannot be set up (its sandbox will not start) fails with the reason."""
    groups: dict[str, list[ProbeTarget]] = {}
    for target in targets:
        groups.setdefault(profile_key(monitors[target.monitor_id].project), []).append(target)
    outcomes: list[ProbeOutcome] = []
    runs = []
    for group in groups.values():
        try:
            profile = profile_for(monitors[group[0].monitor_id].project)
        except ScenarioError as exc:
            outcomes.extend(failed(t, f"sandbox unavailable: {exc}") for t in group)
            continue
        runs.append((profile, group))

    async def all_groups() -> list[list[ProbeOutcome]]:
        return await asyncio.gather(*(probe_all(p, g, concurrency=concurrency) for p, g in runs))

    if runs:
        for group_outcomes in asyncio.run(all_groups()):
            outcomes.extend(group_outcomes)
    return outcomes


def run_batch(claims: list[Claim], *, concurrency: int = DEFAULT_CONCURRENCY) -> list[ProbeOutcome]:
    """Probe a batch of claims and record what was found (what ``monitor_probe`` runs).
    Returns the outcomes that were recorded."""
    targets, monitors = targets_for(claims)
    if not targets:
        return []
    return record_outcomes(probe_targets(targets, monitors, concurrency=concurrency))


# --- recording -----------------------------------------------------------------------------


def record_outcomes(outcomes: list[ProbeOutcome], now: datetime | None = None) -> list[ProbeOutcome]:
    """Store ``outcomes`` as probes and apply them to their monitors' state and incidents in one
    transaction; alerts are dispatched once it commits. Returns the outcomes recorded (one
    whose due time was already recorded, or whose monitor is gone or disabled, is dropped)."""
    now = now or timezone.now()
    ids = sorted({o.monitor_id for o in outcomes})
    recorded: list[ProbeOutcome] = []
    with transaction.atomic():
        monitors = {m.pk: m for m in Monitor.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        book = _IncidentBook(ids)
        probes, touched, deliveries = [], [], []
        for outcome in sorted(outcomes, key=lambda o: (o.monitor_id, o.at)):
            monitor = monitors.get(outcome.monitor_id)
            if monitor is None or not monitor.enabled:
                continue
            if outcome.due_at is not None and monitor.last_probe_at is not None \
                    and monitor.last_probe_at >= outcome.due_at:
                continue
            probes.append(Probe(
                monitor=monitor, at=outcome.at, due_at=outcome.due_at, ok=outcome.ok,
                status_code=outcome.status_code, latency_ms=outcome.latency_ms, error=outcome.error,
            ))
            deliveries += _apply(monitor, outcome, book, now)
            touched.append(monitor)
            recorded.append(outcome)
        Probe.objects.bulk_create(probes)
        Monitor.objects.bulk_update(
            touched, ["state", "consecutive_failures", "last_probe_at", "next_due_at"], batch_size=500
        )
        alerts.dispatch(deliveries)
    return recorded


class _IncidentBook:
    """The open incidents of a batch's monitors, with what ``decide`` needs about each."""

    def __init__(self, monitor_ids: list[int]) -> None:
        incidents = Incident.objects.filter(monitor_id__in=monitor_ids, closed_at__isnull=True)
        self.open = {i.monitor_id: i for i in incidents}
        self.flapping: dict[int, bool] = {}
        self.last_change: dict[int, datetime] = {}
        events = IncidentEvent.objects.filter(incident__in=self.open.values()).order_by("at", "id")
        for event in events.values_list("incident_id", "kind", "at"):
            incident_id, kind, at = event
            if kind in ("flapping", "stable"):
                self.flapping[incident_id] = kind == "flapping"
            if kind in ("opened", "down", "up"):
                self.last_change[incident_id] = at

    def facts(self, monitor: Monitor, change: str | None, state: str, now: datetime) -> Facts:
        incident = self.open.get(monitor.pk)
        recent = 0
        if change is not None:
            recent = IncidentEvent.objects.filter(
                incident__monitor=monitor, kind__in=CHANGE_KINDS, at__gt=now - FLAP_WINDOW
            ).count()
        return Facts(
            change=change, state=state, now=now,
            incident_open=incident is not None,
            incident_flapping=bool(incident and self.flapping.get(incident.pk)),
            recent_changes=recent,
            last_change_at=self.last_change.get(incident.pk) if incident else None,
        )


def _apply(monitor: Monitor, outcome: ProbeOutcome, book: _IncidentBook, now: datetime) -> list[int]:
    """Step ``monitor`` with ``outcome`` (in memory; the caller saves it), carry out the
    incident action; the ids of the alert deliveries created."""
    after = step(monitor.state, monitor.consecutive_failures, monitor.down_after, outcome.ok)
    if not outcome.ok and after.state != "down":
        sooner = now + timedelta(seconds=retry_after_s(monitor.interval_s))
        if monitor.next_due_at is None or sooner < monitor.next_due_at:
            monitor.next_due_at = sooner
    monitor.state, monitor.consecutive_failures = after.state, after.consecutive_failures
    monitor.last_probe_at = outcome.at
    if after.change is None and monitor.pk not in book.open:
        return []  # the common case: nothing changed, nothing open
    action = decide(book.facts(monitor, after.change, after.state, now), _reason(outcome))
    return _carry_out(monitor, action, book, outcome.at)


def _reason(outcome: ProbeOutcome) -> str:
    if not outcome.ok:
        return outcome.error
    latency = f" in {outcome.latency_ms:.0f} ms" if outcome.latency_ms is not None else ""
    return f"status {outcome.status_code}{latency}"


def _carry_out(monitor: Monitor, action: Action, book: _IncidentBook, at: datetime) -> list[int]:
    incident = book.open.get(monitor.pk)
    if action.open:
        incident = Incident.objects.create(
            monitor=monitor, project_id=monitor.project_id, opened_at=at, reason=action.events[0][1][:500]
        )
        book.open[monitor.pk] = incident
    if incident is None:
        return []
    IncidentEvent.objects.bulk_create(
        IncidentEvent(incident=incident, at=at, kind=kind, reason=reason[:500])
        for kind, reason in action.events
    )
    if action.close:
        incident.closed_at = at
        incident.save(update_fields=["closed_at"])
        del book.open[monitor.pk]
    return alerts.create_deliveries(incident, action.alert) if action.alert else []
