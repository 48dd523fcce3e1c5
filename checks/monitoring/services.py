"""What the pages call: monitors and alert channels of a project, and "Send test alert".

Every function takes objects the caller already fetched through ``projects.access`` (tenancy
is the page's job) and raises ``django.core.exceptions.ValidationError`` — with a message per
field where it can — for values it refuses, before anything is written.

Monitors probe with ``GET`` or ``HEAD`` only: a probe every minute must not change anything
on the client's app. An endpoint whose method is another one (a webhook that takes ``POST``)
gets a ``GET`` monitor expecting ``405`` (Method Not Allowed, RFC 9110 §15.5.6: what a route
that exists but takes another method answers) — up means "the app answers on that route";
a 5xx, a 404 or no answer is down. A login route is the exception: it serves its form on
``GET``, so its monitor expects ``200``. The expected status can be changed.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils import timezone

from checks.engine.net.dns import DnsClient, ResolveError
from checks.models import AlertChannel, AlertDelivery, Incident, IncidentEvent, Monitor
from checks.monitoring import alerts
from checks.monitoring.network import monitor_profile
from launchready import crypto

DEFAULT_KINDS = ("homepage", "login", "health", "webhook")  # the critical endpoints
PROBE_METHODS = ("GET", "HEAD")
INTERVAL_RANGE_S = (30, 3600)
TIMEOUT_RANGE_S = (1.0, 30.0)
DOWN_AFTER_RANGE = (1, 10)
MAX_URL_CHARS = 2000
MAX_KEYWORD_CHARS = 200
_url = URLValidator(schemes=["http", "https"])


# --- monitors -------------------------------------------------------------------------------


def monitor_create(
    project, *, url: str, name: str = "", endpoint=None, method: str = "GET", interval_s: int = 60,
    timeout_s: float = 10.0, expected_status: int = 200, keyword: str = "", down_after: int = 2,
    enabled: bool = True,
) -> Monitor:
    """A new monitor of ``project``, due at once. ``interval_s`` 30–3,600 s, ``timeout_s`` 1–30 s
    and shorter than the interval, ``method`` GET or HEAD, ``expected_status`` 100–599,
    ``keyword`` ≤ 200 characters (searched in the first 64 kB), ``down_after`` 1–10 failures.
    ``name`` defaults to the URL's host and path. Raises ``ValidationError``."""
    fields = _monitor_fields(
        url=url, name=name, method=method, interval_s=interval_s, timeout_s=timeout_s,
        expected_status=expected_status, keyword=keyword, down_after=down_after,
    )
    return Monitor.objects.create(
        project=project, endpoint=endpoint, enabled=enabled,
        next_due_at=timezone.now() if enabled else None, **fields,
    )


def monitor_for_endpoint(endpoint, **overrides) -> Monitor:
    """A monitor of one of the project's endpoints (see the module docstring for the method
    and expected status), named after the endpoint's kind; ``overrides`` as in
    ``monitor_create``. Raises ``ValidationError``."""
    if endpoint.method in PROBE_METHODS:
        method, expected = endpoint.method, 200
    else:  # GET on a POST route: its form (login) or Method Not Allowed (a webhook, an API)
        method, expected = "GET", 200 if endpoint.kind == "login" else 405
    taken = set(endpoint.project.monitors.values_list("name", flat=True))
    label = endpoint.kind.replace("_", " ").capitalize()
    name = label if label not in taken else f"{label} ({_short(endpoint.url)})"
    values = {"url": endpoint.url, "name": name, "method": method, "expected_status": expected, **overrides}
    return monitor_create(endpoint.project, endpoint=endpoint, **values)


def monitors_create_defaults(project) -> list[Monitor]:
    """A monitor for each critical endpoint (homepage, login, health, webhook) of ``project``
    that has none yet, and one for the homepage ``https://<preferred host or apex>/`` when no
    endpoint is a homepage and no monitor has that URL. Idempotent; returns the new ones."""
    created = []
    with transaction.atomic():
        watched = set(project.monitors.values_list("url", flat=True))
        endpoints = list(project.endpoints.filter(kind__in=DEFAULT_KINDS).order_by("id"))
        for endpoint in endpoints:
            if endpoint.monitors.exists() or endpoint.url in watched:
                continue
            created.append(monitor_for_endpoint(endpoint))
            watched.add(endpoint.url)
        host = project.preferred_host or project.apex_domain
        homepage = f"https://{host}/" if host else ""
        if homepage and not any(e.kind == "homepage" for e in endpoints) and homepage not in watched:
            created.append(monitor_create(project, url=homepage, name="Homepage"))
    return created


