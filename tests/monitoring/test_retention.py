"""Retention: raw probes rolled into hourly roll-ups (counts, p50/p95/max latency), raw probes
older than 7 days pruned; a second run changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from checks.models import Monitor, Probe, ProbeRollup
from checks.monitoring.retention import (
    latency_figures,
    prune_raw,
    raw_horizon,
    retention_run,
    rollup_pending,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def monitors(project):
    first = Monitor.objects.create(project=project, name="Homepage", url="https://clubhouse.test/")
    second = Monitor.objects.create(project=project, name="Health", url="https://api.clubhouse.test/health")
    return first, second


def probe(monitor, moment, latency_ms, ok=True):
    return Probe.objects.create(monitor=monitor, at=moment, ok=ok, latency_ms=latency_ms,
                                status_code=200 if ok else None, error="" if ok else "timeout after 10 s")


@pytest.fixture
def history(monitors):
    first, second = monitors
    for minute, latency in ((5, 10.0), (20, 20.0), (35, 30.0)):       # 8 days ago: all up
        probe(first, at(22, 9, minute), latency)
    probe(first, at(23, 12, 0, 0), 40.0)                                 # exactly at the horizon
    for minute, latency in ((0, 100.0), (15, 200.0), (30, 300.0)):      # 10:00–11:00 today
        probe(first, at(30, 10, minute), latency)
    probe(first, at(30, 10, 45), None, ok=False)                         # a timeout: no latency
    probe(second, at(30, 11, 10), 50.0)
    probe(second, at(30, 11, 40), 150.0)
    probe(second, at(30, 12, 10), 70.0)                                  # the hour still running
    probe(first, at(30, 12, 5), 70.0)
    return first, second


def rollups() -> list[tuple]:
    return list(ProbeRollup.objects.order_by("hour", "monitor__name").values_list(
        "monitor__name", "hour", "probes", "ok_probes", "latency_p50_ms", "latency_p95_ms", "latency_max_ms"))


def test_percentiles_are_the_inclusive_method_of_statistics_quantiles():
    assert latency_figures([100.0, 200.0, 300.0]) == (200.0, 290.0, 300.0)
    assert latency_figures([50.0, 150.0]) == (100.0, 145.0, 150.0)
    assert latency_figures([7.0]) == (7.0, 7.0, 7.0)
    assert latency_figures([]) == (None, None, None)


def test_every_complete_hour_is_rolled_up_and_raw_probes_past_seven_days_are_pruned(history):
    report = retention_run(NOW)

    assert rollups() == [
        ("Homepage", at(22, 9), 3, 3, 20.0, 29.0, 30.0),
        ("Homepage", at(23, 12), 1, 1, 40.0, 40.0, 40.0),
        ("Homepage", at(30, 10), 4, 3, 200.0, 290.0, 300.0),
        ("Health", at(30, 11), 2, 2, 100.0, 145.0, 150.0),
    ]
    assert (report.rolled_up, report.pruned) == (4, 3)
    assert raw_horizon(NOW) == at(23, 12)
    # The probe at the horizon and everything after it stay raw.
    assert Probe.objects.filter(at__lt=at(23, 12)).count() == 0
    assert Probe.objects.count() == 9


def test_a_second_run_changes_nothing(history):
    retention_run(NOW)
    before = (rollups(), sorted(Probe.objects.values_list("pk", flat=True)))

    again = retention_run(NOW)

    assert (again.rolled_up, again.pruned) == (0, 0)
    assert (rollups(), sorted(Probe.objects.values_list("pk", flat=True))) == before


def test_an_hour_is_rolled_up_only_once_it_is_over_and_its_last_probes_are_in(history):
    retention_run(at(30, 12, 1))   # 11:00–12:00 ended a minute ago: a probe may still be running
    assert ("Health", at(30, 11)) not in [r[:2] for r in rollups()]

    retention_run(at(30, 12, 3))
    assert ("Health", at(30, 11)) in [r[:2] for r in rollups()]
    assert ProbeRollup.objects.filter(hour=at(30, 12)).count() == 0


def test_a_probe_is_never_pruned_before_its_hour_is_rolled_up(history):
    pruned = prune_raw(NOW)   # no roll-up yet: nothing may go

    assert pruned == 0
    assert Probe.objects.filter(at__lt=at(23, 12)).count() == 3


def test_a_run_reads_raw_probes_only_from_the_oldest_pending_hour(history):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    retention_run(NOW)
    probe(history[0], at(30, 12, 20), 80.0)

    with CaptureQueriesContext(connection) as queries:
        assert rollup_pending(NOW + timedelta(hours=1)) == 2

    assert len(queries) == 4  # pending hours, rolled-up set, the probes, one insert
    read = next(q["sql"] for q in queries if 'FROM "checks_probe"' in q["sql"] and "ORDER BY" in q["sql"]
                and '"checks_monitor"' not in q["sql"])
    # The Homepage's newest roll-up is 10:00, so reading starts at 11:00, not 7 days back.
    assert "\"checks_probe\".\"at\" >= '2026-11-30 11:00:00" in read
    assert rollups()[-2:] == [("Health", at(30, 12), 1, 1, 70.0, 70.0, 70.0),
                              ("Homepage", at(30, 12), 2, 2, 75.0, 79.5, 80.0)]
