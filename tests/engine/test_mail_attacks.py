"""Attacks on the transactional mail test (issue 4), engine side: hostile SMTP servers at the
project's user-typed SMTP host, hostile mail judged by ``judge_received`` and hostile project
names in the test mails. Real servers on loopback; each test pins one way the change was
attacked, and what it must do (the weak ones were fixed)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import socket
import ssl
import threading
import time
from dataclasses import replace
from email.message import EmailMessage

import pytest
import trustme

from checks.engine.audit import spec_from_dict
from checks.engine.email.mailbox import CapturedMessage
from checks.engine.email.received import judge_received
from checks.engine.email.testmails import compose
from checks.engine.net.profile import NetworkProfile
from checks.engine.net.session import Net
from checks.engine.net.smtp import SmtpFailure
from checks.engine.registry import Context, all_checks
from checks.engine.spec import SmtpSettings
from checks.sandbox import Sandbox, load_scenario, parse_scenario
from tests.conftest import SCENARIOS

PASSWORD = "Zq7-attack-secret-0xBADC0DE"
HOST = "smtp.shop.test"
CHECK = {c.id: c for c in all_checks()}["email.transactional"]


# --- scripted servers ----------------------------------------------------------------------


class Scripted:
    """A TCP server on 127.0.0.1 playing ``script(conn, server)`` on each connection, in its
    own thread. ``stop`` is set at teardown: endless scripts watch it and end."""

    def __init__(self, script, tls: ssl.SSLContext | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.script, self.tls = script, tls
        self.received: list[bytes] = []
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with contextlib.suppress(OSError, ssl.SSLError):
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                with conn:
                    conn.settimeout(5)
                    self.script(conn, self)

    def line(self, conn) -> bytes:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                break
            data += chunk
        self.received.append(data)
        return data

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def server():
    started: list[Scripted] = []

    def start(script, tls: ssl.SSLContext | None = None) -> Scripted:
        started.append(Scripted(script, tls))
        return started[-1]

    yield start
    for s in started:
        s.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *names: str, **validity) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*(names or (HOST,)), **validity).configure_cert(context)
    return context


@pytest.fixture(scope="module")
def dns_sandbox():
    zone = {
        HOST: {"A": ["127.0.0.1"]},
        "private-first.shop.test": {"A": ["10.0.0.7", "127.0.0.1"]},
        "metadata.shop.test": {"A": ["169.254.169.254"]},
    }
    with Sandbox(parse_scenario({"dns": zone})) as sandbox:
        yield sandbox


@pytest.fixture
def profile_for(dns_sandbox, ca):
    def make(port: int, **overrides) -> NetworkProfile:
        return replace(
            dns_sandbox.profile, port_map={587: port, 465: port, 25: port}, allowed_networks=("127.0.0.0/8",),
            allowed_ports=(), extra_ca_pem=ca.cert_pem.bytes().decode("ascii"),
            connect_timeout_s=overrides.pop("connect_timeout_s", 2.0),
            http_timeout_s=overrides.pop("timeout_s", 2.0), **overrides,
        )

    return make


def settings(**overrides) -> SmtpSettings:
    return SmtpSettings(**{"host": HOST, "from_address": "app@shop.test", "username": "app",
                           "password": PASSWORD, **overrides})


def mail() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "app@shop.test", "x@capture.test", "test"
    message.set_content("hello")
    return message


def attempt(profile: NetworkProfile, smtp: SmtpSettings, budget_s: float) -> tuple[object, float]:
    """Run one session in a thread; ``(outcome, elapsed_s)`` where outcome is the
    ``SmtpSession``, the exception raised, or ``"still running"`` after ``budget_s``."""
    box: list[object] = []
    started = time.monotonic()

    def go() -> None:
        try:
            with Net(profile) as net:
                box.append(net.smtp.send(smtp, [mail()], envelope_from="app@shop.test"))
        except BaseException as exc:  # noqa: BLE001 - reported to the test as the outcome
            box.append(exc)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(budget_s)
    return (box[0] if box else "still running"), time.monotonic() - started


def ehlo_reply(*extensions: str) -> bytes:
    lines = ["mail.test", *extensions]
    return "".join(f"250{'-' if i < len(lines) - 1 else ' '}{x}\r\n" for i, x in enumerate(lines)).encode()


def accept_everything(conn, s: Scripted, extensions=("AUTH PLAIN",), auth_reply=b"235 2.7.0 ok\r\n") -> None:
    """A submission server that takes the session to its end (used under implicit TLS)."""
    conn.sendall(b"220 mail.test ESMTP\r\n")
    while not s.stop.is_set():
        line = s.line(conn)
        if not line:
            return
        verb = line[:4].upper()
        if verb == b"EHLO":
            conn.sendall(ehlo_reply(*extensions))
        elif verb == b"AUTH":
            conn.sendall(auth_reply(line) if callable(auth_reply) else auth_reply)
        elif verb == b"DATA":
            conn.sendall(b"354 go on\r\n")
            while s.line(conn) not in (b".\r\n", b""):
                pass
            conn.sendall(b"250 2.0.0 queued\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            return
        else:
            conn.sendall(b"250 ok\r\n")


# --- 3. hostile SMTP servers: time and memory ------------------------------------------------


def test_an_endless_multiline_ehlo_reply_is_cut_off(server, profile_for):
    """Guards against: smtplib's getreply() reads continuation lines ("250-") with no limit on their
    number, so a server streaming them keeps the audit thread (and its memory) forever."""
    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        s.line(conn)
        while not s.stop.is_set():
            conn.sendall(b"250-X-PADDING " + b"p" * 200 + b"\r\n")

    srv = server(script)
    outcome, elapsed_s = attempt(profile_for(srv.port), settings(), budget_s=10)
    srv.close()  # let a still-running session end

    assert isinstance(outcome, SmtpFailure), f"after {elapsed_s:.0f} s: {outcome!r}"
    assert (outcome.kind, outcome.phase) == ("protocol", "EHLO")


def test_thousands_of_ehlo_extensions_do_not_become_the_summary(server, profile_for):
    """Guards against: without STARTTLS the failure lists every extension offered (``", ".join(
    smtp.esmtp_features)``), and a session that succeeds keeps them all in its evidence: 3,000
    made-up keywords make a 200 kB one-line summary (shown on the project page, in the PDF)."""
    extensions = [f"X-{n:04d}-" + "k" * 60 for n in range(3000)]

    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        s.line(conn)
        conn.sendall(ehlo_reply(*extensions))
        s.line(conn)

    outcome, _ = attempt(profile_for(server(script).port), settings(), budget_s=8)
    assert isinstance(outcome, SmtpFailure)
    assert (outcome.kind, outcome.phase) == ("protocol", "EHLO")  # 3,001 lines: cut off at 100
    assert str(outcome) == "EHLO: the server sent a reply over 100 lines or 64000 bytes"


def test_a_server_trickling_a_byte_at_a_time_cannot_hold_the_session_for_hours(server, profile_for):
    """Guards against: the socket timeout bounds each recv(), not the session: a greeting trickled a
    byte every 0.3 s never times out (8192 bytes × 0.3 s ≈ 41 min for one line; the same for
    every reply after it). The check's 150 s only marks the unit late in the runner; the
    thread, its socket and the SMTP session go on."""
    def script(conn, s):
        conn.sendall(b"220 ")
        while not s.stop.is_set():
            conn.sendall(b"x")
            time.sleep(0.3)

    srv = server(script)
    profile = profile_for(srv.port, timeout_s=1.0, connect_timeout_s=1.0, smtp_session_timeout_s=5.0)
    outcome, elapsed_s = attempt(profile, settings(), budget_s=15)
    srv.close()

    assert isinstance(outcome, SmtpFailure), f"after {elapsed_s:.0f} s: {outcome!r}"
    assert (outcome.kind, str(outcome)) == ("timeout", "connect: the session took over 5 s")
    assert elapsed_s < 7


def test_a_timeout_after_the_greeting_is_the_one_the_failure_names(server, profile_for):
    """Guards against: ``_connect`` sets ``smtp.timeout = http_timeout_s`` after connecting, but the
    socket keeps the connect timeout it was created with: EHLO times out after 0.5 s and the
    failure says 3 s."""
    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        s.line(conn)
        s.stop.wait(5)

    srv = server(script)
    outcome, elapsed_s = attempt(profile_for(srv.port, connect_timeout_s=0.5, timeout_s=3.0), settings(),
                                 budget_s=8)

    assert isinstance(outcome, SmtpFailure), outcome
    assert str(outcome) == "EHLO: no answer from the server within 3 s"
    assert elapsed_s >= 2.9, f"timed out after {elapsed_s:.1f} s, not 3 s"


# --- 3. hostile SMTP servers: TLS --------------------------------------------------------------


def starttls_then(payload_after_220):
    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        s.line(conn)
        conn.sendall(ehlo_reply("STARTTLS", "AUTH PLAIN"))
        s.line(conn)
        payload_after_220(conn, s)
    return script


def test_starttls_answered_then_garbage_is_a_tls_failure(server, profile_for):
    def garbage(conn, s):
        conn.sendall(b"220 go ahead\r\n")
        time.sleep(0.2)  # apart from the 220: the TLS handshake reads it
        conn.sendall(b"\x00garbage" * 100)
        s.stop.wait(3)

    srv = server(starttls_then(garbage))
    outcome, _ = attempt(profile_for(srv.port), settings(), budget_s=8)
    assert isinstance(outcome, SmtpFailure)
    assert (outcome.kind, outcome.phase) == ("tls", "STARTTLS")
    assert not any(b"AUTH" in line for line in srv.received)


def test_plaintext_pipelined_after_the_starttls_220_is_not_read_as_tls_or_as_a_reply(server, profile_for):
    """Bytes sent with the 220 (a STARTTLS injection, CVE-2011-0411 style) stay in smtplib's
    discarded plain-text buffer: the handshake then waits for a ServerHello that never comes."""
    srv = server(starttls_then(lambda conn, s: (conn.sendall(b"220 go ahead\r\n250 injected\r\n"),
                                                s.stop.wait(3))))
    outcome, _ = attempt(profile_for(srv.port), settings(), budget_s=8)
    assert isinstance(outcome, SmtpFailure)
    assert (outcome.kind, outcome.phase) == ("timeout", "STARTTLS")
    assert not any(b"AUTH" in line for line in srv.received)


@pytest.mark.parametrize(("names", "validity", "verify_message"), [
    (("smtp.shop.test",), {"not_after": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}, "certificate has expired"),
    (("other.test",), {}, "Hostname mismatch, certificate is not valid for 'smtp.shop.test'."),
])
def test_a_bad_certificate_after_starttls_is_a_tls_failure_and_no_password_is_sent(
    server, profile_for, ca, names, validity, verify_message
):
    context = server_context(ca, *names, **validity)

    def after(conn, s):
        conn.sendall(b"220 go ahead\r\n")
        with contextlib.suppress(OSError, ssl.SSLError):
            tls = context.wrap_socket(conn, server_side=True)
            s.line(tls)

    srv = server(starttls_then(after))
    outcome, _ = attempt(profile_for(srv.port), settings(), budget_s=8)
    assert isinstance(outcome, SmtpFailure)
    assert (outcome.kind, outcome.phase) == ("tls", "STARTTLS")
    assert str(outcome) == f"STARTTLS: certificate not trusted: {verify_message}"


def test_a_self_signed_certificate_under_implicit_tls_is_a_tls_failure(server, profile_for):
    stranger = trustme.CA()  # not the CA the profile trusts
    srv = server(accept_everything, tls=server_context(stranger))
    outcome, _ = attempt(profile_for(srv.port), settings(security="tls"), budget_s=8)
    assert isinstance(outcome, SmtpFailure)
    assert (outcome.kind, outcome.phase) == ("tls", "TLS handshake")
    assert str(outcome).startswith("TLS handshake: certificate not trusted: ")


# --- 3. hostile SMTP servers: the transaction --------------------------------------------------


def test_rcpt_accepted_but_data_refused_is_refused_with_the_reply(server, profile_for, ca):
    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        while (line := s.line(conn)) and not s.stop.is_set():
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(ehlo_reply("AUTH PLAIN"))
            elif verb == b"AUTH":
                conn.sendall(b"235 ok\r\n")
            elif verb == b"DATA":
                conn.sendall(b"554 5.7.1 message content refused\r\n")
            else:
                conn.sendall(b"250 ok\r\n")

    srv = server(script, tls=server_context(ca))
    outcome, _ = attempt(profile_for(srv.port), settings(security="tls"), budget_s=8)
    assert isinstance(outcome, SmtpFailure)
    assert (outcome.kind, outcome.phase, outcome.reply) == (
        "refused", "MAIL", "554 5.7.1 message content refused")


def test_a_server_closing_mid_data_is_a_protocol_failure(server, profile_for, ca):
    def script(conn, s):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        while (line := s.line(conn)) and not s.stop.is_set():
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(ehlo_reply("AUTH PLAIN"))
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                s.line(conn)
                return  # hang up in the middle of the message
            else:
                conn.sendall(b"235 ok\r\n" if verb == b"AUTH" else b"250 ok\r\n")

    srv = server(script, tls=server_context(ca))
    outcome, _ = attempt(profile_for(srv.port), settings(security="tls"), budget_s=8)
    assert isinstance(outcome, SmtpFailure)
    assert (outcome.kind, outcome.phase) == ("protocol", "MAIL")


def test_a_username_with_a_line_break_injects_no_smtp_command(server, profile_for, ca):
    srv = server(accept_everything, tls=server_context(ca))
    outcome, _ = attempt(profile_for(srv.port), settings(security="tls", username="app\r\nRSET"), budget_s=8)
    assert not isinstance(outcome, BaseException), outcome
    verbs = [line.split(b" ")[0].strip().upper() for line in srv.received if line and line != b".\r\n"]
    assert b"RSET" not in verbs
    auth = next(line for line in srv.received if line.startswith(b"AUTH"))
    assert base64.b64decode(auth.split()[2]) == b"\0app\r\nRSET\0" + PASSWORD.encode()


def test_a_non_ascii_password_is_sent_as_utf8_not_a_crash(server, profile_for, ca):
    """Guards against: smtplib encodes AUTH PLAIN/LOGIN/CRAM-MD5 input as ASCII, so a password with
    "ä" raises UnicodeEncodeError, which ``_guard`` does not catch: the check ends as "the
    check crashed: UnicodeEncodeError: 'ascii' codec can't encode character … in position N"
    (the position tells the user name's length). RFC 4616 §2: PLAIN's fields are UTF-8."""
    srv = server(accept_everything, tls=server_context(ca))
    outcome, _ = attempt(profile_for(srv.port), settings(security="tls", password="pässwörd-ß"), budget_s=8)
    assert not isinstance(outcome, BaseException), repr(outcome)
    auth = next(line for line in srv.received if line.startswith(b"AUTH"))
    assert base64.b64decode(auth.split()[2]) == "\0app\0pässwörd-ß".encode()


def test_a_server_echoing_the_auth_line_does_not_put_the_password_in_the_failure(server, profile_for, ca):
    """Guards against: some servers quote the offending command in their error
    reply. The reply goes verbatim into ``SmtpFailure``, the check's summary and evidence (seen
    by founders, in the PDF): the base64 AUTH PLAIN blob decodes to the password."""
    def echo(line: bytes) -> bytes:
        return b"535 5.7.8 bad credentials in '" + line.strip() + b"'\r\n"

    srv = server(lambda conn, s: accept_everything(conn, s, auth_reply=echo), tls=server_context(ca))
    outcome, _ = attempt(profile_for(srv.port), settings(security="tls"), budget_s=8)
    assert isinstance(outcome, SmtpFailure)
    assert outcome.kind == "auth"
    blob = base64.b64encode(b"\0app\0" + PASSWORD.encode()).decode()
    for text in (str(outcome), outcome.reply):
        assert blob not in text and PASSWORD not in text


# --- 3. the SMTP host's addresses ----------------------------------------------------------


def test_a_host_whose_first_address_is_private_connects_to_the_allowed_one(server, profile_for, ca):
    srv = server(accept_everything, tls=server_context(ca, "private-first.shop.test"))
    outcome, _ = attempt(profile_for(srv.port), settings(security="tls", host="private-first.shop.test"),
                         budget_s=8)
    assert not isinstance(outcome, BaseException), outcome
    assert outcome.address == "127.0.0.1"


def test_a_host_at_the_metadata_address_is_refused_before_connecting(profile_for):
    profile = profile_for(1)
    with Net(profile) as net, pytest.raises(SmtpFailure) as caught:
        net.smtp.send(settings(host="metadata.shop.test"), [mail()], envelope_from="app@shop.test")
    assert net.smtp.connections_opened == 0
    assert (caught.value.kind, str(caught.value)) == (
        "policy", "outbound policy refused 169.254.169.254: link-local (cloud metadata range)")


# --- 4. hostile captured mail --------------------------------------------------------------


BASE = b"From: a@shop.test\r\nTo: x@capture.test\r\nSubject: hi\r\n"


def captured(data: bytes, **fields) -> CapturedMessage:
    return CapturedMessage(**{"recipient": "lr-abc-welcome@capture.test", "peer_ip": "192.0.2.25",
                              "helo": "out.mailer.test", "mail_from": "a@shop.test", "data": data,
                              "received_at": 0.0, **fields})


def signature(d: bytes, s: bytes) -> bytes:
    return b"DKIM-Signature: v=1; a=rsa-sha256; d=" + d + b"; s=" + s + b"; h=from; bh=AAAA; b=AAAA\r\n"


@pytest.fixture(scope="module")
def dns():
    zone = {"shop.test": {"TXT": [["v=spf1 ip4:192.0.2.0/24 -all"]]},
            "_dmarc.shop.test": {"TXT": [["v=DMARC1; p=reject"]]}}
    with Sandbox(parse_scenario({"dns": zone})) as sandbox, Net(sandbox.profile) as net:
        yield net.dns


@pytest.mark.parametrize(("d", "s"), [
    (b"shop.test", b"s" * 70),  # a label over 63 octets (RFC 1035 §2.3.4)
    (b".".join([b"a" * 60] * 5), b"s1"),  # a name over 255 octets
    (b"", b""),  # empty d= and s= (RFC 6376 §3.5: both required)
    (b"b\xfccher.test", b"s1"),  # not UTF-8
])
def test_a_signature_whose_key_name_cannot_exist_is_a_permfail_not_a_dns_failure(dns, d, s):
    """Guards against: the name is refused by our DNS client before any query; ``txt()`` turns every
    unanswered query into DnsTimeoutError, so the signature is ``temperror`` and the whole
    check "error: a DNS failure left DKIM or SPF unknown" — a provider's broken signature is
    reported as our failure to test. No key can exist at such a name: PERMFAIL (RFC 6376
    §6.1.2, "no key for signature")."""
    report = judge_received(dns, captured(signature(d, s) + BASE + b"\r\nbody\r\n"))
    assert [sig.result for sig in report.signatures] == ["fail"]
    assert report.dkim_result == "fail"


def test_a_hostile_signature_cannot_blow_up_the_evidence(dns):
    """Guards against: ``d=``/``s=`` and the DNS error's text go into the evidence untruncated (only
    the ``fail`` reason is cut at 300): five signatures with a 190 kB selector make 1.9 MB of
    evidence for one mail, four times per result, stored as JSON and rendered on the run page."""
    signatures = b"".join(signature(b"shop.test", b"a" * 190_000 + b"%d" % i) for i in range(5))
    data = signatures + BASE + b"\r\nb\r\n"
    report = judge_received(dns, captured(data))
    size = len(json.dumps(report.as_evidence()))
    assert size < 70_000, f"{size} bytes of evidence for one mail"


@pytest.mark.parametrize("data", [
    b"".join(signature(b"shop.test", b"s%d" % i) for i in range(100)) + BASE + b"\r\nb\r\n",
    b"X-Big: " + b"a" * 900_000 + b"\r\n" + BASE + b"\r\nbody\r\n",
    b"From: \xff\xfe <a@shop.test>\r\nSubject: \x80\x81\r\n\r\n\xff\xff\r\n",
    b"From: " + b", ".join(b"u%d@shop%d.test" % (i, i) for i in range(50)) + b"\r\n\r\nb\r\n",
    b"From: a@" + b"b" * 5000 + b".test\r\n\r\nx\r\n",
    b"",
])
def test_hostile_messages_are_judged_without_crashing_and_within_bounds(dns, data):
    started = time.monotonic()
    report = judge_received(dns, captured(data))
    assert time.monotonic() - started < 5
    assert len(report.signatures) <= 5 and len(report.headers) <= 60
    assert all(len(value) <= 1000 for _, value in report.headers)


# --- 5. hostile project names in the test mails --------------------------------------------


@pytest.mark.parametrize("name", [
    "Shop\r\nBcc: victim@evil.test", "Shop\nX-Evil: 1", "Shop\u2028Bcc: v@e.test"])
def test_a_project_name_with_a_line_break_makes_a_one_line_subject_not_a_crash(name):
    """Guards against: the project name (free text: the form and the scenario keep inner line
    breaks) goes into From and Subject as is; email refuses it (no injection) with ValueError,
    which the check does not catch: "the check crashed: ValueError: Header values may not
    contain linefeed or carriage return characters"."""
    message = compose("welcome", project_name=name, from_address="a@shop.test", to="c@capture.test",
                      token="abc", site="www.shop.test")
    head = message.as_bytes().split(b"\n\n")[0]
    assert b"\nBcc:" not in head and b"\nX-Evil:" not in head
    assert message["Subject"] == "Welcome to " + " ".join(name.split())


def test_html_in_the_project_name_is_escaped_in_the_html_part():
    message = compose("invite", project_name="<img src=x onerror=alert(1)>", from_address="a@shop.test",
                      to="c@capture.test", token="abc", site="www.shop.test")
    html = message.get_body(("html",)).get_content()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


# --- 2. the sandbox's submission server logs no password, even at DEBUG ------------------------


def test_the_sandbox_submission_server_logs_no_password_at_debug(caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="mail.log")  # Django's LOGGING keeps it at WARNING
    scenario = load_scenario(SCENARIOS / "faults" / "mail-test" / "delivered.yaml")
    project = dict(scenario.project)
    spec = spec_from_dict(project)
    with Sandbox(scenario) as sandbox, Net(sandbox.profile) as net:
        result = CHECK.run(spec.smtp.from_domain, Context(net, spec))
    assert result.status == "pass"
    secret = spec.smtp.password.encode()
    forms = [secret.decode(), base64.b64encode(secret).decode(),
             base64.b64encode(b"\0app\0" + secret).decode()]
    assert any(r.name == "mail.log" for r in caplog.records)  # the logger did speak
    for form in forms:
        assert form not in caplog.text
