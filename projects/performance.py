"""The project page's Performance section: each endpoint's p95 across the last audits.

Every run stores ``performance.p95``'s metrics on its ``CheckResult`` (``p95_ms`` …, see
``checks/engine/checks/performance.py``); this reads them back, newest first, and puts the
latest run beside the one before it: the change in ms and in %, the target, and a line chart
(``launchready/charts.py``) of p95 over the runs with the target drawn beside it.

Two queries whatever the number of runs or endpoints: the runs that measured p95, then their
results (only the fields shown: no evidence but the target).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models.fields.json import KT
from django.utils import timezone

from checks.models import AuditRun, CheckResult
from launchready.charts import Chart, Series, day_label, line_chart

CHECK_ID = "performance.p95"
LAST_RUNS = 10  # points on each chart
CHART_SIZE = (640, 200)
PHONE_SIZE = (340, 210)
# A rise counts as a slowdown worth a red figure only when it is both this large in share and
# in ms. Why: the p95 of 50 requests is about the third-slowest answer, so one slow answer from a
# busy host, a GC pause or a cold cache can move it by a tenth or more between two runs of a healthy
# endpoint (a judgement, not measured here); a rise of 20 % or more is past that noise. The ms floor
# keeps fast endpoints quiet: 40 -> 48 ms is +20 % yet nothing a member feels.
NOISE_PCT = 20.0
NOISE_MS = 10.0


@dataclass(frozen=True)
class P95Point:
    """One run's figure for one endpoint: ``p95_ms`` is ``None`` when that run could not
    measure it (``status`` error or skipped; ``summary`` says why). ``run_number`` is the run's
    number within its project (``AuditRun.number``; ``None`` when not read)."""

    run_id: int
    at: datetime
    status: str
    p95_ms: float | None
    summary: str
    run_number: int | None = None


@dataclass
class EndpointTrend:
    """An endpoint's p95 over the last runs: ``points`` newest first; ``target_p95_ms`` as
    the latest run applied it. ``previous`` is the newest older point with a figure."""

    url: str
    kind: str
    target_p95_ms: int | None
    points: list[P95Point] = field(default_factory=list)
    chart: Chart | None = None

    @property
    def latest(self) -> P95Point:
        return self.points[0]

    @property
    def previous(self) -> P95Point | None:
        return next((p for p in self.points[1:] if p.p95_ms is not None), None)

    @property
    def change_ms(self) -> float | None:
        """Latest minus previous p95 (ms; positive: slower), ``None`` without both."""
        if self.latest.p95_ms is None or self.previous is None:
            return None
        return round(self.latest.p95_ms - self.previous.p95_ms, 1)

    @property
    def change_pct(self) -> float | None:
        """The change as a share of the previous p95 (%, one decimal), ``None`` without both
        or when the previous was 0."""
        if self.change_ms is None or not self.previous.p95_ms:
            return None
        return round(self.change_ms / self.previous.p95_ms * 100, 1)

    @property
    def trend(self) -> str:
        """``slower``, ``faster`` or ``same`` (within 1 ms), ``""`` without a change."""
        if self.change_ms is None:
            return ""
        return "same" if abs(self.change_ms) < 1 else ("slower" if self.change_ms > 0 else "faster")

    @property
    def over_target(self) -> bool:
        """The latest p95 is over ``target_p95_ms`` (as ``performance.p95`` fails it); False
        without either figure."""
        p95, target = self.latest.p95_ms, self.target_p95_ms
        return p95 is not None and target is not None and p95 > target

    @property
    def change_tone(self) -> str:
        """How the change should read, for its colour: ``""`` without a change, else

        - ``worse`` (red): slower, and either over the target now or slower by at least
          ``NOISE_PCT`` % and ``NOISE_MS`` ms (a rise past run-to-run noise);
        - ``better`` (green): faster by 1 ms or more, even while still over the target (the
          change is good news; the status badge beside the URL says the endpoint fails);
        - ``neutral`` (muted): the same within 1 ms, or a rise within the target below that
          threshold, which a consultant should not read as a problem.

        A rise from a previous p95 of 0 ms has no share (``change_pct`` is ``None``): it counts
        as past the share threshold, so its ms decide.
        """
        if self.trend == "faster":
            return "better"
        if self.trend != "slower":
            return "neutral" if self.trend else ""
        if self.over_target:
            return "worse"
        meaningful = self.change_ms >= NOISE_MS and (self.change_pct is None or self.change_pct >= NOISE_PCT)
        return "worse" if meaningful else "neutral"


def performance_history(project, *, last_runs: int = LAST_RUNS) -> list[EndpointTrend]:
    """The trends of every endpoint ``performance.p95`` measured in ``project``'s last
    ``last_runs`` finished runs that ran it, in the order the latest run listed them; ``[]``
    when no run did. Two queries."""
    measured = AuditRun.objects.filter(project=project, state=AuditRun.State.DONE, results__check_id=CHECK_ID)
    newest = measured.distinct().order_by("-created_at", "-id")
    runs = list(newest.values_list("id", "created_at", "number")[:last_runs])
    if not runs:
        return []
    at = {run_id: created for run_id, created, _ in runs}
    numbers = {run_id: number for run_id, _, number in runs}
    rows = (CheckResult.objects.filter(run_id__in=list(at), check_id=CHECK_ID)
            .values("run_id", "target", "status", "summary", "metrics",
                    kind=KT("evidence__kind"), target_ms=KT("evidence__target_p95_ms")))
    order = {run_id: i for i, (run_id, *_) in enumerate(runs)}
    trends: dict[str, EndpointTrend] = {}
    for row in sorted(rows, key=lambda r: order[r["run_id"]]):
        trend = trends.get(row["target"])
        if trend is None:
            trend = EndpointTrend(row["target"], row["kind"] or "", _int(row["target_ms"]))
            trends[row["target"]] = trend
        p95 = (row["metrics"] or {}).get("p95_ms")
        trend.points.append(P95Point(row["run_id"], at[row["run_id"]], row["status"],
                                     float(p95) if isinstance(p95, int | float) else None, row["summary"],
                                     numbers[row["run_id"]]))
    for number, trend in enumerate(trends.values(), 1):
        trend.chart = _chart(trend, f"p95-chart-{number}")
    return list(trends.values())


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _chart(trend: EndpointTrend, chart_id: str) -> Chart:
    """p95 per run, oldest to newest, with the target as a second line."""
    oldest_first = list(reversed(trend.points))
    series = [Series("p95_ms", [(p.at, p.p95_ms) for p in oldest_first], label="p95")]
    if trend.target_p95_ms is not None:
        target = [(p.at, trend.target_p95_ms) for p in oldest_first]
        series.append(Series("target_ms", target, label="target"))
    # Each point is an audit: named under it (first and last always), not by round time ticks,
    # which put one "20:20" between two audits of the same minute.
    labels = [(p.at, point_label(p)) for p in oldest_first]
    return line_chart(f"p95 of {trend.url}", series, chart_id=chart_id, point_labels=labels,
                      size=CHART_SIZE, narrow=PHONE_SIZE, empty_message="No p95 measured yet")


def point_label(point: P95Point) -> str:
    """The x label of ``point``: ``"#2 · 30 Nov"`` (its audit's number and local date), or the
    date alone when the number was not read."""
    day = day_label(timezone.localtime(point.at))
    return f"#{point.run_number} · {day}" if point.run_number is not None else day
