"""The sandbox's mail side: a scenario's submission server, driven with stdlib smtplib as an
app would drive its provider, delivering to the capture server; every exchange is real SMTP
on loopback."""

from __future__ import annotations

import base64
import smtplib
import socket
import threading
import time
from email.message import EmailMessage

import dkim
import dns.resolver
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from checks.sandbox import Sandbox, ScenarioError, parse_scenario
from checks.sandbox.smtpserver import CAPTURE_DOMAIN

HOST = "smtp.mailhost.test"
OUTBOUND = "smtp-out.mailhost.test"
SENDER = "noreply@clubhouse.test"
RCPT = f"lr-0123456789ab-welcome@{CAPTURE_DOMAIN}"
USERS = {"clubhouse": "sandbox-password"}
SIGN = {"domain": "clubhouse.test", "selector": "mailhost", "key_bits": 1024}


def scenario(**smtp) -> dict:
    return {"smtp": {"host": HOST, **smtp}}


def client(box: Sandbox, port: int = 587, *, tls: bool = False) -> smtplib.SMTP:
    """An smtplib client of ``HOST`` at the sandbox's address and mapped ``port`` (TLS checks
    the name smtplib was given, so the socket alone goes to the address)."""
    base = smtplib.SMTP_SSL if tls else smtplib.SMTP

    class AtAddress(base):
        def _get_socket(self, host, port, timeout):
            return super()._get_socket(box.smtp_address, port, timeout)

    kwargs = {"context": box.profile.ssl_context()} if tls else {}
    return AtAddress(HOST, box.profile.port(port), local_hostname="app.clubhouse.test", timeout=5, **kwargs)


def message(to: str = RCPT) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Clubhouse <{SENDER}>"
    msg["To"] = to
    msg["Subject"] = "Welcome to Clubhouse"
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
    msg["Message-ID"] = "<welcome-1@clubhouse.test>"
    msg.set_content("Hello and welcome.\n")
    return msg


