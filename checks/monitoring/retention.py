"""Retention of probes: raw probes kept ``RAW_RETENTION`` (7 days), hourly roll-ups kept after.

``retention_run`` (beat: ``checks.monitoring.retention.retention_task``, every 10 minutes)
does two things, in this order, both idempotent:

1. **Roll up** every complete hour of raw probes that has no ``ProbeRollup`` yet — an hour is
   complete ``ROLLUP_DELAY`` after it ends (a probe is stored with the time it *started*, and
   a probe's timeout is at most 30 s). One row per monitor and hour: ``probes``,
   ``ok_probes``, and the p50, p95 and maximum of the latencies that hour's probes measured
   (``None`` when none came back). Rows are inserted with ``ignore_conflicts`` on the
   ``(monitor, hour)`` constraint, so two runs at once, or a run repeated, add nothing twice;
   an hour already rolled up is never recomputed.
2. **Prune** raw probes older than the start of the hour ``RAW_RETENTION`` ago. Pruning on an
   hour boundary keeps every hour of the last 7 days whole in raw probes, so the dashboard
   can read whole hours from raw probes after that boundary and from roll-ups before it
   without counting a probe twice (``checks.dashboard``). Only probes whose hour has a
   roll-up are deleted (step 1 of the same run wrote it), so a probe is never lost unrolled.

**Percentiles**: ``statistics.quantiles(latencies, n=100, method="inclusive")`` — linear
interpolation between the closest ranks (the same as NumPy's default ``linear`` and R's type
7): p50 is cut point 50, p95 cut point 95. One latency is its own p50 and p95.

**Storage per monitor** (PostgreSQL 15, measured: docs/monitoring.md): a raw probe row is
about 146 bytes with its indexes; at the default 60 s, 7 days are 10,080 probes (≈ 1.5 MB);
at the fastest 30 s, 20,160 (≈ 2.9 MB). A roll-up row is about 150 bytes: 8,760 a year
(≈ 1.3 MB a year). Raw probes stop growing after 7 days; roll-ups grow by that much a year.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby

from celery import shared_task
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import TruncHour
from django.utils import timezone

from checks.models import Monitor, Probe, ProbeRollup

RAW_RETENTION = timedelta(days=7)
ROLLUP_DELAY = timedelta(minutes=2)
HOUR = timedelta(hours=1)
DELETE_BATCH = 10_000  # raw probes deleted per statement: short locks on a large backlog
INSERT_BATCH = 1_000


@dataclass(frozen=True)
class RetentionReport:
    """What one run did: ``rolled_up`` hours written, ``pruned`` raw probes deleted."""

    rolled_up: int
    pruned: int


def floor_hour(moment: datetime) -> datetime:
    """The start of ``moment``'s hour, in UTC (the database stores UTC)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def raw_horizon(now: datetime) -> datetime:
    """Raw probes are whole from this moment on: the start of the hour ``RAW_RETENTION`` ago."""
    return floor_hour(now - RAW_RETENTION)


def latency_figures(latencies: list[float]) -> tuple[float | None, float | None, float | None]:
    """``(p50_ms, p95_ms, max_ms)`` of ``latencies`` (ms), ``statistics.quantiles`` inclusive
    method (linear interpolation between closest ranks); ``(None, None, None)`` for none."""
    if not latencies:
        return None, None, None
    if len(latencies) == 1:
        return latencies[0], latencies[0], latencies[0]
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49], cuts[94], max(latencies)


def retention_run(now: datetime | None = None) -> RetentionReport:
    """Roll up every complete hour not rolled up yet, then prune raw probes older than the
    raw horizon; see the module docstring. Safe to run at any time, twice, or in parallel."""
    now = now or timezone.now()
    rolled = rollup_pending(now)
    return RetentionReport(rolled_up=rolled, pruned=prune_raw(now))


