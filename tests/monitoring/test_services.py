"""What the pages call: monitors from a project's endpoints, channels, validation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from checks.models import AlertChannel, Incident, Monitor
from checks.monitoring import services
from launchready import crypto
from projects.models import Endpoint


def endpoints(project, *rows):
    for kind, method, url in rows:
        Endpoint.objects.create(project=project, kind=kind, method=method, url=url)


def summary(monitors):
    return [(m.name, m.method, m.url, m.expected_status, m.interval_s, m.down_after, m.endpoint is not None)
            for m in monitors]


def test_the_critical_endpoints_get_monitors_once(project):
    endpoints(
        project,
        ("homepage", "GET", "https://www.clubhouse.test/"),
        ("login", "POST", "https://app.clubhouse.test/login"),
        ("health", "GET", "https://api.clubhouse.test/healthz"),
        ("webhook", "POST", "https://api.clubhouse.test/hooks/stripe"),
        ("feed", "GET", "https://app.clubhouse.test/feed"),
    )
    before = timezone.now()
    created = services.monitors_create_defaults(project)
    assert summary(created) == [
        ("Homepage", "GET", "https://www.clubhouse.test/", 200, 60, 2, True),
        ("Login", "GET", "https://app.clubhouse.test/login", 200, 60, 2, True),
        ("Health", "GET", "https://api.clubhouse.test/healthz", 200, 60, 2, True),
        ("Webhook", "GET", "https://api.clubhouse.test/hooks/stripe", 405, 60, 2, True),
    ]
    assert all(m.next_due_at >= before and m.state == "unknown" for m in created)
    assert services.monitors_create_defaults(project) == []


def test_a_project_without_a_homepage_endpoint_gets_one_for_its_preferred_host(project):
    project.preferred_host = "www.clubhouse.test"
    project.save()
    assert summary(services.monitors_create_defaults(project)) == [
        ("Homepage", "GET", "https://www.clubhouse.test/", 200, 60, 2, False),
    ]
    assert services.monitors_create_defaults(project) == []


def test_any_endpoint_can_get_a_monitor_and_a_second_of_a_kind_is_named_by_its_path(project):
    endpoints(project, ("health", "GET", "https://api.clubhouse.test/healthz"),
              ("health", "HEAD", "https://app.clubhouse.test/up"), ("feed", "GET", "https://app.clubhouse.test/feed"))
    rows = project.endpoints.order_by("id")
    first, second, feed = (services.monitor_for_endpoint(e, interval_s=30) for e in rows)
    assert [(m.name, m.method, m.interval_s) for m in (first, second, feed)] == [
        ("Health", "GET", 30), ("Health (app.clubhouse.test/up)", "HEAD", 30), ("Feed", "GET", 30),
    ]


def test_monitor_values_out_of_range_are_refused_field_by_field(project):
    with pytest.raises(ValidationError) as refused:
        services.monitor_create(project, url="ftp://x.test/", method="POST", interval_s=10, timeout_s=0.5,
                                expected_status=700, down_after=0, keyword="a\n")
    assert refused.value.message_dict == {
        "url": ["Enter an http:// or https:// URL of at most 2000 characters."],
        "method": ["Monitors probe with GET or HEAD only (a probe must not change anything)."],
        "interval_s": ["The interval is 30 s to 1 h (3600 s)."],
        "timeout_s": ["The timeout is 1 to 30 s."],
        "expected_status": ["Expect an HTTP status from 100 to 599."],
        "down_after": ["Down after 1 to 10 consecutive failures."],
        "keyword": ["A keyword is at most 200 characters on one line."],
    }
    with pytest.raises(ValidationError) as slow:
        services.monitor_create(project, url="https://x.test/", interval_s=30, timeout_s=30)
    assert slow.value.message_dict == {"timeout_s": ["The timeout must be shorter than the interval."]}
    assert Monitor.objects.count() == 0


def test_changing_what_a_monitor_checks_restarts_it_and_pausing_closes_its_incident(project):
    watched = services.monitor_create(project, url="https://www.clubhouse.test/", name="Homepage")
    Monitor.objects.filter(pk=watched.pk).update(state="down", consecutive_failures=3, next_due_at=None)
    Incident.objects.create(monitor=watched, project=project, opened_at=timezone.now(),
                            reason="connect refused")
    watched = services.monitor_update(watched, keyword="Welcome")
    assert (watched.state, watched.consecutive_failures, watched.keyword) == ("unknown", 0, "Welcome")
    assert watched.next_due_at is not None
    watched = services.monitor_update(watched, enabled=False)
    assert (watched.enabled, watched.next_due_at) == (False, None)
    incident = Incident.objects.get()
    assert [(e.kind, e.reason) for e in incident.events.all()] == [("closed", "monitor paused")]
    assert services.monitor_update(watched, enabled=True).next_due_at is not None
    with pytest.raises(ValidationError):
        services.monitor_update(watched, colour="red")


def test_a_webhook_url_is_stored_encrypted_and_shown_only_as_its_host(project, loopback):
    url = "https://127.0.0.1:9/services/T01/B02/sekret"
    channel = services.channel_create(project, kind="slack", name="#ops", webhook_url=url)
    stored = AlertChannel.objects.get(pk=channel.pk)
    assert "sekret" not in stored.webhook_url_encrypted
    assert crypto.decrypt(stored.webhook_url_encrypted) == url
    assert services.webhook_hint(stored) == f"127.0.0.1/{crypto.MASK}"
    services.channel_update(stored, name="#alerts")  # the URL left out: kept
    stored.refresh_from_db()
    assert (stored.name, crypto.decrypt(stored.webhook_url_encrypted)) == ("#alerts", url)


def test_channel_values_are_checked(project, loopback):
    with pytest.raises(ValidationError) as plain:
        services.channel_create(project, kind="slack", webhook_url="http://hooks.example/services/x")
    assert plain.value.message_dict == {
        "webhook_url": ["A webhook URL starts with https:// (it carries a secret)."]
    }
    with pytest.raises(ValidationError) as userinfo:
        services.channel_create(project, kind="discord", webhook_url="https://me:pw@127.0.0.1/api/webhooks/1/t")
    assert userinfo.value.message_dict == {"webhook_url": ["Enter the Discord webhook URL (https://…)."]}
    with pytest.raises(ValidationError) as address:
        services.channel_create(project, kind="email", email="not an address")
    assert address.value.message_dict == {"email": ["Enter an email address."]}
    with pytest.raises(ValidationError):
        services.channel_create(project, kind="sms")
    assert AlertChannel.objects.count() == 0


def test_a_keyword_needs_a_body_to_search(project):
    with pytest.raises(ValidationError) as refused:
        services.monitor_create(project, url="https://www.clubhouse.test/", method="HEAD", keyword="Welcome")
    assert refused.value.message_dict == {"keyword": ["A keyword needs GET: the answer to HEAD has no body."]}
