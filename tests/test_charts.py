"""The SVG charts (launchready.charts), read back with lxml: their exact structure, labels and
accessible name; the risk history built from stored audit runs, on the project page and in the
handover PDF."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from launchready.charts import (
    MAX_MARKERS,
    NARROW,
    SVG_NS,
    BarSeries,
    Series,
    empty_chart,
    format_number,
    line_chart,
    nice_ticks,
    stacked_bar_chart,
    time_ticks,
    unit_of,
)

NS = {"s": SVG_NS}
START = datetime(2026, 11, 1, 6, tzinfo=UTC)
DAYS = [START + timedelta(days=i) for i in range(30)]
P95 = [200 + (i * 37) % 90 for i in range(30)]  # 200 … 289 ms, last 283


def parse(svg: str):
    return etree.fromstring(svg.encode())


def texts(root, xpath: str) -> list[str]:
    return [t.text for t in root.xpath(xpath, namespaces=NS)]


def find(root, xpath: str) -> list:
    return root.xpath(xpath, namespaces=NS)


def path_points(d: str) -> tuple[int, int]:
    """``(moves, lines)`` of a path: how many runs and how many segments it draws."""
    return d.count("M"), d.count("L")


# ---------------------------------------------------------------- numbers and ticks

@pytest.mark.parametrize(("name", "unit"), [
    ("p95_ms", "ms"), ("uptime_pct", "%"), ("days_left", "days"), ("duration_s", "s"),
    ("size_bytes", "B"), ("blockers", ""), ("lookups", ""),
])
def test_the_unit_comes_from_the_metric_name(name, unit):
    assert unit_of(name) == unit


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (250, "250"), (1234, "1,234"), (9999, "9,999"), (12500, "12.5k"), (999_400, "999k"),
    (999_999, "1M"), (3e12, "3T"), (1e18, "1E"), (99.95, "99.95"), (123.44, "123.4"), (0.5, "0.5"),
    (-2, "−2"), (-12500, "−12.5k"),
])
def test_numbers_are_written_short(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(("low", "high", "integer", "ticks"), [
    (0, 283, False, [0, 100, 200, 300]),
    (99.6, 100, False, [99.6, 99.7, 99.8, 99.9, 100]),
    (0, 3, True, [0, 1, 2, 3]),
    (0, 0.3, True, [0, 1]),
    (-5, 10, False, [-5, 0, 5, 10]),
    (0, 0, False, [0, 0.25, 0.5, 0.75, 1]),
    (0, 9.9e14, False, [0, 2.5e14, 5e14, 7.5e14, 1e15]),
])
def test_ticks_are_round_and_cover_the_range(low, high, integer, ticks):
    assert nice_ticks(low, high, integer=integer) == ticks


def test_time_ticks_fall_on_midnights_weeks_hours_and_months():
    assert [label for _, label in time_ticks(DAYS[0], DAYS[-1], 10)] == \
        ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"]
    afternoon = time_ticks(datetime(2026, 11, 3, 9, 20, tzinfo=UTC),
                           datetime(2026, 11, 3, 15, 5, tzinfo=UTC), 7)
    assert [label for _, label in afternoon] == ["10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]
    long = time_ticks(datetime(2025, 1, 10, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC), 8)
    assert [label for _, label in long] == ["Jul 2025", "Jan 2026", "Jul 2026"]
    assert all(t.tzinfo is UTC for t, _ in long)


# ---------------------------------------------------------------- line chart

def test_a_thirty_day_series_draws_thirty_points_with_labels_and_an_accessible_name():
    chart = line_chart("p95 latency of login", Series("p95_ms", list(zip(DAYS, P95, strict=True)), "login"))
    root = parse(chart.svg)
    assert root.tag == f"{{{SVG_NS}}}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox") == "0 0 720 260"
    assert root.get("aria-labelledby") == "p95-latency-of-login-title p95-latency-of-login-desc"
    assert texts(root, "/s:svg/s:title") == ["p95 latency of login"]
    assert texts(root, "/s:svg/s:desc") == [chart.summary]
    assert chart.summary == (
        "login: 30 points from 1 Nov 2026, 06:00 to 30 Nov 2026, 06:00; latest 283 ms, lowest 200 ms "
        "(1 Nov 2026, 06:00), highest 289 ms (18 Nov 2026, 06:00)."
    )
    assert path_points(find(root, "//s:path[@class='line']/@d")[0]) == (1, 29)
    points = find(root, "//s:circle[@class='point']")
    assert len(points) == 30
    assert points[0].findtext(f"{{{SVG_NS}}}title") == "1 Nov 2026, 06:00: 200 ms"
    assert texts(root, "//s:g[@class='y-axis']/s:text") == ["0", "100", "200", "300"]
    assert texts(root, "//s:text[@class='unit']") == ["ms"]
    assert texts(root, "//s:g[@class='x-axis']/s:text") == ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"]
    assert texts(root, "//s:text[@class='end-label']") == ["283 ms"]
    assert find(root, "//s:script") == []
    assert chart.table_head == ("Time", "login (ms)")
    assert chart.table_rows[0] == ("1 Nov 2026, 06:00", "200")
    assert len(chart.table_rows) == 30
    assert not chart.empty


def test_missing_nan_and_infinite_values_break_the_line_and_are_counted():
    values = [10, 12, None, 14, math.nan, math.inf, 11, 2e19, 13]
    chart = line_chart("Gaps", Series("p95_ms", list(zip(DAYS, values, strict=False))))
    root = parse(chart.svg)
    # Runs: [10, 12] | [14] | [11] | [13]: four moves, one line segment.
    assert path_points(find(root, "//s:path[@class='line']/@d")[0]) == (4, 1)
    assert len(find(root, "//s:circle[@class='point']")) == 5
    assert chart.summary.endswith(" 4 missing.")
    assert [row[1] for row in chart.table_rows] == ["10", "12", "—", "14", "—", "—", "11", "—", "13"]


def test_one_point_is_a_marker_with_its_date_as_the_only_tick():
    chart = line_chart("Uptime", Series("uptime_pct", [(DAYS[3], 99.5)]))
    root = parse(chart.svg)
    assert path_points(find(root, "//s:path[@class='line']/@d")[0]) == (1, 0)
    assert len(find(root, "//s:circle[@class='point']")) == 1
    assert texts(root, "//s:g[@class='x-axis']/s:text") == ["4 Nov"]
    assert texts(root, "//s:g[@class='y-axis']/s:text") == ["99.4", "99.6", "99.8", "100.0"]  # up to 100 %
    assert texts(root, "//s:text[@class='end-label']") == ["99.5%"]
    assert chart.summary == "uptime_pct: 1 point from 4 Nov 2026, 06:00 to 4 Nov 2026, 06:00; latest 99.5%."


def test_huge_values_get_si_labels_and_values_beyond_the_cap_are_missing():
    chart = line_chart("Huge", Series("p95_ms", list(zip(DAYS, [3e12, 9.9e14, 5e14, 2e19], strict=False))))
    root = parse(chart.svg)
    assert texts(root, "//s:g[@class='y-axis']/s:text") == ["0", "250T", "500T", "750T", "1P"]
    assert texts(root, "//s:text[@class='end-label']") == ["500T ms"]
    assert len(find(root, "//s:circle[@class='point']")) == 3
    assert chart.summary.endswith("highest 990T ms (2 Nov 2026, 06:00). 1 missing.")


def test_negative_values_extend_the_axis_below_a_drawn_zero_line():
    chart = line_chart("Drift", Series("drift_ms", list(zip(DAYS, [-5, 3, 10, -2.5], strict=False))))
    root = parse(chart.svg)
    assert texts(root, "//s:g[@class='y-axis']/s:text") == ["−5", "0", "5", "10"]
    zero = find(root, "//s:g[@class='y-axis']/s:line")[1]
    assert zero.get("stroke") == "#98a2b3"  # the zero line is darker than the grid
    assert texts(root, "//s:text[@class='end-label']") == ["−2.5 ms"]


def test_two_series_get_a_legend_distinct_markers_and_end_labels_that_do_not_overlap():
    home = Series("uptime_pct", [(d, 99.7) for d in DAYS[:5]], "homepage")
    auth = Series("uptime_pct", [(d, 99.7) for d in DAYS[:5]], "auth")
    root = parse(line_chart("Uptime", [home, auth], y_max=100, area=True).svg)
    assert texts(root, "//s:g[@class='legend-item']/s:text") == ["homepage", "auth"]
    assert len(find(root, "//s:circle[@class='point']")) == 5   # homepage: circles
    assert len(find(root, "//s:rect[@class='point']")) == 5     # auth: squares
    assert find(root, "//s:g[@data-series][2]/s:path[@class='line']/@stroke-dasharray") == ["6 3"]
    assert len(find(root, "//s:path[@class='area']")) == 1      # the first series only
    ys = [float(y) for y in find(root, "//s:text[@class='end-label']/@y")]
    assert abs(ys[1] - ys[0]) >= 13


def test_a_month_of_minutes_is_thinned_to_two_points_a_pixel_and_keeps_its_spike():
    minutes = [START + timedelta(minutes=i) for i in range(30 * 24 * 60)]
    values = [100.0] * len(minutes)
    values[20_000] = 950.0
    root = parse(line_chart("p95", Series("p95_ms", list(zip(minutes, values, strict=True)))).svg)
    d = find(root, "//s:path[@class='line']/@d")[0]
    moves, lines = path_points(d)
    assert moves == 1
    assert lines + 1 <= 2 * 720
    assert find(root, "//s:circle[@class='point']") == []  # 43,200 points: no marker each
    assert texts(root, "//s:text[@class='end-label']") == ["100 ms"]
    top = min(float(pair.split()[1]) for pair in d.replace("M", "L").split("L")[1:])
    assert texts(root, "//s:g[@class='y-axis']/s:text")[-1] == "1,000"
    assert top < 40  # 950 ms near the top of the plot survived the thinning
    assert len(d) < 40_000


def test_markers_stop_past_the_limit():
    many = [(START + timedelta(hours=i), 5) for i in range(MAX_MARKERS + 1)]
    root = parse(line_chart("Many", Series("p95_ms", many)).svg)
    assert find(root, "//s:circle[@class='point']") == []


def test_text_is_escaped_and_the_narrow_layout_has_its_own_ids():
    chart = line_chart('<script>alert("x")</script> & co', Series("p95_ms", [(DAYS[0], 1), (DAYS[1], 2)]),
                       narrow=NARROW)
    root = parse(chart.svg)
    assert texts(root, "/s:svg/s:title") == ['<script>alert("x")</script> & co']
    assert find(root, "//s:script") == []
    assert "<script>" not in chart.svg
    narrow = parse(chart.svg_narrow)
    assert narrow.get("viewBox") == "0 0 340 250"
    assert narrow.get("id") == "script-alert-x-script-co-narrow"
    assert narrow.get("aria-labelledby") == \
        "script-alert-x-script-co-narrow-title script-alert-x-script-co-narrow-desc"


# ---------------------------------------------------------------- empty

@pytest.mark.parametrize("make", [
    lambda: line_chart("Latency", Series("p95_ms", []), empty_message="Monitoring starts with a monitor."),
    lambda: line_chart("Latency", Series("p95_ms", [(DAYS[0], math.nan), (DAYS[1], None)]),
                       empty_message="Monitoring starts with a monitor."),
    lambda: stacked_bar_chart("Latency", [], [BarSeries("blocker", [])],
                              empty_message="Monitoring starts with a monitor."),
    lambda: empty_chart("Latency", "Monitoring starts with a monitor."),
])
def test_no_data_gives_a_clear_no_data_yet_chart(make):
    chart = make()
    root = parse(chart.svg)
    assert chart.empty
    assert chart.summary == "No data yet. Monitoring starts with a monitor."
    assert texts(root, "/s:svg/s:title") == ["Latency"]
    assert texts(root, "/s:svg/s:desc") == ["No data yet. Monitoring starts with a monitor."]
    assert texts(root, "//s:text[@class='no-data']") == ["No data yet"]
    assert texts(root, "//s:text[@class='no-data-hint']") == ["Monitoring starts with a monitor."]
    assert root.get("class") == "lr-chart lr-chart-empty"
    assert chart.table_rows == ()


def test_a_line_chart_needs_a_series():
    with pytest.raises(ValueError, match="at least one series"):
        line_chart("Nothing", [])


# ---------------------------------------------------------------- stacked bars

def risk_layers(n: int) -> list[BarSeries]:
    return [
        BarSeries("blocker", [(i * 3) % 5 for i in range(n)], "Blockers", "#b42318", "solid"),
        BarSeries("high", [(i * 5) % 6 for i in range(n)], "High", "#d9480f", "stripes"),
        BarSeries("medium", [i % 2 for i in range(n)], "Medium", "#b7791f", "dots"),
        BarSeries("low", [1] * n, "Low", "#3a6ea5", "lines"),
    ]


def test_thirty_runs_draw_thirty_stacked_bars_with_totals_tooltips_and_a_legend():
    layers = risk_layers(30)
    labels = [f"Audit #{i + 1}" for i in range(30)]
    chart = stacked_bar_chart("Open risks per audit", DAYS, layers, category_labels=labels, chart_id="risks",
                              category_noun="audit")
    root = parse(chart.svg)
    bars = find(root, "//s:g[@class='bar']")
    assert len(bars) == 30
    nonzero = sum(1 for layer in layers for v in layer.values if v)
    assert len(find(root, "//s:rect[starts-with(@class, 'seg ')]")) == nonzero
    assert len(find(root, "//s:g[@class='bar'][1]/s:rect")) == 1      # run 1: 0, 0, 0, 1 → low only
    assert bars[1].findtext(f"{{{SVG_NS}}}title") == "Audit #2: Blockers 3, High 5, Medium 1, Low 1"
    totals = texts(root, "//s:text[@class='total']")
    assert len(totals) == 30
    assert totals[1] == "10"
    assert texts(root, "//s:g[@class='legend-item']/s:text") == ["Blockers", "High", "Medium", "Low"]
    # Segments are filled with their colour; each textured series has one path over its segments.
    assert {r.get("fill") for r in find(root, "//s:rect[@class='seg s-high']")} == {"#d9480f"}
    assert [p.get("id") for p in find(root, "//s:defs/s:pattern")] == \
        ["risks-high", "risks-medium", "risks-low"]
    assert find(root, "//s:pattern[@id='risks-high']/@patternTransform") == ["rotate(45)"]
    textures = find(root, "//s:g[@class='textures']/s:path")
    assert [t.get("fill") for t in textures] == ["url(#risks-high)", "url(#risks-medium)", "url(#risks-low)"]
    assert [t.get("d").count("M") for t in textures] == [
        sum(1 for v in layer.values if v) for layer in layers[1:]]
    assert texts(root, "//s:text[@class='unit']") == ["count"]
    assert texts(root, "//s:g[@class='y-axis']/s:text") == ["0", "5", "10", "15"]  # the highest total is 11
    x_labels = texts(root, "//s:g[@class='x-axis']/s:text")
    assert x_labels[-1] == "30 Nov"          # the newest run is always labelled
    assert x_labels == ["3 Nov", "6 Nov", "9 Nov", "12 Nov", "15 Nov", "18 Nov", "21 Nov", "24 Nov",
                        "27 Nov", "30 Nov"]
    assert chart.summary.startswith("30 audits from Audit #1 to Audit #30. Latest: Blockers 2, High 1, "
                                    "Medium 1, Low 1.")
    assert chart.table_head == ("Audit", "Blockers", "High", "Medium", "Low", "Total")
    assert chart.table_rows[1] == ("Audit #2", "3", "5", "1", "1", "10")


def test_the_narrow_layout_labels_fewer_dates_and_drops_totals_that_do_not_fit():
    chart = stacked_bar_chart("Risks", DAYS, risk_layers(30), narrow=NARROW)
    root = parse(chart.svg_narrow)
    assert root.get("viewBox") == "0 0 340 250"
    assert len(find(root, "//s:g[@class='bar']")) == 30
    assert texts(root, "//s:text[@class='total']") == []   # "10" is wider than a 9-unit band
    assert texts(root, "//s:g[@class='x-axis']/s:text") == ["6 Nov", "12 Nov", "18 Nov", "24 Nov", "30 Nov"]
    assert {p.get("id") for p in find(root, "//s:defs/s:pattern")} == \
        {"risks-narrow-high", "risks-narrow-medium", "risks-narrow-low"}


@pytest.mark.parametrize(("bars", "wide", "narrow"), [
    (3, ["#1 · 1 Nov", "#2 · 2 Nov", "#3 · 3 Nov"], ["#1 · 1 Nov", "#2 · 2 Nov", "#3 · 3 Nov"]),
    (6, ["#1 · 1 Nov", "#2 · 2 Nov", "#3 · 3 Nov", "#4 · 4 Nov", "#5 · 5 Nov", "#6 · 6 Nov"],
     ["#1", "#2", "#3", "#4", "#5", "#6"]),
    (12, [f"#{i}" for i in range(1, 13)], ["#2", "#4", "#6", "#8", "#10", "#12"]),
    (30, [f"#{i}" for i in range(2, 31, 2)], ["#2", "#6", "#10", "#14", "#18", "#22", "#26", "#30"]),
])
def test_bars_are_named_in_full_where_every_bar_fits_and_by_their_compact_label_otherwise(bars, wide, narrow):
    names = [f"#{i + 1} · {day.day} Nov" for i, day in enumerate(DAYS[:bars])]
    chart = stacked_bar_chart("Risks", names, [BarSeries("low", [1] * bars)], narrow=NARROW,
                              compact_labels=[f"#{i + 1}" for i in range(bars)])
    assert texts(parse(chart.svg), "//s:g[@class='x-axis']/s:text") == wide
    assert texts(parse(chart.svg_narrow), "//s:g[@class='x-axis']/s:text") == narrow


def test_point_labels_sit_under_their_points_first_and_last_always():
    moments = [START + timedelta(days=d) for d in (0, 1, 2, 3, 10, 20, 20.01, 29)]
    labels = [(m, f"#{i + 1} · {m.day} Nov") for i, m in enumerate(moments)]
    chart = line_chart("p95", Series("p95_ms", [(m, 100) for m in moments]), point_labels=labels,
                       narrow=NARROW)
    root = parse(chart.svg)
    # Neighbours that would touch are left out: #2–#4 crowd #1, #7 is #6's minute.
    assert texts(root, "//s:g[@class='x-axis']/s:text") == ["#1 · 1 Nov", "#5 · 11 Nov", "#6 · 21 Nov",
                                                            "#8 · 30 Nov"]
    cx = [p.get("cx") for p in find(root, "//s:circle[@class='point']")]
    assert find(root, "//s:g[@class='x-axis']/s:text/@x") == [cx[0], cx[4], cx[5], cx[7]]
    assert texts(parse(chart.svg_narrow), "//s:g[@class='x-axis']/s:text") == \
        ["#1 · 1 Nov", "#5 · 11 Nov", "#8 · 30 Nov"]


def test_one_bar_and_a_bar_of_zeros():
    chart = stacked_bar_chart("Risks", [DAYS[0], DAYS[1]],
                              [BarSeries("blocker", [2, 0]), BarSeries("low", [1, 0])])
    root = parse(chart.svg)
    assert len(find(root, "//s:g[@class='bar']")) == 2
    assert len(find(root, "//s:g[@class='bar'][2]/s:rect")) == 0
    assert texts(root, "//s:text[@class='total']") == ["3", "0"]
    assert chart.summary == "2 bars from 1 Nov to 2 Nov. Latest: blocker 0, low 0. Highest total 3 (1 Nov)."
    single = stacked_bar_chart("Risks", [DAYS[0]], [BarSeries("blocker", [4])])
    assert single.summary == "1 bar: 1 Nov. Latest: blocker 4."


def test_negative_segments_stack_below_zero_and_nan_is_missing():
    chart = stacked_bar_chart("Net change", DAYS[:3],
                              [BarSeries("opened", [3, 2, math.nan]), BarSeries("closed", [-1, -4, 1])])
    root = parse(chart.svg)
    assert texts(root, "//s:g[@class='y-axis']/s:text") == ["−4", "−2", "0", "2", "4"]
    closed = find(root, "//s:g[@class='bar'][2]/s:rect[@class='seg s-closed']")[0]
    opened = find(root, "//s:g[@class='bar'][2]/s:rect[@class='seg s-opened']")[0]
    assert float(closed.get("y")) == pytest.approx(float(opened.get("y")) + float(opened.get("height")))
    assert closed.get("data-value") == "−4"
    assert texts(root, "//s:text[@class='total']") == ["2", "−2", "1"]
    assert chart.summary.endswith("1 value missing.")


def test_series_must_match_the_categories():
    with pytest.raises(ValueError, match="series 'low' has 2 values for 3 categories"):
        stacked_bar_chart("Risks", DAYS[:3], [BarSeries("low", [1, 2])])


# ---------------------------------------------------------------- the risk history from stored runs

def stored_run(project, day: int, risks: dict[str, int] | None = None, **fields):
    """A finished run ``day`` days after 1 Nov 2026 with ``risks[impact]`` fail/warn results
    (alternately) plus one pass, one error and one skipped result that must not count."""
    from checks.models import AuditRun, CheckResult

    finished = START + timedelta(days=day)
    run = AuditRun.objects.create(project=project, **{"state": AuditRun.State.DONE, **fields})
    AuditRun.objects.filter(pk=run.pk).update(created_at=finished, finished_at=finished)
    rows = [("pass", "high"), ("error", "blocker"), ("skipped", "blocker")]
    for impact, n in (risks or {}).items():
        rows += [("fail" if i % 2 == 0 else "warn", impact) for i in range(n)]
    CheckResult.objects.bulk_create(
        CheckResult(run=run, check_id=f"x.{impact}", stage="edge", impact=impact, target=f"h{i}.example",
                    status=status, summary="s")
        for i, (status, impact) in enumerate(rows)
    )
    return run


@pytest.fixture
def history(world):
    """Project A: three full audits, plus a quick one, a "Send test mails" run, a failed run
    and a running one, none of which is a full audit of the launch surface."""
    project = world.a.project
    runs = [
        stored_run(project, 0, {"blocker": 3, "high": 2, "medium": 4, "low": 1}),
        stored_run(project, 1, {"blocker": 1, "high": 2, "low": 1}),
        stored_run(project, 3, {"medium": 1}),
    ]
    stored_run(project, 2, {"blocker": 9}, quick=True)
    stored_run(project, 2, {"high": 9}, check_ids=["email.transactional"])
    stored_run(project, 2, {"low": 9}, state="error")
    stored_run(project, 4, {"low": 9}, state="running")
    stored_run(world.b.project, 2, {"blocker": 7})
    return project, runs


@pytest.mark.django_db
def test_the_risk_history_has_one_bar_per_finished_full_audit(history):
    from handover.services import risk_history_chart

    project, runs = history
    chart = risk_history_chart(project)
    root = parse(chart.svg)
    assert len(find(root, "//s:g[@class='bar']")) == 3
    assert chart.table_head == ("Audit", "Blockers", "High", "Medium", "Low", "Total")
    assert chart.table_rows == (
        ("#1, 1 Nov 2026", "3", "2", "4", "1", "10"),
        ("#2, 2 Nov 2026", "1", "2", "0", "1", "4"),
        ("#3, 4 Nov 2026", "0", "0", "1", "0", "1"),
    )
    bar = find(root, "//s:g[@class='bar'][2]")[0]
    assert bar.findtext(f"{{{SVG_NS}}}title") == \
        "#2, 2 Nov 2026: Blockers 1, High 2, Medium 0, Low 1"
    assert texts(root, "//s:text[@class='total']") == ["10", "4", "1"]
    assert texts(root, "//s:g[@class='x-axis']/s:text") == ["#1 · 1 Nov", "#2 · 2 Nov", "#3 · 4 Nov"]
    phone = risk_history_chart(project, narrow=NARROW)
    assert texts(parse(phone.svg_narrow), "//s:g[@class='x-axis']/s:text") == \
        ["#1 · 1 Nov", "#2 · 2 Nov", "#3 · 4 Nov"]
    assert chart.summary == (
        "Failing and warning checks of each full audit, by launch impact. 3 audits from #1, "
        "1 Nov 2026 to #3, 4 Nov 2026. Latest: Blockers 0, High 0, Medium 1, Low 0. Highest "
        "total 10 (#1, 1 Nov 2026)."
    )
    until = risk_history_chart(project, until=runs[1])
    assert [row[0] for row in until.table_rows] == \
        ["#1, 1 Nov 2026", "#2, 2 Nov 2026"]


@pytest.mark.django_db
def test_two_audits_of_one_day_are_told_apart_by_their_number(history):
    from handover.services import risk_history_chart

    project, _ = history
    stored_run(project, 3, {"low": 2})  # a second full audit on 4 Nov: the project's #8
    chart = risk_history_chart(project)
    assert texts(parse(chart.svg), "//s:g[@class='x-axis']/s:text") == \
        ["#1 · 1 Nov", "#2 · 2 Nov", "#3 · 4 Nov", "#8 · 4 Nov"]
    assert [row[0] for row in chart.table_rows] == \
        ["#1, 1 Nov 2026", "#2, 2 Nov 2026", "#3, 4 Nov 2026", "#8, 4 Nov 2026"]


@pytest.mark.django_db
def test_a_project_without_a_full_audit_has_the_no_data_chart(world):
    from handover.services import risk_history_chart

    chart = risk_history_chart(world.b.project)
    assert chart.empty
    assert chart.summary == "No data yet. The history starts with the first finished full audit."


@pytest.mark.django_db
def test_the_project_page_shows_the_chart_card_to_a_founder(client, history):
    project, _ = history
    client.force_login(project.founders.get())
    html = client.get(f"/projects/{project.pk}/").content.decode()
    card = html[html.index('<section class="card risk-chart" id="risks-over-time">'):]
    card = card[:card.index("</section>")]
    root = etree.fromstring(card[card.index("<svg"):card.index("</svg>") + 6].encode())
    assert root.get("id") == "risk-history"
    assert len(find(root, "//s:g[@class='bar']")) == 3
    narrow = card[card.index('<div class="chart-narrow"><svg'):]
    assert 'id="risk-history-narrow"' in narrow
    assert "<summary>Show the numbers</summary>" in card
    # The table lists the newest audit first.
    table = card[card.index("<table>"):]
    assert table.index("4 Nov 2026") < table.index("2 Nov 2026") < table.index("1 Nov 2026")


@pytest.mark.django_db
def test_the_handover_pdf_draws_the_risk_history(history):
    from handover.services import handover_render
    from tests.handover.pdf import flat, pdf_text

    project, runs = history
    text = flat(pdf_text(handover_render(project, runs[1])))
    assert "Open risks per audit" in text
    assert ("Failing and warning checks of each full audit, by launch impact. 2 audits from #1, "
            "1 Nov 2026 to #2, 2 Nov 2026.") in text
    assert "Latest: Blockers 1, High 2, Medium 0, Low 1." in text
    drawn = text[text.index("Open risks per audit"):text.index("Failing and warning checks")]
    # The chart's words are text in the PDF: its unit, ticks, audits (number · date), totals and legend.
    assert drawn.split() == ["Open", "risks", "per", "audit", "count", "12", "10", "9", "6", "4", "3", "0",
                             "#1", "·", "1", "Nov", "Blockers", "High", "Medium", "#2", "·", "2", "Nov",
                             "Low"]
