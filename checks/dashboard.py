"""Reads of monitoring for pages and the handover PDF: a project's dashboard (uptime, p95
latency, error rate, incidents, charts) and the agency overview.

**Where the numbers come from.** Raw probes are whole for every hour from the raw horizon
on (``checks.monitoring.retention.raw_horizon``: the start of the hour 7 days ago); before
it, only hourly roll-ups remain. A window is counted from roll-ups for its hours before the
horizon and from raw probes after it, so no probe counts twice. Windows that reach past the
horizon (30 days) start on the hour (up to 59 minutes longer than stated).

- **Uptime %** = successful probes / probes × 100, over every monitor of the project (each
  probe counts once, so a monitor probed every 30 s weighs twice one probed every 60 s).
  ``None`` when there was no probe.
- **p95 latency** (ms): of the latencies measured in the last 24 h (probes that got an
  answer), ``statistics.quantiles(…, n=100, method="inclusive")`` cut point 95 — the same
  method as the roll-ups.
- **Error rate** (%): failed probes / probes over the last 24 h.

Every figure is computed from the database with a fixed number of queries, whatever the
number of monitors (the agency overview: two, whatever the number of projects; the 24 h
uptime of the page's projects is counted once a minute, see ``overview_uptime``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDay
from django.utils import timezone

from checks.models import Incident, Monitor, Probe, ProbeRollup
from checks.monitoring.retention import floor_hour, latency_figures, raw_horizon
from launchready import fragments
from launchready.charts import NARROW, Chart, Series, line_chart

WINDOWS = (("24h", "24 h", timedelta(hours=24)), ("7d", "7 d", timedelta(days=7)),
           ("30d", "30 d", timedelta(days=30)))
RECENT_INCIDENTS = timedelta(days=30)
MAX_INCIDENTS = 20
UPTIME_DAYS = 30

UPTIME_CACHE_S = 120  # an entry's minute plus slack; its key names the minute


@dataclass(frozen=True)
class Uptime:
    """Probes in a window: ``ok`` of ``total``; ``pct`` is ``None`` without probes."""

    ok: int = 0
    total: int = 0

    @property
    def pct(self) -> float | None:
        return round(self.ok / self.total * 100, 3) if self.total else None

    def __add__(self, other: Uptime) -> Uptime:
        return Uptime(self.ok + other.ok, self.total + other.total)


@dataclass
class MonitorRow:
    """One monitor on the dashboard: its uptime per window key (``"24h"``, ``"7d"``,
    ``"30d"``), p95 latency (ms) and error rate (%) over 24 h, its last probe's time, status
    code and error, and its open incident (or ``None``)."""

    monitor: Monitor
    uptime: dict[str, Uptime] = field(default_factory=dict)
    p95_ms: float | None = None
    error_rate_pct: float | None = None
    last_at: datetime | None = None
    last_status: int | None = None
    last_error: str = ""
    open_incident: Incident | None = None


@dataclass
class Dashboard:
    """A project's monitoring: ``rows`` (``MonitorRow`` per monitor), the project's ``uptime``
    per window key, ``p95_ms`` and ``error_rate_pct`` over 24 h, ``probes_24h``,
    ``last_deploy`` (the latest ``DeployEvent``, with its smoke result; ``None``: no deploy
    recorded) and ``last_deploy_at``, ``open_incidents`` and
    ``recent_incidents`` (closed in the last 30 days; events prefetched), and ``charts``."""

    rows: list[MonitorRow]
    uptime: dict[str, Uptime]
    p95_ms: float | None
    error_rate_pct: float | None
    probes_24h: int
    last_deploy: object | None
    open_incidents: list[Incident]
    recent_incidents: list[Incident]
    charts: list[Chart]

    @property
    def state(self) -> str:
        return project_state([r.monitor for r in self.rows])

    @property
    def last_deploy_at(self) -> datetime | None:
        return self.last_deploy.deployed_at if self.last_deploy else None


def project_state(monitors) -> str:
    """At a glance: ``down`` when an enabled monitor is down, ``unknown`` when one has no
    verdict yet, ``up`` when all enabled ones are up, ``none`` without an enabled monitor."""
    states = {m.state for m in monitors if m.enabled}
    if not states:
        return "none"
    if Monitor.State.DOWN in states:
        return "down"
    if Monitor.State.UNKNOWN in states:
        return "unknown"
    return "up"


def last_deploy(project):
    """The project's latest deploy (or rollback) as the deploy webhook recorded it, with its
    smoke test's status; ``None`` ("no deploys recorded") before the first. One query."""
    return (project.deploys.order_by("-deployed_at", "-id")
            .only("project_id", "kind", "environment", "version", "commit", "deployed_at", "smoke_status")
            .first())


