"""Attacks on ``manage.py mail_capture``, the production capture server: it listens on the
internet for the capture domain and writes what it takes into Redis, so anyone can send it
mail. Each test pins one way it was attacked (the weak ones were fixed)."""

from __future__ import annotations

import os
import smtplib
import socket
import threading
from io import StringIO

import pytest
import redis
from django.core.management import call_command

from checks.engine.email.mailbox import RedisMailbox
from checks.management.commands.mail_capture import Command

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (make test sets it)")

DOMAIN = "capture.launchready.test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kept_keys(store: redis.Redis) -> list[bytes]:
    return list(store.scan_iter(match=RedisMailbox.PREFIX + "*", count=1000))


@pytest.fixture
def store(settings):
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in kept_keys(client):
        client.delete(key)
    yield client
    for key in kept_keys(client):
        client.delete(key)


@pytest.fixture
def capture(settings, store):
    settings.MAIL_CAPTURE_DOMAIN = DOMAIN
    port = free_port()
    command = Command()
    thread = threading.Thread(
        target=call_command, args=(command, "--host", "127.0.0.1", "--port", str(port)),
        kwargs={"stdout": StringIO()}, daemon=True,
    )
    thread.start()
    assert command.ready.wait(10)
    yield port
    command.stop.set()
    thread.join(10)


def test_one_message_to_a_thousand_capture_addresses_is_not_kept_a_thousand_times(capture, store):
    """Guards against: RCPT TO is unlimited and ``CaptureHandler.handle_DATA`` stores the whole
    message once per recipient (base64 in JSON: 1.33× its size), for an hour. One anonymous
    1 MB message to 10,000 addresses is ~13 GB of Redis — the same Redis as Celery's broker.
    A test run sends four messages of one recipient each; RFC 5321 §4.5.3.1.8 allows a server
    to answer 452 past its own limit."""
    accepted = 0
    with smtplib.SMTP("127.0.0.1", capture, local_hostname="flood.test", timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("flood@attacker.test")
        for n in range(1000):
            code, _ = smtp.rcpt(f"lr-{n:012x}-welcome@{DOMAIN}")
            accepted += code == 250
        smtp.data(b"Subject: flood\r\n\r\n" + (b"x" * 998 + b"\r\n") * 10)

    assert accepted <= 4
    assert len(kept_keys(store)) <= 4


@pytest.mark.parametrize("local", ["anything", "lr-not-hex-welcome", "lr-0123456789ab-unknown-kind"])
def test_an_address_that_no_test_run_ever_uses_is_refused(capture, store, local):
    """Guards against: every local part of the capture domain is taken and kept; only
    ``lr-<12 hex>-<kind>`` is ever sent to (``testmails.capture_address``). (postmaster must
    still be accepted, RFC 5321 §4.5.1 — and need not be kept.)"""
    with smtplib.SMTP("127.0.0.1", capture, local_hostname="spam.test", timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("spam@attacker.test")
        code, _ = smtp.rcpt(f"{local}@{DOMAIN}")

    assert code == 550
    assert kept_keys(store) == []


def test_a_second_message_to_the_same_address_does_not_replace_the_first(capture, store, settings):
    """Guards against: ``RedisMailbox.deliver`` is a plain SET: whoever knows a run's address
    (the provider, anyone on the path — the capture server offers no STARTTLS) can replace the
    message under test with one from another peer before the check reads it."""
    address = f"lr-0123456789ab-welcome@{DOMAIN}"
    for helo, subject in (("provider.test", b"real"), ("forger.test", b"forged")):
        with smtplib.SMTP("127.0.0.1", capture, local_hostname=helo, timeout=10) as smtp:
            smtp.sendmail("a@app.test", [address], b"Subject: " + subject + b"\r\n\r\nbody\r\n")

    kept = RedisMailbox(settings.REDIS_URL).wait_for([address], timeout_s=2)[address]
    assert kept.helo == "provider.test"


def test_mail_for_another_domain_or_a_subdomain_stores_nothing(capture, store):
    with smtplib.SMTP("127.0.0.1", capture, local_hostname="x.test", timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("a@attacker.test")
        assert smtp.rcpt("victim@elsewhere.test")[0] == 550
        assert smtp.rcpt(f"x@sub.{DOMAIN}")[0] == 550
    assert kept_keys(store) == []