def sandbox_dns(box: Sandbox):
    """dkimpy's ``dnsfunc``, asking the sandbox's DNS server: the TXT record's strings joined."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = list(box.profile.nameservers)
    resolver.port = box.profile.dns_port

    def txt(name: bytes, timeout: float = 5) -> bytes:
        answer = resolver.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
        return b"".join(answer[0].strings)

    return txt, resolver


def test_starttls_auth_and_send_arrives_from_the_outbound_address_signed_and_with_the_return_path(sandbox):
    box, _ = sandbox(scenario(
        users=USERS, sign={"domain": "clubhouse.test", "selector": "mailhost"},
        return_path="bounces.mailhost.test", outbound=OUTBOUND,
    ))
    profile = box.profile
    assert profile.port_map[25] == profile.port_map[465] == profile.port_map[587] == box.smtp.port
    assert box.smtp.port in profile.allowed_ports
    assert profile.mail_capture_domain == CAPTURE_DOMAIN
    assert (profile.mailbox, profile.mail_wait_s) == (box.mailbox, 5.0)
    assert box.smtp_addresses == {HOST: f"{box.network}.10", OUTBOUND: f"{box.network}.11"}
    with client(box) as smtp:
        smtp.ehlo()
        assert sorted(smtp.esmtp_features) == ["8bitmime", "help", "size", "starttls"]
        assert smtp.docmd(f"MAIL FROM:<{SENDER}>") == (530, b"Must issue a STARTTLS command first")
        smtp.starttls(context=profile.ssl_context())
        smtp.ehlo()
        assert smtp.esmtp_features["auth"] == " LOGIN PLAIN"
        assert smtp.login("clubhouse", "sandbox-password") == (235, b"2.7.0 Authentication successful")
        assert smtp.send_message(message(), SENDER) == {}

    kept = box.mailbox.wait_for([RCPT], 2)[RCPT]
    assert (kept.recipient, kept.peer_ip, kept.helo, kept.mail_from) == (
        RCPT, f"{box.network}.11", OUTBOUND, "bounces+noreply=clubhouse.test@bounces.mailhost.test"
    )
    assert kept.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=clubhouse.test;")
    # The hop the provider adds; the test's client connects from 127.0.0.1.
    received = b"\r\nReceived: from app.clubhouse.test ([127.0.0.1])\r\n\tby smtp.mailhost.test with ESMTPSA;"
    assert received in kept.data
    assert kept.data.endswith(b"\r\n\r\nHello and welcome.\r\n")
    dnsfunc, resolver = sandbox_dns(box)
    assert dkim.verify(kept.data, dnsfunc=dnsfunc) is True
    # The key is published split into character-strings of at most 255 octets (2048 bits: two).
    strings = resolver.resolve("mailhost._domainkey.clubhouse.test", "TXT")[0].strings
    assert [len(s) <= 255 for s in strings] == [True, True]
    assert b"".join(strings).decode() == box.dkim.record
    assert box.dkim.record.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")  # SubjectPublicKeyInfo, 2048 bits
    assert [resolver.resolve(name, "A")[0].address for name in (HOST, OUTBOUND)] == [
        box.smtp_address, box.smtp_outbound_address
    ]


def test_implicit_tls_takes_auth_on_the_encrypted_connection_and_keeps_the_senders_mail_from(sandbox):
    box, _ = sandbox(scenario(security="tls", users=USERS))
    with client(box, 465, tls=True) as smtp:
        smtp.ehlo()
        assert sorted(smtp.esmtp_features) == ["8bitmime", "auth", "help", "size"]
        assert smtp.login("clubhouse", "sandbox-password")[0] == 235
        assert smtp.send_message(message(), SENDER) == {}
    kept = box.mailbox.wait_for([RCPT], 2)[RCPT]
    assert (kept.peer_ip, kept.helo, kept.mail_from) == (box.smtp_address, HOST, SENDER)
    assert kept.data.startswith(b"Received: from app.clubhouse.test")
    assert b"with ESMTPSA;" in kept.data
    assert b"DKIM-Signature" not in kept.data  # sign: absent


def test_security_none_offers_neither_tls_nor_auth_and_delivers(sandbox):
    box, _ = sandbox(scenario(security="none", sign=False))
    with client(box, 25) as smtp:
        smtp.ehlo()
        assert sorted(smtp.esmtp_features) == ["8bitmime", "help", "size"]
        assert smtp.docmd("STARTTLS") == (454, b"4.7.0 TLS not available")
        assert smtp.docmd("AUTH PLAIN") == (502, b"5.5.1 AUTH not supported")
        assert smtp.send_message(message(), SENDER) == {}
    kept = box.mailbox.wait_for([RCPT], 2)[RCPT]
    assert (kept.peer_ip, kept.mail_from) == (box.smtp_address, SENDER)
    assert b"with ESMTP;" in kept.data


def test_a_wrong_password_gets_535_and_no_login_gets_530(sandbox):
    box, _ = sandbox(scenario(users=USERS))
    with client(box) as smtp:
        smtp.starttls(context=box.profile.ssl_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            smtp.login("clubhouse", "not-the-password")
        assert (caught.value.smtp_code, caught.value.smtp_error) == (
            535, b"5.7.8 Authentication credentials invalid"
        )
        smtp.ehlo()
        assert smtp.docmd("MAIL FROM:<noreply@clubhouse.test>") == (530, b"5.7.0 Authentication required")
    assert box.mailbox.wait_for([RCPT], 0) == {}


def test_a_recipient_the_capture_server_refuses_is_answered_451_with_its_reason(sandbox):
    box, _ = sandbox(scenario(security="none"))
    with client(box, 25) as smtp, pytest.raises(smtplib.SMTPDataError) as caught:
        smtp.send_message(message("someone@elsewhere.test"), SENDER)
    assert (caught.value.smtp_code, caught.value.smtp_error) == (
        451, b"4.4.1 delivery failed: <someone@elsewhere.test> 550 5.1.1 <someone@elsewhere.test>: "
             b"no such test address at capture.launchready.test"
    )
    assert box.smtp.delivered == 0


def test_fault_timeout_accepts_the_connection_and_never_greets(sandbox):
    box, _ = sandbox(scenario(fault="timeout"))
    with socket.create_connection((box.smtp_address, box.profile.port(587)), timeout=1) as sock:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            sock.recv(100)
        assert time.monotonic() - started >= 0.9


def test_fault_no_starttls_neither_offers_nor_starts_tls(sandbox):
    box, _ = sandbox(scenario(fault="no_starttls", users=USERS))
    with client(box) as smtp:
        smtp.ehlo()
        assert sorted(smtp.esmtp_features) == ["8bitmime", "help", "size"]
        assert smtp.docmd("STARTTLS") == (454, b"4.7.0 TLS not available")
        assert smtp.docmd("AUTH PLAIN") == (
            538, b"5.7.11 Encryption required for requested authentication mechanism"
        )


def test_fault_drop_answers_250_and_delivers_nothing(sandbox):
    box, _ = sandbox(scenario(fault="drop", security="none"))
    with client(box, 25) as smtp:
        assert smtp.send_message(message(), SENDER) == {}
    assert box.mailbox.wait_for([RCPT], 1) == {}
    assert box.smtp.delivered == 0


def test_latency_delays_the_greeting(sandbox):
    box, _ = sandbox(scenario(security="none", latency_ms=300))
    started = time.monotonic()
    with client(box, 25) as smtp:
        assert time.monotonic() - started >= 0.3
        assert smtp.noop() == (250, b"OK")


def test_a_key_the_scenario_publishes_itself_replaces_the_generated_one(sandbox):
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    der = other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    published = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    box, _ = sandbox({**scenario(security="none", sign=SIGN),
                      "dns": {"mailhost._domainkey.clubhouse.test": {"TXT": [[published]]}}})
    with client(box, 25) as smtp:
        smtp.send_message(message(), SENDER)
    kept = box.mailbox.wait_for([RCPT], 2)[RCPT]
    dnsfunc, _ = sandbox_dns(box)
    assert dnsfunc(b"mailhost._domainkey.clubhouse.test.").decode() == published != box.dkim.record
    assert kept.data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(kept.data, dnsfunc=dnsfunc) is False


def test_without_smtp_the_profile_still_carries_the_mailbox_and_no_mail_ports(sandbox):
    box, _ = sandbox({"hosts": {"www.shop.test": {}}})
    assert (box.smtp, box.capture, box.smtp_address) == (None, None, None)
    assert not {25, 465, 587} & set(box.profile.port_map)
    assert (box.profile.mail_capture_domain, box.profile.mailbox) == (CAPTURE_DOMAIN, box.mailbox)


def test_stop_ends_sessions_and_worker_threads_and_closes_the_ports():
    box = Sandbox(parse_scenario(scenario(security="none")))
    box.start()
    port, address = box.profile.port(25), box.smtp_address
    idle = client(box, 25)  # a session left open: stop() must end it
    with client(box, 25) as smtp:
        smtp.send_message(message(), SENDER)
    box.stop()
    assert [t.name for t in threading.enumerate() if t.name.startswith(("sandbox", "lr-"))] == []
    with pytest.raises(smtplib.SMTPServerDisconnected):
        idle.noop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, port), timeout=1)


def test_smtp_names_take_host_addresses_after_the_hosts_or_share_a_host_s():
    box = Sandbox(parse_scenario({"hosts": {"www.shop.test": {}, "mail.shop.test": {}},
                                  "smtp": {"host": "mail.shop.test", "outbound": OUTBOUND}}))
    assert (box.smtp_address, box.smtp_outbound_address) == (f"{box.network}.11", f"{box.network}.12")
    assert box.smtp_addresses == {OUTBOUND: f"{box.network}.12"}
    hosts = {f"h{i}.shop.test": {} for i in range(213)}
    with pytest.raises(ScenarioError) as caught:
        Sandbox(parse_scenario({"hosts": hosts, "smtp": {"host": HOST, "outbound": OUTBOUND}}))
    assert str(caught.value) == (
        "a scenario may declare at most 214 hosts, counting smtp.host and smtp.outbound"
    )


@pytest.mark.parametrize(
    ("smtp", "message"),
    [
        ([HOST], "scenario: smtp must be a mapping"),
        ({"host": HOST, "port": 587},
         "scenario: smtp: unknown key 'port' (known: host, security, users, sign, return_path, outbound, "
         "helo, fault, latency_ms)"),
        ({"security": "starttls"}, "scenario: smtp.host is required: the submission server's name"),
        ({"host": "http://smtp.mailhost.test"},
         "scenario: smtp.host: 'http://smtp.mailhost.test' is a URL: give the host name only, "
         "like example.com"),
        ({"host": HOST, "security": "ssl"},
         "scenario: smtp.security must be one of starttls, tls, none, not 'ssl'"),
        ({"host": HOST, "users": ["clubhouse"]}, "scenario: smtp.users must map user names to passwords"),
        ({"host": HOST, "users": {"clubhouse": 1234}},
         "scenario: smtp.users.clubhouse: the password must be text"),
        ({"host": HOST, "sign": True},
         "scenario: smtp.sign must be a mapping (domain, selector, key_bits) or false"),
        ({"host": HOST, "sign": {"domain": "clubhouse.test"}}, "scenario: smtp.sign.selector is required"),
        ({"host": HOST, "sign": {**SIGN, "key_bits": 4096}},
         "scenario: smtp.sign.key_bits must be one of 1024, 2048, not 4096"),
        ({"host": HOST, "sign": {**SIGN, "selector": "bad_selector"}},
         "scenario: smtp.sign.selector 'bad_selector' is not a DNS label"),
        ({"host": HOST, "fault": "slow"},
         "scenario: smtp.fault must be one of timeout, no_starttls, drop, not 'slow'"),
        ({"host": HOST, "security": "tls", "fault": "no_starttls"},
         "scenario: smtp.fault no_starttls needs security: starttls, not tls"),
        ({"host": HOST, "latency_ms": -5},
         "scenario: smtp.latency_ms must be a number from 0 to 3.6e+06, not -5"),
    ],
)
def test_invalid_smtp_is_refused_with_the_place_and_the_reason(smtp, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"smtp": smtp})
    assert str(caught.value) == message


def test_a_password_never_appears_in_a_message_or_a_repr():
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"smtp": {"host": HOST, "users": {"clubhouse": ["sandbox-password"]}}})
    assert "sandbox-password" not in str(caught.value)
    spec = parse_scenario({"smtp": {"host": HOST, "users": USERS}}).smtp
    assert "sandbox-password" not in repr(spec)
    assert spec.users == USERS
