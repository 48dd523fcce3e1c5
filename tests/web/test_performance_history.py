"""The project page's Performance section: each endpoint's p95 in the latest audit against the
one before, from the CheckResults that performance.p95 stored per run (exact figures)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from checks.models import AuditRun, CheckResult
from launchready.charts import SVG_NS
from projects.performance import EndpointTrend, P95Point, performance_history
from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts" / "web"

FEED = "https://app.alpha.example.com/feed"
LOGIN = "https://app.alpha.example.com/login"
PROFILE = "https://app.alpha.example.com/me"
CONTENT = "https://app.alpha.example.com/posts/1"
SVG = {"s": SVG_NS}


def _run(project, days_ago: int, results: list[tuple[str, str, str, float | None]]) -> AuditRun:
    """A finished run ``days_ago`` days old with performance.p95 results
    ``(target, kind, status, p95_ms)`` (target 300 ms each)."""
    run = AuditRun.objects.create(project=project, state=AuditRun.State.DONE)
    AuditRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    for target, kind, status, p95 in results:
        metrics = {} if p95 is None else {"p50_ms": 40.0, "p95_ms": p95, "p99_ms": p95 + 20, "requests": 50,
                                          "errors": 0, "concurrency": 5}
        summary = ("needs a test account: the profile is personal" if p95 is None
                   else f"p95 {round(p95)} ms vs the 300 ms target (50 requests, concurrency 5)")
        CheckResult.objects.create(run=run, check_id="performance.p95", stage="performance", impact="high",
                                   target=target, status=status, summary=summary, metrics=metrics,
                                   evidence={"url": target, "kind": kind, "target_p95_ms": 300})
    return run


@pytest.fixture
def history(world):
    project = world.a.project
    _run(project, 9, [(FEED, "feed", "pass", 180.0), (LOGIN, "login", "pass", 95.0)])
    _run(project, 6, [(FEED, "feed", "warn", 300.0), (LOGIN, "login", "pass", 90.0)])
    # A quick audit measures nothing of stage 4: it must not break the comparison.
    AuditRun.objects.create(project=project, state=AuditRun.State.DONE, quick=True)
    _run(project, 1, [(FEED, "feed", "fail", 412.4), (LOGIN, "login", "pass", 80.2),
                      (PROFILE, "profile", "error", None)])
    return project


def test_each_endpoint_compares_its_latest_p95_with_the_run_before(history):
    trends = {t.url: t for t in performance_history(history)}

    assert list(trends) == [FEED, LOGIN, PROFILE]
    feed, login, profile = trends[FEED], trends[LOGIN], trends[PROFILE]
    assert [p.p95_ms for p in feed.points] == [412.4, 300.0, 180.0]
    assert (feed.latest.p95_ms, feed.previous.p95_ms, feed.change_ms, feed.change_pct, feed.trend,
            feed.change_tone) == (412.4, 300.0, 112.4, 37.5, "slower", "worse")
    assert (login.change_ms, login.change_pct, login.trend, login.change_tone) == (
        -9.8, -10.9, "faster", "better")
    assert (profile.change_tone, profile.over_target, feed.over_target, login.over_target) == (
        "", False, True, False)
    assert (feed.kind, feed.target_p95_ms) == ("feed", 300)
    assert profile.latest.status == "error" and profile.previous is None and profile.change_ms is None
    assert feed.chart.table_head == ("Time", "p95 (ms)", "target (ms)")
    assert [row[1:] for row in feed.chart.table_rows] == [("180", "300"), ("300", "300"), ("412.4", "300")]
    assert feed.chart.summary.startswith("p95: 3 points from ")


def test_two_audits_of_one_minute_are_each_named_under_their_point(world):
    """Round time ticks put one "20:20" between two audits a minute apart: each point is
    labelled with its audit's number and date instead, under the point itself."""
    project = world.a.project
    first = datetime(2026, 11, 30, 20, 20, 5, tzinfo=UTC)
    for at, p95 in ((first, 250.0), (first + timedelta(minutes=1), 262.0)):
        run = _run(project, 0, [(LOGIN, "login", "pass", p95)])
        AuditRun.objects.filter(pk=run.pk).update(created_at=at)

    (trend,) = performance_history(project)

    assert [p.run_number for p in trend.points] == [2, 1]
    for svg in (trend.chart.svg, trend.chart.svg_narrow):
        root = etree.fromstring(svg.encode())
        labels = root.xpath("//s:g[@class='x-axis']/s:text", namespaces=SVG)
        assert [label.text for label in labels] == ["#1 · 30 Nov", "#2 · 30 Nov"]
        points = root.xpath("//s:g[@data-series='p95_ms']/s:circle[@class='point']", namespaces=SVG)
        assert [label.get("x") for label in labels] == [point.get("cx") for point in points]
        assert [point.findtext(f"{{{SVG['s']}}}title") for point in points] == [
            "30 Nov 2026, 20:20: 250 ms", "30 Nov 2026, 20:21: 262 ms"]


