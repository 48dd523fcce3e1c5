"""``manage.py mail_capture``: the capture server on loopback takes mail for the capture domain
only and hands it to the audit workers through Redis; the production network profile points
email.transactional at it when MAIL_CAPTURE_DOMAIN and REDIS_URL are set."""

from __future__ import annotations

import os
import smtplib
import socket
import threading
from email.message import EmailMessage
from io import StringIO

import pytest
import redis
from django.core.management import call_command
from django.core.management.base import CommandError

from checks.engine.email.mailbox import MAX_MESSAGE_BYTES, RedisMailbox
from checks.management.commands.mail_capture import Command
from checks.network import production_profile

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (make test sets it)")

DOMAIN = "capture.launchready.test"
RECIPIENT = "lr-4f2a9c0d1e2b-welcome@capture.launchready.test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def capture(settings):
    """The command's server on 127.0.0.1:<free port>, in a thread; yields the port."""
    settings.MAIL_CAPTURE_DOMAIN = DOMAIN
    store = redis.Redis.from_url(settings.REDIS_URL)
    store.delete(RedisMailbox.PREFIX + RECIPIENT)
    port = free_port()
    command, out = Command(), StringIO()
    thread = threading.Thread(
        target=call_command, args=(command, "--host", "127.0.0.1", "--port", str(port)),
        kwargs={"stdout": out}, daemon=True,
    )
    thread.start()
    assert command.ready.wait(10), "the capture server did not start within 10 s"
    yield port
    command.stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert out.getvalue() == (
        f"Capturing mail for {DOMAIN} on 127.0.0.1:{port} (Ctrl-C stops).\nCapture server stopped.\n"
    )
    store.delete(RedisMailbox.PREFIX + RECIPIENT)


def test_a_mail_for_the_capture_domain_is_kept_in_redis_with_what_the_receiver_saw(capture, settings):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "hello@app.test", RECIPIENT, "Welcome"
    message.set_content("Welcome aboard.")

    with smtplib.SMTP("127.0.0.1", capture, local_hostname="smtp-out.provider.test", timeout=10) as smtp:
        refused = smtp.send_message(message, from_addr="bounces@app.test", to_addrs=[RECIPIENT])

    assert refused == {}
    kept = RedisMailbox(settings.REDIS_URL).wait_for([RECIPIENT], timeout_s=5)
    assert list(kept) == [RECIPIENT]
    mail = kept[RECIPIENT]
    assert (mail.recipient, mail.peer_ip, mail.helo, mail.mail_from) == (
        RECIPIENT, "127.0.0.1", "smtp-out.provider.test", "bounces@app.test"
    )
    assert b"Subject: Welcome\r\n" in mail.data and mail.data.endswith(b"Welcome aboard.\r\n")
    ttl_s = redis.Redis.from_url(settings.REDIS_URL).ttl(RedisMailbox.PREFIX + RECIPIENT)
    assert 3590 <= ttl_s <= 3600


def test_mail_for_another_domain_is_refused_at_rcpt(capture):
    with smtplib.SMTP("127.0.0.1", capture, timeout=10) as smtp:
        smtp.ehlo("client.test")
        smtp.mail("someone@app.test")
        code, reply = smtp.rcpt("victim@elsewhere.test")

    assert (code, reply) == (
        550, b"5.1.1 <victim@elsewhere.test>: no such test address at capture.launchready.test"
    )


def test_a_message_over_the_size_limit_is_refused(capture):
    with smtplib.SMTP("127.0.0.1", capture, timeout=10) as smtp:
        smtp.ehlo("client.test")
        assert smtp.esmtp_features["size"] == str(MAX_MESSAGE_BYTES)  # announced (RFC 1870)
        smtp.mail("someone@app.test")
        smtp.rcpt(RECIPIENT)
        code, _ = smtp.data(b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n" + (b"y" * 998 + b"\r\n") * 1100)

    assert code == 552


@pytest.mark.parametrize(
    ("domain", "has_redis", "message"),
    [
        ("", True, "set MAIL_CAPTURE_DOMAIN: the domain whose mail this server receives"),
        (DOMAIN, False, "set REDIS_URL: the audit workers read the captured mail from Redis"),
        ("bad domain.test", True, "MAIL_CAPTURE_DOMAIN: 'bad domain.test' contains a space"),
    ],
)
def test_the_command_refuses_to_start_without_what_it_needs(settings, domain, has_redis, message):
    settings.MAIL_CAPTURE_DOMAIN = domain
    if not has_redis:
        settings.REDIS_URL = ""
    with pytest.raises(CommandError) as caught:
        call_command("mail_capture", "--port", str(free_port()))
    assert str(caught.value) == message


def test_the_command_says_when_its_port_is_taken(settings):
    settings.MAIL_CAPTURE_DOMAIN = DOMAIN
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=rf"^cannot listen on 127\.0\.0\.1:{port}: "):
            call_command("mail_capture", "--port", str(port))


def test_the_production_profile_reads_the_capture_mailbox_only_when_configured(settings):
    settings.MAIL_CAPTURE_DOMAIN = ""
    profile = production_profile()
    assert (profile.mail_capture_domain, profile.mailbox) == ("", None)

    settings.MAIL_CAPTURE_DOMAIN = DOMAIN
    profile = production_profile()
    assert profile.mail_capture_domain == DOMAIN
    assert isinstance(profile.mailbox, RedisMailbox)

    settings.REDIS_URL = ""
    assert (production_profile().mail_capture_domain, production_profile().mailbox) == ("", None)
