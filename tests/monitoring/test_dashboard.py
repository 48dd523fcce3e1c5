"""The monitoring dashboard's arithmetic (uptime over 24 h / 7 d / 30 d from raw probes and
roll-ups, p95, error rate), its pages (staff manage, founders read), the agency overview's
fixed query count, the scenario sync and the handover's charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from checks import dashboard
from checks.models import (
    AlertChannel,
    AlertDelivery,
    Incident,
    IncidentEvent,
    LogSample,
    Monitor,
    Probe,
    ProbeRollup,
)
from checks.monitoring import alerts
from projects import access
from projects.models import Agency, Endpoint, Project
from tests.monitoring.support import Receiver

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)


def seed(project, now=NOW):
    """Two monitors with probes in the last day, earlier in the week, and roll-ups before the
    raw horizon (plus one inside it that must not count twice, and one past 30 days)."""
    home = Monitor.objects.create(project=project, name="Homepage", url="https://www.alpha.example.com/",
                                  state="up")
    health = Monitor.objects.create(project=project, name="Health", url="https://api.alpha.example.com/health",
                                    state="down")
    for n in range(10):   # last 24 h: 9 up (10 … 90 ms), one timeout
        ok = n < 9
        Probe.objects.create(monitor=home, at=now - timedelta(hours=2, minutes=n), ok=ok,
                             latency_ms=10.0 * (n + 1) if ok else None, status_code=200 if ok else None,
                             error="" if ok else "timeout after 10 s")
    for n in range(5):    # last 24 h: 5 up (100 … 500 ms)
        Probe.objects.create(monitor=health, at=now - timedelta(hours=3, minutes=n), ok=True,
                             latency_ms=100.0 * (n + 1), status_code=200)
    for n in range(20):   # 2 to 6 days ago: 18 of 20 up
        Probe.objects.create(monitor=home, at=now - timedelta(days=2, hours=n * 4), ok=n >= 2, latency_ms=5.0)
    for monitor, hour, probes, ok in ((home, datetime(2026, 11, 10, 8, tzinfo=UTC), 60, 30),
                                      (health, datetime(2026, 11, 20, 0, tzinfo=UTC), 100, 100),
                                      (home, datetime(2026, 11, 29, 10, tzinfo=UTC), 7, 7),
                                      (home, datetime(2026, 10, 20, 8, tzinfo=UTC), 50, 0)):
        ProbeRollup.objects.create(monitor=monitor, hour=hour, probes=probes, ok_probes=ok)
    return home, health


def test_uptime_p95_and_error_rate_of_a_project(world):
    home, health = seed(world.a.project)

    board = dashboard.project_dashboard(world.a.project, now=NOW)

    assert {k: (u.ok, u.total, u.pct) for k, u in board.uptime.items()} == {
        "24h": (14, 15, 93.333),
        "7d": (32, 35, 91.429),
        # 30 d: the week's raw probes plus the roll-ups before the horizon (not the one of 29 Nov,
        # whose hour is counted raw, nor the one of 20 Oct, past 30 days).
        "30d": (162, 195, 83.077),
    }
    # p95 of the 14 latencies of the day (10 … 90 and 100 … 500 ms): rank 12.35 → 400 + 0.35 × 100.
    assert (board.p95_ms, board.error_rate_pct, board.probes_24h) == (435.0, 6.667, 15)
    rows = {r.monitor.name: r for r in board.rows}
    assert (rows["Homepage"].uptime["24h"].pct, rows["Homepage"].p95_ms, rows["Homepage"].error_rate_pct) == (
        90.0, 86.0, 10.0)
    assert (rows["Health"].uptime["30d"].ok, rows["Health"].uptime["30d"].total, rows["Health"].p95_ms) == (
        105, 105, 480.0)
    assert (rows["Homepage"].last_at, rows["Homepage"].last_status) == (NOW - timedelta(hours=2), 200)
    assert board.state == "down"
    assert board.last_deploy_at is None


def test_the_dashboard_reads_a_fixed_number_of_queries(world, django_assert_num_queries):
    home, health = seed(world.a.project)
    for n in range(3):
        incident = Incident.objects.create(
            monitor=health, project=world.a.project, reason="status 503",
            opened_at=NOW - timedelta(days=n + 1), closed_at=NOW - timedelta(days=n))
        IncidentEvent.objects.create(incident=incident, at=incident.opened_at, kind="opened")
    with django_assert_num_queries(10):  # the tenth: the last deploy
        board = dashboard.project_dashboard(world.a.project, now=NOW)
    assert [len(i.events.all()) for i in board.recent_incidents] == [1, 1, 1]


def test_uptime_per_day_joins_roll_ups_and_raw_probes(world):
    seed(world.a.project)

    days = dashboard.uptime_per_day(world.a.project, now=NOW)

    assert [(d.date().isoformat(), u.ok, u.total) for d, u in days] == [
        ("2026-11-10", 30, 60), ("2026-11-20", 100, 100),
        ("2026-11-25", 4, 4), ("2026-11-26", 6, 6), ("2026-11-27", 6, 6), ("2026-11-28", 2, 4),
        ("2026-11-30", 14, 15),
    ]
    chart = dashboard.uptime_chart(world.a.project, now=NOW)
    assert chart.table_rows[-1] == ("30 Nov 2026, 00:00", "93.33")


def test_no_monitor_gives_empty_figures_and_no_data_charts(world):
    board = dashboard.project_dashboard(world.b.project, now=NOW)

    assert (board.rows, board.p95_ms, board.error_rate_pct, board.state) == ([], None, None, "none")
    assert all(u.pct is None for u in board.uptime.values())
    assert [c.empty for c in board.charts] == [True, True]


# --- pages ------------------------------------------------------------------------------


def page(client, user, name, *args):
    client.force_login(user)
    return client.get(reverse(name, args=args))


def test_the_staff_dashboard_shows_the_figures_and_the_tools(client, world):
    project = world.a.project
    now = timezone.now()
    seed(project, now=now)
    incident = Incident.objects.create(monitor=project.monitors.get(name="Health"), project=project,
                                       opened_at=now - timedelta(minutes=5),
                                       reason="status 503, expected 200")
    IncidentEvent.objects.create(incident=incident, at=incident.opened_at, kind="opened",
                                 reason=incident.reason)

    response = page(client, world.a.consultant, "checks:monitoring", project.pk)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="n">93.33\u00a0%</span><span class="l">Uptime, 24 h</span>' in html
    assert '<span class="n">435\u00a0ms</span><span class="l">p95 latency, 24 h</span>' in html
    assert '<span class="n">6.67\u00a0%</span><span class="l">Error rate, 24 h</span>' in html
    assert "No deploys recorded" in html
    assert 'id="open-incidents"' in html and "status 503, expected 200" in html
    assert 'id="chart-uptime-per-day"' in html and 'id="chart-latency-p95-per-hour"' in html
    for tool in ('id="add-monitor"', 'id="add-channel"', 'id="scan-log"',
                 f'href="/projects/{project.pk}/monitoring/monitors/{project.monitors.get(name="Health").pk}/"'):
        assert tool in html


def test_a_founder_reads_the_dashboard_without_tools_and_cannot_write(client, world):
    seed(world.a.project)
    channel = AlertChannel.objects.create(project=world.a.project, kind="email",
                                          email="ops@alpha.example.com")

    html = page(client, world.a.founder, "checks:monitoring", world.a.project.pk).content.decode()

    assert "Uptime, 24 h" in html
    for tool in ('id="add-monitor"', 'id="add-channel"', 'id="scan-log"', "Send test alert", "/edit"):
        assert tool not in html
    for name, args in (("checks:monitor_create", []), ("checks:channel_create", []),
                       ("checks:log_sample", []), ("checks:channel_test", [channel.pk])):
        assert client.post(reverse(name, args=[world.a.project.pk, *args])).status_code == 403
    assert AlertDelivery.objects.count() == 0


def test_staff_add_monitors_from_endpoints_and_any_url_then_edit_and_delete(client, world):
    project = world.a.project
    Endpoint.objects.create(project=project, kind="webhook", url="https://api.alpha.example.com/hooks",
                            method="POST")
    client.force_login(world.a.consultant)

    form = client.get(reverse("checks:monitor_create", args=[project.pk]))
    assert [c[1] for c in form.context["endpoints_form"].fields["endpoints"].choices] == [
        "Homepage: GET https://www.alpha.example.com/", "Webhook: POST https://api.alpha.example.com/hooks"]

    ids = [str(e.pk) for e in project.endpoints.order_by("id")]
    response = client.post(reverse("checks:monitors_from_endpoints", args=[project.pk]), {"endpoints": ids})
    assert response.status_code == 302
    assert list(project.monitors.order_by("id").values_list("name", "method", "expected_status")) == [
        ("Homepage", "GET", 200), ("Webhook", "GET", 405)]

    data = {"name": "Status page", "url": "https://status.alpha.example.com/", "method": "GET",
            "interval_s": 300, "timeout_s": 5, "expected_status": 200, "keyword": "All systems",
            "down_after": 2, "enabled": "on"}
    assert client.post(reverse("checks:monitor_create", args=[project.pk]), data).status_code == 302
    status = project.monitors.get(name="Status page")
    assert (status.interval_s, status.timeout_s, status.keyword, status.enabled) == (
        300, 5.0, "All systems", True)

    edit = reverse("checks:monitor_edit", args=[project.pk, status.pk])
    refused = client.post(edit, {**data, "timeout_s": 30, "interval_s": 30})
    assert refused.status_code == 200
    assert refused.context["form"].errors == {"timeout_s": ["The timeout must be shorter than the interval."]}
    assert client.post(edit, {**data, "interval_s": 3600, "enabled": ""}).status_code == 302
    status.refresh_from_db()
    assert (status.interval_s, status.enabled, status.next_due_at) == (3600, False, None)

    assert client.post(reverse("checks:monitor_delete", args=[project.pk, status.pk])).status_code == 302
    assert not Monitor.objects.filter(pk=status.pk).exists()


def test_a_webhook_channel_is_shown_masked_and_its_test_alert_reaches_the_receiver(client, world, loopback):
    receiver = Receiver("/services/T000/B000/secretpart")
    try:
        project = world.a.project
        client.force_login(world.a.consultant)
        response = client.post(reverse("checks:channel_create", args=[project.pk]),
                               {"kind": "slack", "name": "#alerts", "webhook_url": receiver.url,
                                "enabled": "on"})
        assert response.status_code == 302
        channel = AlertChannel.objects.get(project=project)
        assert receiver.url not in channel.webhook_url_encrypted

        html = client.get(reverse("checks:monitoring", args=[project.pk])).content.decode()
        assert "127.0.0.1/••••••••" in html and "secretpart" not in html
        assert "No test alert delivered yet" in html
        edit_html = client.get(reverse("checks:channel_edit", args=[project.pk, channel.pk])).content.decode()
        assert "secretpart" not in edit_html and 'type="password"' in edit_html

        # Blank keeps the stored URL.
        client.post(reverse("checks:channel_edit", args=[project.pk, channel.pk]),
                    {"name": "#ops", "webhook_url": "", "enabled": "on"})
        channel.refresh_from_db()
        assert channel.name == "#ops" and channel.webhook_url_encrypted

        assert client.post(reverse("checks:channel_test", args=[project.pk, channel.pk])).status_code == 302
        delivery = AlertDelivery.objects.get(channel=channel, kind="test")
        alerts.send(delivery.pk)

        assert receiver.bodies[0]["text"] == "🔔 Test alert from Launch Ready for Project A"
        channel.refresh_from_db()
        assert channel.last_test_ok_at is not None
        html = client.get(reverse("checks:monitoring", args=[project.pk])).content.decode()
        assert "Test alert delivered" in html
    finally:
        receiver.stop()


def test_a_log_sample_is_scanned_and_only_its_redacted_findings_are_kept(client, world):
    project = world.a.project
    client.force_login(world.a.consultant)
    text = "GET /v1/me Authorization: Bearer tok_abcdefghijklmnopqrstuvwxyz\nsignup jane.doe@example.com\n"

    response = client.post(reverse("checks:log_sample", args=[project.pk]),
                           {"text": text, "phone_region": "us"})

    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/monitoring/#log-hygiene"
    sample = LogSample.objects.get(project=project)
    stored = repr(sample.__dict__)
    assert "tok_abcdefghijklmnopqrstuvwxyz" not in stored and "jane.doe@example.com" not in stored
    assert (sample.source, sample.lines, sample.phone_region, sample.scan["counts"]) == (
        "pasted", 2, "US", {"bearer_token": 1, "email": 1})
    html = client.get(reverse("checks:monitoring", args=[project.pk])).content.decode()
    assert "1 × bearer token" in html and "tok_abcdefghijklmnopqrstuvwxyz" not in html
    assert sample.scan["findings"][0]["redacted"].startswith("tok_…#")
    assert project.spec().monitoring.log_scan.count("bearer_token") == 1


def test_a_log_sample_over_the_cap_or_missing_is_refused(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world.a.consultant)
    url = reverse("checks:log_sample", args=[world.a.project.pk])
    big = SimpleUploadedFile("app.log", b"x" * (1_048_576 + 1), content_type="text/plain")

    too_big = client.post(url, {"file": big, "phone_region": "US"})
    empty = client.post(url, {"text": "  ", "phone_region": "US"})

    assert too_big.context["form"].non_field_errors() == [
        "The file is 1,048,577 bytes; at most 1,048,576 are scanned. Upload a slice of it."]
    assert empty.context["form"].non_field_errors() == ["Paste some log lines or choose a file."]
    assert not LogSample.objects.exists()


# --- the agency overview -------------------------------------------------------------------


def many_projects(agency, count: int):
    now = timezone.now()
    for n in range(count):
        project = Project.objects.create(agency=agency, name=f"P{n:02}", apex_domain=f"p{n}.example.com")
        site = f"https://p{n}.example.com/"
        up = Monitor.objects.create(project=project, name="up", url=site, state="up")
        down = Monitor.objects.create(project=project, name="down", url=site + "x", state="down")
        Monitor.objects.create(project=project, name="paused", url=site + "y", enabled=False)
        Incident.objects.create(monitor=down, project=project, opened_at=now, reason="status 500")
        # Before the current minute: the overview counts the 24 h up to its start.
        probes = [Probe(monitor=up, at=now - timedelta(minutes=m + 1), ok=True) for m in range(3)]
        Probe.objects.bulk_create([*probes, Probe(monitor=down, at=now - timedelta(minutes=1), ok=False)])


def test_the_agency_overview_counts_each_project_in_two_queries(world, django_assert_num_queries):
    many_projects(world.a.agency, 12)
    projects = access.projects_for(world.a.consultant).order_by("name")

    with django_assert_num_queries(2):
        rows = dashboard.agency_overview(projects)

    first = rows[0]
    assert (first.project.name, first.up, first.down, first.unknown, first.disabled,
            first.open_incidents) == ("P00", 1, 1, 0, 1, 1)
    assert (first.uptime.ok, first.uptime.total, first.state) == (3, 4, "down")
    assert [r.project.name for r in rows][-1] == "Project A"
    assert (rows[-1].monitors, rows[-1].state) == (0, "none")


def test_the_overview_counts_a_projects_probes_once_a_minute(world, django_assert_num_queries):
    many_projects(world.a.agency, 2)
    now = timezone.now().replace(second=30)
    rows = dashboard.agency_overview(access.projects_for(world.a.owner).order_by("name"), now=now)
    assert [(r.project.name, r.uptime.ok, r.uptime.total) for r in rows] == [
        ("P00", 3, 4), ("P01", 3, 4), ("Project A", 0, 0)]
    Probe.objects.create(monitor=Monitor.objects.get(project__name="P00", name="up"),
                         at=now - timedelta(minutes=5), ok=True)

    with django_assert_num_queries(0):  # the same minute: every count from the cache
        dashboard.overview_uptime(rows, now=now + timedelta(seconds=20))
    assert [r.uptime.total for r in rows] == [4, 4, 0]
    with django_assert_num_queries(1):  # the next minute's window: counted again, the new probe in it
        dashboard.overview_uptime(rows, now=now + timedelta(seconds=40))
    assert [(r.uptime.ok, r.uptime.total) for r in rows] == [(4, 5), (3, 4), (0, 0)]


def test_the_overview_page_costs_the_same_queries_for_1_and_12_projects(client, world):
    client.force_login(world.a.consultant)
    url = reverse("checks:monitoring_overview")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = queries()
    many_projects(world.a.agency, 12)
    assert queries() == few


def test_the_overview_lists_only_what_the_user_may_see(client, world):
    many_projects(world.b.agency, 2)
    for user, names in ((world.a.consultant, ["Project A"]), (world.a.founder, ["Project A"]),
                        (world.b.owner, ["P00", "P01", "Project B"]), (world.outsider, [])):
        response = page(client, user, "checks:monitoring_overview")
        assert [r.project.name for r in response.context["rows"]] == names
    assert "Project A" not in page(client, world.b.owner, "checks:monitoring_overview").content.decode()


# --- the scenario sync and the handover's charts ------------------------------------------------


def test_the_demo_sync_records_monitors_channels_and_the_log_scan_the_checks_read():
    from checks.sandbox import load_scenario
    from projects.services import project_sync_from_scenario
    from tests.conftest import SCENARIOS

    project = project_sync_from_scenario(load_scenario(SCENARIOS / "demo.yaml"))
    again = project_sync_from_scenario(load_scenario(SCENARIOS / "demo.yaml"))

    assert again.pk == project.pk
    monitors = project.monitors.order_by("id").values_list("name", "expected_status", "state", "interval_s")
    assert list(monitors) == [("Homepage", 200, "up", 60), ("Login", 200, "up", 60),
                              ("Health", 200, "up", 30), ("Webhook", 405, "up", 60)]
    assert Probe.objects.filter(monitor__project=project).count() == 4
    channel = AlertChannel.objects.get(project=project)
    assert (channel.kind, channel.email, channel.last_test_ok_at is not None) == (
        "email", "oncall@clubhouse.test", True)
    assert AlertDelivery.objects.get(channel=channel).state == "sent"
    facts = project.spec().monitoring
    assert [(m.kind, m.last_ok_age_s // 30) for m in facts.monitors] == [   # by name; ages in half minutes
        ("health", 1), ("homepage", 2), ("login", 2), ("webhook", 4)]
    assert (facts.alert_channels_tested, facts.log_scan.lines, facts.log_scan.counts) == (1, 9, ())


def test_the_handover_draws_the_monitoring_charts_for_a_project_with_monitors(world):
    from handover.services import handover_charts

    seed(world.a.project, now=timezone.now())

    assert [c.chart_id for c in handover_charts(world.a.project, None)] == [
        "risk-history", "uptime-per-day", "latency-p95-per-hour"]
    assert [c.chart_id for c in handover_charts(world.b.project, None)] == ["risk-history"]
    assert all(not c.svg_narrow for c in handover_charts(world.a.project, None)[1:])


def test_agencies_are_kept_apart_in_the_overview_rows(world):
    Agency.objects.create(name="Empty", slug="empty")
    assert [r.project.name for r in dashboard.agency_overview(Project.objects.order_by("name"))] == [
        "Project A", "Project B"]