def _trend(latest: float | None, *older: float | None, target: int | None = 300) -> EndpointTrend:
    """An endpoint's trend from p95 figures, newest first (ms; ``None``: not measured)."""
    at = timezone.now()
    points = [P95Point(n, at - timedelta(days=n), "pass" if p95 is not None else "error", p95, "")
              for n, p95 in enumerate([latest, *older])]
    return EndpointTrend(FEED, "feed", target, points)


@pytest.mark.parametrize(("latest", "previous", "target", "expected"), [
    # (change_ms, change_pct, trend, change_tone)
    (101.0, 100.0, 300, (1.0, 1.0, "slower", "neutral")),  # +1 ms far within the target: noise
    (48.0, 40.0, 300, (8.0, 20.0, "slower", "neutral")),  # +20 % but under 10 ms
    (230.0, 200.0, 300, (30.0, 15.0, "slower", "neutral")),  # +30 ms but under 20 %
    (60.0, 50.0, 300, (10.0, 20.0, "slower", "worse")),  # exactly at both thresholds
    (150.0, 100.0, 300, (50.0, 50.0, "slower", "worse")),  # a real slowdown within the target
    (302.0, 298.0, 300, (4.0, 1.3, "slower", "worse")),  # a small rise that crossed the target
    (400.5, 400.0, 300, (0.5, 0.1, "same", "neutral")),  # over the target, but no change
    (450.0, 500.0, 300, (-50.0, -10.0, "faster", "better")),  # faster, though still over
    (99.0, 100.0, 300, (-1.0, -1.0, "faster", "better")),
    (100.4, 100.0, 300, (0.4, 0.4, "same", "neutral")),
    (101.0, 100.0, None, (1.0, 1.0, "slower", "neutral")),  # no target: the threshold alone
    (150.0, 100.0, None, (50.0, 50.0, "slower", "worse")),
    (12.0, 0.0, 300, (12.0, None, "slower", "worse")),  # from 0 ms: no share, the ms decide
    (9.0, 0.0, 300, (9.0, None, "slower", "neutral")),
])
def test_the_change_is_red_only_over_the_target_or_past_the_noise(latest, previous, target, expected):
    trend = _trend(latest, previous, target=target)

    assert (trend.change_ms, trend.change_pct, trend.trend, trend.change_tone) == expected


def test_without_a_previous_figure_the_change_has_no_tone():
    assert _trend(412.0).change_tone == ""
    assert _trend(412.0, None).change_tone == ""  # the run before could not measure it
    assert (_trend(None, 100.0).change_tone, _trend(None, 100.0).over_target) == ("", False)
    # The newest older figure is the one compared with, past a run that measured nothing.
    assert (_trend(330.0, None, 320.0).change_ms, _trend(330.0, None, 320.0).change_tone) == (10.0, "worse")


def test_the_history_reads_two_queries_however_many_runs(history):
    with CaptureQueriesContext(connection) as queries:
        performance_history(history)
    assert len(queries) == 2

    for days in (5, 4, 3, 2):
        _run(history, days, [(FEED, "feed", "pass", 200.0), (LOGIN, "login", "pass", 70.0)])
    with CaptureQueriesContext(connection) as queries:
        trends = performance_history(history)
    assert len(queries) == 2
    assert [p.p95_ms for p in trends[0].points] == [412.4, 200.0, 200.0, 200.0, 200.0, 300.0, 180.0]


def test_the_project_page_shows_the_change_per_endpoint(client, world, history):
    client.force_login(world.a.consultant)

    html = client.get(reverse("projects:detail", args=[history.pk])).content.decode()

    section = html[html.index('id="performance"'):]
    items = re.findall(r'<li class="perf-item" data-url="([^"]+)">(.*?)</li>', section, re.S)
    figures = {url: dict(re.findall(r'<dd class="(latest|previous|change[^"]*|target)">([^<]*)</dd>', body))
               for url, body in items}
    assert figures == {
        FEED: {"latest": "412 ms", "previous": "300 ms", "change worse": "+112 ms (+38%)",
               "target": "300 ms"},
        LOGIN: {"latest": "80 ms", "previous": "90 ms", "change better": "-10 ms (-11%)", "target": "300 ms"},
        PROFILE: {"latest": "—", "previous": "—", "change ": "—", "target": "300 ms"},
    }
    assert "needs a test account: the profile is personal" in dict(items)[PROFILE]
    assert dict(items)[FEED].count("<svg") == 2  # the wide chart and the phone one


