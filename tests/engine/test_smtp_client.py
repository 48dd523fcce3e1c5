"""The SMTP submission client against hostile and broken servers on loopback: every way a
session fails is an ``SmtpFailure`` with its phase and the server's own reply, within the
profile's timeouts, and the password never shows up in what it reports."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import replace
from email.message import EmailMessage

import pytest

from checks.engine.net.profile import NetworkProfile
from checks.engine.net.session import Net
from checks.engine.net.smtp import SmtpFailure
from checks.engine.spec import SmtpSettings
from checks.sandbox import Sandbox, parse_scenario

PASSWORD = "correct-horse-battery-staple"


class ScriptedServer:
    """A TCP server on 127.0.0.1 that plays ``script(conn)`` for each connection."""

    def __init__(self, script) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.script = script
        self.received: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):  # the client hung up: that is what some tests do
                    self.script(conn, self)

    def read_line(self, conn) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                break
            line += chunk
        self.received.append(line)
        return line

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server():
    servers: list[ScriptedServer] = []

    def start(script) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture(scope="module")
def dns_profile():
    """The sandbox's DNS server, where smtp.shop.test is 127.0.0.1 (the scripted servers')."""
    with Sandbox(parse_scenario({"dns": {"smtp.shop.test": {"A": ["127.0.0.1"]}}})) as sandbox:
        yield sandbox.profile


@pytest.fixture
def profile_for(dns_profile):
    def make(port: int, **overrides) -> NetworkProfile:
        return replace(
            dns_profile, port_map={587: port, 465: port, 25: port}, allowed_networks=("127.0.0.0/8",),
            allowed_ports=(), connect_timeout_s=overrides.pop("connect_timeout_s", 2.0),
            http_timeout_s=overrides.pop("timeout_s", 2.0), **overrides,
        )

    return make


def send(profile: NetworkProfile, **settings) -> SmtpFailure:
    smtp = SmtpSettings(**{"host": "smtp.shop.test", "from_address": "app@shop.test", "username": "app",
                           "password": PASSWORD, **settings})
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "app@shop.test", "x@capture.test", "test"
    message.set_content("hello")
    with Net(profile) as net, pytest.raises(SmtpFailure) as caught:
        net.smtp.send(smtp, [message], envelope_from="app@shop.test")
    assert PASSWORD not in str(caught.value) and PASSWORD not in caught.value.reply
    return caught.value


def ehlo_reply(*extensions: str) -> bytes:
    lines = ["mail.test", *extensions]
    return "".join(f"250{'-' if i < len(lines) - 1 else ' '}{x}\r\n" for i, x in enumerate(lines)).encode()


def test_a_refused_greeting_keeps_the_servers_reply(server, profile_for):
    srv = server(lambda conn, s: conn.sendall(b"554 5.7.1 no service for you\r\n"))
    failure = send(profile_for(srv.port))
    assert (failure.kind, failure.phase) == ("refused", "greeting")
    assert failure.reply == "554 5.7.1 no service for you"
    assert str(failure) == "the server refused the session: 554 5.7.1 no service for you"


def test_a_server_that_never_greets_times_out_in_the_connect_phase(server, profile_for):
    srv = server(lambda conn, s: time.sleep(4))
    started = time.monotonic()
    failure = send(profile_for(srv.port, connect_timeout_s=0.5))
    assert (failure.kind, failure.phase) == ("timeout", "connect")
    assert time.monotonic() - started < 2.5


def test_no_starttls_offered_is_a_tls_failure_listing_what_was_offered(server, profile_for):
    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        s.read_line(conn)
        conn.sendall(ehlo_reply("AUTH PLAIN LOGIN", "SIZE 1000"))
        s.read_line(conn)

    failure = send(profile_for(server(script).port))
    assert (failure.kind, failure.phase) == ("tls", "STARTTLS")
    assert str(failure) == ("the server does not offer STARTTLS: mail and the password would cross the "
                            "network in clear (EHLO offered: auth, size)")


def test_starttls_refused_keeps_the_reply(server, profile_for):
    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        s.read_line(conn)
        conn.sendall(ehlo_reply("STARTTLS"))
        s.read_line(conn)
        conn.sendall(b"454 4.7.0 TLS not available due to local problem\r\n")
        s.read_line(conn)

    failure = send(profile_for(server(script).port))
    assert (failure.kind, failure.phase, failure.reply) == (
        "tls", "STARTTLS", "454 4.7.0 TLS not available due to local problem")


def test_a_password_is_never_sent_without_tls(server, profile_for):
    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        s.read_line(conn)
        conn.sendall(ehlo_reply("AUTH PLAIN LOGIN"))
        s.read_line(conn)

    srv = server(script)
    failure = send(profile_for(srv.port), security="none")
    assert (failure.kind, failure.phase) == ("tls", "AUTH")
    assert not any(b"AUTH" in line for line in srv.received)


def test_an_endless_reply_line_is_a_protocol_failure_not_a_hang(server, profile_for):
    def script(conn, s):
        conn.sendall(b"220 " + b"x" * 20000 + b"\r\n")
        time.sleep(1)

    failure = send(profile_for(server(script).port))
    assert (failure.kind, failure.phase, failure.reply) == ("protocol", "connect", "")
    assert str(failure) == "connect: the server sent a reply line over 8192 bytes"


def test_a_server_that_hangs_up_after_ehlo(server, profile_for):
    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        s.read_line(conn)

    failure = send(profile_for(server(script).port))
    assert (failure.kind, failure.phase) == ("protocol", "EHLO")
    assert str(failure).startswith("EHLO: the server closed the connection (")


def test_a_closed_port_is_a_connect_failure(profile_for):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failure = send(profile_for(port))
    assert (failure.kind, failure.phase) == ("connect", "connect")
    assert str(failure) == "connect failed: Connection refused"


def test_implicit_tls_to_a_plain_server_is_a_tls_failure(server, profile_for):
    srv = server(lambda conn, s: (conn.sendall(b"220 mail.test ESMTP\r\n"), time.sleep(1)))
    failure = send(profile_for(srv.port), security="tls")
    assert (failure.kind, failure.phase) == ("tls", "TLS handshake")
    assert str(failure) == ("TLS handshake failed: the server did not answer with TLS; it may expect "
                            "STARTTLS (usually port 587) rather than implicit TLS")


def test_the_outbound_policy_refuses_loopback_outside_the_sandbox(dns_profile):
    profile = replace(dns_profile, port_map={587: 1}, allowed_networks=())
    with Net(profile) as net:
        failure = send(profile)
        assert net.counters()["smtp_connections"] == 0
    assert (failure.kind, failure.phase) == ("policy", "connect")
    assert str(failure) == "outbound policy refused 127.0.0.1: loopback"


def test_settings_never_show_the_password():
    smtp = SmtpSettings(host="smtp.example.com", from_address="a@example.com", username="u",
                        password=PASSWORD)
    assert PASSWORD not in repr(smtp) and PASSWORD not in str(smtp)
