"""Server-rendered SVG charts for pages and the handover PDF: no JavaScript, accessible, small.

Two chart kinds, shared by the project page, the handover PDF and (later) the monitoring
dashboard:

- :func:`line_chart` — time series: x is a ``datetime``, y a number whose unit is in the
  series name (``p95_ms`` → ms, ``uptime_pct`` → %, ``days_left`` → days); optional area.
- :func:`stacked_bar_chart` — one bar per category (an audit run), segments stacked in series
  order (positives up from zero, negatives down).

Each returns a :class:`Chart`: the SVG markup (plus an optional narrow one for phones), the
one-sentence summary it carries as ``<desc>``, and the same numbers as a table for readers
who cannot see the picture. No data at all gives a "No data yet" chart, never an error.

Accessibility: the root is ``role="img"`` labelled by its ``<title>`` and ``<desc>``; every
axis tick, the y unit, the legend and each bar's total are text (``<text>``), not colour
alone; series are told apart by pattern (bars: solid, stripes, dots, lines) or by marker
shape and dash (lines) as well as colour; each bar and point has a ``<title>`` (a native
tooltip in browsers, no script). For phones, ``narrow=NARROW`` renders a second, narrower
layout whose text stays about 11 px on a 390 px screen; a page shows one or the other with
a CSS media query, the PDF uses the wide one.

Why our own module and not pygal (the maintained SVG charting library), judged on pygal 3.1.3
drawing the same 30 audits and a 30-day p95 line with ``js=[]``: its static SVG does render
in WeasyPrint 70 and in Chromium without its script, and it is fast enough (~20 ms a chart),
but (1) it still embeds an inline ``<script>`` holding its whole configuration (3.8 KB a
chart) that a no-JS page with a strict CSP would have to strip; (2) the root has no
``role``/``<title>``/``<desc>`` — the accessible name would be added by rewriting its
output; (3) its 30-run stacked bar is 62 KB of SVG (per-value tooltip markup) against 19 KB
here; (4) at 30 runs its x labels are cut to "0…", its monospace text at a fixed size
shrinks to ~6 px on a 390 px phone, and its series differ by colour alone. leather 0.4.1
(the other candidate) has no stacked bars, no ``viewBox`` (not responsive) and no accessible
name either. Two chart kinds with round ticks, date ticks and textures are a few hundred lines
on lxml (already a dependency): every text is escaped by the serializer, and the output is
deterministic, so tests assert its exact structure.

Cost in the PDF: WeasyPrint writes one pattern object per patterned shape, so the textures
are one ``<path>`` per series laid over the coloured segments, not a patterned fill on each
segment (a 30-run chart: 27 KB and ~50 ms of CPU in the PDF, against 94 KB and ~130 ms).

Sizes are SVG user units (1 unit = 1 CSS px at the natural size). Values whose magnitude
exceeds ``MAX_ABS`` (1e18) and non-finite values (NaN, ±inf) are drawn as gaps and counted
as missing in the summary. Line charts keep at most two points (the lowest and the highest)
per horizontal pixel, so a month of per-minute samples (43,200) is a 16 KB chart drawn in
~0.2 s; callers may still aggregate first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lxml import etree
from lxml.builder import ElementMaker

SVG_NS = "http://www.w3.org/2000/svg"
E = ElementMaker(namespace=SVG_NS, nsmap={None: SVG_NS})

WIDE = (720, 260)     # pages and the PDF (170 mm of A4 text width ≈ 640 CSS px)
NARROW = (340, 250)   # phones: shown under 640 px of viewport width
FONT_PX = 12
FONT = "'Liberation Sans', 'DejaVu Sans', Arial, Helvetica, sans-serif"
INK, MUTED, GRID, FRAME = "#1d2433", "#5b6475", "#e3e6ec", "#98a2b3"
PALETTE = ("#1f4e8c", "#d9480f", "#207245", "#6b4fa0", "#b42318", "#0e7490")
PATTERNS = ("solid", "stripes", "dots", "lines")
MARKERS = ("circle", "square", "triangle", "diamond")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
MAX_ABS = 1e18
MAX_MARKERS = 62     # more points than this: the line alone, no marker per point
NO_DATA = "No data yet"

# Unit suffixes of metric names (the project's naming rule: units in names).
UNITS = {"ms": "ms", "s": "s", "pct": "%", "bytes": "B", "kb": "KB", "mb": "MB", "days": "days",
         "hours": "h", "count": ""}


@dataclass(frozen=True)
class Series:
    """A time series: ``points`` are ``(datetime, value)``; a ``None``/NaN value is a gap.
    ``name`` carries the unit (``p95_ms``); ``label`` is what the legend says (default: name)."""

    name: str
    points: Sequence[tuple[datetime, float | None]]
    label: str = ""


@dataclass(frozen=True)
class BarSeries:
    """One layer of a stacked bar chart: ``values[i]`` belongs to category ``i``. ``colour`` and
    ``pattern`` (one of ``PATTERNS``) default by the series' position."""

    name: str
    values: Sequence[float | None]
    label: str = ""
    colour: str = ""
    pattern: str = ""