def window_counts(monitor_ids: list[int], since: datetime, now: datetime) -> dict[int, Uptime]:
    """``{monitor_id: Uptime}`` of probes in ``[since, now)``: raw probes from the raw horizon
    (or ``since``, if later) on, hourly roll-ups for the hours before it. Two queries at most."""
    split = max(since, raw_horizon(now))
    counts: dict[int, Uptime] = defaultdict(Uptime)
    raw = (Probe.objects.filter(monitor_id__in=monitor_ids, at__gte=split, at__lt=now)
           .values("monitor_id").annotate(total=Count("id"), ok=Count("id", filter=Q(ok=True))))
    for row in raw:
        counts[row["monitor_id"]] += Uptime(row["ok"], row["total"])
    if since < split:
        rolled = (ProbeRollup.objects
                  .filter(monitor_id__in=monitor_ids, hour__gte=floor_hour(since), hour__lt=split)
                  .values("monitor_id").annotate(total=Sum("probes"), ok=Sum("ok_probes")))
        for row in rolled:
            counts[row["monitor_id"]] += Uptime(row["ok"] or 0, row["total"] or 0)
    return dict(counts)


def project_dashboard(project, now: datetime | None = None) -> Dashboard:
    """Everything the monitoring page shows of ``project`` as of ``now``. Ten queries at most
    (nine without incidents; one is the last deploy), whatever the number of monitors, probes
    and incidents."""
    now = now or timezone.now()
    monitors = list(project.monitors.select_related("endpoint").all())
    ids = [m.pk for m in monitors]
    rows = {m.pk: MonitorRow(m) for m in monitors}
    recent = list(Probe.objects.filter(monitor_id__in=ids, at__gte=now - timedelta(hours=24), at__lt=now)
                  .order_by("at").values_list("monitor_id", "at", "ok", "latency_ms", "status_code", "error"))
    _fill_day(rows, recent)
    uptime = {"24h": Uptime(sum(p[2] for p in recent), len(recent))}
    for key, _label, span in WINDOWS[1:]:
        per_monitor = window_counts(ids, now - span, now)
        for monitor_id, counts in per_monitor.items():
            rows[monitor_id].uptime[key] = counts
        uptime[key] = sum(per_monitor.values(), Uptime())
    incidents = _incidents(project, now)
    for incident in incidents[0]:
        rows[incident.monitor_id].open_incident = incident
    latencies = [p[3] for p in recent if p[3] is not None]
    return Dashboard(
        rows=list(rows.values()), uptime=uptime, p95_ms=_p95(latencies),
        error_rate_pct=round((len(recent) - uptime["24h"].ok) / len(recent) * 100, 3) if recent else None,
        probes_24h=len(recent), last_deploy=last_deploy(project),
        open_incidents=incidents[0], recent_incidents=incidents[1],
        charts=[uptime_chart(project, now=now), latency_chart(monitors, recent, now=now)],
    )


def _fill_day(rows: dict[int, MonitorRow], recent: list[tuple]) -> None:
    """Each monitor's 24 h uptime, p95, error rate and last probe from the day's raw probes
    (``recent``: ``(monitor_id, at, ok, latency_ms, status_code, error)`` in time order)."""
    by_monitor: dict[int, list[tuple]] = defaultdict(list)
    for probe in recent:
        by_monitor[probe[0]].append(probe)
    for monitor_id, row in rows.items():
        probes = by_monitor.get(monitor_id, [])
        ok = sum(p[2] for p in probes)
        row.uptime["24h"] = Uptime(ok, len(probes))
        row.p95_ms = _p95([p[3] for p in probes if p[3] is not None])
        row.error_rate_pct = round((len(probes) - ok) / len(probes) * 100, 3) if probes else None
        if probes:
            _, row.last_at, _, _, row.last_status, row.last_error = probes[-1]


