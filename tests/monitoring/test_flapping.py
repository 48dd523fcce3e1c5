"""Flapping through the database: probes recorded one by one at given times (exact events and
alerts)."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from checks.models import AlertDelivery, Incident, Monitor
from checks.monitoring import services
from checks.monitoring.incidents import flapping_reason
from checks.monitoring.probe import ProbeOutcome
from checks.monitoring.scheduler import record_outcomes


def probe_at(monitor: Monitor, at, ok: bool) -> None:
    outcome = ProbeOutcome(monitor.pk, at, at, ok, 200 if ok else 503, 5.0 if ok else 2.0,
                           "" if ok else "status 503, expected 200")
    record_outcomes([outcome], now=at)


def timeline(project) -> list[tuple[int, str, str]]:
    """(incident number, event kind, reason without its latency) in order."""
    rows = []
    numbers = {}
    for incident in Incident.objects.order_by("opened_at", "id"):
        numbers[incident.pk] = len(numbers) + 1
        number = numbers[incident.pk]
        rows += [(number, e.kind, re.sub(r" in \d+ ms$", "", e.reason)) for e in incident.events.all()]
    return rows


def test_a_monitor_bouncing_every_minute_alerts_four_times_then_holds_until_it_settles(project, loopback):
    services.channel_create(project, kind="email", email="ops@clubhouse.test")
    watched = Monitor.objects.create(project=project, name="Homepage", url="https://www.clubhouse.test/",
                                     down_after=1, next_due_at=timezone.now())
    start = timezone.now() - timedelta(hours=1)
    minute = timedelta(minutes=1)
    pattern = [False, True, False, True, False, True, False, True]  # 8 changes, one a minute
    for i, ok in enumerate(pattern):
        probe_at(watched, start + i * minute, ok)
    assert timeline(project) == [
        (1, "opened", "status 503, expected 200"), (1, "closed", "status 200"),
        (2, "opened", "status 503, expected 200"), (2, "closed", "status 200"),
        (3, "opened", "status 503, expected 200"), (3, "flapping", flapping_reason(5)),
        (3, "up", "status 200"), (3, "down", "status 503, expected 200"), (3, "up", "status 200"),
    ]
    incident = Incident.objects.order_by("-opened_at").first()
    assert incident.closed_at is None  # kept open through the flapping spell
    # Up for 9 minutes: still held. At 10 minutes without a change: closed, quietly (its down
    # alert was held, so nobody is told of a recovery).
    last = start + 7 * minute
    probe_at(watched, last + timedelta(minutes=9), True)
    assert Incident.objects.filter(closed_at__isnull=True).count() == 1
    probe_at(watched, last + timedelta(minutes=10), True)
    assert timeline(project)[-1] == (3, "closed", "up for 10 min after flapping")
    assert sorted((d.incident_id, d.kind) for d in AlertDelivery.objects.all()) == sorted(
        (i.pk, kind) for i in Incident.objects.order_by("opened_at")[:2] for kind in ("down", "up")
    )


def test_a_flapping_monitor_that_stays_down_sends_its_held_down_alert_once(project, loopback):
    services.channel_create(project, kind="email", email="ops@clubhouse.test")
    watched = Monitor.objects.create(project=project, name="Homepage", url="https://www.clubhouse.test/",
                                     down_after=1, next_due_at=timezone.now())
    start = timezone.now() - timedelta(hours=1)
    for i, ok in enumerate([False, True, False, True, False]):  # the 5th change flaps
        probe_at(watched, start + timedelta(minutes=i), ok)
    flapping = Incident.objects.get(closed_at__isnull=True)
    assert not AlertDelivery.objects.filter(incident=flapping).exists()
    probe_at(watched, start + timedelta(minutes=14), False)
    probe_at(watched, start + timedelta(minutes=15), False)  # down 11 min since the last change
    probe_at(watched, start + timedelta(minutes=16), False)
    assert [e.kind for e in flapping.events.all()] == ["opened", "flapping", "stable"]
    assert list(AlertDelivery.objects.filter(incident=flapping).values_list("kind", flat=True)) == ["down"]