def monitor_update(monitor: Monitor, **fields) -> Monitor:
    """Change any of ``monitor_create``'s fields (``enabled`` too). A changed URL, method,
    expected status or keyword restarts the monitor's state (``unknown``, no failures) and
    makes it due at once; an open incident stays until the next verdict. Disabling closes
    the open incident without an alert. Raises ``ValidationError``."""
    allowed = {"url", "name", "method", "interval_s", "timeout_s", "expected_status", "keyword",
               "down_after", "enabled"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"unknown monitor fields: {', '.join(sorted(unknown))}")
    enabled = fields.pop("enabled", monitor.enabled)
    current = {k: getattr(monitor, k) for k in allowed - {"enabled"}}
    cleaned = _monitor_fields(**{**current, **fields})
    restart = any(cleaned[k] != current[k] for k in ("url", "method", "expected_status", "keyword"))
    with transaction.atomic():
        monitor = Monitor.objects.select_for_update().get(pk=monitor.pk)
        for key, value in cleaned.items():
            setattr(monitor, key, value)
        now = timezone.now()
        if restart:
            monitor.state, monitor.consecutive_failures = Monitor.State.UNKNOWN, 0
        if enabled and (restart or not monitor.enabled):
            monitor.next_due_at = now
        if not enabled and monitor.enabled:
            monitor.state, monitor.consecutive_failures, monitor.next_due_at = Monitor.State.UNKNOWN, 0, None
            _close_quietly(monitor, now, "monitor paused")
        monitor.enabled = enabled
        monitor.save()
    return monitor


def monitor_delete(monitor: Monitor) -> None:
    """Delete ``monitor`` with its probes, roll-ups and incidents (their alerts' log too)."""
    monitor.delete()


def _close_quietly(monitor: Monitor, now, reason: str) -> None:
    incident = Incident.objects.filter(monitor=monitor, closed_at__isnull=True).first()
    if incident:
        incident.closed_at = now
        incident.save(update_fields=["closed_at"])
        IncidentEvent.objects.create(incident=incident, at=now, kind="closed", reason=reason)


def _monitor_fields(
    *, url, name, method, interval_s, timeout_s, expected_status, keyword, down_after
) -> dict:
    errors: dict[str, str] = {}
    url = (url or "").strip()
    try:
        if len(url) > MAX_URL_CHARS:
            raise ValidationError("too long")
        _url(url)
        parts = urlsplit(url)
        if parts.port == 0:  # .port raises ValueError past 65535 (RFC 3986 §3.2.3: a TCP port)
            raise ValueError("port 0")
        if parts.username or parts.password:
            errors["url"] = ("Put no user name, password or token in the URL: it would be stored and "
                             "shown in clear.")
        elif refusal := _literal_refusal(parts.hostname or ""):
            errors["url"] = refusal  # an address the probe would be refused anyway: say it now
    except (ValidationError, ValueError):
        errors["url"] = f"Enter an http:// or https:// URL of at most {MAX_URL_CHARS} characters."
    method = (method or "GET").upper()
    if method not in PROBE_METHODS:
        errors["method"] = "Monitors probe with GET or HEAD only (a probe must not change anything)."
    interval_s, timeout_s = _number(interval_s, int), _number(timeout_s, float)
    expected_status, down_after = _number(expected_status, int), _number(down_after, int)
    if interval_s is None or not INTERVAL_RANGE_S[0] <= interval_s <= INTERVAL_RANGE_S[1]:
        errors["interval_s"] = "The interval is 30 s to 1 h (3600 s)."
    if timeout_s is None or not TIMEOUT_RANGE_S[0] <= timeout_s <= TIMEOUT_RANGE_S[1]:
        errors["timeout_s"] = "The timeout is 1 to 30 s."
    elif interval_s is not None and timeout_s >= interval_s:
        errors["timeout_s"] = "The timeout must be shorter than the interval."
    if expected_status is None or not 100 <= expected_status <= 599:
        errors["expected_status"] = "Expect an HTTP status from 100 to 599."
    if down_after is None or not DOWN_AFTER_RANGE[0] <= down_after <= DOWN_AFTER_RANGE[1]:
        errors["down_after"] = "Down after 1 to 10 consecutive failures."
    keyword = keyword or ""
    if len(keyword) > MAX_KEYWORD_CHARS or "\n" in keyword or "\r" in keyword:
        errors["keyword"] = f"A keyword is at most {MAX_KEYWORD_CHARS} characters on one line."
    elif keyword and method == "HEAD":
        errors["keyword"] = "A keyword needs GET: the answer to HEAD has no body."
    if errors:
        raise ValidationError(errors)
    return {
        "url": url, "name": (name or "").strip()[:200] or _short(url), "method": method,
        "interval_s": interval_s, "timeout_s": timeout_s, "expected_status": expected_status,
        "keyword": keyword, "down_after": down_after,
    }


def _number(value, kind):
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or ''}{parts.path or '/'}"[:200]


# --- alert channels -------------------------------------------------------------------------


