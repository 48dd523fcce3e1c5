"""Rendered template fragments kept in the cache under a key made of exactly what they show.

Django's templates cost 0.3–0.5 ms a row (``{% url %}``, ``|date``, attribute lookups), so a
list of 50 projects spends more time rendering than reading the database. A row rendered
from the same values is the same HTML, so it is kept in the cache under

    ``fragment:<template digest>:<time zone>:<SHA-256 of the values>``

and a page asks for all its rows in one round trip (``get_many``). The template of a cached
fragment sees **only** ``values`` (plain data: strings, numbers, dates — never a model
instance it could lazily read more from), so a changed value is a new key by construction: a
cached row is never out of date, only unused, and expires after ``TTL_S``. The template's own
source is in the key, so a deploy that changes it never serves the old markup.

Use it only for fragments that do not depend on who asks (the values decide everything), and
only after the page has checked access: a key is a digest, not a permission.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from functools import cache

from django.core.cache import cache as django_cache
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

TTL_S = 24 * 3600
log = logging.getLogger(__name__)


def render_many(template_name: str, rows: Iterable[dict]) -> list[SafeString]:
    """``template_name`` rendered once per dict of ``rows`` (the template's whole context),
    in order, from the cache where an identical render is kept; misses are rendered and
    stored. One cache round trip to read, one to write the misses."""
    rows = list(rows)
    keys = [fragment_key(template_name, values) for values in rows]
    found = cache_get_many(keys)
    missing = {}
    for key, values in zip(keys, rows, strict=True):
        if key not in found:
            found[key] = missing[key] = render_to_string(template_name, values)
    cache_set_many(missing)
    return [mark_safe(found[key]) for key in keys]  # noqa: S308 - our templates' autoescaped output


def cache_get_many(keys: list[str]) -> dict:
    """``cache.get_many``, or ``{}`` when the cache cannot be reached: a page renders without
    it (slower), it does not fail with it."""
    try:
        return django_cache.get_many(keys)
    except Exception as exc:  # noqa: BLE001 - Redis down, timeouts, a corrupt entry: all mean "render"
        log.warning("fragment cache unavailable, rendering: %s", type(exc).__name__)
        return {}


def cache_set_many(entries: dict, ttl_s: int = TTL_S) -> None:
    """``cache.set_many`` for ``ttl_s``; a cache that cannot be reached is logged, not raised."""
    if not entries:
        return
    try:
        django_cache.set_many(entries, ttl_s)
    except Exception as exc:  # noqa: BLE001 - see cache_get_many
        log.warning("fragment cache unavailable, not stored: %s", type(exc).__name__)


def fragment_key(template_name: str, values: dict) -> str:
    """The cache key of ``template_name`` rendered with ``values`` in the current time zone.
    Raises ``TypeError`` for a value JSON cannot write other than a date or time (a model
    instance would hide what the template reads from it)."""
    data = json.dumps(values, sort_keys=True, default=_plain)
    digest = hashlib.sha256(data.encode()).hexdigest()
    return f"fragment:{template_digest(template_name)}:{timezone.get_current_timezone_name()}:{digest}"


@cache
def template_digest(*template_names: str) -> str:
    """The first 16 hex digits of a SHA-256 over the source of ``template_names`` (read once
    per process: templates change only with a deploy, which restarts it)."""
    digest = hashlib.sha256()
    for name in template_names:
        digest.update(get_template(name).template.source.encode())
    return digest.hexdigest()[:16]


def _plain(value):
    if hasattr(value, "isoformat"):  # date, time, datetime: the template formats them
        return value.isoformat()
    raise TypeError(f"a cached fragment's values must be plain data, not {type(value).__name__}")
