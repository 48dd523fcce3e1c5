"""A stored project's monitoring as the engine's ``MonitoringFacts`` (stage 5), and the log
sample's scan stored for it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.crypto import salted_hmac

from checks.engine.loghygiene import DEFAULT_PHONE_REGION, LogScan, scan_from_dict, scan_log
from checks.engine.monitoring_record import homepage_hosts, monitor_kind
from checks.engine.spec import MonitorFacts, MonitoringFacts
from checks.models import LogSample, Monitor, Probe


def monitoring_facts(project, now: datetime | None = None) -> MonitoringFacts:
    """What ``project``'s monitors, alert channels and log sample tell the stage 5 checks, as
    of ``now``: each monitor's kind (its endpoint's, or ``homepage`` for ``/`` of the apex,
    ``www`` or the preferred host), URL, enabled flag, interval and seconds since its last
    successful probe; the enabled channels and how many delivered a test alert
    (``last_test_ok_at`` set); the stored log scan. Three queries (none for an unsaved
    project, which has nothing)."""
    if project.pk is None:
        return MonitoringFacts()
    now = now or timezone.now()
    last_ok = Probe.objects.filter(monitor=OuterRef("pk"), ok=True).order_by("-at").values("at")[:1]
    homepage = homepage_hosts(project.apex_domain, project.preferred_host)
    monitors = tuple(
        MonitorFacts(kind=monitor_kind(url, kind or "", homepage), url=url, enabled=enabled,
                     interval_s=interval_s,
                     last_ok_age_s=None if ok_at is None else max(0.0, (now - ok_at).total_seconds()))
        for url, enabled, interval_s, kind, ok_at in project.monitors.annotate(
            endpoint_kind=F("endpoint__kind"), last_ok_at=Subquery(last_ok),
        ).values_list("url", "enabled", "interval_s", "endpoint_kind", "last_ok_at")
    )
    channels = project.alert_channels.aggregate(
        n_enabled=Count("id", filter=Q(enabled=True)),
        n_tested=Count("id", filter=Q(enabled=True, last_test_ok_at__isnull=False)),
    )
    sample = LogSample.objects.filter(project=project).only("scan").first()
    return MonitoringFacts(
        monitors=monitors, alert_channels=channels["n_enabled"], alert_channels_tested=channels["n_tested"],
        log_scan=scan_from_dict(sample.scan) if sample is not None else None,
    )


def redaction_key(project) -> bytes:
    """The key of a project's log-scan hashes (``loghygiene.redact``): derived from
    ``SECRET_KEY`` and the project, so one value hashes alike across the project's scans (a
    token seen again is recognisable) but not across projects, and nobody without the key can
    test guesses against a stored hash."""
    return salted_hmac("launchready.log-hygiene", str(project.pk), secret=settings.SECRET_KEY).digest()


def log_sample_store(project, text: str, *, source: str, phone_region: str = DEFAULT_PHONE_REGION,
                     user=None) -> LogSample:
    """Scan ``text`` and keep only the result as ``project``'s log sample (replacing the one
    before); the text itself is dropped here. ``source`` is "pasted" or the file's name.
    Raises ``checks.engine.loghygiene.LogTooLarge`` over ``MAX_LOG_BYTES``."""
    scan: LogScan = scan_log(text, phone_region=phone_region or None, hash_key=redaction_key(project))
    sample, _ = LogSample.objects.update_or_create(project=project, defaults={
        "source": source[:255], "size_bytes": scan.size_bytes, "lines": scan.lines,
        "phone_region": phone_region or "", "scan": scan.as_dict(), "scanned_at": timezone.now(),
        "scanned_by": user,
    })
    return sample


def monitoring_sync(project, data: dict | None, spec) -> None:
    """Record a scenario's ``project.monitoring`` mapping (``checks/engine/monitoring_record.py``)
    as ``project``'s rows, replacing what it had: monitors (one successful probe
    ``last_ok_minutes_ago`` back, so the stage 5 checks see what the scenario says), alert
    channels (``tested`` ones with a delivered ``test`` alert), the log sample's scan. ``None``
    (no mapping) leaves none of them. ``spec`` is the project's validated ``ProjectSpec``.
    Raises ``ValueError`` like ``monitoring_from_dict``."""
    from checks.engine.monitoring_record import monitoring_from_dict
    from checks.models import AlertChannel, AlertDelivery
    from checks.monitoring import services as monitoring
    from launchready import crypto

    record = monitoring_from_dict(data, spec.endpoints, apex=spec.apex, preferred_host=spec.preferred_host,
                                  scan=False) if data is not None else None
    project.monitors.all().delete()
    project.alert_channels.all().delete()
    LogSample.objects.filter(project=project).delete()
    if record is None:
        return
    now = timezone.now()
    endpoints = {e.url: e for e in project.endpoints.all()}
    for item in record.monitors:
        fields = {"name": item.name, "interval_s": item.interval_s, "timeout_s": item.timeout_s,
                  "keyword": item.keyword, "enabled": item.enabled}
        if item.expected_status is not None:
            fields["expected_status"] = item.expected_status
        endpoint = endpoints.get(item.url)
        monitor = (monitoring.monitor_for_endpoint(endpoint, **fields) if endpoint is not None and item.kind
                   else monitoring.monitor_create(project, url=item.url, **fields))
        if item.last_ok_minutes_ago is not None:
            at = now - timedelta(minutes=item.last_ok_minutes_ago)
            Probe.objects.create(monitor=monitor, at=at, due_at=at, ok=True,
                                 status_code=monitor.expected_status)
            monitor.state, monitor.last_probe_at = Monitor.State.UP, at
            monitor.save(update_fields=["state", "last_probe_at"])
    for item in record.channels:
        channel = AlertChannel.objects.create(
            project=project, kind=item.kind, name=item.name, email=item.email, enabled=item.enabled,
            webhook_url_encrypted=crypto.encrypt(item.webhook_url) if item.webhook_url else "",
            last_test_ok_at=now if item.tested else None,
        )
        if item.tested:
            AlertDelivery.objects.create(channel=channel, kind=AlertDelivery.Kind.TEST,
                                         state=AlertDelivery.State.SENT, attempts=1, sent_at=now)
    if record.log_sample is not None:
        log_sample_store(project, record.log_sample, source="scenario", phone_region=record.log_phone_region)
