"""A received message judged as its receiver judges it: DKIM (RFC 6376 §6), SPF for the
delivering address (RFC 7208 §2.4) and DMARC alignment (RFC 7489 §3.1), against the sandbox's
real DNS server. Messages are signed here with dkimpy and keys made with ``cryptography``."""

from __future__ import annotations

import base64
import time
from functools import cache

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from checks.engine.email.mailbox import CapturedMessage
from checks.engine.email.received import aligned, header_from_domain, judge_received
from checks.engine.email.testmails import KINDS, capture_address, compose
from checks.engine.net.session import Net
from checks.sandbox import Sandbox, parse_scenario

SENDER_IP = "192.0.2.25"  # the provider's outbound address in these messages (a documentation address)


@cache
def key_pair(bits: int = 2048) -> tuple[bytes, str]:
    """(private key PEM, base64 SubjectPublicKeyInfo)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    public = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return pem, base64.b64encode(public).decode()


def key_record(public: str) -> dict:
    record = f"v=DKIM1; k=rsa; p={public}"
    return {"TXT": [[record[i:i + 200] for i in range(0, len(record), 200)]]}


def zone(**extra) -> dict:
    _, public = key_pair()
    return {
        "shop.test": {"TXT": [["v=spf1 include:_spf.mailer.test -all"]]},
        "_spf.mailer.test": {"TXT": [["v=spf1 ip4:192.0.2.0/24 -all"]]},
        "bounces.mailer.test": {"TXT": [["v=spf1 ip4:192.0.2.0/24 -all"]]},
        "_dmarc.shop.test": {"TXT": [["v=DMARC1; p=reject; rua=mailto:d@shop.test"]]},
        "s1._domainkey.shop.test": key_record(public),
        "s1._domainkey.mail.shop.test": key_record(public),
        "pm._domainkey.mailer.test": key_record(public),
        **extra,
    }


def message(
    from_address: str = "hello@shop.test", *, sign_as: tuple[str, str] | None = ("shop.test", "s1"),
    mail_from: str = "hello@shop.test", body_edit: bytes = b"", extra_from: str = "",
) -> CapturedMessage:
    mail = compose("password_reset", project_name="Shop", from_address=from_address,
                   to=capture_address("abc123", "password_reset", "capture.launchready.test"),
                   token="abc123", site="www.shop.test")
    if extra_from:
        mail.replace_header("From", extra_from)
    data = mail.as_bytes().replace(b"\n", b"\r\n")
    if sign_as:
        pem, _ = key_pair()
        data = dkim.sign(data, sign_as[1].encode(), sign_as[0].encode(), pem,
                         include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + data
    return CapturedMessage(
        recipient="lr-abc123-password-reset@capture.launchready.test", peer_ip=SENDER_IP,
        helo="out.mailer.test", mail_from=mail_from, data=data + body_edit, received_at=time.time(),
    )


@pytest.fixture
def judge():
    sandboxes: list[Sandbox] = []

    def run(captured: CapturedMessage, **extra_zone):
        sandbox = Sandbox(parse_scenario({"dns": zone(**extra_zone)}))
        sandboxes.append(sandbox)
        with Net(sandbox.start()) as net:
            return judge_received(net.dns, captured)

    yield run
    for sandbox in sandboxes:
        sandbox.stop()


def test_signed_by_the_from_domain_and_spf_pass_is_dmarc_pass(judge):
    report = judge(message())
    assert report.dkim_result == "pass"
    assert [s.as_evidence() for s in report.signatures] == [
        {"d": "shop.test", "s": "s1", "result": "pass", "reason": "", "key_bits": 2048}
    ]
    assert (report.spf_domain, report.spf_result) == ("shop.test", "pass")
    assert report.alignment.as_evidence() == {
        "from_domain": "shop.test", "policy_domain": "shop.test", "p": "reject", "adkim": "r",
        "aspf": "r", "dkim_aligned": "shop.test", "spf_aligned": True, "result": "pass",
    }
    names = [name for name, _ in report.headers]
    assert names[:2] == ["DKIM-Signature", "From"]
    assert {"From", "To", "Subject", "Message-ID", "X-Launch-Ready-Test"} <= set(names)
    assert ["From", "Shop <hello@shop.test>"] in report.headers


def test_signed_by_the_provider_with_its_own_return_path_fails_dmarc(judge):
    report = judge(message(sign_as=("mailer.test", "pm"), mail_from="b+123@bounces.mailer.test"))
    assert report.dkim_result == "pass"
    assert (report.spf_domain, report.spf_result) == ("bounces.mailer.test", "pass")
    assert (report.alignment.dkim_aligned, report.alignment.spf_aligned) == (None, False)
    assert report.alignment.result == "fail"


def test_relaxed_alignment_takes_a_subdomain_strict_does_not(judge):
    relaxed = judge(message(sign_as=("mail.shop.test", "s1"), mail_from="b@bounces.mailer.test"))
    assert relaxed.alignment.dkim_aligned == "mail.shop.test"
    strict = judge(message(sign_as=("mail.shop.test", "s1"), mail_from="b@bounces.mailer.test"),
                   **{"_dmarc.shop.test": {"TXT": [["v=DMARC1; p=reject; adkim=s"]]}})
    alignment = strict.alignment
    assert (alignment.adkim, alignment.dkim_aligned, alignment.result) == ("s", None, "fail")


def test_a_changed_body_fails_the_signature_with_dkimpys_reason(judge):
    report = judge(message(body_edit=b"tampered\r\n"))
    assert report.signatures[0].result == "fail"
    assert report.signatures[0].reason.startswith("body hash mismatch")
    assert report.alignment.dkim_aligned is None
    assert report.alignment.spf_aligned is True  # DMARC still passes on SPF


def test_a_revoked_key_fails(judge):
    report = judge(message(), **{"s1._domainkey.shop.test": {"TXT": [["v=DKIM1; k=rsa; p="]]}})
    assert report.signatures[0].result == "fail"
    assert report.signatures[0].reason == "the key is revoked (empty p=, RFC 6376 §3.6.1)"
    assert report.dkim_result == "fail"


def test_a_key_lookup_that_times_out_is_temperror_not_fail(judge):
    report = judge(message(), **{"s1._domainkey.shop.test": "TIMEOUT"})
    assert report.signatures[0].result == "temperror"
    assert report.signatures[0].reason.startswith("DNS failed: s1._domainkey.shop.test: ")
    assert report.dkim_result == "temperror"


def test_an_unsigned_mail_passes_dmarc_on_aligned_spf_only(judge):
    report = judge(message(sign_as=None))
    assert (report.dkim_result, report.signatures) == ("none", [])
    assert (report.alignment.dkim_aligned, report.alignment.spf_aligned) == (None, True)


def test_spf_is_judged_for_the_delivering_address(judge):
    outside = message()
    outside = CapturedMessage(**{**outside.__dict__, "peer_ip": "198.51.100.7"})
    report = judge(outside)
    assert (report.spf_domain, report.spf_result) == ("shop.test", "fail")
    assert report.alignment.spf_aligned is False
    assert report.alignment.result == "pass"  # the aligned signature carries DMARC


def test_two_from_addresses_have_no_from_domain(judge):
    report = judge(message(extra_from="a@shop.test, b@other.test"))
    assert report.from_domain == ""
    assert report.alignment is None


def test_garbage_bytes_do_not_crash(judge):
    data = b"\x00\xff not a message\r\n\r\n"
    garbage = CapturedMessage("x@capture.launchready.test", SENDER_IP, "", "", data, time.time())
    report = judge(garbage)
    assert (report.from_domain, report.dkim_result, report.alignment) == ("", "none", None)


@pytest.mark.parametrize(("domain", "from_domain", "mode", "expected"), [
    ("shop.test", "shop.test", "s", True),
    ("mail.shop.test", "shop.test", "s", False),
    ("mail.shop.test", "shop.test", "r", True),
    ("shop.co.uk", "other.co.uk", "r", False),  # co.uk is a public suffix: different organisations
    ("a.shop.co.uk", "b.shop.co.uk", "r", True),
    ("", "shop.test", "r", False),
])
def test_alignment_modes(domain, from_domain, mode, expected):
    assert aligned(domain, from_domain, mode) is expected


def test_header_from_domain():
    assert header_from_domain(["Shop <Hello@Shop.Test>"]) == "shop.test"
    assert header_from_domain(["a@x.test", "b@y.test"]) == ""
    assert header_from_domain([]) == ""


def test_every_kind_composes_a_distinct_mail():
    mails = [compose(kind, project_name="Shop <&>", from_address="hello@shop.test", to=f"{kind}@c.test",
                     token="t0k3n", site="www.shop.test") for kind in KINDS]
    assert [m["Subject"] for m in mails] == [
        "Welcome to Shop <&>", "Reset your Shop <&> password", "You are invited to Shop <&>",
        "New activity on Shop <&>",
    ]
    assert all(m["Message-ID"].endswith("@shop.test>") for m in mails)
    html = mails[0].get_body(("html",)).get_content()
    assert "Shop &lt;&amp;&gt;" in html and "https://www.shop.test/?launch-ready-test=t0k3n" in html
    assert capture_address("T0K", "password_reset", "Capture.Test") == "lr-t0k-password-reset@capture.test"