def channel_create(project, *, kind: str, name: str = "", email: str = "", webhook_url: str = "",
                   enabled: bool = True) -> AlertChannel:
    """A new alert channel of ``project``: ``kind`` ``email`` (with ``email``) or ``slack`` /
    ``discord`` (with ``webhook_url``, stored encrypted; see ``validate_webhook_url``).
    Raises ``ValidationError``."""
    if kind not in AlertChannel.Kind.values:
        raise ValidationError({"kind": "Choose email, Slack or Discord."})
    channel = AlertChannel(project=project, kind=kind, enabled=enabled)
    _set_channel_fields(channel, name=name, email=email, webhook_url=webhook_url, creating=True)
    channel.save()
    return channel


def channel_update(channel: AlertChannel, *, name: str | None = None, email: str | None = None,
                   webhook_url: str | None = None, enabled: bool | None = None) -> AlertChannel:
    """Change a channel; ``None`` keeps a field (so a form can leave the stored webhook URL,
    which it never shows, as it is). Raises ``ValidationError``."""
    _set_channel_fields(channel, name=name, email=email, webhook_url=webhook_url, creating=False)
    if enabled is not None:
        channel.enabled = enabled
    channel.save()
    return channel


def channel_delete(channel: AlertChannel) -> None:
    """Delete the channel and its delivery log."""
    channel.delete()


def webhook_hint(channel: AlertChannel) -> str:
    """What a page shows for a channel's webhook: its host and the mask
    (``hooks.slack.com/••••••••``), never the path that holds the secret; "" for email."""
    if channel.kind == AlertChannel.Kind.EMAIL or not channel.webhook_url_encrypted:
        return ""
    try:
        host = urlsplit(crypto.decrypt(channel.webhook_url_encrypted)).hostname or ""
    except crypto.SecretDecryptionError:
        return "cannot be read: enter it again"
    return f"{host}/{crypto.MASK}"


def send_test_alert(channel: AlertChannel) -> AlertDelivery:
    """Queue a test alert to ``channel`` (a ``test`` delivery, sent and retried like the
    others; ``last_test_ok_at`` is set when it is delivered). Returns the delivery."""
    with transaction.atomic():
        delivery = AlertDelivery.objects.create(
            channel=channel, kind=AlertDelivery.Kind.TEST, next_attempt_at=timezone.now()
        )
        alerts.dispatch([delivery.pk])
    return delivery


def _set_channel_fields(channel: AlertChannel, *, name, email, webhook_url, creating: bool) -> None:
    if name is not None:
        channel.name = name.strip()[:200]
    if channel.kind == AlertChannel.Kind.EMAIL:
        if email is not None or creating:
            address = (email or "").strip()
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError({"email": "Enter an email address."}) from None
            channel.email = address
        return
    if webhook_url is not None or creating:
        url = validate_webhook_url(channel.kind, webhook_url or "")
        channel.webhook_url_encrypted = crypto.encrypt(url)


def validate_webhook_url(kind: str, url: str) -> str:
    """``url`` stripped, if it can be a ``kind`` (``slack`` / ``discord``) webhook this product
    may post to: ``https://`` (``http://`` only to an address in ``MONITOR_ALLOWED_NETWORKS``,
    for tests), a host, no user or password, at most 2,000 characters, and a host whose
    addresses the outbound policy allows (checked again at every send: DNS may change).
    Raises ``ValidationError`` naming the problem — never echoing the URL."""
    url = (url or "").strip()
    label = "Slack" if kind == AlertChannel.Kind.SLACK else "Discord"
    invalid = ValidationError({"webhook_url": f"Enter the {label} webhook URL (https://…)."})
    if not url or len(url) > MAX_URL_CHARS:
        raise invalid
    try:
        _url(url)
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except (ValidationError, ValueError):
        raise invalid from None
    if parts.username or parts.password or not parts.hostname:
        raise invalid
    if parts.scheme != "https" and not _in_allowed_networks(parts.hostname):
        raise ValidationError({"webhook_url": "A webhook URL starts with https:// (it carries a secret)."})
    _check_policy(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return url


def _literal_refusal(host: str) -> str | None:
    """The outbound policy's refusal of ``host`` when it is an IP literal (169.254.169.254, a
    private address); host names are judged at each probe, since DNS may change."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return monitor_profile().policy.refusal(host.strip("[]"))


def _in_allowed_networks(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in settings.MONITOR_ALLOWED_NETWORKS)


def _check_policy(host: str, port: int) -> None:
    profile = monitor_profile()
    try:
        addresses = DnsClient(profile).addresses(host)
    except ResolveError as exc:
        if all(answer.answered for answer in exc.answers):  # NXDOMAIN or no address: a typo
            raise ValidationError({"webhook_url": f"The webhook's host has no address: {exc}"}) from None
        return  # the resolver failed (timeout): judged again at every send
    refusals = [r for a in addresses if (r := profile.policy.refusal(a, profile.port(port)))]
    if len(refusals) == len(addresses):
        raise ValidationError({"webhook_url": refusals[0]})