def rollup_pending(now: datetime) -> int:
    """Write the ``ProbeRollup`` rows of complete hours that have none; returns how many were
    inserted. Reads raw probes from the oldest pending hour only (each monitor's newest
    roll-up bounds it), so a steady run reads about one hour of probes."""
    end = floor_hour(now - ROLLUP_DELAY)  # hours starting before ``end`` are complete
    start = _oldest_pending_hour(now, end)
    if start is None:
        return 0
    done = set(ProbeRollup.objects.filter(hour__gte=start, hour__lt=end).values_list("monitor_id", "hour"))
    probes = (Probe.objects.filter(at__gte=start, at__lt=end).order_by("monitor_id", "at")
              .values_list("monitor_id", "at", "ok", "latency_ms"))
    rows: list[ProbeRollup] = []
    inserted = 0
    for (monitor_id, hour), group in groupby(probes.iterator(chunk_size=5_000),
                                             key=lambda p: (p[0], floor_hour(p[1]))):
        if (monitor_id, hour) in done:
            continue
        rows.append(_rollup(monitor_id, hour, list(group)))
        if len(rows) >= INSERT_BATCH:
            inserted += _insert(rows)
            rows = []
    return inserted + _insert(rows)


def _oldest_pending_hour(now: datetime, end: datetime) -> datetime | None:
    """The first hour that may lack a roll-up: over monitors with a probe after their newest
    roll-up's hour, the earliest such hour. ``None`` when nothing is pending. One query (three
    index lookups per monitor)."""
    newest_rollup = ProbeRollup.objects.filter(monitor=OuterRef("pk")).order_by("-hour").values("hour")[:1]
    newest_probe = Probe.objects.filter(monitor=OuterRef("pk")).order_by("-at").values("at")[:1]
    oldest_probe = Probe.objects.filter(monitor=OuterRef("pk")).order_by("at").values("at")[:1]
    start = None
    for rolled, newest, oldest in Monitor.objects.annotate(
        rolled=Subquery(newest_rollup), newest=Subquery(newest_probe), oldest=Subquery(oldest_probe),
    ).values_list("rolled", "newest", "oldest"):
        if newest is None:
            continue
        first = (rolled + HOUR) if rolled is not None else floor_hour(oldest)
        if newest < first or first >= end:
            continue
        start = first if start is None else min(start, first)
    return start


def _rollup(monitor_id: int, hour: datetime, probes: list[tuple]) -> ProbeRollup:
    latencies = [p[3] for p in probes if p[3] is not None]
    p50, p95, most = latency_figures(latencies)
    return ProbeRollup(monitor_id=monitor_id, hour=hour, probes=len(probes),
                       ok_probes=sum(p[2] for p in probes), latency_p50_ms=p50, latency_p95_ms=p95,
                       latency_max_ms=most)


def _insert(rows: list[ProbeRollup]) -> int:
    """Insert ``rows``, skipping any (monitor, hour) a parallel run wrote first; returns how
    many rows were offered."""
    ProbeRollup.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def prune_raw(now: datetime) -> int:
    """Delete raw probes older than ``raw_horizon(now)`` whose hour has a roll-up, in batches
    of ``DELETE_BATCH``; returns how many were deleted."""
    rolled = ProbeRollup.objects.filter(monitor=OuterRef("monitor"), hour=OuterRef("hour_start"))
    old = (Probe.objects.filter(at__lt=raw_horizon(now)).annotate(hour_start=TruncHour("at", tzinfo=UTC))
           .filter(Exists(rolled)))
    deleted = 0
    while True:
        batch = list(old.values_list("pk", flat=True)[:DELETE_BATCH])
        if not batch:
            return deleted
        deleted += Probe.objects.filter(pk__in=batch).delete()[0]
        if len(batch) < DELETE_BATCH:
            return deleted


@shared_task(acks_late=True, soft_time_limit=540, time_limit=600)
def retention_task() -> dict:
    """Beat entry: ``retention_run`` now; returns ``{"rolled_up": n, "pruned": n}``."""
    report = retention_run()
    return {"rolled_up": report.rolled_up, "pruned": report.pruned}