def _incidents(project, now: datetime) -> tuple[list[Incident], list[Incident]]:
    """Open incidents, and incidents closed in the last 30 days (newest first, at most
    ``MAX_INCIDENTS``), with their monitors and events. Two queries."""
    incidents = list(
        Incident.objects.filter(project=project)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=now - RECENT_INCIDENTS))
        .select_related("monitor").prefetch_related("events").order_by("-opened_at", "-id")[:MAX_INCIDENTS]
    )
    return [i for i in incidents if i.closed_at is None], [i for i in incidents if i.closed_at is not None]


def _round(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


def _p95(latencies: list[float]) -> float | None:
    return _round(latency_figures(latencies)[1])


# ---------------------------------------------------------------- charts


def uptime_per_day(project, *, now: datetime, days: int = UPTIME_DAYS) -> list[tuple[datetime, Uptime]]:
    """``(midnight UTC, Uptime)`` of each of the last ``days`` days that had probes, oldest
    first: raw probes after the raw horizon, roll-ups before it. Two queries."""
    start = (now - timedelta(days=days - 1)).astimezone(UTC).replace(hour=0, minute=0, second=0,
                                                                     microsecond=0)
    split = max(start, raw_horizon(now))
    per_day: dict[datetime, Uptime] = defaultdict(Uptime)
    raw = (Probe.objects.filter(monitor__project=project, at__gte=split, at__lt=now)
           .annotate(day=TruncDay("at", tzinfo=UTC)).values("day")
           .annotate(total=Count("id"), ok=Count("id", filter=Q(ok=True))))
    for row in raw:
        per_day[row["day"]] += Uptime(row["ok"], row["total"])
    if start < split:
        rolled = (ProbeRollup.objects.filter(monitor__project=project, hour__gte=start, hour__lt=split)
                  .annotate(day=TruncDay("hour", tzinfo=UTC)).values("day")
                  .annotate(total=Sum("probes"), ok=Sum("ok_probes")))
        for row in rolled:
            per_day[row["day"]] += Uptime(row["ok"] or 0, row["total"] or 0)
    return sorted(per_day.items())


def uptime_chart(project, *, now: datetime | None = None, narrow: tuple[int, int] | None = NARROW) -> Chart:
    """"Uptime per day": the project's uptime (%) of each of the last 30 days, one line."""
    days = uptime_per_day(project, now=now or timezone.now())
    return line_chart(
        "Uptime per day", Series("uptime_pct", [(day, counts.pct) for day, counts in days], "Uptime"),
        chart_id="uptime-per-day", narrow=narrow, y_max=100,
        summary="Successful probes of every monitor, per day (UTC), last 30 days.",
        empty_message="Uptime appears once the monitors have run.",
    )


def latency_chart(monitors: list[Monitor], recent: list[tuple], *, now: datetime,
                  narrow: tuple[int, int] | None = NARROW) -> Chart:
    """"p95 latency per hour": one line per monitor, the p95 (ms) of each of the last 24
    hours' latencies (``recent``: the day's raw probes as ``project_dashboard`` reads them)."""
    per_hour: dict[tuple[int, datetime], list[float]] = defaultdict(list)
    for monitor_id, at, _ok, latency_ms, *_ in recent:
        if latency_ms is not None:
            per_hour[(monitor_id, floor_hour(at))].append(latency_ms)
    first = floor_hour(now - timedelta(hours=23))
    hours = [first + timedelta(hours=h) for h in range(24)]
    series = [
        Series("p95_ms", [(hour, _p95(per_hour.get((m.pk, hour), []))) for hour in hours], m.name)
        for m in monitors if any((m.pk, hour) in per_hour for hour in hours)
    ]
    if not series:
        series = [Series("p95_ms", [], "p95")]
    return line_chart(
        "p95 latency per hour", series, chart_id="latency-p95-per-hour", narrow=narrow,
        summary="The 95th percentile of each monitor's response times, per hour (UTC), last 24 hours.",
        empty_message="Latency appears once the monitors have run.",
    )


def monitoring_charts(project, now: datetime | None = None) -> list[Chart]:
    """The handover PDF's monitoring charts (uptime per day, p95 per hour; wide layout only),
    or none for a project without monitors. Four queries."""
    now = now or timezone.now()
    monitors = list(project.monitors.all())
    if not monitors:
        return []
    recent = list(Probe.objects.filter(monitor__in=monitors, at__gte=now - timedelta(hours=24), at__lt=now)
                  .values_list("monitor_id", "at", "ok", "latency_ms"))
    return [uptime_chart(project, now=now, narrow=None),
            latency_chart(monitors, recent, now=now, narrow=None)]


# ---------------------------------------------------------------- agency overview


@dataclass(frozen=True)
class ProjectRef:
    """What the overview shows of a project: no model instance (200 of them, with their
    agencies, cost more than the rest of the page)."""

    pk: int
    name: str
    agency_id: int
    agency_name: str


@dataclass
class OverviewRow:
    """One project at a glance: enabled monitors ``up``/``down``/``unknown``, ``disabled``
    ones, ``open_incidents``, and its 24 h ``uptime``."""

    project: ProjectRef
    up: int = 0
    down: int = 0
    unknown: int = 0
    disabled: int = 0
    open_incidents: int = 0
    uptime: Uptime = field(default_factory=Uptime)

    @property
    def monitors(self) -> int:
        return self.up + self.down + self.unknown + self.disabled

    @property
    def state(self) -> str:
        """``down``, ``unknown``, ``up`` or ``none``, as ``project_state`` says."""
        if self.down:
            return "down"
        if self.unknown:
            return "unknown"
        return "up" if self.up else "none"


def agency_overview(projects, now: datetime | None = None, *, uptime: bool = True) -> list[OverviewRow]:
    """One ``OverviewRow`` per project of the queryset ``projects`` (its order kept), the
    project as a ``ProjectRef``. Two queries, however many projects, monitors and probes:
    the projects with their monitors counted by state and their open incidents counted (one
    annotated query), and the last 24 h of probes counted (left out with ``uptime=False``:
    ``overview_uptime`` then fills the rows shown)."""
    enabled = Q(monitors__enabled=True)

    def monitors(where: Q) -> Count:
        # distinct: the access filter joins memberships, which must not multiply the count
        return Count("monitors", filter=where, distinct=True)

    incidents = (Incident.objects.filter(project=OuterRef("pk"), closed_at__isnull=True).order_by()
                 .values("project").annotate(n=Count("id")).values("n"))
    annotated = projects.annotate(
        n_up=monitors(enabled & Q(monitors__state=Monitor.State.UP)),
        n_down=monitors(enabled & Q(monitors__state=Monitor.State.DOWN)),
        n_unknown=monitors(enabled & Q(monitors__state=Monitor.State.UNKNOWN)),
        n_disabled=monitors(Q(monitors__enabled=False)),
        n_incidents=Coalesce(Subquery(incidents), 0),
    ).values_list("pk", "name", "agency_id", "agency__name",
                  "n_up", "n_down", "n_unknown", "n_disabled", "n_incidents")
    rows = [OverviewRow(ProjectRef(pk, name, agency_id, agency_name), up=up, down=down, unknown=unknown,
                        disabled=disabled, open_incidents=incidents)
            for pk, name, agency_id, agency_name, up, down, unknown, disabled, incidents in annotated]
    if uptime:
        overview_uptime(rows, now)
    return rows


def overview_uptime(rows: list[OverviewRow], now: datetime | None = None) -> None:
    """Set each row's ``uptime``: its probes of the 24 h up to the start of ``now``'s minute
    (default: now) counted. With 1-minute monitors that is 1,440 probes a monitor, so each
    project's count is kept in the cache for the rest of that minute (its key names the
    minute: an entry is exact for its window, never stale); the projects not found are
    counted in one query."""
    end = (now or timezone.now()).replace(second=0, microsecond=0)
    minute = int(end.timestamp()) // 60
    keys = {row.project.pk: f"overview-uptime:{row.project.pk}:{minute}" for row in rows}
    cached = fragments.cache_get_many(list(keys.values()))
    counts = {pk: Uptime(*cached[key]) for pk, key in keys.items() if key in cached}
    missing = [pk for pk in keys if pk not in counts]
    if missing:
        day = Probe.objects.filter(monitor__project_id__in=missing, at__gte=end - timedelta(hours=24),
                                   at__lt=end)
        counted = {row["monitor__project_id"]: Uptime(row["ok"], row["total"]) for row in
                   day.values("monitor__project_id")
                   .annotate(total=Count("id"), ok=Count("id", filter=Q(ok=True))).order_by()}
        counts.update({pk: counted.get(pk, Uptime()) for pk in missing})
        fragments.cache_set_many({keys[pk]: (counts[pk].ok, counts[pk].total) for pk in missing},
                                 ttl_s=UPTIME_CACHE_S)
    for row in rows:
        row.uptime = counts[row.project.pk]
