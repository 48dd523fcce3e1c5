"""Claiming due monitors, probing a batch, recording once per due time; on PostgreSQL (the
row-by-row claim of other databases is called directly where both paths are tested)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from checks.models import Incident, Monitor, Probe
from checks.monitoring import scheduler
from checks.monitoring.probe import ProbeOutcome
from checks.monitoring.scheduler import CLAIM_LIMIT, Claim, claim_due, record_outcomes, run_batch
from checks.sandbox import load_scenario
from projects.models import Agency, Project
from projects.services import SANDBOX_AGENCY, project_sync_from_scenario
from tests.concurrency import at_once
from tests.conftest import SCENARIOS

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def claim_row_by_row(*, now: datetime, limit: int = CLAIM_LIMIT) -> list[Claim]:
    """``claim_due`` as it runs on databases other than PostgreSQL (SQLite, the embedded default)."""
    return scheduler._claim_row_by_row(now, limit)


BOTH_PATHS = pytest.mark.parametrize("claim", [claim_due, claim_row_by_row],
                                     ids=["one-statement", "row-by-row"])


def monitor(project, url="http://127.0.0.1:9/", **fields) -> Monitor:
    values = {"name": "Homepage", "url": url, "interval_s": 60, "next_due_at": T0, **fields}
    return Monitor.objects.create(project=project, **values)


@BOTH_PATHS
def test_a_due_monitor_is_claimed_once_and_moved_one_interval_ahead(project, claim):
    due = monitor(project, next_due_at=T0 - timedelta(seconds=5))
    monitor(project, name="later", next_due_at=T0 + timedelta(seconds=10))
    monitor(project, name="paused", enabled=False, next_due_at=T0 - timedelta(seconds=50))
    monitor(project, name="never scheduled", next_due_at=None)
    assert claim(now=T0) == [Claim(due.pk, T0 - timedelta(seconds=5), T0)]
    due.refresh_from_db()
    assert due.next_due_at == T0 + timedelta(seconds=55)
    assert claim(now=T0) == []


@BOTH_PATHS
def test_the_sandbox_agencys_monitors_stay_due_and_enabled_and_take_no_place_in_the_limit(project, claim):
    sandbox = Agency.objects.create(slug=SANDBOX_AGENCY[0], name=SANDBOX_AGENCY[1])
    scratch = Project.objects.create(agency=sandbox, name="Clubhouse", apex_domain="clubhouse.test")
    hidden = [monitor(scratch, name=str(i), next_due_at=T0 - timedelta(minutes=5 + i)) for i in range(3)]
    watched = monitor(project, next_due_at=T0 - timedelta(seconds=5))

    assert claim(now=T0, limit=1) == [Claim(watched.pk, T0 - timedelta(seconds=5), T0)]
    assert claim(now=T0 + timedelta(hours=1)) == [Claim(watched.pk, T0 + timedelta(seconds=55),
                                                        T0 + timedelta(hours=1))]
    assert [(m.enabled, m.next_due_at) for m in Monitor.objects.filter(project=scratch).order_by("pk")] == [
        (True, m.next_due_at) for m in hidden]


@BOTH_PATHS
def test_the_clis_scenario_projects_are_not_probed_but_the_demo_that_make_serve_seeds_is(db, claim, settings):
    settings.SANDBOX_ENABLED = True
    scratch = project_sync_from_scenario(load_scenario(SCENARIOS / "demo.yaml"))  # manage.py audit --scenario
    call_command("seed_demo", stdout=StringIO())  # make serve
    demo = Project.objects.get(agency__slug="northwind")

    claimed = {c.monitor_id for c in claim(now=timezone.now() + timedelta(hours=2))}

    assert scratch.agency.slug == SANDBOX_AGENCY[0]
    assert claimed == set(demo.monitors.values_list("pk", flat=True))
    assert len(claimed) == scratch.monitors.filter(enabled=True).count() == 4


def test_a_monitor_far_behind_is_claimed_once_and_scheduled_from_now(project):
    late = monitor(project, next_due_at=T0 - timedelta(minutes=10))
    assert claim_due(now=T0) == [Claim(late.pk, T0 - timedelta(minutes=10), T0)]
    late.refresh_from_db()
    assert late.next_due_at == T0 + timedelta(seconds=60)


def test_the_most_overdue_monitors_are_claimed_first_up_to_the_limit(project):
    made = [monitor(project, name=str(i), next_due_at=T0 - timedelta(seconds=i)) for i in range(5)]
    claims = claim_due(now=T0, limit=3)
    assert [c.monitor_id for c in claims] == [made[4].pk, made[3].pk, made[2].pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="FOR UPDATE SKIP LOCKED is PostgreSQL's")
def test_two_claimers_at_once_get_disjoint_sets_that_cover_every_due_monitor(project):
    ids = {monitor(project, name=str(i), next_due_at=T0 - timedelta(seconds=i % 7)).pk for i in range(300)}
    def claimer() -> list[Claim]:
        return [claim for _ in range(4) for claim in claim_due(now=T0, limit=60)]

    results = at_once(claimer, claimer)
    first, second = ({c.monitor_id for c in r} for r in results)
    assert len(results[0]) + len(results[1]) == 300  # nobody claimed twice …
    assert first.isdisjoint(second)
    assert first | second == ids  # … and nobody was left out
    assert first and second  # both took part
    assert claim_due(now=T0) == []


def test_a_batch_probes_its_monitors_and_records_one_probe_each(project, loopback, site):
    up = monitor(project, url=site.url, keyword="Welcome")
    broken = monitor(project, name="API", url=site.url + "api", expected_status=204)
    now = timezone.now()
    due = now - timedelta(seconds=1)
    claims = [Claim(up.pk, due, now), Claim(broken.pk, due, now)]
    outcomes = run_batch(claims)
    assert sorted((o.monitor_id, o.ok, o.status_code, o.error) for o in outcomes) == [
        (up.pk, True, 200, ""),
        (broken.pk, False, 200, "status 200, expected 204"),
    ]
    probes = {p.monitor_id: p for p in Probe.objects.all()}
    assert probes[up.pk].due_at == due
    assert probes[up.pk].at >= probes[up.pk].due_at
    up.refresh_from_db()
    broken.refresh_from_db()
    assert (up.state, up.consecutive_failures, up.last_probe_at) == ("up", 0, probes[up.pk].at)
    assert (broken.state, broken.consecutive_failures) == ("unknown", 1)


def test_a_redelivered_batch_sends_no_request_and_records_nothing(project, loopback, site):
    watched = monitor(project, url=site.url)
    now = timezone.now()
    claims = [Claim(watched.pk, now, now)]
    assert len(run_batch(claims)) == 1
    assert run_batch(claims) == []
    assert (site.requests, Probe.objects.count()) == (1, 1)


def test_an_outcome_recorded_twice_counts_once(project, loopback):
    watched = monitor(project, down_after=1)
    now = timezone.now()
    outcome = ProbeOutcome(watched.pk, now, now, False, 503, 4.0, "status 503, expected 200")
    assert record_outcomes([outcome]) == [outcome]
    assert record_outcomes([outcome]) == []
    assert (Probe.objects.count(), Incident.objects.count()) == (1, 1)


def test_a_batch_that_waited_longer_than_the_interval_is_skipped(project, loopback, site):
    watched = monitor(project, url=site.url, interval_s=30)
    now = timezone.now()
    assert run_batch([Claim(watched.pk, now - timedelta(seconds=31), now - timedelta(seconds=31))]) == []
    assert site.requests == 0


def test_a_disabled_or_deleted_monitor_is_not_probed(project, loopback, site):
    paused = monitor(project, url=site.url, enabled=False)
    now = timezone.now()
    assert run_batch([Claim(paused.pk, now, now), Claim(987654, now, now)]) == []
    assert site.requests == 0


def test_a_first_failure_brings_the_next_probe_forward_to_20_s(project, loopback, site):
    site.set("down")
    watched = monitor(project, url=site.url)
    now = timezone.now()
    watched.next_due_at = now + timedelta(seconds=60)
    watched.save()
    run_batch([Claim(watched.pk, now, now)])
    watched.refresh_from_db()
    assert watched.consecutive_failures == 1
    assert timedelta(seconds=19) < watched.next_due_at - now <= timedelta(seconds=21)


def test_a_site_that_goes_down_and_comes_back_opens_and_closes_one_incident(project, loopback, site):
    watched = monitor(project, url=site.url)

    def probe_now():
        now = timezone.now()
        run_batch([Claim(watched.pk, now, now)])

    probe_now()
    site.set("closed")
    probe_now()
    assert Incident.objects.count() == 0  # one failure is not an outage
    probe_now()
    site.set("up")
    probe_now()
    incident = Incident.objects.get()
    assert incident.reason == "connect refused"
    assert [(e.kind, e.reason.split(" in ")[0]) for e in incident.events.all()] == [
        ("opened", "connect refused"), ("closed", "status 200"),
    ]
    assert incident.closed_at == incident.events.last().at
    watched.refresh_from_db()
    assert (watched.state, watched.consecutive_failures) == ("up", 0)


def test_a_sandbox_project_is_probed_through_its_sandbox(project, loopback, tmp_path):
    from checks.monitoring.network import release_sandboxes

    scenario = tmp_path / "watched.yaml"
    scenario.write_text(
        "name: watched\nproject: {name: Watched, apex: watched.test}\n"
        "hosts:\n  www.watched.test:\n    https:\n      - {path: /, body: Welcome}\n"
    )
    project.sandbox_scenario = str(scenario)
    project.save()
    watched = monitor(project, url="https://www.watched.test/", keyword="Welcome")
    now = timezone.now()
    try:
        [outcome] = run_batch([Claim(watched.pk, now, now)])
    finally:
        release_sandboxes()
    assert (outcome.ok, outcome.status_code, outcome.error) == (True, 200, "")


def test_a_project_whose_sandbox_cannot_start_records_why(project, loopback, tmp_path):
    project.sandbox_scenario = str(tmp_path / "gone.yaml")
    project.save()
    watched = monitor(project, url="https://www.gone.test/")
    now = timezone.now()
    [outcome] = run_batch([Claim(watched.pk, now, now)])
    assert outcome.ok is False
    assert outcome.error.startswith("sandbox unavailable: ")


def test_batches_cut_claims_in_order():
    claims = [Claim(i, T0, T0) for i in range(7)]
    cut = scheduler.batches(claims, size=3)
    assert [[c.monitor_id for c in b] for b in cut] == [[0, 1, 2], [3, 4, 5], [6]]
    assert Claim.from_json(claims[0].as_json()) == claims[0]
