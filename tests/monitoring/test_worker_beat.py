"""Monitoring end to end, as in production: a real ``celery worker`` and two ``celery beat``
processes at once, on Redis and PostgreSQL. A loopback site goes down and comes back; the
incident opens and closes; one Slack-format and one Discord-format alert reach loopback
webhook receivers and one mail reaches a loopback SMTP server, for each state change — no
more, though two beats hand out the same monitors every second."""

from __future__ import annotations

import email
import os
import signal
import socket
import subprocess
import sys
import time
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from checks.models import AlertDelivery, Incident, Monitor, Probe
from checks.monitoring import services
from launchready.celery import app
from tests.conftest import REPO
from tests.monitoring.support import Receiver

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (make test sets it)"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker shares the test database"),
]


class _Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "launchready", *args],
                            cwd=REPO, env=env, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def celery_env(smtp, tmp_path):
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "MONITOR_ALLOWED_NETWORKS": "127.0.0.0/8",
        "MONITOR_TICK_S": "1",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "DEFAULT_FROM_EMAIL": "Launch Ready <alerts@launchready.test>",
        "SITE_URL": "https://panel.example",
    }


@pytest.fixture
def worker_and_two_beats(celery_env, tmp_path):
    app.control.purge()
    worker = _spawn(["worker", "-l", "warning", "--concurrency", "2", "-n", f"monitor-{os.getpid()}@%h",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"], celery_env)
    beats = [
        _spawn(["beat", "-l", "warning", "-s", str(tmp_path / f"beat-{n}"),
                "--pidfile", str(tmp_path / f"beat-{n}.pid")], celery_env)
        for n in (1, 2)
    ]
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        assert worker.poll() is None, "the worker exited while starting"
        assert time.monotonic() < deadline, "the worker did not answer a ping within 60 s"
    yield worker, beats
    for process in (*beats, worker):
        _stop(process)
    app.control.purge()


def wait_for(predicate, timeout_s: float = 60.0, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"still waiting after {timeout_s} s: {what}")


def test_an_outage_reaches_slack_discord_and_email_once_and_its_end_once(
    project, site, smtp, settings, worker_and_two_beats
):
    settings.MONITOR_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    slack_hook = Receiver("/services/T0001/B0002/sekret")
    discord_hook = Receiver("/api/webhooks/1234/t0ken", success_status=204)
    try:
        services.channel_create(project, kind="slack", webhook_url=slack_hook.url)
        services.channel_create(project, kind="discord", webhook_url=discord_hook.url)
        services.channel_create(project, kind="email", email="ops@clubhouse.test")
        watched = services.monitor_create(project, url=site.url, name="Homepage", keyword="Welcome")
        # Faster than the pages allow (30 s at least): the test has no minutes to spare.
        Monitor.objects.filter(pk=watched.pk).update(interval_s=2, timeout_s=1.5)

        wait_for(lambda: Monitor.objects.filter(pk=watched.pk, state="up").exists(), what="the first probe")
        site.set("down")
        went_down = time.monotonic()
        incident = wait_for(lambda: Incident.objects.filter(monitor=watched).first(), what="the incident")
        sent = AlertDelivery.objects.filter(state="sent")
        wait_for(lambda: sent.filter(kind="down").count() == 3, what="down alerts")
        alerted_after_s = time.monotonic() - went_down
        site.set("up")
        closed = Incident.objects.filter(pk=incident.pk, closed_at__isnull=False)
        wait_for(closed.exists, what="closing")
        wait_for(lambda: sent.filter(kind="up").count() == 3, what="up alerts")
        time.sleep(4)  # eight more ticks of two beats: nothing more may happen

        for beat in worker_and_two_beats[1]:
            assert beat.poll() is None, "a beat process stopped"
        assert alerted_after_s < 120
        assert [(e.kind, e.reason.split(" in ")[0]) for e in incident.events.all()] == [
            ("opened", "status 503, expected 200"), ("closed", "status 200"),
        ]
        assert Incident.objects.count() == 1
        assert sorted(AlertDelivery.objects.values_list("channel__kind", "kind", "state", "attempts")) == [
            ("discord", "down", "sent", 1), ("discord", "up", "sent", 1),
            ("email", "down", "sent", 1), ("email", "up", "sent", 1),
            ("slack", "down", "sent", 1), ("slack", "up", "sent", 1),
        ]
        assert [b["text"].split(" after ")[0] for b in slack_hook.bodies] == [
            "🔴 DOWN: Homepage of Clubhouse: status 503, expected 200",
            "✅ UP: Homepage of Clubhouse is up again",
        ]
        assert [b["embeds"][0]["title"] for b in discord_hook.bodies] == [
            "Homepage is down", "Homepage is up again",
        ]
        assert [b["allowed_mentions"] for b in discord_hook.bodies] == [{"parse": []}] * 2
        # Django folds a long encoded subject onto its next line; the parser keeps that fold's space.
        assert [(m["To"], m["Subject"].strip().split(" after ")[0]) for m in smtp.messages] == [
            ("ops@clubhouse.test", "🔴 DOWN: Homepage of Clubhouse: status 503, expected 200"),
            ("ops@clubhouse.test", "✅ UP: Homepage of Clubhouse is up again"),
        ]
        twice = Probe.objects.values("monitor_id", "due_at").annotate(n=Count("id")).filter(n__gt=1)
        assert list(twice) == []  # never two probes for one due time
        lags = [(p.at - p.due_at).total_seconds() for p in Probe.objects.all()]
        # At least up, down, up and one probe in the last 4 s; how many more fit depends on how
        # busy the machine is. Each on time, and still running at the end (below).
        assert len(lags) >= 4 and max(lags) < 5
        assert timezone.now() - Probe.objects.latest("at").at < timezone.timedelta(seconds=5)
    finally:
        slack_hook.stop()
        discord_hook.stop()
