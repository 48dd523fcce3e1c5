"""Attacks on monitoring (issue 6): SSRF through monitor and webhook URLs, hostile monitored
endpoints (endless body, slow loris, redirect loops), and secrets in monitor URLs. Real
servers on loopback; the outbound policy is the production one unless a test says otherwise."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from django.core.exceptions import ValidationError

from checks.monitoring import services
from checks.monitoring.network import monitor_profile
from checks.monitoring.probe import ProbeTarget, probe_all


class RawServer:
    """A TCP server on ``host`` that runs ``behave(conn)`` for each connection; counts them."""

    def __init__(self, behave, host: str = "127.0.0.1") -> None:
        self.behave, self.hits, self._stop = behave, 0, False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.host, self.port = host, self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        try:
            conn.recv(65536)
            self.behave(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop = True
        self.sock.close()


def ok(conn) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def run(profile, *targets: ProbeTarget):
    return asyncio.run(probe_all(profile, list(targets), concurrency=8))


@pytest.fixture
def victim():
    server = RawServer(ok)
    yield server
    server.stop()


# --- SSRF: production policy (MONITOR_ALLOWED_NETWORKS empty) --------------------------------


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.1", "0.0.0.0", "2130706433", "0x7f000001", "[::1]", "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]",
])
def test_a_monitor_of_a_loopback_address_never_reaches_it(settings, victim, host):
    settings.MONITOR_ALLOWED_NETWORKS = []
    [outcome] = run(monitor_profile(), ProbeTarget(0, f"http://{host}:{victim.port}/", timeout_s=2))
    assert outcome.ok is False
    assert victim.hits == 0
    assert outcome.error  # a reason is recorded


@pytest.mark.parametrize("host", ["169.254.169.254", "10.0.0.1", "192.168.1.1", "100.64.0.1", "[fd00::1]",
                                  "[fe80::1]", "[::ffff:169.254.169.254]", "[64:ff9b::a9fe:a9fe]"])
def test_a_monitor_of_a_private_address_is_refused_by_the_policy(settings, host):
    settings.MONITOR_ALLOWED_NETWORKS = []
    [outcome] = run(monitor_profile(), ProbeTarget(0, f"http://{host}/", timeout_s=2))
    assert outcome.ok is False
    assert outcome.error.startswith("outbound policy refused"), outcome.error


def test_a_redirect_from_an_allowed_host_to_a_private_one_is_refused(settings, victim):
    # 127.0.0.2 stands for a public host (allowed); it redirects to the machine's loopback.
    bouncer = RawServer(lambda c: c.sendall(
        f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{victim.port}/\r\n"
        "Content-Length: 0\r\n\r\n".encode()),
        host="127.0.0.2")
    try:
        settings.MONITOR_ALLOWED_NETWORKS = ["127.0.0.2/32"]
        [outcome] = run(monitor_profile(), ProbeTarget(0, f"http://127.0.0.2:{bouncer.port}/", timeout_s=2))
    finally:
        bouncer.stop()
    assert (outcome.ok, victim.hits) == (False, 0)
    assert outcome.error == "outbound policy refused 127.0.0.1: loopback"


def test_a_redirect_to_an_ipv4_mapped_loopback_is_refused(settings, victim):
    bouncer = RawServer(lambda c: c.sendall(
        f"HTTP/1.1 301 Moved\r\nLocation: http://[::ffff:127.0.0.1]:{victim.port}/\r\n"
        "Content-Length: 0\r\n\r\n".encode()), host="127.0.0.2")
    try:
        settings.MONITOR_ALLOWED_NETWORKS = ["127.0.0.2/32"]
        [outcome] = run(monitor_profile(), ProbeTarget(0, f"http://127.0.0.2:{bouncer.port}/", timeout_s=2))
    finally:
        bouncer.stop()
    assert (outcome.ok, victim.hits) == (False, 0)
    assert "outbound policy refused" in outcome.error


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/services/T0/B0/x", "https://169.254.169.254/latest/meta-data/",
    "https://10.1.2.3/hook", "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:a9fe:a9fe]/hook", "https://0.0.0.0/hook", "https://user:pw@hooks.slack.com/services/T/B/x",
    "http://hooks.slack.com/services/T/B/x", "ftp://hooks.slack.com/x",
])
def test_webhook_urls_to_private_places_are_refused_without_echoing_them(settings, url):
    settings.MONITOR_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationError) as refused:
        services.validate_webhook_url("slack", url)
    assert url not in " ".join(refused.value.messages)


# --- hostile monitored endpoints -------------------------------------------------------------


def endless_body(conn) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(100_000):  # ~6.5 GB if nobody stops reading
        conn.sendall(chunk)


def endless_chunked(conn) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(100_000):
        conn.sendall(b"10000\r\n" + b"y" * 0x10000 + b"\r\n")


def slow_loris_head(conn) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Drip: " + b"a" * 1000:
        conn.sendall(bytes([byte]))
        time.sleep(0.2)


def slow_loris_body(conn) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(1000):
        conn.sendall(b"z")
        time.sleep(0.2)


def endless_headers(conn) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for i in range(1_000_000):
        conn.sendall(f"X-H{i}: {'v' * 100}\r\n".encode())


def redirect_to_self(conn) -> None:
    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n")


_counter = iter(range(10**9))


def redirect_onwards(conn) -> None:
    conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: /r/{next(_counter)}\r\nContent-Length: 0\r\n\r\n".encode())


@pytest.mark.parametrize("behave, keyword, error", [
    (endless_body, "Welcome", "keyword 'Welcome' missing"),
    (endless_body, "", ""),
    (endless_chunked, "Welcome", "keyword 'Welcome' missing"),
    (slow_loris_head, "", "timeout after 2 s"),
    (slow_loris_body, "Welcome", "timeout after 2 s"),
    (redirect_to_self, "", "redirect loop"),
    (redirect_onwards, "", "status 302, expected 200"),
])
def test_a_hostile_endpoint_cannot_hold_a_probe_past_its_timeout(loopback, behave, keyword, error):
    server = RawServer(behave)
    try:
        started = time.monotonic()
        [outcome] = run(monitor_profile(), ProbeTarget(0, f"http://127.0.0.1:{server.port}/", timeout_s=2,
                                                       keyword=keyword))
        took_s = time.monotonic() - started
    finally:
        server.stop()
    assert took_s < 3.0
    assert (outcome.ok, outcome.error) == (error == "", error)


def test_endless_headers_are_a_clear_protocol_error_within_the_timeout(loopback):
    server = RawServer(endless_headers)
    try:
        started = time.monotonic()
        [outcome] = run(monitor_profile(), ProbeTarget(0, f"http://127.0.0.1:{server.port}/", timeout_s=2))
        took_s = time.monotonic() - started
    finally:
        server.stop()
    assert took_s < 3.0
    assert outcome.ok is False
    assert outcome.error  # h11's header limit or the deadline, said in words


# --- hostile monitor fields --------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("interval_s", 0), ("interval_s", 29), ("interval_s", 3601), ("interval_s", 10**30),
    ("interval_s", "nan"), ("timeout_s", 10**9), ("timeout_s", float("inf")), ("timeout_s", float("nan")),
    ("timeout_s", 0), ("keyword", "k" * 201), ("keyword", "a\r\nb"), ("down_after", 0),
    ("expected_status", 99), ("method", "POST"), ("method", "DELETE"),
])
def test_hostile_monitor_values_are_refused(project, field, value):
    with pytest.raises(ValidationError) as refused:
        services.monitor_create(project, url="https://www.clubhouse.test/", **{field: value})
    assert field in refused.value.message_dict


@pytest.mark.parametrize("url", [
    "https://admin:hunter2-secret@www.clubhouse.test/",
    "https://deploy-token@www.clubhouse.test/health",
])
def test_a_monitor_url_with_credentials_is_refused(project, url):
    """A password in a monitor URL would be shown on the dashboard, in the handover PDF and in
    alerts (the monitor's name defaults to its host and path, its URL is listed)."""
    with pytest.raises(ValidationError) as refused:
        services.monitor_create(project, url=url)
    assert "url" in refused.value.message_dict


@pytest.mark.parametrize(("url", "reason"), [
    ("http://169.254.169.254/latest/meta-data/",
     "outbound policy refused 169.254.169.254: link-local (cloud metadata range)"),
    ("http://10.0.0.5/health", "outbound policy refused 10.0.0.5: private"),
    ("http://[::1]/", "outbound policy refused ::1: loopback"),
])
def test_a_monitor_on_an_address_the_policy_refuses_is_refused_when_saved(project, url, reason):
    with pytest.raises(ValidationError) as refused:
        services.monitor_create(project, url=url)
    assert refused.value.message_dict["url"] == [reason]
