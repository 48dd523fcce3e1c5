"""Alert deliveries: created once per channel, incident and kind; sent to real loopback
receivers in Slack's and Discord's formats and by mail; retried with back-off; refused by the
outbound policy; the webhook URL never shown or logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from checks.models import AlertChannel, AlertDelivery, Incident, Monitor
from checks.monitoring import alerts, services
from checks.monitoring.alerts import MAX_ATTEMPTS, backoff_s
from checks.monitoring.channels import discord, email, slack
from checks.monitoring.message import AlertMessage
from checks.monitoring.probe import ProbeOutcome
from checks.monitoring.scheduler import record_outcomes
from launchready import crypto
from tests.monitoring.support import Receiver

OPENED = datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)
CLOSED = datetime(2026, 11, 30, 12, 3, 25, tzinfo=UTC)
LINK = "https://panel.example/projects/7/"
DOWN = AlertMessage(kind="down", project="Clubhouse", monitor="Homepage", url="https://www.clubhouse.test/",
                    reason="status 503, expected 200", at=OPENED, link=LINK)
UP = AlertMessage(kind="up", project="Clubhouse", monitor="Homepage", url="https://www.clubhouse.test/",
                  reason="status 200 in 41 ms", at=CLOSED, down_s=200, link=LINK)
TEST = AlertMessage(kind="test", project="Clubhouse", link=LINK)


def test_the_back_off_doubles_from_10_s_honours_retry_after_and_stops_at_an_hour():
    assert [backoff_s(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 640, 1280]
    assert backoff_s(1, retry_after_s=90) == 90
    assert backoff_s(3, retry_after_s=5) == 40
    assert backoff_s(20) == 3600
    assert MAX_ATTEMPTS == 6  # 10 + 20 + 40 + 80 + 160 s: failed about 5 minutes after the first try


def test_the_slack_payload_is_text_and_blocks_with_mrkdwn_escaped():
    assert slack.payload(DOWN) == {
        "text": "🔴 DOWN: Homepage of Clubhouse: status 503, expected 200",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "🔴 Homepage is down", "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                "https://www.clubhouse.test/ is down since 2026-11-30 12:00:05 UTC: "
                "status 503, expected 200.\n"
                "<https://panel.example/projects/7/|Open Clubhouse in Launch Ready>"
            )}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "Launch Ready · Clubhouse"}]},
        ],
    }
    hostile = AlertMessage(kind="test", project="<!channel> & co")
    assert slack.payload(hostile)["text"] == "🔔 Test alert from Launch Ready for &lt;!channel&gt; &amp; co"


def test_the_discord_payload_is_content_and_one_embed_that_pings_nobody():
    assert discord.payload(UP) == {
        "username": "Launch Ready",
        "content": "✅ UP: Homepage of Clubhouse is up again after 3 min 20 s",
        "embeds": [{
            "title": "Homepage is up again",
            "description": ("https://www.clubhouse.test/ is up again since 2026-11-30 12:03:25 UTC "
                            "(status 200 in 41 ms), after 3 min 20 s down."),
            "color": 0x1E8E3E,
            "url": LINK,
            "fields": [{"name": "URL", "value": "https://www.clubhouse.test/"},
                       {"name": "Down for", "value": "3 min 20 s"}],
            "timestamp": "2026-11-30T12:03:25+00:00",
        }],
        "allowed_mentions": {"parse": []},
    }
    down = discord.payload(DOWN)["embeds"][0]
    assert down["color"] == 0xD93025
    assert down["fields"][1] == {"name": "Reason", "value": "status 503, expected 200"}


def test_discord_limits_are_kept():
    long = AlertMessage(kind="down", project="P", monitor="M" * 300, url="https://x.test/", reason="r" * 5000)
    body = discord.payload(long)
    assert len(body["embeds"][0]["title"]) == 256
    assert len(body["content"]) == 2000
    assert len(body["embeds"][0]["fields"][1]["value"]) == 1024


def test_the_mail_has_the_line_as_subject_and_the_details_as_body():
    assert email.parts(TEST) == (
        "🔔 Test alert from Launch Ready for Clubhouse",
        "This channel receives the outage alerts of Clubhouse's monitors. Nothing is down.\n\n"
        "https://panel.example/projects/7/\n\n-- \nLaunch Ready monitoring\n",
    )


# --- with the database ------------------------------------------------------------------------


@pytest.fixture
def receivers():
    made = []

    def make(path, **kw):
        receiver = Receiver(path, **kw)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()


def go_down_and_up(project, *, up: bool = True) -> Incident:
    """A monitor of ``project`` with down_after 1: one failed probe, then (``up``) one success."""
    watched = Monitor.objects.create(project=project, name="Homepage", url="https://www.clubhouse.test/",
                                     down_after=1, next_due_at=timezone.now())
    first = timezone.now()
    record_outcomes([ProbeOutcome(watched.pk, first, first, False, 503, 3.0, "status 503, expected 200")])
    if up:
        later = timezone.now()
        record_outcomes([ProbeOutcome(watched.pk, later, later, True, 200, 41.0)])
    return Incident.objects.get(monitor=watched)


def test_an_outage_alerts_every_channel_once_and_its_end_once(project, loopback, receivers):
    hook = receivers("/services/T01/B02/sekret")
    site_hook = receivers("/api/webhooks/42/token", success_status=204)
    services.channel_create(project, kind="slack", webhook_url=hook.url)
    services.channel_create(project, kind="discord", webhook_url=site_hook.url)
    services.channel_create(project, kind="email", email="ops@clubhouse.test")
    services.channel_create(project, kind="email", email="off@clubhouse.test", enabled=False)
    incident = go_down_and_up(project)
    deliveries = list(AlertDelivery.objects.order_by("id"))
    assert sorted((d.channel.kind, d.kind) for d in deliveries) == [
        ("discord", "down"), ("discord", "up"), ("email", "down"), ("email", "up"),
        ("slack", "down"), ("slack", "up"),
    ]
    for delivery in deliveries:
        assert alerts.send(delivery.pk) == "sent"
        assert alerts.send(delivery.pk) is None  # sent: nothing left to claim
    assert [b["text"] for b in hook.bodies] == [
        "🔴 DOWN: Homepage of Clubhouse: status 503, expected 200",
        f"✅ UP: Homepage of Clubhouse is up again after {alerts_duration(incident)}",
    ]
    assert [b["embeds"][0]["title"] for b in site_hook.bodies] == ["Homepage is down", "Homepage is up again"]
    assert [m.subject for m in mail.outbox] == [
        "🔴 DOWN: Homepage of Clubhouse: status 503, expected 200",
        f"✅ UP: Homepage of Clubhouse is up again after {alerts_duration(incident)}",
    ]
    assert [m.to for m in mail.outbox] == [["ops@clubhouse.test"]] * 2
    assert {(d.state, d.attempts, d.last_error) for d in AlertDelivery.objects.all()} == {("sent", 1, "")}


def alerts_duration(incident: Incident) -> str:
    from checks.monitoring.message import duration

    return duration((incident.closed_at - incident.opened_at).total_seconds())


def test_deliveries_are_created_once_per_channel_incident_and_kind(project, loopback):
    channel = services.channel_create(project, kind="email", email="ops@clubhouse.test")
    incident = go_down_and_up(project, up=False)
    assert alerts.create_deliveries(incident, "down") == []  # already there
    assert AlertDelivery.objects.filter(channel=channel, incident=incident, kind="down").count() == 1


def test_a_recovery_is_told_only_to_channels_that_heard_of_the_outage(project, loopback):
    services.channel_create(project, kind="email", email="ops@clubhouse.test")
    incident = go_down_and_up(project, up=False)
    services.channel_create(project, kind="email", email="late@clubhouse.test")  # added mid-outage
    watched = incident.monitor
    now = timezone.now()
    record_outcomes([ProbeOutcome(watched.pk, now, now, True, 200, 5.0)])
    assert sorted((d.channel.email, d.kind) for d in AlertDelivery.objects.all()) == [
        ("ops@clubhouse.test", "down"), ("ops@clubhouse.test", "up"),
    ]


def test_a_failed_send_is_retried_with_back_off_then_given_up(project, loopback, receivers, caplog):
    hook = receivers("/services/T01/B02/sekret", success_status=500)
    services.channel_create(project, kind="slack", webhook_url=hook.url)
    incident = go_down_and_up(project, up=False)
    delivery = AlertDelivery.objects.get(incident=incident)
    caplog.set_level(logging.DEBUG)
    for attempt in range(1, MAX_ATTEMPTS):
        started = timezone.now()
        assert alerts.send(delivery.pk) == "pending"
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.last_error) == (attempt, "status 500")
        wait = (delivery.next_attempt_at - started).total_seconds()
        assert backoff_s(attempt) <= wait < backoff_s(attempt) + 2
        assert alerts.send(delivery.pk) is None  # not due yet
        AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert alerts.send(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 6)
    assert delivery.last_error == "status 500 (after 6 attempts)"
    assert len(hook.bodies) == 6
    assert "sekret" not in caplog.text


def test_a_webhook_slack_says_is_gone_fails_at_once(project, loopback, receivers):
    hook = receivers("/services/T01/B02/sekret", answers=[(404, b"no_service", {})])
    services.channel_create(project, kind="slack", webhook_url=hook.url)
    incident = go_down_and_up(project, up=False)
    delivery = AlertDelivery.objects.get(incident=incident)
    assert alerts.send(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_error) == (1, "status 404: no_service")


def test_a_rate_limited_send_waits_as_long_as_retry_after_says(project, loopback, receivers):
    hook = receivers("/api/webhooks/42/token",
                     answers=[(429, b'{"message": "You are being rate limited.", "retry_after": 120}',
                               {"Retry-After": "120", "Content-Type": "application/json"})])
    services.channel_create(project, kind="discord", webhook_url=hook.url)
    incident = go_down_and_up(project, up=False)
    delivery = AlertDelivery.objects.get(incident=incident)
    started = timezone.now()
    assert alerts.send(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_error == "status 429: You are being rate limited."
    assert 119 <= (delivery.next_attempt_at - started).total_seconds() < 122


def test_a_webhook_on_a_private_address_is_refused_when_saved(project, settings):
    settings.MONITOR_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationError) as refused:
        services.channel_create(project, kind="slack", webhook_url="https://10.0.0.5/services/T/B/x")
    assert refused.value.message_dict == {"webhook_url": ["outbound policy refused 10.0.0.5: private"]}
    with pytest.raises(ValidationError) as loopback:
        services.channel_create(project, kind="discord", webhook_url="https://127.0.0.1:8443/api/webhooks/1/t")
    assert loopback.value.message_dict == {"webhook_url": ["outbound policy refused 127.0.0.1: loopback"]}
    assert AlertChannel.objects.count() == 0


def test_a_stored_webhook_that_now_points_inside_is_refused_when_sent(project, settings):
    settings.MONITOR_ALLOWED_NETWORKS = []
    settings.REDIS_URL = ""
    # Saved while it was public; its name now resolves to a metadata address, say.
    channel = AlertChannel.objects.create(project=project, kind="slack",
                                          webhook_url_encrypted=crypto.encrypt("https://169.254.169.254/x/y"))
    delivery = services.send_test_alert(channel)
    assert alerts.send(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.last_error == "outbound policy refused 169.254.169.254: link-local (cloud metadata range)"
    channel.refresh_from_db()
    assert channel.last_test_ok_at is None


def test_a_test_alert_that_arrives_marks_the_channel_tested(project, loopback, receivers):
    hook = receivers("/services/T01/B02/sekret")
    channel = services.channel_create(project, kind="slack", webhook_url=hook.url)
    delivery = services.send_test_alert(channel)
    assert (delivery.kind, delivery.incident, delivery.state) == ("test", None, "pending")
    before = timezone.now()
    assert alerts.send(delivery.pk) == "sent"
    channel.refresh_from_db()
    assert before <= channel.last_test_ok_at <= timezone.now()
    assert hook.bodies[0]["text"] == "🔔 Test alert from Launch Ready for Clubhouse"
    assert hook.bodies[0]["blocks"][1]["text"]["text"].endswith(
        f"<https://panel.example/projects/{project.pk}/|Open Clubhouse in Launch Ready>"
    )


def test_an_email_test_alert_is_one_mail(project, loopback):
    channel = services.channel_create(project, kind="email", email="ops@clubhouse.test")
    assert alerts.send(services.send_test_alert(channel).pk) == "sent"
    assert [(m.subject, m.to) for m in mail.outbox] == [
        ("🔔 Test alert from Launch Ready for Clubhouse", ["ops@clubhouse.test"])
    ]


def test_two_claims_of_one_attempt_give_it_to_one(project, loopback):
    channel = services.channel_create(project, kind="email", email="ops@clubhouse.test")
    delivery = services.send_test_alert(channel)
    assert alerts.claim(delivery.pk) == 1
    assert alerts.claim(delivery.pk) is None
    later = timezone.now() + timedelta(seconds=alerts.LEASE_S + 1)
    assert alerts.claim(delivery.pk, now=later) == 2  # a lease not finished in time is taken over
    assert alerts.due_ids(later) == []


def test_the_tick_hands_out_each_due_attempt_once_and_a_taken_over_attempt_sends_nothing(project, loopback):
    channel = services.channel_create(project, kind="email", email="ops@clubhouse.test")
    delivery = services.send_test_alert(channel)
    assert alerts.hand_out() == [(delivery.pk, 1)]
    assert alerts.hand_out() == []  # claimed: not due again until its lease ends
    later = timezone.now() + timedelta(seconds=alerts.LEASE_S + 1)
    assert alerts.hand_out(later) == [(delivery.pk, 2)]  # the first task never ran
    assert alerts.send(delivery.pk, 1) is None  # … and if it runs now, it sends nothing
    assert alerts.send(delivery.pk, 2) == "sent"
    assert len(mail.outbox) == 1
