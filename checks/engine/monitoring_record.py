"""A project's monitoring written as data (a scenario's ``project.monitoring`` mapping),
validated, and the facts the stage 5 checks read from it. Plain Python: the panel stores the
same things as rows (``Monitor``, ``Probe``, ``AlertChannel``, ``LogSample`` in
``checks/models.py``) and derives the same ``MonitoringFacts`` from them.

Format (every key optional; ``monitoring: {}`` is a project that monitors nothing)::

    monitoring:
      monitors:                 # one per endpoint kind, or a URL of its own
        - {kind: homepage, last_ok_minutes_ago: 1}       # watches the project's homepage endpoint
        - {kind: health, interval_s: 30, last_ok_minutes_ago: 0.5}
        - {url: "https://status.example.com/", name: Status page, last_ok_minutes_ago: 4}
        - {kind: webhook, enabled: false}                # no last_ok_minutes_ago: never succeeded
      alert_channels:
        - {kind: email, email: ops@example.com, tested: true}   # tested: delivered a test alert
        - {kind: slack, webhook_url: "https://hooks.slack.com/services/…", tested: false}
      log_sample: |             # a slice of the app's logs, scanned (never stored) on load
        2026-11-30T07:40:01Z INFO GET /v1/feed 200 12 ms
      log_phone_region: GB      # national phone numbers in the sample are read as this country's

A monitor with a ``kind`` watches the project's first endpoint of that kind (its URL, unless
``url`` is given too); a monitor with only a ``url`` on the homepage (``/`` of the apex, its
``www`` or the preferred host) counts as the homepage monitor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from checks.engine.hostnames import InvalidHostname, normalize_hostname
from checks.engine.loghygiene import DEFAULT_PHONE_REGION, MAX_LOG_BYTES, LogScan, LogTooLarge, scan_log
from checks.engine.spec import (
    ENDPOINT_KINDS,
    EndpointSpec,
    InvalidEndpoint,
    MonitorFacts,
    MonitoringFacts,
    endpoint_from,
)

KEYS = ("monitors", "alert_channels", "log_sample", "log_phone_region")
MONITOR_KEYS = ("kind", "url", "name", "interval_s", "timeout_s", "expected_status", "keyword", "enabled",
                "last_ok_minutes_ago")
CHANNEL_KEYS = ("kind", "name", "email", "webhook_url", "enabled", "tested")
CHANNEL_KINDS = ("email", "slack", "discord")
# A monitor is probed every 30 s at most and every hour at least (issue 6); 60 s by default.
MIN_INTERVAL_S, MAX_INTERVAL_S, DEFAULT_INTERVAL_S = 30, 3600, 60
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 1.0, 30.0  # the panel's range (checks.monitoring.services)
MAX_MONITORS = 100
MAX_CHANNELS = 20


@dataclass(frozen=True)
class MonitorData:
    """One monitor as a scenario writes it (validated); ``last_ok_minutes_ago`` ``None``: it
    never succeeded."""

    kind: str
    url: str
    name: str
    interval_s: int = DEFAULT_INTERVAL_S
    timeout_s: float = 10.0
    expected_status: int | None = None  # None: 200, or 405 for a POST-only endpoint (the panel's rule)
    keyword: str = ""
    enabled: bool = True
    last_ok_minutes_ago: float | None = None


@dataclass(frozen=True)
class ChannelData:
    """One alert channel as a scenario writes it; ``tested``: it delivered a test alert."""

    kind: str
    name: str = ""
    email: str = ""
    webhook_url: str = field(default="", repr=False)  # a secret: whoever has it can post
    enabled: bool = True
    tested: bool = False


@dataclass(frozen=True)
class MonitoringData:
    """A validated ``monitoring:`` mapping: monitors, alert channels, the log sample (its text,
    kept out of ``repr``) and its scan (``None``: no sample, or not scanned)."""

    monitors: tuple[MonitorData, ...] = ()
    channels: tuple[ChannelData, ...] = ()
    log_scan: LogScan | None = None
    log_phone_region: str = DEFAULT_PHONE_REGION
    log_sample: str | None = field(default=None, repr=False)

    def facts(self) -> MonitoringFacts:
        """What the stage 5 checks judge (ages in seconds)."""
        return MonitoringFacts(
            monitors=tuple(
                MonitorFacts(kind=m.kind, url=m.url, enabled=m.enabled, interval_s=m.interval_s,
                             last_ok_age_s=_seconds(m.last_ok_minutes_ago))
                for m in self.monitors
            ),
            alert_channels=sum(c.enabled for c in self.channels),
            alert_channels_tested=sum(c.enabled and c.tested for c in self.channels),
            log_scan=self.log_scan,
        )


def _seconds(minutes: float | None) -> float | None:
    return None if minutes is None else minutes * 60


def homepage_hosts(apex: str, preferred_host: str = "") -> set[str]:
    """The hosts whose ``/`` is the homepage: the apex, ``www.`` + apex, the preferred host."""
    hosts = set()
    for name in (apex, f"www.{apex}", preferred_host):
        try:
            hosts.add(normalize_hostname(name))
        except InvalidHostname:  # "" or not a name: nothing to match
            continue
    return hosts


def monitor_kind(url: str, endpoint_kind: str, homepage: set[str]) -> str:
    """The endpoint kind a monitor watches: its endpoint's kind, else ``homepage`` for ``/`` (or
    nothing) on a homepage host (``homepage_hosts``), else ``""``."""
    if endpoint_kind:
        return endpoint_kind
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if (parts.hostname or "").lower().rstrip(".") in homepage and parts.path in ("", "/") and not parts.query:
        return "homepage"
    return ""


def monitoring_from_dict(data: object, endpoints: tuple[EndpointSpec, ...], *, apex: str,
                         preferred_host: str = "", scan: bool = True) -> MonitoringData:
    """Validate a scenario's ``monitoring`` mapping against the project's ``endpoints`` (a
    monitor of a kind needs an endpoint of that kind) and, with ``scan``, scan its log sample
    (``loghygiene.scan_log``, a random hash key). Raises ``ValueError`` naming the part that is
    wrong, a log sample over ``MAX_LOG_BYTES`` included."""
    if not isinstance(data, dict):
        raise ValueError(f"the project's monitoring must be a mapping of {', '.join(KEYS)}")
    _known(data, KEYS, "the project's monitoring")
    homepage = homepage_hosts(apex, preferred_host)
    monitors = tuple(
        _monitor(item, number, endpoints, homepage)
        for number, item in enumerate(_rows(data.get("monitors"), "monitors", MAX_MONITORS), 1)
    )
    channels = tuple(_channel(item, number)
                     for number, item in enumerate(_rows(data.get("alert_channels"), "alert_channels",
                                                         MAX_CHANNELS), 1))
    region = _region(str(data.get("log_phone_region") or DEFAULT_PHONE_REGION).upper())
    sample, result = data.get("log_sample"), None
    if sample is not None:
        if not isinstance(sample, str):
            raise ValueError("monitoring.log_sample must be text (a YAML block: log_sample: |)")
        try:
            result = scan_log(sample, phone_region=region) if scan else None
            if not scan and len(sample.encode("utf-8", "surrogatepass")) > MAX_LOG_BYTES:
                raise LogTooLarge(f"the log sample is over {MAX_LOG_BYTES:,} bytes")
        except LogTooLarge as exc:
            raise ValueError(f"monitoring.log_sample: {exc}") from None
    return MonitoringData(monitors, channels, result, region, sample)


def _region(code: str) -> str:
    """An ISO 3166-1 alpha-2 code phonenumbers knows (raises ``ValueError``)."""
    from phonenumbers import SUPPORTED_REGIONS

    if code not in SUPPORTED_REGIONS:
        raise ValueError(f"monitoring.log_phone_region {code!r} is not a country code like US or GB")
    return code


def _rows(value: object, name: str, limit: int) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"monitoring.{name} must be a list of mappings")
    if len(value) > limit:
        raise ValueError(f"monitoring.{name}: at most {limit}")
    return value


def _known(data: dict, keys: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(map(str, data)) - set(keys))
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}: use {', '.join(keys)}")


def _monitor(item: dict, number: int, endpoints: tuple[EndpointSpec, ...], homepage: set[str]) -> MonitorData:
    where = f"monitoring.monitors[{number}]"
    _known(item, MONITOR_KEYS, where)
    kind = str(item.get("kind") or "").lower()
    url = str(item.get("url") or "")
    if kind:
        if kind not in ENDPOINT_KINDS:
            raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(ENDPOINT_KINDS)}")
        endpoint = next((e for e in endpoints if e.kind == kind), None)
        if endpoint is None and not url:
            raise ValueError(f"{where}: the project has no {kind} endpoint to monitor; give a url")
        url = url or endpoint.url
    elif not url:
        raise ValueError(f"{where} needs a kind (an endpoint of the project) or a url")
    try:
        endpoint_from(kind or "homepage", "GET", url)  # the same URL rules as an endpoint's
    except InvalidEndpoint as exc:
        raise ValueError(f"{where}: {exc}") from None
    interval_s = _number(item.get("interval_s", DEFAULT_INTERVAL_S), where, "interval_s", int)
    if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise ValueError(f"{where}: interval_s must be {MIN_INTERVAL_S} to {MAX_INTERVAL_S} seconds")
    timeout_s = _number(item.get("timeout_s", 10.0), where, "timeout_s", float)
    if not MIN_TIMEOUT_S <= timeout_s <= MAX_TIMEOUT_S or timeout_s >= interval_s:
        raise ValueError(f"{where}: timeout_s must be {MIN_TIMEOUT_S:.0f} to {MAX_TIMEOUT_S:.0f} s, shorter "
                         "than the interval")
    expected = item.get("expected_status")
    if expected is not None:
        expected = _number(expected, where, "expected_status", int)
        if not 100 <= expected <= 599:
            raise ValueError(f"{where}: expected_status must be an HTTP status, 100 to 599")
    age = item.get("last_ok_minutes_ago")
    if age is not None:
        age = _number(age, where, "last_ok_minutes_ago", float)
        if age < 0:
            raise ValueError(f"{where}: last_ok_minutes_ago cannot be negative")
    kind = monitor_kind(url, kind, homepage)
    return MonitorData(
        kind=kind, url=url, name=str(item.get("name") or kind.title() or url)[:200], interval_s=interval_s,
        timeout_s=timeout_s, expected_status=expected, keyword=str(item.get("keyword") or "")[:200],
        enabled=_flag(item.get("enabled", True), where, "enabled"), last_ok_minutes_ago=age,
    )


def _channel(item: dict, number: int) -> ChannelData:
    where = f"monitoring.alert_channels[{number}]"
    _known(item, CHANNEL_KEYS, where)
    kind = str(item.get("kind") or "").lower()
    if kind not in CHANNEL_KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(CHANNEL_KINDS)}")
    email = str(item.get("email") or "")
    webhook = str(item.get("webhook_url") or "")
    if kind == "email" and "@" not in email:
        raise ValueError(f"{where}: an email channel needs an email address")
    if webhook and not webhook.startswith("https://"):
        raise ValueError(f"{where}: webhook_url must be an https:// URL")
    return ChannelData(kind=kind, name=str(item.get("name") or "")[:200], email=email, webhook_url=webhook,
                       enabled=_flag(item.get("enabled", True), where, "enabled"),
                       tested=_flag(item.get("tested", False), where, "tested"))


def _number(value: object, where: str, name: str, kind: type):
    if isinstance(value, bool):
        raise ValueError(f"{where}: {name} must be a number")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be a number") from None
    if kind is float and number != number:  # NaN
        raise ValueError(f"{where}: {name} must be a number")
    return number


def _flag(value: object, where: str, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {name} must be true or false")
    return value