def test_a_small_rise_within_the_target_is_shown_muted_not_red(client, world):
    project = world.a.project
    _run(project, 2, [(FEED, "feed", "pass", 200.0), (LOGIN, "login", "pass", 100.0)])
    _run(project, 1, [(FEED, "feed", "pass", 201.0), (LOGIN, "login", "pass", 150.0)])
    client.force_login(world.a.consultant)

    html = client.get(reverse("projects:detail", args=[project.pk])).content.decode()

    section = html[html.index('id="performance"'):]
    assert re.findall(r'<dd class="(change[^"]*)">([^<]*)</dd>', section) == [
        ("change neutral", "+1 ms (+1%)"), ("change worse", "+50 ms (+50%)")]
    assert ".perf-figures .neutral { color: var(--muted); }" in html
    assert ".perf-figures .worse { color: var(--red); }" in html


def test_the_page_costs_the_same_queries_with_one_run_or_many(client, world):
    project = world.a.project
    client.force_login(world.a.consultant)
    url = reverse("projects:detail", args=[project.pk])
    _run(project, 9, [(FEED, "feed", "pass", 180.0)])
    client.get(url)  # warm caches (session, content types)
    with CaptureQueriesContext(connection) as one:
        client.get(url)

    for days in (8, 7, 6, 5):
        _run(project, days, [(FEED, "feed", "pass", 190.0), (LOGIN, "login", "pass", 60.0)])
    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many) == len(one)


def test_a_founder_sees_it_and_another_agency_gets_404(client, world, history):
    url = reverse("projects:detail", args=[history.pk])
    client.force_login(world.a.founder)
    assert 'id="performance"' in client.get(url).content.decode()

    client.force_login(world.b.consultant)
    assert client.get(url).status_code == 404


def test_without_a_p95_result_the_section_is_left_out(client, world):
    AuditRun.objects.create(project=world.a.project, state=AuditRun.State.DONE)
    client.force_login(world.a.consultant)

    html = client.get(reverse("projects:detail", args=[world.a.project.pk])).content.decode()

    assert 'id="performance"' not in html
    assert performance_history(world.a.project) == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_section_reads_on_a_desktop_and_a_phone(browser, live_server, world, settings):
    """Headless Chromium at 1280 and 390 px: the section shows, the phone chart replaces the
    wide one, nothing is wider than the screen. Screenshots in test-artifacts/web/."""
    settings.REDIS_URL = ""
    project = world.a.project
    _run(project, 9, [(FEED, "feed", "pass", 180.0), (LOGIN, "login", "pass", 95.0)])
    _run(project, 6, [(FEED, "feed", "warn", 300.0), (LOGIN, "login", "pass", 90.0),
                      (CONTENT, "content", "pass", 120.0)])
    _run(project, 1, [(FEED, "feed", "fail", 412.4), (LOGIN, "login", "pass", 80.2),
                      (PROFILE, "profile", "error", None), (CONTENT, "content", "pass", 123.0)])
    client = Client()
    client.force_login(world.a.consultant)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    url = f"{live_server.url}{reverse('projects:detail', args=[project.pk])}#performance"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    for name, viewport, wide_shown in (("desktop", {"width": 1280, "height": 900}, True),
                                       ("phone", {"width": 390, "height": 844}, False)):
        context = browser.new_context(viewport=viewport)
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
        page = context.new_page()
        page.goto(url)
        section = page.locator("#performance")
        section.scroll_into_view_if_needed()
        section.screenshot(path=str(ARTIFACTS / f"project-performance-{name}.png"))

        assert section.locator(".perf-item").count() == 4
        feed = section.locator(f'.perf-item[data-url="{FEED}"]')
        assert feed.locator(".change").inner_text() == "+112 ms (+38%)"
        colour = "e => getComputedStyle(e).color"
        changes = {url: (section.locator(f'.perf-item[data-url="{url}"] .change').inner_text(),
                         section.locator(f'.perf-item[data-url="{url}"] .change').evaluate(colour))
                   for url in (FEED, LOGIN, CONTENT)}
        assert changes == {  # --red, --green, --muted of base.html
            FEED: ("+112 ms (+38%)", "rgb(180, 35, 24)"),
            LOGIN: ("-10 ms (-11%)", "rgb(29, 122, 70)"),
            CONTENT: ("+3 ms (+3%)", "rgb(91, 100, 117)"),
        }
        assert feed.locator(".chart-wide svg").is_visible() is wide_shown
        assert feed.locator(".chart-narrow svg").is_visible() is not wide_shown
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        context.close()
