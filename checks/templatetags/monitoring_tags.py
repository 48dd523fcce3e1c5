"""Template filters of the monitoring pages: uptime, latency and ages written for people."""

from __future__ import annotations

import math
from urllib.parse import urlsplit, urlunsplit

from django import template

from checks.dashboard import Uptime

register = template.Library()
NONE = "—"
NBSP = "\u00a0"  # a number and its unit stay on one line


@register.filter
def uptime_pct(value) -> str:
    """An ``Uptime`` (or a percentage) as ``"99.95 %"`` (a no-break space before the sign): two
    decimals, rounded *down* so that anything short of every probe succeeding never reads
    "100 %"; ``"—"`` without probes."""
    if isinstance(value, Uptime):
        if not value.total:
            return NONE
        if value.ok == value.total:
            return f"100{NBSP}%"
        value = value.ok / value.total * 100
    if value is None:
        return NONE
    shown = math.floor(float(value) * 100 + 1e-9) / 100  # 99.95 stays 99.95 despite float noise
    return f"{shown:.2f}".rstrip("0").rstrip(".") + f"{NBSP}%"


@register.filter
def ms(value) -> str:
    """Milliseconds as ``"212 ms"`` (``"—"`` for none)."""
    if value is None:
        return NONE
    return f"{float(value):,.0f}{NBSP}ms"


@register.filter
def pct(value) -> str:
    """A rate in percent as ``"0.42 %"`` (``"—"`` for none)."""
    if value is None:
        return NONE
    return f"{float(value):.2f}".rstrip("0").rstrip(".") + f"{NBSP}%"


@register.filter
def seconds(value) -> str:
    """An interval in seconds as ``"30 s"``, ``"5 min"``, ``"1 h"``."""
    value = int(value or 0)
    if value % 3600 == 0 and value:
        return f"{value // 3600} h"
    if value % 60 == 0 and value:
        return f"{value // 60} min"
    return f"{value} s"


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in a template (``None`` when absent)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def ago(moment, now=None) -> str:
    """How long ago ``moment`` was, short: ``"12 s ago"``, ``"3 min ago"``, ``"2 h ago"``,
    ``"4 days ago"``."""
    from django.utils import timezone

    if moment is None:
        return NONE
    seconds = max(0, int(((now or timezone.now()) - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds}{NBSP}s ago"
    if seconds < 2 * 3600:
        return f"{seconds // 60}{NBSP}min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}{NBSP}h ago"
    return f"{seconds // 86400} days ago"


@register.filter
def uptime_class(value) -> str:
    """A tile's colour class for an ``Uptime``: ``good`` at 99.9 % and above (about 43 minutes
    down a month), ``warn`` from 99 %, ``bad`` below; ``""`` without probes."""
    pct = value.pct if isinstance(value, Uptime) else value
    if pct is None:
        return ""
    return "good" if pct >= 99.9 else "warn" if pct >= 99 else "bad"


@register.filter
def bare_url(value) -> str:
    """A URL without any user name or password in it (``https://host/path?query``): monitors
    refuse credentials, but a row stored before that rule, or by a script, must not show them."""
    try:
        parts = urlsplit(str(value))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    netloc = f"[{host}]{port}" if ":" in host else f"{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