@dataclass(frozen=True)
class Chart:
    """A rendered chart. ``svg`` is complete, escaped SVG markup (``{{ chart }}`` in a Django
    template outputs it as is, through ``__html__``); ``svg_narrow`` is the phone layout or
    ``""``; ``summary`` is the ``<desc>`` text; ``table_head``/``table_rows`` are the data as
    text cells; ``empty`` is True for the "No data yet" chart."""

    chart_id: str
    title: str
    summary: str
    svg: str
    svg_narrow: str = ""
    table_head: tuple[str, ...] = ()
    table_rows: tuple[tuple[str, ...], ...] = ()
    empty: bool = False

    def __html__(self) -> str:
        return self.svg

    def __str__(self) -> str:
        return self.svg


# ---------------------------------------------------------------- numbers, units, labels

def unit_of(name: str) -> str:
    """The display unit of a metric name: ``p95_ms`` → ``"ms"``, ``uptime_pct`` → ``"%"``,
    ``days_left`` → ``"days"``, ``blockers`` → ``""`` (the last ``_``-token found in ``UNITS``)."""
    for token in reversed(name.lower().split("_")):
        if token in UNITS:
            return UNITS[token]
    return ""


def finite(value) -> float | None:
    """``value`` as a float, or ``None`` when it is missing, not a number, not finite or beyond
    ``MAX_ABS`` (such a value cannot be placed on an axis with the others)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and abs(number) <= MAX_ABS else None


_SI = (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))


def format_number(value: float, decimals: int | None = None) -> str:
    """A short label: ``1234`` → ``"1,234"``, ``12500`` → ``"12.5k"``, ``3e12`` → ``"3T"``,
    ``99.95`` → ``"99.95"``, ``-2`` → ``"−2"`` (a real minus sign). ``decimals`` fixes the
    places below 10,000 (ticks share their step's); by default up to 2, trailing zeros dropped."""
    sign = "−" if value < 0 else ""
    magnitude = abs(value)
    if magnitude >= 10_000:
        for suffix, scale in _SI:
            if magnitude >= scale * 0.9995:  # 999,999 is "1M", not "1000k"
                scaled = magnitude / scale
                text = f"{scaled:.0f}" if scaled >= 100 else _trim(f"{scaled:.1f}")
                return f"{sign}{text}{suffix}"
    if decimals is None:
        decimals = 0 if magnitude == int(magnitude) else 2 if magnitude < 100 else 1
        return sign + _trim(f"{magnitude:,.{decimals}f}")
    return sign + f"{magnitude:,.{decimals}f}"


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def value_label(value: float, unit: str) -> str:
    """``value`` with its unit: ``"250 ms"``, ``"99.9%"``, ``"3"``."""
    number = format_number(value)
    if not unit:
        return number
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"


def day_label(moment: datetime | date) -> str:
    """``"3 Nov"``: the short date of an axis tick or a bar."""
    return f"{moment.day} {moment:%b}"


def moment_label(moment: datetime) -> str:
    """``"3 Nov 2026, 14:05"``: a point's full time, for tooltips and tables."""
    return f"{moment.day} {moment:%b %Y, %H:%M}"


def nice_ticks(low: float, high: float, max_ticks: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 × 10^k) covering ``[low, high]``, at most about
    ``max_ticks``; ``integer`` keeps steps whole (counts). ``low == high`` widens the range."""
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.01 or 1.0
        low, high = (low - pad, high + pad) if low else (0.0, 1.0)
    raw = (high - low) / max(1, max_ticks - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, math.ceil(step))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)  # 99.6 / 0.1 = 995.999…
    return [_clean(i * step) for i in range(first, last + 1)]


def _clean(value: float) -> float:
    """``value`` without float noise (``0.30000000000000004`` → ``0.3``); never ``-0.0``."""
    return float(f"{value:.12g}") + 0.0


def _decimals(ticks: Sequence[float]) -> int:
    """Places every tick label needs to be written exactly (a step of 0.25 → 2), at most 6."""
    if not ticks or max(abs(t) for t in ticks) >= 10_000:
        return 0
    return max(_places(t) for t in ticks)


def _places(value: float) -> int:
    return next((d for d in range(7) if abs(round(value * 10**d) - value * 10**d) < 1e-6), 6)


def slug(text: str) -> str:
    """An id-safe form of ``text`` (``"Open risks per audit"`` → ``"open-risks-per-audit"``)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


# ---------------------------------------------------------------- time ticks

_MINUTE, _HOUR, _DAY = 60, 3600, 86400
# (seconds, label kind); month and year steps are counted in calendar months.
_TIME_STEPS = [(m * _MINUTE, "time") for m in (1, 5, 10, 15, 30)] + \
    [(h * _HOUR, "time") for h in (1, 2, 3, 6, 12)] + [(d * _DAY, "day") for d in (1, 2, 7, 14)]
_MONTH_STEPS = (1, 3, 6, 12, 24, 60)


def time_ticks(start: datetime, end: datetime, max_ticks: int) -> list[tuple[datetime, str]]:
    """``(moment, label)`` ticks inside ``[start, end]`` on round times (whole minutes, hours,
    midnights, first of the month), at most ``max_ticks`` of them, in ``start``'s time zone."""
    span = (end - start).total_seconds()
    for seconds, kind in _TIME_STEPS:
        if span / seconds + 1 <= max_ticks:
            ticks = _fixed_ticks(start, end, seconds)
            if kind == "time":
                return [(t, f"{t:%H:%M}" if (t.hour, t.minute) != (0, 0) else day_label(t)) for t in ticks]
            return [(t, day_label(t)) for t in ticks]
    for months in _MONTH_STEPS:
        if span / (months * 30.44 * _DAY) + 1 <= max_ticks:
            break
    ticks = _month_ticks(start, end, months)
    return [(t, f"{t:%b %Y}" if months < 12 else f"{t:%Y}") for t in ticks]


def _fixed_ticks(start: datetime, end: datetime, seconds: int) -> list[datetime]:
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (start - midnight).total_seconds()
    tick = midnight + timedelta(seconds=math.ceil(offset / seconds - 1e-9) * seconds) if seconds < _DAY else (
        midnight if midnight >= start else midnight + timedelta(days=1))
    ticks = []
    while tick <= end and len(ticks) < 500:
        ticks.append(tick)
        tick += timedelta(seconds=seconds)
    return ticks


def _month_ticks(start: datetime, end: datetime, months: int) -> list[datetime]:
    index = start.year * 12 + start.month - 1
    index = math.ceil(index / months) * months
    ticks = []
    while len(ticks) < 500:
        tick = start.replace(year=index // 12, month=index % 12 + 1, day=1, hour=0, minute=0, second=0,
                             microsecond=0)
        if tick > end:
            break
        if tick >= start:
            ticks.append(tick)
        index += months
    return ticks


# ---------------------------------------------------------------- layout helpers

def _text_width(text: str, font_px: float = FONT_PX) -> float:
    """Estimated width of ``text`` in a sans-serif face (0.6 em a character: a safe upper bound
    for digits and short words)."""
    return len(text) * font_px * 0.6


def _n(value: float) -> str:
    """A coordinate with at most one decimal: smaller SVG, no visible loss."""
    return _trim(f"{value:.1f}")


@dataclass
class _Frame:
    """Where things go in a ``width`` × ``height`` chart: the plot rectangle, the legend rows."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    legend_rows: list[list[tuple[int, str]]] = field(default_factory=list)

    @property
    def plot_w(self) -> float:
        return self.right - self.left

    @property
    def plot_h(self) -> float:
        return self.bottom - self.top


LEGEND_ROW = 18
X_LABELS = 20
UNIT_ROW = 16


def _frame(width: int, height: int, y_labels: Sequence[str], legend: Sequence[str], right_pad: float,
           unit_text: str = "") -> _Frame:
    left = max(24.0, max((_text_width(t) for t in (*y_labels, unit_text)), default=0) + 10)
    rows = _legend_rows(legend, width - 8)
    bottom = height - X_LABELS - LEGEND_ROW * len(rows) - 4
    return _Frame(width, height, left, width - max(10.0, right_pad), UNIT_ROW + 4, bottom, rows)


def _legend_rows(labels: Sequence[str], room: float) -> list[list[tuple[int, str]]]:
    """Legend entries wrapped into rows that fit ``room`` units (swatch 12 + gap 4 + text + 14)."""
    rows: list[list[tuple[int, str]]] = []
    used = room + 1
    for index, label in enumerate(labels):
        need = 30 + _text_width(label)
        if used + need > room:
            rows.append([])
            used = 0
        rows[-1].append((index, label))
        used += need
    return rows


def _root(chart_id: str, width: int, height: int, title: str, summary: str) -> etree._Element:
    root = E.svg({
        "viewBox": f"0 0 {width} {height}", "width": str(width), "height": str(height),
        "role": "img", "aria-labelledby": f"{chart_id}-title {chart_id}-desc", "id": chart_id,
        "class": "lr-chart", "font-family": FONT, "font-size": str(FONT_PX), "fill": INK,
    })
    root.append(E.title(title, id=f"{chart_id}-title"))
    root.append(E.desc(summary, id=f"{chart_id}-desc"))
    return root


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "", fill: str = "",
          size: float | None = None) -> etree._Element:
    attrs = {"x": _n(x), "y": _n(y)}
    if anchor != "start":
        attrs["text-anchor"] = anchor
    if cls:
        attrs["class"] = cls
    if fill:
        attrs["fill"] = fill
    if size:
        attrs["font-size"] = _n(size)
    return E.text(attrs, text)


def _serialize(root: etree._Element) -> str:
    return etree.tostring(root, encoding="unicode")


def _y_axis(root, frame: _Frame, ticks: Sequence[float], to_y, unit_text: str) -> None:
    """Grid lines, tick labels (right-aligned left of the plot) and the unit above them."""
    decimals = _decimals(ticks)
    grid = E.g({"class": "y-axis"})
    for tick in ticks:
        y = to_y(tick)
        colour = FRAME if tick == 0 else GRID
        grid.append(E.line({"x1": _n(frame.left), "x2": _n(frame.right), "y1": _n(y), "y2": _n(y),
                            "stroke": colour, "stroke-width": "1"}))
        grid.append(_text(frame.left - 5, y + FONT_PX * 0.35, format_number(tick, decimals),
                          anchor="end", cls="tick", fill=MUTED))
    root.append(grid)
    if unit_text:
        root.append(_text(frame.left - 5, frame.top - 8, unit_text, anchor="end", cls="unit", fill=MUTED))


def _x_labels(root, frame: _Frame, labels: Sequence[tuple[float, str]]) -> None:
    group = E.g({"class": "x-axis"})
    group.append(E.line({"x1": _n(frame.left), "x2": _n(frame.right), "y1": _n(frame.bottom),
                         "y2": _n(frame.bottom), "stroke": FRAME, "stroke-width": "1"}))
    for x, label in labels:
        anchor = "middle"
        if x - _text_width(label) / 2 < 0:
            anchor = "start"
        elif x + _text_width(label) / 2 > frame.width:
            anchor = "end"
        group.append(_text(x, frame.bottom + 15, label, anchor=anchor, cls="tick", fill=MUTED))
    root.append(group)


def _legend(root, frame: _Frame, swatch) -> None:
    """One row per ``frame.legend_rows`` entry under the x labels; ``swatch(index, x, y)`` draws
    the key (a patterned square or a line with its marker)."""
    group = E.g({"class": "legend"})
    y = frame.bottom + X_LABELS + 4
    for row in frame.legend_rows:
        x = frame.left
        for index, label in row:
            item = E.g({"class": "legend-item"})
            item.append(swatch(index, x, y))
            item.append(_text(x + 17, y + 10, label, fill=INK))
            group.append(item)
            x += 30 + _text_width(label)
        y += LEGEND_ROW
    root.append(group)


def empty_chart(title: str, message: str = "", *, chart_id: str = "", size: tuple[int, int] = WIDE,
                narrow: tuple[int, int] | None = None) -> Chart:
    """The "No data yet" chart: a dashed frame, the words, and ``message`` (what to do) below."""
    chart_id = chart_id or slug(title)
    summary = f"{NO_DATA}." + (f" {message}" if message else "")

    def draw(cid: str, width: int, height: int) -> str:
        root = _root(cid, width, height, title, summary)
        root.set("class", "lr-chart lr-chart-empty")
        root.append(E.rect({"x": "1", "y": "1", "width": str(width - 2), "height": str(height - 2), "rx": "6",
                            "fill": "#f7f8fa", "stroke": FRAME, "stroke-dasharray": "5 4"}))
        root.append(_text(width / 2, height / 2 - 4, NO_DATA, anchor="middle", cls="no-data",
                          fill=MUTED, size=FONT_PX * 1.5))
        for index, line in enumerate(_wrap(message, width - 24)):
            root.append(_text(width / 2, height / 2 + 18 + index * 16, line, anchor="middle",
                              cls="no-data-hint", fill=MUTED))
        return _serialize(root)

    return Chart(chart_id, title, summary, draw(chart_id, *size),
                 draw(f"{chart_id}-narrow", *narrow) if narrow else "", empty=True)


def _wrap(text: str, room: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and _text_width(f"{lines[-1]} {word}") <= room:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines[:3]


# ---------------------------------------------------------------- line chart

def line_chart(title: str, series: Series | Sequence[Series], *, summary: str = "", chart_id: str = "",
               y_min: float | None = None, y_max: float | None = None, area: bool = False,
               size: tuple[int, int] = WIDE, narrow: tuple[int, int] | None = None,
               empty_message: str = "", point_labels: Sequence[tuple[datetime, str]] = ()) -> Chart:
    """A time-series line chart (optionally the first series filled as an area).

    ``series``: one or more :class:`Series` sharing one unit (the first's name decides it:
    ``p95_ms`` → ms). ``y_min``/``y_max`` pin the axis (``y_max=100`` for ``uptime_pct``);
    otherwise it spans the data and zero. Gaps (``None``, NaN, inf, beyond ``MAX_ABS``) break
    the line. ``summary`` (one sentence) goes before the generated one (points, range, latest,
    lowest and highest). Every point of a series with at most ``MAX_MARKERS`` points gets a
    marker with a ``<title>``; the last value of each series is written at the line's end.
    ``point_labels`` (``(moment, label)``, e.g. each audit's ``"#2 · 30 Nov"``) replace the round
    time ticks on the x axis for series of a few irregular moments: each label sits under its
    moment, the first and the last always shown, the others where they do not touch a neighbour.
    No finite point at all → :func:`empty_chart`. Raises ``ValueError`` for no series.
    """
    many = [series] if isinstance(series, Series) else list(series)
    if not many:
        raise ValueError("line_chart needs at least one series")
    chart_id = chart_id or slug(title)
    unit = unit_of(many[0].name)
    clean = [_clean_points(s) for s in many]
    if not any(v is not None for points in clean for _, v in points):
        return empty_chart(title, empty_message, chart_id=chart_id, size=size, narrow=narrow)
    text = " ".join(part for part in (summary, _line_summary(many, clean, unit)) if part)
    head, rows = _line_table(many, clean, unit)

    def draw(cid: str, width: int, height: int) -> str:
        return _draw_lines(cid, width, height, title, text, many, clean, unit, y_min, y_max, area,
                           point_labels)

    return Chart(chart_id, title, text, draw(chart_id, *size),
                 draw(f"{chart_id}-narrow", *narrow) if narrow else "", head, rows)


def _clean_points(series: Series) -> list[tuple[datetime, float | None]]:
    return sorted(((moment, finite(value)) for moment, value in series.points), key=lambda p: p[0])


def _line_summary(many: Sequence[Series], clean: Sequence[list], unit: str) -> str:
    parts = []
    for s, points in zip(many, clean, strict=True):
        known = [(m, v) for m, v in points if v is not None]
        label = s.label or s.name
        if not known:
            parts.append(f"{label}: no values.")
            continue
        low = min(known, key=lambda p: p[1])
        high = max(known, key=lambda p: p[1])
        missing = len(points) - len(known)
        text = (f"{label}: {len(points)} point{'s' if len(points) != 1 else ''} from "
                f"{moment_label(points[0][0])} to {moment_label(points[-1][0])}; latest "
                f"{value_label(known[-1][1], unit)}")
        if len(known) > 1:
            text += (f", lowest {value_label(low[1], unit)} ({moment_label(low[0])}), highest "
                     f"{value_label(high[1], unit)} ({moment_label(high[0])})")
        text += "."
        if missing:
            text += f" {missing} missing."
        parts.append(text)
    return " ".join(parts)


def _line_table(many: Sequence[Series], clean: Sequence[list], unit: str):
    moments = sorted({m for points in clean for m, _ in points})
    values = [dict(points) for points in clean]
    head = ("Time", *((s.label or s.name) + (f" ({unit})" if unit else "") for s in many))
    rows = tuple(
        (moment_label(m), *(format_number(v[m]) if v.get(m) is not None else "—" for v in values))
        for m in moments
    )
    return head, rows


def _draw_lines(cid, width, height, title, summary, many, clean, unit, y_min, y_max, area,
                point_labels=()) -> str:
    known = [v for points in clean for _, v in points if v is not None]
    low = min(known) if y_min is None else y_min
    high = max(known) if y_max is None else y_max
    if y_min is None and low > 0 and unit != "%":
        low = 0.0  # latencies and counts read from zero; percentages zoom (uptime 99.9)
    if y_max is None and high < 0:
        high = 0.0
    if unit == "%" and high <= 100:
        high = 100.0  # uptime reads against 100 %
        if low >= 100:
            low = 99.0  # all up: a flat line on top, not a range of 99–101 %
    ticks = nice_ticks(low, high, max(3, min(6, int(height / 45))))
    decimals = _decimals(ticks)
    labels = [(s.label or s.name) for s in many]
    ends = [value_label(next(v for _, v in reversed(p) if v is not None), unit)
            if any(v is not None for _, v in p) else "" for p in clean]
    frame = _frame(width, height, [format_number(t, decimals) for t in ticks],
                   labels if len(many) > 1 else [], max(_text_width(e) for e in ends) + 12, unit)
    moments = [m for points in clean for m, _ in points]
    start, end = min(moments), max(moments)
    single = start == end
    if single:  # one moment: centred, with its date as the only tick
        start, end = start - timedelta(hours=12), end + timedelta(hours=12)
    t0, span = start.timestamp(), (end - start).total_seconds()
    y0, y1 = ticks[0], ticks[-1]

    def to_x(moment: datetime) -> float:
        return frame.left + (moment.timestamp() - t0) / span * frame.plot_w

    def to_y(value: float) -> float:
        value = min(max(value, y0), y1)  # a pinned axis clips, it does not draw outside the plot
        return frame.bottom - (value - y0) / (y1 - y0) * frame.plot_h

    root = _root(cid, width, height, title, summary)
    _y_axis(root, frame, ticks, to_y, unit)
    if point_labels:
        _x_labels(root, frame, _spaced([(to_x(m), label) for m, label in sorted(point_labels)]))
    else:
        max_ticks = max(2, int(frame.plot_w // (_text_width("30 Nov") + 14)))
        x_ticks = [(moments[0], day_label(moments[0]))] if single else time_ticks(start, end, max_ticks)
        _x_labels(root, frame, [(to_x(m), label) for m, label in x_ticks])
    baseline = to_y(min(max(0.0, y0), y1))
    end_labels: list[tuple[float, etree._Element]] = []
    for index, (s, points) in enumerate(zip(many, clean, strict=True)):
        colour = PALETTE[index % len(PALETTE)]
        placed = [(to_x(m), to_y(v) if v is not None else None, m, v) for m, v in points]
        group = E.g({"class": "series", "data-series": s.name})
        runs = _runs(_thin(placed, int(frame.plot_w)))
        if area and index == 0:
            for run in runs:
                edge = " ".join(f"L{_n(x)} {_n(y)}" for x, y, *_ in run)
                d = f"M{_n(run[0][0])} {_n(baseline)} {edge} L{_n(run[-1][0])} {_n(baseline)} Z"
                group.append(E.path({"class": "area", "d": d, "fill": colour, "fill-opacity": "0.14"}))
        path = " ".join("M" + " L".join(f"{_n(x)} {_n(y)}" for x, y, *_ in run) for run in runs)
        attrs = {"class": "line", "d": path, "fill": "none", "stroke": colour, "stroke-width": "2",
                 "stroke-linejoin": "round", "stroke-linecap": "round"}
        if DASHES[index % len(DASHES)]:
            attrs["stroke-dasharray"] = DASHES[index % len(DASHES)]
        group.append(E.path(attrs))
        shown = [p for p in placed if p[1] is not None]
        if len(placed) <= MAX_MARKERS or len(shown) == 1:
            for x, y, moment, value in shown:
                marker = _marker(MARKERS[index % len(MARKERS)], x, y, colour, "point")
                marker.append(E.title(f"{moment_label(moment)}: {value_label(value, unit)}"))
                group.append(marker)
        if shown:
            x, y, _, value = shown[-1]
            end_label = _text(x + 6, y, value_label(value, unit), cls="end-label", fill=colour)
            end_labels.append((y, end_label))
            group.append(end_label)
        root.append(group)
    # Lines ending on the same value would print their last values on top of each other.
    for (_, label), y in zip(end_labels, _spread([y for y, _ in end_labels], FONT_PX + 1), strict=True):
        label.set("y", _n(y + FONT_PX * 0.35))
    if len(many) > 1:
        _legend(root, frame, lambda i, x, y: _line_key(i, x, y))
    return _serialize(root)


def _spaced(labels: Sequence[tuple[float, str]], gap: float = 10) -> list[tuple[float, str]]:
    """``(x, label)`` in x order, thinned so no two labels (centred on their x) come closer than
    ``gap``: the first and the last are always kept (the last wins over a middle one)."""
    if len(labels) <= 2:
        return list(labels)

    def apart(a: tuple[float, str], b: tuple[float, str]) -> bool:
        return b[0] - a[0] >= (_text_width(a[1]) + _text_width(b[1])) / 2 + gap

    kept = [labels[0]]
    for label in labels[1:-1]:
        if apart(kept[-1], label) and apart(label, labels[-1]):
            kept.append(label)
    return [*kept, labels[-1]]


def _spread(ys: Sequence[float], gap: float) -> list[float]:
    """``ys`` moved apart (the lower ones down) until neighbours are at least ``gap`` apart;
    the order of the input is kept in the output."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = list(ys)
    for previous, current in zip(order, order[1:], strict=False):
        placed[current] = max(placed[current], placed[previous] + gap)
    return placed


def _thin(placed: list, columns: int) -> list:
    """At most the lowest and the highest point per pixel column (in time order), gaps kept."""
    if len(placed) <= 2 * max(columns, 1):
        return placed
    kept, bucket, column = [], [], None
    for point in placed:
        here = int(point[0])
        if here != column or point[1] is None:
            kept.extend(_extremes(bucket))
            bucket, column = [], here
        if point[1] is None:
            kept.append(point)
        else:
            bucket.append(point)
    kept.extend(_extremes(bucket))
    return kept


def _extremes(bucket: list) -> list:
    if len(bucket) <= 2:
        return bucket
    low = min(bucket, key=lambda p: -p[1])   # SVG y grows downwards: the lowest value has the largest y
    high = min(bucket, key=lambda p: p[1])
    return sorted({id(p): p for p in (low, high)}.values(), key=lambda p: p[0])


def _runs(placed: list) -> list[list]:
    """Consecutive drawable points; a gap (no y) starts a new run."""
    runs: list[list] = [[]]
    for point in placed:
        if point[1] is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def _marker(shape: str, x: float, y: float, colour: str, cls: str) -> etree._Element:
    attrs = {"class": cls, "fill": colour, "stroke": "white", "stroke-width": "1"}
    if shape == "circle":
        return E.circle({**attrs, "cx": _n(x), "cy": _n(y), "r": "3.5"})
    if shape == "square":
        return E.rect({**attrs, "x": _n(x - 3.2), "y": _n(y - 3.2), "width": "6.4", "height": "6.4"})
    r = 4.2
    points = [(x, y - r), (x + r, y + r * 0.8), (x - r, y + r * 0.8)] if shape == "triangle" else \
        [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]
    return E.polygon({**attrs, "points": " ".join(f"{_n(px)},{_n(py)}" for px, py in points)})


def _line_key(index: int, x: float, y: float) -> etree._Element:
    colour = PALETTE[index % len(PALETTE)]
    key = E.g({"class": "key"})
    attrs = {"x1": _n(x), "x2": _n(x + 12), "y1": _n(y + 6), "y2": _n(y + 6), "stroke": colour,
             "stroke-width": "2"}
    if DASHES[index % len(DASHES)]:
        attrs["stroke-dasharray"] = DASHES[index % len(DASHES)]
    key.append(E.line(attrs))
    key.append(_marker(MARKERS[index % len(MARKERS)], x + 6, y + 6, colour, "key-marker"))
    return key


# ---------------------------------------------------------------- stacked bars

def stacked_bar_chart(title: str, categories: Sequence[datetime | date | str], series: Sequence[BarSeries], *,
                      category_labels: Sequence[str] | None = None, category_noun: str = "bar",
                      compact_labels: Sequence[str] | None = None, unit: str = "", summary: str = "",
                      chart_id: str = "", size: tuple[int, int] = WIDE, narrow: tuple[int, int] | None = None,
                      empty_message: str = "") -> Chart:
    """A stacked bar chart: one bar per category (e.g. each audit run, oldest first), one segment
    per series in the given order (the first at the bottom).

    ``categories`` label the x axis (a date → ``"3 Nov"``; labels thin out to fit, the last
    always shown); ``category_labels`` are their long names for tooltips, the table and the
    summary (default: the short label); ``category_noun`` names one in the summary ("30 audits
    from …"; default "bar"). ``compact_labels`` (one per category, e.g. ``"#2"`` for
    ``"#2 · 30 Nov"``) replace the x labels in a layout where those would skip bars. ``unit`` is
    the y unit (``""`` for counts: integer ticks). Each bar
    is a ``<g class="bar">`` with a ``<title>`` listing its segments, a ``<rect class="seg">``
    per non-zero segment in its series' colour, and its total above it when every bar's total
    fits; each series but a ``solid`` one has one ``<path class="texture">`` over its segments.
    No category or no finite value → :func:`empty_chart`.
    Raises ``ValueError`` when a series' length differs from ``categories``.
    """
    chart_id = chart_id or slug(title)
    for s in series:
        if len(s.values) != len(categories):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(categories)} categories")
    short = [c if isinstance(c, str) else day_label(c) for c in categories]
    long = list(category_labels) if category_labels is not None else short
    if len(long) != len(short):
        raise ValueError("category_labels must name every category")
    compact = list(compact_labels) if compact_labels is not None else short
    if len(compact) != len(short):
        raise ValueError("compact_labels must name every category")
    values = [[finite(v) for v in s.values] for s in series]
    if not categories or not series or all(v is None for column in values for v in column):
        return empty_chart(title, empty_message, chart_id=chart_id, size=size, narrow=narrow)
    styled = [_styled(i, s) for i, s in enumerate(series)]
    generated = _bar_summary(styled, values, long, unit, category_noun)
    text = " ".join(part for part in (summary, generated) if part)
    head = (category_noun.capitalize(), *(s.label or s.name for s in series), "Total")
    rows = tuple(
        (long[i], *(format_number(column[i]) if column[i] is not None else "—" for column in values),
         format_number(sum(column[i] or 0 for column in values)))
        for i in range(len(categories))
    )

    def draw(cid: str, width: int, height: int) -> str:
        return _draw_bars(cid, width, height, title, text, styled, values, short, long, unit, compact)

    return Chart(chart_id, title, text, draw(chart_id, *size),
                 draw(f"{chart_id}-narrow", *narrow) if narrow else "", head, rows)


def _styled(index: int, s: BarSeries) -> BarSeries:
    return BarSeries(s.name, s.values, s.label or s.name, s.colour or PALETTE[index % len(PALETTE)],
                     s.pattern or PATTERNS[index % len(PATTERNS)])


def _bar_summary(styled: Sequence[BarSeries], values: Sequence[list], long: Sequence[str], unit: str,
                 noun: str) -> str:
    n = len(long)
    latest = ", ".join(f"{s.label} {value_label(column[-1], unit) if column[-1] is not None else 'missing'}"
                       for s, column in zip(styled, values, strict=True))
    text = f"{n} {noun}{'s' if n != 1 else ''}"
    text += f" from {long[0]} to {long[-1]}" if n > 1 else f": {long[0]}"
    text += f". Latest: {latest}."
    totals = [sum(column[i] or 0 for column in values) for i in range(n)]
    if n > 1:
        peak = max(range(n), key=lambda i: totals[i])
        text += f" Highest total {value_label(totals[peak], unit)} ({long[peak]})."
    missing = sum(v is None for column in values for v in column)
    if missing:
        text += f" {missing} value{'s' if missing != 1 else ''} missing."
    return text


def _draw_bars(cid, width, height, title, summary, styled, values, short, long, unit, compact) -> str:
    n = len(short)
    ups = [sum(max(column[i] or 0, 0) for column in values) for i in range(n)]
    downs = [sum(min(column[i] or 0, 0) for column in values) for i in range(n)]
    ticks = nice_ticks(min(0.0, min(downs)), max(0.0, max(ups)), max(3, min(6, int(height / 45))),
                       integer=not unit)
    decimals = _decimals(ticks)
    last_label_half = _text_width(short[-1]) / 2  # the newest bar's date stays centred under it
    frame = _frame(width, height, [format_number(t, decimals) for t in ticks],
                   [s.label for s in styled], max(8.0, last_label_half - 4), unit or "count")
    y0, y1 = ticks[0], ticks[-1]

    def to_y(value: float) -> float:
        return frame.bottom - (value - y0) / (y1 - y0) * frame.plot_h

    root = _root(cid, width, height, title, summary)
    textured = [s for s in styled if s.pattern != "solid"]
    root.append(E.defs(*(_pattern(f"{cid}-{slug(s.name)}", s.pattern) for s in textured)))
    _y_axis(root, frame, ticks, to_y, unit or "count")
    band = frame.plot_w / n
    bar_w = max(1.0, min(band * 0.7, 48.0))
    every = _label_every(short, band)
    if every > 1 and compact != short:  # every bar named briefly beats every few bars named in full
        short = compact
        every = _label_every(short, band)
    centres = [frame.left + band * (i + 0.5) for i in range(n)]
    _x_labels(root, frame, [(centres[i], short[i]) for i in range(n) if (n - 1 - i) % every == 0])
    totals = [format_number(ups[i] + downs[i]) for i in range(n)]
    # Totals are written above every bar or above none: one missing would look like a bar without one.
    show_totals = max(_text_width(t) for t in totals) + 2 <= band
    bars = E.g({"class": "bars", "stroke": "white", "stroke-width": "0.75"})  # segments inherit the stroke
    boxes: dict[str, list[str]] = {s.name: [] for s in styled}
    for i in range(n):
        bars.append(_bar(i, centres[i], bar_w, show_totals, styled, values, long[i], unit, to_y, boxes))
    root.append(bars)
    # One textured path per series over its segments: a pattern fill per rectangle would cost a
    # pattern object each in the PDF (~70 KB and 130 ms for 30 runs); one per series costs four.
    textures = E.g({"class": "textures", "pointer-events": "none"})
    for s in styled:
        if s.pattern != "solid" and boxes[s.name]:
            textures.append(E.path({"class": f"texture s-{slug(s.name)}", "d": " ".join(boxes[s.name]),
                                    "fill": f"url(#{cid}-{slug(s.name)})"}))
    root.append(textures)
    _legend(root, frame, lambda index, x, y: _bar_key(cid, styled[index], x, y))
    return _serialize(root)


def _label_every(labels: Sequence[str], band: float) -> int:
    """Label every n-th bar so that no two labels of a ``band``-wide bar touch (n ≥ 1)."""
    return max(1, math.ceil((max(_text_width(label) for label in labels) + 8) / band))


def _bar(i, centre, bar_w, show_total, styled, values, long_label, unit, to_y, boxes) -> etree._Element:
    """Bar ``i``: its segments in the series' colours, a ``<title>`` naming every value, the total
    above it; each segment's outline is added to ``boxes[series name]`` for its texture."""
    parts = [f"{s.label} {value_label(column[i], unit) if column[i] is not None else 'missing'}"
             for s, column in zip(styled, values, strict=True)]
    group = E.g({"class": "bar", "data-index": str(i)}, E.title(f"{long_label}: {', '.join(parts)}"))
    up = down = 0.0
    for s, column in zip(styled, values, strict=True):
        value = column[i]
        if not value:
            continue
        base = up if value > 0 else down
        top, bottom = sorted((to_y(base + value), to_y(base)))
        if value > 0:
            up += value
        else:
            down += value
        x, w, h = _n(centre - bar_w / 2), _n(bar_w), _n(bottom - top)
        group.append(E.rect({"class": f"seg s-{slug(s.name)}", "x": x, "y": _n(top), "width": w, "height": h,
                             "fill": s.colour, "data-value": format_number(value)}))
        boxes[s.name].append(f"M{x} {_n(top)}h{w}v{h}h-{w}Z")
    total = up + down
    total_text = format_number(total)
    if show_total and any(column[i] is not None for column in values):
        y = to_y(up) - 4 if total >= 0 or up else to_y(down) + FONT_PX
        total_label = _text(centre, y, total_text, anchor="middle", cls="total", fill=INK)
        total_label.set("stroke", "none")  # not the segments' white outline
        group.append(total_label)
    return group


def _pattern(pid: str, kind: str) -> etree._Element:
    """White marks laid over a series' colour so series differ without colour: stripes, dots or
    lines (``solid`` has none)."""
    pattern = E.pattern({"id": pid, "width": "6", "height": "6", "patternUnits": "userSpaceOnUse"})
    if kind == "stripes":
        pattern.set("patternTransform", "rotate(45)")
        pattern.append(E.rect({"width": "2.2", "height": "6", "fill": "white", "fill-opacity": "0.75"}))
    elif kind == "dots":
        pattern.append(E.circle({"cx": "3", "cy": "3", "r": "1.3", "fill": "white", "fill-opacity": "0.8"}))
    elif kind == "lines":
        pattern.append(E.rect({"width": "6", "height": "1.6", "fill": "white", "fill-opacity": "0.75"}))
    return pattern


def _bar_key(cid: str, s: BarSeries, x: float, y: float) -> etree._Element:
    box = {"x": _n(x), "y": _n(y), "width": "12", "height": "12"}
    key = E.g({"class": "key"}, E.rect({**box, "fill": s.colour}))
    if s.pattern != "solid":
        key.append(E.rect({**box, "fill": f"url(#{cid}-{slug(s.name)})"}))
    return key
